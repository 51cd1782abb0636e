//! A rule's value: from the requests in its window (the metrics engine's [`RequestWindows`]),
//! from the targets' state now (the routes the recorder's 1 Hz tick reads anyway), or from the
//! gateway's own resources over the window ([`ResourceSeconds`]).
//!
//! `None` means "no data" — a ratio or a percentile of a window without requests, or no served
//! certificate — and never fires: an idle route is not an erroring one. A rate over a window
//! without requests is 0, so a `below` rule on traffic fires when traffic stops.

use super::window::RequestWindows;
use crate::server::config::{AlertMetric, AlertRule, AlertScope, MAX_WINDOW_S};
use crate::views::{RouteView, TargetView};
use std::collections::VecDeque;

/// The gateway's resources, one sample a second, for the newest [`MAX_WINDOW_S`] seconds.
#[derive(Debug, Default)]
pub struct ResourceSeconds {
    /// (process CPU % of one core, host memory in use %, history rows dropped so far), oldest
    /// first.
    samples: VecDeque<(f64, f64, u64)>,
}

impl ResourceSeconds {
    /// Adds the second just sampled.
    pub fn push(&mut self, cpu_percent: f64, memory_percent: f64, rows_dropped: u64) {
        if self.samples.len() == MAX_WINDOW_S as usize {
            self.samples.pop_front();
        }
        self.samples
            .push_back((cpu_percent, memory_percent, rows_dropped));
    }

    fn newest(&self, seconds: u64) -> impl Iterator<Item = &(f64, f64, u64)> {
        self.samples
            .iter()
            .rev()
            .take(usize::try_from(seconds).unwrap_or(usize::MAX))
    }

    fn mean(&self, seconds: u64, pick: impl Fn(&(f64, f64, u64)) -> f64) -> Option<f64> {
        let (count, sum) = self
            .newest(seconds)
            .fold((0u32, 0.0), |(n, sum), sample| (n + 1, sum + pick(sample)));
        (count > 0).then(|| sum / f64::from(count))
    }

    /// Rows dropped within the newest `seconds` (since the sample before them).
    fn dropped_within(&self, seconds: u64) -> Option<u64> {
        let newest = self.samples.back()?.2;
        let before = self
            .samples
            .iter()
            .rev()
            .nth(usize::try_from(seconds).unwrap_or(usize::MAX))
            .or(self.samples.front())
            .map_or(0, |sample| sample.2);
        Some(newest.saturating_sub(before))
    }
}

/// What a rule's value is taken from.
pub struct Sources<'a> {
    pub windows: &'a RequestWindows,
    /// Every route with its targets' state, as the API shows it now.
    pub routes: &'a [RouteView],
    pub resources: &'a ResourceSeconds,
    /// Days until the soonest served certificate expires; `None` without certificates.
    pub certificate_days: Option<f64>,
}

