//! Starting and stopping the gateway: bind both listeners, serve them, and shut down gracefully —
//! stop accepting, close live sockets, drain in-flight requests up to a bound.

use crate::server::config::Config;
use crate::server::state::{AppState, Gateway, Listening, SharedGateway};
use crate::server::{dashboard, live, proxy, site};
use axum::Router;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// How long a shutdown waits for in-flight requests before giving up on them.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} ({field}): {source}")]
pub struct StartError {
    /// The config field holding the address.
    pub field: &'static str,
    /// The address.
    pub addr: SocketAddr,
    #[source]
    pub source: io::Error,
}

/// A started gateway: both listeners are bound and serving.
pub struct RunningGateway {
    /// The gateway's shared state.
    pub gateway: SharedGateway,
    /// Where the proxy actually listens (resolves port 0).
    pub proxy_addr: SocketAddr,
    /// Where the dashboard actually listens (resolves port 0).
    pub dashboard_addr: SocketAddr,
    tasks: JoinSet<()>,
}

async fn bind(
    field: &'static str,
    addr: SocketAddr,
) -> Result<(TcpListener, SocketAddr), StartError> {
    let error = |source| StartError {
        field,
        addr,
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(error)?;
    let local = listener.local_addr().map_err(error)?;
    Ok((listener, local))
}

/// Binds the proxy and dashboard listeners for `config` and starts serving.
pub async fn start(config: Config, config_path: PathBuf) -> Result<RunningGateway, StartError> {
    let (proxy_listener, proxy_addr) = bind("listen", config.listen).await?;
    let (dashboard_listener, dashboard_addr) =
        bind("dashboard.listen", config.dashboard.listen).await?;
    let listening = Listening {
        proxy: proxy_addr,
        dashboard: dashboard_addr,
    };
    let gateway = Gateway::new(config, config_path, listening);
    let state = AppState {
        leptos_options: site::leptos_options(dashboard_addr),
        gateway: gateway.clone(),
    };

    let mut tasks = JoinSet::new();
    tasks.spawn(live::run_ticker(gateway.clone()));
    tasks.spawn(serve(proxy_listener, proxy::router(), gateway.clone()));
    tasks.spawn(serve(
        dashboard_listener,
        dashboard::router(state),
        gateway.clone(),
    ));
    Ok(RunningGateway {
        gateway,
        proxy_addr,
        dashboard_addr,
        tasks,
    })
}

async fn serve(listener: TcpListener, router: Router, gateway: SharedGateway) {
    let shutdown = gateway.shutdown_token().clone().cancelled_owned();
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(error) = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(%error, "listener failed");
    }
}

impl RunningGateway {
    /// Shuts down: stops accepting, then waits up to `drain` for in-flight work to finish.
    /// Returns whether everything finished in time.
    pub async fn shutdown(mut self, drain: Duration) -> bool {
        self.gateway.shutdown_token().cancel();
        let drained = tokio::time::timeout(drain, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await
        .is_ok();
        if !drained {
            self.tasks.abort_all();
        }
        drained
    }
}

/// Resolves when the process receives Ctrl-C or SIGTERM.
pub async fn termination_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
