//! The proxy: forwards traffic on `listen` according to the route table.
//!
//! - [`pipeline`]: the named steps every request goes through;
//! - [`table`], [`target`], [`balance`], [`target_health`], [`breaker`], [`rate_limit`]: the
//!   state those steps consult;
//! - [`request_path`]: request paths normalised before routing;
//! - [`upstream`], [`headers`], [`body`], [`websocket`]: the mechanics of forwarding;
//!   [`stall`]: how large and how slow bodies may be;
//!   [`compression`]: responses compressed per route;
//! - [`header_capture`], [`llm_tap`]: what the proxy's threads read off an exchange for the
//!   record (headers, model and token usage), carried by the request's event;
//! - [`health_probe`]: background probes; [`event`]: what is reported per request — the only
//!   thing the proxy hands to the recording side, which it never imports from;
//! - [`listener`]: the accept loops (plain and TLS) with graceful draining; [`workers`]: the
//!   threads serving connections; [`https_redirect`]: `tls.redirect_http`'s 308.

pub mod balance;
pub mod body;
pub mod breaker;
pub mod compression;
pub mod error;
pub mod event;
pub mod header_capture;
pub mod headers;
pub mod health_probe;
pub mod https_redirect;
pub mod listener;
pub mod llm_tap;
pub mod pipeline;
pub mod rate_limit;
pub mod request_path;
pub mod stall;
pub mod table;
pub mod target;
pub mod target_health;
pub mod upstream;
pub mod websocket;
pub mod workers;

use crate::server::config::Config;
use event::EventSink;
use pipeline::ProxyCore;
use std::sync::atomic::{AtomicU16, AtomicU64};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use table::RouteTable;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The proxy of one gateway process: its request-serving core plus the background health checks
/// of the route table in force.
pub struct Proxy {
    core: Arc<ProxyCore>,
    /// Stops the health checkers of the current table.
    health_checks: Mutex<CancellationToken>,
    shutdown: CancellationToken,
}

impl Proxy {
    /// A proxy serving `config`'s routes, reporting to `events`; its background tasks stop when
    /// `shutdown` is cancelled. Must be called within the Tokio runtime.
    pub fn new(config: &Config, events: EventSink, shutdown: CancellationToken) -> Arc<Self> {
        let table = Arc::new(RouteTable::build(config, None, &events));
        events.set_recording(config.metrics.enabled, config.metrics.capture_headers);
        let checks = shutdown.child_token();
        health_probe::start(&table, &checks);
        let core = Arc::new(ProxyCore {
            table: arc_swap::ArcSwap::new(table),
            events,
            tunnels: TaskTracker::new(),
            tunnel_slots: websocket::TunnelSlots::default(),
            close_tunnels: CancellationToken::new(),
            connections: AtomicU64::new(0),
            connections_rejected: AtomicU64::new(0),
            limits: arc_swap::ArcSwap::from_pointee(config.limits),
            https_port: AtomicU16::new(0),
        });
        tokio::spawn(sweep_idle_connections(core.clone(), shutdown.clone()));
        Arc::new(Self {
            core,
            health_checks: Mutex::new(checks),
            shutdown,
        })
    }

    /// Switches to `config`'s routes atomically: requests already routed finish on the old table,
    /// targets the new config keeps keep their health and breaker state, health checks restart.
    pub fn apply(&self, config: &Config) {
        let table = Arc::new(RouteTable::build(
            config,
            Some(&self.core.table.load()),
            &self.core.events,
        ));
        self.core
            .events
            .set_recording(config.metrics.enabled, config.metrics.capture_headers);
        self.core.limits.store(Arc::new(config.limits));
        let checks = self.shutdown.child_token();
        health_probe::start(&table, &checks);
        self.core.table.store(table);
        let previous = std::mem::replace(
            &mut *self
                .health_checks
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
            checks,
        );
        previous.cancel();
    }

    /// The route table in force.
    pub fn table(&self) -> Arc<RouteTable> {
        self.core.table.load_full()
    }

    /// The request-serving core.
    pub fn core(&self) -> &Arc<ProxyCore> {
        &self.core
    }
}

/// How often idle upstream connections are checked for expiry.
const SWEEP_INTERVAL: Duration = Duration::from_secs(10);

/// Until `stop`, closes the upstream connections that have been idle longer than pools keep them.
async fn sweep_idle_connections(core: Arc<ProxyCore>, stop: CancellationToken) {
    let mut interval = tokio::time::interval(SWEEP_INTERVAL);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = interval.tick() => {}
        }
        let now = Instant::now();
        for route in core.table.load().routes() {
            for target in &route.targets {
                target.connections().sweep(now);
            }
        }
    }
}
