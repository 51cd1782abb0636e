//! `/metrics`: the same numbers in Prometheus text format, through the `metrics` crate and its
//! Prometheus exporter. Each gateway owns its recorder (none is installed globally, so several
//! gateways can live in one process). Label values are bounded: routes, targets and models beyond
//! [`MAX_LABEL_VALUES`] distinct values each are reported as [`OTHER`]. Names and `# HELP`
//! texts come from [`metric_names`](super::metric_names).

use super::aggregate::OTHER;
use super::metric_names::{self as names, FAMILIES, Kind};
use crate::server::records::record::SharedRecord;
use crate::views::{SystemStats, TargetView};
use foldhash::{HashMap, HashSet};
use metrics::{Counter, Histogram, Label};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
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
    /// Connections refused at `limits.max_connections`, since start.
    pub connections_rejected: u64,
    pub open_websockets: u64,
    pub uptime_secs: u64,
    pub events_dropped: u64,
    /// Proxy workers started again after a panic, since start.
    pub proxy_worker_restarts: u64,
    pub history_rows_dropped: u64,
    pub history_healthy: bool,
    pub system: SystemStats,
    /// Failed TLS handshakes since start, by kind.
    pub tls_handshake_errors: Vec<(&'static str, u64)>,
    /// Each served certificate's first name and expiry (Unix seconds).
    pub certificate_expiry: Vec<(String, i64)>,
    /// Each alert rule's name and severity, and whether it fires.
    pub alerts_firing: Vec<(String, String, bool)>,
    /// How long the newest evaluation of the alert rules took.
    pub alert_evaluation: std::time::Duration,
}

/// The gateway's Prometheus registry.
pub struct PrometheusMetrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    series: Mutex<Series>,
}

#[derive(Default)]
struct SeenLabels {
    routes: HashSet<String>,
    targets: HashSet<String>,
    models: HashSet<String>,
}

/// The label values seen, and the per-request series' handles, registered on first use and kept:
/// counting a request is then a few atomic adds instead of a registry lookup (and label strings)
/// per metric. Keys are label values, which [`SeenLabels`] bounds, so these maps are bounded too.
#[derive(Default)]
struct Series {
    seen: SeenLabels,
    routes: HashMap<String, RouteSeries>,
}

/// One route's series.
struct RouteSeries {
    duration: Histogram,
    bytes_in: Counter,
    bytes_out: Counter,
    errors: HashMap<String, Counter>,
    targets: HashMap<String, TargetSeries>,
}

/// One route and target's series.
struct TargetSeries {
    /// By status class: 1xx … 5xx, other.
    requests: [Option<Counter>; 6],
    upstream: Histogram,
}

impl RouteSeries {
    fn new(route: &str) -> Self {
        Self {
            duration: metrics::histogram!(names::REQUEST_DURATION_SECONDS,
                "route" => route.to_string()),
            bytes_in: metrics::counter!(names::REQUEST_BYTES_TOTAL,
                "route" => route.to_string()),
            bytes_out: metrics::counter!(names::RESPONSE_BYTES_TOTAL,
                "route" => route.to_string()),
            errors: HashMap::default(),
            targets: HashMap::default(),
        }
    }
}

impl TargetSeries {
    fn new(route: &str, target: &str) -> Self {
        Self {
            requests: Default::default(),
            upstream: metrics::histogram!(names::UPSTREAM_RESPONSE_SECONDS,
                "route" => route.to_string(), "target" => target.to_string()),
        }
    }
}

/// The status classes, in the order [`TargetSeries::requests`] keeps them.
const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

/// Where a status class is kept in [`TargetSeries::requests`].
fn class_index(class: &str) -> usize {
    match class {
        "1xx" => 0,
        "2xx" => 1,
        "3xx" => 2,
        "4xx" => 3,
        "5xx" => 4,
        _ => 5,
    }
}

