//! `alerts`: threshold rules over the live metrics and the notifiers they send to.
//!
//! A rule watches one [`AlertMetric`] over one [`AlertScope`] (the gateway, a route, a target, a
//! model), taken over `window_s`, against `above` or `below` a threshold; it fires after the
//! condition has held for `for_s` and resolves after it has been false for `resolve_for_s`.

use super::{FieldErrors, RouteConfig};
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// `window_s` when not given.
pub const DEFAULT_WINDOW_S: u64 = 60;
/// The longest `window_s` accepted (an hour).
pub const MAX_WINDOW_S: u64 = 3_600;
/// `resolve_for_s` when not given.
pub const DEFAULT_RESOLVE_FOR_S: u64 = 30;
/// The longest `for_s` / `resolve_for_s` accepted (a day).
pub const MAX_FOR_S: u64 = 86_400;
/// Most rules.
pub const MAX_RULES: usize = 1_000;
/// Most notifiers.
pub const MAX_NOTIFIERS: usize = 64;
/// A notifier's timeout per attempt when not given.
pub const DEFAULT_NOTIFIER_TIMEOUT_MS: u64 = 5_000;
/// A notifier's retries after the first attempt when not given.
pub const DEFAULT_NOTIFIER_RETRIES: u32 = 3;
/// Days alert history is kept when not given.
pub const DEFAULT_ALERT_RETENTION_DAYS: u32 = 90;

/// `alerts` as written.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct FileAlerts {
    /// Threshold rules, evaluated every second. Default: none.
    #[serde(default)]
    pub rules: Vec<FileAlertRule>,
    /// Where firing and resolved notifications go. Default: none.
    #[serde(default)]
    pub notifiers: Vec<FileNotifier>,
    /// Days the alert history (every state change) is kept, 1 to 3650. Default 90.
    #[schemars(range(min = 1, max = 3650), extend("default" = DEFAULT_ALERT_RETENTION_DAYS))]
    pub retention_days: Option<u32>,
}

/// One alert rule as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileAlertRule {
    /// Unique name (letters, digits, '-', '_', '.'), shown in notifications and the dashboard.
    pub name: String,
    /// What is watched.
    pub metric: AlertMetric,
    /// Scope: this route only (by name). Without route, target or model: the whole gateway.
    pub route: Option<String>,
    /// Scope: this target URL (as written in a route's targets; with route, in that route only).
    pub target: Option<String>,
    /// Scope: this LLM model (as upstreams name it in their answers).
    pub model: Option<String>,
    /// Fires while the value is above this. Exactly one of above and below.
    pub above: Option<f64>,
    /// Fires while the value is below this. Exactly one of above and below.
    pub below: Option<f64>,
    /// Seconds the condition must hold before the alert fires (0 to 86400). Default 0.
    #[schemars(range(min = 0, max = 86_400), extend("default" = 0))]
    pub for_s: Option<i64>,
    /// Seconds the condition must be false before a firing alert resolves (0 to 86400).
    /// Default 30.
    #[schemars(range(min = 0, max = 86_400), extend("default" = DEFAULT_RESOLVE_FOR_S))]
    pub resolve_for_s: Option<i64>,
    /// Seconds the value is taken over (1 to 3600). Default 60.
    #[schemars(range(min = 1, max = 3_600), extend("default" = DEFAULT_WINDOW_S))]
    pub window_s: Option<i64>,
    /// Severity shown and sent, e.g. "critical", "warning", "info". Default "warning".
    #[schemars(extend("default" = "warning"))]
    pub severity: Option<String>,
    /// Names of the notifiers this rule sends to. Default: none (shown on the dashboard only).
    #[serde(default)]
    pub notify: Vec<String>,
}

/// The metrics a rule can watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertMetric {
    /// Share of requests that failed (any error kind), 0 to 1.
    ErrorRate,
    /// Median latency in milliseconds.
    LatencyP50Ms,
    /// 95th percentile latency in milliseconds.
    LatencyP95Ms,
    /// 99th percentile latency in milliseconds.
    LatencyP99Ms,
    /// Requests finished per second.
    RequestsPerSecond,
    /// Share of requests not answered with a 5xx, 0 to 1.
    Availability,
    /// Targets out of rotation now (unhealthy or breaker open).
    TargetsDown,
    /// Targets whose circuit breaker is open now.
    BreakerOpen,
    /// Requests refused by rate limits per second.
    RateLimitedPerSecond,
    /// The gateway process's CPU use, percent of one core.
    CpuPercent,
    /// The host's memory in use, percent.
    MemoryPercent,
    /// LLM tokens (input and output) per minute.
    TokensPerMinute,
    /// History rows dropped within the window (the writer could not keep up).
    HistoryDropped,
    /// Days until the soonest served certificate expires.
    CertificateExpiryDays,
}

