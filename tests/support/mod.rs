//! Test support: real upstream HTTP servers on loopback ports, a gateway started on a config
//! file written to a temporary directory, and small client helpers.

#![allow(dead_code)]

use bytes::Bytes;
use gatewatch::server::config;
pub use gatewatch::server::gateway::live_frame::LiveFrame;
use gatewatch::server::proxy::event::ProxyEvent;
use gatewatch::server::runtime::{self, RunningGateway};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// A real HTTP upstream on a loopback port. Paths:
/// `/health` (200, or 503 once [`Upstream::set_healthy`]`(false)`; no answer at all while
/// [`Upstream::set_health_hangs`]`(true)`; `/health/close` the same, closing the connection after
/// it), `/slow/{ms}`, `/hold/…` (answers only once [`Upstream::release`] is called; the test
/// learns of its arrival through [`Upstream::wait_for_holds`]), `/chunks/{n}` (n chunks, no
/// length), `/status/{code}`, `/bytes/{n}` (streams n bytes), `/upload` (counts the body), `/ws`
/// (WebSocket echo), `/text/{n}` (n bytes of text with a length; `/text/{n}/chunked` without),
/// `/image/{n}` (n bytes of `image/png`), `/encoded` (an already gzip-encoded body, sent as it
/// is), `/sse` (an event stream: one event at once, the last only after [`Upstream::release`]),
/// `/llm/json` and `/llm/sse` (an OpenAI-style chat completion for model `tls-model` with 11
/// prompt and 7 completion tokens); anything else echoes the request as JSON
/// `{upstream, method, uri, headers}`.
///
/// [`Upstream::start_tls`] serves the same over TLS.
pub struct Upstream {
    pub name: String,
    pub addr: SocketAddr,
    state: Arc<UpstreamState>,
    server: JoinHandle<()>,
}

#[derive(Default)]
struct UpstreamState {
    name: String,
    requests: AtomicUsize,
    probes: AtomicUsize,
    connections: AtomicUsize,
    unhealthy: AtomicBool,
    /// Requests that arrived at `/hold/…` so far, and a wake-up for the test on each one.
    holds: AtomicUsize,
    hold_arrived: Notify,
    /// `true` once the held requests may be answered (and every later one at once).
    released: watch::Sender<bool>,
    /// `true` while `/health` does not answer.
    health_hangs: watch::Sender<bool>,
}

impl Upstream {
    /// Starts an upstream on a free loopback port.
    pub async fn start(name: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(name, listener, None)
    }

