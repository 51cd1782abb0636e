//! The recent seconds of the scopes alert rules watch: per second, requests, errors, 5xx
//! answers, rate-limited requests, LLM tokens and a compact latency histogram. The metrics
//! engine feeds it as it counts requests and closes it each second; the evaluator reads sums and
//! percentiles over any window up to the longest a rule asks of the scope.
//!
//! Only watched scopes are kept, each for as many seconds as its longest window, so the cost is
//! nothing without rules and grows with the rules, not with the traffic's variety. A second's
//! latencies are kept sparsely (one entry per bucket used); the buckets are log-linear, eight to
//! a doubling, so a percentile is within about 6 % of the exact value — plenty for a threshold.
//! Each window a rule asks for is kept summed as seconds close (the newest second added, the one
//! leaving subtracted), so reading a value costs the same for an hour's window as for a
//! second's: a scan of the buckets for a percentile, nothing for a count.

use crate::server::config::AlertScope;
use crate::views::RequestRecord;
use foldhash::HashMap;
use std::collections::VecDeque;

/// Latencies below this many microseconds have a bucket each.
const EXACT_BELOW: u64 = 16;
/// Sub-buckets per doubling above [`EXACT_BELOW`].
const PER_DOUBLING: u64 = 8;
/// The largest latency told apart (longer ones share the last bucket): 2^36 µs, 19 hours.
const MAX_US: u64 = (1 << 36) - 1;
/// Buckets in all.
pub const BUCKETS: usize = (EXACT_BELOW + (36 - 4) * PER_DOUBLING) as usize;

/// The bucket of a latency in microseconds.
fn bucket(micros: u64) -> usize {
    let micros = micros.min(MAX_US);
    if micros < EXACT_BELOW {
        return micros as usize;
    }
    let exponent = 63 - u64::from(micros.leading_zeros());
    let sub = (micros >> (exponent - 3)) & (PER_DOUBLING - 1);
    (EXACT_BELOW + (exponent - 4) * PER_DOUBLING + sub) as usize
}

/// The value a bucket stands for: its middle, in microseconds.
fn bucket_value(index: usize) -> u64 {
    let index = index as u64;
    if index < EXACT_BELOW {
        return index;
    }
    let exponent = (index - EXACT_BELOW) / PER_DOUBLING + 4;
    let sub = (index - EXACT_BELOW) % PER_DOUBLING;
    let width = 1u64 << (exponent - 3);
    ((PER_DOUBLING + sub) << (exponent - 3)) + width / 2
}

/// Counts of one second (closed).
#[derive(Clone, Debug, Default)]
struct Second {
    counts: Counts,
    /// (bucket, requests), by bucket.
    latency: Vec<(u16, u32)>,
}

/// What is summed over a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub requests: u64,
    pub errors: u64,
    pub server_errors: u64,
    pub rate_limited: u64,
    pub tokens: u64,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.server_errors += other.server_errors;
        self.rate_limited += other.rate_limited;
        self.tokens += other.tokens;
    }

    fn subtract(&mut self, other: &Counts) {
        self.requests -= other.requests;
        self.errors -= other.errors;
        self.server_errors -= other.server_errors;
        self.rate_limited -= other.rate_limited;
        self.tokens -= other.tokens;
    }
}

/// The newest `seconds` closed seconds of a scope, summed.
#[derive(Debug)]
struct Running {
    seconds: usize,
    counts: Counts,
    latency: Box<[u64; BUCKETS]>,
}

impl Running {
    fn new(seconds: usize) -> Self {
        Self {
            seconds,
            counts: Counts::default(),
            latency: Box::new([0; BUCKETS]),
        }
    }

    fn add(&mut self, second: &Second) {
        self.counts.add(&second.counts);
        for &(index, count) in &second.latency {
            self.latency[usize::from(index)] += u64::from(count);
        }
    }

    fn subtract(&mut self, second: &Second) {
        self.counts.subtract(&second.counts);
        for &(index, count) in &second.latency {
            self.latency[usize::from(index)] -= u64::from(count);
        }
    }
}

/// One watched scope.
#[derive(Debug)]
struct Watch {
    scope: AlertScope,
    /// Seconds kept (the longest window of its rules).
    keep: usize,
    /// Closed seconds, oldest first.
    closed: VecDeque<Second>,
    /// Every window its rules ask for, summed.
    running: Vec<Running>,
    open: Counts,
    /// The open second's latencies, dense (cleared as it closes, through `touched`).
    open_latency: Box<[u32; BUCKETS]>,
    touched: Vec<u16>,
}

