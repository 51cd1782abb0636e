//! The live metrics the API and dashboard show: `/api/metrics`, `/api/routes`, `/api/models`,
//! `/api/health`, `/api/logs`, and the 1 Hz live tick.

use super::history::HistoryStatus;
use super::requests::RequestRecord;
use super::series::SeriesPoint;
use super::stats::StatusClasses;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Counts and latency of some traffic since the gateway started.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrafficStats {
    /// Requests per second over the last 10 seconds.
    #[serde(default)]
    pub rps: f64,
    /// Share of those requests that failed (0–1).
    #[serde(default)]
    pub error_rate: f64,
    pub requests: u64,
    /// Requests with an error kind.
    pub errors: u64,
    /// Errors by kind (`connect`, `timeout`, `upstream_5xx`, …).
    pub errors_by_kind: BTreeMap<String, u64>,
    pub status: StatusClasses,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Total latency percentiles (µs).
    pub latency: LatencyPercentiles,
    /// Upstream time-to-first-byte percentiles (µs).
    pub upstream_latency: LatencyPercentiles,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// p50/p95/p99/max in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyPercentiles {
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// The gateway process and its host.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemStats {
    pub process_cpu_percent: f32,
    pub process_memory_bytes: u64,
    /// Whole host, in percent of all cores.
    pub host_cpu_percent: f32,
    pub host_memory_used_bytes: u64,
    pub host_memory_total_bytes: u64,
    pub cpu_cores: usize,
}

/// `/api/metrics`: everything at a glance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    pub generated_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub uptime_secs: u64,
    pub active_connections: u64,
    pub open_websockets: u64,
    pub in_flight_requests: u64,
    pub websocket_sessions: u64,
    /// Requests per second over the last full 10 seconds.
    pub rps: f64,
    /// Error share over the last full 10 seconds.
    pub error_rate: f64,
    pub totals: TrafficStats,
    pub system: SystemStats,
    /// Events the proxy could not hand over because the metrics side was behind.
    pub events_dropped: u64,
    /// The per-second series, oldest first (up to 15 minutes); every point has its
    /// [`SecondSample`](super::SecondSample).
    pub series: Vec<SeriesPoint>,
    /// The outcome of the last config reload (none before the first reload).
    #[serde(default)]
    pub last_reload: Option<super::ConfigReload>,
}

/// `/api/routes`: one route with its targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RouteView {
    pub name: String,
    /// The path pattern as configured (`/api/*`).
    pub path: String,
    pub strategy: String,
    /// The certificates of its `https://` targets are not verified
    /// (`upstream_tls.insecure_skip_verify`).
    #[serde(default)]
    pub tls_unverified: bool,
    pub traffic: TrafficStats,
    pub targets: Vec<TargetView>,
    /// Whether every target is out of rotation (unhealthy or breaker open).
    pub all_targets_down: bool,
}

/// A target's live state and traffic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetView {
    pub route: String,
    pub url: String,
    pub weight: u32,
    pub healthy: bool,
    /// `closed`, `open` or `half_open` (`closed` when the route has no breaker).
    pub breaker: String,
    pub in_flight: u32,
    pub consecutive_failures: u32,
    pub last_check: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// This target's share of the route's requests so far (0–1).
    pub share: f64,
    pub traffic: TrafficStats,
    /// Recent health and breaker transitions, newest first.
    pub transitions: Vec<TargetTransition>,
}

/// A target changing health or breaker state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetTransition {
    pub at: DateTime<Utc>,
    pub route: String,
    pub target: String,
    /// `health` or `breaker`.
    pub kind: String,
    /// `healthy`/`unhealthy`, or `closed`/`open`/`half_open`.
    pub from: String,
    pub to: String,
    /// Why (the failing probe's error, …).
    pub reason: Option<String>,
}

/// `/api/models`: one model's traffic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelView {
    pub model: String,
    pub requests: u64,
    pub streamed_requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Output tokens per second of response time, over all requests with usage.
    pub output_tokens_per_sec: f64,
    pub latency: LatencyPercentiles,
    /// Time to first token of streamed answers.
    pub first_token: LatencyPercentiles,
    /// Requests per target serving this model.
    pub targets: BTreeMap<String, u64>,
}

/// `/api/health`: is the gateway itself well?
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GatewayHealth {
    /// `ok`, or `degraded` when something is wrong (history failing, targets down, events dropped).
    pub status: String,
    pub uptime_secs: u64,
    pub version: String,
    /// What is wrong, one line each.
    pub problems: Vec<String>,
    pub history: Option<HistoryStatus>,
    pub routes: Vec<RouteHealth>,
    pub events_dropped: u64,
    /// The certificates the TLS listeners serve (none without `tls` or `dashboard.tls`).
    #[serde(default)]
    pub certificates: Vec<super::CertificateView>,
}

/// One route's health in `/api/health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteHealth {
    pub name: String,
    pub healthy_targets: usize,
    pub targets: usize,
}

/// One line of the gateway's own log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Increasing number of the line (paging cursor).
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// `ERROR`, `WARN` or `INFO`.
    pub level: String,
    /// The module that logged it.
    pub target: String,
    /// The message with its fields (`key=value`).
    pub message: String,
}

/// `/api/logs`: a page of log lines, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPage {
    pub lines: Vec<LogLine>,
    /// Pass as `cursor` to get the next (older) page; `None` at the end.
    pub next_cursor: Option<u64>,
}

/// `/api/requests`: a page of requests, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestPage {
    pub requests: Vec<RequestRecord>,
    /// Pass as `cursor` to get the next (older) page; `None` at the end.
    pub next_cursor: Option<u64>,
}

/// The 1 Hz live tick: the second that just ended and the running totals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricsTick {
    /// The second that just ended, with its [`SecondSample`](super::SecondSample).
    pub point: SeriesPoint,
    pub uptime_secs: u64,
    pub requests_total: u64,
    pub errors_total: u64,
    /// Errors so far by kind (`timeout`, `connect`, …), as in [`TrafficStats::errors_by_kind`].
    #[serde(default)]
    pub errors_by_kind: BTreeMap<String, u64>,
    pub in_flight_requests: u64,
}

/// A batch of finished requests for live subscribers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestBatch {
    /// The newest requests of the batch, oldest first.
    pub requests: Vec<RequestRecord>,
    /// Requests finished in the same interval but left out to keep the batch small.
    pub omitted: u64,
}
