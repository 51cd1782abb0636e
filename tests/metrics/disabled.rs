//! `metrics.enabled: false` end to end: the proxy forwards as usual and records nothing — no
//! metrics, no request log, no live batches, no Prometheus request samples, no history.

use crate::WAIT;
use crate::support::*;
use gatewatch::views::LiveEvent;

#[tokio::test]
async fn with_metrics_disabled_requests_are_proxied_and_nothing_is_recorded() {
    let up = Upstream::start("up").await;
    // History is left at its default (on): recording off must keep it off too.
    let gateway = TestGateway::start(json!({
        "metrics": {"enabled": false},
        "routes": [{"name": "web", "path": "/*", "targets": [up.url()]}],
    }))
    .await;
    let mut live = gateway.live();
    for i in 0..5 {
        let (status, headers, body) = get(&gateway.url(&format!("/quiet/{i}"))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(headers["x-upstream"], "up");
        assert!(headers.contains_key("x-request-id"));
    }
    assert_eq!(up.requests(), 5);

    // Had they been recorded, their batch would be published within a drain (20 ms) of their
    // end, and the metrics tick of the second after would count them: two ticks pass first.
    let mut ticks = 0;
    while ticks < 2 {
        let event = next_matching(&mut live, WAIT, |event| match event.event() {
            LiveEvent::Requests(_) | LiveEvent::Metrics(_) => Some(event.event().clone()),
            _ => None,
        })
        .await;
        match event {
            LiveEvent::Metrics(tick) => {
                assert_eq!(tick.requests_total, 0, "{tick:?}");
                ticks += 1;
            }
            batch => panic!("a live batch was published: {batch:?}"),
        }
    }

    let (status, metrics) = get_json(&gateway.api("/api/metrics")).await;
    assert_eq!(status, 200);
    assert_eq!(metrics["totals"]["requests"], 0, "{metrics}");
    assert_eq!(metrics["totals"]["errors"], 0, "{metrics}");
    let (status, page) = get_json(&gateway.api("/api/requests")).await;
    assert_eq!(status, 200);
    assert_eq!(page["requests"], json!([]), "{page}");
    let (status, _, prometheus) = get(&gateway.api("/metrics")).await;
    assert_eq!(status, 200);
    let samples: Vec<&str> = prometheus
        .lines()
        .filter(|line| line.starts_with("gatewatch_requests_total"))
        .collect();
    assert_eq!(samples, Vec::<&str>::new());
    let (status, _) = get_json(&gateway.api("/api/stats?period=5m")).await;
    assert_eq!(status, 503, "no history to read");

    // After a graceful stop (which flushes whatever the history had), the database file holds
    // at most the audit log and the alert history (kept there whether or not anything is
    // recorded): no request history.
    let TestGateway { running, dir, .. } = gateway;
    assert!(running.shutdown(WAIT).await);
    let database = dir.path().join("gatewatch.db");
    if database.exists() {
        let conn = rusqlite::Connection::open(&database).unwrap();
        let mut statement = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        let tables: Vec<String> = statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let kept_anyway = ["alert_events", "alert_silences", "audit_log"];
        let others: Vec<&String> = tables
            .iter()
            .filter(|table| !kept_anyway.contains(&table.as_str()))
            .collect();
        assert!(
            others.is_empty(),
            "{} holds request history: {others:?}",
            database.display()
        );
    }
}
