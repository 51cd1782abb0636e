//! `gatewatch top`: the terminal dashboard attached to a running gateway over its admin API.
//!
//! A session reads `/api/metrics`, `/api/routes`, `/api/models` and `/api/logs` (the snapshot),
//! then follows `/api/live`. Whatever goes wrong — the gateway down, slow (every request and
//! every wait for a live frame has a deadline), answering an error or garbage — ends the session
//! with a reason the status line shows, and the next one starts after a backoff (0.5 s doubling
//! to 5 s). Nothing the gateway sends can crash the dashboard: bodies and frames are bounded,
//! and a frame that does not parse ends the session like any other failure.
//!
//! With accounts on the dashboard, `--token` (or `GATEWATCH_TOKEN`) is sent as a bearer token;
//! `https://` URLs are verified against the system's roots or `--ca-file`.

use super::event_loop::{self, Control};
use super::feed::{Feed, Update};
use super::model::{Link, Model, Snapshot};
use super::palette::Palette;
use super::terminal::Screen;
use crate::server::config::{FieldErrors, FileUpstreamTls, validate_upstream_tls};
use crate::server::outbound::{Endpoint, Stream, connect};
use crate::views::{LiveEvent, LogPage, MetricsSnapshot, ModelView, RouteView};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::Uri;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;

/// How long one API request, or the wait for the next live frame, may take (the gateway sends
/// one a second at least).
const DEADLINE: Duration = Duration::from_secs(5);
/// The largest API answer or live frame accepted.
const MAX_BODY: usize = 16 << 20;
/// Log lines read with the snapshot.
const SNAPSHOT_LOG_LINES: usize = 500;

/// Where to attach and how.
#[derive(Clone, Debug)]
pub struct Attach {
    /// The dashboard's base URL (`http://127.0.0.1:3000`).
    pub url: Uri,
    /// Where to connect, with the client TLS config for `https://` (the system's roots, or the
    /// CA file given).
    pub endpoint: Endpoint,
    pub token: Option<String>,
}

