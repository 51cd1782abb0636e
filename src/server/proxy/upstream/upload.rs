//! A request body on its way to the upstream, frame by frame (chunk-encoded when its length is
//! unknown), polled by whoever drives the connection: the request's task while it waits for the
//! response head, the response body after.

use super::connection::Broken;
use super::transport::Transport;
use super::wire::{self, RequestFraming};
use crate::server::proxy::body::RequestBody;
use bytes::{Buf, Bytes};
use http_body::Body;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::AsyncWrite;

/// A request body on its way up, frame by frame.
pub struct Upload {
    body: RequestBody,
    chunked: bool,
    /// Taken from the body (framed) and not yet written.
    pending: Bytes,
    /// The body has ended; once `pending` is written, so has the upload.
    body_ended: bool,
    /// Why the upload stopped early.
    failure: Option<Broken>,
}

impl Upload {
    pub fn start(body: RequestBody, framing: RequestFraming) -> Self {
        Self {
            body_ended: body.is_empty(),
            body,
            chunked: framing == RequestFraming::Chunked,
            pending: Bytes::new(),
            failure: None,
        }
    }

    /// Why the upload stopped early, taken.
    pub fn take_failure(&mut self) -> Option<Broken> {
        self.failure.take()
    }

    /// The upload stopped early.
    pub fn failed(&self) -> bool {
        self.failure.is_some()
    }

    /// Everything was written.
    pub fn is_done(&self) -> bool {
        self.body_ended && self.pending.is_empty() && self.failure.is_none()
    }

    /// Writes what the body has ready: `Ready` once the upload has ended, well or not.
    pub fn poll(&mut self, cx: &mut Context<'_>, stream: &mut Transport) -> Poll<()> {
        if self.failure.is_some() {
            return Poll::Ready(());
        }
        match self.poll_write_body(cx, stream) {
            Poll::Ready(Err(failure)) => {
                self.failure = Some(failure);
                Poll::Ready(())
            }
            Poll::Ready(Ok(())) => Poll::Ready(()),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_write_body(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut Transport,
    ) -> Poll<Result<(), Broken>> {
        loop {
            while !self.pending.is_empty() {
                let written = ready!(Pin::new(&mut *stream).poll_write(cx, &self.pending))?;
                if written == 0 {
                    return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into()));
                }
                self.pending.advance(written);
            }
            // What a TLS stream holds back goes out before the body is waited for (a no-op on TCP).
            ready!(Pin::new(&mut *stream).poll_flush(cx))?;
            if self.body_ended {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        self.pending = if self.chunked {
                            wire::encode_chunk(&data)
                        } else {
                            data
                        };
                    }
                }
                Some(Err(error)) => return Poll::Ready(Err(Broken::ClientBody(error))),
                None => {
                    self.body_ended = true;
                    if self.chunked {
                        self.pending = Bytes::from_static(wire::LAST_CHUNK);
                    }
                }
            }
        }
    }
}
