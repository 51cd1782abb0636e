//! `limits` on the proxy's listeners: connections beyond `max_connections` closed at once and
//! counted; clients that send nothing, or a head too slowly, closed at `header_read_timeout`
//! (HTTP/1.1 heads answered 408); idle kept-alive connections closed at
//! `keepalive_idle_timeout` (HTTP/2 with a GOAWAY); heads beyond `max_header_bytes` answered 431.

use crate::support::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The bound every "closed in time" assertion allows: far above the configured timeouts.
const WITHIN: Duration = Duration::from_secs(3);

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads until the peer closes the connection (EOF or reset), failing after [`WITHIN`]; returns
/// what arrived.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    crate::support::raw::read_to_close(stream, WITHIN).await
}

/// Reads one whole HTTP/1.1 response (head and `Content-Length` body) from `stream`.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                return text;
            }
        }
        let n = tokio::time::timeout(WITHIN, stream.read(&mut buf))
            .await
            .expect("a response in time")
            .unwrap();
        assert!(n > 0, "closed before a whole response: {text:?}");
        received.extend_from_slice(&buf[..n]);
    }
}

async fn gateway_with(upstream: &Upstream, limits: serde_json::Value) -> TestGateway {
    TestGateway::start(json!({
        "limits": limits,
        "routes": [{"name": "all", "path": "*", "targets": [upstream.url()]}],
    }))
    .await
}

fn get_request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nhost: gw.test\r\n\r\n")
}

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.unwrap()
}

/// A kept-alive connection that has had one request answered (so the gateway counts it).
async fn served_connection(addr: SocketAddr) -> TcpStream {
    let mut stream = connect(addr).await;
    stream
        .write_all(get_request("/kept").as_bytes())
        .await
        .unwrap();
    let response = read_response(&mut stream).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    stream
}

