//! Shared server state: the [`Gateway`] (one per process) and the axum [`AppState`] around it.

use crate::server::config::Config;
use crate::views::{GatewayStatus, LiveEvent};
use axum::extract::FromRef;
use chrono::{DateTime, Utc};
use leptos::config::LeptosOptions;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// How many live events a slow subscriber may fall behind before it skips ahead.
pub const LIVE_EVENT_BUFFER: usize = 256;

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
    config: Config,
    listening: Listening,
    config_path: PathBuf,
    started_at: DateTime<Utc>,
    started: Instant,
    live_events: broadcast::Sender<LiveEvent>,
    shutdown: CancellationToken,
}

impl Gateway {
    /// A gateway running on `config`, read from `config_path`, bound at `listening`.
    pub fn new(config: Config, config_path: PathBuf, listening: Listening) -> SharedGateway {
        let (live_events, _) = broadcast::channel(LIVE_EVENT_BUFFER);
        Arc::new(Self {
            config,
            listening,
            config_path,
            started_at: Utc::now(),
            started: Instant::now(),
            live_events,
            shutdown: CancellationToken::new(),
        })
    }

    /// The config in force.
    pub fn config(&self) -> &Config {
        &self.config
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
            route_count: 0,
        }
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
