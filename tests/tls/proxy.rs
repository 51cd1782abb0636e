//! The proxy's HTTPS listener: the chain verified by curl and rustls, SNI between two names and
//! a wildcard, ALPN (HTTP/2 with concurrent streams, HTTP/1.1), WebSockets over TLS,
//! `X-Forwarded-Proto: https`, the plain listener's 308 redirect, and handshakes that fail or
//! stall counted by kind without holding anything else up.

use crate::ca::*;
use crate::support::*;
use futures_util::{SinkExt, StreamExt};
use hyper::{StatusCode, Version};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

/// A gateway with an HTTPS listener serving `one.test` (and 127.0.0.1, the default),
/// `two.test` and `*.example.com`, proxying everything to `upstream` (WebSockets too).
pub struct HttpsGateway {
    pub gateway: TestGateway,
    pub ca: TestCa,
    pub certs: tempfile::TempDir,
    pub leaves: [Leaf; 3],
}

impl HttpsGateway {
    pub async fn start(upstream: &Upstream, redirect_http: bool) -> Self {
        let ca = TestCa::new();
        let certs = tempfile::tempdir().unwrap();
        let leaves = [
            ca.issue(&["one.test", "127.0.0.1"]),
            ca.issue(&["two.test"]),
            ca.issue(&["*.example.com"]),
        ];
        let entries: Vec<_> = ["one", "two", "wild"]
            .iter()
            .zip(&leaves)
            .map(|(stem, leaf)| entry(&write_pair(certs.path(), stem, leaf)))
            .collect();
        let gateway = TestGateway::start(json!({
            "tls": {"listen": "127.0.0.1:0", "certificates": entries, "redirect_http": redirect_http},
            "routes": [{"name": "all", "path": "*", "websocket": true, "targets": [upstream.url()]}],
        }))
        .await;
        Self {
            gateway,
            ca,
            certs,
            leaves,
        }
    }

    pub fn https_addr(&self) -> SocketAddr {
        self.gateway.running.https_addr.expect("an HTTPS listener")
    }
}

#[tokio::test]
async fn sni_picks_between_two_names_and_a_wildcard_and_the_rust_client_verifies_the_chain() {
    let upstream = Upstream::start("up").await;
    let https = HttpsGateway::start(&upstream, false).await;
    let addr = https.https_addr();
    for (name, expected) in [
        ("one.test", 0),
        ("two.test", 1),
        ("api.example.com", 2),
        ("www.example.com", 2),
        // An IP address sends no SNI: the first certificate.
        ("127.0.0.1", 0),
    ] {
        let stream = https.ca.connect(addr, name, &[b"http/1.1"]).await;
        assert_eq!(served(&stream), https.leaves[expected].der, "{name}");
        let mut sender = http1(stream).await;
        let (head, body) = get1(&mut sender, name, "/echo").await;
        assert_eq!(head.status, StatusCode::OK, "{body}");
        let echoed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(echoed["headers"]["x-forwarded-proto"], "https", "{body}");
        assert_eq!(echoed["headers"]["x-forwarded-host"], name, "{body}");
    }
    // The plain listener keeps working beside it, and says http.
    let (status, _, body) = get(&https.gateway.url("/echo")).await;
    assert_eq!(status, StatusCode::OK);
    let echoed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echoed["headers"]["x-forwarded-proto"], "http");
}

#[tokio::test]
async fn curl_verifies_the_chain_and_gets_http2_or_http11_as_it_asks() {
    let upstream = Upstream::start("up").await;
    let https = HttpsGateway::start(&upstream, false).await;
    let port = https.https_addr().port();
    let resolve = format!("two.test:{port}:127.0.0.1");
    let url = format!("https://two.test:{port}/echo");
    let dir = https.certs.path();
    let out = curl(
        &https.ca,
        dir,
        &[
            "--http2",
            "--resolve",
            &resolve,
            "-w",
            "\n%{http_version}",
            &url,
        ],
    )
    .await;
    let (body, version) = out.rsplit_once('\n').unwrap();
    assert_eq!(version, "2", "{out}");
    assert!(body.contains("\"x-forwarded-proto\":\"https\""), "{body}");
    let out = curl(
        &https.ca,
        dir,
        &[
            "--http1.1",
            "--resolve",
            &resolve,
            "-w",
            "\n%{http_version}",
            &url,
        ],
    )
    .await;
    assert!(out.ends_with("\n1.1"), "{out}");
    // The wildcard, through curl's own name check.
    let resolve = format!("shop.example.com:{port}:127.0.0.1");
    let out = curl(
        &https.ca,
        dir,
        &[
            "--resolve",
            &resolve,
            &format!("https://shop.example.com:{port}/status/204"),
            "-w",
            "%{http_code}",
        ],
    )
    .await;
    assert_eq!(out, "204");
}

