//! What the proxy reports about its traffic: one [`ProxyEvent`] per finished request and per
//! WebSocket session, handed to the metrics side through a bounded queue. Sending never waits:
//! when the queue is full the event is dropped and counted.

use crate::server::metrics::headers::CapturedHeaders;
use crate::views::{LlmUsage, TargetTransition};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use chrono::{DateTime, Utc};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// How many events may wait for the metrics side before new ones are dropped.
pub const EVENT_QUEUE: usize = 65_536;

/// Why a request did not get an ordinary upstream answer (or got an error status from it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    NoRoute,
    RateLimited,
    NoHealthyTarget,
    CircuitOpen,
    Connect,
    Timeout,
    /// The upstream broke the connection or protocol.
    UpstreamProtocol,
    /// The upstream answered 5xx.
    Upstream5xx,
    /// The answer was 4xx.
    Client4xx,
    /// The client went away before the response was sent.
    ClientAborted,
}

impl ErrorKind {
    /// The name used in the API and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoRoute => "no_route",
            Self::RateLimited => "rate_limited",
            Self::NoHealthyTarget => "no_healthy_target",
            Self::CircuitOpen => "circuit_open",
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::UpstreamProtocol => "upstream_protocol",
            Self::Upstream5xx => "upstream_5xx",
            Self::Client4xx => "client_4xx",
            Self::ClientAborted => "client_aborted",
        }
    }
}

/// One finished request.
#[derive(Clone, Debug)]
pub struct RequestEvent {
    /// When the request arrived.
    pub started_at: DateTime<Utc>,
    pub request_id: HeaderValue,
    pub method: Method,
    /// The URI as received (the query is stripped when stored).
    pub uri: Uri,
    pub client: IpAddr,
    pub user_agent: Option<HeaderValue>,
    /// The matched route (`None`: no route).
    pub route: Option<Arc<str>>,
    /// The target that answered, or the last one tried.
    pub target: Option<Arc<str>>,
    pub status: StatusCode,
    pub error: Option<ErrorKind>,
    /// Arrival until the last byte of the response was handed to the connection.
    pub latency: Duration,
    /// Sending to the upstream until its response headers arrived.
    pub upstream_latency: Option<Duration>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Upstream attempts made (more than one after retries).
    pub attempts: u32,
    /// Model and token usage, on `llm` routes whose answer reported them.
    pub llm: Option<LlmUsage>,
    /// The request's headers as received and the response's as sent, when headers are
    /// captured (`metrics.capture_headers`).
    pub headers: Option<CapturedHeaders>,
}

/// One WebSocket session, reported when it closes.
#[derive(Clone, Debug)]
pub struct WebSocketEvent {
    pub started_at: DateTime<Utc>,
    pub request_id: HeaderValue,
    pub route: Arc<str>,
    pub target: Arc<str>,
    pub client: IpAddr,
    pub duration: Duration,
    pub bytes_from_client: u64,
    pub bytes_from_upstream: u64,
    /// Why it ended abnormally, if it did.
    pub error: Option<String>,
}

/// Everything the proxy reports.
#[derive(Clone, Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "requests are nearly every event; boxing them would allocate once per request"
)]
pub enum ProxyEvent {
    Request(RequestEvent),
    WebSocket(WebSocketEvent),
    /// A target changed health or breaker state.
    Transition(TargetTransition),
}

/// The proxy's end of the event queue.
#[derive(Clone, Debug)]
pub struct EventSink {
    sender: mpsc::Sender<ProxyEvent>,
    dropped: Arc<AtomicU64>,
    /// Off (`metrics.enabled: false`): finished requests are not reported.
    requests_enabled: Arc<AtomicBool>,
    /// Off (`metrics.capture_headers: false`): requests are reported without their headers.
    headers_enabled: Arc<AtomicBool>,
}

impl EventSink {
    /// A sink and the receiver the metrics side reads, holding at most `capacity` events.
    pub fn channel(capacity: usize) -> (Self, mpsc::Receiver<ProxyEvent>) {
        let (sender, receiver) = mpsc::channel(capacity);
        let sink = Self {
            sender,
            dropped: Arc::default(),
            requests_enabled: Arc::new(AtomicBool::new(true)),
            headers_enabled: Arc::new(AtomicBool::new(true)),
        };
        (sink, receiver)
    }

    /// Whether finished requests are reported (`metrics.enabled`) and with their headers
    /// (`metrics.capture_headers`).
    pub fn set_recording(&self, requests: bool, headers: bool) {
        self.requests_enabled.store(requests, Ordering::Relaxed);
        self.headers_enabled
            .store(requests && headers, Ordering::Relaxed);
    }

    /// Whether requests are reported with their headers.
    pub fn captures_headers(&self) -> bool {
        self.headers_enabled.load(Ordering::Relaxed)
    }

    /// Hands `event` over without waiting; drops it (and counts it) if the queue is full.
    pub fn record(&self, event: ProxyEvent) {
        if matches!(event, ProxyEvent::Request(_)) && !self.requests_enabled.load(Ordering::Relaxed)
        {
            return;
        }
        if self.sender.try_send(event).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}
