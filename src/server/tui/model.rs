//! What the terminal dashboard knows about the gateway: loaded whole from a [`Snapshot`] (the
//! admin API's answers, or the same snapshots taken in process) and kept current by every
//! [`LiveEvent`]. Pure state: no I/O, no clock but the events' own.

use crate::views::{
    AlertState, AlertView, ConfigReload, LiveEvent, LogLine, MetricsSnapshot, ModelView,
    RequestRecord, RouteView, SeriesPoint, SystemStats,
};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, VecDeque};

/// Seconds of the per-second series kept (what the charts show): 15 minutes.
pub const SERIES_SECONDS: usize = 15 * 60;
/// Log lines kept (as many as the gateway's own ring).
pub const LOG_LINES: usize = 2_000;
/// Finished requests kept for the live tail.
pub const TAIL_REQUESTS: usize = 1_000;
/// Seconds over which rates (requests/s, errors by kind, tokens/s) are taken.
pub const RATE_WINDOW_SECS: usize = 10;

/// Everything the dashboard starts from, as the admin API answers it.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// `/api/metrics`.
    pub metrics: MetricsSnapshot,
    /// `/api/routes`.
    pub routes: Vec<RouteView>,
    /// `/api/models`.
    pub models: Vec<ModelView>,
    /// `/api/logs`: the newest lines, newest first.
    pub logs: Vec<LogLine>,
    /// `/api/alerts`: every rule and its state.
    pub alerts: Vec<AlertView>,
}

/// Whether the figures are live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    /// Connected and receiving (in process: always).
    Live,
    /// Connecting (again); `attempt` counts from 1.
    Connecting {
        attempt: u32,
        reason: Option<String>,
    },
}

/// A running total sampled once a second, for rates over the last [`RATE_WINDOW_SECS`].
#[derive(Clone, Debug, Default)]
struct Samples<T> {
    samples: VecDeque<(DateTime<Utc>, T)>,
}

impl<T: Clone> Samples<T> {
    fn push(&mut self, at: DateTime<Utc>, value: T) {
        if self.samples.back().is_some_and(|(last, _)| *last >= at) {
            return;
        }
        self.samples.push_back((at, value));
        while self.samples.len() > RATE_WINDOW_SECS + 1 {
            self.samples.pop_front();
        }
    }

    /// The oldest and newest samples and the seconds between them.
    fn span(&self) -> Option<(&T, &T, f64)> {
        let (first_at, first) = self.samples.front()?;
        let (last_at, last) = self.samples.back()?;
        let secs = (*last_at - *first_at).num_milliseconds() as f64 / 1e3;
        (secs > 0.0).then_some((first, last, secs))
    }

    fn clear(&mut self) {
        self.samples.clear();
    }
}

/// One kind of error: how many so far and how many per second lately.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorKind {
    pub kind: String,
    pub total: u64,
    pub per_sec: f64,
}

/// Input and output tokens: totals and per second lately.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub input_per_sec: f64,
    pub output_per_sec: f64,
}

/// The dashboard's state.
#[derive(Clone, Debug)]
pub struct Model {
    /// Where the figures come from (`in process …`, `attached to …`).
    pub source: String,
    pub link: Link,
    pub started_at: Option<DateTime<Utc>>,
    pub uptime_secs: u64,
    pub last_reload: Option<ConfigReload>,
    /// The per-second series, oldest first.
    pub series: VecDeque<SeriesPoint>,
    pub requests_total: u64,
    pub errors_total: u64,
    pub in_flight_requests: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    error_samples: Samples<BTreeMap<String, u64>>,
    /// The host (memory total, cores) and the process as last sampled.
    pub system: SystemStats,
    pub routes: Vec<RouteView>,
    pub models: Vec<ModelView>,
    token_samples: Samples<(u64, u64)>,
    /// The gateway's log, oldest first.
    pub logs: VecDeque<LogLine>,
    /// Finished requests, oldest first.
    pub requests: VecDeque<RequestRecord>,
    /// Requests left out of the live batches (the gateway sends the newest of each batch).
    pub requests_omitted: u64,
    /// Alerts firing now, by rule name.
    pub firing_alerts: std::collections::BTreeSet<String>,
    /// Whether anything was loaded yet.
    pub loaded: bool,
}

