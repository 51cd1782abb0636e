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
use crate::server::proxy::body::RequestBody;
use axum::http::{Method, Request, Response, StatusCode, header};
use bytes::{Bytes, BytesMut};
use http_body::Body;
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

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
    ClientBody(hyper::Error),
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
            RequestBody::Streaming { .. } => body
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
    pub async fn send(
        mut self,
        request: Outgoing,
        pool: &Arc<ConnectionPool>,
    ) -> Result<Response<UpstreamBody>, SendError> {
        if let Err(error) = self.stream.write_all_flushed(&request.head).await {
            let unanswered = request.body.is_empty().then_some(request);
            return Err(SendError {
                cause: error.into(),
                unanswered,
            });
        }
        let Outgoing {
            head,
            method,
            body,
            framing,
        } = request;
        let resendable = body.is_empty() && method.is_idempotent();
        let mut upload = Upload::start(body, framing);
        let mut answered = false;
        let answer =
            poll_fn(|cx| self.poll_response_head(cx, &method, &mut upload, &mut answered)).await;
        match answer {
            Ok(answer) => Ok(UpstreamBody::respond(self, answer, upload, pool)),
            Err(cause) => Err(SendError {
                cause,
                unanswered: (resendable && !answered).then(|| Outgoing {
                    head,
                    method,
                    body: RequestBody::Empty,
                    framing,
                }),
            }),
        }
    }

    /// Uploads what it can and reads until a final response head is complete (informational
    /// answers such as 100 or 103 are skipped).
    fn poll_response_head(
        &mut self,
        cx: &mut Context<'_>,
        method: &Method,
        upload: &mut Upload,
        answered: &mut bool,
    ) -> Poll<Result<ResponseHead, Broken>> {
        // A failed upload does not end the wait: the upstream may still answer (a 413, say).
        let _ = upload.poll(cx, &mut self.stream);
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
            if ready!(self.poll_fill(cx))? == 0 {
                return Poll::Ready(Err(upload.take_failure().unwrap_or(Broken::Closed)));
            }
        }
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
