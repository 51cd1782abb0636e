//! The dashboard over HTTPS (`dashboard.tls`): a listener (axum's `Listener`) whose connections
//! arrive with their handshake done. One task accepts TCP connections and gives each its own
//! handshake task (bounded by the [terminator](super::acceptor::Terminator)), so a stalled
//! client never holds up the next; finished handshakes wait in a short queue for the dashboard's accept loop.

use super::acceptor::Terminator;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

/// Connections with a finished handshake waiting to be taken.
const READY_QUEUE: usize = 64;

/// The dashboard's HTTPS listener.
pub struct HttpsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl HttpsListener {
    /// Accepts on `listener` until `stop` (or until this listener is dropped), handshaking with
    /// `terminator`.
    pub fn start(
        listener: TcpListener,
        terminator: Arc<Terminator>,
        stop: CancellationToken,
    ) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let (ready_tx, ready) = mpsc::channel(READY_QUEUE);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = ready_tx.closed() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(error) => {
                            tracing::warn!(%error, "dashboard accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                // Live events are small frames: no Nagle delay.
                let _ = stream.set_nodelay(true);
                let (terminator, ready_tx) = (terminator.clone(), ready_tx.clone());
                tokio::spawn(async move {
                    if let Ok(stream) = terminator.accept(stream).await {
                        let _ = ready_tx.send((stream, peer)).await;
                    }
                });
            }
        });
        Ok(Self { ready, local })
    }
}

impl axum::serve::Listener for HttpsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept task has stopped (shutdown): nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
