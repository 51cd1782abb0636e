//! One kept-alive HTTP/1.1 connection to an upstream, spoken by Gatewatch itself ([`wire`]) and
//! driven by the task that uses it: the request's task writes the head (one write) and reads the
//! response head; the client connection's task then pulls the body through [`UpstreamBody`]
//! (module [`body`](super::body)), which reads straight from the socket. A request body is
//! uploaded from both places ([`Upload`]), so an upstream may answer while it still receives
//! (full duplex). Between requests the connection rests in its target's [`ConnectionPool`]
//! unpolled.
//!
//! No channel, no second task and no second copy of the message sit between the client's request
//! and the upstream's socket (hyper's client connection has all three). Protocol upgrades go
//! through hyper ([`UpstreamConnection::send_upgradable`]), which hands the socket over on 101.

use super::body::UpstreamBody;
use super::pool::ConnectionPool;
use super::tls::TargetTls;
use super::transport::{ConnectError, Transport};
use super::upload::Upload;
use super::wire::{self, RequestFraming, ResponseHead, WireError};
use crate::server::proxy::body::{ClientBodyError, RequestBody};
use crate::server::proxy::stall::StallClock;
use axum::http::{Method, Request, Response, StatusCode, header};
use bytes::{Bytes, BytesMut};
use http_body::Body;
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::Sleep;

/// Room made in the read buffer before each read: a 16 KiB body arrives in one.
const READ_SIZE: usize = 16 * 1024 + 512;

/// An open connection to an upstream.
pub struct UpstreamConnection {
    pub(super) stream: Transport,
    /// Bytes read and not yet taken: part of a response head, or body bytes.
    pub(super) buffer: BytesMut,
}

/// Why an exchange with the upstream broke.
#[derive(Debug, thiserror::Error)]
pub enum Broken {
    #[error("upstream i/o: {0}")]
    Io(#[from] io::Error),
    #[error("upstream protocol: {0}")]
    Wire(#[from] WireError),
    #[error("the upstream closed the connection before answering")]
    Closed,
    #[error("the upstream closed the connection mid-body")]
    Truncated,
    #[error("the upstream switched protocols unasked")]
    UnaskedSwitch,
    #[error("the client's request body failed: {0}")]
    ClientBody(ClientBodyError),
    #[error("the upstream did not take the request or answer within the route's timeout")]
    TimedOut,
    #[error("the upstream's response body stalled for upstream_body_timeout_ms")]
    BodyStalled,
    #[error("upgradable exchange: {0}")]
    Upgradable(#[from] hyper::Error),
}

/// A request ready for the wire: its head as bytes, its body and how the body is framed.
pub struct Outgoing {
    head: Bytes,
    method: Method,
    body: RequestBody,
    framing: RequestFraming,
}

impl Outgoing {
    /// Frames `request` for an upstream: a body of known length by `content-length`, another
    /// by chunks; a bodyless POST, PUT or PATCH (or one that said `content-length: 0`) as empty.
    pub fn new(request: Request<RequestBody>) -> Self {
        let (parts, body) = request.into_parts();
        let framing = match &body {
            RequestBody::Empty => {
                let says_empty = parts.headers.contains_key(header::CONTENT_LENGTH)
                    || [Method::POST, Method::PUT, Method::PATCH].contains(&parts.method);
                if says_empty {
                    RequestFraming::Length(0)
                } else {
                    RequestFraming::None
                }
            }
            RequestBody::Streaming(_) => body
                .size_hint()
                .exact()
                .map_or(RequestFraming::Chunked, RequestFraming::Length),
        };
        Self {
            head: wire::encode_request_head(&parts, framing),
            method: parts.method,
            body,
            framing,
        }
    }
}

/// What bounds an exchange's waits on the upstream.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// The route's `timeout_ms`: from the request sent (its body uploaded) to the response head;
    /// also how long the upstream may leave a part of the request untaken.
    pub answer: Duration,
    /// How long the response body may stall (`limits.upstream_body_timeout_ms`).
    pub body_stall: Duration,
}

/// The state [`UpstreamConnection::poll_response_head`] works on.
struct WaitingFor<'a> {
    method: &'a Method,
    upload: &'a mut Upload,
    /// Some of an answer arrived (the request must not be sent again).
    answered: &'a mut bool,
    clock: &'a mut StallClock,
    timer: Pin<&'a mut Option<Sleep>>,
}

/// A failed exchange.
#[derive(Debug)]
pub struct SendError {
    pub cause: Broken,
    /// The request, given back when it may go again on another connection: it has no body,
    /// nothing of an answer arrived, and either its head was not written whole or its method is
    /// idempotent (the upstream closed a kept-alive connection as the request went out).
    pub unanswered: Option<Outgoing>,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("method", &self.method)
            .field("framing", &self.framing)
            .finish()
    }
}

impl UpstreamConnection {
    /// Connects to `authority` (`host:port`), over TLS when `tls` is given
    /// ([`Transport::connect`]).
    pub async fn open(authority: &str, tls: Option<&TargetTls>) -> Result<Self, ConnectError> {
        Ok(Self {
            stream: Transport::connect(authority, tls).await?,
            buffer: BytesMut::new(),
        })
    }

    /// Whether it can take a new request now: the upstream has neither closed it nor sent
    /// anything unasked (a read that would block says so without waiting).
    pub fn is_reusable(&mut self) -> bool {
        self.buffer.is_empty() && self.stream.is_quiet()
    }