impl AlertMetric {
    /// The name as written in config.json.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ErrorRate => "error_rate",
            Self::LatencyP50Ms => "latency_p50_ms",
            Self::LatencyP95Ms => "latency_p95_ms",
            Self::LatencyP99Ms => "latency_p99_ms",
            Self::RequestsPerSecond => "requests_per_second",
            Self::Availability => "availability",
            Self::TargetsDown => "targets_down",
            Self::BreakerOpen => "breaker_open",
            Self::RateLimitedPerSecond => "rate_limited_per_second",
            Self::CpuPercent => "cpu_percent",
            Self::MemoryPercent => "memory_percent",
            Self::TokensPerMinute => "tokens_per_minute",
            Self::HistoryDropped => "history_dropped",
            Self::CertificateExpiryDays => "certificate_expiry_days",
        }
    }

    /// Whether the metric is taken from the requests in the window (rather than a gauge).
    pub fn from_requests(self) -> bool {
        matches!(
            self,
            Self::ErrorRate
                | Self::LatencyP50Ms
                | Self::LatencyP95Ms
                | Self::LatencyP99Ms
                | Self::RequestsPerSecond
                | Self::Availability
                | Self::RateLimitedPerSecond
                | Self::TokensPerMinute
        )
    }

    /// The scopes the metric has a value for.
    fn allows(self, scope: &AlertScope) -> bool {
        match self {
            Self::CpuPercent
            | Self::MemoryPercent
            | Self::HistoryDropped
            | Self::CertificateExpiryDays => matches!(scope, AlertScope::Gateway),
            Self::TargetsDown | Self::BreakerOpen => !matches!(scope, AlertScope::Model(_)),
            Self::TokensPerMinute => !matches!(scope, AlertScope::Target { .. }),
            _ => true,
        }
    }
}

/// Over what a rule's metric is taken.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlertScope {
    Gateway,
    Route(String),
    /// A target URL, in one route or (`route: None`) in every route that has it.
    Target {
        route: Option<String>,
        url: String,
    },
    Model(String),
}

impl AlertScope {
    /// How the dashboard and notifications name it: `gateway`, `route api`, …
    pub fn label(&self) -> String {
        match self {
            Self::Gateway => "gateway".into(),
            Self::Route(name) => format!("route {name}"),
            Self::Target {
                route: Some(route),
                url,
            } => format!("target {url} (route {route})"),
            Self::Target { route: None, url } => format!("target {url}"),
            Self::Model(name) => format!("model {name}"),
        }
    }

    /// The route it is within, if any.
    pub fn route(&self) -> Option<&str> {
        match self {
            Self::Route(name) => Some(name),
            Self::Target { route, .. } => route.as_deref(),
            _ => None,
        }
    }
}

/// Which side of the threshold fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    Above,
    Below,
}

impl Comparison {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Above => "above",
            Self::Below => "below",
        }
    }

    /// Whether `value` is on the firing side of `threshold`.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::Above => value > threshold,
            Self::Below => value < threshold,
        }
    }
}

/// A validated rule.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRule {
    pub name: String,
    pub metric: AlertMetric,
    pub scope: AlertScope,
    pub comparison: Comparison,
    pub threshold: f64,
    pub for_s: u64,
    pub resolve_for_s: u64,
    pub window_s: u64,
    pub severity: String,
    pub notify: Vec<String>,
}

/// Kinds of notifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotifierKind {
    /// POST of Gatewatch's own JSON body (see the README).
    Webhook,
    /// A Slack incoming webhook (message with text and blocks).
    Slack,
    /// A Prometheus Alertmanager: POSTs to its /api/v2/alerts, so its routing and silences apply.
    Alertmanager,
}

impl NotifierKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Slack => "slack",
            Self::Alertmanager => "alertmanager",
        }
    }
}