impl Attach {
    /// Checks the command line's `url`, `token` and `ca_file`.
    pub fn new(url: &str, token: Option<String>, ca_file: Option<&Path>) -> Result<Self, String> {
        let needed = || {
            format!("--url {url}: an http:// or https:// URL of the gateway's dashboard is needed")
        };
        let uri: Uri = url
            .parse()
            .map_err(|error| format!("--url {url:?}: {error}"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(needed()),
        };
        if uri.authority().ok_or_else(needed)?.as_str().contains('@') {
            return Err(format!(
                "--url {url}: credentials go in --token, not the URL"
            ));
        }
        if let Some(token) = &token
            && (token.is_empty() || token.chars().any(|c| c.is_control() || c == ' '))
        {
            return Err("--token: empty, or has spaces or control characters".to_string());
        }
        let mut endpoint =
            Endpoint::from_uri(&uri).map_err(|error| format!("--url {url}: {error}"))?;
        // Plain HTTP checks no certificate (and the machine may have no roots), but a --ca-file
        // given is still checked.
        if tls || ca_file.is_some() {
            let mut errors = FieldErrors::default();
            let file = FileUpstreamTls {
                ca_file: ca_file.map(|path| path.display().to_string()),
                ..FileUpstreamTls::default()
            };
            let config =
                validate_upstream_tls(Some(file), true, "--ca-file", Path::new("."), &mut errors)
                    .ok_or_else(|| errors.messages().join("; "))?
                    .client;
            endpoint = endpoint.with_client_config(config);
        }
        Ok(Self {
            url: uri,
            endpoint,
            token,
        })
    }
}

/// Runs `gatewatch top` until the user quits.
pub async fn run(attach: Attach) -> ExitCode {
    let (updates, feed) = mpsc::channel(1_024);
    let stop = CancellationToken::new();
    let follower = tokio::spawn(follow(attach.clone(), updates, stop.clone()));
    let mut screen = match Screen::take_over() {
        Ok(screen) => screen,
        Err(error) => {
            eprintln!("gatewatch: cannot take over the terminal: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut model = Model::new(
        format!("attached to {}", attach.url),
        Link::Connecting {
            attempt: 1,
            reason: None,
        },
    );
    let control = Control {
        can_hide: false,
        wait_for_stop: false,
        quit: CancellationToken::new(),
        stop: CancellationToken::new(),
        palette: Palette::from_env(),
    };
    let outcome =
        event_loop::run(&mut screen, &mut model, &mut Feed::Attached(feed), &control).await;
    drop(screen);
    stop.cancel();
    follower.abort();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gatewatch: the terminal dashboard failed: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Sessions one after the other until `stop`, with a backoff between them.
async fn follow(attach: Attach, updates: mpsc::Sender<Update>, stop: CancellationToken) {
    let mut attempt: u32 = 1;
    loop {
        let reason = tokio::select! {
            () = stop.cancelled() => return,
            reason = session(&attach, &updates, &mut attempt) => reason,
        };
        if updates.is_closed() {
            return;
        }
        attempt += 1;
        let _ = updates
            .send(Update::Link(Link::Connecting {
                attempt,
                reason: Some(reason),
            }))
            .await;
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff(attempt)) => {}
        }
    }
}

/// The wait before attempt `attempt` (2 and on): 0.5 s doubling to at most 5 s.
pub fn backoff(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(2).min(4);
    Duration::from_millis(500 << doublings).min(Duration::from_secs(5))
}

/// One session: the snapshot, then the live events; returns why it ended.
async fn session(attach: &Attach, updates: &mpsc::Sender<Update>, attempt: &mut u32) -> String {
    let snapshot = async {
        let mut api = Api::open(attach).await?;
        let logs = format!("/api/logs?limit={SNAPSHOT_LOG_LINES}");
        Ok::<_, String>(Snapshot {
            metrics: api.get::<MetricsSnapshot>("/api/metrics").await?,
            routes: api.get::<Vec<RouteView>>("/api/routes").await?,
            models: api.get::<Vec<ModelView>>("/api/models").await?,
            logs: api.get::<LogPage>(&logs).await?.lines,
            alerts: api
                .get::<crate::views::AlertsSnapshot>("/api/alerts")
                .await?
                .alerts,
        })
    };
    let snapshot = async {
        tokio::time::timeout(DEADLINE, snapshot)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {}s", DEADLINE.as_secs())))
    };
    // The live socket first, so that nothing between the snapshot and the first frame is lost
    // (what arrives twice, the model ignores).
    let socket = match connect_live(attach).await {
        Ok(socket) => socket,
        Err(reason) => return reason,
    };
    let snapshot = match snapshot.await {
        Ok(snapshot) => snapshot,
        Err(reason) => return reason,
    };
    if updates
        .send(Update::Snapshot(Box::new(snapshot)))
        .await
        .is_err()
        || updates.send(Update::Link(Link::Live)).await.is_err()
    {
        return "the dashboard closed".to_string();
    }
    *attempt = 0;
    let (_sink, mut frames) = socket.split();
    loop {
        let frame = match tokio::time::timeout(DEADLINE, frames.next()).await {
            Err(_) => {
                return format!("no live event for {}s", DEADLINE.as_secs());
            }
            Ok(None) => return "the gateway closed the live socket".to_string(),
            Ok(Some(Err(error))) => return format!("live socket: {error}"),
            Ok(Some(Ok(frame))) => frame,
        };
        let text = match frame {
            Message::Text(text) => text,
            Message::Close(_) => return "the gateway closed the live socket".to_string(),
            // Pings are answered by tungstenite itself; nothing else is sent.
            _ => continue,
        };
        match serde_json::from_str::<LiveEvent>(&text) {
            Ok(event) => {
                if updates.send(Update::Event(event)).await.is_err() {
                    return "the dashboard closed".to_string();
                }
            }
            Err(error) => return format!("live socket: not a live event ({error})"),
        }
    }
}

/// One HTTP/1.1 connection to the admin API, for the snapshot's requests one after the other.
struct Api<'a> {
    attach: &'a Attach,
    sender: SendRequest<Empty<Bytes>>,
}

impl<'a> Api<'a> {
    async fn open(attach: &'a Attach) -> Result<Self, String> {
        let stream = connect(&attach.endpoint).await?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| format!("HTTP with {}: {error}", attach.endpoint.authority()))?;
        // Ends when the sender is dropped (or the gateway closes the connection).
        tokio::spawn(connection);
        Ok(Self { attach, sender })
    }