impl Watch {
    fn new(scope: AlertScope, keep: usize) -> Self {
        Self {
            scope,
            keep,
            closed: VecDeque::new(),
            running: Vec::new(),
            open: Counts::default(),
            open_latency: Box::new([0; BUCKETS]),
            touched: Vec::new(),
        }
    }

    fn add(&mut self, record: &RequestRecord) {
        self.open.requests += 1;
        self.open.errors += u64::from(record.error.is_some());
        self.open.server_errors += u64::from(record.status >= 500);
        self.open.rate_limited += u64::from(record.error.as_deref() == Some("rate_limited"));
        if let Some(llm) = &record.llm {
            self.open.tokens += llm.input_tokens.unwrap_or(0) + llm.output_tokens.unwrap_or(0);
        }
        let index = bucket(record.latency_us);
        if self.open_latency[index] == 0 {
            self.touched.push(index as u16);
        }
        self.open_latency[index] += 1;
    }

    fn close_second(&mut self) {
        self.touched.sort_unstable();
        let latency = self
            .touched
            .drain(..)
            .map(|index| {
                let count = std::mem::take(&mut self.open_latency[usize::from(index)]);
                (index, count)
            })
            .collect();
        self.closed.push_back(Second {
            counts: std::mem::take(&mut self.open),
            latency,
        });
        let newest = self.closed.len() - 1;
        for running in &mut self.running {
            running.add(&self.closed[newest]);
            if let Some(leaving) = newest.checked_sub(running.seconds) {
                running.subtract(&self.closed[leaving]);
            }
        }
        // Every window is at most `keep` long: the oldest second is in none of them any more.
        while self.closed.len() > self.keep {
            self.closed.pop_front();
        }
    }

    /// Sums each of `windows` afresh from the seconds kept.
    fn sum_windows(&mut self, windows: &[usize]) {
        self.running = windows
            .iter()
            .map(|&seconds| {
                let mut running = Running::new(seconds);
                for second in self.closed.iter().rev().take(seconds) {
                    running.add(second);
                }
                running
            })
            .collect();
    }

    /// The summed window of `seconds`, if a rule asks for it.
    fn window(&self, seconds: u64) -> Option<&Running> {
        let seconds = usize::try_from(seconds).ok()?;
        self.running
            .iter()
            .find(|running| running.seconds == seconds)
    }

    /// Seconds a window of `seconds` covers now.
    fn covered(&self, seconds: usize) -> u64 {
        self.closed.len().min(seconds) as u64
    }
}

/// Counts summed over a window, and how many seconds it covered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowSum {
    /// Seconds covered: the window, or fewer while the scope has not been watched that long.
    pub seconds: u64,
    pub counts: Counts,
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct RequestWindows {
    watches: Vec<Watch>,
    gateway: Option<usize>,
    routes: HashMap<String, Vec<usize>>,
    targets: HashMap<String, Vec<usize>>,
    models: HashMap<String, Vec<usize>>,
}

impl RequestWindows {
    /// Watches exactly `scopes`, each over the windows (seconds) given for it; what was kept of
    /// a scope watched before stays (trimmed to its longest window).
    pub fn watch(&mut self, scopes: &[(AlertScope, u64)]) {
        let mut wanted: Vec<(AlertScope, Vec<usize>)> = Vec::new();
        for (scope, seconds) in scopes {
            let seconds = usize::try_from(*seconds).unwrap_or(usize::MAX).max(1);
            match wanted.iter_mut().find(|(kept, _)| kept == scope) {
                Some((_, windows)) => {
                    if !windows.contains(&seconds) {
                        windows.push(seconds);
                    }
                }
                None => wanted.push((scope.clone(), vec![seconds])),
            }
        }
        let mut old = std::mem::take(&mut self.watches);
        *self = Self::default();
        for (scope, windows) in wanted {
            let keep = windows.iter().copied().max().unwrap_or(1);
            let mut watch = match old.iter().position(|watch| watch.scope == scope) {
                Some(index) => old.swap_remove(index),
                None => Watch::new(scope.clone(), keep),
            };
            watch.keep = keep;
            while watch.closed.len() > keep {
                watch.closed.pop_front();
            }
            watch.sum_windows(&windows);
            let index = self.watches.len();
            match &scope {
                AlertScope::Gateway => self.gateway = Some(index),
                AlertScope::Route(name) => self.routes.entry(name.clone()).or_default().push(index),
                AlertScope::Target { url, .. } => {
                    self.targets.entry(url.clone()).or_default().push(index)
                }
                AlertScope::Model(name) => self.models.entry(name.clone()).or_default().push(index),
            }
            self.watches.push(watch);
        }
    }

