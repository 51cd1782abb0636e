//! Starting and stopping the gateway: bind both listeners, serve them, run the background tasks
//! (health checks, config watcher, event recorder, live ticker), and shut down gracefully — stop
//! accepting, let in-flight requests and WebSocket tunnels finish up to a bound, then cut them.

use crate::server::config::Config;
use crate::server::proxy::Proxy;
use crate::server::proxy::event::{EVENT_QUEUE, EventSink};
use crate::server::state::{AppState, Gateway, Listening, SharedGateway};
use crate::server::{dashboard, live, proxy, recorder, reload, site};
use axum::Router;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

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
    /// The listeners: they finish once drained.
    servers: JoinSet<()>,
    /// Background tasks that end on the shutdown token.
    background: JoinSet<()>,
    stop_recorder: CancellationToken,
    recorder: tokio::task::JoinHandle<()>,
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
    let shutdown = CancellationToken::new();
    let (events, event_queue) = EventSink::channel(EVENT_QUEUE);
    let proxy = Proxy::new(&config, events, shutdown.clone());
    let gateway = Gateway::new(
        config,
        config_path,
        listening,
        proxy.clone(),
        shutdown.clone(),
    );
    let state = AppState {
        leptos_options: site::leptos_options(dashboard_addr),
        gateway: gateway.clone(),
    };

    let stop_recorder = CancellationToken::new();
    let recorder = tokio::spawn(recorder::run(
        event_queue,
        gateway.clone(),
        stop_recorder.clone(),
    ));
    let mut background = JoinSet::new();
    background.spawn(live::run_ticker(gateway.clone()));
    background.spawn(reload::watch(gateway.clone()));
    let mut servers = JoinSet::new();
    servers.spawn(proxy::server::serve(
        proxy_listener,
        proxy.core().clone(),
        shutdown.clone(),
    ));
    servers.spawn(serve_dashboard(
        dashboard_listener,
        dashboard::router(state),
        shutdown,
    ));
    Ok(RunningGateway {
        gateway,
        proxy_addr,
        dashboard_addr,
        servers,
        background,
        stop_recorder,
        recorder,
    })
}

async fn serve_dashboard(listener: TcpListener, router: Router, stop: CancellationToken) {
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(error) = axum::serve(listener, service)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
    {
        tracing::error!(%error, "dashboard listener failed");
    }
}

impl RunningGateway {
    /// Shuts down: stops accepting, then waits up to `drain` for in-flight requests and open
    /// WebSocket tunnels to finish; whatever is left is cut. Returns whether everything finished.
    pub async fn shutdown(mut self, drain: Duration) -> bool {
        self.gateway.shutdown_token().cancel();
        let core = self.gateway.proxy().core().clone();
        core.tunnels.close();
        let drained = tokio::time::timeout(drain, async {
            while self.servers.join_next().await.is_some() {}
            core.tunnels.wait().await;
        })
        .await
        .is_ok();
        if !drained {
            core.close_tunnels.cancel();
            self.servers.abort_all();
            core.tunnels.wait().await;
        }
        while self.background.join_next().await.is_some() {}
        self.stop_recorder.cancel();
        let _ = self.recorder.await;
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
