//! Alerts end to end: rules over a real gateway's metrics, notifications to a real webhook
//! receiver on loopback (retried, silenced), the history kept across a restart, and the API,
//! `/metrics` and the live socket reporting each change.

use crate::WAIT;
use crate::support::*;
use gatewatch::views::{AlertState, LiveEvent};
use http_body_util::BodyExt;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A notification as the receiver got it.
#[derive(Debug)]
struct Received {
    path: String,
    headers: hyper::HeaderMap,
    body: Value,
}

/// A webhook receiver on a loopback port: answers each POST with the next scripted status (200
/// once the script is used up) and hands what it got to the test.
struct Receiver {
    addr: SocketAddr,
    received: mpsc::UnboundedReceiver<Received>,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(script: &[u16]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (sent, received) = mpsc::unbounded_channel();
        let script = Arc::new(Mutex::new(script.to_vec()));
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (sent, script) = (sent.clone(), script.clone());
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                            let (sent, script) = (sent.clone(), script.clone());
                            async move {
                                let path = request.uri().path().to_string();
                                let headers = request.headers().clone();
                                let body = request.into_body().collect().await.unwrap().to_bytes();
                                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                                let _ = sent.send(Received {
                                    path,
                                    headers,
                                    body,
                                });
                                let status = {
                                    let mut script = script.lock().unwrap();
                                    if script.is_empty() {
                                        200
                                    } else {
                                        script.remove(0)
                                    }
                                };
                                let mut response = hyper::Response::new(http_body_util::Full::new(
                                    bytes::Bytes::new(),
                                ));
                                *response.status_mut() =
                                    hyper::StatusCode::from_u16(status).unwrap();
                                Ok::<_, std::convert::Infallible>(response)
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            received,
            _server: server,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next notification, within `within`.
    async fn next(&mut self, within: std::time::Duration) -> Received {
        tokio::time::timeout(within, self.received.recv())
            .await
            .expect("a notification in time")
            .expect("receiver running")
    }
}

/// A POST to the admin API as the dashboard's own page makes it (the Origin check passes).
async fn post_json(gateway: &TestGateway, path: &str, body: Value) -> (u16, Value) {
    let origin = gateway.api("");
    let response = client()
        .post(gateway.api(path))
        .header("origin", origin.trim_end_matches('/'))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The next live alert change of `rule` entering `state`.
async fn next_change(
    live: &mut tokio::sync::broadcast::Receiver<LiveFrame>,
    rule: &str,
    state: AlertState,
) -> gatewatch::views::AlertChange {
    next_matching(live, 3 * WAIT, |frame| match frame.event() {
        LiveEvent::Alert(change) if change.rule == rule && change.state == state => {
            Some(change.clone())
        }
        _ => None,
    })
    .await
}

fn alert<'a>(alerts: &'a Value, rule: &str) -> &'a Value {
    alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|alert| alert["rule"] == rule)
        .unwrap_or_else(|| panic!("no rule {rule} in {alerts}"))
}