/// A header value as written: the text itself, or read from an environment variable when the
/// gateway starts or reloads (keeps secrets out of config.json).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum FileHeaderValue {
    Text(String),
    Env {
        /// Name of the environment variable holding the value.
        env: String,
    },
}

/// One notifier as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileNotifier {
    /// Unique name, used in rules' notify lists.
    pub name: String,
    pub kind: NotifierKind,
    /// http:// or https:// URL: the webhook, the Slack incoming webhook, or the Alertmanager's
    /// base URL (http://127.0.0.1:9093).
    pub url: String,
    /// Extra request headers, e.g. {"Authorization": {"env": "OPS_HOOK_TOKEN"}}; a value is the
    /// text itself or {"env": NAME}.
    #[serde(default)]
    pub headers: BTreeMap<String, FileHeaderValue>,
    /// Time per attempt in milliseconds (100 to 60000). Default 5000.
    #[schemars(range(min = 100, max = 60_000), extend("default" = DEFAULT_NOTIFIER_TIMEOUT_MS))]
    pub timeout_ms: Option<u64>,
    /// Retries after a failed attempt (0 to 10), waiting 1 s, 2 s, 4 s … between them.
    /// Default 3.
    #[schemars(range(min = 0, max = 10), extend("default" = DEFAULT_NOTIFIER_RETRIES))]
    pub retries: Option<u32>,
}

/// A validated notifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifierConfig {
    pub name: String,
    pub kind: NotifierKind,
    pub url: String,
    /// Header names (lower case) and values, environment variables already read.
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    pub retries: u32,
}

/// The validated `alerts` section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertsConfig {
    pub rules: Vec<AlertRule>,
    pub notifiers: Vec<NotifierConfig>,
    /// How long state changes are kept.
    pub retention: Duration,
}

impl AlertsConfig {
    /// The notifier named `name`.
    pub fn notifier(&self, name: &str) -> Option<&NotifierConfig> {
        self.notifiers.iter().find(|notifier| notifier.name == name)
    }
}

/// Validates `alerts` against the routes in the same config.
pub fn validate_alerts(
    file: Option<FileAlerts>,
    routes: &[RouteConfig],
    errors: &mut FieldErrors,
) -> AlertsConfig {
    let file = file.unwrap_or_default();
    let days = file.retention_days.unwrap_or(DEFAULT_ALERT_RETENTION_DAYS);
    if !(1..=3_650).contains(&days) {
        errors.push(
            "alerts.retention_days",
            format!("must be from 1 to 3650, got {days}"),
        );
    }
    if file.notifiers.len() > MAX_NOTIFIERS {
        errors.push(
            "alerts.notifiers",
            format!("at most {MAX_NOTIFIERS} notifiers"),
        );
    }
    if file.rules.len() > MAX_RULES {
        errors.push("alerts.rules", format!("at most {MAX_RULES} rules"));
    }
    let mut names = HashSet::new();
    let notifiers: Vec<NotifierConfig> = file
        .notifiers
        .into_iter()
        .enumerate()
        .filter_map(|(index, notifier)| {
            validate_notifier(
                notifier,
                &format!("alerts.notifiers[{index}]"),
                &mut names,
                errors,
            )
        })
        .collect();
    let mut rule_names = HashSet::new();
    let rules = file
        .rules
        .into_iter()
        .enumerate()
        .filter_map(|(index, rule)| {
            validate_rule(
                rule,
                &format!("alerts.rules[{index}]"),
                routes,
                &names,
                &mut rule_names,
                errors,
            )
        })
        .collect();
    AlertsConfig {
        rules,
        notifiers,
        retention: Duration::from_secs(u64::from(days) * 86_400),
    }
}

fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Checks the `name` of the rule or notifier (`what`) at `at`: plain and not taken in `names`.
fn check_name(
    name: &str,
    what: &str,
    at: &str,
    names: &mut HashSet<String>,
    errors: &mut FieldErrors,
) {
    if !plain_name(name) {
        errors.push(
            format!("{at}.name"),
            format!("{name:?}: 1 to 128 letters, digits, '-', '_' or '.'"),
        );
    } else if !names.insert(name.to_string()) {
        errors.push(
            format!("{at}.name"),
            format!("duplicate {what} name {name:?}"),
        );
    }
}

