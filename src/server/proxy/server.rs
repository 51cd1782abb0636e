//! The proxy's accept loop: HTTP/1.1 (with upgrades) and cleartext HTTP/2 on every connection,
//! TCP_NODELAY, a bound on how long request headers may take; on stop, it stops accepting and lets
//! open connections finish their in-flight requests (the caller bounds how long).

use super::pipeline::ProxyCore;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Longest a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `listener` until `stop` is cancelled, then waits for open connections to finish.
pub async fn serve(listener: TcpListener, core: Arc<ProxyCore>, stop: CancellationToken) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
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
        let open = OpenConnection::count(core.clone());
        let core = core.clone();
        let client = peer.ip();
        let service = service_fn(move |request| {
            let core = core.clone();
            async move { Ok::<_, Infallible>(core.handle(request, client).await) }
        });
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            let _open = open;
            if let Err(error) = connection.await {
                tracing::debug!(%error, "proxy connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Counts a client connection in [`ProxyCore::connections`] until dropped.
struct OpenConnection(Arc<ProxyCore>);

impl OpenConnection {
    fn count(core: Arc<ProxyCore>) -> Self {
        core.connections.fetch_add(1, Ordering::Relaxed);
        Self(core)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}