impl Model {
    /// An empty model; `source` says where its figures will come from.
    pub fn new(source: String, link: Link) -> Self {
        Self {
            source,
            link,
            started_at: None,
            uptime_secs: 0,
            last_reload: None,
            series: VecDeque::with_capacity(SERIES_SECONDS),
            requests_total: 0,
            errors_total: 0,
            in_flight_requests: 0,
            errors_by_kind: BTreeMap::new(),
            error_samples: Samples::default(),
            system: SystemStats::default(),
            routes: Vec::new(),
            models: Vec::new(),
            token_samples: Samples::default(),
            logs: VecDeque::with_capacity(LOG_LINES),
            requests: VecDeque::with_capacity(TAIL_REQUESTS),
            requests_omitted: 0,
            firing_alerts: Default::default(),
            loaded: false,
        }
    }

    /// Takes everything from `snapshot` (the log and the request tail are merged: lines and
    /// requests already known stay).
    pub fn load(&mut self, snapshot: Snapshot) {
        let Snapshot {
            metrics,
            routes,
            models,
            logs,
            alerts,
        } = snapshot;
        self.firing_alerts = alerts
            .into_iter()
            .filter(|alert| alert.state == AlertState::Firing)
            .map(|alert| alert.rule)
            .collect();
        self.started_at = Some(metrics.started_at);
        self.uptime_secs = metrics.uptime_secs;
        self.last_reload = metrics.last_reload;
        self.series = metrics
            .series
            .into_iter()
            .rev()
            .take(SERIES_SECONDS)
            .rev()
            .collect();
        self.requests_total = metrics.totals.requests;
        self.errors_total = metrics.totals.errors;
        self.in_flight_requests = metrics.in_flight_requests;
        self.errors_by_kind = metrics.totals.errors_by_kind;
        self.error_samples.clear();
        self.error_samples
            .push(metrics.generated_at, self.errors_by_kind.clone());
        self.system = metrics.system;
        self.routes = routes;
        self.token_samples.clear();
        self.set_models(models, metrics.generated_at);
        for line in logs.into_iter().rev() {
            self.push_log(line);
        }
        self.loaded = true;
    }

    /// Applies one live event.
    pub fn apply(&mut self, event: LiveEvent) {
        match event {
            LiveEvent::Tick(tick) => self.uptime_secs = tick.uptime_secs,
            LiveEvent::ConfigReload(reload) => self.last_reload = Some(reload),
            LiveEvent::Metrics(tick) => {
                let at = tick.point.at;
                if self.series.back().is_none_or(|last| last.at < at) {
                    if self.series.len() == SERIES_SECONDS {
                        self.series.pop_front();
                    }
                    if let Some(sample) = &tick.point.sample {
                        self.system.process_cpu_percent = sample.process_cpu_percent;
                        self.system.process_memory_bytes = sample.process_memory_bytes;
                    }
                    self.series.push_back(tick.point);
                }
                self.uptime_secs = tick.uptime_secs;
                self.requests_total = tick.requests_total;
                self.errors_total = tick.errors_total;
                self.in_flight_requests = tick.in_flight_requests;
                self.errors_by_kind = tick.errors_by_kind;
                self.error_samples.push(at, self.errors_by_kind.clone());
            }
            LiveEvent::Requests(batch) => {
                self.requests_omitted += batch.omitted;
                for request in batch.requests {
                    if self
                        .requests
                        .back()
                        .is_some_and(|last| last.seq >= request.seq)
                    {
                        continue;
                    }
                    if self.requests.len() == TAIL_REQUESTS {
                        self.requests.pop_front();
                    }
                    self.requests.push_back(request);
                }
            }
            // The next routes tick carries the new state.
            LiveEvent::Transition(_) => {}
            LiveEvent::Alert(change) => match change.state {
                AlertState::Firing => {
                    self.firing_alerts.insert(change.rule);
                }
                AlertState::Resolved | AlertState::Inactive => {
                    self.firing_alerts.remove(&change.rule);
                }
                AlertState::Pending => {}
            },
            LiveEvent::Log(line) => self.push_log(line),
            LiveEvent::Routes(tick) => self.routes = tick.routes,
            LiveEvent::Models(tick) => {
                let at = self.series.back().map_or_else(Utc::now, |point| point.at);
                self.set_models(tick.models, at);
            }
        }
    }

    fn set_models(&mut self, models: Vec<ModelView>, at: DateTime<Utc>) {
        let totals = models.iter().fold((0, 0), |(input, output), model| {
            (input + model.input_tokens, output + model.output_tokens)
        });
        self.token_samples.push(at, totals);
        self.models = models;
    }

