//! Running totals since start: overall, per route, per target and per model, each with its HDR
//! latency histograms. Every map is bounded: past [`MAX_KEYS`] distinct keys, new ones are counted
//! under [`OTHER`] (models come from upstream answers, so their names are not ours to trust).

use crate::server::records::histogram::{LatencyHistogram, Percentiles};
use crate::views::{LatencyPercentiles, ModelView, RequestRecord, StatusClasses, TrafficStats};
use foldhash::HashMap;
use std::borrow::Borrow;
use std::collections::BTreeMap;

/// Most distinct keys per map (routes, targets, models, targets per model).
pub const MAX_KEYS: usize = 256;
/// The key overflowing entries are counted under.
pub const OTHER: &str = "(other)";

/// Seconds the recent request and error rates are taken over.
pub const RATE_SECONDS: usize = 10;

/// Requests and errors in each of the last [`RATE_SECONDS`] closed seconds, and in the second
/// still open: the recent rate of some traffic, in fixed space.
#[derive(Clone, Debug, Default)]
pub struct RecentRate {
    /// (requests, errors) of closed seconds; `closed[next]` is the oldest once all are filled.
    closed: [(u64, u64); RATE_SECONDS],
    next: usize,
    filled: usize,
    open: (u64, u64),
}

impl RecentRate {
    fn add(&mut self, error: bool) {
        self.open.0 += 1;
        self.open.1 += u64::from(error);
    }

    /// Closes the open second.
    pub fn close_second(&mut self) {
        self.closed[self.next] = std::mem::take(&mut self.open);
        self.next = (self.next + 1) % RATE_SECONDS;
        self.filled = (self.filled + 1).min(RATE_SECONDS);
    }

    /// Requests per second and error share over the closed seconds (at most [`RATE_SECONDS`]).
    pub fn rates(&self) -> (f64, f64) {
        if self.filled == 0 {
            return (0.0, 0.0);
        }
        let (requests, errors) = self
            .closed
            .iter()
            .fold((0, 0), |(r, e), (sr, se)| (r + sr, e + se));
        let error_rate = if requests == 0 {
            0.0
        } else {
            errors as f64 / requests as f64
        };
        (requests as f64 / self.filled as f64, error_rate)
    }
}

/// Counts and latency of some traffic.
#[derive(Clone, Debug, Default)]
pub struct Traffic {
    pub rate: RecentRate,
    pub requests: u64,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub status: StatusClasses,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub latency: LatencyHistogram,
    pub upstream_latency: LatencyHistogram,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Traffic {
    /// Counts one request.
    pub fn add(&mut self, record: &RequestRecord) {
        self.requests += 1;
        self.rate.add(record.error.is_some());
        if let Some(kind) = &record.error {
            self.errors += 1;
            // Error kinds are a fixed, small set named by the gateway: copied once each.
            match self.errors_by_kind.get_mut(kind.as_str()) {
                Some(count) => *count += 1,
                None => {
                    self.errors_by_kind.insert(kind.to_string(), 1);
                }
            }
        }
        self.status.count(record.status);
        self.bytes_in += record.bytes_in;
        self.bytes_out += record.bytes_out;
        self.latency.record(record.latency_us);
        if let Some(upstream) = record.upstream_us {
            self.upstream_latency.record(upstream);
        }
        if let Some(llm) = &record.llm {
            self.input_tokens += llm.input_tokens.unwrap_or(0);
            self.output_tokens += llm.output_tokens.unwrap_or(0);
        }
    }

    /// The API's view.
    pub fn view(&self) -> TrafficStats {
        let (rps, error_rate) = self.rate.rates();
        TrafficStats {
            rps,
            error_rate,
            requests: self.requests,
            errors: self.errors,
            errors_by_kind: self.errors_by_kind.clone(),
            status: self.status,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            latency: percentiles(&self.latency),
            upstream_latency: percentiles(&self.upstream_latency),
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
        }
    }
}

/// The view of a histogram's percentiles.
pub fn percentiles(histogram: &LatencyHistogram) -> LatencyPercentiles {
    let Percentiles {
        p50_us,
        p95_us,
        p99_us,
        max_us,
    } = histogram.percentiles();
    LatencyPercentiles {
        p50_us,
        p95_us,
        p99_us,
        max_us,
    }
}

/// One model's traffic.
#[derive(Clone, Debug, Default)]
pub struct ModelTraffic {
    pub requests: u64,
    pub streamed: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Output tokens and the response time they took, over requests that reported output tokens.
    pub rated_output_tokens: u64,
    pub rated_micros: u64,
    pub latency: LatencyHistogram,
    pub first_token: LatencyHistogram,
    pub targets: HashMap<String, u64>,
}

impl ModelTraffic {
    fn add(&mut self, record: &RequestRecord) {
        let Some(llm) = &record.llm else { return };
        self.requests += 1;
        self.streamed += u64::from(llm.streamed);
        self.errors += u64::from(record.error.is_some());
        self.input_tokens += llm.input_tokens.unwrap_or(0);
        if let Some(output) = llm.output_tokens {
            self.output_tokens += output;
            self.rated_output_tokens += output;
            self.rated_micros += record.latency_us;
        }
        self.latency.record(record.latency_us);
        if let Some(first) = llm.first_token_us {
            self.first_token.record(first);
        }
        if let Some(target) = &record.target {
            *bounded_entry(&mut self.targets, target) += 1;
        }
    }

