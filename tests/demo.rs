//! The built-in demo end to end: demo upstreams and the traffic generator started by a real
//! gateway, seen through the admin API; and no demo at all without a `demo` section.

#[path = "support/mod.rs"]
mod support;

use gatewatch::server::config::{DemoKind, DemoUpstreamConfig};
use gatewatch::server::demo::outage::OutageSchedule;
use gatewatch::server::demo::{llm, traffic, upstream};
use gatewatch::server::proxy::event::{ProxyEvent, RequestEvent};
use gatewatch::views::LiveEvent;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Generous bound for anything that should happen within a second or two.
const WAIT: Duration = Duration::from_secs(20);

/// The shipped config's three demo routes, pointing at demo upstreams on these addresses.
fn demo_routes(catalog: SocketAddr, orders: SocketAddr, llm: SocketAddr) -> Value {
    json!([
        {"name": "demo-catalog", "path": "/api/catalog/*", "targets": [format!("http://{catalog}")]},
        {"name": "demo-orders", "path": "/api/orders/*", "targets": [format!("http://{orders}")]},
        {"name": "demo-llm", "path": "/v1/*", "llm": true, "targets": [format!("http://{llm}")]},
    ])
}

fn demo_upstreams(catalog: SocketAddr, orders: SocketAddr, llm: SocketAddr) -> Value {
    json!([
        {"name": "catalog", "listen": catalog.to_string(), "kind": "api"},
        {"name": "orders", "listen": orders.to_string(), "kind": "flaky"},
        {"name": "llm", "listen": llm.to_string(), "kind": "llm"},
    ])
}

/// Three loopback addresses nothing listens on (yet).
async fn free_addrs() -> (SocketAddr, SocketAddr, SocketAddr) {
    (
        closed_port().await,
        closed_port().await,
        closed_port().await,
    )
}

/// Requests per route, from `/api/routes`.
async fn requests_per_route(gateway: &TestGateway) -> Vec<(String, u64)> {
    let (status, routes) = get_json(&gateway.api("/api/routes")).await;
    assert_eq!(status, 200, "{routes}");
    routes
        .as_array()
        .unwrap()
        .iter()
        .map(|route| {
            let name = route["name"].as_str().unwrap().to_string();
            (name, route["traffic"]["requests"].as_u64().unwrap())
        })
        .collect()
}

/// Waits for the second full metrics tick from now: everything finished before this call has
/// been counted by then.
async fn two_metrics_ticks(gateway: &TestGateway) {
    let mut live = gateway.live();
    for _ in 0..2 {
        next_matching(&mut live, WAIT, |event| {
            matches!(event.event(), LiveEvent::Metrics(_)).then_some(())
        })
        .await;
    }
}

/// Posts a chat completion through the proxy; the demo refuses about 1 % with 429, so a refusal
/// is retried a few times.
async fn chat(gateway: &TestGateway, model: &str, stream: bool) -> reqwest::Response {
    for _ in 0..5 {
        let response = client()
            .post(gateway.url("/v1/chat/completions"))
            .header("user-agent", "demo-test")
            .header("content-type", "application/json")
            .body(
                json!({
                    "model": model,
                    "stream": stream,
                    "messages": [{"role": "user", "content": "How are my services doing?"}],
                })
                .to_string(),
            )
            .send()
            .await
            .unwrap();
        if response.status() != 429 {
            return response;
        }
    }
    panic!("the demo LLM refused five requests in a row");
}

/// The finished request sent with `User-Agent: demo-test`.
async fn our_request(
    events: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<ProxyEvent>>,
) -> RequestEvent {
    next_matching(events, WAIT, |event| match &**event {
        ProxyEvent::Request(request)
            if request
                .user_agent
                .as_ref()
                .is_some_and(|ua| ua == "demo-test") =>
        {
            Some(request.clone())
        }
        _ => None,
    })
    .await
}

