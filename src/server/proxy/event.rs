//! What the proxy reports about its traffic: one [`ProxyEvent`] per finished request and per
//! WebSocket session, handed to the metrics side through a bounded queue (a share per proxy
//! thread for requests, a channel for the rest). Sending never waits: when the queue is full
//! the event is dropped and counted.

use crate::server::proxy::header_capture::CapturedHeaders;
use crate::server::proxy::workers::{current_slot, slot_count};
use crate::views::{LlmUsage, TargetTransition};
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use chrono::{DateTime, TimeDelta, Utc};
use compact_str::CompactString;
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;

/// How many events may wait for the metrics side before new ones are dropped.
pub const EVENT_QUEUE: usize = 65_536;

/// Longest path kept (in bytes, cut at a character boundary).
pub const MAX_PATH_LEN: usize = 2_048;
/// Longest user agent kept.
pub const MAX_USER_AGENT_LEN: usize = 512;

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
    /// TLS with the upstream failed (certificate not trusted, handshake, client certificate).
    UpstreamTls,
    /// The upstream answered 5xx.
    Upstream5xx,
    /// The answer was 4xx.
    Client4xx,
    /// The client went away before the response was sent.
    ClientAborted,
    /// Still in flight at the end of a shutdown's drain period: the gateway cut it.
    Shutdown,
    /// The request body was larger than the route's `max_body_bytes` (413, or cut mid-response).
    BodyTooLarge,
    /// The client's upload stalled for `limits.body_read_timeout_ms` (408, or cut mid-response).
    BodyTimeout,
    /// The upstream's response body stalled for `limits.upstream_body_timeout_ms` (cut).
    UpstreamBodyTimeout,
    /// A WebSocket upgrade refused: `limits.max_websockets` tunnels were open.
    WebSocketLimit,
}

/// Why a request ended before its response was complete, when nothing else said why: cut by
/// the gateway at the end of a shutdown's drain period, or else abandoned by its client.
pub fn aborted() -> ErrorKind {
    if crate::server::proxy::workers::cutting() {
        ErrorKind::Shutdown
    } else {
        ErrorKind::ClientAborted
    }
}

/// The status recorded with an [`aborted`] kind: 503 for a request the gateway cut, else 499
/// (nginx's "client closed request": no response was sent; the status says why there is none).
pub fn aborted_status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Shutdown => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
    }
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
            Self::UpstreamTls => "upstream_tls",
            Self::Upstream5xx => "upstream_5xx",
            Self::Client4xx => "client_4xx",
            Self::ClientAborted => "client_aborted",
            Self::Shutdown => "shutdown",
            Self::BodyTooLarge => "body_too_large",
            Self::BodyTimeout => "body_timeout",
            Self::UpstreamBodyTimeout => "upstream_body_timeout",
            Self::WebSocketLimit => "websocket_limit",
        }
    }
}

