//! An alert's numbers as the Alerts page writes them: the metric's value in its own unit, the
//! condition (`above 5%`), how long something has lasted.

use crate::app::format;
use crate::views::{AlertView, format_uptime};
use chrono::{DateTime, Utc};

/// `value` of `metric` in the metric's unit: `12.5%`, `840 ms`, `3.20/s`, `2`; "no data"
/// without one.
pub fn metric_value(metric: &str, value: Option<f64>) -> String {
    let Some(value) = value.filter(|v| v.is_finite()) else {
        return "no data".to_string();
    };
    match metric {
        "error_rate" | "availability" => format::percent(value),
        m if m.starts_with("latency_") => format::latency((value.max(0.0) * 1_000.0) as u64),
        "requests_per_second" | "rate_limited_per_second" => format::rate(value.max(0.0)),
        "cpu_percent" | "memory_percent" => format!("{value:.1}%"),
        "tokens_per_minute" => format!("{}/min", format::count(value.max(0.0).round() as u64)),
        "certificate_expiry_days" => format!("{value:.1} d"),
        "targets_down" | "breaker_open" | "history_dropped" if value >= 0.0 => {
            format::count(value.round() as u64)
        }
        _ => trim_number(value),
    }
}

/// A number without trailing zeros: `0.5`, `3`, `1234.25`.
fn trim_number(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// When the rule fires: `above 5%`, `below 90%`.
pub fn condition(metric: &str, comparison: &str, threshold: f64) -> String {
    format!("{comparison} {}", metric_value(metric, Some(threshold)))
}

/// The value against the threshold: `12.5% > 5%`, `no data (above 5%)`.
pub fn value_vs_threshold(alert: &AlertView) -> String {
    let threshold = metric_value(&alert.metric, Some(alert.threshold));
    match alert.value.filter(|v| v.is_finite()) {
        None => format!("no data ({} {threshold})", alert.comparison),
        Some(value) => {
            let sign = match (
                alert.comparison.as_str(),
                value.partial_cmp(&alert.threshold),
            ) {
                (_, Some(std::cmp::Ordering::Equal)) => "=",
                (_, Some(std::cmp::Ordering::Greater)) => ">",
                _ => "<",
            };
            format!(
                "{} {sign} {threshold}",
                metric_value(&alert.metric, Some(value))
            )
        }
    }
}

/// The rule's timing: `for 60 s · window 60 s`.
pub fn timing(alert: &AlertView) -> String {
    let mut parts = Vec::new();
    if alert.for_s > 0 {
        parts.push(format!("for {}", format_uptime(alert.for_s)));
    }
    parts.push(format!("window {}", format_uptime(alert.window_s)));
    parts.join(" · ")
}

/// How long from `from` to `to` (never negative): `4m 09s`.
pub fn lasted(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    format_uptime(seconds_between(from, to))
}

/// Whole seconds from `from` to `to`, 0 if `to` is earlier.
pub fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    u64::try_from(to.signed_duration_since(from).num_seconds()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::AlertState;
    use crate::views::testing::at;

    fn alert(metric: &str, comparison: &str, threshold: f64, value: Option<f64>) -> AlertView {
        AlertView {
            rule: "r".into(),
            metric: metric.into(),
            scope: "gateway".into(),
            route: None,
            severity: "warning".into(),
            comparison: comparison.into(),
            threshold,
            value,
            state: AlertState::Inactive,
            since: None,
            for_s: 0,
            resolve_for_s: 30,
            window_s: 60,
            notify: Vec::new(),
            silenced_until: None,
        }
    }

    #[test]
    fn values_are_in_their_metrics_units() {
        assert_eq!(metric_value("error_rate", Some(0.125)), "12.5%");
        assert_eq!(metric_value("availability", Some(0.9)), "90.0%");
        assert_eq!(metric_value("latency_p95_ms", Some(840.0)), "840 ms");
        assert_eq!(metric_value("latency_p50_ms", Some(1_250.0)), "1.25 s");
        assert_eq!(metric_value("requests_per_second", Some(3.2)), "3.20/s");
        assert_eq!(metric_value("targets_down", Some(2.0)), "2");
        assert_eq!(metric_value("memory_percent", Some(81.25)), "81.2%");
        assert_eq!(
            metric_value("tokens_per_minute", Some(1_500.0)),
            "1\u{202f}500/min"
        );
        assert_eq!(metric_value("certificate_expiry_days", Some(6.5)), "6.5 d");
        assert_eq!(metric_value("something_new", Some(0.5)), "0.5");
        assert_eq!(metric_value("something_new", Some(3.0)), "3");
        assert_eq!(metric_value("error_rate", None), "no data");
        assert_eq!(metric_value("error_rate", Some(f64::NAN)), "no data");
    }

    #[test]
    fn values_are_set_against_the_threshold() {
        assert_eq!(
            value_vs_threshold(&alert("error_rate", "above", 0.05, Some(0.5))),
            "50.0% > 5.0%"
        );
        assert_eq!(
            value_vs_threshold(&alert("availability", "below", 0.9, Some(0.5))),
            "50.0% < 90.0%"
        );
        assert_eq!(
            value_vs_threshold(&alert("targets_down", "above", 0.0, Some(0.0))),
            "0 = 0"
        );
        assert_eq!(
            value_vs_threshold(&alert("error_rate", "above", 0.05, None)),
            "no data (above 5.0%)"
        );
        assert_eq!(
            condition("latency_p95_ms", "above", 1_000.0),
            "above 1.00 s"
        );
    }

    #[test]
    fn timings_and_durations() {
        let mut rule = alert("error_rate", "above", 0.05, None);
        assert_eq!(timing(&rule), "window 1m 00s");
        rule.for_s = 90;
        assert_eq!(timing(&rule), "for 1m 30s · window 1m 00s");
        assert_eq!(lasted(at(0), at(75)), "1m 15s");
        assert_eq!(seconds_between(at(10), at(0)), 0, "never negative");
    }
}