#[tokio::test]
async fn demo_upstreams_and_traffic_make_a_living_dashboard() {
    let (catalog, orders, llm_addr) = free_addrs().await;
    let gateway = TestGateway::start(json!({
        "history": {"enabled": false},
        "routes": demo_routes(catalog, orders, llm_addr),
        "demo": {
            "upstreams": demo_upstreams(catalog, orders, llm_addr),
            "traffic": {"requests_per_second": 50},
        },
    }))
    .await;
    assert!(gateway.running.gateway.status().demo);

    // Generated traffic reaches every demo route, and the LLM route counts tokens per model.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let routes = requests_per_route(&gateway).await;
        let (_, models) = get_json(&gateway.api("/api/models")).await;
        let flowing = routes.len() == 3 && routes.iter().all(|(_, requests)| *requests > 0);
        let counted = models.as_array().unwrap().iter().any(|model| {
            model["input_tokens"].as_u64() > Some(0) && model["output_tokens"].as_u64() > Some(0)
        });
        if flowing && counted {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no demo traffic on every route with tokens: {routes:?} {models}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, metrics) = get_json(&gateway.api("/api/metrics")).await;
    assert!(
        metrics["totals"]["requests"].as_u64() > Some(0),
        "{metrics}"
    );
    let (_, models) = get_json(&gateway.api("/api/models")).await;
    for model in models.as_array().unwrap() {
        let name = model["model"].as_str().unwrap();
        assert!(llm::MODELS.contains(&name), "only demo models: {models}");
    }
    // Every generated request says where it comes from.
    let (_, page) = get_json(&gateway.api("/api/requests?limit=50")).await;
    let rows = page["requests"].as_array().unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        assert_eq!(row["user_agent"], traffic::USER_AGENT, "{row}");
        assert_eq!(row["client"], "127.0.0.1", "{row}");
    }

    // A chat completion through the proxy reports its usage, and the gateway reads the same.
    let mut events = gateway.events();
    let response = chat(&gateway, "gpt-4o-mini", false).await;
    assert_eq!(response.status(), 200);
    let answer: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["model"], "gpt-4o-mini");
    assert!(
        !answer["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    let usage = &answer["usage"];
    let (prompt, completion) = (
        usage["prompt_tokens"].as_u64().unwrap(),
        usage["completion_tokens"].as_u64().unwrap(),
    );
    assert!(prompt > 0 && completion > 0, "{answer}");
    assert_eq!(usage["total_tokens"].as_u64(), Some(prompt + completion));
    let recorded = our_request(&mut events).await.llm.expect("usage read");
    assert_eq!(recorded.model, "gpt-4o-mini");
    assert_eq!(
        (recorded.input_tokens, recorded.output_tokens),
        (Some(prompt), Some(completion))
    );
    assert!(!recorded.streamed);

    // Streamed: several chunks, the last one carrying usage, then [DONE].
    let response = chat(&gateway, "llama-3.1-8b", true).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let body = response.text().await.unwrap();
    let data: Vec<&str> = body
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .collect();
    assert!(data.len() >= 5, "several chunks: {body}");
    assert_eq!(data.last(), Some(&"[DONE]"));
    let last: Value = serde_json::from_str(data[data.len() - 2]).unwrap();
    assert_eq!(last["object"], "chat.completion.chunk");
    assert_eq!(last["model"], "llama-3.1-8b");
    let usage = &last["usage"];
    let (prompt, completion) = (
        usage["prompt_tokens"].as_u64().unwrap(),
        usage["completion_tokens"].as_u64().unwrap(),
    );
    assert!(prompt > 0 && completion > 0, "{last}");
    let recorded = our_request(&mut events).await.llm.expect("usage read");
    assert_eq!(recorded.model, "llama-3.1-8b");
    assert_eq!(
        (recorded.input_tokens, recorded.output_tokens),
        (Some(prompt), Some(completion))
    );
    assert!(recorded.streamed);

    // The models list answers through the proxy too.
    let (status, listed) = get_json(&gateway.url("/v1/models")).await;
    assert_eq!(status, 200);
    assert_eq!(listed["data"].as_array().unwrap().len(), llm::MODELS.len());

    // The demo stops with the gateway: its ports close.
    assert!(
        gateway.stop(WAIT).await,
        "clean shutdown with the demo running"
    );
    for addr in [catalog, orders, llm_addr] {
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "{addr} still listening"
        );
    }
}