    fn push_log(&mut self, line: LogLine) {
        if self.logs.back().is_some_and(|last| last.seq >= line.seq) {
            return;
        }
        if self.logs.len() == LOG_LINES {
            self.logs.pop_front();
        }
        self.logs.push_back(line);
    }

    /// The last [`RATE_WINDOW_SECS`] seconds of the series.
    fn recent(&self) -> impl Iterator<Item = &SeriesPoint> {
        self.series
            .iter()
            .skip(self.series.len().saturating_sub(RATE_WINDOW_SECS))
    }

    /// Requests per second over the last ten seconds.
    pub fn rps(&self) -> f64 {
        let seconds = self.recent().count();
        if seconds == 0 {
            return 0.0;
        }
        self.recent().map(|point| point.requests).sum::<u64>() as f64 / seconds as f64
    }

    /// Share of the last ten seconds' requests that failed.
    pub fn error_rate(&self) -> f64 {
        let (requests, errors) = self.recent().fold((0, 0), |(requests, errors), point| {
            (requests + point.requests, errors + point.errors)
        });
        if requests == 0 {
            0.0
        } else {
            errors as f64 / requests as f64
        }
    }

    /// The newest second's gauges: client connections and WebSockets open.
    pub fn connections(&self) -> (u64, u64) {
        self.series
            .back()
            .and_then(|point| point.sample)
            .map_or((0, 0), |sample| {
                (sample.active_connections, sample.open_websockets)
            })
    }

    /// Errors by kind, most frequent first, with their rate over the last ten seconds.
    pub fn error_kinds(&self) -> Vec<ErrorKind> {
        let mut kinds: Vec<ErrorKind> = self
            .errors_by_kind
            .iter()
            .map(|(kind, &total)| {
                let per_sec = self.error_samples.span().map_or(0.0, |(first, _, secs)| {
                    total.saturating_sub(first.get(kind).copied().unwrap_or(0)) as f64 / secs
                });
                ErrorKind {
                    kind: kind.clone(),
                    total,
                    per_sec,
                }
            })
            .collect();
        kinds.sort_by(|a, b| b.total.cmp(&a.total).then(a.kind.cmp(&b.kind)));
        kinds
    }

    /// LLM tokens so far and per second lately.
    pub fn tokens(&self) -> Tokens {
        let (input, output) = self
            .token_samples
            .samples
            .back()
            .map_or((0, 0), |(_, totals)| *totals);
        let (input_per_sec, output_per_sec) =
            self.token_samples
                .span()
                .map_or((0.0, 0.0), |(first, last, secs)| {
                    (
                        last.0.saturating_sub(first.0) as f64 / secs,
                        last.1.saturating_sub(first.1) as f64 / secs,
                    )
                });
        Tokens {
            input,
            output,
            input_per_sec,
            output_per_sec,
        }
    }

    /// The process's memory as a share of the host's.
    pub fn memory_share(&self) -> f64 {
        if self.system.host_memory_total_bytes == 0 {
            0.0
        } else {
            self.system.process_memory_bytes as f64 / self.system.host_memory_total_bytes as f64
        }
    }
}

#[cfg(test)]
pub mod testing {
    //! Models with known figures, for the screens' tests.

    use super::*;
    use crate::views::{
        LatencyPercentiles, MetricsTick, RequestBatch, SecondSample, TargetView, TrafficStats,
    };

    /// A second of traffic at `second` (seconds after 2026-01-01T12:00:00Z).
    pub fn point(second: i64, requests: u64, errors: u64) -> SeriesPoint {
        SeriesPoint {
            at: crate::views::testing::at(second),
            requests,
            errors,
            p50_us: 1_250,
            p95_us: 8_400,
            p99_us: 23_000,
            sample: Some(SecondSample {
                bytes_in: 100,
                bytes_out: 2_000,
                active_connections: 37,
                open_websockets: 3,
                process_cpu_percent: 12.5,
                process_memory_bytes: 64 << 20,
            }),
        }
    }

    /// The metrics tick closing the second of `point` with these running totals.
    pub fn tick(
        point: SeriesPoint,
        requests_total: u64,
        errors_by_kind: &[(&str, u64)],
    ) -> LiveEvent {
        let errors_by_kind: BTreeMap<String, u64> = errors_by_kind
            .iter()
            .map(|(kind, count)| (kind.to_string(), *count))
            .collect();
        LiveEvent::Metrics(MetricsTick {
            uptime_secs: (point.at - crate::views::testing::at(0)).num_seconds() as u64 + 1,
            point,
            requests_total,
            errors_total: errors_by_kind.values().sum(),
            errors_by_kind,
            in_flight_requests: 0,
        })
    }

