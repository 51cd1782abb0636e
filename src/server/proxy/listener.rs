//! The proxy's accept loops — the plain listener and, with `tls`, the HTTPS one — which hand
//! every connection to a [worker thread](super::workers), and the workers' serving through
//! [`client_conn`](crate::server::client_conn): HTTP/1.1 (with upgrades) and HTTP/2 on every
//! connection (cleartext, or over TLS as ALPN chose), TCP_NODELAY, within `limits` (header size,
//! header-read and idle deadlines, read when the connection arrives: a reload applies to new
//! connections); on stop, they stop accepting and let open connections finish their in-flight
//! requests (the caller bounds how long).
//!
//! Beyond `limits.max_connections` open connections, a new one is closed at once — before any
//! hand-over or handshake — and counted in [`ProxyCore::connections_rejected`].
//!
//! A TLS connection's handshake runs on its worker, in the connection's own task, bounded by
//! the [terminator](crate::server::tls::acceptor::Terminator): the accept loop never waits for
//! a client. Its header-read deadline starts when the handshake ends.

use super::headers::Proto;
use super::pipeline::ProxyCore;
use super::workers::{Handover, Load, Workers};
use crate::server::client_conn::{
    self,
    activity::{Activity, TrackedBody},
};
use crate::server::tls::acceptor::Terminator;
use futures_util::FutureExt;
use hyper::service::service_fn;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A client connection on its way to a worker.
struct Accepted {
    stream: std::net::TcpStream,
    /// When it was accepted: its first request's head is due `header_read_timeout` later.
    accepted_at: Instant,
    client: IpAddr,
    open: OpenConnection,
    /// The HTTPS listener's terminator; `None` on the plain listener.
    tls: Option<Arc<Terminator>>,
}

/// The proxy's HTTPS listener.
pub struct HttpsListener {
    pub listener: TcpListener,
    pub terminator: Arc<Terminator>,
}

/// Serves `listener` (and `https`, if any) until `stop` is cancelled, then waits for open
/// connections to finish, until [`ProxyCore::close_tunnels`] cuts them (each request cut is
/// recorded before this returns). The connections are served by [`Workers`]; dropping this
/// future cuts them too, without waiting.
pub async fn serve(
    listener: TcpListener,
    https: Option<HttpsListener>,
    core: Arc<ProxyCore>,
    stop: CancellationToken,
) {
    let workers = {
        let core = core.clone();
        Workers::start(move |incoming| serve_connections(incoming, core.clone()))
    };
    let plain = accept_loop(&listener, None, &workers, &core, &stop);
    match &https {
        Some(https) => {
            let tls = Some(&https.terminator);
            tokio::join!(
                plain,
                accept_loop(&https.listener, tls, &workers, &core, &stop)
            );
        }
        None => plain.await,
    }
    drop((listener, https));
    // At the end of the drain period, whatever is still in flight is cut.
    workers.finish_or_cut(core.close_tunnels.cancelled()).await;
}

/// Accepts on `listener` until `stop`, handing each connection to a worker.
async fn accept_loop(
    listener: &TcpListener,
    tls: Option<&Arc<Terminator>>,
    workers: &Workers<Accepted>,
    core: &Arc<ProxyCore>,
    stop: &CancellationToken,
) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors or similar: back off instead of spinning.
                    tracing::warn!(%error, "proxy accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let max = core.limits.load().max_connections;
        let Some(counted) = Counted::admit(core, max) else {
            core.connections_rejected.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, max, "limits.max_connections reached; connection closed");
            continue;
        };
        let accepted_at = Instant::now();
        let _ = stream.set_nodelay(true);
        // Leaves this runtime's poller for the worker's.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(error) => {
                tracing::debug!(%error, "cannot hand a proxy connection over");
                continue;
            }
        };
        let handed = workers
            .hand_over(|load| Accepted {
                stream,
                accepted_at,
                client: peer.ip(),
                open: OpenConnection {
                    _counted: counted,
                    _load: load,
                },
                tls: tls.cloned(),
            })
            .await;
        if handed.is_err() {
            tracing::warn!("a proxy worker has stopped; connection dropped");
        }
    }
}

/// One worker's part: serves the connections handed to it until the hand-over channel closes,
/// then lets them finish their in-flight requests, and waits for the WebSocket tunnels running
/// here (the shutdown has closed the tunnel tracker by then).
async fn serve_connections(mut incoming: Handover<Accepted>, core: Arc<ProxyCore>) {
    let connections = TaskTracker::new();
    let stop = CancellationToken::new();
    while let Some(accepted) = incoming.recv().await {
        let Accepted {
            stream,
            accepted_at,
            client,
            open,
            tls,
        } = accepted;
        let stream = match TcpStream::from_std(stream) {
            Ok(stream) => stream,
            Err(error) => {
                tracing::debug!(%error, "cannot take a proxy connection over");
                continue;
            }
        };
        let limits = **core.limits.load();
        let activity = Arc::new(Activity::default());
        let service = {
            let (core, activity) = (core.clone(), activity.clone());
            let proto = if tls.is_some() {
                Proto::Https
            } else {
                Proto::Http
            };
            // The request's future is `handle`'s own, not one wrapped in another: it is moved
            // into hyper's connection state on every request, so its size is paid each time.
            service_fn(move |request| {
                let request_guard = activity.start_request();
                core.clone()
                    .handle(request, client, proto)
                    .map(move |response| {
                        Ok::<_, Infallible>(
                            response.map(|body| TrackedBody::new(body, request_guard)),
                        )
                    })
            })
        };
        let stop = stop.clone();
        connections.spawn(async move {
            let _open = open;
            match tls {
                None => {
                    client_conn::serve(stream, accepted_at, &limits, activity, service, &stop)
                        .await;
                }
                Some(terminator) => {
                    // A failure is counted by the terminator; the connection simply ends.
                    let Ok(stream) = terminator.accept(stream).await else {
                        return;
                    };
                    let ready = Instant::now();
                    client_conn::serve(stream, ready, &limits, activity, service, &stop).await;
                }
            }
        });
    }
    stop.cancel();
    connections.close();
    connections.wait().await;
    core.tunnels.wait().await;
}

/// A client connection counted in [`ProxyCore::connections`] until dropped.
struct Counted(Arc<ProxyCore>);

impl Counted {
    /// Counts a new connection, unless `max` are open already.
    fn admit(core: &Arc<ProxyCore>, max: usize) -> Option<Self> {
        let open = core.connections.fetch_add(1, Ordering::Relaxed);
        if open >= max as u64 {
            core.connections.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(Self(core.clone()))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts a client connection in [`ProxyCore::connections`] and in its worker's load until
/// dropped.
struct OpenConnection {
    _counted: Counted,
    _load: Load,
}
