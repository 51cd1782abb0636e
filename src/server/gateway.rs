//! The running gateway: its process-wide shared state ([`Gateway`]) and the background work
//! around it.
//!
//! - [`recorder`]: drains the proxy's event queue into the metrics engine, the history writer and
//!   the live feed;
//! - [`config_reload`]: the one way a new config is put in force (file watcher, SIGHUP and the
//!   dashboard all call [`config_reload::apply`]);
//! - [`snapshot`]: the views of the running gateway that the API, pages and 1 Hz tick share;
//! - [`log_capture`]: the gateway's own log lines in a bounded ring;
//! - [`live_frame`]: a published live event with its JSON, made once for every socket.

pub mod config_reload;
pub mod live_frame;
pub mod log_capture;
pub mod recorder;
pub mod snapshot;

use crate::server::alerts::Alerts;
use crate::server::config::{Config, ConfigDiff};
use crate::server::demo::control::DemoControl;
use crate::server::history::History;
use crate::server::metrics::engine::MetricsEngine;
use crate::server::proxy::Proxy;
use crate::server::proxy::event::ProxyEvent;
use crate::server::tls::TlsTermination;
use crate::views::{ConfigReload, GatewayStatus, HistoryStatus, LiveEvent};
use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use live_frame::LiveFrame;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// How many live events a slow subscriber may fall behind before it skips ahead.
pub const LIVE_EVENT_BUFFER: usize = 256;
/// How many proxy events a slow subscriber may fall behind before it skips ahead.
pub const PROXY_EVENT_BUFFER: usize = 4096;

/// The gateway as seen by every handler; cheap to clone.
pub type SharedGateway = Arc<Gateway>;

/// Where the gateway's listeners are actually bound (port 0 in the config resolves here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listening {
    /// The proxy listener.
    pub proxy: SocketAddr,
    /// The dashboard listener.
    pub dashboard: SocketAddr,
    /// The proxy's HTTPS listener, if `tls` was configured at start.
    pub https: Option<SocketAddr>,
    /// Whether the dashboard listener speaks HTTPS (`dashboard.tls` at start).
    pub dashboard_tls: bool,
}

/// The request history as the gateway started it.
pub enum HistoryState {
    /// `history.enabled` is false (or recording is off).
    Off,
    /// The database is open and its writer running.
    Open(History),
    /// Opening failed: the proxy runs without history and health says why.
    Failed(HistoryStatus),
}

/// Process-wide state of the running gateway.
pub struct Gateway {
    config: ArcSwap<Config>,
    proxy: Arc<Proxy>,
    listening: Listening,
    config_path: PathBuf,
    started_at: DateTime<Utc>,
    started: Instant,
    live_events: broadcast::Sender<LiveFrame>,
    proxy_events: broadcast::Sender<Arc<ProxyEvent>>,
    metrics: MetricsEngine,
    alerts: Alerts,
    history: HistoryState,
    last_reload: Mutex<Option<ConfigReload>>,
    /// Counts applied configs, for those who act on every change (not a live subscriber).
    applied: tokio::sync::watch::Sender<u64>,
    /// The built-in demo, started, stopped and restarted as reloads change it.
    demo: Arc<DemoControl>,
    /// The TLS listeners' certificates and handshake counts.
    tls: Arc<TlsTermination>,
    shutdown: CancellationToken,
}