    /// A route with one healthy and one unhealthy target.
    pub fn route(name: &str, requests: u64) -> RouteView {
        let traffic = TrafficStats {
            rps: 42.5,
            error_rate: 0.02,
            requests,
            errors: requests / 50,
            latency: LatencyPercentiles {
                p50_us: 1_250,
                p95_us: 8_400,
                p99_us: 23_000,
                max_us: 40_000,
            },
            ..TrafficStats::default()
        };
        let target = |url: &str, healthy: bool| TargetView {
            route: name.to_string(),
            url: url.to_string(),
            weight: 1,
            healthy,
            breaker: if healthy { "closed" } else { "open" }.to_string(),
            in_flight: 2,
            consecutive_failures: u32::from(!healthy) * 3,
            last_check: Some(crate::views::testing::at(100)),
            last_error: (!healthy).then(|| "connection refused".to_string()),
            share: 0.5,
            traffic: traffic.clone(),
            transitions: Vec::new(),
        };
        RouteView {
            name: name.to_string(),
            path: format!("/{name}/*"),
            strategy: "round_robin".to_string(),
            tls_unverified: false,
            traffic: traffic.clone(),
            targets: vec![
                target("http://127.0.0.1:9001", true),
                target("http://127.0.0.1:9002", false),
            ],
            all_targets_down: false,
        }
    }

    /// A model with some traffic.
    pub fn model(name: &str, requests: u64) -> ModelView {
        ModelView {
            model: name.to_string(),
            requests,
            streamed_requests: requests / 2,
            errors: 1,
            input_tokens: requests * 100,
            output_tokens: requests * 40,
            output_tokens_per_sec: 55.5,
            latency: LatencyPercentiles {
                p50_us: 450_000,
                p95_us: 1_200_000,
                p99_us: 2_000_000,
                max_us: 3_000_000,
            },
            first_token: LatencyPercentiles {
                p50_us: 180_000,
                p95_us: 350_000,
                p99_us: 500_000,
                max_us: 600_000,
            },
            targets: BTreeMap::new(),
        }
    }

    /// A finished request.
    pub fn request(seq: u64, status: u16, route: &str) -> RequestRecord {
        RequestRecord {
            seq,
            request_id: format!("req-{seq}").into(),
            at: crate::views::testing::at(seq as i64),
            method: "GET".into(),
            path: format!("/{route}/items/{seq}").into(),
            route: Some(route.into()),
            target: Some("http://127.0.0.1:9001".into()),
            status,
            latency_us: 2_500,
            upstream_us: Some(2_000),
            bytes_in: 0,
            bytes_out: 512,
            client: "127.0.0.1".into(),
            user_agent: None,
            error: (status >= 500).then(|| "upstream_5xx".into()),
            attempts: 1,
            llm: None,
        }
    }