    /// Whether any scope is watched.
    pub fn is_empty(&self) -> bool {
        self.watches.is_empty()
    }

    /// Counts finished requests toward the open second of every watched scope they belong to.
    pub fn add_all<R: std::borrow::Borrow<RequestRecord>>(&mut self, records: &[R]) {
        if self.watches.is_empty() {
            return;
        }
        for record in records {
            let record = record.borrow();
            if let Some(index) = self.gateway {
                self.watches[index].add(record);
            }
            if !self.routes.is_empty()
                && let Some(route) = &record.route
                && let Some(indexes) = self.routes.get(route.as_str())
            {
                for &index in indexes {
                    self.watches[index].add(record);
                }
            }
            if !self.targets.is_empty()
                && let Some(target) = &record.target
                && let Some(indexes) = self.targets.get(target.as_str())
            {
                for &index in indexes {
                    let watch = &mut self.watches[index];
                    let AlertScope::Target { route, .. } = &watch.scope else {
                        continue;
                    };
                    if route.is_none() || route.as_deref() == record.route.as_deref() {
                        watch.add(record);
                    }
                }
            }
            if !self.models.is_empty()
                && let Some(llm) = &record.llm
                && let Some(indexes) = self.models.get(llm.model.as_str())
            {
                for &index in indexes {
                    self.watches[index].add(record);
                }
            }
        }
    }

    /// Closes the open second of every watched scope.
    pub fn close_second(&mut self) {
        for watch in &mut self.watches {
            watch.close_second();
        }
    }

    fn find(&self, scope: &AlertScope) -> Option<&Watch> {
        self.watches.iter().find(|watch| &watch.scope == scope)
    }

    /// The counts of `scope` over its newest `seconds` closed seconds; `None` unless a rule
    /// watches that scope over that window.
    pub fn sum(&self, scope: &AlertScope, seconds: u64) -> Option<WindowSum> {
        let watch = self.find(scope)?;
        let running = watch.window(seconds)?;
        Some(WindowSum {
            seconds: watch.covered(running.seconds),
            counts: running.counts,
        })
    }