/// The value of the unlabelled series `name` on the dashboard's `/metrics`.
async fn metric(gateway: &TestGateway, name: &str) -> Option<f64> {
    let (_, _, text) = get(&gateway.api("/metrics")).await;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn connections_beyond_max_connections_are_closed_at_once_and_counted() {
    let upstream = Upstream::start("up").await;
    let gateway = gateway_with(&upstream, json!({"max_connections": 2})).await;
    let addr = gateway.running.proxy_addr;
    let first = served_connection(addr).await;
    let _second = served_connection(addr).await;

    // The third is closed before any byte of an answer, though its request is complete.
    let mut third = connect(addr).await;
    third
        .write_all(get_request("/third").as_bytes())
        .await
        .unwrap();
    assert_eq!(read_until_closed(&mut third).await, b"");
    assert_eq!(
        upstream.requests(),
        2,
        "the third request never reached a worker"
    );

    let mut counted = None;
    for _ in 0..300 {
        counted = metric(&gateway, "gatewatch_connections_rejected_total").await;
        if counted == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(counted, Some(1.0), "one rejected connection on /metrics");

    // Once one closes, a new connection is served again.
    drop(first);
    let core = gateway.running.gateway.proxy().core().clone();
    eventually(WITHIN, "the closed connection is no longer counted", || {
        core.connections.load(std::sync::atomic::Ordering::Relaxed) < 2
    })
    .await;
    served_connection(addr).await;
}

#[tokio::test]
async fn a_client_that_sends_nothing_is_closed_at_the_header_read_timeout() {
    let upstream = Upstream::start("up").await;
    let gateway = gateway_with(&upstream, json!({"header_read_timeout_ms": 250})).await;
    let started = Instant::now();
    let mut silent = connect(gateway.running.proxy_addr).await;
    assert_eq!(read_until_closed(&mut silent).await, b"");
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "not before its time"
    );
}

#[tokio::test]
async fn a_stalled_http1_head_gets_408_on_a_new_and_on_a_kept_alive_connection() {
    let upstream = Upstream::start("up").await;
    let gateway = gateway_with(
        &upstream,
        json!({"header_read_timeout_ms": 250, "keepalive_idle_timeout_ms": 60000}),
    )
    .await;
    let addr = gateway.running.proxy_addr;

    let mut fresh = connect(addr).await;
    fresh
        .write_all(b"GET /slow HTTP/1.1\r\nhost: gw")
        .await
        .unwrap();
    let answer = String::from_utf8(read_until_closed(&mut fresh).await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");

    // After an answered request, the next head has the same time from its first byte on.
    let mut kept = served_connection(addr).await;
    let started = Instant::now();
    kept.write_all(b"GET /next HTTP/1.1\r\n").await.unwrap();
    let answer = String::from_utf8(read_until_closed(&mut kept).await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(
        upstream.requests(),
        1,
        "the stalled requests never reached the upstream"
    );
}

#[tokio::test]
async fn an_h2c_preface_and_then_nothing_is_closed_at_the_header_read_timeout() {
    let upstream = Upstream::start("up").await;
    let gateway = gateway_with(&upstream, json!({"header_read_timeout_ms": 250})).await;
    // Half a preface, then the whole one: neither is a request.
    for sent in [&H2_PREFACE[..10], H2_PREFACE] {
        let mut stream = connect(gateway.running.proxy_addr).await;
        stream.write_all(sent).await.unwrap();
        read_until_closed(&mut stream).await;
    }
}

#[tokio::test]
async fn an_idle_kept_alive_http1_connection_is_closed_at_the_idle_timeout() {
    let upstream = Upstream::start("up").await;
    let gateway = gateway_with(
        &upstream,
        json!({"header_read_timeout_ms": 60000, "keepalive_idle_timeout_ms": 300}),
    )
    .await;
    let mut kept = served_connection(gateway.running.proxy_addr).await;
    let idle_since = Instant::now();
    assert_eq!(
        read_until_closed(&mut kept).await,
        b"",
        "closed without a word"
    );
    assert!(idle_since.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn an_idle_h2c_connection_gets_a_goaway_but_not_while_a_stream_is_open() {
    let upstream = Upstream::start("up").await;
    let gateway = gateway_with(
        &upstream,
        json!({"header_read_timeout_ms": 60000, "keepalive_idle_timeout_ms": 300}),
    )
    .await;
    let stream = connect(gateway.running.proxy_addr).await;
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    let connection = tokio::spawn(connection);

    // A stream held open longer than the idle timeout keeps the connection.
    let held = {
        let mut sender = sender.clone();
        let url = gateway.url("/hold/long");
        tokio::spawn(async move { h2c_get(&mut sender, &url).await })
    };
    upstream.wait_for_holds(1, WITHIN).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!connection.is_finished(), "closed while a stream was open");
    upstream.release();
    let (head, _) = held.await.unwrap();
    assert_eq!(head.status, 200);
    let (head, _) = h2c_get(&mut sender, &gateway.url("/after")).await;
    assert_eq!(head.status, 200);

    // Then idle: the gateway sends GOAWAY and the connection ends cleanly.
    let idle_since = Instant::now();
    tokio::time::timeout(WITHIN, connection)
        .await
        .expect("the idle connection is closed in time")
        .unwrap()
        .expect("ended by a GOAWAY, not an error");
    assert!(idle_since.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn a_head_beyond_max_header_bytes_gets_431_on_http1_and_http2() {
    let upstream = Upstream::start("up").await;
    let gateway = gateway_with(&upstream, json!({"max_header_bytes": 4096})).await;
    let addr = gateway.running.proxy_addr;

    // Within the bound: served.
    let fits = format!(
        "GET /fits HTTP/1.1\r\nhost: gw.test\r\nx-big: {}\r\n\r\n",
        "a".repeat(3000)
    );
    let mut stream = connect(addr).await;
    stream.write_all(fits.as_bytes()).await.unwrap();
    let answer = read_response(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let too_big = format!(
        "GET /big HTTP/1.1\r\nhost: gw.test\r\nx-big: {}\r\n\r\n",
        "a".repeat(5000)
    );
    let mut stream = connect(addr).await;
    stream.write_all(too_big.as_bytes()).await.unwrap();
    let answer = String::from_utf8(read_until_closed(&mut stream).await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer:?}");

    let mut sender = h2c_connect(addr).await;
    let request = hyper::Request::get(gateway.url("/big"))
        .header("x-big", "a".repeat(5000))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(request).await.expect("an answer");
    assert_eq!(response.status(), 431);
    let _ = response.into_body().collect().await;
    let (head, _) = h2c_get(&mut sender, &gateway.url("/fits")).await;
    assert_eq!(head.status, 200, "the connection serves on");
    assert_eq!(
        upstream.requests(),
        2,
        "neither big head reached the upstream"
    );
}

#[tokio::test]
async fn websockets_beyond_max_websockets_get_503_and_idle_tunnels_are_closed() {
    use futures_util::{SinkExt, StreamExt};
    use gatewatch::server::proxy::event::{ErrorKind, ProxyEvent};
    use tokio_tungstenite::tungstenite::{Error, Message};
    let upstream = Upstream::start("ws").await;
    let gateway = TestGateway::start(json!({
        "limits": {"max_websockets": 1, "websocket_idle_timeout_ms": 300},
        "routes": [{"name": "ws", "path": "/ws", "websocket": true, "targets": [upstream.url()]}],
    }))
    .await;
    let mut events = gateway.events();
    let url = format!("ws://{}/ws", gateway.running.proxy_addr);
    let (mut open, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    open.send(Message::text("hi")).await.unwrap();
    assert_eq!(open.next().await.unwrap().unwrap(), Message::text("hi"));

    // A second upgrade is refused, with a reason, and never reaches the upstream.
    let upstream_requests = upstream.requests();
    match tokio_tungstenite::connect_async(&url).await {
        Err(Error::Http(response)) => {
            assert_eq!(response.status(), 503);
            // The reason, when the client read the body along with the head.
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned();
            assert!(
                body.is_empty() || body.contains("too many WebSocket connections"),
                "{body}"
            );
        }
        other => panic!("expected a 503, got {other:?}"),
    }
    assert_eq!(upstream.requests(), upstream_requests);
    let refused = next_matching(&mut events, WITHIN, |event| match &**event {
        ProxyEvent::Request(request) if request.status == 503 => Some(request.clone()),
        _ => None,
    })
    .await;
    assert_eq!(refused.error, Some(ErrorKind::WebSocketLimit));

    // With no frame either way, the open tunnel is closed at the idle timeout.
    let idle_since = Instant::now();
    tokio::time::timeout(WITHIN, async {
        while let Some(Ok(_)) = open.next().await {}
    })
    .await
    .expect("the idle tunnel is closed in time");
    assert!(idle_since.elapsed() >= Duration::from_millis(250));
    let session = next_matching(&mut events, WITHIN, |event| match &**event {
        ProxyEvent::WebSocket(session) => Some(session.clone()),
        _ => None,
    })
    .await;
    assert!(
        session
            .error
            .as_deref()
            .unwrap_or("")
            .contains("websocket_idle_timeout_ms"),
        "{session:?}"
    );

    // Its place is free again.
    let (mut again, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    again.send(Message::text("back")).await.unwrap();
    assert_eq!(again.next().await.unwrap().unwrap(), Message::text("back"));
}

#[tokio::test]
async fn the_dashboard_closes_silent_and_idle_connections_too() {
    let gateway = TestGateway::start(json!({
        "limits": {"header_read_timeout_ms": 250, "keepalive_idle_timeout_ms": 300},
    }))
    .await;
    let addr = gateway.running.dashboard_addr;
    let started = Instant::now();
    let mut silent = connect(addr).await;
    assert_eq!(read_until_closed(&mut silent).await, b"");
    assert!(started.elapsed() >= Duration::from_millis(200));

    let mut stalled = connect(addr).await;
    stalled
        .write_all(b"GET /api/health HTTP/1.1\r\n")
        .await
        .unwrap();
    let answer = String::from_utf8(read_until_closed(&mut stalled).await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");

    let mut kept = connect(addr).await;
    let request = format!("GET /api/health HTTP/1.1\r\nhost: {addr}\r\n\r\n");
    kept.write_all(request.as_bytes()).await.unwrap();
    let answer = read_response(&mut kept).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let idle_since = Instant::now();
    read_until_closed(&mut kept).await;
    assert!(idle_since.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn the_https_listener_shares_max_connections_and_closes_before_any_handshake() {
    let upstream = Upstream::start("up").await;
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = crate::support::tls::TestPki::new().write_client(certs.path(), "server");
    let gateway = TestGateway::start(json!({
        "limits": {"max_connections": 1},
        "tls": {"listen": "127.0.0.1:0", "certificates": [{"cert": cert, "key": key}]},
        "routes": [{"name": "all", "path": "*", "targets": [upstream.url()]}],
    }))
    .await;
    let _plain = served_connection(gateway.running.proxy_addr).await;

    // Half a ClientHello: an admitted connection would wait for the rest (the handshake's own
    // bound is 10 s); this one is closed at once, without a byte.
    let mut https = connect(gateway.running.https_addr.unwrap()).await;
    https.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    assert_eq!(read_until_closed(&mut https).await, b"");
    let core = gateway.running.gateway.proxy().core();
    assert_eq!(
        core.connections_rejected
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}