    /// Starts an upstream on `addr` (e.g. to bring a killed one back).
    pub async fn start_at(name: &str, addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr).await.unwrap();
        Self::serve(name, listener, None)
    }

    /// Starts an upstream speaking TLS with `tls` (see [`tls::TestPki`]) on a free loopback port.
    /// Connections whose handshake fails are counted too.
    pub async fn start_tls(name: &str, tls: Arc<rustls::ServerConfig>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(name, listener, Some(tokio_rustls::TlsAcceptor::from(tls)))
    }

    fn serve(name: &str, listener: TcpListener, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(UpstreamState {
            name: name.to_string(),
            ..Default::default()
        });
        let served = state.clone();
        let server = tokio::spawn(async move {
            // Connections live in this set: aborting the server task kills them all at once.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                served.connections.fetch_add(1, Ordering::SeqCst);
                let state = served.clone();
                let service = service_fn(move |request| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(respond(&state, request).await) }
                });
                let tls = tls.clone();
                connections.spawn(async move {
                    let builder = hyper::server::conn::http1::Builder::new();
                    match tls {
                        None => {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .with_upgrades()
                                .await;
                        }
                        Some(acceptor) => {
                            let Ok(stream) = acceptor.accept(stream).await else {
                                return;
                            };
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .with_upgrades()
                                .await;
                        }
                    }
                });
            }
        });
        Self {
            name: name.to_string(),
            addr,
            state,
            server,
        }
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `https://localhost:port` (the name the test certificates are for).
    pub fn https_url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// Requests served so far (health checks excluded).
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Health checks (`/health`) served so far.
    pub fn probes(&self) -> usize {
        self.state.probes.load(Ordering::SeqCst)
    }

    /// TCP connections accepted so far (proxied requests and health checks alike).
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Makes `/health` answer 200 (true) or 503 (false).
    pub fn set_healthy(&self, healthy: bool) {
        self.state.unhealthy.store(!healthy, Ordering::SeqCst);
    }

    /// Makes `/health` hang without answering (true) until set back to false, when the waiting
    /// probes are answered (too late for the checker, which has given them up by then).
    pub fn set_health_hangs(&self, hangs: bool) {
        self.state.health_hangs.send_replace(hangs);
    }

    /// Requests that arrived at `/hold/…` so far (answered or not).
    pub fn holds(&self) -> usize {
        self.state.holds.load(Ordering::SeqCst)
    }

    /// Waits until `n` requests in all have arrived at `/hold/…` (they are waiting for
    /// [`Self::release`] unless it was called); fails after `within`.
    pub async fn wait_for_holds(&self, n: usize, within: Duration) {
        let waited = tokio::time::timeout(within, async {
            loop {
                // Registered before the count is read: an arrival in between still wakes us.
                let arrived = self.state.hold_arrived.notified();
                tokio::pin!(arrived);
                arrived.as_mut().enable();
                if self.holds() >= n {
                    return;
                }
                arrived.await;
            }
        })
        .await;
        assert!(
            waited.is_ok(),
            "{} of {n} requests reached {}'s /hold in time",
            self.holds(),
            self.name
        );
    }

    /// Answers every request held at `/hold/…`, and from now on every new one at once.
    pub fn release(&self) {
        self.state.released.send_replace(true);
    }

    /// Stops the server: the port refuses connections and open connections are cut.
    pub async fn kill(self) -> SocketAddr {
        self.server.abort();
        let _ = self.server.await;
        self.addr
    }
}

fn full(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()).boxed());
    *response.status_mut() = status;
    response
}

