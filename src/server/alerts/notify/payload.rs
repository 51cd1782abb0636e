//! What each kind of notifier is sent for one [`AlertChange`]: pure functions of the change, the
//! dashboard's base URL and whether it is a test. Every body is JSON, sent with
//! `Content-Type: application/json` and the notifier's own headers.
//!
//! ## `webhook`
//! A POST to the URL as written, of one object (keys in this order):
//!
//! ```json
//! {"version": "1", "rule": "api-errors", "state": "firing", "severity": "critical",
//!  "metric": "error_rate", "scope": "route api", "route": "api", "value": 0.12,
//!  "threshold": 0.05, "comparison": "above", "started_at": "2025-01-02T12:03:04.000Z",
//!  "resolved_at": null, "at": "2025-01-02T12:03:04.000Z",
//!  "dashboard_url": "http://127.0.0.1:3000/alerts", "test": false}
//! ```
//!
//! `state` is `firing` or `resolved` (the engine sends no other); `route` is `null` unless the
//! scope is within a route; `value` is `null` without data (a rule removed while firing);
//! `started_at` is when it began firing; `resolved_at` is `at` for `resolved`, else `null`; times
//! are RFC 3339 in UTC; `test` is `true` only for `POST /api/alerts/test`.
//!
//! ## `slack`
//! A Slack incoming-webhook message: `text`, one line that is also the notification's fallback
//! (`[FIRING] api-errors (critical): error_rate of route api is 0.12, above 0.05 — since
//! 12:03:04 UTC`; resolved: `[RESOLVED] … is 0.01, no longer above 0.05 — fired for 4m 12s`), and
//! `blocks`: one `section` in mrkdwn with the same facts and a link to the dashboard's alerts
//! page. `&`, `<` and `>` in names are escaped as Slack asks.
//!
//! ## `alertmanager`
//! A POST to `{url}/api/v2/alerts` (the URL as written when its path already ends so) of
//! Alertmanager's API v2 `postableAlerts`: an array of one alert, `labels` (`alertname`: the
//! rule, `severity`, `metric`, `scope`, `route` when the scope has one, `test: "true"` for a
//! test), `annotations` (`summary`, `description`, `value`, `threshold`), `startsAt` (when it
//! began firing), `endsAt` (only when resolved: the resolve time) and `generatorURL` (the
//! dashboard's alerts page). The labels are the alert's identity in Alertmanager, so they hold
//! nothing that changes while it fires. Alertmanager expires a firing alert sent without
//! `endsAt` after its `resolve_timeout` (5 minutes by default), so the alert engine sends a
//! firing alert to Alertmanager notifiers again every minute while it fires.

use crate::server::config::NotifierKind;
use crate::views::{AlertChange, AlertState};
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

/// The Content-Type of every notification.
pub const CONTENT_TYPE: &str = "application/json";

/// Where an Alertmanager takes alerts, below its base URL.
pub const ALERTMANAGER_PATH: &str = "/api/v2/alerts";

/// The body `kind` is sent for `change`.
pub fn body(kind: NotifierKind, change: &AlertChange, dashboard_url: &str, test: bool) -> Bytes {
    let value = match kind {
        NotifierKind::Webhook => webhook(change, dashboard_url, test),
        NotifierKind::Slack => slack(change, dashboard_url, test),
        NotifierKind::Alertmanager => alertmanager(change, dashboard_url, test),
    };
    Bytes::from(value.to_string())
}

/// Where `kind` is posted, given the notifier URL's path and query.
pub fn path(kind: NotifierKind, path_and_query: &str) -> String {
    match kind {
        NotifierKind::Alertmanager => alertmanager_path(path_and_query),
        NotifierKind::Webhook | NotifierKind::Slack => path_and_query.to_string(),
    }
}

/// `{path}/api/v2/alerts`, unless `path` already ends with it; the query is kept.
pub fn alertmanager_path(path_and_query: &str) -> String {
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    };
    let trimmed = path.trim_end_matches('/');
    let path = if trimmed.ends_with(ALERTMANAGER_PATH) {
        trimmed.to_string()
    } else {
        format!("{trimmed}{ALERTMANAGER_PATH}")
    };
    match query {
        Some(query) => format!("{path}?{query}"),
        None => path,
    }
}