    /// GETs `path` and reads its JSON body.
    async fn get<T: DeserializeOwned>(&mut self, path: &str) -> Result<T, String> {
        let mut request = hyper::Request::get(path)
            .header(hyper::header::HOST, self.attach.endpoint.authority())
            .header(hyper::header::ACCEPT, "application/json");
        if let Some(token) = &self.attach.token {
            request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Empty::new())
            .map_err(|error| format!("{path}: {error}"))?;
        self.sender
            .ready()
            .await
            .map_err(|error| format!("{path}: {error}"))?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|error| format!("{path}: {error}"))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|error| format!("{path}: {error}"))?
            .to_bytes();
        if !status.is_success() {
            let message = String::from_utf8_lossy(&body);
            let message: String = message.trim().chars().take(200).collect();
            return Err(format!("{path}: {status} {message}"));
        }
        serde_json::from_slice(&body)
            .map_err(|error| format!("{path}: not the expected JSON ({error})"))
    }
}

type LiveSocket = tokio_tungstenite::WebSocketStream<Box<dyn Stream>>;

/// Opens `/api/live`.
async fn connect_live(attach: &Attach) -> Result<LiveSocket, String> {
    let path = crate::live_feed::LIVE_SOCKET_PATH;
    let scheme = if attach.endpoint.is_tls() {
        "wss"
    } else {
        "ws"
    };
    let url = format!("{scheme}://{}{path}", attach.endpoint.authority());
    let connecting = async {
        let stream = connect(&attach.endpoint).await?;
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|error| format!("{url}: {error}"))?;
        if let Some(token) = &attach.token {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|_| "--token: not usable in a header".to_string())?;
            request.headers_mut().insert("authorization", value);
        }
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_BODY))
            .max_frame_size(Some(MAX_BODY));
        let (socket, _) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(config))
                .await
                .map_err(|error| format!("{path}: {error}"))?;
        Ok(socket)
    };
    tokio::time::timeout(DEADLINE, connecting)
        .await
        .map_err(|_| format!("{path}: no answer within {}s", DEADLINE.as_secs()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_five_seconds() {
        let waits: Vec<u64> = (2..9).map(|a| backoff(a).as_millis() as u64).collect();
        assert_eq!(waits, vec![500, 1_000, 2_000, 4_000, 5_000, 5_000, 5_000]);
    }

    #[test]
    fn the_command_line_is_checked() {
        assert!(Attach::new("http://127.0.0.1:3000", None, None).is_ok());
        assert!(Attach::new("https://gw.example.com", Some("abc".into()), None).is_ok());
        let error = Attach::new("ftp://127.0.0.1", None, None).unwrap_err();
        assert!(error.contains("http:// or https://"), "{error}");
        assert!(Attach::new("127.0.0.1:3000", None, None).is_err());
        assert!(Attach::new("http://127.0.0.1:3000", Some("a b".into()), None).is_err());
        let error =
            Attach::new("https://gw", None, Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(error.contains("--ca-file"), "{error}");
        let error = Attach::new("http://user:pw@127.0.0.1:3000", None, None).unwrap_err();
        assert!(error.contains("credentials go in --token"), "{error}");
        let attach = Attach::new("http://[::1]:3000", None, None).unwrap();
        let endpoint = &attach.endpoint;
        assert_eq!((endpoint.host(), endpoint.port()), ("::1", 3000));
        assert_eq!(endpoint.authority(), "[::1]:3000");
        let attach = Attach::new("https://gw.example.com", None, None).unwrap();
        let endpoint = &attach.endpoint;
        assert_eq!((endpoint.host(), endpoint.port()), ("gw.example.com", 443));
        assert!(endpoint.is_tls());
    }
}
