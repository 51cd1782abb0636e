//! The proxy's accept loops — the plain listener and, with `tls`, the HTTPS one — which hand
//! every connection to a [worker thread](super::workers), and the workers' serving: HTTP/1.1
//! (with upgrades) and HTTP/2 on every connection (cleartext, or over TLS as ALPN chose),
//! TCP_NODELAY, a bound on how long request headers may take; on stop, they stop accepting and
//! let open connections finish their in-flight requests (the caller bounds how long).
//!
//! A TLS connection's handshake runs on its worker, in the connection's own task, bounded by
//! the [terminator](crate::server::tls::acceptor::Terminator): the accept loop never waits for
//! a client.

use super::headers::Proto;
use super::pipeline::ProxyCore;
use super::workers::{Load, Workers};
use crate::server::tls::acceptor::Terminator;
use futures_util::FutureExt;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Longest a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A client connection on its way to a worker.
struct Accepted {
    stream: std::net::TcpStream,
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
                client: peer.ip(),
                open: OpenConnection::count(core.clone(), load),
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
async fn serve_connections(mut incoming: mpsc::Receiver<Accepted>, core: Arc<ProxyCore>) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    while let Some(accepted) = incoming.recv().await {
        let Accepted {
            stream,
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
        let core = core.clone();
        let proto = if tls.is_some() {
            Proto::Https
        } else {
            Proto::Http
        };
        // The request's future is `handle`'s own, not one wrapped in another: it is moved into
        // hyper's connection state on every request, so its size is paid each time.
        let service = service_fn(move |request| {
            core.clone()
                .handle(request, client, proto)
                .map(Ok::<_, Infallible>)
        });
        let Some(terminator) = tls else {
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let connection = graceful.watch(connection.into_owned());
            tokio::spawn(async move {
                let _open = open;
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "proxy connection ended with an error");
                }
            });
            continue;
        };
        // Watched from the end of its handshake on; a handshake still running at shutdown
        // ends with the worker.
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        tokio::spawn(async move {
            let _open = open;
            // A failure is counted by the terminator; the connection simply ends.
            let Ok(stream) = terminator.accept(stream).await else {
                return;
            };
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(error) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(%error, "proxy TLS connection ended with an error");
            }
        });
    }
    graceful.shutdown().await;
    core.tunnels.wait().await;
}

/// Counts a client connection in [`ProxyCore::connections`] and in its worker's load until
/// dropped.
struct OpenConnection {
    core: Arc<ProxyCore>,
    _load: Load,
}

impl OpenConnection {
    fn count(core: Arc<ProxyCore>, load: Load) -> Self {
        core.connections.fetch_add(1, Ordering::Relaxed);
        Self { core, _load: load }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.core.connections.fetch_sub(1, Ordering::Relaxed);
    }
}