#[tokio::test]
async fn a_target_down_fires_notifies_and_resolves() {
    let up = Upstream::start("up").await;
    let mut hook = Receiver::start(&[]).await;
    let mut manager = Receiver::start(&[]).await;
    let gateway = TestGateway::start(json!({
        "routes": [{
            "name": "api", "path": "/*", "targets": [up.url()],
            "health_check": {"path": "/health", "interval_ms": 100, "timeout_ms": 100,
                             "healthy_threshold": 1, "unhealthy_threshold": 1},
        }],
        "alerts": {
            "rules": [{"name": "backend-down", "metric": "targets_down", "route": "api",
                       "above": 0, "resolve_for_s": 1, "severity": "critical",
                       "notify": ["ops", "am"]}],
            "notifiers": [
                {"name": "ops", "kind": "webhook", "url": hook.url("/gw"),
                 "headers": {"Authorization": "Bearer hook-secret"}},
                {"name": "am", "kind": "alertmanager", "url": manager.url("")},
            ],
        },
    }))
    .await;
    let mut live = gateway.live();
    let (_, alerts) = get_json(&gateway.api("/api/alerts")).await;
    assert_eq!(alert(&alerts, "backend-down")["state"], "inactive");

    // The target goes away: its port refuses connections.
    let addr = up.kill().await;
    let fired = next_change(&mut live, "backend-down", AlertState::Firing).await;
    assert_eq!(fired.value, Some(1.0));
    assert_eq!(fired.firing_now, 1);
    let firing = hook.next(WAIT).await;
    assert_eq!(firing.path, "/gw");
    assert_eq!(firing.headers["authorization"], "Bearer hook-secret");
    let body = &firing.body;
    assert_eq!(body["rule"], "backend-down");
    assert_eq!(body["state"], "firing");
    assert_eq!(body["severity"], "critical");
    assert_eq!(body["metric"], "targets_down");
    assert_eq!(body["scope"], "route api");
    assert_eq!(body["value"], 1.0);
    assert_eq!(body["threshold"], 0.0);
    assert_eq!(body["comparison"], "above");
    assert!(body["started_at"].is_string(), "{body}");
    assert!(body["resolved_at"].is_null(), "{body}");
    assert!(
        body["dashboard_url"].as_str().unwrap().ends_with("/alerts"),
        "{body}"
    );
    // Alertmanager's API v2: an array of postable alerts.
    let posted = manager.next(WAIT).await;
    assert_eq!(posted.path, "/api/v2/alerts");
    let am = &posted.body[0];
    assert_eq!(am["labels"]["alertname"], "backend-down");
    assert_eq!(am["labels"]["severity"], "critical");
    assert!(
        am["startsAt"].is_string() && am.get("endsAt").is_none_or(Value::is_null),
        "{am}"
    );

    let (_, alerts) = get_json(&gateway.api("/api/alerts")).await;
    let now = alert(&alerts, "backend-down");
    assert_eq!(now["state"], "firing");
    assert_eq!(now["value"], 1.0);
    assert!(now["since"].is_string());
    let (_, _, metrics) = get(&gateway.api("/metrics")).await;
    assert!(
        metrics.contains(r#"gatewatch_alerts_firing{rule="backend-down",severity="critical"} 1"#),
        "{metrics}"
    );

    // Back on the same address.
    let _up = Upstream::start_at("up", addr).await;
    let resolved = next_change(&mut live, "backend-down", AlertState::Resolved).await;
    assert_eq!(resolved.started_at, fired.started_at);
    assert_eq!(resolved.firing_now, 0);
    let resolved = hook.next(WAIT).await;
    assert_eq!(resolved.body["state"], "resolved");
    assert!(
        resolved.body["resolved_at"].is_string(),
        "{}",
        resolved.body
    );
    let posted = loop {
        // Firing alerts are sent again to Alertmanager each minute; the resolve ends them.
        let posted = manager.next(WAIT).await;
        if posted.body[0]["endsAt"].is_string() {
            break posted;
        }
    };
    assert_eq!(posted.body[0]["labels"]["alertname"], "backend-down");

    // Both changes are in the history, newest first.
    let (status, history) = get_json(&gateway.api("/api/alerts/history?rule=backend-down")).await;
    assert_eq!(status, 200, "{history}");
    let states: Vec<&str> = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["resolved", "firing"], "{history}");
    let (_, notifiers) = get_json(&gateway.api("/api/alerts")).await;
    let ops = &notifiers["notifiers"][0];
    assert_eq!(
        (ops["name"].as_str(), ops["delivered"].as_u64()),
        (Some("ops"), Some(2))
    );
    let (status, bad) = get_json(&gateway.api("/api/alerts/history?state=exploded")).await;
    assert_eq!(status, 400, "{bad}");
}