fn validate_notifier(
    file: FileNotifier,
    at: &str,
    names: &mut HashSet<String>,
    errors: &mut FieldErrors,
) -> Option<NotifierConfig> {
    let before = errors.len();
    check_name(&file.name, "notifier", at, names, errors);
    match file.url.parse::<hyper::Uri>() {
        Ok(url)
            if matches!(url.scheme_str(), Some("http" | "https"))
                && url.host().is_some_and(|host| !host.is_empty())
                && !url.authority().is_some_and(|a| a.as_str().contains('@')) => {}
        _ => errors.push(
            format!("{at}.url"),
            format!("not an absolute http(s) URL: {:?}", file.url),
        ),
    }
    let mut headers = Vec::with_capacity(file.headers.len());
    for (name, value) in file.headers {
        let path = format!("{at}.headers.{name}");
        if hyper::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            errors.push(&path, "not a valid header name");
            continue;
        }
        let value = match value {
            FileHeaderValue::Text(text) => text,
            FileHeaderValue::Env { env } => match std::env::var(&env) {
                Ok(value) => value,
                Err(_) => {
                    errors.push(
                        &path,
                        format!("environment variable {env} is not set (or not UTF-8)"),
                    );
                    continue;
                }
            },
        };
        if hyper::header::HeaderValue::from_str(&value).is_err() {
            // The value itself is never repeated: it may be a secret.
            errors.push(&path, "not a valid header value");
            continue;
        }
        headers.push((name.to_ascii_lowercase(), value));
    }
    let timeout_ms = file.timeout_ms.unwrap_or(DEFAULT_NOTIFIER_TIMEOUT_MS);
    if !(100..=60_000).contains(&timeout_ms) {
        errors.push(
            format!("{at}.timeout_ms"),
            format!("must be from 100 to 60000, got {timeout_ms}"),
        );
    }
    let retries = file.retries.unwrap_or(DEFAULT_NOTIFIER_RETRIES);
    if retries > 10 {
        errors.push(
            format!("{at}.retries"),
            format!("must be from 0 to 10, got {retries}"),
        );
    }
    (errors.len() == before).then(|| NotifierConfig {
        name: file.name,
        kind: file.kind,
        url: file.url,
        headers,
        timeout: Duration::from_millis(timeout_ms),
        retries,
    })
}

fn seconds(
    value: Option<i64>,
    default: u64,
    range: (u64, u64),
    path: String,
    errors: &mut FieldErrors,
) -> u64 {
    let Some(value) = value else { return default };
    match u64::try_from(value) {
        Ok(value) if (range.0..=range.1).contains(&value) => value,
        _ => {
            errors.push(
                path,
                format!(
                    "must be from {} to {} seconds, got {value}",
                    range.0, range.1
                ),
            );
            default
        }
    }
}

