//! Starting and stopping the gateway: bind the listeners (proxy, its HTTPS one with `tls`, and
//! the dashboard, over HTTPS with `dashboard.tls`), serve them, run the background tasks
//! (health checks, config and certificate watchers, event recorder, live ticker, the demo if
//! configured), and shut
//! down gracefully — stop accepting, let in-flight requests and WebSocket tunnels finish up to a
//! bound, then cut them.

use crate::server::admin::audit::AuditLog;
use crate::server::admin::{self, AppState, auth, live_socket, site};
use crate::server::config::{Config, HistoryConfig};
use crate::server::gateway::{
    Gateway, HistoryState, Listening, SharedGateway, config_reload, recorder,
};
use crate::server::history::{History, HistoryOptions, HistoryWriter};
use crate::server::proxy;
use crate::server::proxy::Proxy;
use crate::server::proxy::event::{EVENT_QUEUE, EventSink};
use crate::server::proxy::listener::HttpsListener;
use crate::server::tls::{self, TlsTermination, dashboard_listener};
use crate::views::HistoryStatus;
use axum::Router;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a shutdown waits for in-flight requests before giving up on them.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long cutting what is left after [`DRAIN_TIMEOUT`] may take (the workers drop their
/// connections and report the requests cut).
pub const CUT_TIMEOUT: Duration = Duration::from_secs(1);

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
    /// Where the proxy's HTTPS listener actually listens, with `tls`.
    pub https_addr: Option<SocketAddr>,
    /// The listeners: they finish once drained.
    servers: JoinSet<()>,
    /// Background tasks that end on the shutdown token.
    background: JoinSet<()>,
    stop_recorder: CancellationToken,
    recorder: tokio::task::JoinHandle<()>,
    history_writer: Option<HistoryWriter>,
}

/// Opens the history database if the config asks for it. A database that cannot be opened is
/// logged and reported in health; the gateway runs on without history.
async fn open_history(
    config: &HistoryConfig,
    recording: bool,
) -> (HistoryState, Option<HistoryWriter>) {
    if !config.enabled || !recording {
        return (HistoryState::Off, None);
    }
    let path = config.path.clone();
    let options = HistoryOptions {
        retention: config.retention,
        max_bytes: config.max_bytes,
        ..HistoryOptions::default()
    };
    let opened = tokio::task::spawn_blocking(move || History::open_with(&path, options)).await;
    match opened {
        Ok(Ok((history, writer))) => {
            tracing::info!(path = %history.path().display(), next_seq = history.next_seq(), "history opened");
            (HistoryState::Open(history), Some(writer))
        }
        Ok(Err(error)) => {
            tracing::error!("{error}; running without request history");
            (
                HistoryState::Failed(failed_history(config, error.to_string())),
                None,
            )
        }
        Err(join) => {
            tracing::error!(%join, "opening the history database panicked; running without it");
            let reason = "opening the database failed unexpectedly".to_string();
            (HistoryState::Failed(failed_history(config, reason)), None)
        }
    }
}

