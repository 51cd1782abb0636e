//! Serving HTTP on one accepted client connection, for the proxy's listeners and the
//! dashboard's alike, within `limits`:
//!
//! - the protocol is told from the first bytes (the HTTP/2 preface, or anything else for
//!   HTTP/1.1) under the header-read deadline, so a client that sends nothing is closed;
//! - HTTP/1.1 (with upgrades) or HTTP/2 is served by hyper, request heads bounded by
//!   `max_header_bytes` (hyper answers a larger one with 431: HTTP/1.1 from its read buffer,
//!   HTTP/2 from `SETTINGS_MAX_HEADER_LIST_SIZE`);
//! - [`Deadlines`](deadlines::Deadlines) time the connection: the first head within
//!   `header_read_timeout`, an idle connection's next request within `keepalive_idle_timeout`
//!   and, on HTTP/1.1, its head within `header_read_timeout` of its first byte. A late HTTP/1.1
//!   head gets `408` and the connection is closed; an idle HTTP/1.1 connection is closed; an
//!   HTTP/2 connection gets a GOAWAY;
//! - on `stop`, a graceful shutdown: in-flight requests finish, then the connection closes.
//!
//! The timer is one per connection, re-armed lazily: a deadline moving later (the common case,
//! request after request) costs nothing until the timer fires.

pub mod activity;
pub mod client_io;
pub mod deadlines;

use activity::Activity;
use client_io::{ClientIo, PREFIX_LEN};
use deadlines::{Deadlines, Expired};
use hyper::body::{Body, Incoming};
use hyper::rt::bounds::Http2ServerConnExec;
use hyper::server::conn::{http1, http2};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::error::Error as StdError;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

use crate::server::config::Limits;

/// The HTTP/2 connection preface.
const H2_PREFACE: &[u8; PREFIX_LEN] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// hyper's default HTTP/1.1 read buffer bound; raised when `max_header_bytes` is larger.
const HYPER_MAX_BUF: usize = 8192 + 4096 * 100;

/// How long an HTTP/2 connection cut by a deadline has to take its GOAWAY and close.
const GOAWAY_GRACE: Duration = Duration::from_secs(1);

/// How long the `408` of a late HTTP/1.1 head may take to write.
const TIMEOUT_ANSWER_GRACE: Duration = Duration::from_secs(1);

const REQUEST_TIMEOUT_ANSWER: &[u8] =
    b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";

type BoxError = Box<dyn StdError + Send + Sync>;

