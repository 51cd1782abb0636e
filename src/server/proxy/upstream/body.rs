//! An upstream response body: read straight from its connection by the task relaying it (by
//! length, by chunks or until the close), driving the rest of the request's upload meanwhile; the
//! connection goes back to its pool when the exchange has ended cleanly. A body that stalls for
//! `limits.upstream_body_timeout_ms` (while nothing waits on the client's upload), or whose
//! upload breaks a limit, ends in an error and closes the connection. A body arriving on a
//! connection hyper drives (an upgradable request's) is hyper's `Incoming`.

use super::connection::{Broken, UpstreamConnection};
use super::pool::ConnectionPool;
use super::upload::Upload;
use super::wire::{self, ChunkedDecoder, Decoded, ResponseFraming, ResponseHead, WireError};
use crate::server::proxy::body::BoxError;
use crate::server::proxy::stall::StallTimer;
use axum::http::Response;
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

/// Where a response body stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyState {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
    Ended,
}

/// An upstream response body.
pub struct UpstreamBody(Kind);

enum Kind {
    /// Read from a connection of ours.
    Wire(WireBody),
    /// Read by hyper from a connection running as a task of its own (an upgradable request's).
    Detached(Incoming),
}

/// A body read straight from its connection, which goes back to its pool when the exchange
/// has ended cleanly; dropped earlier, the connection closes with it.
struct WireBody {
    /// Until the body has ended.
    connection: Option<UpstreamConnection>,
    pool: Arc<ConnectionPool>,
    state: BodyState,
    /// The request body still going up, if the upstream answered before it was all sent.
    upload: Option<Box<Upload>>,
    keep_alive: bool,
    /// Times the waits for the upstream's next bytes.
    stall: StallTimer,
}

impl UpstreamBody {
    /// The response whose head was read on `connection`; its body follows there.
    pub(super) fn respond(
        connection: UpstreamConnection,
        head: ResponseHead,
        upload: Upload,
        pool: &Arc<ConnectionPool>,
        stall: Duration,
    ) -> Response<Self> {
        let state = match head.framing {
            ResponseFraming::Empty | ResponseFraming::Length(0) => BodyState::Ended,
            ResponseFraming::Length(length) => BodyState::Length(length),
            ResponseFraming::Chunked => BodyState::Chunked(ChunkedDecoder::default()),
            ResponseFraming::UntilClose => BodyState::UntilClose,
        };
        let mut body = WireBody {
            connection: Some(connection),
            pool: pool.clone(),
            state,
            upload: (!upload.is_done()).then(|| Box::new(upload)),
            keep_alive: head.keep_alive,
            stall: StallTimer::new(stall),
        };
        if body.state == BodyState::Ended {
            body.end();
        }
        head.response.map(|()| Self(Kind::Wire(body)))
    }

    /// A body whose connection is driven elsewhere (an upgradable connection's own task).
    pub fn detached(incoming: Incoming) -> Self {
        Self(Kind::Detached(incoming))
    }
}

impl std::fmt::Debug for UpstreamBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Kind::Wire(body) => f
                .debug_struct("UpstreamBody")
                .field("state", &body.state)
                .field("keep_alive", &body.keep_alive)
                .finish(),
            Kind::Detached(_) => f.write_str("UpstreamBody(detached)"),
        }
    }
}

impl WireBody {
    /// The body has ended: the connection goes back to the pool if the exchange was clean —
    /// the request all sent, nothing extra read, and the upstream keeping it alive.
    fn end(&mut self) {
        self.state = BodyState::Ended;
        if let Some(connection) = self.connection.take()
            && self.keep_alive
            && self.upload.is_none()
            && connection.buffer.is_empty()
        {
            self.pool.put_back(connection);
        }
    }

    /// The exchange broke: the connection closes.
    fn fail(&mut self, cause: impl Into<Broken>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.state = BodyState::Ended;
        self.connection = None;
        Poll::Ready(Some(Err(Box::new(cause.into()))))
    }

    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        loop {
            let Some(connection) = self.connection.as_mut() else {
                return Poll::Ready(None);
            };
            // Full duplex: the request body keeps going up while the answer comes down.
            if let Some(upload) = &mut self.upload {
                if upload.poll(cx, &mut connection.stream).is_ready() {
                    if upload.cut_by_client() {
                        let cause = upload.take_failure().unwrap_or(Broken::Closed);
                        return self.fail(cause);
                    }
                    if upload.failed() {
                        self.keep_alive = false;
                    }
                    self.upload = None;
                    self.stall.progress();
                } else if upload.take_progress() {
                    self.stall.progress();
                }
            }
            match take(&mut self.state, &mut connection.buffer) {
                Err(error) => return self.fail(error),
                Ok(Decoded::Data(data)) => {
                    if self.state == BodyState::Ended {
                        self.end();
                    }
                    if !data.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
                Ok(Decoded::End) => {
                    self.end();
                    return Poll::Ready(None);
                }
                Ok(Decoded::NeedMore) => match connection.poll_fill(cx) {
                    Poll::Ready(Ok(0)) if self.state == BodyState::UntilClose => {
                        self.keep_alive = false;
                        self.end();
                        return Poll::Ready(None);
                    }
                    Poll::Ready(Ok(0)) => return self.fail(Broken::Truncated),
                    Poll::Ready(Ok(_)) => self.stall.progress(),
                    Poll::Ready(Err(error)) => return self.fail(error),
                    Poll::Pending => {
                        if self
                            .upload
                            .as_ref()
                            .is_some_and(|upload| upload.awaits_client())
                        {
                            // The client keeps the upload waiting: its body's own timer runs.
                            return Poll::Pending;
                        }
                        ready!(self.stall.poll_expired(cx));
                        return self.fail(Broken::BodyStalled);
                    }
                },
            }
        }
    }
}

/// Takes body bytes from the buffer, if it holds any, moving `state` on.
fn take(state: &mut BodyState, buffer: &mut BytesMut) -> Result<Decoded, WireError> {
    let waiting = buffer.is_empty() && !matches!(state, BodyState::Chunked(_));
    Ok(match state {
        BodyState::Ended => Decoded::End,
        _ if waiting => Decoded::NeedMore,
        BodyState::Length(left) => {
            let data = wire::take_at_most(buffer, left);
            if *left == 0 {
                *state = BodyState::Ended;
            }
            Decoded::Data(data)
        }
        BodyState::Chunked(decoder) => {
            let decoded = decoder.decode(buffer)?;
            if *decoder == ChunkedDecoder::Done {
                *state = BodyState::Ended;
            }
            decoded
        }
        BodyState::UntilClose => Decoded::Data(buffer.split().freeze()),
    })
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match &mut self.get_mut().0 {
            Kind::Wire(body) => body.poll_frame(cx),
            Kind::Detached(incoming) => Pin::new(incoming).poll_frame(cx).map_err(BoxError::from),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Kind::Wire(body) => body.state == BodyState::Ended,
            Kind::Detached(incoming) => incoming.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Wire(body) => match body.state {
                BodyState::Length(left) => SizeHint::with_exact(left),
                BodyState::Ended => SizeHint::with_exact(0),
                BodyState::Chunked(_) | BodyState::UntilClose => SizeHint::default(),
            },
            Kind::Detached(incoming) => incoming.size_hint(),
        }
    }
}
