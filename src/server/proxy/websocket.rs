//! WebSocket tunnels: once the upstream answers `101 Switching Protocols`, both upgraded
//! connections are joined and bytes copied both ways (frames, pings and close frames pass through
//! unchanged; when one side closes, the other is shut down). Tunnels live independently of the
//! route table, so reloads never cut them; a shutdown closes them after its drain period.
//!
//! `limits.max_websockets` bounds the tunnels open at once: an upgrade takes a [`TunnelSlot`]
//! before it is forwarded (none left: 503, not upgraded), held until its tunnel ends. A tunnel
//! with no byte either way for `limits.websocket_idle_timeout_ms` is closed. Both are read when
//! the upgrade arrives: a reload applies to new tunnels.

use super::event::{EventSink, ProxyEvent, RequestEvent, WebSocketEvent};
use super::table::Route;
use super::target::{InFlight, Target};
use axum::http::HeaderValue;
use chrono::{DateTime, Utc};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The WebSocket tunnels open, or being opened, at once.
#[derive(Debug, Default)]
pub struct TunnelSlots(Arc<AtomicUsize>);

impl TunnelSlots {
    /// A place for one more tunnel, closed after `idle_timeout` without traffic; `None` when
    /// `max` are taken.
    pub fn reserve(&self, max: usize, idle_timeout: Duration) -> Option<TunnelSlot> {
        let taken = self.0.fetch_add(1, Ordering::Relaxed);
        if taken >= max {
            self.0.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(TunnelSlot {
            taken: self.0.clone(),
            idle_timeout,
        })
    }

    /// Places taken now.
    pub fn taken(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// One tunnel's place among `limits.max_websockets`, given back when dropped.
#[derive(Debug)]
pub struct TunnelSlot {
    taken: Arc<AtomicUsize>,
    idle_timeout: Duration,
}

impl Drop for TunnelSlot {
    fn drop(&mut self) {
        self.taken.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Who a tunnel belongs to, for its event, and the place it holds.
#[derive(Debug)]
pub struct Session {
    started_at: DateTime<Utc>,
    request_id: HeaderValue,
    route: Arc<str>,
    target: Arc<str>,
    client: IpAddr,
    slot: TunnelSlot,
}

impl Session {
    /// The session opened by `request` on `route` to `target`, in `slot`.
    pub fn new(
        request: &RequestEvent,
        request_id: &HeaderValue,
        route: &Route,
        target: &Target,
        slot: TunnelSlot,
    ) -> Self {
        Self {
            started_at: request.started_at,
            request_id: request_id.clone(),
            route: route.name.clone(),
            target: target.name.clone(),
            client: request.client,
            slot,
        }
    }
}

/// Starts copying between the client's and the upstream's upgraded connections once both
/// upgrades complete; records a [`WebSocketEvent`] when the session ends.
pub fn open_tunnel(
    tunnels: &TaskTracker,
    close: CancellationToken,
    client: OnUpgrade,
    upstream: OnUpgrade,
    session: Session,
    in_flight: InFlight,
    events: EventSink,
) {
    tunnels.spawn(async move {
        let started = Instant::now();
        let copied = async {
            let (client, upstream) =
                tokio::try_join!(client, upstream).map_err(|error| error.to_string())?;
            let traffic = Arc::new(LastTraffic::new());
            let (mut client, mut upstream) = (
                Watched::new(TokioIo::new(client), &traffic),
                Watched::new(TokioIo::new(upstream), &traffic),
            );
            tokio::select! {
                copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {
                    copied.map_err(|error| error.to_string())
                }
                () = traffic.idle_for(session.slot.idle_timeout) => {
                    Err("closed after limits.websocket_idle_timeout_ms without traffic".to_string())
                }
                _ = close.cancelled() => Err("closed by gateway shutdown".to_string()),
            }
        }
        .await;
        drop(in_flight);
        drop(session.slot);
        let (bytes_from_client, bytes_from_upstream, error) = match copied {
            Ok((from_client, from_upstream)) => (from_client, from_upstream, None),
            Err(error) => (0, 0, Some(error)),
        };
        events.record(ProxyEvent::WebSocket(WebSocketEvent {
            started_at: session.started_at,
            request_id: session.request_id,
            route: session.route,
            target: session.target,
            client: session.client,
            duration: started.elapsed(),
            bytes_from_client,
            bytes_from_upstream,
            error,
        }));
    });
}

/// When a tunnel last carried a byte either way.
struct LastTraffic {
    opened: Instant,
    /// Milliseconds from `opened` to the last read that brought bytes.
    last_ms: AtomicU64,
}

impl LastTraffic {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn note(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Resolves once no byte has passed for `timeout`.
    async fn idle_for(&self, timeout: Duration) {
        loop {
            let last = self.opened + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + timeout;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline.into()).await;
        }
    }
}

/// One side of a tunnel, noting in [`LastTraffic`] every read that brings bytes.
struct Watched<T> {
    io: T,
    traffic: Arc<LastTraffic>,
}

impl<T> Watched<T> {
    fn new(io: T, traffic: &Arc<LastTraffic>) -> Self {
        Self {
            io,
            traffic: traffic.clone(),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.traffic.note();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