async fn respond(state: &UpstreamState, mut request: Request<Incoming>) -> Response<Body> {
    let path = request.uri().path().to_string();
    if path == "/health" || path == "/health/close" {
        state.probes.fetch_add(1, Ordering::SeqCst);
        let _ = state
            .health_hangs
            .subscribe()
            .wait_for(|hangs| !*hangs)
            .await;
        let mut response = if state.unhealthy.load(Ordering::SeqCst) {
            full(StatusCode::SERVICE_UNAVAILABLE, "unhealthy")
        } else {
            full(StatusCode::OK, "ok")
        };
        if path == "/health/close" {
            // Closes the connection after answering.
            response
                .headers_mut()
                .insert("connection", "close".parse().unwrap());
        }
        return response;
    }
    state.requests.fetch_add(1, Ordering::SeqCst);
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["hold", ..] => {
            let mut released = state.released.subscribe();
            state.holds.fetch_add(1, Ordering::SeqCst);
            state.hold_arrived.notify_waiters();
            let _ = released.wait_for(|released| *released).await;
            full(StatusCode::OK, format!("held {path} at {}", state.name))
        }
        ["slow", ms] => {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
            full(StatusCode::OK, format!("slow {ms} from {}", state.name))
        }
        ["status", code] => full(
            StatusCode::from_u16(code.parse().unwrap_or(500)).unwrap(),
            "as asked",
        ),
        ["bytes", n] => {
            let total: u64 = n.parse().unwrap_or(0);
            let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
            let stream = futures_util::stream::unfold(total, move |left| {
                let chunk = chunk.clone();
                async move {
                    (left > 0).then(|| {
                        let size = left.min(chunk.len() as u64);
                        (
                            Ok::<_, Infallible>(Frame::data(chunk.slice(..size as usize))),
                            left - size,
                        )
                    })
                }
            });
            let mut response = Response::new(BodyExt::boxed(StreamBody::new(stream)));
            response
                .headers_mut()
                .insert("content-length", total.into());
            response
        }
        ["chunks", n] => {
            // No length given: the body goes out chunked, one chunk per frame.
            let count: usize = n.parse().unwrap_or(0);
            let frames = (0..count)
                .map(|i| Ok::<_, Infallible>(Frame::data(Bytes::from(format!("chunk {i}\n")))));
            Response::new(BodyExt::boxed(StreamBody::new(futures_util::stream::iter(
                frames,
            ))))
        }
        ["upload"] => {
            let mut body = request.into_body();
            let mut total = 0u64;
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.map(|f| f.into_data()) {
                    total += data.map(|d| d.len() as u64).unwrap_or(0);
                }
            }
            full(StatusCode::OK, total.to_string())
        }
        ["ws"] => websocket_echo(&mut request),
        ["text", n, rest @ ..] => {
            let size: usize = n.parse().unwrap_or(0);
            let line = b"The quick brown fox jumps over the lazy dog, again and again.\n";
            let text: Vec<u8> = line.iter().copied().cycle().take(size).collect();
            if rest == ["chunked"] {
                let frames = text
                    .chunks(4096)
                    .map(|part| Ok::<_, Infallible>(Frame::data(Bytes::copy_from_slice(part))))
                    .collect::<Vec<_>>();
                let mut response = Response::new(BodyExt::boxed(StreamBody::new(
                    futures_util::stream::iter(frames),
                )));
                response
                    .headers_mut()
                    .insert("content-type", "text/plain; charset=utf-8".parse().unwrap());
                response
            } else {
                let mut response = full(StatusCode::OK, text);
                response
                    .headers_mut()
                    .insert("content-type", "text/plain; charset=utf-8".parse().unwrap());
                response
            }
        }
        ["image", n] => {
            let mut response = full(StatusCode::OK, vec![0u8; n.parse().unwrap_or(0)]);
            response
                .headers_mut()
                .insert("content-type", "image/png".parse().unwrap());
            response
        }
        ["encoded"] => {
            let mut response = full(StatusCode::OK, vec![b'z'; 4096]);
            let headers = response.headers_mut();
            headers.insert("content-type", "text/plain".parse().unwrap());
            headers.insert("content-encoding", "gzip".parse().unwrap());
            response
        }
        ["sse"] => {
            let released = state.released.subscribe();
            let first = Bytes::from(format!("data: {}\n\n", "first ".repeat(400)));
            let stream =
                futures_util::stream::unfold((0, released), move |(step, mut released)| {
                    let first = first.clone();
                    async move {
                        match step {
                            0 => Some((Ok::<_, Infallible>(Frame::data(first)), (1, released))),
                            1 => {
                                let _ = released.wait_for(|released| *released).await;
                                let last = Bytes::from_static(b"data: last\n\n");
                                Some((Ok(Frame::data(last)), (2, released)))
                            }
                            _ => None,
                        }
                    }
                });
            let mut response = Response::new(BodyExt::boxed(StreamBody::new(stream)));
            response
                .headers_mut()
                .insert("content-type", "text/event-stream".parse().unwrap());
            response
        }
        ["llm", "json"] => {
            let answer = serde_json::json!({
                "id": "chatcmpl-1", "object": "chat.completion", "model": "tls-model",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
            });
            let mut response = full(StatusCode::OK, answer.to_string());
            response
                .headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            response
        }
        ["llm", "sse"] => {
            let chunk = |delta: &str| {
                format!(
                    "data: {}\n\n",
                    serde_json::json!({"model": "tls-model", "choices": [{"index": 0,
                        "delta": {"content": delta}}]})
                )
            };
            let usage = serde_json::json!({"model": "tls-model", "choices": [],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}});
            let events = [
                chunk("Hel"),
                chunk("lo"),
                format!("data: {usage}\n\n"),
                "data: [DONE]\n\n".to_string(),
            ];
            let frames = events
                .into_iter()
                .map(|event| Ok::<_, Infallible>(Frame::data(Bytes::from(event))));
            let mut response = Response::new(BodyExt::boxed(StreamBody::new(
                futures_util::stream::iter(frames),
            )));
            response
                .headers_mut()
                .insert("content-type", "text/event-stream".parse().unwrap());
            response
        }
        _ => {
            let headers: serde_json::Map<String, serde_json::Value> = request
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").into()))
                .collect();
            let echo = serde_json::json!({
                "upstream": state.name,
                "method": request.method().as_str(),
                "uri": request.uri().to_string(),
                "headers": headers,
            });
            let mut response = full(StatusCode::OK, echo.to_string());
            response
                .headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            response.headers_mut().insert(
                "connection",
                "keep-alive, x-upstream-private".parse().unwrap(),
            );
            response
                .headers_mut()
                .insert("x-upstream-private", "secret".parse().unwrap());
            response
                .headers_mut()
                .insert("x-upstream", state.name.parse().unwrap());
            response
        }
    }
}

