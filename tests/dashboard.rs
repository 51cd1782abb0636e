//! The running gateway end to end over real loopback sockets: the server-rendered dashboard, a
//! server function round trip, the live WebSocket, graceful shutdown.

use futures_util::StreamExt;
use gatewatch::server::config;
use gatewatch::server::runtime::{self, RunningGateway};
use gatewatch::views::{GatewayStatus, LiveEvent};
use std::path::PathBuf;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

async fn start_gateway() -> RunningGateway {
    let config =
        config::parse(r#"{"listen": "127.0.0.1:0", "dashboard": {"listen": "127.0.0.1:0"}}"#)
            .expect("valid config");
    runtime::start(config, PathBuf::from("tests/fixtures/e2e.json"))
        .await
        .expect("gateway starts")
}

#[tokio::test]
async fn overview_page_is_server_rendered_with_live_data() {
    let gateway = start_gateway().await;
    let url = format!("http://{}/", gateway.dashboard_addr);
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html:.200}");
    // Server data is in the first response: no client round trip needed to show it.
    assert!(
        html.contains(&gateway.proxy_addr.to_string()),
        "proxy address rendered"
    );
    assert!(
        html.contains("tests/fixtures/e2e.json"),
        "config path rendered"
    );
    assert!(html.contains(r#"data-testid="uptime""#));
    assert!(
        html.contains("/pkg/gatewatch.js"),
        "hydration script referenced"
    );
    assert!(gateway.shutdown(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn unknown_dashboard_path_is_a_404_page() {
    let gateway = start_gateway().await;
    let response = reqwest::get(format!("http://{}/no/such/page", gateway.dashboard_addr))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));
    assert!(gateway.shutdown(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn status_server_function_round_trips() {
    let gateway = start_gateway().await;
    let response = reqwest::Client::new()
        .post(format!("http://{}/api/fn/status", gateway.dashboard_addr))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", format!("http://{}", gateway.dashboard_addr))
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let status: GatewayStatus = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(status.proxy_listen, gateway.proxy_addr.to_string());
    assert_eq!(status.dashboard_listen, gateway.dashboard_addr.to_string());
    assert_eq!(status.version, env!("CARGO_PKG_VERSION"));
    assert!(gateway.shutdown(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn live_socket_pushes_uptime_ticks_and_closes_on_shutdown() {
    let gateway = start_gateway().await;
    let url = format!("ws://{}/api/live", gateway.dashboard_addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("upgrade");

    let mut uptimes = Vec::new();
    while uptimes.len() < 2 {
        // Ticks come each second: 5 s leaves a busy machine room.
        let frame = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a tick within 5 s")
            .expect("socket open")
            .expect("frame");
        let Message::Text(text) = frame else { continue };
        // Other events (metrics, log lines) interleave with the ticks.
        if let LiveEvent::Tick(tick) = serde_json::from_str(&text).expect("a live event") {
            uptimes.push(tick.uptime_secs);
        }
    }
    assert!(
        uptimes[1] >= uptimes[0],
        "uptime never goes back: {uptimes:?}"
    );

    // An open socket does not hold shutdown up: the server closes it with a close frame (a
    // connection merely dropped would end the stream without one).
    let shutdown = tokio::spawn(gateway.shutdown(Duration::from_secs(5)));
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(frame)) = socket.next().await {
            if frame.is_close() {
                return true;
            }
        }
        false
    })
    .await
    .expect("socket closed by the server");
    assert!(closed, "the server sent a close frame");
    assert!(shutdown.await.unwrap(), "drained in time");
}

#[tokio::test]
async fn start_fails_clearly_when_the_address_is_taken() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap();
    let config = config::parse(&format!(
        r#"{{"listen": "127.0.0.1:0", "dashboard": {{"listen": "{addr}"}}}}"#
    ))
    .unwrap();
    let Err(error) = runtime::start(config, PathBuf::from("x.json")).await else {
        panic!("started on a taken address");
    };
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot listen on {addr} (dashboard.listen): ")),
        "{error}"
    );
}

/// A gateway on a config file in a temporary directory (so the config page can read it), its
/// history there too unless `history` is false.
async fn start_gateway_in_dir(history: bool) -> (RunningGateway, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let text = format!(
        r#"{{"listen": "127.0.0.1:0", "dashboard": {{"listen": "127.0.0.1:0"}}, "history": {{"enabled": {history}}}}}"#
    );
    std::fs::write(&path, &text).unwrap();
    let config = config::load(&path).expect("valid config");
    let gateway = runtime::start(config, path).await.expect("gateway starts");
    (gateway, dir)
}

/// The page at `path` as the server renders it (status 200).
/// A page that is not rendered within [`PAGE_DEADLINE`] fails the test, naming it.
async fn page(gateway: &RunningGateway, path: &str) -> String {
    let read = async {
        let response = reqwest::get(format!("http://{}{path}", gateway.dashboard_addr))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        response.text().await.unwrap()
    };
    tokio::time::timeout(PAGE_DEADLINE, read)
        .await
        .unwrap_or_else(|_| panic!("{path} was not rendered within {PAGE_DEADLINE:?}"))
}

/// Far beyond any render on a loaded box: a page this late is a page that never comes.
const PAGE_DEADLINE: Duration = Duration::from_secs(30);

/// Where each of `needles` first occurs in `html`, asserting that they all do, in this order.
fn assert_in_order(html: &str, path: &str, needles: &[&str]) {
    let mut from = 0;
    for needle in needles {
        let Some(at) = html[from..].find(needle) else {
            panic!("{path}: {needle} missing, or not after the previous ones");
        };
        from += at + needle.len();
    }
}

fn testid(id: &str) -> String {
    format!(r#"data-testid="{id}""#)
}

#[tokio::test]
async fn every_page_is_server_rendered_with_its_data() {
    let (gateway, _dir) = start_gateway_in_dir(true).await;
    let pages: [(&str, &[&str]); 7] = [
        (
            "/",
            &[
                "range-picker",
                "refresh-status",
                "card-rps",
                "card-error-rate",
                "card-latency",
                "card-connections",
                "card-websockets",
                "card-cpu",
                "card-memory",
                "uptime",
                "card-totals",
                "chart-rps",
                "chart-latency",
                "chart-errors",
                "empty-state",
                "proxy-listen",
                "dashboard-listen",
                "proxy-summary",
                "config-path",
                "last-reload",
                "generated-at",
            ],
        ),
        (
            "/?range=1h&compare=1",
            &[
                "compare-toggle",
                "card-totals",
                "chart-rps",
                "chart-latency",
                "chart-errors",
                "generated-at",
            ],
        ),
        (
            "/requests",
            &["filters", "live-note", "requests-table", "no-requests"],
        ),
        ("/routes", &["empty-state"]),
        ("/models", &["empty-state"]),
        ("/logs", &["log-level", "log-search", "log-lines"]),
        ("/config", &["edit-form", "config-check", "config-apply"]),
    ];
    for (path, ids) in pages {
        let html = page(&gateway, path).await;
        let ids: Vec<String> = ids.iter().map(|id| testid(id)).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        assert_in_order(&html, path, &ids);
        // The server renders every page with its data: never the loading fallback, no error.
        assert!(!html.contains("Loading…"), "{path} rendered its fallback");
        assert!(
            !html.contains(&testid("load-error")),
            "{path} failed to read"
        );
    }
    let overview = page(&gateway, "/?range=1h&compare=1").await;
    assert!(
        overview.contains("p95, previous period"),
        "the previous period is overlaid"
    );
    assert!(gateway.shutdown(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn a_failed_read_says_what_could_not_be_read() {
    let (gateway, _dir) = start_gateway_in_dir(false).await;
    let missing = page(&gateway, "/requests/no-such-request").await;
    assert_in_order(
        &missing,
        "/requests/no-such-request",
        &[&testid("load-error"), "Request not found"],
    );
    // Without a history the range shows the error in place of the charts; the rest of the page
    // is there as usual.
    let overview = page(&gateway, "/?range=1h").await;
    assert_in_order(
        &overview,
        "/?range=1h",
        &[
            &testid("card-totals"),
            &testid("load-error"),
            "No history for this range",
            &testid("generated-at"),
        ],
    );
    assert!(!overview.contains(&testid("chart-rps")));
    assert!(gateway.shutdown(Duration::from_secs(5)).await);
}