fn validate_rule(
    file: FileAlertRule,
    at: &str,
    routes: &[RouteConfig],
    notifiers: &HashSet<String>,
    names: &mut HashSet<String>,
    errors: &mut FieldErrors,
) -> Option<AlertRule> {
    let before = errors.len();
    check_name(&file.name, "rule", at, names, errors);
    let route = file.route.as_deref().map(|name| {
        let found = routes.iter().find(|route| route.name == name);
        if found.is_none() {
            errors.push(format!("{at}.route"), format!("no route is named {name:?}"));
        }
        found
    });
    let scope = match (&file.route, &file.target, &file.model) {
        (_, Some(_), Some(_)) | (Some(_), None, Some(_)) => {
            errors.push(
                format!("{at}.model"),
                "a rule's scope is one of route, target or model (a target may name its route)",
            );
            None
        }
        (None, None, None) => Some(AlertScope::Gateway),
        (Some(name), None, None) => Some(AlertScope::Route(name.clone())),
        (_, Some(url), None) => {
            let within: Vec<&RouteConfig> = match route {
                Some(Some(route)) => vec![route],
                Some(None) => Vec::new(),
                None => routes.iter().collect(),
            };
            let known = within
                .iter()
                .any(|route| route.targets.iter().any(|target| &target.url == url));
            if !known && !matches!(route, Some(None)) {
                errors.push(
                    format!("{at}.target"),
                    match &file.route {
                        Some(name) => format!("route {name:?} has no target {url:?}"),
                        None => format!("no route has the target {url:?}"),
                    },
                );
            }
            Some(AlertScope::Target {
                route: file.route.clone(),
                url: url.clone(),
            })
        }
        (None, None, Some(model)) => {
            if model.is_empty() {
                errors.push(format!("{at}.model"), "must not be empty");
            } else if !routes.iter().any(|route| route.llm) {
                errors.push(
                    format!("{at}.model"),
                    format!("no route has \"llm\": true, so model {model:?} is never seen"),
                );
            }
            Some(AlertScope::Model(model.clone()))
        }
    };
    if let Some(scope) = &scope
        && !file.metric.allows(scope)
    {
        errors.push(
            format!("{at}.metric"),
            format!(
                "{} has no value for the scope {}",
                file.metric.as_str(),
                scope.label()
            ),
        );
    }
    let threshold = match (file.above, file.below) {
        (Some(value), None) => Some((Comparison::Above, value)),
        (None, Some(value)) => Some((Comparison::Below, value)),
        (Some(_), Some(_)) => {
            errors.push(
                format!("{at}.below"),
                "give either above or below, not both",
            );
            None
        }
        (None, None) => {
            errors.push(format!("{at}.above"), "give a threshold: above or below");
            None
        }
    };
    if let Some((comparison, value)) = threshold
        && !value.is_finite()
    {
        errors.push(
            format!("{at}.{}", comparison.as_str()),
            "must be a finite number",
        );
    }
    let for_s = seconds(file.for_s, 0, (0, MAX_FOR_S), format!("{at}.for_s"), errors);
    let resolve_for_s = seconds(
        file.resolve_for_s,
        DEFAULT_RESOLVE_FOR_S,
        (0, MAX_FOR_S),
        format!("{at}.resolve_for_s"),
        errors,
    );
    let window_s = seconds(
        file.window_s,
        DEFAULT_WINDOW_S,
        (1, MAX_WINDOW_S),
        format!("{at}.window_s"),
        errors,
    );
    let severity = file.severity.unwrap_or_else(|| "warning".to_string());
    if !plain_name(&severity) {
        errors.push(
            format!("{at}.severity"),
            format!("{severity:?}: one word of letters, digits, '-', '_' or '.'"),
        );
    }
    for (index, name) in file.notify.iter().enumerate() {
        if !notifiers.contains(name) {
            errors.push(
                format!("{at}.notify[{index}]"),
                format!("no notifier is named {name:?}"),
            );
        }
    }
    let (comparison, threshold) = threshold?;
    (errors.len() == before).then(|| AlertRule {
        name: file.name,
        metric: file.metric,
        scope: scope.expect("no error, so the scope is known"),
        comparison,
        threshold,
        for_s,
        resolve_for_s,
        window_s,
        severity,
        notify: file.notify,
    })
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::super::tests::errors_of;
    use super::*;

    const ROUTES: &str = r#""routes": [
        {"name": "api", "path": "/api/*", "targets": ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]},
        {"name": "llm", "path": "/v1/*", "llm": true, "targets": ["http://127.0.0.1:9003"]}
    ]"#;

    fn config(alerts: &str) -> String {
        format!("{{{ROUTES}, \"alerts\": {alerts}}}")
    }

    #[test]
    fn rules_and_notifiers_are_read_with_their_defaults() {
        let config = parse(&config(
            r#"{"rules": [
                {"name": "api-errors", "metric": "error_rate", "route": "api", "above": 0.05,
                 "for_s": 60, "severity": "critical", "notify": ["ops"]},
                {"name": "down", "metric": "targets_down", "target": "http://127.0.0.1:9002", "above": 0},
                {"name": "tokens", "metric": "tokens_per_minute", "model": "gpt-4o", "above": 1000},
                {"name": "drop", "metric": "requests_per_second", "below": 1, "for_s": 300, "window_s": 120}
            ], "notifiers": [
                {"name": "ops", "kind": "webhook", "url": "https://hooks.example.com/gw",
                 "headers": {"Authorization": "Bearer x"}},
                {"name": "am", "kind": "alertmanager", "url": "http://127.0.0.1:9093", "retries": 0}
            ]}"#,
        ))
        .unwrap();
        let alerts = &config.alerts;
        assert_eq!(alerts.rules.len(), 4);
        let errors = &alerts.rules[0];
        assert_eq!(errors.scope, AlertScope::Route("api".into()));
        assert_eq!(
            (errors.comparison, errors.threshold, errors.for_s),
            (Comparison::Above, 0.05, 60)
        );
        assert_eq!((errors.resolve_for_s, errors.window_s), (30, 60));
        assert_eq!(alerts.rules[1].severity, "warning");
        assert_eq!(
            alerts.rules[1].scope,
            AlertScope::Target {
                route: None,
                url: "http://127.0.0.1:9002".into()
            }
        );
        assert_eq!(alerts.rules[3].comparison, Comparison::Below);
        assert_eq!(
            alerts.notifiers[0].headers,
            vec![("authorization".to_string(), "Bearer x".to_string())]
        );
        assert_eq!(alerts.notifiers[1].retries, 0);
        assert_eq!(alerts.notifiers[0].timeout, Duration::from_secs(5));
    }

    #[test]
    fn bad_rules_name_their_field() {
        let errors = errors_of(&config(
            r#"{"rules": [
                {"name": "a", "metric": "error_rate", "route": "nope", "above": 1},
                {"name": "b", "metric": "error_rate", "above": 1, "below": 0},
                {"name": "c", "metric": "error_rate"},
                {"name": "d", "metric": "error_rate", "above": 1, "for_s": -5},
                {"name": "e", "metric": "error_rate", "above": 1, "notify": ["nobody"]},
                {"name": "f", "metric": "cpu_percent", "route": "api", "above": 90},
                {"name": "g", "metric": "error_rate", "route": "api", "target": "http://x:1", "above": 1},
                {"name": "a", "metric": "error_rate", "above": 1, "window_s": 0}
            ], "notifiers": [
                {"name": "n", "kind": "webhook", "url": "ftp://example.com"}
            ]}"#,
        ));
        assert_eq!(
            errors,
            vec![
                "alerts.notifiers[0].url: not an absolute http(s) URL: \"ftp://example.com\"",
                "alerts.rules[0].route: no route is named \"nope\"",
                "alerts.rules[1].below: give either above or below, not both",
                "alerts.rules[2].above: give a threshold: above or below",
                "alerts.rules[3].for_s: must be from 0 to 86400 seconds, got -5",
                "alerts.rules[4].notify[0]: no notifier is named \"nobody\"",
                "alerts.rules[5].metric: cpu_percent has no value for the scope route api",
                "alerts.rules[6].target: route \"api\" has no target \"http://x:1\"",
                "alerts.rules[7].name: duplicate rule name \"a\"",
                "alerts.rules[7].window_s: must be from 1 to 3600 seconds, got 0",
            ]
        );
        let errors = errors_of(&config(
            r#"{"rules": [{"name": "a", "metric": "latency_p90_ms", "above": 1}]}"#,
        ));
        assert!(
            errors[0].starts_with("alerts.rules[0].metric: unknown variant `latency_p90_ms`"),
            "{errors:?}"
        );
    }

    #[test]
    fn a_model_scope_needs_an_llm_route() {
        let errors = errors_of(
            r#"{"routes": [{"name": "api", "path": "/api/*", "targets": ["http://127.0.0.1:1"]}],
                "alerts": {"rules": [{"name": "m", "metric": "error_rate", "model": "gpt-4o", "above": 0.1}]}}"#,
        );
        assert_eq!(
            errors,
            vec![
                "alerts.rules[0].model: no route has \"llm\": true, so model \"gpt-4o\" is never seen"
            ]
        );
    }

    #[test]
    fn header_values_may_come_from_the_environment_and_are_never_echoed() {
        // HOME is set for every test process.
        let home = std::env::var("HOME").unwrap();
        let parsed = parse(&config(
            r#"{"notifiers": [{"name": "ops", "kind": "slack", "url": "https://hooks.slack.com/x",
                "headers": {"X-Home": {"env": "HOME"}}}]}"#,
        ))
        .unwrap();
        assert_eq!(parsed.alerts.notifiers[0].headers[0].1, home);
        let errors = errors_of(&config(
            r#"{"notifiers": [{"name": "ops", "kind": "webhook", "url": "https://h/x",
                "headers": {"Authorization": {"env": "GATEWATCH_TEST_UNSET_VARIABLE"}, "X-Bad": "a\nb"}}]}"#,
        ));
        assert_eq!(
            errors,
            vec![
                "alerts.notifiers[0].headers.Authorization: environment variable GATEWATCH_TEST_UNSET_VARIABLE is not set (or not UTF-8)",
                "alerts.notifiers[0].headers.X-Bad: not a valid header value",
            ]
        );
    }
}
