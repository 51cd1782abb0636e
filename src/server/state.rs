//! Shared server state: the [`Gateway`] (one per process) and the axum [`AppState`] around it.

use crate::server::config::Config;
use crate::server::proxy::Proxy;
use crate::server::proxy::event::ProxyEvent;
use crate::views::{ConfigReload, GatewayStatus, LiveEvent};
use arc_swap::ArcSwap;
use axum::extract::FromRef;
use chrono::{DateTime, Utc};
use leptos::config::LeptosOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
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
}

/// Process-wide state of the running gateway.
pub struct Gateway {
    config: ArcSwap<Config>,
    proxy: Arc<Proxy>,
    listening: Listening,
    config_path: PathBuf,
    started_at: DateTime<Utc>,
    started: Instant,
    live_events: broadcast::Sender<LiveEvent>,
    proxy_events: broadcast::Sender<Arc<ProxyEvent>>,
    requests_total: AtomicU64,
    last_reload: Mutex<Option<ConfigReload>>,
    shutdown: CancellationToken,
}

impl Gateway {
    /// A gateway running `proxy` on `config`, read from `config_path`, bound at `listening`;
    /// `shutdown` is cancelled when it begins shutting down.
    pub fn new(
        config: Config,
        config_path: PathBuf,
        listening: Listening,
        proxy: Arc<Proxy>,
        shutdown: CancellationToken,
    ) -> SharedGateway {
        let (live_events, _) = broadcast::channel(LIVE_EVENT_BUFFER);
        let (proxy_events, _) = broadcast::channel(PROXY_EVENT_BUFFER);
        Arc::new(Self {
            config: ArcSwap::from_pointee(config),
            proxy,
            listening,
            config_path,
            started_at: Utc::now(),
            started: Instant::now(),
            live_events,
            proxy_events,
            requests_total: AtomicU64::new(0),
            last_reload: Mutex::new(None),
            shutdown,
        })
    }

    /// The config in force.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
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
            requests_total: self.requests_total.load(Ordering::Relaxed),
            last_reload: self.last_reload(),
        }
    }

    /// Puts `config` in force (the proxy switches tables atomically) and reports it.
    pub fn apply_config(&self, config: Config, trigger: &str) -> ConfigReload {
        let current = self.config();
        let mut warnings = Vec::new();
        // Port 0 in the running config means "whatever was bound": naming that port is no change.
        if config.listen != current.listen && config.listen != self.listening.proxy {
            warnings.push(format!(
                "listen: changed to {} but the proxy keeps listening on {} until restarted",
                config.listen, current.listen
            ));
        }
        if config.dashboard.listen != current.dashboard.listen
            && config.dashboard.listen != self.listening.dashboard
        {
            warnings.push(format!(
                "dashboard.listen: changed to {} but the dashboard keeps listening on {} until restarted",
                config.dashboard.listen, current.dashboard.listen
            ));
        }
        self.proxy.apply(&config);
        let routes = config.routes.len();
        self.config.store(Arc::new(config));
        tracing::info!(trigger, routes, "config applied");
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        self.report_reload(ConfigReload {
            at: Utc::now(),
            trigger: trigger.to_string(),
            applied: true,
            errors: Vec::new(),
            warnings,
        })
    }

    /// Reports a config that could not be applied; the current one keeps serving.
    pub fn reject_config(&self, errors: Vec<String>, trigger: &str) -> ConfigReload {
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

    /// Counts a proxy event and passes it on to proxy-event subscribers; never waits.
    pub fn publish_proxy_event(&self, event: ProxyEvent) {
        if matches!(event, ProxyEvent::Request(_)) {
            self.requests_total.fetch_add(1, Ordering::Relaxed);
        }
        let _ = self.proxy_events.send(Arc::new(event));
    }

    /// A new subscription to proxy events (finished requests, WebSocket sessions).
    pub fn subscribe_proxy_events(&self) -> broadcast::Receiver<Arc<ProxyEvent>> {
        self.proxy_events.subscribe()
    }

    /// Sends an event to every live subscriber; never waits (a full buffer drops the oldest).
    pub fn publish(&self, event: LiveEvent) {
        // An error only means nobody is listening.
        let _ = self.live_events.send(event);
    }

    /// A new subscription to live events.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.live_events.subscribe()
    }

    /// Cancelled when the gateway begins shutting down.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }
}

/// The state given to the dashboard router.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// Where the site (WASM, CSS, assets) is and how pages are rendered.
    pub leptos_options: LeptosOptions,
    /// The gateway.
    pub gateway: SharedGateway,
}