#[tokio::test]
async fn without_a_demo_section_nothing_demo_runs() {
    let (catalog, orders, llm_addr) = free_addrs().await;
    // The demo routes left behind, the `demo` section removed.
    let gateway = TestGateway::start(json!({
        "history": {"enabled": false},
        "routes": demo_routes(catalog, orders, llm_addr),
    }))
    .await;
    two_metrics_ticks(&gateway).await;
    let (_, metrics) = get_json(&gateway.api("/api/metrics")).await;
    assert_eq!(metrics["totals"]["requests"], 0, "no generated traffic");
    for addr in [catalog, orders, llm_addr] {
        assert!(TcpStream::connect(addr).await.is_err(), "{addr} listening");
    }
    assert!(!gateway.running.gateway.status().demo);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn demo_upstreams_without_traffic_answer_but_send_nothing_and_reloads_switch_the_demo() {
    let (catalog, orders, llm_addr) = free_addrs().await;
    let gateway = TestGateway::start(json!({
        "history": {"enabled": false},
        "routes": demo_routes(catalog, orders, llm_addr),
        "demo": {"upstreams": demo_upstreams(catalog, orders, llm_addr)},
    }))
    .await;
    assert!(gateway.running.gateway.status().demo);
    let (status, items) = get_json(&gateway.url("/api/catalog/items")).await;
    assert_eq!(status, 200);
    assert_eq!(items["items"].as_array().unwrap().len(), 5, "{items}");
    let (status, _, health) = get(&format!("http://{llm_addr}/health")).await;
    assert_eq!((status.as_u16(), health.as_str()), (200, "ok"));
    two_metrics_ticks(&gateway).await;
    let (_, metrics) = get_json(&gateway.api("/api/metrics")).await;
    assert_eq!(
        metrics["totals"]["requests"], 1,
        "only the test's own request"
    );

    // Reloads switch the demo: turning the generator on starts it at once, no restart.
    let mut live = gateway.live();
    let original: Value =
        serde_json::from_slice(&std::fs::read(&gateway.config_path).unwrap()).unwrap();
    let mut with_traffic = original.clone();
    with_traffic["demo"]["traffic"] = json!({"requests_per_second": 20});
    let reload = reload_to(&gateway, &mut live, &with_traffic).await;
    assert!(reload.applied && reload.warnings.is_empty(), "{reload:?}");
    // The generator also sends a few stray paths (404s, no route), so wait for a routed one.
    let demo_traffic = next_matching(&mut live, WAIT, |event| match event.event() {
        LiveEvent::Requests(batch) => batch
            .requests
            .iter()
            .find(|r| r.user_agent.as_deref() == Some(traffic::USER_AGENT) && r.route.is_some())
            .cloned(),
        _ => None,
    })
    .await;
    assert!(demo_traffic.target.is_some(), "{demo_traffic:?}");

    // Removing the section stops it: the upstreams' listeners close and the generator stops.
    let mut without = original.clone();
    without.as_object_mut().unwrap().remove("demo");
    let reload = reload_to(&gateway, &mut live, &without).await;
    assert!(reload.applied, "{reload:?}");
    for addr in [catalog, orders, llm_addr] {
        wait_until(|| async move { TcpStream::connect(addr).await.is_err() }).await;
    }
    assert!(!gateway.running.gateway.status().demo);
    two_metrics_ticks(&gateway).await;
    let (_, before) = get_json(&gateway.api("/api/metrics")).await;
    two_metrics_ticks(&gateway).await;
    let (_, after) = get_json(&gateway.api("/api/metrics")).await;
    assert_eq!(
        before["totals"]["requests"], after["totals"]["requests"],
        "no traffic once the generator stopped"
    );

    // Putting it back starts the upstreams again, on the same ports.
    reload_to(&gateway, &mut live, &original).await;
    wait_until(|| async { TcpStream::connect(llm_addr).await.is_ok() }).await;
    let (status, _, health) = get(&format!("http://{llm_addr}/health")).await;
    assert_eq!((status.as_u16(), health.as_str()), (200, "ok"));
    assert!(gateway.running.gateway.status().demo);
    assert!(gateway.stop(WAIT).await);
}

/// Writes `config` to the gateway's file and returns the reload it caused.
async fn reload_to(
    gateway: &TestGateway,
    live: &mut tokio::sync::broadcast::Receiver<LiveFrame>,
    config: &Value,
) -> gatewatch::views::ConfigReload {
    std::fs::write(&gateway.config_path, config.to_string()).unwrap();
    next_matching(live, WAIT, |event| match event.event() {
        LiveEvent::ConfigReload(reload) => Some(reload.clone()),
        _ => None,
    })
    .await
}

/// Polls `condition` until it holds (a listener closing has no event to wait for).
async fn wait_until<F, Fut>(condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition never held"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_demo_upstream_that_cannot_listen_is_logged_and_left_out() {
    capture_logs();
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let taken_addr = taken.local_addr().unwrap();
    let free = closed_port().await;
    let gateway = TestGateway::start(json!({
        "history": {"enabled": false},
        "demo": {"upstreams": [
            {"name": "squatted", "listen": taken_addr.to_string(), "kind": "api"},
            {"name": "fine", "listen": free.to_string(), "kind": "api"},
        ]},
    }))
    .await;
    let (status, _, body) = get(&format!("http://{free}/health")).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "ok"));
    let (_, logs) = get_json(&gateway.api("/api/logs?level=error&search=squatted")).await;
    let lines = logs["lines"].as_array().unwrap();
    let expected = format!("demo: upstream squatted (api) cannot listen on {taken_addr}");
    assert!(
        lines
            .iter()
            .any(|line| line["message"].as_str().unwrap().starts_with(&expected)),
        "{logs}"
    );
    assert!(gateway.stop(WAIT).await);
}