/// What health reports for a history database that could not be opened.
fn failed_history(config: &HistoryConfig, reason: String) -> HistoryStatus {
    HistoryStatus {
        path: config.path.display().to_string(),
        healthy: false,
        last_error: Some(reason),
        last_error_at: Some(chrono::Utc::now()),
        rows_written: 0,
        batches_dropped: 0,
        rows_dropped: 0,
        retention_days: config.retention.as_secs_f64() / 86_400.0,
        bytes: 0,
        max_bytes: config.max_bytes,
        rows_deleted_for_size: 0,
    }
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
    let https = match &config.tls {
        Some(tls) => Some(bind("tls.listen", tls.listen).await?),
        None => None,
    };
    let https_addr = https.as_ref().map(|(_, addr)| *addr);
    let listening = Listening {
        proxy: proxy_addr,
        dashboard: dashboard_addr,
        https: https_addr,
        dashboard_tls: config.dashboard.tls.is_some(),
    };
    let tls = Arc::new(TlsTermination::start(&config));
    let (history, history_writer) = open_history(&config.history, config.metrics.enabled).await;
    let shutdown = CancellationToken::new();
    let demo_config = config.demo.clone();
    if config.dashboard.allow_unauthenticated
        && !config.auth.has_accounts()
        && !config.dashboard.listen.ip().is_loopback()
    {
        tracing::warn!(
            "dashboard.allow_unauthenticated: the dashboard on {} is reachable from the network \
             without sign-in; anyone who can reach it can rewrite the gateway's config",
            config.dashboard.listen
        );
    }
    crate::server::config::warn_unverified(&config.routes);
    // The audit log lives in the history's file, whether or not the request history is on.
    let (audit_path, audit_retention) = (config.history.path.clone(), config.audit.retention);
    let (events, event_queue) = EventSink::channel(EVENT_QUEUE);
    let proxy = Proxy::new(&config, events, shutdown.clone());
    if let Some(addr) = https_addr {
        proxy
            .core()
            .https_port
            .store(addr.port(), std::sync::atomic::Ordering::Relaxed);
    }
    let gateway = Gateway::new(
        config,
        config_path,
        listening,
        (proxy.clone(), tls.clone()),
        history,
        shutdown.clone(),
    );
    gateway.alerts().start(&gateway.config().alerts);
    let audit = Arc::new(AuditLog::new(&audit_path, audit_retention));
    let state = AppState {
        leptos_options: site::leptos_options(dashboard_addr),
        gateway: gateway.clone(),
        auth: Arc::default(),
        audit,
        live_clients: Arc::default(),
    };

    let stop_recorder = CancellationToken::new();
    let recorder = tokio::spawn(recorder::run(
        event_queue,
        gateway.clone(),
        stop_recorder.clone(),
    ));
    let mut background = JoinSet::new();
    background.spawn(live_socket::run_ticker(gateway.clone()));
    background.spawn(live_socket::run_log_forwarder(gateway.clone()));
    background.spawn(config_reload::watch(gateway.clone()));
    background.spawn(tls::reload::watch(gateway.clone()));
    background.spawn(auth::keep_tidy(state.clone()));
    let mut servers = JoinSet::new();
    let https = https
        .zip(tls.proxy.clone())
        .map(|((listener, _), terminator)| HttpsListener {
            listener,
            terminator,
        });
    servers.spawn(proxy::listener::serve(
        proxy_listener,
        https,
        proxy.core().clone(),
        shutdown.clone(),
    ));
    let dashboard_listener = match tls.dashboard.clone() {
        Some(terminator) => DashboardListener::Https(
            dashboard_listener::HttpsListener::start(
                dashboard_listener,
                terminator,
                shutdown.clone(),
            )
            .map_err(|source| StartError {
                field: "dashboard.listen",
                addr: dashboard_addr,
                source,
            })?,
        ),
        None => DashboardListener::Plain(dashboard_listener),
    };
    servers.spawn(serve_dashboard(
        dashboard_listener,
        admin::router(state),
        gateway.clone(),
        shutdown.clone(),
    ));
    // Later reloads start, stop or restart it (see `demo::control`).
    gateway.demo().switch(demo_config).await;
    Ok(RunningGateway {
        gateway,
        proxy_addr,
        dashboard_addr,
        https_addr,
        servers,
        background,
        stop_recorder,
        recorder,
        history_writer,
    })
}

/// The dashboard's listener: plain HTTP, or HTTPS with `dashboard.tls`.
enum DashboardListener {
    Plain(TcpListener),
    Https(dashboard_listener::HttpsListener),
}

