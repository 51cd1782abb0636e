//! The live WebSocket (`/api/live`): finished requests, 1 Hz metrics, target transitions and log
//! lines reach a subscriber as they happen.

use crate::WAIT;
use crate::support::*;
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next event on `socket` for which `pick` returns something, within 10 s: some come once a
/// second, a transition after two probes a second apart.
async fn next_event<T>(
    socket: &mut Socket,
    what: &str,
    mut pick: impl FnMut(&Value) -> Option<T>,
) -> T {
    tokio::time::timeout(2 * WAIT, async {
        loop {
            match socket.next().await.expect("socket open").expect("frame") {
                Message::Text(text) => {
                    let event: Value = serde_json::from_str(&text).unwrap();
                    if let Some(found) = pick(&event) {
                        return found;
                    }
                }
                Message::Close(_) => panic!("live socket closed"),
                _ => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {what} event in time"))
}

#[tokio::test]
async fn requests_metrics_transitions_and_logs_are_pushed_live() {
    capture_logs();
    let up = Upstream::start("up").await;
    let gateway = TestGateway::start(json!({"routes": [{
        "name": "web", "path": "/*", "targets": [up.url()],
        // The test asserts "no transitions" until it makes the target fail: a probe may take a
        // second, and two failures in a row take it out, so a busy machine cannot.
        "health_check": {"path": "/health", "interval_ms": 1000, "timeout_ms": 1000,
                         "healthy_threshold": 1, "unhealthy_threshold": 2},
    }]}))
    .await;
    let url = gateway.api("/api/live").replace("http://", "ws://");
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    // A new subscriber gets the routes at once, before any tick.
    let first = next_event(&mut socket, "first", |event| Some(event.clone())).await;
    assert_eq!(first["type"], "routes", "{first}");
    assert_eq!(first["routes"][0]["name"], "web");
    assert_eq!(first["routes"][0]["targets"][0]["healthy"], true);

    let response = client()
        .get(gateway.url("/live-check"))
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let request = next_event(&mut socket, "requests", |event| {
        (event["type"] == "requests")
            .then(|| {
                event["requests"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["request_id"] == id.as_str())
                    .cloned()
            })
            .flatten()
    })
    .await;
    assert_eq!(request["path"], "/live-check");
    assert_eq!(request["status"], 200);
    assert_eq!(request["route"], "web");

    let tick = next_event(&mut socket, "metrics", |event| {
        (event["type"] == "metrics").then(|| event.clone())
    })
    .await;
    assert!(tick["requests_total"].as_u64().unwrap() >= 1, "{tick}");
    assert!(tick["point"]["at"].is_string(), "{tick}");
    // Each second the routes come again with their traffic and recent rates.
    let target = next_event(&mut socket, "routes with traffic", |event| {
        let target = &event["routes"][0]["targets"][0];
        (event["type"] == "routes" && target["traffic"]["requests"] == 1).then(|| target.clone())
    })
    .await;
    assert!(target["traffic"]["rps"].as_f64().unwrap() > 0.0, "{target}");
    assert_eq!(target["traffic"]["status"]["2xx"], 1, "{target}");
    assert!(target["transitions"].as_array().unwrap().is_empty());

    up.set_healthy(false);
    // The change arrives as a transition and as a log line, in either order.
    let (mut transition, mut logged) = (None, false);
    while transition.is_none() || !logged {
        next_event(&mut socket, "transition and log", |event| {
            let message = event["message"].as_str().unwrap_or_default();
            if event["type"] == "transition" {
                transition = Some(event.clone());
            } else if event["type"] == "log"
                && message.contains("target unhealthy")
                && message.contains(&up.url())
            {
                logged = true;
            } else {
                return None;
            }
            Some(())
        })
        .await;
    }
    let transition = transition.unwrap();
    assert_eq!(transition["route"], "web");
    assert_eq!(transition["target"], up.url().as_str());
    assert_eq!(
        (&transition["kind"], &transition["from"], &transition["to"]),
        (&json!("health"), &json!("healthy"), &json!("unhealthy"))
    );
    // And in the routes' transition timeline.
    let (_, routes) = get_json(&gateway.api("/api/routes")).await;
    let target = &routes[0]["targets"][0];
    assert_eq!(target["healthy"], false);
    assert_eq!(routes[0]["all_targets_down"], true);
    assert_eq!(target["transitions"][0]["to"], "unhealthy", "{target}");
    assert!(gateway.stop(WAIT).await);
}
