//! Bodies on the proxy's path. Both directions stream frame by frame — nothing is buffered whole.
//! [`MeteredBody`] wraps every response the proxy sends: it counts the bytes and, when the body
//! ends or is dropped, completes the request's event and records it. This is the one place where
//! requests are recorded.

use super::compression::CompressedFrames;
use super::error::ProxyError;
use super::event::{ErrorKind, RequestEvent, RequestShare};
use super::stall::{BodyLimits, StallTimer};
use super::target::InFlight;
use super::upstream::UpstreamBody;
use super::upstream::connection::Broken;
use crate::server::config::Encoding;
use crate::server::proxy::llm_tap::LlmTap;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Instant;

/// Any error a body may yield.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body before metering: the upstream's, one the proxy wrote, or a static file's.
#[derive(Debug)]
pub enum ResponseBody {
    /// Streamed from the upstream.
    Upstream(UpstreamBody),
    /// Written by the proxy (taken on first poll).
    Full(Option<Bytes>),
    /// Anything else (static files).
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Self::Upstream(body) => Pin::new(body).poll_frame(cx),
            Self::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Self::Boxed(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Upstream(body) => body.is_end_stream(),
            Self::Full(bytes) => bytes.is_none(),
            Self::Boxed(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Upstream(body) => body.size_hint(),
            Self::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Self::Boxed(body) => body.size_hint(),
        }
    }
}

/// The request's event, completed when its response body finishes.
#[derive(Debug)]
pub struct Completion {
    /// The event so far (status, route, target, timings up to the response headers).
    pub event: RequestEvent,
    /// When the request arrived.
    pub started: Instant,
    /// Where the finished event goes (the serving thread's share).
    pub sink: Arc<RequestShare>,
    /// Bytes of the request body read so far (shared with [`RequestBody`]).
    pub bytes_in: Option<Arc<AtomicU64>>,
    /// Keeps the target's in-flight count until the response is sent.
    pub in_flight: Option<InFlight>,
}

/// A response body that records its request's event when it ends (compressed on the way when
/// the route and the client agreed on an encoding).
#[derive(Debug)]
pub struct MeteredBody {
    inner: ResponseBody,
    /// Compresses `inner`'s frames; the bytes counted are the compressed ones sent.
    compressed: Option<Box<CompressedFrames>>,
    bytes: u64,
    completion: Option<Box<Completion>>,
    /// Reads model and token usage from an LLM answer as it passes.
    llm: Option<Box<LlmTap>>,
}

impl MeteredBody {
    /// Meters `inner`, recording `completion` when it ends; `llm` sees every chunk as the upstream
    /// sent it; with `encoding`, the body is compressed with it.
    pub fn new(
        inner: ResponseBody,
        completion: Completion,
        llm: Option<LlmTap>,
        encoding: Option<Encoding>,
    ) -> Self {
        Self {
            inner,
            compressed: encoding.map(|encoding| Box::new(CompressedFrames::new(encoding))),
            bytes: 0,
            completion: Some(Box::new(completion)),
            llm: llm.map(Box::new),
        }
    }

    fn finish(&mut self, error: Option<ErrorKind>) {
        if let Some(completion) = self.completion.take() {
            let Completion {
                mut event,
                started,
                sink,
                bytes_in,
                in_flight,
            } = *completion;
            drop(in_flight);
            event.latency = started.elapsed();
            event.bytes_out = self.bytes;
            event.bytes_in = bytes_in.map_or(0, |b| b.load(Ordering::Relaxed));
            if let Some(error) = error {
                event.error.get_or_insert(error);
            }
            event.llm = self.llm.take().and_then(|tap| tap.finish());
            sink.record(event);
        }
    }
}

impl MeteredBody {
    /// The body broke off: the request is recorded with the kind of the break (overriding a
    /// kind its status gave it).
    fn finish_cut(&mut self, error: &BoxError) {
        if let Some(completion) = self.completion.as_mut() {
            completion.event.error = Some(cut_kind(error));
        }
        self.finish(None);
    }
}

/// The error kind of a response body that broke off.
fn cut_kind(error: &BoxError) -> ErrorKind {
    match error.downcast_ref::<Broken>() {
        Some(Broken::ClientBody(client)) => client.proxy_error().kind(),
        Some(Broken::BodyStalled) => ErrorKind::UpstreamBodyTimeout,
        _ => ErrorKind::UpstreamProtocol,
    }
}