/// Serves the dashboard until `stop`, then lets open connections finish their requests. Each
/// connection is served within `limits` as read when it arrives (the same header-read and idle
/// deadlines, and head size, as the proxy's connections; `max_connections` is the proxy's own).
async fn serve_dashboard(
    listener: DashboardListener,
    router: Router,
    gateway: SharedGateway,
    stop: CancellationToken,
) {
    use axum::serve::Listener;
    let connections = TaskTracker::new();
    let serve = |stream, peer| {
        serve_dashboard_connection(&connections, stream, peer, &router, &gateway, &stop);
    };
    match listener {
        DashboardListener::Plain(listener) => loop {
            let (stream, peer) = tokio::select! {
                () = stop.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors or similar: back off instead of spinning.
                        tracing::warn!(%error, "dashboard accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            // Live events are small frames: without TCP_NODELAY, Nagle's algorithm holds each
            // one back until the browser's delayed ACK (~200 ms) arrives.
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY on a dashboard connection");
            }
            serve(Either::Left(stream), peer);
        },
        // TCP_NODELAY is set before the handshake.
        DashboardListener::Https(mut listener) => loop {
            let (stream, peer) = tokio::select! {
                () = stop.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            serve(Either::Right(Box::new(stream)), peer);
        },
    }
    connections.close();
    connections.wait().await;
}

/// A dashboard connection, plain or TLS.
type DashboardStream =
    Either<tokio::net::TcpStream, Box<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>>;

fn serve_dashboard_connection(
    connections: &TaskTracker,
    stream: DashboardStream,
    peer: SocketAddr,
    router: &Router,
    gateway: &SharedGateway,
    stop: &CancellationToken,
) {
    use crate::server::client_conn::{
        self,
        activity::{Activity, TrackedBody},
    };
    use futures_util::FutureExt;
    use tower::ServiceExt;
    let limits = gateway.config().limits;
    let activity = Arc::new(Activity::default());
    let service = {
        let (router, activity) = (router.clone(), activity.clone());
        hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            let request_guard = activity.start_request();
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            router.clone().oneshot(request).map(move |response| {
                response.map(|response| response.map(|body| TrackedBody::new(body, request_guard)))
            })
        })
    };
    let stop = stop.clone();
    connections.spawn(async move {
        let ready = tokio::time::Instant::now();
        client_conn::serve(stream, ready, &limits, activity, service, &stop).await;
    });
}

impl RunningGateway {
    /// Shuts down: stops accepting, then waits up to `drain` for in-flight requests and open
    /// WebSocket tunnels to finish; whatever is left is cut (and recorded as cut). Then the
    /// recorder hands its last batch to the history writer, which writes everything queued and
    /// closes the database. Returns whether everything finished.
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
            // The proxy's workers drop what they still serve, recording each request cut (error
            // kind `shutdown`) before its listener task ends; anything still running after
            // `CUT_TIMEOUT` (the dashboard's listener, a stuck worker) is aborted.
            core.close_tunnels.cancel();
            let _ = tokio::time::timeout(CUT_TIMEOUT, async {
                while self.servers.join_next().await.is_some() {}
            })
            .await;
            self.servers.abort_all();
            core.tunnels.wait().await;
        }
        while self.background.join_next().await.is_some() {}
        self.gateway.demo().stop().await;
        // The recorder flushes its last batches to the history; then the writer stores them.
        self.stop_recorder.cancel();
        let _ = self.recorder.await;
        if let Some(writer) = self.history_writer.take() {
            let _ = tokio::task::spawn_blocking(move || writer.shutdown()).await;
        }
        drained
    }
}

/// Ctrl-C and SIGTERM, caught from the moment this is made: made before the gateway says it is
/// running, so a signal sent as soon as it does asks for a graceful shutdown instead of the
/// default disposition ending the process on the spot.
pub struct TerminationSignal {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
}

impl TerminationSignal {
    /// Installs the handlers (a signal that cannot be caught is waited for never).
    pub fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Self {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }

    /// Resolves when either signal arrives (or has arrived since `install`).
    pub async fn received(mut self) {
        async fn next(signal: Option<&mut tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = next(self.interrupt.as_mut()) => {}
            _ = next(self.terminate.as_mut()) => {}
        }
    }
}