/// The targets a scope covers.
fn targets_in<'a>(
    routes: &'a [RouteView],
    scope: &'a AlertScope,
) -> impl Iterator<Item = &'a TargetView> + 'a {
    routes
        .iter()
        .filter(move |route| match scope {
            AlertScope::Gateway => true,
            AlertScope::Route(name) => &route.name == name,
            AlertScope::Target {
                route: Some(name), ..
            } => &route.name == name,
            AlertScope::Target { route: None, .. } => true,
            AlertScope::Model(_) => false,
        })
        .flat_map(|route| route.targets.iter())
        .filter(move |target| match scope {
            AlertScope::Target { url, .. } => &target.url == url,
            _ => true,
        })
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The value of `rule` now.
pub fn value(rule: &AlertRule, sources: &Sources<'_>) -> Option<f64> {
    let scope = &rule.scope;
    let window = rule.window_s;
    let sum = || {
        sources
            .windows
            .sum(scope, window)
            .filter(|sum| sum.seconds > 0)
    };
    let latency_ms = |q: f64| {
        sources
            .windows
            .quantile_us(scope, window, q)
            .map(|micros| micros as f64 / 1_000.0)
    };
    match rule.metric {
        AlertMetric::ErrorRate => sum().and_then(|s| ratio(s.counts.errors, s.counts.requests)),
        AlertMetric::Availability => sum().and_then(|s| {
            ratio(
                s.counts.requests - s.counts.server_errors.min(s.counts.requests),
                s.counts.requests,
            )
        }),
        AlertMetric::LatencyP50Ms => latency_ms(0.50),
        AlertMetric::LatencyP95Ms => latency_ms(0.95),
        AlertMetric::LatencyP99Ms => latency_ms(0.99),
        AlertMetric::RequestsPerSecond => {
            sum().map(|s| s.counts.requests as f64 / s.seconds as f64)
        }
        AlertMetric::RateLimitedPerSecond => {
            sum().map(|s| s.counts.rate_limited as f64 / s.seconds as f64)
        }
        AlertMetric::TokensPerMinute => {
            sum().map(|s| s.counts.tokens as f64 * 60.0 / s.seconds as f64)
        }
        AlertMetric::TargetsDown => Some(
            targets_in(sources.routes, scope)
                .filter(|target| !target.healthy || target.breaker == "open")
                .count() as f64,
        ),
        AlertMetric::BreakerOpen => Some(
            targets_in(sources.routes, scope)
                .filter(|target| target.breaker == "open")
                .count() as f64,
        ),
        AlertMetric::CpuPercent => sources.resources.mean(window, |sample| sample.0),
        AlertMetric::MemoryPercent => sources.resources.mean(window, |sample| sample.1),
        AlertMetric::HistoryDropped => sources.resources.dropped_within(window).map(|n| n as f64),
        AlertMetric::CertificateExpiryDays => sources.certificate_days,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::Comparison;
    use crate::views::RequestRecord;

    fn rule(metric: AlertMetric, scope: AlertScope, window_s: u64) -> AlertRule {
        AlertRule {
            name: "r".into(),
            metric,
            scope,
            comparison: Comparison::Above,
            threshold: 0.0,
            for_s: 0,
            resolve_for_s: 0,
            window_s,
            severity: "warning".into(),
            notify: Vec::new(),
        }
    }

    fn target(route: &str, url: &str, healthy: bool, breaker: &str) -> TargetView {
        TargetView {
            route: route.into(),
            url: url.into(),
            weight: 1,
            healthy,
            breaker: breaker.into(),
            in_flight: 0,
            consecutive_failures: 0,
            last_check: None,
            last_error: None,
            share: 0.0,
            traffic: Default::default(),
            transitions: Vec::new(),
        }
    }

    fn route(name: &str, targets: Vec<TargetView>) -> RouteView {
        RouteView {
            name: name.into(),
            path: "/*".into(),
            strategy: "round_robin".into(),
            tls_unverified: false,
            traffic: Default::default(),
            targets,
            all_targets_down: false,
        }
    }

    fn request(status: u16, error: Option<&str>) -> RequestRecord {
        RequestRecord {
            seq: 0,
            request_id: Default::default(),
            at: chrono::Utc::now(),
            method: "GET".into(),
            path: "/".into(),
            route: Some("api".into()),
            target: Some("http://a".into()),
            status,
            latency_us: 2_000,
            upstream_us: None,
            bytes_in: 0,
            bytes_out: 0,
            client: "::1".into(),
            user_agent: None,
            error: error.map(Into::into),
            attempts: 1,
            llm: None,
        }
    }

    #[test]
    fn request_metrics_come_from_the_window_and_idle_means_no_data() {
        let api = AlertScope::Route("api".into());
        let mut windows = RequestWindows::default();
        windows.watch(&[(api.clone(), 10)]);
        let resources = ResourceSeconds::default();
        fn sources<'a>(windows: &'a RequestWindows, resources: &'a ResourceSeconds) -> Sources<'a> {
            Sources {
                windows,
                routes: &[],
                resources,
                certificate_days: None,
            }
        }
        assert_eq!(
            value(
                &rule(AlertMetric::ErrorRate, api.clone(), 10),
                &sources(&windows, &resources)
            ),
            None,
            "nothing closed yet"
        );
        windows.close_second();
        assert_eq!(
            value(
                &rule(AlertMetric::ErrorRate, api.clone(), 10),
                &sources(&windows, &resources)
            ),
            None,
            "no requests: no ratio"
        );
        assert_eq!(
            value(
                &rule(AlertMetric::RequestsPerSecond, api.clone(), 10),
                &sources(&windows, &resources)
            ),
            Some(0.0),
            "but a rate of zero"
        );
        windows.add_all(&[
            request(200, None),
            request(502, Some("upstream_5xx")),
            request(429, Some("rate_limited")),
            request(200, None),
        ]);
        windows.close_second();
        let of = |metric| {
            value(
                &rule(metric, api.clone(), 10),
                &sources(&windows, &resources),
            )
        };
        assert_eq!(of(AlertMetric::ErrorRate), Some(0.5));
        assert_eq!(of(AlertMetric::Availability), Some(0.75));
        assert_eq!(of(AlertMetric::RequestsPerSecond), Some(2.0), "4 over 2 s");
        assert_eq!(of(AlertMetric::RateLimitedPerSecond), Some(0.5));
        let p95 = of(AlertMetric::LatencyP95Ms).unwrap();
        assert!((p95 - 2.0).abs() < 0.13, "{p95}");
    }

    #[test]
    fn target_gauges_count_within_the_scope() {
        let routes = vec![
            route(
                "api",
                vec![
                    target("api", "http://a", false, "closed"),
                    target("api", "http://b", true, "open"),
                    target("api", "http://c", true, "closed"),
                ],
            ),
            route("web", vec![target("web", "http://a", false, "closed")]),
        ];
        let windows = RequestWindows::default();
        let resources = ResourceSeconds::default();
        let sources = Sources {
            windows: &windows,
            routes: &routes,
            resources: &resources,
            certificate_days: Some(12.5),
        };
        let of = |metric, scope| value(&rule(metric, scope, 60), &sources);
        assert_eq!(of(AlertMetric::TargetsDown, AlertScope::Gateway), Some(3.0));
        assert_eq!(
            of(AlertMetric::TargetsDown, AlertScope::Route("api".into())),
            Some(2.0)
        );
        assert_eq!(
            of(AlertMetric::BreakerOpen, AlertScope::Route("api".into())),
            Some(1.0)
        );
        let a_anywhere = AlertScope::Target {
            route: None,
            url: "http://a".into(),
        };
        assert_eq!(of(AlertMetric::TargetsDown, a_anywhere), Some(2.0));
        let c_in_api = AlertScope::Target {
            route: Some("api".into()),
            url: "http://c".into(),
        };
        assert_eq!(of(AlertMetric::TargetsDown, c_in_api), Some(0.0));
        assert_eq!(
            of(AlertMetric::CertificateExpiryDays, AlertScope::Gateway),
            Some(12.5)
        );
    }

    #[test]
    fn resources_average_over_the_window_and_drops_count_within_it() {
        let mut resources = ResourceSeconds::default();
        for (second, cpu) in [10.0, 20.0, 30.0, 40.0].into_iter().enumerate() {
            resources.push(cpu, 50.0, [0, 0, 5, 9][second]);
        }
        let windows = RequestWindows::default();
        let sources = Sources {
            windows: &windows,
            routes: &[],
            resources: &resources,
            certificate_days: None,
        };
        let of = |metric, window| value(&rule(metric, AlertScope::Gateway, window), &sources);
        assert_eq!(of(AlertMetric::CpuPercent, 2), Some(35.0));
        assert_eq!(of(AlertMetric::CpuPercent, 60), Some(25.0));
        assert_eq!(of(AlertMetric::MemoryPercent, 60), Some(50.0));
        assert_eq!(of(AlertMetric::HistoryDropped, 1), Some(4.0));
        assert_eq!(of(AlertMetric::HistoryDropped, 2), Some(9.0));
        assert_eq!(of(AlertMetric::HistoryDropped, 60), Some(9.0));
        assert_eq!(of(AlertMetric::CertificateExpiryDays, 60), None);
    }
}