/// The `webhook` body (see the module docs).
pub fn webhook(change: &AlertChange, dashboard_url: &str, test: bool) -> Value {
    json!({
        "version": "1",
        "rule": change.rule,
        "state": change.state.as_str(),
        "severity": change.severity,
        "metric": change.metric,
        "scope": change.scope,
        "route": change.route,
        "value": change.value.filter(|value| value.is_finite()),
        "threshold": change.threshold,
        "comparison": change.comparison,
        "started_at": change.started_at.map(rfc3339),
        "resolved_at": (change.state == AlertState::Resolved).then(|| rfc3339(change.at)),
        "at": rfc3339(change.at),
        "dashboard_url": alerts_url(dashboard_url),
        "test": test,
    })
}

/// The `slack` message (see the module docs).
pub fn slack(change: &AlertChange, dashboard_url: &str, test: bool) -> Value {
    let label = state_label(change.state);
    let test_note = if test {
        " (a test notification from Gatewatch)"
    } else {
        ""
    };
    let text = escape(&format!("{}{test_note}", summary(change)));
    let section = format!(
        "*[{label}] {}* ({})\n{}\n<{}|Open the alerts page>{}",
        escape(&change.rule),
        escape(&change.severity),
        escape(&format!("{} — {}", condition(change), timing(change))),
        link_target(&alerts_url(dashboard_url)),
        if test {
            "\n_A test notification from Gatewatch._"
        } else {
            ""
        },
    );
    json!({
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": section}}
        ]
    })
}

/// The `alertmanager` body, `postableAlerts` (see the module docs).
pub fn alertmanager(change: &AlertChange, dashboard_url: &str, test: bool) -> Value {
    let mut labels = Map::new();
    let mut label = |name: &str, value: &str| {
        labels.insert(name.to_string(), Value::String(value.to_string()));
    };
    label("alertname", &change.rule);
    label("severity", &change.severity);
    label("metric", &change.metric);
    label("scope", &change.scope);
    if let Some(route) = &change.route {
        label("route", route);
    }
    if test {
        label("test", "true");
    }
    let mut annotations = Map::new();
    let mut annotation = |name: &str, value: String| {
        annotations.insert(name.to_string(), Value::String(value));
    };
    annotation("summary", condition(change));
    annotation(
        "description",
        format!(
            "Gatewatch rule {} ({}): {} — {}.",
            change.rule,
            change.severity,
            condition(change),
            timing(change)
        ),
    );
    annotation(
        "value",
        change.value.map_or_else(|| "no data".to_string(), number),
    );
    annotation(
        "threshold",
        format!("{} {}", change.comparison, number(change.threshold)),
    );
    let mut alert = Map::new();
    alert.insert("labels".into(), Value::Object(labels));
    alert.insert("annotations".into(), Value::Object(annotations));
    let starts_at = change.started_at.unwrap_or(change.at);
    alert.insert("startsAt".into(), Value::String(rfc3339(starts_at)));
    // Anything but firing has ended, at the change (the engine sends firing and resolved only).
    if change.state != AlertState::Firing {
        alert.insert("endsAt".into(), Value::String(rfc3339(change.at)));
    }
    alert.insert(
        "generatorURL".into(),
        Value::String(alerts_url(dashboard_url)),
    );
    Value::Array(vec![Value::Object(alert)])
}

/// The one-line summary: `[FIRING] api-errors (critical): error_rate of route api is 0.12,
/// above 0.05 — since 12:03:04 UTC`.
pub fn summary(change: &AlertChange) -> String {
    format!(
        "[{}] {} ({}): {} — {}",
        state_label(change.state),
        change.rule,
        change.severity,
        condition(change),
        timing(change)
    )
}

/// `error_rate of route api is 0.12, above 0.05` (resolved: `no longer above`).
fn condition(change: &AlertChange) -> String {
    let scope = if change.scope == "gateway" {
        "the gateway"
    } else {
        change.scope.as_str()
    };
    let value = match change.value.filter(|value| value.is_finite()) {
        Some(value) => format!("is {}", number(value)),
        None => "has no value".to_string(),
    };
    let side = match change.state {
        AlertState::Firing | AlertState::Pending => "",
        AlertState::Resolved | AlertState::Inactive => "no longer ",
    };
    format!(
        "{} of {scope} {value}, {side}{} {}",
        change.metric,
        change.comparison,
        number(change.threshold)
    )
}

