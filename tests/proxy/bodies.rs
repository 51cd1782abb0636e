//! Bodies held to their bounds: `max_body_bytes` (413 before anything is sent, or an upload cut
//! as it grows past it), `limits.body_read_timeout_ms` (a stalled upload: 408, or the connection
//! cut once the answer has begun), `limits.upstream_body_timeout_ms` (a stalled response body is
//! cut, never left hanging), and `timeout_ms`, which runs from the request sent — its upload
//! finished — to the response head. A cut request never reaches the upstream looking whole.

use crate::support::raw::{self, find, read_more};
use crate::support::*;
use gatewatch::server::proxy::event::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(5);

/// An upstream that records every byte it receives on a connection and reports them when the
/// gateway closes it. It answers by path: `/swallow` never (it only reads), `/early` with a
/// response head and a first chunk at once (then only reads), `/after/{ms}` `ms` after the whole
/// body (by its `content-length`) has arrived, with the body's length (and `connection: close`:
/// one request per connection), and `/drip` with the head and 10 of 100 promised bytes (then
/// only reads).
struct TapUpstream {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    closed: mpsc::UnboundedReceiver<Vec<u8>>,
}

/// The first chunk `/early` answers with.
const EARLY: &[u8] = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nearly\r\n";

impl TapUpstream {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let (report, closed) = mpsc::unbounded_channel();
        let counted = connections.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(tap(stream, report.clone()));
            }
        });
        Self {
            addr,
            connections,
            closed,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What the next connection the gateway closed had carried.
    async fn next_closed(&mut self) -> String {
        let bytes = tokio::time::timeout(WAIT, self.closed.recv())
            .await
            .expect("the gateway closes the upstream connection")
            .unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

async fn tap(mut stream: TcpStream, report: mpsc::UnboundedSender<Vec<u8>>) {
    let mut received = Vec::new();
    let head_end = loop {
        if let Some(end) = find(&received, b"\r\n\r\n") {
            break end + 4;
        }
        if read_more(&mut stream, &mut received).await == 0 {
            let _ = report.send(received);
            return;
        }
    };
    let head = String::from_utf8_lossy(&received[..head_end]).to_ascii_lowercase();
    let path = head.split(' ').nth(1).unwrap_or("/").to_string();
    if path == "/early" {
        let _ = stream.write_all(EARLY).await;
    } else if path == "/drip" {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789")
            .await;
    } else if let Some(ms) = path.strip_prefix("/after/") {
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0);
        while received.len() < head_end + length {
            if read_more(&mut stream, &mut received).await == 0 {
                let _ = report.send(received);
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
        let answer =
            format!("HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\n{length:03}");
        let _ = stream.write_all(answer.as_bytes()).await;
    }
    while read_more(&mut stream, &mut received).await > 0 {}
    let _ = report.send(received);
}

/// A gateway with one route `r` to `target`, with `route` fields and `limits` added.
async fn gateway(target: &str, route: serde_json::Value, limits: serde_json::Value) -> TestGateway {
    let mut config = json!({"name": "r", "path": "*", "targets": [target], "retries": 0});
    config
        .as_object_mut()
        .unwrap()
        .extend(route.as_object().unwrap().clone());
    TestGateway::start(json!({"routes": [config], "limits": limits})).await
}

/// A raw client connection to the gateway, the request head written.
async fn send_head(gateway: &TestGateway, head: &str) -> TcpStream {
    let mut client = TcpStream::connect(gateway.running.proxy_addr)
        .await
        .unwrap();
    client.write_all(head.as_bytes()).await.unwrap();
    client
}

/// Reads onto `received` until `until` has arrived (or the connection ended).
async fn read_until(client: &mut TcpStream, received: &mut Vec<u8>, until: &[u8]) {
    tokio::time::timeout(WAIT, async {
        while find(received, until).is_none() && read_more(client, received).await > 0 {}
    })
    .await
    .expect("the gateway answers in time");
}

/// What arrived until the gateway closed the connection, as text.
async fn read_to_close(client: &mut TcpStream) -> String {
    String::from_utf8_lossy(&raw::read_to_close(client, WAIT).await).into_owned()
}

/// A raw connection with the head of a chunked `POST /swallow` written, its body to follow.
async fn start_chunked_upload(gateway: &TestGateway) -> TcpStream {
    send_head(
        gateway,
        "POST /swallow HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\n\r\n",
    )
    .await
}

/// `seen` (what the upstream's connection carried) is that chunked upload, cut: never ended.
fn assert_cut_upload(seen: &str) {
    assert!(seen.starts_with("POST /swallow "), "{seen}");
    assert!(
        !seen.ends_with("0\r\n\r\n"),
        "the upstream got a complete request: {seen}"
    );
}

fn chunk(size: usize) -> String {
    format!("{size:x}\r\n{}\r\n", "u".repeat(size))
}

#[tokio::test]
async fn a_length_over_max_body_bytes_is_refused_before_the_upstream_hears_of_it() {
    let upstream = TapUpstream::start().await;
    let gateway = gateway(&upstream.url(), json!({"max_body_bytes": 100}), json!({})).await;
    let mut events = gateway.events();

    // Only the head: the answer must not wait for a body it will not take.
    let mut raw = send_head(
        &gateway,
        "POST /swallow HTTP/1.1\r\nhost: gw\r\ncontent-length: 101\r\n\r\n",
    )
    .await;
    let answer = read_to_close(&mut raw).await;
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(answer.contains("request body larger than this route accepts"));
    let event = next_request(&mut events, WAIT).await;
    assert_eq!(event.status, 413);
    assert_eq!(event.error, Some(ErrorKind::BodyTooLarge));
    assert_eq!(upstream.connections.load(Ordering::SeqCst), 0);

    // At the bound, the body goes through.
    let response = client()
        .post(gateway.url("/after/0"))
        .body(vec![b'u'; 100])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "100");
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn a_chunked_upload_growing_past_the_bound_is_cut_before_the_upstream_sees_it_whole() {
    let mut upstream = TapUpstream::start().await;
    let gateway = gateway(&upstream.url(), json!({"max_body_bytes": 100}), json!({})).await;
    let mut events = gateway.events();

    let mut raw = start_chunked_upload(&gateway).await;
    let body = [chunk(50), chunk(50), chunk(50), "0\r\n\r\n".into()].concat();
    raw.write_all(body.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut raw).await;
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    let event = next_request(&mut events, WAIT).await;
    assert_eq!(
        (event.status.as_u16(), event.error),
        (413, Some(ErrorKind::BodyTooLarge))
    );

    let seen = upstream.next_closed().await;
    assert_cut_upload(&seen);
    let (_, body) = seen.split_once("\r\n\r\n").unwrap();
    assert!(body.matches('u').count() <= 100, "{seen}");
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn a_chunked_upload_malformed_part_way_gets_400_and_the_upstream_a_cut_request() {
    let mut upstream = TapUpstream::start().await;
    let gateway = gateway(&upstream.url(), json!({}), json!({})).await;
    let mut events = gateway.events();

    let mut raw = start_chunked_upload(&gateway).await;
    // A whole chunk, then a size line that is not hexadecimal.
    let body = [chunk(20), "zz\r\nuuuu\r\n0\r\n\r\n".into()].concat();
    let started = Instant::now();
    raw.write_all(body.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut raw).await;
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered at once, not at the route's timeout: {:?}",
        started.elapsed()
    );
    let event = next_request(&mut events, WAIT).await;
    assert_eq!(
        (event.status.as_u16(), event.error),
        (400, Some(ErrorKind::Client4xx))
    );

    let seen = upstream.next_closed().await;
    assert_cut_upload(&seen);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn a_client_gone_part_way_through_its_upload_is_recorded_as_aborted_at_once() {
    let mut upstream = TapUpstream::start().await;
    let gateway = gateway(&upstream.url(), json!({}), json!({})).await;
    let mut events = gateway.events();

    let mut raw = start_chunked_upload(&gateway).await;
    raw.write_all(chunk(20).as_bytes()).await.unwrap();
    eventually(WAIT, "the request reaches the upstream", || {
        upstream.connections.load(Ordering::SeqCst) == 1
    })
    .await;
    drop(raw);

    // Recorded when the client goes, not at the route's timeout with the upstream's silence.
    let event = next_request(&mut events, WAIT).await;
    assert_eq!(
        (event.status.as_u16(), event.error),
        (499, Some(ErrorKind::ClientAborted))
    );
    let seen = upstream.next_closed().await;
    assert_cut_upload(&seen);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn an_upload_past_the_bound_after_the_answer_began_cuts_the_response() {
    let mut upstream = TapUpstream::start().await;
    let gateway = gateway(&upstream.url(), json!({"max_body_bytes": 100}), json!({})).await;
    let mut events = gateway.events();

    let mut raw = send_head(
        &gateway,
        "POST /early HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\n\r\n",
    )
    .await;
    raw.write_all(chunk(50).as_bytes()).await.unwrap();
    let mut received = Vec::new();
    read_until(&mut raw, &mut received, b"early\r\n").await;
    assert!(received.starts_with(b"HTTP/1.1 200 OK\r\n"));

    let rest = [chunk(50), chunk(50), "0\r\n\r\n".into()].concat();
    raw.write_all(rest.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut raw).await;
    assert!(
        !answer.contains("0\r\n\r\n"),
        "the response ended as if complete: {answer}"
    );
    let event = next_request(&mut events, WAIT).await;
    assert_eq!(event.status, 200);
    assert_eq!(event.error, Some(ErrorKind::BodyTooLarge));
    let seen = upstream.next_closed().await;
    assert!(!seen.ends_with("0\r\n\r\n"), "{seen}");
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn a_stalled_upload_gets_408_and_the_upstream_a_cut_request() {
    let mut upstream = TapUpstream::start().await;
    let gateway = gateway(
        &upstream.url(),
        json!({}),
        json!({"body_read_timeout_ms": 200}),
    )
    .await;
    let mut events = gateway.events();

    let started = Instant::now();
    let mut raw = send_head(
        &gateway,
        "POST /swallow HTTP/1.1\r\nhost: gw\r\ncontent-length: 100\r\n\r\n0123456789",
    )
    .await;
    let answer = read_to_close(&mut raw).await;
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(answer.contains("request body not received in time"));
    assert!(started.elapsed() >= Duration::from_millis(200));
    let event = next_request(&mut events, WAIT).await;
    assert_eq!(
        (event.status.as_u16(), event.error),
        (408, Some(ErrorKind::BodyTimeout))
    );
    assert_eq!(event.bytes_in, 10);

    let seen = upstream.next_closed().await;
    assert!(seen.ends_with("\r\n\r\n0123456789"), "{seen}");
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn a_stalled_upload_after_the_answer_began_closes_the_connection() {
    let mut upstream = TapUpstream::start().await;
    let gateway = gateway(
        &upstream.url(),
        json!({}),
        json!({"body_read_timeout_ms": 200}),
    )
    .await;
    let mut events = gateway.events();

    let mut raw = send_head(
        &gateway,
        "POST /early HTTP/1.1\r\nhost: gw\r\ncontent-length: 100\r\n\r\n0123456789",
    )
    .await;
    let answer = read_to_close(&mut raw).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        answer.ends_with("early\r\n"),
        "cut after what came: {answer}"
    );
    let event = next_request(&mut events, WAIT).await;
    assert_eq!(event.error, Some(ErrorKind::BodyTimeout));
    let seen = upstream.next_closed().await;
    assert!(seen.ends_with("\r\n\r\n0123456789"), "{seen}");
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn a_stalled_response_body_is_cut_not_left_hanging() {
    let mut upstream = TapUpstream::start().await;
    let gateway = gateway(
        &upstream.url(),
        json!({}),
        json!({"upstream_body_timeout_ms": 200}),
    )
    .await;
    let mut events = gateway.events();

    let started = Instant::now();
    let response = client().get(gateway.url("/drip")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body = tokio::time::timeout(WAIT, response.bytes())
        .await
        .expect("the body ends in time");
    assert!(body.is_err(), "a cut body must not look complete: {body:?}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    let event = next_request(&mut events, WAIT).await;
    assert_eq!(event.error, Some(ErrorKind::UpstreamBodyTimeout));
    assert_eq!(event.bytes_out, 10);
    assert!(upstream.next_closed().await.starts_with("GET /drip "));
    assert!(gateway.stop(WAIT).await);
}

/// A body of `chunks` × 100 bytes, one chunk every `every`.
fn dripped(chunks: usize, every: Duration) -> reqwest::Body {
    let stream = futures_util::stream::unfold(0, move |sent| async move {
        (sent < chunks).then_some(())?;
        tokio::time::sleep(every).await;
        Some((Ok::<_, std::io::Error>(vec![b'u'; 100]), sent + 1))
    });
    reqwest::Body::wrap_stream(stream)
}

#[tokio::test]
async fn a_slow_upload_does_not_count_against_timeout_ms() {
    let upstream = Upstream::start("up").await;
    let gateway = gateway(&upstream.url(), json!({"timeout_ms": 300}), json!({})).await;
    let mut events = gateway.events();

    let started = Instant::now();
    let response = client()
        .post(gateway.url("/upload"))
        .body(dripped(10, Duration::from_millis(100)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        "1000",
        "the upload arrived whole"
    );
    assert!(started.elapsed() >= Duration::from_millis(1000));
    let event = next_request(&mut events, WAIT).await;
    assert_eq!((event.error, event.bytes_in), (None, 1000));
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn an_answer_later_than_timeout_ms_after_the_upload_gets_504() {
    let upstream = TapUpstream::start().await;
    let gateway = gateway(&upstream.url(), json!({"timeout_ms": 300}), json!({})).await;
    let mut events = gateway.events();

    // The upload takes longer than the timeout; the answer then comes 100 ms after it: in time.
    let length = |chunks: usize| (chunks * 100).to_string();
    let response = client()
        .post(gateway.url("/after/100"))
        .header("content-length", length(5))
        .body(dripped(5, Duration::from_millis(100)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "500");
    assert_eq!(next_request(&mut events, WAIT).await.error, None);

    // 1 s after the upload is too late.
    let started = Instant::now();
    let response = client()
        .post(gateway.url("/after/1000"))
        .header("content-length", length(5))
        .body(dripped(5, Duration::from_millis(100)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 504);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(800),
        "504 after {waited:?}: the timeout runs from the end of the upload"
    );
    assert_eq!(
        next_request(&mut events, WAIT).await.error,
        Some(ErrorKind::Timeout)
    );
    assert!(gateway.stop(WAIT).await);
}