/// One finished request. Its texts are copies (bounded, as the record keeps them), never
/// slices of the request: a slice would share hyper's read buffer, and while the recorder held
/// it hyper could not reuse that buffer and allocated a new one for the connection's next read.
#[derive(Clone, Debug)]
pub struct RequestEvent {
    /// When the request arrived.
    pub started_at: DateTime<Utc>,
    pub request_id: CompactString,
    pub method: Method,
    /// The request path, query stripped.
    pub path: CompactString,
    pub client: IpAddr,
    pub user_agent: Option<CompactString>,
    /// The matched route (`None`: no route). Copied, not shared: most names are stored inline,
    /// and a shared name's reference count would be written by every thread on every request.
    pub route: Option<CompactString>,
    /// The target that answered, or the last one tried (copied, as the route).
    pub target: Option<CompactString>,
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

impl RequestEvent {
    /// When the last byte of the response was handed to the connection.
    pub fn finished_at(&self) -> DateTime<Utc> {
        // Saturating: `DateTime + TimeDelta` panics on overflow.
        TimeDelta::from_std(self.latency)
            .ok()
            .and_then(|latency| self.started_at.checked_add_signed(latency))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The event of `request` as it arrives, with bounded copies of its texts. `request_id` is
    /// the id it goes by (already checked to be short visible ASCII, see
    /// [`headers::request_id`](super::headers::request_id)).
    pub fn received<B>(request: &Request<B>, request_id: &HeaderValue, client: IpAddr) -> Self {
        Self {
            user_agent: request
                .headers()
                .get(header::USER_AGENT)
                .map(|agent| bounded_header(agent.as_bytes(), MAX_USER_AGENT_LEN)),
            ..Self::arrived(
                CompactString::new(request_id.to_str().unwrap_or_default()),
                request.method().clone(),
                bounded(request.uri().path().into(), MAX_PATH_LEN),
                client,
            )
        }
    }

    /// A request that just arrived: what is known before it is routed (the rest is filled in
    /// as it goes through the proxy's steps).
    pub fn arrived(
        request_id: CompactString,
        method: Method,
        path: CompactString,
        client: IpAddr,
    ) -> Self {
        Self {
            started_at: Utc::now(),
            request_id,
            method,
            path,
            client,
            user_agent: None,
            route: None,
            target: None,
            status: StatusCode::OK,
            error: None,
            latency: Duration::ZERO,
            upstream_latency: None,
            bytes_in: 0,
            bytes_out: 0,
            attempts: 0,
            llm: None,
            headers: None,
        }
    }
}

/// A header's bytes as text cut to at most `max` bytes at a character boundary, invalid UTF-8
/// replaced (header values are nearly always ASCII, which `from_utf8` checks fast).
fn bounded_header(bytes: &[u8], max: usize) -> CompactString {
    bounded(
        std::str::from_utf8(bytes).map_or_else(|_| String::from_utf8_lossy(bytes), Cow::Borrowed),
        max,
    )
}

/// `text` cut to at most `max` bytes at a character boundary.
fn bounded(text: Cow<'_, str>, max: usize) -> CompactString {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    CompactString::new(&text[..end])
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
pub enum ProxyEvent {
    Request(RequestEvent),
    WebSocket(WebSocketEvent),
    /// A target changed health or breaker state.
    Transition(TargetTransition),
}

/// The proxy's end of the event queue. Finished requests, nearly every event, go into one
/// share per proxy thread ([`RequestShare`], taken through [`EventSink::requests_here`] once per
/// request), so a request touches only memory its own thread uses: no shared reference count,
/// no channel slot contended with the other threads. Sessions and transitions, which are rare,
/// go through a channel.
#[derive(Clone, Debug)]
pub struct EventSink {
    others: mpsc::Sender<ProxyEvent>,
    shares: Arc<[Arc<RequestShare>]>,
}

/// The metrics side's end: the channel of other events and every thread's share of requests.
#[derive(Debug)]
pub struct EventQueue {
    others: mpsc::Receiver<ProxyEvent>,
    shares: Arc<[Arc<RequestShare>]>,
}

/// One thread's finished requests waiting for the metrics side, with the recording switches
/// (copied into every share so reading them stays local). Padded to its own cache lines.
#[derive(Debug)]
#[repr(align(128))]
pub struct RequestShare {
    waiting: Mutex<Vec<RequestEvent>>,
    /// Most events waiting in this share; beyond it they are dropped and counted.
    bound: usize,
    dropped: AtomicU64,
    /// Off (`metrics.enabled: false`): finished requests are not reported.
    requests_enabled: AtomicBool,
    /// Off (`metrics.capture_headers: false`): requests are reported without their headers.
    headers_enabled: AtomicBool,
}

/// Capacity a share keeps after the metrics side took its events (a burst's is given back).
const KEPT_SHARE_CAPACITY: usize = 1_024;

impl EventSink {
    /// A sink and the queue the metrics side reads, holding at most about `capacity` events
    /// (split evenly between the threads' shares, and `capacity` more other events).
    pub fn channel(capacity: usize) -> (Self, EventQueue) {
        let (others, receiver) = mpsc::channel(capacity);
        let slots = slot_count();
        let bound = capacity.div_ceil(slots).max(1);
        let shares: Arc<[Arc<RequestShare>]> = (0..slots)
            .map(|_| {
                Arc::new(RequestShare {
                    waiting: Mutex::new(Vec::new()),
                    bound,
                    dropped: AtomicU64::new(0),
                    requests_enabled: AtomicBool::new(true),
                    headers_enabled: AtomicBool::new(true),
                })
            })
            .collect();
        let queue = EventQueue {
            others: receiver,
            shares: shares.clone(),
        };
        (Self { others, shares }, queue)
    }

    /// Whether finished requests are reported (`metrics.enabled`) and with their headers
    /// (`metrics.capture_headers`).
    pub fn set_recording(&self, requests: bool, headers: bool) {
        for share in self.shares.iter() {
            share.requests_enabled.store(requests, Ordering::Relaxed);
            share
                .headers_enabled
                .store(requests && headers, Ordering::Relaxed);
        }
    }

    /// The current thread's share, for one request's event.
    pub fn requests_here(&self) -> Arc<RequestShare> {
        self.shares[current_slot() % self.shares.len()].clone()
    }

    /// Hands `event` over without waiting; drops it (and counts it) if the queue is full.
    pub fn record(&self, event: ProxyEvent) {
        match event {
            ProxyEvent::Request(request) => self.requests_here().record(request),
            other => {
                if self.others.try_send(other).is_err() {
                    self.shares[0].dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shares
            .iter()
            .map(|share| share.dropped.load(Ordering::Relaxed))
            .sum()
    }
}

impl RequestShare {
    /// Whether requests are reported with their headers.
    pub fn captures_headers(&self) -> bool {
        self.headers_enabled.load(Ordering::Relaxed)
    }

    /// Hands a finished request over without waiting (the lock is only ever held to push one
    /// event or to take them all); drops it (and counts it) if the share is full.
    pub fn record(&self, event: RequestEvent) {
        if !self.requests_enabled.load(Ordering::Relaxed) {
            return;
        }
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        if waiting.len() < self.bound {
            waiting.push(event);
        } else {
            drop(waiting);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl EventQueue {
    /// Moves every waiting request event onto the end of `into`, in the order the requests
    /// finished. Each thread's share is in that order already; the shares are merged, so the
    /// records are numbered, listed and published newest last, as they finished, whichever
    /// thread served them.
    pub fn take_requests(&self, into: &mut Vec<RequestEvent>) {
        let start = into.len();
        let mut runs = 0;
        for share in self.shares.iter() {
            let mut waiting = share.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            runs += usize::from(!waiting.is_empty());
            into.append(&mut waiting);
            waiting.shrink_to(KEPT_SHARE_CAPACITY);
        }
        if runs > 1 {
            // A stable sort finds the sorted runs and merges them.
            into[start..].sort_by_key(RequestEvent::finished_at);
        }
    }

    /// The next other event, without waiting.
    pub fn try_recv_other(&mut self) -> Result<ProxyEvent, mpsc::error::TryRecvError> {
        self.others.try_recv()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    fn event(n: u16) -> RequestEvent {
        RequestEvent::arrived(
            compact_str::format_compact!("{n}"),
            Method::GET,
            CompactString::const_new("/"),
            "127.0.0.1".parse().unwrap(),
        )
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        let text = "é".repeat(10); // 20 bytes
        assert_eq!(bounded(text.as_str().into(), 5), "éé");
        assert_eq!(bounded("short".into(), 5), "short");
    }

    fn ids(events: &[RequestEvent]) -> Vec<String> {
        let mut ids: Vec<String> = events.iter().map(|e| e.request_id.to_string()).collect();
        ids.sort();
        ids
    }

    #[test]
    fn requests_from_every_thread_reach_the_queue_and_a_full_share_drops_and_counts() {
        let (sink, queue) = EventSink::channel(slot_count() * 2);
        // This thread's share holds 2: the third is dropped and counted.
        for n in 0..3 {
            sink.record(ProxyEvent::Request(event(n)));
        }
        // Another thread (not a proxy worker: the same share as this one) is refused too.
        let other = sink.clone();
        std::thread::spawn(move || other.requests_here().record(event(9)))
            .join()
            .unwrap();
        assert_eq!(sink.dropped(), 2);
        let mut taken = Vec::new();
        queue.take_requests(&mut taken);
        assert_eq!(ids(&taken), ["0", "1"]);
        // Taking frees the room again.
        sink.requests_here().record(event(5));
        taken.clear();
        queue.take_requests(&mut taken);
        assert_eq!(ids(&taken), ["5"]);
    }

    #[test]
    fn requests_are_taken_in_the_order_they_finished_across_threads() {
        let (_sink, queue) = EventSink::channel(64);
        let start = Utc::now();
        let finishing = |n: u16, started_ms: i64, latency_ms: u64| {
            let mut event = event(n);
            event.started_at = start + TimeDelta::milliseconds(started_ms);
            event.latency = Duration::from_millis(latency_ms);
            event
        };
        // Non-worker threads and each worker have a share of their own: at least two.
        let [first, second] = [&queue.shares[0], &queue.shares[1]];
        // Each thread's requests in the order they finished there.
        first.record(finishing(1, 0, 1)); // finished at 1 ms
        first.record(finishing(4, 2, 5)); // 7 ms
        second.record(finishing(2, 1, 2)); // 3 ms
        second.record(finishing(3, 0, 6)); // 6 ms
        second.record(finishing(5, 8, 0)); // 8 ms
        let mut taken = vec![finishing(0, -10, 0)];
        queue.take_requests(&mut taken);
        let order: Vec<&str> = taken.iter().map(|e| e.request_id.as_str()).collect();
        assert_eq!(order, ["0", "1", "2", "3", "4", "5"]);
    }

    #[test]
    fn a_finish_beyond_the_calendar_saturates_instead_of_panicking() {
        let mut event = event(1);
        event.started_at = DateTime::<Utc>::MAX_UTC - TimeDelta::seconds(1);
        event.latency = Duration::from_secs(3_600);
        assert_eq!(event.finished_at(), DateTime::<Utc>::MAX_UTC);
        event.latency = Duration::MAX;
        assert_eq!(event.finished_at(), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn switched_off_requests_are_not_queued_and_other_events_still_are() {
        let (sink, mut queue) = EventSink::channel(16);
        sink.set_recording(false, true);
        assert!(!sink.requests_here().captures_headers());
        sink.record(ProxyEvent::Request(event(1)));
        sink.record(ProxyEvent::WebSocket(WebSocketEvent {
            started_at: Utc::now(),
            request_id: HeaderValue::from_static("ws"),
            route: Arc::from("r"),
            target: Arc::from("t"),
            client: "127.0.0.1".parse().unwrap(),
            duration: Duration::ZERO,
            bytes_from_client: 0,
            bytes_from_upstream: 0,
            error: None,
        }));
        let mut taken = Vec::new();
        queue.take_requests(&mut taken);
        assert!(taken.is_empty());
        assert!(matches!(
            queue.try_recv_other(),
            Ok(ProxyEvent::WebSocket(_))
        ));
        sink.set_recording(true, true);
        assert!(sink.requests_here().captures_headers());
        sink.record(ProxyEvent::Request(event(2)));
        queue.take_requests(&mut taken);
        assert_eq!(ids(&taken), ["2"]);
        assert_eq!(sink.dropped(), 0);
    }
}