    /// The API's view of model `name`.
    pub fn view(&self, name: &str) -> ModelView {
        ModelView {
            model: name.to_string(),
            requests: self.requests,
            streamed_requests: self.streamed,
            errors: self.errors,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            output_tokens_per_sec: if self.rated_micros == 0 {
                0.0
            } else {
                self.rated_output_tokens as f64 * 1e6 / self.rated_micros as f64
            },
            latency: percentiles(&self.latency),
            first_token: percentiles(&self.first_token),
            targets: self
                .targets
                .iter()
                .map(|(target, count)| (target.clone(), *count))
                .collect(),
        }
    }
}

/// Totals since start, overall and broken down.
#[derive(Debug, Default)]
pub struct Aggregates {
    pub total: Traffic,
    pub routes: HashMap<String, Traffic>,
    /// By route, then target URL: the same URL may serve several routes.
    targets: HashMap<String, HashMap<String, Traffic>>,
    /// Entries in `targets`, all routes together.
    target_count: usize,
    pub models: HashMap<String, ModelTraffic>,
}

impl Aggregates {
    /// Counts one request everywhere it belongs.
    pub fn add(&mut self, record: &RequestRecord) {
        self.add_all(std::slice::from_ref(record));
    }

    /// Counts a batch of requests. A route's (and a target's) entry is looked up once per run of
    /// consecutive requests to it, not once per request.
    pub fn add_all<R: Borrow<RequestRecord>>(&mut self, records: &[R]) {
        for route_run in records.chunk_by(|a, b| a.borrow().route == b.borrow().route) {
            for record in route_run {
                self.total.add(record.borrow());
            }
            let Some(route) = &route_run[0].borrow().route else {
                continue;
            };
            let traffic = bounded_entry(&mut self.routes, route);
            for record in route_run {
                traffic.add(record.borrow());
            }
            for target_run in route_run.chunk_by(|a, b| a.borrow().target == b.borrow().target) {
                let Some(target) = &target_run[0].borrow().target else {
                    continue;
                };
                let traffic = self.target_entry(route, target);
                for record in target_run {
                    traffic.add(record.borrow());
                }
            }
        }
        for record in records {
            let record = record.borrow();
            if let Some(llm) = &record.llm {
                bounded_entry(&mut self.models, &llm.model).add(record);
            }
        }
    }

    /// Closes the current second of every recent rate.
    pub fn close_second(&mut self) {
        self.total.rate.close_second();
        for traffic in self.routes.values_mut() {
            traffic.rate.close_second();
        }
        for traffic in self.targets.values_mut().flat_map(|t| t.values_mut()) {
            traffic.rate.close_second();
        }
    }

    /// The traffic of `target` on `route`.
    pub fn target(&self, route: &str, target: &str) -> Option<&Traffic> {
        self.targets.get(route)?.get(target)
    }

