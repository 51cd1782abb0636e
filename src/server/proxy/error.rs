//! Why the proxy answered a request itself, and the short answer it gives: the status, a one-line
//! reason and the request id — never internal error text.

use super::body::ResponseBody;
use super::event::ErrorKind;
use super::headers::X_REQUEST_ID;
use super::request_path::PathError;
use super::upstream::TlsFailure;
use axum::http::{HeaderValue, Response, StatusCode, header};
use bytes::Bytes;
use std::time::Duration;

/// A request the proxy could not forward.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxyError {
    /// The request path cannot be normalised (a malformed escape, or `..` above the root).
    BadPath(PathError),
    /// No route matches the request.
    NoRoute,
    /// The client exceeded the route's rate limit; it may retry after the duration.
    RateLimited(Duration),
    /// Every target of the route is unhealthy.
    NoHealthyTarget,
    /// Healthy targets exist but all their circuit breakers are open.
    CircuitOpen,
    /// The target refused or could not be reached.
    Connect,
    /// The target did not answer within the route's timeout.
    Timeout,
    /// The target broke the connection or the protocol before answering.
    Upstream,
    /// TLS with the target failed (its certificate, ours, or the handshake).
    Tls(TlsFailure),
    /// The request body is larger than the route's `max_body_bytes` (said by its length, or
    /// found while it streamed).
    BodyTooLarge,
    /// The client's upload stalled for `limits.body_read_timeout_ms`.
    BodyTimeout,
    /// The request body's framing is malformed (a bad chunk size line, say).
    BadBody,
    /// The client's connection broke while its body was being read: nobody is left to answer.
    ClientGone,
    /// A WebSocket upgrade while `limits.max_websockets` tunnels are open.
    TooManyWebSockets,
}

impl ProxyError {
    /// The status the client gets.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadPath(_) | Self::BadBody => StatusCode::BAD_REQUEST,
            Self::ClientGone => super::event::aborted_status(super::event::aborted()),
            Self::NoRoute => StatusCode::NOT_FOUND,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::NoHealthyTarget | Self::CircuitOpen | Self::TooManyWebSockets => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Connect | Self::Upstream | Self::Tls(_) => StatusCode::BAD_GATEWAY,
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
        }
    }

    /// The kind recorded in the request's event.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::BadPath(_) | Self::BadBody => ErrorKind::Client4xx,
            Self::ClientGone => super::event::aborted(),
            Self::NoRoute => ErrorKind::NoRoute,
            Self::RateLimited(_) => ErrorKind::RateLimited,
            Self::NoHealthyTarget => ErrorKind::NoHealthyTarget,
            Self::CircuitOpen => ErrorKind::CircuitOpen,
            Self::Connect => ErrorKind::Connect,
            Self::Timeout => ErrorKind::Timeout,
            Self::Upstream => ErrorKind::UpstreamProtocol,
            Self::Tls(_) => ErrorKind::UpstreamTls,
            Self::BodyTooLarge => ErrorKind::BodyTooLarge,
            Self::BodyTimeout => ErrorKind::BodyTimeout,
            Self::TooManyWebSockets => ErrorKind::WebSocketLimit,
        }
    }

    /// Whether another target may be tried (for idempotent bodyless requests): the connection
    /// failed before any response — refused, a kept-alive connection closed under us, or TLS
    /// with that target failed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Connect | Self::Upstream | Self::Tls(_))
    }

    /// Whether the client caused it (its body), so the target's breaker and health are not told.
    pub fn is_clients_fault(&self) -> bool {
        matches!(
            self,
            Self::BodyTooLarge | Self::BodyTimeout | Self::BadBody | Self::ClientGone
        )
    }

    /// One line for the client.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::BadPath(PathError::InvalidEscape) => "malformed percent-encoding in the path",
            Self::BadPath(PathError::AboveRoot) => "the path leads above the root",
            Self::NoRoute => "no route matches this request",
            Self::RateLimited(_) => "rate limit exceeded for your address",
            Self::NoHealthyTarget => "no healthy upstream for this route",
            Self::CircuitOpen => "circuit breaker open for every upstream of this route",
            Self::Connect => "upstream unreachable",
            Self::Timeout => "upstream did not answer in time",
            Self::Upstream => "upstream closed the connection without a valid response",
            Self::Tls(failure) => failure.reason(),
            Self::BodyTooLarge => "request body larger than this route accepts",
            Self::BodyTimeout => "request body not received in time",
            Self::BadBody => "malformed request body framing",
            Self::ClientGone => "the client closed the connection during the upload",
            Self::TooManyWebSockets => "too many WebSocket connections open; try again later",
        }
    }

    /// The response the client gets.
    pub fn response(&self, request_id: &HeaderValue) -> Response<ResponseBody> {
        let status = self.status();
        let body = format!(
            "{} {}: {}\nrequest id: {}\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            self.reason(),
            String::from_utf8_lossy(request_id.as_bytes()),
        );
        let mut response = Response::new(ResponseBody::Full(Some(Bytes::from(body))));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(X_REQUEST_ID.clone(), request_id.clone());
        if self.is_clients_fault() {
            // The upload was refused or cut part-way: what is left of it on the connection is
            // not read, so the connection ends with this answer (hyper drops the header on
            // HTTP/2, where the stream alone is reset).
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Self::RateLimited(wait) = self {
            // Whole seconds, rounded up, at least 1.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}