impl Body for MeteredBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let frame = match &mut this.compressed {
            None => ready!(Pin::new(&mut this.inner).poll_frame(cx)),
            Some(compressed) => {
                let tap = &mut this.llm;
                ready!(
                    compressed.poll_frame(Pin::new(&mut this.inner), cx, |data| {
                        if let Some(tap) = tap {
                            tap.observe(data);
                        }
                    })
                )
            }
        };
        match &frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.bytes += data.len() as u64;
                    if this.compressed.is_none()
                        && let Some(tap) = &mut this.llm
                    {
                        tap.observe(data);
                    }
                }
                if this.is_end_stream() {
                    this.finish(None);
                }
            }
            Some(Err(error)) => this.finish_cut(error),
            None => this.finish(None),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        match &self.compressed {
            None => self.inner.is_end_stream(),
            Some(compressed) => compressed.is_done(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.compressed {
            None => self.inner.size_hint(),
            Some(_) => SizeHint::default(),
        }
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        // The connection may drop a body it knows is complete without polling it to the end.
        let error = (!self.is_end_stream()).then(super::event::aborted);
        self.finish(error);
    }
}

/// A request body on its way to the upstream: streamed, counted, and held to the route's
/// [`BodyLimits`] — larger than `max_upload` or stalled for `upload_stall`, it ends in an error
/// instead of the frame, and the upload stops there.
#[derive(Debug)]
pub enum RequestBody {
    /// The request has no body.
    Empty,
    /// Streamed from the client.
    Streaming(Streaming),
}

/// A client's body as it streams.
#[derive(Debug)]
pub struct Streaming {
    inner: Incoming,
    read: Arc<AtomicU64>,
    max: Option<u64>,
    stall: StallTimer,
}

/// Why a client's request body ended early.
#[derive(Debug, thiserror::Error)]
pub enum ClientBodyError {
    #[error("the request body grew past the route's max_body_bytes")]
    TooLarge,
    #[error("the client sent no request body byte within body_read_timeout_ms")]
    Stalled,
    #[error("reading the request body: {0}")]
    Read(#[from] hyper::Error),
}

impl ClientBodyError {
    /// The answer owed to the client for a body that ended early: every such body cuts the
    /// request, since the upstream would otherwise wait for the rest until the route's timeout.
    pub fn proxy_error(&self) -> ProxyError {
        match self {
            Self::TooLarge => ProxyError::BodyTooLarge,
            Self::Stalled => ProxyError::BodyTimeout,
            Self::Read(error) if is_malformed(error) => ProxyError::BadBody,
            Self::Read(_) => ProxyError::ClientGone,
        }
    }
}

/// Whether hyper refused the body's framing (a bad chunk size or extension, an overflowing
/// size), as opposed to the client's connection breaking.
fn is_malformed(error: &hyper::Error) -> bool {
    std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<std::io::Error>())
        .is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData
            )
        })
}

impl RequestBody {
    /// Wraps a client's body, held to `limits`; returns the shared byte counter when there is a
    /// body.
    pub fn new(body: Incoming, limits: &BodyLimits) -> (Self, Option<Arc<AtomicU64>>) {
        if body.is_end_stream() {
            return (Self::Empty, None);
        }
        let read = Arc::new(AtomicU64::new(0));
        (
            Self::Streaming(Streaming {
                inner: body,
                read: read.clone(),
                max: limits.max_upload,
                stall: StallTimer::new(limits.upload_stall),
            }),
            Some(read),
        )
    }

    /// Whether there is no body (so the request can be sent again).
    pub fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = ClientBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ClientBodyError>>> {
        match self.get_mut() {
            Self::Empty => Poll::Ready(None),
            Self::Streaming(body) => body.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Empty => true,
            Self::Streaming(body) => body.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Empty => SizeHint::with_exact(0),
            Self::Streaming(body) => body.inner.size_hint(),
        }
    }
}

impl Streaming {
    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ClientBodyError>>> {
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => frame,
            Poll::Pending => {
                ready!(self.stall.poll_expired(cx));
                return Poll::Ready(Some(Err(ClientBodyError::Stalled)));
            }
        };
        self.stall.progress();
        Poll::Ready(match frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let length = data.len() as u64;
                    let total = self.read.fetch_add(length, Ordering::Relaxed) + length;
                    if self.max.is_some_and(|max| total > max) {
                        return Poll::Ready(Some(Err(ClientBodyError::TooLarge)));
                    }
                }
                Some(Ok(frame))
            }
            Some(Err(error)) => Some(Err(error.into())),
            None => None,
        })
    }
}
