//! Upstream connections: kept alive and reused across requests of every shape, never reused
//! mid-message, and replaced without an error when the upstream closed them while idle.

use crate::support::*;
use hyper::StatusCode;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(5);

async fn gateway_for(upstream: &Upstream) -> TestGateway {
    TestGateway::start(json!({"routes": [
        {"name": "kept", "path": "*", "targets": [upstream.url()]},
    ]}))
    .await
}

#[tokio::test]
async fn one_connection_serves_requests_of_every_shape_in_turn() {
    let upstream = Upstream::start("kept").await;
    let gateway = gateway_for(&upstream).await;
    let client = client();
    for round in 0..5 {
        let echo = client.get(gateway.url("/echo")).send().await.unwrap();
        assert_eq!(echo.status(), StatusCode::OK);
        assert!(echo.text().await.unwrap().contains("\"upstream\":\"kept\""));

        let sized = client
            .get(gateway.url("/bytes/200000"))
            .send()
            .await
            .unwrap();
        assert_eq!(sized.bytes().await.unwrap().len(), 200_000);

        let chunked = client.get(gateway.url("/chunks/3")).send().await.unwrap();
        assert_eq!(chunked.text().await.unwrap(), "chunk 0\nchunk 1\nchunk 2\n");

        let empty = client.get(gateway.url("/status/204")).send().await.unwrap();
        assert_eq!(empty.status(), StatusCode::NO_CONTENT);

        let head = client.head(gateway.url("/echo")).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK);

        let upload = client
            .post(gateway.url("/upload"))
            .body(vec![7u8; 100_000])
            .send()
            .await
            .unwrap();
        assert_eq!(upload.text().await.unwrap(), "100000", "round {round}");
    }
    assert_eq!(upstream.requests(), 30);
    assert_eq!(
        upstream.connections(),
        1,
        "every exchange ended cleanly, so each went over the same kept-alive connection"
    );
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn concurrent_requests_open_connections_that_later_requests_reuse() {
    let upstream = Upstream::start("busy").await;
    let gateway = gateway_for(&upstream).await;
    let client = client();
    let burst = (0..16).map(|_| client.get(gateway.url("/slow/50")).send());
    for response in futures_util::future::join_all(burst).await {
        assert_eq!(response.unwrap().status(), StatusCode::OK);
    }
    let opened = upstream.connections();
    assert!(
        (1..=16).contains(&opened),
        "{opened} connections for 16 requests"
    );
    for _ in 0..32 {
        let response = client.get(gateway.url("/echo")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(
        upstream.connections(),
        opened,
        "idle connections were reused"
    );
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn a_client_leaving_mid_body_costs_that_connection_only() {
    let upstream = Upstream::start("abandoned").await;
    let gateway = gateway_for(&upstream).await;
    let proxy = gateway.running.proxy_addr;
    let mut events = gateway.events();

    // A raw client that reads the start of a long answer and hangs up.
    let mut socket = tokio::net::TcpStream::connect(proxy).await.unwrap();
    socket
        .write_all(b"GET /bytes/50000000 HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut start = [0u8; 4096];
    let read = socket.read(&mut start).await.unwrap();
    assert!(start[..read].starts_with(b"HTTP/1.1 200"));
    drop(socket);
    let abandoned = next_request(&mut events, WAIT).await;
    assert!(abandoned.bytes_out < 50_000_000);

    // The half-read connection is not handed to the next request: it gets a whole, clean answer.
    let (status, _, body) = get(&gateway.url("/echo")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"uri\":\"/echo\""), "{body}");
    assert_eq!(upstream.connections(), 2);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn connections_the_upstream_closed_while_idle_are_replaced_without_errors() {
    let upstream = Upstream::start("restarting").await;
    let gateway = gateway_for(&upstream).await;
    let client = client();

    // The upstream answers and closes: the next request needs a new connection.
    let closing = client
        .get(gateway.url("/health/close"))
        .send()
        .await
        .unwrap();
    assert_eq!(closing.status(), StatusCode::OK);
    let response = client.get(gateway.url("/echo")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(upstream.connections(), 2);

    // The upstream restarts, dropping the kept-alive connection. Even a request that is never
    // retried (a POST with a body) must not land on the dead connection.
    let address = upstream.kill().await;
    let upstream = Upstream::start_at("restarted", address).await;
    let upload = client
        .post(gateway.url("/upload"))
        .body("twelve bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), StatusCode::OK);
    assert_eq!(upload.text().await.unwrap(), "12");
    assert_eq!(upstream.connections(), 1);
    assert!(gateway.stop(WAIT).await);
}
