//! The live WebSocket (`/api/live`): finished requests, 1 Hz metrics, target transitions and log
//! lines reach a subscriber as they happen.

use crate::WAIT;
use crate::support::*;
use futures_util::StreamExt;
use gatewatch::server::gateway::recorder::LIVE_BATCH_MAX;
use gatewatch::server::proxy::event::{ProxyEvent, RequestEvent};
use gatewatch::views::{LiveEvent, RequestBatch};
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

/// Live `requests` batches until they account for `sent` requests (listed plus omitted).
async fn batches_accounting_for(
    live: &mut tokio::sync::broadcast::Receiver<LiveFrame>,
    sent: usize,
) -> Vec<RequestBatch> {
    let mut batches: Vec<RequestBatch> = Vec::new();
    let accounted = |batches: &[RequestBatch]| -> usize {
        batches
            .iter()
            .map(|batch| batch.requests.len() + batch.omitted as usize)
            .sum()
    };
    while accounted(&batches) < sent {
        batches.push(
            next_matching(live, WAIT, |event| match event.event() {
                LiveEvent::Requests(batch) => Some(batch.clone()),
                _ => None,
            })
            .await,
        );
    }
    assert_eq!(
        accounted(&batches),
        sent,
        "every request accounted for once"
    );
    for batch in &batches {
        assert!(
            batch.requests.len() <= LIVE_BATCH_MAX,
            "a batch of {} requests",
            batch.requests.len()
        );
    }
    batches
}

#[tokio::test]
async fn a_burst_larger_than_a_batch_is_published_capped_with_the_rest_counted() {
    const SENT: usize = 250;
    let gateway = TestGateway::start(json!({"history": {"enabled": false}})).await;
    let mut live = gateway.live();
    // Finished requests handed to the running gateway's recorder the way the proxy hands them.
    // The recorder runs on this test's single-threaded runtime, and this loop never yields: all
    // of them are waiting when the recorder next drains, so they make one batch. (On a
    // multi-threaded runtime the loop would still take microseconds against a batch interval
    // of 100 ms: at most one batch boundary inside it, one side holding at least 125.)
    let sink = &gateway.running.gateway.proxy().core().events;
    for n in 0..SENT {
        sink.record(ProxyEvent::Request(RequestEvent::arrived(
            format!("burst-{n}").into(),
            hyper::Method::GET,
            "/burst".into(),
            std::net::IpAddr::from([127, 0, 0, 1]),
        )));
    }
    let batches = batches_accounting_for(&mut live, SENT).await;
    assert_eq!(batches.len(), 1, "{batches:?}");
    let batch = &batches[0];
    assert_eq!(batch.requests.len(), LIVE_BATCH_MAX);
    assert_eq!(batch.omitted, (SENT - LIVE_BATCH_MAX) as u64);
    // The newest are kept, oldest first.
    let listed: Vec<&str> = batch
        .requests
        .iter()
        .map(|r| r.request_id.as_str())
        .collect();
    let newest: Vec<String> = (SENT - LIVE_BATCH_MAX..SENT)
        .map(|n| format!("burst-{n}"))
        .collect();
    assert_eq!(listed, newest);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn live_batches_of_proxied_traffic_stay_capped_and_account_for_every_request() {
    const CONNECTIONS: usize = 3;
    const PER_CONNECTION: usize = 100;
    const SENT: usize = CONNECTIONS * PER_CONNECTION;
    let up = Upstream::start("up").await;
    let gateway = TestGateway::start(json!({
        "history": {"enabled": false},
        "routes": [{"name": "web", "path": "/*", "targets": [up.url()]}],
    }))
    .await;
    let mut live = gateway.live();
    // All held by the upstream, then released at once: they finish together, far faster than
    // a batch interval would take them one by one (whether one batch gets more than 100 depends
    // on the machine's speed, so only the cap and the accounting are asserted).
    let mut requests = Vec::new();
    for _ in 0..CONNECTIONS {
        let sender = h2c_connect(gateway.running.proxy_addr).await;
        for i in 0..PER_CONNECTION {
            let (mut sender, url) = (sender.clone(), gateway.url(&format!("/hold/{i}")));
            requests.push(tokio::spawn(
                async move { h2c_get(&mut sender, &url).await },
            ));
        }
    }
    up.wait_for_holds(SENT, WAIT).await;
    up.release();
    for request in requests {
        assert_eq!(request.await.unwrap().0.status, 200);
    }
    let batches = batches_accounting_for(&mut live, SENT).await;
    for record in batches.iter().flat_map(|batch| &batch.requests) {
        assert!(record.path.starts_with("/hold/"), "{record:?}");
    }
    assert!(gateway.stop(WAIT).await);
}
