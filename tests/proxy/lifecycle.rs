//! WebSockets through the proxy, hot reload (valid and invalid files, in-flight work kept), and
//! graceful shutdown.

use crate::support::*;
use futures_util::{SinkExt, StreamExt};
use gatewatch::server::proxy::event::ProxyEvent;
use gatewatch::views::{ConfigReload, LiveEvent};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(5);

async fn next_reload(live: &mut tokio::sync::broadcast::Receiver<LiveFrame>) -> ConfigReload {
    next_matching(live, WAIT, |event| match event.event() {
        LiveEvent::ConfigReload(report) => Some(report.clone()),
        _ => None,
    })
    .await
}

fn write_config(gateway: &TestGateway, config: &serde_json::Value) {
    let mut config = config.clone();
    let object = config.as_object_mut().unwrap();
    object.insert(
        "listen".into(),
        gateway.running.proxy_addr.to_string().into(),
    );
    object.insert(
        "dashboard".into(),
        json!({"listen": gateway.running.dashboard_addr.to_string()}),
    );
    std::fs::write(
        &gateway.config_path,
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .unwrap();
}

#[tokio::test]
async fn websocket_frames_pass_both_ways_and_close_propagates() {
    let upstream = Upstream::start("ws").await;
    let gateway = TestGateway::start(json!({"routes": [
        {"name": "ws", "path": "/ws", "websocket": true, "targets": [upstream.url()]},
    ]}))
    .await;
    let mut events = gateway.events();
    let url = format!("ws://{}/ws", gateway.running.proxy_addr);
    let (mut socket, response) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("upgrade through the proxy");
    assert_eq!(response.status(), 101);
    assert!(response.headers().contains_key("x-request-id"));
    for text in ["hello", "world"] {
        socket.send(Message::text(text)).await.unwrap();
        assert_eq!(socket.next().await.unwrap().unwrap(), Message::text(text));
    }
    socket.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(
        socket.next().await.unwrap().unwrap(),
        Message::binary(vec![1, 2, 3])
    );
    socket.close(None).await.unwrap();
    // The upstream ends the connection after the close; the client sees the end of the stream
    // and then closes its TCP connection, as browsers do.
    let rest = tokio::time::timeout(WAIT, async {
        while let Some(message) = socket.next().await {
            if message.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(rest.is_ok(), "close propagated");
    drop(socket);

    let session = next_matching(&mut events, WAIT, |e| match &**e {
        ProxyEvent::WebSocket(session) => Some(session.clone()),
        _ => None,
    })
    .await;
    assert_eq!(&*session.route, "ws");
    assert!(
        session.bytes_from_client > 0 && session.bytes_from_upstream > 0,
        "{session:?}"
    );
    assert_eq!(session.error, None);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn websocket_upgrades_are_refused_on_routes_without_websocket() {
    let upstream = Upstream::start("plain").await;
    let gateway = TestGateway::start(
        json!({"routes": [{"name": "plain", "path": "*", "targets": [upstream.url()]}]}),
    )
    .await;
    // The upstream's `/ws` upgrades any request carrying the upgrade headers, and answers 400
    // (an answer the proxy never makes itself) only when none reached it.
    let url = format!("ws://{}/ws", gateway.running.proxy_addr);
    match tokio_tungstenite::connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400, "{response:?}");
        }
        other => panic!("expected the upstream's 400, got {other:?}"),
    }
    // What the upstream got, echoed: the rest of the request, without the upgrade.
    let response = client()
        .get(gateway.url("/echo"))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let echo: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let sent = &echo["headers"];
    assert_eq!(sent.get("upgrade"), None, "{sent}");
    let connection = sent.get("connection").and_then(|v| v.as_str());
    assert!(
        connection.is_none_or(|value| !value.to_ascii_lowercase().contains("upgrade")),
        "{sent}"
    );
    assert_eq!(sent["sec-websocket-key"], "dGhlIHNhbXBsZSBub25jZQ==");
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn hot_reload_applies_valid_changes_and_keeps_serving_through_invalid_ones() {
    let (old, new) = (Upstream::start("old").await, Upstream::start("new").await);
    let first = json!({"routes": [
        {"name": "main", "path": "*", "targets": [old.url()]},
        {"name": "ws", "path": "/ws", "websocket": true, "targets": [old.url()]},
    ]});
    let gateway = TestGateway::start(first.clone()).await;
    let mut live = gateway.live();

    // Open work that must survive the reload: a request the old upstream holds until the reload
    // has landed, and a WebSocket.
    let held = tokio::spawn(client().get(gateway.url("/hold/reload")).send());
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws", gateway.running.proxy_addr))
            .await
            .unwrap();
    old.wait_for_holds(1, WAIT).await;

    write_config(
        &gateway,
        &json!({"routes": [
            {"name": "main", "path": "*", "targets": [new.url()]},
            {"name": "ws", "path": "/ws", "websocket": true, "targets": [old.url()]},
        ]}),
    );
    let report = next_reload(&mut live).await;
    assert!(report.applied, "{report:?}");
    assert_eq!(report.trigger, "file change");
    assert_eq!(
        report.warnings,
        Vec::<String>::new(),
        "the bound addresses did not change"
    );
    let (_, headers, _) = get(&gateway.url("/")).await;
    assert_eq!(headers["x-upstream"], "new");
    assert!(!held.is_finished(), "still in flight after the reload");

    old.release();
    let held = held.await.unwrap().unwrap();
    assert_eq!(
        held.status(),
        200,
        "in-flight request finished on the old route"
    );
    assert_eq!(held.text().await.unwrap(), "held /hold/reload at old");
    socket.send(Message::text("still there")).await.unwrap();
    assert_eq!(
        socket.next().await.unwrap().unwrap(),
        Message::text("still there")
    );

    std::fs::write(
        &gateway.config_path,
        r#"{"routes": [{"name": "main", "path": "*", "targets": ["127.0.0.1:1"]}, {"name": "x", "path": "*", "targets": []}]}"#,
    )
    .unwrap();
    let report = next_reload(&mut live).await;
    assert!(!report.applied);
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.starts_with("routes[0].targets[0]: not an absolute http(s) URL")),
        "{:?}",
        report.errors
    );
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.starts_with("routes[1].targets: must list at least one target"))
    );
    assert_eq!(
        gateway.running.gateway.status().last_reload,
        Some(report),
        "kept for the dashboard"
    );
    let (_, _, page) = get(&format!("http://{}/", gateway.running.dashboard_addr)).await;
    assert!(
        page.contains("reload rejected at"),
        "overview shows the rejection"
    );
    assert!(
        page.contains("routes[0].targets[0]: not an absolute http(s) URL"),
        "with its first error"
    );
    let (status, headers, _) = get(&gateway.url("/")).await;
    assert_eq!(
        (status.as_u16(), headers["x-upstream"].to_str().unwrap()),
        (200, "new"),
        "old config keeps serving"
    );

    std::fs::write(&gateway.config_path, "{ not json").unwrap();
    let report = next_reload(&mut live).await;
    assert!(!report.applied, "{report:?}");
    assert!(
        report.errors[0].starts_with("(root): key must be a string (line 1, column 3)"),
        "{report:?}"
    );
    assert_eq!(get(&gateway.url("/")).await.0, 200);
    socket.close(None).await.unwrap();
    drop(socket);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn reloaded_listen_dashboard_and_history_changes_wait_for_a_restart() {
    let upstream = Upstream::start("kept").await;
    let routes = json!([{"name": "main", "path": "*", "targets": [upstream.url()]}]);
    let gateway = TestGateway::start(json!({"routes": routes})).await;
    let (proxy, dashboard) = (gateway.running.proxy_addr, gateway.running.dashboard_addr);
    let (new_proxy, new_dashboard) = (closed_port().await, closed_port().await);
    let mut live = gateway.live();
    std::fs::write(
        &gateway.config_path,
        serde_json::to_vec_pretty(&json!({
            "listen": new_proxy.to_string(),
            "dashboard": {"listen": new_dashboard.to_string()},
            "history": {"retention_days": 3},
            "routes": routes,
        }))
        .unwrap(),
    )
    .unwrap();
    let report = next_reload(&mut live).await;
    assert!(report.applied, "{report:?}");
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(
        report.warnings,
        [
            format!(
                "listen: changed to {new_proxy} but the proxy keeps listening on {proxy} until restarted"
            ),
            format!(
                "dashboard.listen: changed to {new_dashboard} but the dashboard keeps listening on {dashboard} until restarted"
            ),
            "history: changes to the history database take effect when gatewatch restarts"
                .to_string(),
        ]
    );
    assert_eq!(
        report.changes,
        ["settings changed: listen, dashboard, history"]
    );
    assert_eq!(gateway.running.gateway.last_reload(), Some(report));

    // Both still serve where they were bound; nothing listens at the new addresses.
    let (status, headers, _) = get(&gateway.url("/")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-upstream"], "kept");
    let (status, _) = get_json(&gateway.api("/api/routes")).await;
    assert_eq!(status, 200);
    for addr in [new_proxy, new_dashboard] {
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "{addr} is not listened on before a restart"
        );
    }
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests_and_stops_accepting() {
    let upstream = Upstream::start("slow").await;
    let gateway = TestGateway::start(
        json!({"routes": [{"name": "s", "path": "*", "targets": [upstream.url()]}]}),
    )
    .await;
    let addr = gateway.running.proxy_addr;
    let held = tokio::spawn(client().get(gateway.url("/hold/drain")).send());
    upstream.wait_for_holds(1, WAIT).await;
    let shutting_down = gateway.running.gateway.shutdown_token().clone();
    let stopping = tokio::spawn(gateway.stop(WAIT));
    // The shutdown has begun with the request still held upstream; only then may it finish.
    shutting_down.cancelled().await;
    upstream.release();
    let response = held
        .await
        .unwrap()
        .expect("in-flight request completes during the drain");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "held /hold/drain at slow");
    assert!(stopping.await.unwrap(), "drained within the bound");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn shutdown_cuts_what_outlives_the_drain_bound() {
    let upstream = Upstream::start("ws").await;
    let gateway = TestGateway::start(json!({"routes": [
        {"name": "ws", "path": "/ws", "websocket": true, "targets": [upstream.url()]},
    ]}))
    .await;
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws", gateway.running.proxy_addr))
            .await
            .unwrap();
    let started = std::time::Instant::now();
    assert!(
        !gateway.stop(Duration::from_millis(300)).await,
        "an open WebSocket outlives the drain"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    let ended = tokio::time::timeout(WAIT, async {
        while let Some(Ok(_)) = socket.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the tunnel was closed");
}
