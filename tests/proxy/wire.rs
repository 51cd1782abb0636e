//! The proxy's own HTTP/1.1 client against an upstream that writes raw bytes: every way an
//! answer may be framed reaches the client intact, connections are kept only when the exchange
//! ended cleanly, and broken answers become 502s or aborted bodies — never hangs.

use crate::support::*;
use gatewatch::server::proxy::event::ErrorKind;
use hyper::StatusCode;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

const WAIT: Duration = Duration::from_secs(5);

/// An upstream answering each request head with the bytes `script` gives for its path; the
/// connection closes after answers marked so, and when the script says to hang up unread.
struct RawUpstream {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    unasked: Arc<Unasked>,
}

/// The handshake of [`Then::UnaskedOnCue`]: the test cues, the upstream writes and reports.
#[derive(Default)]
struct Unasked {
    cue: Notify,
    written: Notify,
}

/// What the raw upstream does with a request.
struct Answer {
    bytes: Vec<u8>,
    then: Then,
}

/// What the raw upstream does after answering.
#[derive(Clone, Copy, PartialEq)]
enum Then {
    /// Reads the next request.
    KeepOpen,
    /// Closes the connection.
    Close,
    /// Neither reads nor closes (for a while): a request body still coming stays unread.
    Stall,
    /// Waits for the test's cue, writes bytes nobody asked for and keeps the connection open.
    UnaskedOnCue,
}

fn answer(bytes: &str, close: bool) -> Answer {
    Answer {
        bytes: bytes.as_bytes().to_vec(),
        then: if close { Then::Close } else { Then::KeepOpen },
    }
}