impl Default for PrometheusMetrics {
    fn default() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&SECONDS_BUCKETS)
            .expect("constant buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            for family in FAMILIES {
                match family.kind {
                    Kind::Counter => metrics::describe_counter!(family.name, family.help),
                    Kind::Gauge => metrics::describe_gauge!(family.name, family.help),
                    Kind::Histogram => metrics::describe_histogram!(family.name, family.help),
                }
            }
        });
        Self {
            recorder,
            handle,
            series: Mutex::default(),
        }
    }
}

/// `value` if it is one of the first [`MAX_LABEL_VALUES`] seen, else [`OTHER`].
fn bounded(seen: &mut HashSet<String>, value: &str) -> String {
    bounded_str(seen, value).to_string()
}

/// [`bounded`] without a copy.
fn bounded_str<'a>(seen: &mut HashSet<String>, value: &'a str) -> &'a str {
    if seen.contains(value) {
        return value;
    }
    if seen.len() < MAX_LABEL_VALUES {
        seen.insert(value.to_string());
        return value;
    }
    OTHER
}

impl PrometheusMetrics {
    /// Counts finished requests.
    pub fn record_requests(&self, records: &[SharedRecord]) {
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let Series { seen, routes } = &mut *series;
        metrics::with_local_recorder(&self.recorder, || {
            // The series are looked up once per run of requests to the same route and target.
            for run in records.chunk_by(|a, b| a.route == b.route && a.target == b.target) {
                let route = run[0]
                    .route
                    .as_deref()
                    .map_or("(none)", |r| bounded_str(&mut seen.routes, r));
                let target = run[0]
                    .target
                    .as_deref()
                    .map_or("(none)", |t| bounded_str(&mut seen.targets, t));
                if !routes.contains_key(route) {
                    routes.insert(route.to_string(), RouteSeries::new(route));
                }
                let Some(route_series) = routes.get_mut(route) else {
                    continue;
                };
                if !route_series.targets.contains_key(target) {
                    let series = TargetSeries::new(route, target);
                    route_series.targets.insert(target.to_string(), series);
                }
                let Some(target_series) = route_series.targets.get_mut(target) else {
                    continue;
                };
                let mut by_class = [0u64; CLASSES.len()];
                let (mut bytes_in, mut bytes_out) = (0, 0);
                for record in run {
                    by_class[class_index(record.status_class())] += 1;
                    bytes_in += record.bytes_in;
                    bytes_out += record.bytes_out;
                    if let Some(upstream) = record.upstream_us {
                        target_series.upstream.record(upstream as f64 / 1e6);
                    }
                    route_series.duration.record(record.latency_us as f64 / 1e6);
                    if let Some(kind) = &record.error {
                        // Error kinds are a small fixed set named by the gateway.
                        match route_series.errors.get(kind.as_str()) {
                            Some(counter) => counter.increment(1),
                            None => {
                                let counter = metrics::counter!(names::REQUEST_ERRORS_TOTAL,
                                    "route" => route.to_string(), "kind" => kind.to_string());
                                counter.increment(1);
                                route_series.errors.insert(kind.to_string(), counter);
                            }
                        }
                    }
                }
                for (index, &count) in by_class.iter().enumerate() {
                    if count > 0 {
                        target_series.requests[index]
                            .get_or_insert_with(|| {
                                metrics::counter!(names::REQUESTS_TOTAL,
                                    "route" => route.to_string(), "target" => target.to_string(),
                                    "status_class" => CLASSES[index])
                            })
                            .increment(count);
                    }
                }
                route_series.bytes_in.increment(bytes_in);
                route_series.bytes_out.increment(bytes_out);
            }
            for record in records {
                if let Some(llm) = &record.llm {
                    let model = bounded(&mut seen.models, &llm.model);
                    metrics::counter!(names::LLM_REQUESTS_TOTAL, "model" => model.clone())
                        .increment(1);
                    metrics::counter!(names::LLM_TOKENS_TOTAL,
                        "model" => model.clone(), "direction" => "input")
                    .increment(llm.input_tokens.unwrap_or(0));
                    metrics::counter!(names::LLM_TOKENS_TOTAL,
                        "model" => model.clone(), "direction" => "output")
                    .increment(llm.output_tokens.unwrap_or(0));
                    if let Some(first) = llm.first_token_us {
                        metrics::histogram!(names::LLM_TIME_TO_FIRST_TOKEN_SECONDS,
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
                .series
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .seen
                .routes,
            route,
        );
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!(names::WEBSOCKET_SESSIONS_TOTAL, "route" => route).increment(1);
        });
    }

    /// Sets the gauges and per-target states, and compacts histogram buffers.
    pub fn set_gauges(&self, values: &GaugeValues, targets: &[TargetView]) {
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let seen = &mut series.seen;
        metrics::with_local_recorder(&self.recorder, || {
            metrics::gauge!(names::ACTIVE_CONNECTIONS).set(values.active_connections as f64);
            metrics::counter!(names::CONNECTIONS_REJECTED_TOTAL)
                .absolute(values.connections_rejected);
            metrics::gauge!(names::OPEN_WEBSOCKETS).set(values.open_websockets as f64);
            metrics::gauge!(names::UPTIME_SECONDS).set(values.uptime_secs as f64);
            metrics::gauge!(names::EVENTS_DROPPED).set(values.events_dropped as f64);
            metrics::counter!(names::PROXY_WORKER_RESTARTS_TOTAL)
                .absolute(values.proxy_worker_restarts);
            metrics::gauge!(names::HISTORY_ROWS_DROPPED).set(values.history_rows_dropped as f64);
            metrics::gauge!(names::HISTORY_HEALTHY)
                .set(f64::from(u8::from(values.history_healthy)));
            metrics::gauge!(names::PROCESS_CPU_PERCENT)
                .set(f64::from(values.system.process_cpu_percent));
            metrics::gauge!(names::PROCESS_RESIDENT_MEMORY_BYTES)
                .set(values.system.process_memory_bytes as f64);
            metrics::gauge!(names::HOST_CPU_PERCENT).set(f64::from(values.system.host_cpu_percent));
            metrics::gauge!(names::HOST_MEMORY_USED_BYTES)
                .set(values.system.host_memory_used_bytes as f64);
            for &(kind, count) in &values.tls_handshake_errors {
                metrics::counter!(names::TLS_HANDSHAKE_ERRORS_TOTAL, "kind" => kind)
                    .absolute(count);
            }
            for (name, expiry) in &values.certificate_expiry {
                metrics::gauge!(names::TLS_CERTIFICATE_EXPIRY_TIMESTAMP_SECONDS,
                    "name" => name.clone())
                .set(*expiry as f64);
            }
            metrics::gauge!(names::ALERT_EVALUATION_SECONDS)
                .set(values.alert_evaluation.as_secs_f64());
            for (rule, severity, firing) in &values.alerts_firing {
                metrics::gauge!(names::ALERTS_FIRING,
                    "rule" => rule.clone(), "severity" => severity.clone())
                .set(f64::from(u8::from(*firing)));
            }
            for target in targets {
                let labels = [
                    Label::new("route", bounded(&mut seen.routes, &target.route)),
                    Label::new("target", bounded(&mut seen.targets, &target.url)),
                ];
                metrics::gauge!(names::TARGET_HEALTHY, labels.iter())
                    .set(f64::from(u8::from(target.healthy)));
                metrics::gauge!(names::TARGET_IN_FLIGHT, labels.iter())
                    .set(f64::from(target.in_flight));
                let breaker = match target.breaker.as_str() {
                    "open" => 2.0,
                    "half_open" => 1.0,
                    _ => 0.0,
                };
                metrics::gauge!(names::TARGET_BREAKER_STATE, labels.iter()).set(breaker);
            }
        });
        drop(series);
        self.handle.run_upkeep();
    }

    /// The Prometheus text exposition of everything recorded.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::records::testing;
    use crate::views::RequestRecord;
    use chrono::Utc;

    fn record(route: &str, target: &str, status: u16) -> SharedRecord {
        SharedRecord::new(RequestRecord {
            route: Some(route.into()),
            target: Some(target.into()),
            status,
            error: (status >= 500).then(|| "upstream_5xx".into()),
            ..testing::request(0, Utc::now())
        })
    }

    /// The value of the sample line starting with `series`.
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
    }

    #[test]
    fn requests_are_counted_by_route_target_and_class() {
        let metrics = PrometheusMetrics::default();
        metrics.record_requests(&[
            record("api", "http://a", 200),
            record("api", "http://a", 200),
        ]);
        metrics.record_requests(&[
            record("api", "http://a", 503),
            record("api", "http://b", 200),
        ]);
        let text = metrics.render();
        let requests = |target: &str, class: &str| {
            let series = format!(
                "gatewatch_requests_total{{route=\"api\",target=\"{target}\",status_class=\"{class}\"}}"
            );
            sample(&text, &series)
        };
        assert_eq!(requests("http://a", "2xx"), Some(2.0));
        assert_eq!(requests("http://a", "5xx"), Some(1.0));
        assert_eq!(requests("http://b", "2xx"), Some(1.0));
        assert_eq!(
            sample(
                &text,
                "gatewatch_request_errors_total{route=\"api\",kind=\"upstream_5xx\"}"
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "gatewatch_response_bytes_total{route=\"api\"}"),
            Some(400.0),
            "four answers of 100 bytes"
        );
        assert_eq!(
            sample(
                &text,
                "gatewatch_request_duration_seconds_count{route=\"api\"}"
            ),
            Some(4.0)
        );
    }

    #[test]
    fn every_family_recorded_has_its_help_and_type() {
        let metrics = PrometheusMetrics::default();
        metrics.record_requests(&[record("api", "http://a", 503)]);
        metrics.set_gauges(&GaugeValues::default(), &[]);
        let text = metrics.render();
        let families: HashSet<&str> = text
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| line.split(['{', ' ']).next())
            .map(|series| {
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| series.strip_suffix(suffix))
                    .unwrap_or(series)
            })
            .collect();
        assert!(families.len() >= 15, "{families:?}");
        for name in families {
            let family = FAMILIES
                .iter()
                .find(|family| family.name == name)
                .unwrap_or_else(|| panic!("{name} is not in metric_names"));
            assert!(
                text.contains(&format!("# HELP {name} {}", family.help)),
                "{name} has no HELP line"
            );
        }
    }