#[tokio::test]
async fn http2_over_tls_multiplexes_streams_each_recorded_as_its_own_request() {
    const STREAMS: usize = 4;
    let upstream = Upstream::start("up").await;
    let https = HttpsGateway::start(&upstream, false).await;
    let mut events = https.gateway.events();
    let stream = https
        .ca
        .connect(https.https_addr(), "two.test", &[b"h2", b"http/1.1"])
        .await;
    assert_eq!(alpn(&stream).as_deref(), Some(&b"h2"[..]));
    let sender = http2(stream).await;
    let port = https.https_addr().port();
    // Every stream is held by the upstream until all have arrived: open at the same time.
    let streams: Vec<_> = (0..STREAMS)
        .map(|i| {
            let mut sender = sender.clone();
            let url = format!("https://two.test:{port}/hold/{i}");
            tokio::spawn(async move { h2c_get(&mut sender, &url).await })
        })
        .collect();
    upstream.wait_for_holds(STREAMS, WAIT).await;
    upstream.release();
    let mut ids = HashSet::new();
    for (i, stream) in streams.into_iter().enumerate() {
        let (head, body) = stream.await.unwrap();
        assert_eq!(head.status, StatusCode::OK, "{body}");
        assert_eq!(head.version, Version::HTTP_2);
        assert_eq!(body, format!("held /hold/{i} at up"));
        assert!(ids.insert(head.headers["x-request-id"].to_str().unwrap().to_string()));
    }
    let mut recorded = HashSet::new();
    for _ in 0..STREAMS {
        let event = next_request(&mut events, WAIT).await;
        assert!(event.latency > Duration::ZERO);
        recorded.insert(event.request_id.to_string());
    }
    assert_eq!(recorded, ids, "one event per stream, each with its own id");
}

#[tokio::test]
async fn websockets_upgrade_over_tls() {
    let upstream = Upstream::start("up").await;
    let https = HttpsGateway::start(&upstream, false).await;
    let port = https.https_addr().port();
    let stream = https
        .ca
        .connect(https.https_addr(), "chat.example.com", &[b"http/1.1"])
        .await;
    let url = format!("wss://chat.example.com:{port}/ws");
    let (mut socket, response) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("WebSocket handshake over TLS");
    assert_eq!(response.status(), 101);
    socket.send(Message::text("hello over tls")).await.unwrap();
    let echoed = tokio::time::timeout(WAIT, socket.next()).await.unwrap();
    assert_eq!(echoed.unwrap().unwrap(), Message::text("hello over tls"));
    socket.close(None).await.unwrap();
}

#[tokio::test]
async fn plain_requests_get_a_308_to_the_same_host_path_and_query_over_https() {
    let upstream = Upstream::start("up").await;
    let https = HttpsGateway::start(&upstream, true).await;
    let port = https.https_addr().port();
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .post(https.gateway.url("/orders/7?expand=items&x=%20"))
        .header("host", "shop.example.com:8080")
        .body("kept by 308")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(
        response.headers()["location"],
        format!("https://shop.example.com:{port}/orders/7?expand=items&x=%20").as_str()
    );
    assert_eq!(
        upstream.requests(),
        0,
        "nothing was proxied over plain HTTP"
    );
    // Following it lands on the HTTPS listener, which proxies.
    let out = curl(
        &https.ca,
        https.certs.path(),
        &[
            "--location",
            "--resolve",
            &format!("shop.example.com:{port}:127.0.0.1"),
            "--connect-to",
            &format!("shop.example.com:80:{}", https.gateway.running.proxy_addr),
            "-w",
            "\n%{http_code} %{url_effective}",
            "http://shop.example.com/echo?q=1",
        ],
    )
    .await;
    assert!(
        out.ends_with(&format!("\n200 https://shop.example.com:{port}/echo?q=1")),
        "{out}"
    );
    assert_eq!(upstream.requests(), 1);
}

#[tokio::test]
async fn garbage_and_stalled_handshakes_are_cut_counted_and_cost_nothing_else() {
    let upstream = Upstream::start("up").await;
    let https = HttpsGateway::start(&upstream, false).await;
    let addr = https.https_addr();
    // A client that never speaks holds nothing up.
    let _stalled: Vec<_> =
        futures_util::future::join_all((0..8).map(|_| tokio::net::TcpStream::connect(addr))).await;
    // Plain HTTP on the TLS port: the server gives up on it at once.
    let mut garbage = tokio::net::TcpStream::connect(addr).await.unwrap();
    garbage
        .write_all(b"GET / HTTP/1.1\r\nHost: two.test\r\n\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(WAIT, garbage.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection was closed");
    // Meanwhile real clients are served.
    let stream = https.ca.connect(addr, "two.test", &[b"http/1.1"]).await;
    let (head, _) = get1(&mut http1(stream).await, "two.test", "/status/200").await;
    assert_eq!(head.status, StatusCode::OK);
    let metrics = https.gateway.api("/metrics");
    let mut text = String::new();
    for _ in 0..50 {
        text = get(&metrics).await.2;
        if text.contains("gatewatch_tls_handshake_errors_total{kind=\"protocol\"} 1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        text.contains("gatewatch_tls_handshake_errors_total{kind=\"protocol\"} 1"),
        "{text}"
    );
    assert!(text.contains("# TYPE gatewatch_tls_handshake_errors_total counter"));
    assert!(
        text.contains("gatewatch_tls_certificate_expiry_timestamp_seconds{name=\"two.test\"}"),
        "{text}"
    );
}