fn websocket_echo(request: &mut Request<Incoming>) -> Response<Body> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{handshake::derive_accept_key, protocol::Role};
    let upgrade_asked = request
        .headers()
        .get("upgrade")
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let Some(key) = request
        .headers()
        .get("sec-websocket-key")
        .filter(|_| upgrade_asked)
    else {
        return full(StatusCode::BAD_REQUEST, "not a websocket request");
    };
    let accept = derive_accept_key(key.as_bytes());
    let upgrade = hyper::upgrade::on(request);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut socket = tokio_tungstenite::WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            None,
        )
        .await;
        while let Some(Ok(message)) = socket.next().await {
            if message.is_close() {
                break;
            }
            if (message.is_text() || message.is_binary()) && socket.send(message).await.is_err() {
                break;
            }
        }
    });
    let mut response = full(StatusCode::SWITCHING_PROTOCOLS, Bytes::new());
    let headers = response.headers_mut();
    headers.insert("connection", "upgrade".parse().unwrap());
    headers.insert("upgrade", "websocket".parse().unwrap());
    headers.insert("sec-websocket-accept", accept.parse().unwrap());
    response
}

/// A gateway running on a config file in a temporary directory.
pub struct TestGateway {
    pub running: RunningGateway,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
}

impl TestGateway {
    /// Starts a gateway on `config` (a JSON object; `listen` and `dashboard.listen` default to
    /// free loopback ports).
    pub async fn start(mut config: serde_json::Value) -> Self {
        let object = config.as_object_mut().expect("a JSON object");
        object.entry("listen").or_insert("127.0.0.1:0".into());
        object
            .entry("dashboard")
            .or_insert(serde_json::json!({"listen": "127.0.0.1:0"}));
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("config.json");
        std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        let loaded = config::load(&config_path).expect("valid test config");
        let running = runtime::start(loaded, config_path.clone())
            .await
            .expect("gateway starts");
        Self {
            running,
            dir,
            config_path,
        }
    }

    /// `http://<proxy address><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.running.proxy_addr, path)
    }

    /// `http://<dashboard address><path>` (the admin API and the pages).
    pub fn api(&self, path: &str) -> String {
        format!("http://{}{}", self.running.dashboard_addr, path)
    }

    /// Shuts down gracefully (history flushed) and starts again on the same config file and
    /// directory, on new ports.
    pub async fn restart(self) -> Self {
        let Self {
            running,
            dir,
            config_path,
        } = self;
        assert!(running.shutdown(Duration::from_secs(5)).await);
        let loaded = config::load(&config_path).expect("valid test config");
        let running = runtime::start(loaded, config_path.clone())
            .await
            .expect("gateway restarts");
        Self {
            running,
            dir,
            config_path,
        }
    }

    /// Finished-request and WebSocket events from now on.
    pub fn events(&self) -> broadcast::Receiver<Arc<ProxyEvent>> {
        self.running.gateway.subscribe_proxy_events()
    }

    /// Live events (config reloads, ticks) from now on.
    pub fn live(&self) -> broadcast::Receiver<LiveFrame> {
        self.running.gateway.subscribe()
    }

    /// Stops the gateway, allowing `drain` for in-flight work; returns whether it all finished.
    pub async fn stop(self, drain: Duration) -> bool {
        self.running.shutdown(drain).await
    }
}