    #[test]
    fn tls_handshake_errors_and_certificate_expiry_are_exported() {
        let metrics = PrometheusMetrics::default();
        let values = GaugeValues {
            tls_handshake_errors: vec![("timeout", 2), ("protocol", 0)],
            certificate_expiry: vec![("a.test".into(), 1_900_000_000)],
            ..GaugeValues::default()
        };
        metrics.set_gauges(&values, &[]);
        let text = metrics.render();
        assert_eq!(
            sample(
                &text,
                "gatewatch_tls_handshake_errors_total{kind=\"timeout\"}"
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &text,
                "gatewatch_tls_certificate_expiry_timestamp_seconds{name=\"a.test\"}"
            ),
            Some(1_900_000_000.0)
        );
    }

    #[test]
    fn route_labels_beyond_the_bound_are_other() {
        let metrics = PrometheusMetrics::default();
        let records: Vec<_> = (0..MAX_LABEL_VALUES + 20)
            .map(|i| record(&format!("route-{i}"), "http://a", 200))
            .collect();
        metrics.record_requests(&records);
        let text = metrics.render();
        let routes: HashSet<&str> = text
            .lines()
            .filter(|line| line.starts_with("gatewatch_requests_total{"))
            .filter_map(|line| line.split("route=\"").nth(1)?.split('"').next())
            .collect();
        assert_eq!(routes.len(), MAX_LABEL_VALUES + 1);
        let other = format!(
            "gatewatch_requests_total{{route=\"{OTHER}\",target=\"http://a\",status_class=\"2xx\"}}"
        );
        assert_eq!(sample(&text, &other), Some(20.0));
    }
}