    /// The entry for `target` on `route`, or for [`OTHER`] on that route once there are
    /// `MAX_KEYS * 4` targets in all. Allocates only for a new entry.
    fn target_entry(&mut self, route: &str, target: &str) -> &mut Traffic {
        let room = self.target_count < MAX_KEYS * 4;
        let targets = bounded_entry(&mut self.targets, route);
        let key = if room || targets.contains_key(target) {
            target
        } else {
            OTHER
        };
        if !targets.contains_key(key) {
            self.target_count += 1;
            targets.insert(key.to_string(), Traffic::default());
        }
        targets.get_mut(key).expect("inserted above")
    }

    /// The models seen, by name.
    pub fn model_views(&self) -> Vec<ModelView> {
        let mut views: Vec<_> = self
            .models
            .iter()
            .map(|(name, traffic)| traffic.view(name))
            .collect();
        views.sort_by(|a, b| a.model.cmp(&b.model));
        views
    }
}

/// The entry for `key`, or for [`OTHER`] once `map` holds [`MAX_KEYS`] other keys.
/// Allocates only for a new key.
fn bounded_entry<'a, V: Default>(map: &'a mut HashMap<String, V>, key: &str) -> &'a mut V {
    let key = if map.contains_key(key) || map.len() < MAX_KEYS {
        key
    } else {
        OTHER
    };
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::LlmUsage;
    use chrono::Utc;

    fn record(route: &str, target: &str, status: u16, latency_us: u64) -> RequestRecord {
        RequestRecord {
            seq: 0,
            request_id: "r".into(),
            at: Utc::now(),
            method: "GET".into(),
            path: "/".into(),
            route: Some(route.into()),
            target: Some(target.into()),
            status,
            latency_us,
            upstream_us: Some(latency_us / 2),
            bytes_in: 10,
            bytes_out: 100,
            client: "127.0.0.1".into(),
            user_agent: None,
            error: (status >= 500).then(|| "upstream_5xx".into()),
            attempts: 1,
            llm: None,
        }
    }

    #[test]
    fn a_batch_counts_as_its_requests_one_by_one() {
        let mut batch: Vec<RequestRecord> = [
            ("api", "http://a", 200),
            ("api", "http://a", 503),
            ("api", "http://b", 200),
            ("web", "http://a", 404),
            ("api", "http://a", 200),
            ("api", "http://b", 200),
            ("api", "http://b", 200),
        ]
        .iter()
        .enumerate()
        .map(|(i, (route, target, status))| record(route, target, *status, 100 * i as u64))
        .collect();
        batch.push(RequestRecord {
            route: None,
            target: None,
            ..record("", "", 404, 5)
        });
        batch.push(RequestRecord {
            target: None,
            ..record("api", "", 429, 7)
        });
        let (mut together, mut one_by_one) = (Aggregates::default(), Aggregates::default());
        together.add_all(&batch);
        for record in &batch {
            one_by_one.add(record);
        }
        assert_eq!(together.total.view(), one_by_one.total.view());
        assert_eq!(together.total.requests, 9);
        for route in ["api", "web"] {
            assert_eq!(
                together.routes[route].view(),
                one_by_one.routes[route].view()
            );
        }
        assert_eq!(together.routes["api"].requests, 7);
        for (route, target, requests) in [("api", "http://a", 3), ("api", "http://b", 3)] {
            let traffic = together.target(route, target).unwrap();
            assert_eq!(traffic.requests, requests);
            assert_eq!(
                traffic.view(),
                one_by_one.target(route, target).unwrap().view()
            );
        }
    }

    #[test]
    fn totals_break_down_by_route_target_and_status() {
        let mut aggregates = Aggregates::default();
        for i in 0..10 {
            aggregates.add(&record("api", "http://a", 200, 1_000 + i));
        }
        aggregates.add(&record("api", "http://b", 503, 5_000));
        aggregates.add(&record("web", "http://a", 404, 300));
        let total = aggregates.total.view();
        assert_eq!(total.requests, 12);
        assert_eq!(total.errors, 1);
        assert_eq!(total.errors_by_kind.get("upstream_5xx"), Some(&1));
        assert_eq!(
            (
                total.status.success,
                total.status.client_error,
                total.status.server_error
            ),
            (10, 1, 1)
        );
        assert_eq!(total.bytes_out, 1_200);
        assert_eq!(aggregates.routes["api"].requests, 11);
        assert_eq!(aggregates.routes["web"].requests, 1);
        let api_a = aggregates.target("api", "http://a").unwrap();
        assert_eq!(api_a.requests, 10);
        assert!(api_a.latency.percentiles().max_us >= 1_009);
        assert_eq!(
            aggregates.target("web", "http://a").unwrap().requests,
            1,
            "the same URL under another route is its own target"
        );
    }

    #[test]
    fn recent_rates_cover_the_last_closed_seconds() {
        let mut aggregates = Aggregates::default();
        assert_eq!(
            aggregates.total.rate.rates(),
            (0.0, 0.0),
            "nothing closed yet"
        );
        for _ in 0..4 {
            aggregates.add(&record("api", "http://a", 200, 10));
        }
        aggregates.add(&record("api", "http://b", 503, 10));
        aggregates.close_second();
        assert_eq!(aggregates.routes["api"].rate.rates(), (5.0, 0.2));
        assert_eq!(
            aggregates.target("api", "http://b").unwrap().rate.rates(),
            (1.0, 1.0)
        );
        aggregates.close_second();
        assert_eq!(
            aggregates.routes["api"].rate.rates(),
            (2.5, 0.2),
            "5 requests over 2 s"
        );
        // The open second is not counted until it closes.
        aggregates.add(&record("api", "http://a", 200, 10));
        assert_eq!(aggregates.routes["api"].rate.rates(), (2.5, 0.2));
        // RATE_SECONDS closes later the first two seconds have left the window: only the one
        // request of the third is left.
        for _ in 0..RATE_SECONDS {
            aggregates.close_second();
        }
        let view = aggregates.routes["api"].view();
        assert_eq!((view.rps, view.error_rate), (0.1, 0.0));
    }

    #[test]
    fn models_count_tokens_rate_and_first_token() {
        let mut aggregates = Aggregates::default();
        for (model, streamed, output) in [
            ("gpt-x", true, 50),
            ("gpt-x", false, 150),
            ("claude", true, 10),
        ] {
            let mut r = record("llm", "http://a", 200, 1_000_000);
            r.llm = Some(LlmUsage {
                model: model.into(),
                input_tokens: Some(7),
                output_tokens: Some(output),
                streamed,
                first_token_us: streamed.then_some(200_000),
            });
            aggregates.add(&r);
        }
        let views = aggregates.model_views();
        assert_eq!(views.len(), 2);
        let gpt = views.iter().find(|v| v.model == "gpt-x").unwrap();
        assert_eq!((gpt.requests, gpt.streamed_requests), (2, 1));
        assert_eq!((gpt.input_tokens, gpt.output_tokens), (14, 200));
        assert!(
            (gpt.output_tokens_per_sec - 100.0).abs() < 1e-9,
            "200 tokens in 2 s"
        );
        assert!(gpt.first_token.p50_us.abs_diff(200_000) <= 2_000);
        assert_eq!(gpt.targets.get("http://a"), Some(&2));
        assert_eq!(aggregates.total.output_tokens, 210);
    }

    #[test]
    fn distinct_keys_are_bounded() {
        let mut aggregates = Aggregates::default();
        for i in 0..(MAX_KEYS + 50) {
            let mut r = record("llm", "http://a", 200, 10);
            r.llm = Some(LlmUsage {
                model: format!("model-{i}"),
                ..LlmUsage::default()
            });
            aggregates.add(&r);
        }
        assert_eq!(aggregates.models.len(), MAX_KEYS + 1);
        assert_eq!(aggregates.models[OTHER].requests, 50);

        let mut aggregates = Aggregates::default();
        let targets = MAX_KEYS * 4;
        for i in 0..(targets + 10) {
            aggregates.add(&record("many", &format!("http://t{i}"), 200, 10));
        }
        assert_eq!(aggregates.target_count, targets + 1);
        assert_eq!(aggregates.target("many", OTHER).unwrap().requests, 10);
        assert_eq!(aggregates.target("many", "http://t0").unwrap().requests, 1);
        // Known targets keep counting under their own name.
        aggregates.add(&record("many", "http://t0", 200, 10));
        assert_eq!(aggregates.target("many", "http://t0").unwrap().requests, 2);
    }
}