    /// The latency of `scope` at quantile `q` over its newest `seconds` closed seconds, in
    /// microseconds; `None` without requests (or unless a rule watches that window).
    pub fn quantile_us(&self, scope: &AlertScope, seconds: u64, q: f64) -> Option<u64> {
        let running = self.find(scope)?.window(seconds)?;
        let total: u64 = running.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, count) in running.latency.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(bucket_value(index));
            }
        }
        Some(bucket_value(BUCKETS - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::LlmUsage;

    fn record(route: &str, target: &str, status: u16, latency_us: u64) -> RequestRecord {
        RequestRecord {
            seq: 0,
            request_id: Default::default(),
            at: chrono::Utc::now(),
            method: "GET".into(),
            path: "/".into(),
            route: Some(route.into()),
            target: Some(target.into()),
            status,
            latency_us,
            upstream_us: None,
            bytes_in: 0,
            bytes_out: 0,
            client: "::1".into(),
            user_agent: None,
            error: (status >= 500).then(|| "upstream_5xx".into()),
            attempts: 1,
            llm: None,
        }
    }

    #[test]
    fn buckets_are_ordered_and_within_six_percent() {
        let mut last = 0;
        for micros in 1..200_000u64 {
            let index = bucket(micros);
            assert!(index >= last, "buckets never go back at {micros}");
            last = index;
            let value = bucket_value(index) as f64;
            let error = (value - micros as f64).abs() / micros as f64;
            assert!(error <= 0.0625, "{micros} µs → {value} ({error})");
        }
        assert_eq!(bucket(MAX_US * 4), BUCKETS - 1);
    }

    #[test]
    fn scopes_count_only_their_requests_over_their_window() {
        let mut windows = RequestWindows::default();
        let api = AlertScope::Route("api".into());
        let target_b = AlertScope::Target {
            route: Some("api".into()),
            url: "http://b".into(),
        };
        let model = AlertScope::Model("gpt".into());
        windows.watch(&[
            (AlertScope::Gateway, 10),
            (api.clone(), 3),
            (api.clone(), 5),
            (target_b.clone(), 2),
            (model.clone(), 2),
        ]);
        for second in 0..6u64 {
            windows.add_all(&[
                record("api", "http://a", 200, 1_000),
                record("api", "http://b", 503, 100_000),
                record("web", "http://b", 200, 10),
            ]);
            let mut llm = record("llm", "http://c", 200, 10);
            llm.llm = Some(LlmUsage {
                model: "gpt".into(),
                input_tokens: Some(second),
                output_tokens: Some(10),
                ..LlmUsage::default()
            });
            windows.add_all(&[llm]);
            windows.close_second();
        }
        let gateway = windows.sum(&AlertScope::Gateway, 10).unwrap();
        assert_eq!((gateway.seconds, gateway.counts.requests), (6, 24));
        let api_sum = windows.sum(&api, 5).unwrap();
        assert_eq!(
            (
                api_sum.counts.requests,
                api_sum.counts.errors,
                api_sum.counts.server_errors
            ),
            (10, 5, 5)
        );
        assert_eq!(windows.sum(&api, 3).unwrap().counts.requests, 6);
        assert_eq!(windows.sum(&api, 60), None, "no rule asks for that window");
        let b = windows.sum(&target_b, 2).unwrap();
        assert_eq!(
            (b.seconds, b.counts.requests),
            (2, 2),
            "the same URL in another route is not counted"
        );
        assert_eq!(windows.sum(&model, 2).unwrap().counts.tokens, 4 + 5 + 20);
        let p95 = windows.quantile_us(&api, 5, 0.95).unwrap();
        assert!(p95.abs_diff(100_000) <= 6_250, "{p95}");
        let p50 = windows.quantile_us(&api, 3, 0.5).unwrap();
        assert!(p50.abs_diff(1_000) <= 63, "{p50}");
        assert_eq!(windows.sum(&AlertScope::Route("web".into()), 5), None);
    }

    #[test]
    fn sliding_sums_match_summing_the_seconds_afresh() {
        let api = AlertScope::Route("api".into());
        let mut windows = RequestWindows::default();
        windows.watch(&[(api.clone(), 1), (api.clone(), 4), (api.clone(), 7)]);
        let mut per_second = Vec::new();
        for second in 0..25u64 {
            let n = (second * 7) % 5;
            for i in 0..n {
                windows.add_all(&[record(
                    "api",
                    "http://a",
                    if i == 0 { 502 } else { 200 },
                    10 + i * second * 100,
                )]);
            }
            per_second.push(n);
            windows.close_second();
            for window in [1u64, 4, 7] {
                let expected: u64 = per_second.iter().rev().take(window as usize).sum();
                let sum = windows.sum(&api, window).unwrap();
                assert_eq!(
                    sum.counts.requests, expected,
                    "second {second}, window {window}"
                );
                assert_eq!(sum.seconds, window.min(second + 1));
                assert_eq!(
                    windows.quantile_us(&api, window, 1.0).is_some(),
                    expected > 0
                );
            }
        }
    }

    #[test]
    fn rewatching_keeps_what_a_scope_had() {
        let mut windows = RequestWindows::default();
        let api = AlertScope::Route("api".into());
        windows.watch(&[(api.clone(), 10)]);
        for _ in 0..4 {
            windows.add_all(&[record("api", "http://a", 200, 5)]);
            windows.close_second();
        }
        windows.watch(&[(api.clone(), 2), (AlertScope::Gateway, 5)]);
        let api_sum = windows.sum(&api, 2).unwrap();
        assert_eq!((api_sum.seconds, api_sum.counts.requests), (2, 2));
        assert_eq!(windows.sum(&AlertScope::Gateway, 5).unwrap().seconds, 0);
        assert_eq!(windows.quantile_us(&AlertScope::Gateway, 5, 0.5), None);
        windows.watch(&[]);
        assert!(windows.is_empty());
    }
}