impl RawUpstream {
    async fn start(script: fn(&str) -> Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let unasked = Arc::new(Unasked::default());
        let (counted, handshake) = (connections.clone(), unasked.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, script, handshake.clone()));
            }
        });
        Self {
            addr,
            connections,
            unasked,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Answers request heads in turn. Bodies are not read as such: the tests send none, except to
/// an upstream that answers without reading it. Closing, it shuts its side and reads what is
/// left (a lingering close: unread bytes would otherwise make the kernel reset the connection).
async fn serve(mut stream: TcpStream, script: fn(&str) -> Answer, unasked: Arc<Unasked>) {
    let mut received = Vec::new();
    loop {
        let end = loop {
            if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => received.extend_from_slice(&chunk[..read]),
            }
        };
        let head = String::from_utf8_lossy(&received[..end]).to_string();
        received.drain(..end);
        let path = head.split(' ').nth(1).unwrap_or("/").to_string();
        let Answer { bytes, then } = script(&path);
        if stream.write_all(&bytes).await.is_err() {
            return;
        }
        if then == Then::UnaskedOnCue {
            unasked.cue.notified().await;
            if stream
                .write_all(b"HTTP/1.1 200 OK\r\n\r\nunasked")
                .await
                .is_err()
            {
                return;
            }
            unasked.written.notify_one();
        }
        if then == Then::Stall {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        if then == Then::Close {
            let _ = stream.shutdown().await;
            let mut rest = [0u8; 64 * 1024];
            while matches!(stream.read(&mut rest).await, Ok(read) if read > 0) {}
            return;
        }
    }
}

fn script(path: &str) -> Answer {
    match path {
        "/chunked" => answer(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
             5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-checksum: 1\r\n\r\n",
            false,
        ),
        "/early-hints" => answer(
            "HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n\
             HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfinal",
            false,
        ),
        "/until-close" => answer("HTTP/1.1 200 OK\r\n\r\nread until the close", true),
        "/http10" => answer("HTTP/1.0 200 OK\r\ncontent-length: 3\r\n\r\nold", false),
        "/truncated" => answer("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc", true),
        "/not-http" => answer("SMTP ready\r\n\r\n", true),
        "/conflicting" => answer(
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nabc",
            true,
        ),
        "/silent" => answer("", true),
        "/te-and-cl" => answer(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 100\r\n\r\n\
             5\r\nhello\r\n0\r\n\r\n",
            false,
        ),
        "/gzip-coded" => answer(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nnot gzip",
            true,
        ),
        "/chunked-then-gzip" => answer(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            true,
        ),
        "/same-length-twice" => answer(
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nok",
            true,
        ),
        "/obs-fold" => answer(
            "HTTP/1.1 200 OK\r\nx-folded: a\r\n b\r\ncontent-length: 2\r\n\r\nok",
            true,
        ),
        "/space-before-colon" => answer("HTTP/1.1 200 OK\r\ncontent-length : 2\r\n\r\nok", true),
        "/bare-lf" => answer("HTTP/1.1 200 OK\ncontent-length: 5\n\nbare!", false),
        "/chunk-overflow" => answer(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
             5\r\nhello\r\n10000000000000005\r\nhello\r\n0\r\n\r\n",
            true,
        ),
        "/then-unasked" => Answer {
            bytes: b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfirst".to_vec(),
            then: Then::UnaskedOnCue,
        },
        "/too-large" => Answer {
            bytes: format!("HTTP/1.1 200 OK\r\nx-big: {}\r\n\r\n", "a".repeat(70_000)).into_bytes(),
            then: Then::Close,
        },
        _ => answer("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", false),
    }
}

async fn gateway_for(upstream: &RawUpstream) -> TestGateway {
    TestGateway::start(json!({"routes": [
        {"name": "raw", "path": "*", "targets": [upstream.url()], "timeout_ms": 3000},
    ]}))
    .await
}

#[tokio::test]
async fn every_framing_reaches_the_client_and_clean_exchanges_keep_the_connection() {
    let upstream = RawUpstream::start(script).await;
    let gateway = gateway_for(&upstream).await;
    let client = client();
    for round in 0..3 {
        let chunked = client.get(gateway.url("/chunked")).send().await.unwrap();
        assert_eq!(chunked.status(), StatusCode::OK);
        assert_eq!(
            chunked.text().await.unwrap(),
            "hello, world",
            "round {round}"
        );

        let hinted = client
            .get(gateway.url("/early-hints"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            hinted.status(),
            StatusCode::OK,
            "informational answers are skipped"
        );
        assert_eq!(hinted.text().await.unwrap(), "final");

        let plain = client.get(gateway.url("/")).send().await.unwrap();
        assert_eq!(plain.text().await.unwrap(), "ok");
    }
    assert_eq!(
        upstream.connections.load(Ordering::SeqCst),
        1,
        "chunked, informational and sized answers all leave the connection reusable"
    );

    let until_close = client
        .get(gateway.url("/until-close"))
        .send()
        .await
        .unwrap();
    assert_eq!(until_close.text().await.unwrap(), "read until the close");
    let old = client.get(gateway.url("/http10")).send().await.unwrap();
    assert_eq!(old.text().await.unwrap(), "old");
    let plain = client.get(gateway.url("/")).send().await.unwrap();
    assert_eq!(plain.text().await.unwrap(), "ok");
    assert_eq!(
        upstream.connections.load(Ordering::SeqCst),
        3,
        "a body read until the close, and an HTTP/1.0 answer without keep-alive, end their connections"
    );
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn a_connection_the_upstream_wrote_to_while_idle_is_not_reused() {
    let upstream = RawUpstream::start(script).await;
    let gateway = gateway_for(&upstream).await;
    let client = client();
    let first = client
        .get(gateway.url("/then-unasked"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.text().await.unwrap(), "first");
    // The exchange ended cleanly, so the connection went back to the pool; now the upstream
    // writes to it unasked. Taken again, those bytes would be read as the next answer.
    upstream.unasked.cue.notify_one();
    upstream.unasked.written.notified().await;
    let next = client.get(gateway.url("/")).send().await.unwrap();
    assert_eq!(next.status(), StatusCode::OK);
    assert_eq!(next.text().await.unwrap(), "ok");
    assert_eq!(upstream.connections.load(Ordering::SeqCst), 2);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn broken_answers_are_502s_or_aborted_bodies_never_hangs() {
    let upstream = RawUpstream::start(script).await;
    let gateway = gateway_for(&upstream).await;
    let mut events = gateway.events();
    for path in [
        "/not-http",
        "/conflicting",
        "/silent",
        "/too-large",
        "/gzip-coded",
        "/chunked-then-gzip",
        "/same-length-twice",
        "/obs-fold",
        "/space-before-colon",
    ] {
        let (status, _, body) = tokio::time::timeout(WAIT, get(&gateway.url(path)))
            .await
            .unwrap_or_else(|_| panic!("{path} hung"));
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{path}: {body}");
        assert!(
            !body.contains("httparse") && !body.contains("protocol:"),
            "{body}"
        );
        let event = next_request(&mut events, WAIT).await;
        assert_eq!(event.error, Some(ErrorKind::UpstreamProtocol), "{path}");
    }

    // A body cut short: the client's answer breaks off (before or after its head, as the
    // proxy had flushed it or not), never looks complete and never hangs.
    let truncated = tokio::time::timeout(WAIT, async {
        let response = client().get(gateway.url("/truncated")).send().await?;
        response.bytes().await
    })
    .await
    .expect("a truncated answer hung");
    assert!(
        truncated.is_err(),
        "a truncated body must not look complete"
    );
    let event = next_request(&mut events, WAIT).await;
    assert_eq!(event.error, Some(ErrorKind::UpstreamProtocol));
    assert_eq!(event.bytes_out, 3);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn a_length_beside_chunked_framing_is_dropped_and_the_connection_is_not_reused() {
    let upstream = RawUpstream::start(script).await;
    let gateway = gateway_for(&upstream).await;
    let client = client();
    let response = client.get(gateway.url("/te-and-cl")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get("content-length"),
        None,
        "the upstream's length is not passed on"
    );
    assert_eq!(
        response.text().await.unwrap(),
        "hello",
        "the chunks frame the body"
    );
    let next = client.get(gateway.url("/")).send().await.unwrap();
    assert_eq!(next.text().await.unwrap(), "ok");
    assert_eq!(
        upstream.connections.load(Ordering::SeqCst),
        2,
        "a connection whose answer carried both framings is not reused"
    );
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn a_head_with_bare_lf_line_ends_is_read_and_keeps_the_connection() {
    let upstream = RawUpstream::start(script).await;
    let gateway = gateway_for(&upstream).await;
    let client = client();
    for _ in 0..2 {
        let response = client.get(gateway.url("/bare-lf")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.text().await.unwrap(), "bare!");
    }
    assert_eq!(upstream.connections.load(Ordering::SeqCst), 1);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn an_overflowing_chunk_size_aborts_the_body_and_is_recorded() {
    let upstream = RawUpstream::start(script).await;
    let gateway = gateway_for(&upstream).await;
    let mut events = gateway.events();
    let cut = tokio::time::timeout(WAIT, async {
        let response = client().get(gateway.url("/chunk-overflow")).send().await?;
        response.bytes().await
    })
    .await
    .expect("an answer with an overflowing chunk size hung");
    assert!(cut.is_err(), "the body must not look complete: {cut:?}");
    let event = next_request(&mut events, WAIT).await;
    assert_eq!(event.error, Some(ErrorKind::UpstreamProtocol));
    assert_eq!(
        event.bytes_out, 5,
        "the chunk before the broken one went out"
    );
    let next = client().get(gateway.url("/")).send().await.unwrap();
    assert_eq!(next.text().await.unwrap(), "ok");
    assert_eq!(upstream.connections.load(Ordering::SeqCst), 2);
    assert!(gateway.stop(WAIT).await);
}

/// Answers every request at once with 413, reading no body: an upload that waited for its
/// answer only after sending everything would wait until the route's timeout.
fn refuse_uploads(_path: &str) -> Answer {
    Answer {
        bytes: b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 8\r\nconnection: close\r\n\r\ntoo much".to_vec(),
        then: Then::Stall,
    }
}

#[tokio::test]
async fn an_answer_before_the_upload_ends_is_relayed_not_a_502() {
    let upstream = RawUpstream::start(refuse_uploads).await;
    let gateway = gateway_for(&upstream).await;
    let mut events = gateway.events();
    // Far more than the sockets between client, proxy and upstream buffer: the answer comes
    // while the upload is under way. Streamed from one chunk (another test measures memory).
    let chunk = bytes::Bytes::from(vec![0u8; 256 * 1024]);
    let upload =
        futures_util::stream::iter((0..128).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let sent = client()
        .post(gateway.url("/upload"))
        .body(reqwest::Body::wrap_stream(upload))
        .send()
        .await;
    // The proxy relays the answer and closes the connection with the rest of the upload unread,
    // so the client may see the answer or a broken pipe first, as with any server that answers
    // early; what the proxy did is in its record of the request.
    if let Ok(response) = sent {
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    let event = next_request(&mut events, WAIT).await;
    assert_eq!(
        event.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "the upstream's early answer, not a timeout: {event:?}"
    );
    assert!(gateway.stop(WAIT).await);
}