impl Gateway {
    /// A gateway running `proxy` and `tls` on `config`, read from `config_path`, bound at
    /// `listening`; `shutdown` is cancelled when it begins shutting down.
    pub fn new(
        config: Config,
        config_path: PathBuf,
        listening: Listening,
        (proxy, tls): (Arc<Proxy>, Arc<TlsTermination>),
        history: HistoryState,
        shutdown: CancellationToken,
    ) -> SharedGateway {
        // Sequence numbers continue where the stored history ends, so cursors stay valid
        // across restarts.
        let first_seq = match &history {
            HistoryState::Open(history) => history.next_seq(),
            _ => 0,
        };
        let (live_events, _) = broadcast::channel(LIVE_EVENT_BUFFER);
        let (proxy_events, _) = broadcast::channel(PROXY_EVENT_BUFFER);
        let demo = Arc::new(DemoControl::new(listening.proxy, shutdown.clone()));
        let metrics = MetricsEngine::new(first_seq);
        metrics.watch_alerts(&config.alerts);
        // Alert history lives in the history's file, whether or not the request history is on.
        let alerts = Alerts::new(
            &config.alerts,
            &config.history.path,
            dashboard_url(&config, listening),
        );
        Arc::new(Self {
            config: ArcSwap::from_pointee(config),
            proxy,
            listening,
            config_path,
            started_at: Utc::now(),
            started: Instant::now(),
            live_events,
            proxy_events,
            metrics,
            alerts,
            history,
            last_reload: Mutex::new(None),
            applied: tokio::sync::watch::Sender::new(0),
            demo,
            tls,
            shutdown,
        })
    }

    /// Alert rules, their states and notifiers.
    pub fn alerts(&self) -> &Alerts {
        &self.alerts
    }

    /// The TLS listeners' certificates and handshake counts.
    pub fn tls(&self) -> &TlsTermination {
        &self.tls
    }

    /// The config in force.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Changes (to a count of applied configs) whenever a new config is put in force.
    pub fn config_applied(&self) -> tokio::sync::watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// The file the config is read from.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The proxy.
    pub fn proxy(&self) -> &Arc<Proxy> {
        &self.proxy
    }

    /// Where the listeners are bound.
    pub fn listening(&self) -> Listening {
        self.listening
    }

    /// When this process started.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// The built-in demo.
    pub fn demo(&self) -> &DemoControl {
        &self.demo
    }

    /// The metrics engine.
    pub fn metrics(&self) -> &MetricsEngine {
        &self.metrics
    }

    /// The request history, when it is on and open.
    pub fn history(&self) -> Option<&History> {
        match &self.history {
            HistoryState::Open(history) => Some(history),
            _ => None,
        }
    }

    /// The request history's state (`None` when history is off).
    pub fn history_status(&self) -> Option<HistoryStatus> {
        match &self.history {
            HistoryState::Off => None,
            HistoryState::Open(history) => Some(history.status()),
            HistoryState::Failed(status) => Some(status.clone()),
        }
    }

    /// Hands finished requests to the history writer without waiting.
    pub fn record_history(&self, records: Vec<crate::server::records::record::SharedRecord>) {
        if let Some(history) = self.history() {
            history.submit(records);
        }
    }

    /// Frees, on the calling thread, the records the history has written.
    pub fn release_written_history(&self) {
        if let Some(history) = self.history() {
            history.release_written();
        }
    }