/// Reads from `stream` until `needle` has arrived.
async fn read_until(stream: &mut TcpStream, needle: &str) {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 1024];
    while !String::from_utf8_lossy(&seen).contains(needle) {
        let read = tokio::time::timeout(WAIT, stream.read(&mut buffer))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(
            read > 0,
            "closed before {needle:?}: {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buffer[..read]);
    }
}

#[tokio::test]
async fn a_flaky_upstream_refuses_connections_during_an_outage_then_returns() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = DemoUpstreamConfig {
        name: "orders".into(),
        listen: addr,
        kind: DemoKind::Flaky,
    };
    // Up for 2 s (one request needs milliseconds), then down for 3 s: the checks of each phase
    // take milliseconds, so a busy machine cannot push one into the next phase.
    let outage = OutageSchedule::new(
        Duration::from_secs(2),
        Duration::from_secs(600),
        Duration::from_secs(3),
    );
    let stop = CancellationToken::new();
    let server = tokio::spawn(upstream::serve_with_outages(
        config,
        listener,
        Some(outage),
        stop.clone(),
    ));

    // Up: it answers on a connection that is then kept open.
    let mut kept = TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nhost: demo\r\n\r\n")
        .await
        .unwrap();
    read_until(&mut kept, "\r\n\r\nok").await;
    // The outage cuts that connection (after closing the port)…
    let read = tokio::time::timeout(WAIT, kept.read(&mut [0u8; 64]))
        .await
        .expect("cut in time");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // …refuses new ones…
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "refused while down"
    );
    // …and it comes back afterwards.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(response) = client().get(format!("http://{addr}/health")).send().await {
            assert_eq!(response.status(), 200);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not back up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    tokio::time::timeout(WAIT, server).await.unwrap().unwrap();
}