/// Serves `stream`, ready for its first request since `ready` (accepted, or its TLS handshake
/// done), with `service`, which must start each request in `activity` and track its response
/// body (see [`activity::TrackedBody`]).
pub async fn serve<I, S, B>(
    mut stream: I,
    ready: Instant,
    limits: &Limits,
    activity: Arc<Activity>,
    service: S,
    stop: &CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: 'static,
    S::Error: Into<BoxError>,
    B: Body + 'static,
    B::Error: Into<BoxError>,
    TokioExecutor: Http2ServerConnExec<S::Future, B>,
{
    let mut prefix = [0; PREFIX_LEN];
    let first_head = ready + limits.header_read_timeout;
    let sniffed = tokio::select! {
        sniffed = sniff(&mut stream, &mut prefix) => sniffed,
        () = tokio::time::sleep_until(first_head) => return,
        () = stop.cancelled() => return,
    };
    let Ok((http2, len)) = sniffed else {
        return;
    };
    let io = TokioIo::new(ClientIo::new(stream, &prefix[..len], activity.clone()));
    let mut watchdog = Watchdog::new(Deadlines::new(limits, !http2, ready), activity, http2);
    if http2 {
        let mut builder = http2::Builder::new(TokioExecutor::new());
        builder.max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
        let mut connection = pin!(builder.serve_connection(io, service));
        let shutdown = |c: Pin<&mut _>| http2::Connection::graceful_shutdown(c);
        match drive(connection.as_mut(), &mut watchdog, stop, shutdown).await {
            Ended::Done(result) => log_end(result),
            Ended::Expired(_) => {
                // GOAWAY; the client has a moment to take it before the socket closes.
                connection.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(GOAWAY_GRACE, connection).await;
            }
        }
        return;
    }
    let mut builder = http1::Builder::new();
    builder
        .header_read_timeout(None)
        .max_header_size(limits.max_header_bytes);
    if limits.max_header_bytes >= HYPER_MAX_BUF {
        builder.max_buf_size(limits.max_header_bytes + 1);
    }
    let mut connection = builder.serve_connection(io, service).with_upgrades();
    let shutdown = |c: Pin<&mut _>| http1::UpgradeableConnection::graceful_shutdown(c);
    match drive(Pin::new(&mut connection), &mut watchdog, stop, shutdown).await {
        Ended::Done(result) => log_end(result),
        Ended::Expired(Expired::Idle) => {}
        Ended::Expired(Expired::Head) => {
            if let Some(parts) = connection.into_parts() {
                let mut stream = parts.io.into_inner().into_inner();
                let _ = tokio::time::timeout(TIMEOUT_ANSWER_GRACE, async move {
                    stream.write_all(REQUEST_TIMEOUT_ANSWER).await?;
                    stream.shutdown().await
                })
                .await;
            }
        }
    }
}

/// Reads the first bytes into `prefix`: whether they are the HTTP/2 preface, and how many were
/// read (up to the first that differs from it).
async fn sniff<I: AsyncRead + Unpin>(
    stream: &mut I,
    prefix: &mut [u8; PREFIX_LEN],
) -> std::io::Result<(bool, usize)> {
    let mut len = 0;
    loop {
        let n = stream.read(&mut prefix[len..]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        len += n;
        if prefix[..len] != H2_PREFACE[..len] {
            return Ok((false, len));
        }
        if len == PREFIX_LEN {
            return Ok((true, len));
        }
    }
}

fn log_end(result: hyper::Result<()>) {
    if let Err(error) = result {
        tracing::debug!(%error, "client connection ended with an error");
    }
}

/// How [`drive`] ended.
enum Ended {
    /// The connection finished by itself.
    Done(hyper::Result<()>),
    /// A deadline passed.
    Expired(Expired),
}

/// Polls `connection` until it ends or a deadline passes; on `stop`, shuts it down gracefully
/// and lets it finish.
async fn drive<C>(
    mut connection: Pin<&mut C>,
    watchdog: &mut Watchdog,
    stop: &CancellationToken,
    shutdown: impl Fn(Pin<&mut C>),
) -> Ended
where
    C: Future<Output = hyper::Result<()>>,
{
    let mut stopped = pin!(stop.cancelled());
    let mut stopping = false;
    poll_fn(|cx| {
        if let Poll::Ready(result) = connection.as_mut().poll(cx) {
            return Poll::Ready(Ended::Done(result));
        }
        if !stopping && stopped.as_mut().poll(cx).is_ready() {
            stopping = true;
            shutdown(connection.as_mut());
            if let Poll::Ready(result) = connection.as_mut().poll(cx) {
                return Poll::Ready(Ended::Done(result));
            }
        }
        watchdog.poll_expired(cx).map(Ended::Expired)
    })
    .await
}

/// A connection's deadlines and the one timer that enforces them.
struct Watchdog {
    deadlines: Deadlines,
    activity: Arc<Activity>,
    /// HTTP/2 serves each stream on its own task: the connection's task must be woken when the
    /// last one ends. (HTTP/1.1 ends requests on the connection's task itself.)
    wake_when_idle: bool,
    timer: Pin<Box<Sleep>>,
    /// When `timer` fires; `None` once it has fired.
    armed: Option<Instant>,
}

impl Watchdog {
    fn new(deadlines: Deadlines, activity: Arc<Activity>, wake_when_idle: bool) -> Self {
        let first = deadlines.deadline().unwrap_or_else(Instant::now);
        Self {
            deadlines,
            activity,
            wake_when_idle,
            timer: Box::pin(tokio::time::sleep_until(first)),
            armed: Some(first),
        }
    }

    /// Ready with what expired once the connection's deadline has passed.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<Expired> {
        let activity = &self.activity;
        self.deadlines.observe(
            activity.in_flight(),
            activity.started(),
            activity.take_bytes_read(),
            activity.take_bytes_written(),
            Instant::now,
        );
        let Some(deadline) = self.deadlines.deadline() else {
            if self.wake_when_idle {
                activity.wake_when_idle(cx);
            }
            return Poll::Pending;
        };
        loop {
            // A timer set for later than the deadline is brought forward; one set earlier is
            // left to fire, and then set again.
            if self.armed.is_none_or(|armed| armed > deadline) {
                self.timer.as_mut().reset(deadline);
                self.armed = Some(deadline);
            }
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.armed = None;
            if Instant::now() >= deadline {
                return Poll::Ready(self.deadlines.expired());
            }
        }
    }
}