#[tokio::test]
async fn a_failing_receiver_is_retried_and_a_test_notification_reports_its_outcome() {
    let mut hook = Receiver::start(&[500]).await;
    let gateway = TestGateway::start(json!({
        "alerts": {
            "rules": [{"name": "always", "metric": "requests_per_second", "below": 1e9,
                       "notify": ["ops"]}],
            "notifiers": [{"name": "ops", "kind": "webhook", "url": hook.url("/hook"),
                           "retries": 2}],
        },
    }))
    .await;
    // The first attempt is answered 500, the retry 200.
    let first = hook.next(3 * WAIT).await;
    let retry = hook.next(3 * WAIT).await;
    assert_eq!(first.body["rule"], "always");
    assert_eq!(retry.body, first.body, "the same notification again");
    let mut delivered = Value::Null;
    for _ in 0..100 {
        let (_, alerts) = get_json(&gateway.api("/api/alerts")).await;
        delivered = alerts["notifiers"][0].clone();
        if delivered["delivered"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(delivered["delivered"], 1, "{delivered}");
    assert_eq!(delivered["failed"], 0, "{delivered}");
    assert!(
        delivered["last_error"].as_str().unwrap().contains("500"),
        "{delivered}"
    );

    let (status, outcome) = post_json(&gateway, "/api/alerts/test?notifier=ops", json!({})).await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["delivered"], true);
    let test = hook.next(WAIT).await;
    assert_eq!(test.body["test"], true, "{}", test.body);
    let (status, _) = post_json(&gateway, "/api/alerts/test?notifier=nobody", json!({})).await;
    assert_eq!(status, 404);
    // A write from another site is refused before it does anything.
    let refused = client()
        .post(gateway.api("/api/alerts/test?notifier=ops"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
}

#[tokio::test]
async fn a_silenced_rule_fires_but_sends_nothing() {
    let mut hook = Receiver::start(&[]).await;
    let up = Upstream::start("up").await;
    let gateway = TestGateway::start(json!({
        "routes": [{"name": "api", "path": "/*", "targets": [up.url()],
                    "health_check": {"path": "/health", "interval_ms": 100, "timeout_ms": 100,
                                     "healthy_threshold": 1, "unhealthy_threshold": 1}}],
        "alerts": {
            // Both fire at the same evaluation, in this order, through one queue: had the
            // silenced one been sent, it would arrive first.
            "rules": [
                {"name": "quiet", "metric": "targets_down", "route": "api", "above": 0,
                 "notify": ["ops"]},
                {"name": "loud", "metric": "targets_down", "above": 0, "notify": ["ops"]},
            ],
            "notifiers": [{"name": "ops", "kind": "webhook", "url": hook.url("/hook")}],
        },
    }))
    .await;
    let (status, silence) = post_json(
        &gateway,
        "/api/alerts/silences",
        json!({"rule": "quiet", "duration_s": 3600, "comment": "deploy"}),
    )
    .await;
    assert_eq!(status, 201, "{silence}");
    assert_eq!(silence["created_by"], "local");
    for (body, reason) in [
        (json!({"rule": "nope", "duration_s": 3600}), "rule"),
        (
            json!({"rule": "quiet", "route": "api", "duration_s": 3600}),
            "exactly one",
        ),
        (json!({"rule": "quiet", "duration_s": 1}), "duration_s"),
    ] {
        let (status, error) = post_json(&gateway, "/api/alerts/silences", body).await;
        assert_eq!(status, 422, "{error}");
        assert!(error["error"].as_str().unwrap().contains(reason), "{error}");
    }
    let (status, _) = post_json(&gateway, "/api/alerts/silences", json!({"duration": 5})).await;
    assert!((400..500).contains(&status), "{status}");

    let mut live = gateway.live();
    up.set_healthy(false);
    let quiet = next_change(&mut live, "quiet", AlertState::Firing).await;
    assert!(quiet.silenced);
    let sent = hook.next(WAIT).await;
    assert_eq!(sent.body["rule"], "loud", "the silenced rule sent nothing");
    let (_, alerts) = get_json(&gateway.api("/api/alerts")).await;
    let quiet = alert(&alerts, "quiet");
    assert_eq!(quiet["state"], "firing");
    assert!(quiet["silenced_until"].is_string(), "{quiet}");
    assert_eq!(alerts["silences"][0]["comment"], "deploy");

    // Ending the silence while it still fires sends the firing notification then.
    let id = silence["id"].as_u64().unwrap();
    let response = client()
        .delete(gateway.api(&format!("/api/alerts/silences/{id}")))
        .header("origin", gateway.api("").trim_end_matches('/'))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let sent = hook.next(WAIT).await;
    assert_eq!(sent.body["rule"], "quiet");
    assert_eq!(sent.body["state"], "firing");

    let (_, audit) = get_json(&gateway.api("/api/audit?action=alerts.silence")).await;
    assert_eq!(audit["entries"].as_array().unwrap().len(), 1, "{audit}");
    let (_, audit) = get_json(&gateway.api("/api/audit?action=alerts.unsilence")).await;
    assert_eq!(audit["entries"].as_array().unwrap().len(), 1, "{audit}");
}

#[tokio::test]
async fn history_and_firing_alerts_survive_a_restart() {
    let gateway = TestGateway::start(json!({
        "history": {"path": "history.db"},
        "alerts": {"rules": [{"name": "always", "metric": "requests_per_second", "below": 1e9,
                              "severity": "info"}]},
    }))
    .await;
    let mut live = gateway.live();
    let fired = next_change(&mut live, "always", AlertState::Firing).await;
    // Stored by a thread of its own: the history shows it once written.
    let mut stored = Value::Null;
    for _ in 0..250 {
        let (_, history) = get_json(&gateway.api("/api/alerts/history")).await;
        if !history["entries"].as_array().unwrap().is_empty() {
            stored = history;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(stored["entries"][0]["state"], "firing", "{stored}");

    let gateway = gateway.restart().await;
    let (_, history) = get_json(&gateway.api("/api/alerts/history?severity=info")).await;
    assert_eq!(history["entries"][0]["rule"], "always", "{history}");
    let (_, alerts) = get_json(&gateway.api("/api/alerts")).await;
    let always = alert(&alerts, "always");
    assert_eq!(always["state"], "firing", "still firing after the restart");
    assert_eq!(
        always["since"]
            .as_str()
            .map(|since| since.parse::<chrono::DateTime<chrono::Utc>>().unwrap()),
        fired.started_at,
        "since it first fired"
    );
}
