//! Bodies on the proxy's path. Both directions stream frame by frame — nothing is buffered whole.
//! [`MeteredBody`] wraps every response the proxy sends: it counts the bytes and, when the body
//! ends or is dropped, completes the request's event and records it. This is the one place where
//! requests are recorded.

use super::compression::CompressedFrames;
use super::event::{ErrorKind, RequestEvent, RequestShare};
use super::target::InFlight;
use super::upstream::UpstreamBody;
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
            Some(Err(_)) => this.finish(Some(ErrorKind::UpstreamProtocol)),
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

/// A request body on its way to the upstream: streamed and counted.
#[derive(Debug)]
pub enum RequestBody {
    /// The request has no body.
    Empty,
    /// Streamed from the client.
    Streaming {
        inner: Incoming,
        read: Arc<AtomicU64>,
    },
}

impl RequestBody {
    /// Wraps a client's body; returns the shared byte counter when there is a body.
    pub fn new(body: Incoming) -> (Self, Option<Arc<AtomicU64>>) {
        if body.is_end_stream() {
            return (Self::Empty, None);
        }
        let read = Arc::new(AtomicU64::new(0));
        (
            Self::Streaming {
                inner: body,
                read: read.clone(),
            },
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
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            Self::Empty => Poll::Ready(None),
            Self::Streaming { inner, read } => {
                let frame = ready!(Pin::new(inner).poll_frame(cx));
                if let Some(Ok(data)) = frame.as_ref().map(|f| f.as_ref().map(Frame::data_ref))
                    && let Some(data) = data
                {
                    read.fetch_add(data.len() as u64, Ordering::Relaxed);
                }
                Poll::Ready(frame)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Empty => true,
            Self::Streaming { inner, .. } => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Empty => SizeHint::with_exact(0),
            Self::Streaming { inner, .. } => inner.size_hint(),
        }
    }
}