    /// A model of a gateway that served `routes` and `models` for a minute.
    pub fn busy(routes: &[&str], models: &[&str]) -> Model {
        let mut busy = Model::new("in process".to_string(), Link::Live);
        busy.load(Snapshot {
            metrics: MetricsSnapshot {
                generated_at: crate::views::testing::at(60),
                started_at: crate::views::testing::at(0),
                uptime_secs: 60,
                active_connections: 37,
                open_websockets: 3,
                in_flight_requests: 4,
                websocket_sessions: 5,
                rps: 0.0,
                error_rate: 0.0,
                totals: TrafficStats {
                    requests: 98_765,
                    errors: 321,
                    errors_by_kind: BTreeMap::from([
                        ("timeout".to_string(), 300),
                        ("connect".to_string(), 21),
                    ]),
                    ..TrafficStats::default()
                },
                system: SystemStats {
                    process_cpu_percent: 12.5,
                    process_memory_bytes: 64 << 20,
                    host_cpu_percent: 30.0,
                    host_memory_used_bytes: 8 << 30,
                    host_memory_total_bytes: 16 << 30,
                    cpu_cores: 2,
                },
                events_dropped: 0,
                series: (0..60).map(|s| point(s, 1_234, 12)).collect(),
                last_reload: None,
            },
            routes: routes
                .iter()
                .enumerate()
                .map(|(i, name)| route(name, 10_000 + i as u64 * 1_111))
                .collect(),
            models: models
                .iter()
                .enumerate()
                .map(|(i, name)| model(name, 300 + i as u64))
                .collect(),
            logs: vec![LogLine {
                seq: 1,
                at: crate::views::testing::at(1),
                level: "INFO".to_string(),
                target: "gatewatch".to_string(),
                message: "config applied routes=3".to_string(),
            }],
            alerts: Vec::new(),
        });
        busy.apply(tick(
            point(60, 1_234, 12),
            100_000,
            &[("timeout", 310), ("connect", 23)],
        ));
        busy.apply(LiveEvent::Requests(RequestBatch {
            requests: vec![
                request(1, 200, routes.first().copied().unwrap_or("api")),
                request(2, 404, routes.first().copied().unwrap_or("api")),
                request(3, 502, routes.first().copied().unwrap_or("api")),
            ],
            omitted: 0,
        }));
        busy
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::views::{ModelsTick, RequestBatch};

    #[test]
    fn rates_come_from_the_last_ten_seconds() {
        let model = busy(&["api"], &[]);
        assert_eq!(model.rps(), 1_234.0);
        assert!((model.error_rate() - 12.0 / 1_234.0).abs() < 1e-9);
        assert_eq!(model.connections(), (37, 3));
        assert_eq!(model.series.len(), 61);
    }

    #[test]
    fn error_kinds_have_totals_and_rates() {
        let model = busy(&["api"], &[]);
        // 300 → 310 timeouts and 21 → 23 connect errors between the snapshot (second 60) and
        // the tick for second 60 … which is the same instant: no span yet, so no rate.
        let kinds = model.error_kinds();
        assert_eq!(kinds[0].kind, "timeout");
        assert_eq!(kinds[0].total, 310);
        let mut model = model;
        model.apply(tick(
            point(62, 10, 0),
            100_010,
            &[("timeout", 320), ("connect", 23)],
        ));
        let kinds = model.error_kinds();
        // 300 at second 60 (the snapshot), 320 at second 62: 10/s.
        assert_eq!(kinds[0].total, 320);
        assert!((kinds[0].per_sec - 10.0).abs() < 1e-9);
    }

    #[test]
    fn the_series_keeps_fifteen_minutes_and_skips_repeats() {
        let mut model = Model::new("test".to_string(), Link::Live);
        for second in 0..(SERIES_SECONDS as i64 + 5) {
            model.apply(tick(point(second, 1, 0), second as u64, &[]));
        }
        // The same second again (a reconnect's snapshot overlapping the ticks) is not doubled.
        model.apply(tick(point(SERIES_SECONDS as i64 + 4, 1, 0), 0, &[]));
        assert_eq!(model.series.len(), SERIES_SECONDS);
        assert_eq!(
            model.series.front().unwrap().at,
            crate::views::testing::at(5)
        );
    }

    #[test]
    fn tokens_per_second_follow_the_models_ticks() {
        let mut model = busy(&[], &["gpt-4o"]);
        let before = model.tokens();
        assert_eq!(before.input, 30_000);
        let mut grown = super::testing::model("gpt-4o", 300);
        grown.input_tokens += 2_000;
        grown.output_tokens += 1_000;
        // The models tick is stamped with the newest second of the series.
        model.apply(tick(point(62, 1, 0), 1, &[]));
        model.apply(LiveEvent::Models(ModelsTick {
            models: vec![grown],
        }));
        let after = model.tokens();
        assert_eq!(after.input, 32_000);
        assert!((after.input_per_sec - 1_000.0).abs() < 1e-9);
        assert!((after.output_per_sec - 500.0).abs() < 1e-9);
    }

    #[test]
    fn the_log_and_the_tail_are_bounded_and_never_doubled() {
        let mut model = busy(&["api"], &[]);
        let line = model.logs.back().unwrap().clone();
        model.apply(LiveEvent::Log(line));
        assert_eq!(model.logs.len(), 1);
        model.apply(LiveEvent::Requests(RequestBatch {
            requests: vec![request(3, 200, "api"), request(4, 200, "api")],
            omitted: 2,
        }));
        assert_eq!(
            model.requests.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert_eq!(model.requests_omitted, 2);
        for seq in 5..(TAIL_REQUESTS as u64 + 10) {
            model.apply(LiveEvent::Requests(RequestBatch {
                requests: vec![request(seq, 200, "api")],
                omitted: 0,
            }));
        }
        assert_eq!(model.requests.len(), TAIL_REQUESTS);
    }
}