/// The next event matching `pick`, waiting at most `within`.
pub async fn next_matching<E: Clone, T>(
    events: &mut broadcast::Receiver<E>,
    within: Duration,
    mut pick: impl FnMut(&E) -> Option<T>,
) -> T {
    tokio::time::timeout(within, async {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let Some(found) = pick(&event) {
                        return found;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => panic!("event source closed"),
            }
        }
    })
    .await
    .expect("expected event did not arrive in time")
}

/// Waits until `condition` holds, checking every 10 ms, failing after `within`.
pub async fn eventually(within: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A plain client (keep-alive, no proxy from the environment).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A client whose connections come from `address` (every 127.x.y.z is loopback on Linux, so
/// each such address stands for a different client).
pub fn client_from(address: std::net::IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(address)
        .build()
        .unwrap()
}

/// The next finished-request event, waiting at most `within`.
pub async fn next_request(
    events: &mut broadcast::Receiver<Arc<ProxyEvent>>,
    within: Duration,
) -> gatewatch::server::proxy::event::RequestEvent {
    next_matching(events, within, |event| match &**event {
        ProxyEvent::Request(request) => Some(request.clone()),
        _ => None,
    })
    .await
}

/// A port nothing listens on. Taken below the kernel's ephemeral range (32768 and up), where
/// `bind(…:0)` never hands ports out: an upstream another test starts meanwhile cannot get it.
pub async fn closed_port() -> SocketAddr {
    loop {
        let port = fastrand::u16(20_000..32_000);
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)).await {
            return listener.local_addr().unwrap();
        }
    }
}

/// Sends a GET and returns status, headers and body text.
pub async fn get(url: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let response = client().get(url).send().await.unwrap();
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

/// Sends a GET and returns the status and the body as JSON.
pub async fn get_json(url: &str) -> (StatusCode, serde_json::Value) {
    let (status, _, body) = get(url).await;
    let json = serde_json::from_str(&body)
        .unwrap_or_else(|error| panic!("{url} answered {status} with non-JSON ({error}): {body}"));
    (status, json)
}

/// Sends the test process's tracing events to the gateway's log ring (`/api/logs`), as the
/// binary does; idempotent.
pub fn capture_logs() {
    use tracing_subscriber::layer::SubscriberExt;
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let subscriber = tracing_subscriber::registry()
            .with(gatewatch::server::gateway::log_capture::ring_layer());
        tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");
    });
}

/// The process's resident set size in KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap()
}

/// A client connection to `addr` speaking cleartext HTTP/2 with prior knowledge (no upgrade from
/// HTTP/1.1): every clone of the returned sender opens its streams on this one connection.
pub async fn h2c_connect(addr: SocketAddr) -> hyper::client::conn::http2::SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        TokioIo::new(stream),
    )
    .await
    .expect("HTTP/2 handshake with prior knowledge");
    tokio::spawn(connection);
    sender
}

/// Sends a GET for `url` (absolute: HTTP/2 carries scheme and authority) as one stream of an
/// HTTP/2 connection; returns the response's head and its body as text.
pub async fn h2c_get(
    sender: &mut hyper::client::conn::http2::SendRequest<Full<Bytes>>,
    url: &str,
) -> (hyper::http::response::Parts, String) {
    let request = Request::get(url).body(Full::new(Bytes::new())).unwrap();
    let response = sender
        .send_request(request)
        .await
        .expect("an HTTP/2 answer");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("the whole body").to_bytes();
    (parts, String::from_utf8_lossy(&body).into_owned())
}

pub mod raw;
pub mod tls;

pub use reqwest;
pub use serde_json::json;
pub use tokio_tungstenite;