    /// Sends `request` and reads until the response head has arrived; the body that follows
    /// is read through the returned response's [`UpstreamBody`], which gives the connection
    /// back to `pool` once the exchange has ended cleanly.
    ///
    /// The upstream has `timeouts.answer` to answer once the request is sent (its body uploaded),
    /// and as long to take each part of it meanwhile; the upload's waits on the client are the
    /// client's (its body's own timer), never counted here.
    pub async fn send(
        mut self,
        request: Outgoing,
        pool: &Arc<ConnectionPool>,
        timeouts: Timeouts,
    ) -> Result<Response<UpstreamBody>, SendError> {
        let mut clock = StallClock::new(timeouts.answer);
        let mut timer = pin!(None::<Sleep>);
        let written = {
            let mut write = pin!(self.stream.write_all_flushed(&request.head));
            poll_fn(|cx| match write.as_mut().poll(cx) {
                Poll::Ready(written) => Poll::Ready(written.map_err(Broken::from)),
                Poll::Pending => clock
                    .poll_expired(timer.as_mut(), cx)
                    .map(|()| Err(Broken::TimedOut)),
            })
            .await
        };
        if let Err(cause) = written {
            let resendable = request.body.is_empty() && !matches!(cause, Broken::TimedOut);
            return Err(SendError {
                cause,
                unanswered: resendable.then_some(request),
            });
        }
        clock.progress();
        let Outgoing {
            head,
            method,
            body,
            framing,
        } = request;
        let resendable = body.is_empty() && method.is_idempotent();
        let mut upload = Upload::start(body, framing);
        let mut answered = false;
        let answer = poll_fn(|cx| {
            let waiting = WaitingFor {
                method: &method,
                upload: &mut upload,
                answered: &mut answered,
                clock: &mut clock,
                timer: timer.as_mut(),
            };
            self.poll_response_head(cx, waiting)
        })
        .await;
        match answer {
            Ok(answer) => Ok(UpstreamBody::respond(
                self,
                answer,
                upload,
                pool,
                timeouts.body_stall,
            )),
            Err(cause) => {
                let resendable = resendable && !answered && !matches!(cause, Broken::TimedOut);
                Err(SendError {
                    cause,
                    unanswered: resendable.then(|| Outgoing {
                        head,
                        method,
                        body: RequestBody::Empty,
                        framing,
                    }),
                })
            }
        }
    }

    /// Uploads what it can and reads until a final response head is complete (informational
    /// answers such as 100 or 103 are skipped); the upstream's waits are timed by the clock.
    fn poll_response_head(
        &mut self,
        cx: &mut Context<'_>,
        waiting: WaitingFor<'_>,
    ) -> Poll<Result<ResponseHead, Broken>> {
        let WaitingFor {
            method,
            upload,
            answered,
            clock,
            timer,
        } = waiting;
        let uploading = !upload.is_done() && !upload.failed();
        if uploading {
            if upload.poll(cx, &mut self.stream).is_ready() {
                if upload.cut_by_client() {
                    return Poll::Ready(Err(upload.take_failure().unwrap_or(Broken::Closed)));
                }
                // Sent (or the upload failed otherwise, and the upstream may still answer, a
                // 413 say): the answer is due within the timeout from now.
                clock.progress();
            } else if upload.take_progress() {
                clock.progress();
            }
        }
        loop {
            if !self.buffer.is_empty() {
                *answered = true;
                if let Some(head) = wire::parse_response_head(&mut self.buffer, method)? {
                    if head.response.status() == StatusCode::SWITCHING_PROTOCOLS {
                        return Poll::Ready(Err(Broken::UnaskedSwitch));
                    }
                    if !head.response.status().is_informational() {
                        return Poll::Ready(Ok(head));
                    }
                    continue;
                }
            }
            match self.poll_fill(cx) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(upload.take_failure().unwrap_or(Broken::Closed)));
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error.into())),
                Poll::Pending => break,
            }
        }
        if upload.awaits_client() && !upload.is_done() && !upload.failed() {
            // The client keeps the upload waiting: its body's own timer runs.
            return Poll::Pending;
        }
        ready!(clock.poll_expired(timer, cx));
        Poll::Ready(Err(Broken::TimedOut))
    }

    /// Reads what has arrived into the buffer; `Ready(Ok(0))` once the upstream has closed.
    pub(super) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buffer.capacity() - self.buffer.len() < READ_SIZE / 4 {
            self.buffer.reserve(READ_SIZE);
        }
        self.stream.poll_fill(cx, &mut self.buffer)
    }

    /// Sends `request` on a connection that may switch protocols: hyper's client runs the
    /// connection as a task of its own, which hands the socket to [`hyper::upgrade::on`] when
    /// the upstream answers 101.
    pub async fn send_upgradable(
        self,
        request: Request<RequestBody>,
    ) -> hyper::Result<Response<Incoming>> {
        let (mut sender, driver) = http1::Builder::new()
            .handshake(TokioIo::new(self.stream))
            .await?;
        tokio::spawn(async move {
            if let Err(error) = driver.with_upgrades().await {
                tracing::debug!(%error, "upgradable upstream connection ended with an error");
            }
        });
        sender.send_request(request).await
    }
}
