//! Clients speaking cleartext HTTP/2 (h2c, prior knowledge): several requests at once as streams
//! of one connection, each proxied to the upstream over HTTP/1.1 and recorded as a request of its
//! own.

use crate::support::*;
use gatewatch::server::proxy::event::ProxyEvent;
use hyper::{StatusCode, Version};
use std::collections::HashSet;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn h2c_streams_on_one_connection_are_proxied_and_recorded_one_by_one() {
    const STREAMS: usize = 5;
    let upstream = Upstream::start("h1").await;
    let gateway = TestGateway::start(
        json!({"routes": [{"name": "h2", "path": "*", "targets": [upstream.url()]}]}),
    )
    .await;
    let mut events = gateway.events();
    let sender = h2c_connect(gateway.running.proxy_addr).await;

    // Every stream is held by the upstream until all have arrived: they are open at the same
    // time on the one connection, not one after another.
    let streams: Vec<_> = (0..STREAMS)
        .map(|i| {
            let mut sender = sender.clone();
            let url = gateway.url(&format!("/hold/{i}"));
            tokio::spawn(async move { h2c_get(&mut sender, &url).await })
        })
        .collect();
    upstream.wait_for_holds(STREAMS, WAIT).await;
    assert_eq!(
        gateway
            .running
            .gateway
            .proxy()
            .core()
            .connections
            .load(std::sync::atomic::Ordering::Relaxed),
        1,
        "one client connection carries every stream"
    );
    upstream.release();

    let mut ids = HashSet::new();
    for (i, stream) in streams.into_iter().enumerate() {
        let (head, body) = stream.await.unwrap();
        assert_eq!(head.status, StatusCode::OK, "{body}");
        assert_eq!(head.version, Version::HTTP_2);
        assert_eq!(body, format!("held /hold/{i} at h1"));
        let id = head.headers["x-request-id"].to_str().unwrap().to_string();
        assert!(ids.insert(id), "each stream has its own request id");
    }
    assert_eq!(upstream.requests(), STREAMS);

    // A plain request on the same connection: forwarded with the client's headers, as HTTP/1.1.
    let (head, body) = h2c_get(&mut sender.clone(), &gateway.url("/echo?via=h2")).await;
    assert_eq!(head.status, StatusCode::OK);
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["uri"], "/echo?via=h2");
    assert_eq!(echo["headers"]["x-forwarded-proto"], "http");
    assert_eq!(echo["headers"]["host"], upstream.addr.to_string());
    ids.insert(head.headers["x-request-id"].to_str().unwrap().to_string());

    // One event per stream, with the stream's own id, path and status.
    let mut recorded = HashSet::new();
    while recorded.len() < STREAMS + 1 {
        let event = next_matching(&mut events, WAIT, |event| match &**event {
            ProxyEvent::Request(request) => Some(request.clone()),
            _ => None,
        })
        .await;
        assert_eq!(event.status, StatusCode::OK);
        assert_eq!(event.route.as_deref(), Some("h2"));
        assert!(
            event.path.starts_with("/hold/") || event.path == "/echo",
            "{event:?}"
        );
        assert!(
            recorded.insert(event.request_id.to_string()),
            "recorded once: {event:?}"
        );
    }
    assert_eq!(recorded, ids);
    assert_eq!(gateway.running.gateway.status().requests_total, 6);
    assert!(gateway.stop(WAIT).await);
}
