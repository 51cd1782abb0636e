//! The SQLite history: requests and rollups survive a restart, and a history that cannot be
//! written degrades only itself.

use crate::WAIT;
use crate::support::*;
use gatewatch::server::proxy::event::ProxyEvent;
use serde_json::Value;

async fn page(gateway: &TestGateway, query: &str) -> Vec<Value> {
    let (status, body) = get_json(&gateway.api(&format!("/api/requests?limit=1000{query}"))).await;
    assert_eq!(status, 200, "{body}");
    body["requests"].as_array().unwrap().clone()
}

#[tokio::test]
async fn history_survives_a_restart() {
    let up = Upstream::start("up").await;
    let gateway = TestGateway::start(json!({"routes": [
        {"name": "web", "path": "/*", "targets": [up.url()]},
    ]}))
    .await;
    let mut events = gateway.events();
    for i in 0..20 {
        let path = if i % 4 == 0 { "/status/500" } else { "/hello" };
        get(&gateway.url(path)).await;
    }
    for _ in 0..20 {
        next_request(&mut events, WAIT).await;
    }
    let before = page(&gateway, "").await;
    assert_eq!(before.len(), 20);

    // Graceful shutdown flushes the last batch; the new process reads it back.
    let gateway = gateway.restart().await;
    let (_, metrics) = get_json(&gateway.api("/api/metrics")).await;
    assert_eq!(
        metrics["totals"]["requests"], 0,
        "live counters start again"
    );
    let after = page(&gateway, "").await;
    assert_eq!(
        after, before,
        "every request, every field, from the database"
    );
    assert_eq!(page(&gateway, "&status=5xx").await.len(), 5);
    let id = before[3]["request_id"].as_str().unwrap();
    let (status, mut one) = get_json(&gateway.api(&format!("/api/requests/{id}"))).await;
    // Headers are kept in memory only: a request from before the restart has none.
    let headers = one.as_object_mut().unwrap().remove("headers");
    assert_eq!(headers, Some(serde_json::Value::Null));
    assert_eq!((status.as_u16(), &one), (200, &before[3]));

    // New requests continue the sequence, and pages run from the ring into the database.
    let mut events = gateway.events();
    for _ in 0..3 {
        get(&gateway.url("/again")).await;
    }
    for _ in 0..3 {
        next_request(&mut events, WAIT).await;
    }
    let newest_old = before[0]["seq"].as_u64().unwrap();
    let all = page(&gateway, "").await;
    assert_eq!(all.len(), 23);
    assert!(
        all[..3]
            .iter()
            .all(|r| r["path"] == "/again" && r["seq"].as_u64().unwrap() > newest_old)
    );
    assert_eq!(all[3..], before[..]);
    let (_, two) = get_json(&gateway.api("/api/requests?limit=2&cursor=")).await;
    let cursor = two["next_cursor"].as_u64().unwrap();
    let (_, rest) = get_json(&gateway.api(&format!("/api/requests?limit=5&cursor={cursor}"))).await;
    let rest = rest["requests"].as_array().unwrap();
    assert_eq!(
        rest[..],
        all[2..7],
        "a page crossing from memory into the database"
    );

    // The rollups counted the first run's requests.
    let gateway = gateway.restart().await;
    let (status, stats) = get_json(&gateway.api("/api/stats?period=1h&route=web")).await;
    assert_eq!(status, 200, "{stats}");
    let current = &stats["current"];
    assert_eq!(current["requests"], 23);
    assert_eq!(current["errors"], 5);
    assert_eq!(current["status"]["5xx"], 5);
    assert_eq!(stats["series"].as_array().unwrap().len(), 60);
    let in_series: u64 = stats["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(in_series, 23);
    assert_eq!(stats["previous"]["requests"], 0);
    for period in ["5m", "24h", "7d"] {
        let (_, stats) = get_json(&gateway.api(&format!("/api/stats?period={period}"))).await;
        assert_eq!(stats["current"]["requests"], 23, "{period}");
    }
    let (_, other) = get_json(&gateway.api("/api/stats?period=7d&route=elsewhere")).await;
    assert_eq!(other["current"]["requests"], 0);
    let (_, health) = get_json(&gateway.api("/api/health")).await;
    assert_eq!(health["history"]["healthy"], true, "{health}");
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn an_unusable_history_file_degrades_history_not_the_proxy() {
    let up = Upstream::start("up").await;
    let blocker = tempfile::tempdir().unwrap();
    // A regular file where the database's directory should be: it can never be created.
    let file = blocker.path().join("not-a-dir");
    std::fs::write(&file, b"").unwrap();
    let gateway = TestGateway::start(json!({
        "history": {"path": file.join("history.db").display().to_string()},
        "routes": [{"name": "web", "path": "/*", "targets": [up.url()]}],
    }))
    .await;
    let (status, _, _) = get(&gateway.url("/hello")).await;
    assert_eq!(status, 200);
    let (_, health) = get_json(&gateway.api("/api/health")).await;
    assert_eq!(health["history"]["healthy"], false, "{health}");
    let error = health["history"]["last_error"].as_str().unwrap();
    assert!(error.contains("not-a-dir"), "{error}");
    assert_ne!(health["status"], "ok", "{health}");
    let (status, body) = get_json(&gateway.api("/api/stats?period=5m")).await;
    assert_eq!(status, 503);
    assert!(
        body["error"].as_str().unwrap().contains("not-a-dir"),
        "{body}"
    );
    // The live log still works from memory.
    // Events of earlier requests may still be on their way: wait for this one's.
    let mut events = gateway.events();
    get(&gateway.url("/again")).await;
    next_matching(&mut events, WAIT, |event| match &**event {
        ProxyEvent::Request(request) if request.path == "/again" => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(page(&gateway, "&path=/again").await.len(), 1);
    assert!(gateway.stop(WAIT).await);
}
