//! `/metrics`: the same numbers in Prometheus text format, through the `metrics` crate and its
//! Prometheus exporter. Each gateway owns its recorder (none is installed globally, so several
//! gateways can live in one process). Label values are bounded: routes, targets and models beyond
//! [`MAX_LABEL_VALUES`] distinct values each are reported as [`OTHER`].

use super::aggregate::OTHER;
use crate::views::{RequestRecord, SystemStats, TargetView};
use metrics::Label;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

/// Most distinct values per label.
pub const MAX_LABEL_VALUES: usize = 256;

/// Histogram buckets for durations, in seconds (0.5 ms … 60 s).
const SECONDS_BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// Gauges set once a second.
#[derive(Clone, Debug, Default)]
pub struct GaugeValues {
    pub active_connections: u64,
    pub open_websockets: u64,
    pub uptime_secs: u64,
    pub events_dropped: u64,
    pub history_rows_dropped: u64,
    pub history_healthy: bool,
    pub system: SystemStats,
}

/// The gateway's Prometheus registry.
pub struct PrometheusMetrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    seen: Mutex<SeenLabels>,
}

#[derive(Default)]
struct SeenLabels {
    routes: HashSet<String>,
    targets: HashSet<String>,
    models: HashSet<String>,
}

impl Default for PrometheusMetrics {
    fn default() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&SECONDS_BUCKETS)
            .expect("constant buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        Self {
            recorder,
            handle,
            seen: Mutex::default(),
        }
    }
}

/// `value` if it is one of the first [`MAX_LABEL_VALUES`] seen, else [`OTHER`].
fn bounded(seen: &mut HashSet<String>, value: &str) -> String {
    if seen.contains(value) {
        return value.to_string();
    }
    if seen.len() < MAX_LABEL_VALUES {
        seen.insert(value.to_string());
        return value.to_string();
    }
    OTHER.to_string()
}

impl PrometheusMetrics {
    /// Counts finished requests.
    pub fn record_requests(&self, records: &[RequestRecord]) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        metrics::with_local_recorder(&self.recorder, || {
            for record in records {
                let route = record
                    .route
                    .as_deref()
                    .map_or_else(|| "(none)".to_string(), |r| bounded(&mut seen.routes, r));
                let target = record
                    .target
                    .as_deref()
                    .map_or_else(|| "(none)".to_string(), |t| bounded(&mut seen.targets, t));
                let class = record.status_class();
                metrics::counter!("gatewatch_requests_total",
                    "route" => route.clone(), "target" => target.clone(), "status_class" => class)
                .increment(1);
                if let Some(kind) = &record.error {
                    metrics::counter!("gatewatch_request_errors_total",
                        "route" => route.clone(), "kind" => kind.clone())
                    .increment(1);
                }
                metrics::histogram!("gatewatch_request_duration_seconds", "route" => route.clone())
                    .record(record.latency_us as f64 / 1e6);
                if let Some(upstream) = record.upstream_us {
                    metrics::histogram!("gatewatch_upstream_response_seconds",
                        "route" => route.clone(), "target" => target.clone())
                    .record(upstream as f64 / 1e6);
                }
                metrics::counter!("gatewatch_request_bytes_total", "route" => route.clone())
                    .increment(record.bytes_in);
                metrics::counter!("gatewatch_response_bytes_total", "route" => route)
                    .increment(record.bytes_out);
                if let Some(llm) = &record.llm {
                    let model = bounded(&mut seen.models, &llm.model);
                    metrics::counter!("gatewatch_llm_requests_total", "model" => model.clone())
                        .increment(1);
                    metrics::counter!("gatewatch_llm_tokens_total",
                        "model" => model.clone(), "direction" => "input")
                    .increment(llm.input_tokens.unwrap_or(0));
                    metrics::counter!("gatewatch_llm_tokens_total",
                        "model" => model.clone(), "direction" => "output")
                    .increment(llm.output_tokens.unwrap_or(0));
                    if let Some(first) = llm.first_token_us {
                        metrics::histogram!("gatewatch_llm_time_to_first_token_seconds",
                            "model" => model)
                        .record(first as f64 / 1e6);
                    }
                }
            }
        });
    }

    /// Counts a finished WebSocket session.
    pub fn record_websocket(&self, route: &str) {
        let route = bounded(
            &mut self
                .seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .routes,
            route,
        );
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!("gatewatch_websocket_sessions_total", "route" => route).increment(1);
        });
    }

    /// Sets the gauges and per-target states, and compacts histogram buffers.
    pub fn set_gauges(&self, values: &GaugeValues, targets: &[TargetView]) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        metrics::with_local_recorder(&self.recorder, || {
            metrics::gauge!("gatewatch_active_connections").set(values.active_connections as f64);
            metrics::gauge!("gatewatch_open_websockets").set(values.open_websockets as f64);
            metrics::gauge!("gatewatch_uptime_seconds").set(values.uptime_secs as f64);
            metrics::gauge!("gatewatch_events_dropped").set(values.events_dropped as f64);
            metrics::gauge!("gatewatch_history_rows_dropped")
                .set(values.history_rows_dropped as f64);
            metrics::gauge!("gatewatch_history_healthy")
                .set(f64::from(u8::from(values.history_healthy)));
            metrics::gauge!("gatewatch_process_cpu_percent")
                .set(f64::from(values.system.process_cpu_percent));
            metrics::gauge!("gatewatch_process_resident_memory_bytes")
                .set(values.system.process_memory_bytes as f64);
            metrics::gauge!("gatewatch_host_cpu_percent")
                .set(f64::from(values.system.host_cpu_percent));
            metrics::gauge!("gatewatch_host_memory_used_bytes")
                .set(values.system.host_memory_used_bytes as f64);
            for target in targets {
                let labels = [
                    Label::new("route", bounded(&mut seen.routes, &target.route)),
                    Label::new("target", bounded(&mut seen.targets, &target.url)),
                ];
                metrics::gauge!("gatewatch_target_healthy", labels.iter())
                    .set(f64::from(u8::from(target.healthy)));
                metrics::gauge!("gatewatch_target_in_flight", labels.iter())
                    .set(f64::from(target.in_flight));
                let breaker = match target.breaker.as_str() {
                    "open" => 2.0,
                    "half_open" => 1.0,
                    _ => 0.0,
                };
                metrics::gauge!("gatewatch_target_breaker_state", labels.iter()).set(breaker);
            }
        });
        drop(seen);
        self.handle.run_upkeep();
    }

    /// The Prometheus text exposition of everything recorded.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}