    /// Whole seconds since start.
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// A snapshot for the dashboard.
    pub fn status(&self) -> GatewayStatus {
        GatewayStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: self.started_at,
            uptime_secs: self.uptime_secs(),
            generated_at: Utc::now(),
            proxy_listen: self.listening.proxy.to_string(),
            dashboard_listen: self.listening.dashboard.to_string(),
            config_path: self.config_path.display().to_string(),
            route_count: self.config().routes.len(),
            requests_total: self.metrics.request_totals().0,
            last_reload: self.last_reload(),
            demo: self.demo.is_running(),
        }
    }

    /// Puts `config` in force (the proxy switches tables atomically) and reports it with what it
    /// changed. Called only through [`config_reload::apply`].
    pub(crate) fn apply_config(&self, config: Config, trigger: &str) -> ConfigReload {
        let current = self.config();
        let diff = ConfigDiff::between(&current, &config);
        let warnings = diff.restart_warnings((self.listening.proxy, self.listening.dashboard));
        let changes = diff.summary();
        // Logged before the switch: a new route's health probes start the moment the table is
        // in force and log from other threads (a target refusing connections, at once), and the
        // log reads in order only if the reload's line comes first.
        tracing::info!(
            trigger,
            routes = config.routes.len(),
            "config applied{}",
            log_suffix(&changes)
        );
        if diff.sections_changed.contains(&"demo") {
            let (demo, wanted) = (self.demo.clone(), config.demo.clone());
            tokio::spawn(async move { demo.switch(wanted).await });
        }
        self.proxy.apply(&config);
        self.tls.apply(&config);
        self.metrics.watch_alerts(&config.alerts);
        for change in self.alerts.apply(&config.alerts) {
            self.publish(LiveEvent::Alert(change));
        }
        self.config.store(Arc::new(config));
        self.applied.send_modify(|count| *count += 1);
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        self.report_reload(ConfigReload {
            at: Utc::now(),
            trigger: trigger.to_string(),
            applied: true,
            errors: Vec::new(),
            warnings,
            changes,
        })
    }

    /// Reports a config that could not be applied; the current one keeps serving. Called only
    /// through [`config_reload::apply`].
    pub(crate) fn reject_config(&self, errors: Vec<String>, trigger: &str) -> ConfigReload {
        self.tls.note_rejected(&errors);
        tracing::error!(
            trigger,
            "config rejected, previous config keeps serving:\n  {}",
            errors.join("\n  ")
        );
        self.report_reload(ConfigReload {
            at: Utc::now(),
            trigger: trigger.to_string(),
            applied: false,
            errors,
            warnings: Vec::new(),
            changes: Vec::new(),
        })
    }

    fn report_reload(&self, report: ConfigReload) -> ConfigReload {
        *self
            .last_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(report.clone());
        self.publish(LiveEvent::ConfigReload(report.clone()));
        report
    }

    /// The outcome of the last reload, if any.
    pub fn last_reload(&self) -> Option<ConfigReload> {
        self.last_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether anything subscribed to proxy events.
    pub fn has_proxy_event_subscribers(&self) -> bool {
        self.proxy_events.receiver_count() > 0
    }

    /// Passes a proxy event (already counted by the metrics engine) on to proxy-event
    /// subscribers; never waits.
    pub fn publish_proxy_event(&self, event: ProxyEvent) {
        if self.has_proxy_event_subscribers() {
            let _ = self.proxy_events.send(Arc::new(event));
        }
    }

    /// A new subscription to proxy events (finished requests, WebSocket sessions).
    pub fn subscribe_proxy_events(&self) -> broadcast::Receiver<Arc<ProxyEvent>> {
        self.proxy_events.subscribe()
    }

    /// Sends an event to every live subscriber; never waits (a full buffer drops the oldest).
    pub fn publish(&self, event: LiveEvent) {
        // An error only means nobody is listening.
        let _ = self.live_events.send(LiveFrame::new(event));
    }

    /// Whether anyone (a dashboard's socket) is subscribed to live events now.
    pub fn has_live_subscribers(&self) -> bool {
        self.live_events.receiver_count() > 0
    }

    /// A new subscription to live events.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveFrame> {
        self.live_events.subscribe()
    }

    /// Cancelled when the gateway begins shutting down.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }
}

/// `": routes added: api; settings changed: demo"` for the reload's log line, or nothing.
fn log_suffix(changes: &[String]) -> String {
    if changes.is_empty() {
        String::new()
    } else {
        format!(": {}", changes.join("; "))
    }
}

/// The dashboard's base URL as links in notifications give it: the first of
/// `auth.allowed_hosts` if any (the name operators reach it by), else the bound address
/// (`localhost` for an unspecified one).
fn dashboard_url(config: &Config, listening: Listening) -> String {
    let scheme = if listening.dashboard_tls {
        "https"
    } else {
        "http"
    };
    if let Some(host) = config.auth.allowed_hosts.first() {
        return format!("{scheme}://{host}");
    }
    let addr = listening.dashboard;
    if addr.ip().is_unspecified() {
        format!("{scheme}://localhost:{}", addr.port())
    } else {
        format!("{scheme}://{addr}")
    }
}