/// `since 12:03:04 UTC` while firing, `fired for 4m 12s` once resolved.
fn timing(change: &AlertChange) -> String {
    match (change.state, change.started_at) {
        (AlertState::Resolved, Some(started)) => {
            format!("fired for {}", duration(change.at - started))
        }
        (AlertState::Resolved | AlertState::Inactive, None) => {
            format!("at {}", clock(change.at, change.at))
        }
        (_, started) => format!("since {}", clock(started.unwrap_or(change.at), change.at)),
    }
}

fn state_label(state: AlertState) -> &'static str {
    match state {
        AlertState::Inactive => "INACTIVE",
        AlertState::Pending => "PENDING",
        AlertState::Firing => "FIRING",
        AlertState::Resolved => "RESOLVED",
    }
}

/// `12:03:04 UTC`, with the date when it is not the day of `now`.
fn clock(time: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if time.date_naive() == now.date_naive() {
        time.format("%H:%M:%S UTC").to_string()
    } else {
        time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    }
}

/// `45s`, `4m 12s`, `2h 5m`, `3d 4h`.
fn duration(elapsed: chrono::TimeDelta) -> String {
    let seconds = elapsed.num_seconds().max(0);
    let (days, hours, minutes, seconds) = (
        seconds / 86_400,
        seconds / 3_600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, _) => format!("{minutes}m {seconds}s"),
        (0, _, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}

/// A metric's value as people read it: at most four decimals, no trailing zeros.
fn number(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let text = format!("{value:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// RFC 3339 in UTC with milliseconds (`2025-01-02T12:03:04.000Z`).
fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The dashboard's alerts page.
pub fn alerts_url(dashboard_url: &str) -> String {
    format!("{}/alerts", dashboard_url.trim_end_matches('/'))
}

/// Text escaped for Slack's mrkdwn (`&`, `<`, `>`).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A URL as the target of a Slack `<url|text>` link (`|` and `>` would end it).
fn link_target(url: &str) -> String {
    escape(url).replace('|', "%7C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::testing::firing_change;
    use chrono::TimeZone;

    fn time(hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 2, hour, minute, second)
            .unwrap()
    }

    fn firing() -> AlertChange {
        firing_change(time(12, 3, 4))
    }

    fn resolved() -> AlertChange {
        AlertChange {
            state: AlertState::Resolved,
            value: Some(0.01),
            at: time(12, 7, 16),
            ..firing()
        }
    }

    const DASHBOARD: &str = "http://127.0.0.1:3000/";

    #[test]
    fn the_webhook_body_has_every_documented_field_in_order() {
        let body = webhook(&firing(), DASHBOARD, false);
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "version",
                "rule",
                "state",
                "severity",
                "metric",
                "scope",
                "route",
                "value",
                "threshold",
                "comparison",
                "started_at",
                "resolved_at",
                "at",
                "dashboard_url",
                "test"
            ]
        );
        assert_eq!(
            body,
            json!({
                "version": "1", "rule": "api-errors", "state": "firing", "severity": "critical",
                "metric": "error_rate", "scope": "route api", "route": "api", "value": 0.12,
                "threshold": 0.05, "comparison": "above",
                "started_at": "2025-01-02T12:03:04.000Z", "resolved_at": null,
                "at": "2025-01-02T12:03:04.000Z",
                "dashboard_url": "http://127.0.0.1:3000/alerts", "test": false
            })
        );
        let body = webhook(&resolved(), DASHBOARD, false);
        assert_eq!(body["state"], "resolved");
        assert_eq!(body["resolved_at"], "2025-01-02T12:07:16.000Z");
        assert_eq!(body["started_at"], "2025-01-02T12:03:04.000Z");

        let gateway = AlertChange {
            scope: "gateway".into(),
            route: None,
            value: None,
            ..resolved()
        };
        let body = webhook(&gateway, DASHBOARD, true);
        assert_eq!(
            (&body["route"], &body["value"]),
            (&Value::Null, &Value::Null)
        );
        assert_eq!(body["test"], true);
    }

    #[test]
    fn slack_gets_one_line_of_text_and_a_section_linking_the_alerts_page() {
        let message = slack(&firing(), DASHBOARD, false);
        assert_eq!(
            message["text"],
            "[FIRING] api-errors (critical): error_rate of route api is 0.12, above 0.05 — \
             since 12:03:04 UTC"
        );
        let blocks = message["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0]["type"], "section");
        assert_eq!(blocks[0]["text"]["type"], "mrkdwn");
        assert_eq!(
            blocks[0]["text"]["text"],
            "*[FIRING] api-errors* (critical)\nerror_rate of route api is 0.12, above 0.05 — \
             since 12:03:04 UTC\n<http://127.0.0.1:3000/alerts|Open the alerts page>"
        );

        let message = slack(&resolved(), DASHBOARD, false);
        assert_eq!(
            message["text"],
            "[RESOLVED] api-errors (critical): error_rate of route api is 0.01, no longer above \
             0.05 — fired for 4m 12s"
        );

        let target = AlertChange {
            scope: "target http://a<b>&c".into(),
            started_at: Some(Utc.with_ymd_and_hms(2025, 1, 1, 23, 0, 0).unwrap()),
            ..firing()
        };
        let message = slack(&target, "http://gw|x", true);
        let text = message["text"].as_str().unwrap();
        assert!(text.contains("target http://a&lt;b&gt;&amp;c"), "{text}");
        assert!(text.contains("since 2025-01-01 23:00:00 UTC"), "{text}");
        assert!(
            text.ends_with("(a test notification from Gatewatch)"),
            "{text}"
        );
        let section = message["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(
            section.contains("<http://gw%7Cx/alerts|Open the alerts page>"),
            "{section}"
        );
        assert!(section.contains("test notification"), "{section}");
    }

    #[test]
    fn summaries_read_naturally() {
        let gateway = AlertChange {
            metric: "requests_per_second".into(),
            scope: "gateway".into(),
            route: None,
            comparison: "below".into(),
            threshold: 1.0,
            value: Some(0.0),
            ..firing()
        };
        assert_eq!(
            summary(&gateway),
            "[FIRING] api-errors (critical): requests_per_second of the gateway is 0, below 1 — \
             since 12:03:04 UTC"
        );
        let removed = AlertChange {
            value: None,
            at: time(15, 3, 5),
            ..resolved()
        };
        assert_eq!(
            summary(&removed),
            "[RESOLVED] api-errors (critical): error_rate of route api has no value, no longer \
             above 0.05 — fired for 3h 0m"
        );
        assert_eq!(number(1234.56789), "1234.5679");
        assert_eq!(number(-0.00001), "0");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(duration(chrono::TimeDelta::seconds(45)), "45s");
        assert_eq!(duration(chrono::TimeDelta::seconds(90_061)), "1d 1h");
    }

    #[test]
    fn alertmanager_gets_one_postable_alert_whose_labels_never_change_while_it_fires() {
        let body = alertmanager(&firing(), DASHBOARD, false);
        assert_eq!(
            body,
            json!([{
                "labels": {"alertname": "api-errors", "severity": "critical",
                           "metric": "error_rate", "scope": "route api", "route": "api"},
                "annotations": {
                    "summary": "error_rate of route api is 0.12, above 0.05",
                    "description": "Gatewatch rule api-errors (critical): error_rate of route \
                                    api is 0.12, above 0.05 — since 12:03:04 UTC.",
                    "value": "0.12",
                    "threshold": "above 0.05"
                },
                "startsAt": "2025-01-02T12:03:04.000Z",
                "generatorURL": "http://127.0.0.1:3000/alerts"
            }])
        );
        let again = alertmanager(
            &AlertChange {
                value: Some(0.5),
                at: time(12, 4, 4),
                ..firing()
            },
            DASHBOARD,
            false,
        );
        assert_eq!(again[0]["labels"], body[0]["labels"]);
        assert_eq!(again[0]["startsAt"], body[0]["startsAt"]);

        let ended = alertmanager(&resolved(), DASHBOARD, false);
        assert_eq!(ended[0]["labels"], body[0]["labels"]);
        assert_eq!(ended[0]["startsAt"], "2025-01-02T12:03:04.000Z");
        assert_eq!(ended[0]["endsAt"], "2025-01-02T12:07:16.000Z");

        let test = alertmanager(&firing(), DASHBOARD, true);
        assert_eq!(test[0]["labels"]["test"], "true");
    }

    /// Alertmanager's OpenAPI v2 definitions (`api/v2/openapi.yaml`) for `POST /alerts`, as
    /// JSON Schema: `postableAlerts` is an array of `postableAlert`, which is `labels`
    /// (required) and `generatorURL` (uri) from `alert`, plus `startsAt`/`endsAt` (date-time)
    /// and `annotations`; `labelSet` is a map of strings.
    fn postable_alerts_schema() -> Value {
        json!({
            "$schema": "http://json-schema.org/draft-04/schema#",
            "definitions": {
                "labelSet": {"type": "object", "additionalProperties": {"type": "string"}},
                "alert": {
                    "type": "object",
                    "properties": {
                        "labels": {"$ref": "#/definitions/labelSet"},
                        "generatorURL": {"type": "string", "format": "uri"}
                    },
                    "required": ["labels"]
                },
                "postableAlert": {
                    "type": "object",
                    "allOf": [
                        {
                            "properties": {
                                "startsAt": {"type": "string", "format": "date-time"},
                                "endsAt": {"type": "string", "format": "date-time"},
                                "annotations": {"$ref": "#/definitions/labelSet"}
                            }
                        },
                        {"$ref": "#/definitions/alert"}
                    ]
                },
                "postableAlerts": {
                    "type": "array",
                    "items": {"$ref": "#/definitions/postableAlert"}
                }
            },
            "$ref": "#/definitions/postableAlerts"
        })
    }

    #[test]
    fn alertmanager_payloads_match_its_documented_schema() {
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&postable_alerts_schema())
            .unwrap();
        // The validator does catch what Alertmanager would refuse.
        for wrong in [
            json!({"labels": {}}),
            json!([{"annotations": {"summary": "x"}}]),
            json!([{"labels": {"alertname": 1}}]),
            json!([{"labels": {"alertname": "x"}, "startsAt": "yesterday"}]),
        ] {
            assert!(!validator.is_valid(&wrong), "{wrong}");
        }
        let gateway = AlertChange {
            scope: "gateway".into(),
            route: None,
            value: None,
            ..resolved()
        };
        for (change, test) in [(firing(), false), (resolved(), false), (gateway, true)] {
            let body = alertmanager(&change, DASHBOARD, test);
            let errors: Vec<String> = validator
                .iter_errors(&body)
                .map(|error| error.to_string())
                .collect();
            assert!(errors.is_empty(), "{body}: {errors:?}");
            // Label names as Prometheus allows them ([a-zA-Z_][a-zA-Z0-9_]*), values never empty.
            for (name, value) in body[0]["labels"].as_object().unwrap() {
                assert!(
                    name.chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{name}"
                );
                assert!(!value.as_str().unwrap().is_empty(), "{name}");
            }
        }
    }

    #[test]
    fn alertmanager_is_posted_below_its_base_url() {
        assert_eq!(alertmanager_path("/"), "/api/v2/alerts");
        assert_eq!(alertmanager_path("/am/"), "/am/api/v2/alerts");
        assert_eq!(alertmanager_path("/am/api/v2/alerts"), "/am/api/v2/alerts");
        assert_eq!(alertmanager_path("/api/v2/alerts/"), "/api/v2/alerts");
        assert_eq!(
            alertmanager_path("/x?tenant=a"),
            "/x/api/v2/alerts?tenant=a"
        );
        assert_eq!(path(NotifierKind::Slack, "/services/a/b"), "/services/a/b");
        assert_eq!(path(NotifierKind::Alertmanager, "/"), "/api/v2/alerts");
    }

    #[test]
    fn bodies_are_the_json_of_their_kind() {
        let parse = |bytes: Bytes| serde_json::from_slice::<Value>(&bytes).unwrap();
        let sent = parse(body(
            NotifierKind::Alertmanager,
            &firing(),
            DASHBOARD,
            false,
        ));
        assert_eq!(sent, alertmanager(&firing(), DASHBOARD, false));
        let sent = parse(body(NotifierKind::Slack, &firing(), DASHBOARD, false));
        assert_eq!(sent, slack(&firing(), DASHBOARD, false));
        let sent = parse(body(NotifierKind::Webhook, &firing(), DASHBOARD, true));
        assert_eq!(sent["test"], true);
    }
}
