//! A request body on its way to the upstream, frame by frame (chunk-encoded when its length is
//! unknown), polled by whoever drives the connection: the request's task while it waits for the
//! response head, the response body after. It says which side it waits for (the client's next
//! bytes, or the upstream taking ours) and whether it moved, so that each side's timer runs only
//! while that side keeps it waiting.

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
    /// The last poll ended waiting for the client's body (not for the upstream to take bytes).
    awaits_client: bool,
    /// Bytes were taken from the client or written since [`Self::take_progress`] last looked.
    progressed: bool,
}

impl Upload {
    pub fn start(body: RequestBody, framing: RequestFraming) -> Self {
        Self {
            body_ended: body.is_empty(),
            body,
            chunked: framing == RequestFraming::Chunked,
            pending: Bytes::new(),
            failure: None,
            awaits_client: false,
            progressed: false,
        }
    }

    /// Whether it is waiting for the client's next bytes (so the upstream is not to blame).
    pub fn awaits_client(&self) -> bool {
        self.awaits_client
    }

    /// Whether it moved since last asked.
    pub fn take_progress(&mut self) -> bool {
        std::mem::take(&mut self.progressed)
    }

    /// It stopped because of the client's body (too large, stalled, malformed, or the client
    /// gone): the request must be cut, not left for the upstream to answer.
    pub fn cut_by_client(&self) -> bool {
        matches!(&self.failure, Some(Broken::ClientBody(_)))
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
        self.awaits_client = false;
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
                self.progressed = true;
            }
            // What a TLS stream holds back goes out before the body is waited for (a no-op on TCP).
            ready!(Pin::new(&mut *stream).poll_flush(cx))?;
            if self.body_ended {
                return Poll::Ready(Ok(()));
            }
            let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) else {
                self.awaits_client = true;
                return Poll::Pending;
            };
            self.progressed = true;
            match frame {
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
