//! A route's upstream server at run time: its address, and its live state (health, circuit
//! breaker, requests in flight, idle connections), which survives config reloads that keep the
//! target.

use super::breaker::{BreakerState, CircuitBreaker};
use super::event::{EventSink, ProxyEvent};
use super::target_health::HealthTracker;
use super::upstream::{ConnectionPool, TargetTls};
use crate::server::config::{
    CircuitBreakerConfig, HealthCheckConfig, TargetConfig, UpstreamTlsConfig,
};
use crate::views::TargetTransition;
use axum::http::HeaderValue;
use axum::http::uri::Authority;
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// One upstream of one route.
#[derive(Debug)]
pub struct Target {
    /// The target as configured.
    pub config: TargetConfig,
    /// Where to connect, parsed once.
    pub authority: Authority,
    /// The `Host` header upstream requests carry (the URL's host, and port unless the scheme's
    /// default).
    pub host_header: HeaderValue,
    /// How an `https://` target is connected to (`None`: plain TCP).
    pub tls: Option<TargetTls>,
    /// The target's name in events and metrics (its URL).
    pub name: Arc<str>,
    /// The route it belongs to.
    pub route: Arc<str>,
    /// Live state, shared with the same target of earlier configs.
    pub state: Arc<TargetState>,
    /// Where health and breaker transitions are reported.
    events: EventSink,
}

/// The live state of a target.
#[derive(Debug)]
pub struct TargetState {
    healthy: AtomicBool,
    in_flight: AtomicU32,
    checks: Mutex<Checks>,
    /// Idle keep-alive connections to the target.
    connections: Arc<ConnectionPool>,
}

#[derive(Debug, Default)]
struct Checks {
    health: HealthTracker,
    breaker: CircuitBreaker,
    last_check: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

/// A point-in-time view of a target's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetSnapshot {
    pub healthy: bool,
    pub in_flight: u32,
    pub breaker: BreakerState,
    pub consecutive_failures: u32,
    pub last_check: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

impl Default for TargetState {
    fn default() -> Self {
        Self {
            healthy: AtomicBool::new(true),
            in_flight: AtomicU32::new(0),
            checks: Mutex::default(),
            connections: Arc::default(),
        }
    }
}

impl Target {
    /// A target of `route` built from `config`, keeping `state` from an earlier config if given,
    /// reporting its transitions to `events`; an `https://` one connects with `tls`, its route's.
    pub fn new(
        route: Arc<str>,
        config: TargetConfig,
        tls: Option<&UpstreamTlsConfig>,
        state: Option<Arc<TargetState>>,
        events: EventSink,
    ) -> Self {
        let authority: Authority = config
            .authority
            .parse()
            .expect("validated target authority parses");
        let default_port = if config.tls { ":443" } else { ":80" };
        let host = config
            .authority
            .strip_suffix(default_port)
            .unwrap_or(&config.authority);
        let host_header =
            HeaderValue::from_str(host).expect("validated authority is a header value");
        let tls = tls
            .filter(|_| config.tls)
            .map(|tls| TargetTls::new(tls, &authority));
        Self {
            name: Arc::from(config.url.as_str()),
            tls,
            authority,
            host_header,
            config,
            route,
            state: state.unwrap_or_default(),
            events,
        }
    }

    /// Whether the target is in rotation (health only; see [`Self::breaker_admits`]).
    pub fn is_healthy(&self) -> bool {
        self.state.healthy.load(Ordering::Relaxed)
    }

    /// Requests currently being served by this target.
    pub fn in_flight(&self) -> u32 {
        self.state.in_flight.load(Ordering::Relaxed)
    }

    /// The target's idle keep-alive connections.
    pub fn connections(&self) -> &Arc<ConnectionPool> {
        &self.state.connections
    }

    /// Counts a request in flight until the returned guard is dropped.
    pub fn start_request(&self) -> InFlight {
        self.state.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.state.clone())
    }

    /// Whether the breaker would admit a request now (takes no probe slot).
    pub fn breaker_available(&self, config: &CircuitBreakerConfig, now: Instant) -> bool {
        self.state.checks().breaker.is_available(config, now)
    }

    /// Asks the breaker to admit a request now (takes a probe slot when half-open).
    pub fn breaker_admits(&self, config: &CircuitBreakerConfig, now: Instant) -> bool {
        let mut checks = self.state.checks();
        let before = checks.breaker.state(now);
        let admitted = checks.breaker.try_acquire(config, now);
        if before == BreakerState::Open && admitted {
            self.report_breaker(before, BreakerState::HalfOpen, "open period over: probing");
        }
        admitted
    }

    /// Records the outcome of a real request: the breaker counts 5xx and unreachable as failures;
    /// passive health counts unreachable as a failed check and any answer as a good one.
    pub fn record_outcome(
        &self,
        outcome: Outcome<'_>,
        health: Option<&HealthCheckConfig>,
        breaker: Option<&CircuitBreakerConfig>,
    ) {
        let mut checks = self.state.checks();
        if let Some(config) = breaker {
            let now = Instant::now();
            let before = checks.breaker.state(now);
            let change = match outcome {
                Outcome::Answered => checks.breaker.on_success(),
                Outcome::ServerError | Outcome::Unreachable(_) => {
                    checks.breaker.on_failure(config, now)
                }
            };
            if let Some(state) = change {
                let why = match outcome {
                    Outcome::Answered => "a probe request succeeded",
                    Outcome::ServerError => "the target answered 5xx",
                    Outcome::Unreachable(error) => error,
                };
                self.report_breaker(before, state, why);
            }
        }
        if let Some(config) = health {
            let change = match outcome {
                Outcome::Unreachable(error) => {
                    checks.last_error = Some(error.to_string());
                    checks.health.on_failure(config)
                }
                Outcome::Answered | Outcome::ServerError => checks.health.on_success(config),
            };
            let why = match outcome {
                Outcome::Unreachable(error) => error,
                Outcome::Answered | Outcome::ServerError => "requests succeed",
            };
            self.apply_health_change(change, why);
        }
    }

    /// Records the result of an active health probe.
    pub fn record_probe(&self, config: &HealthCheckConfig, result: Result<(), String>) {
        let mut checks = self.state.checks();
        checks.last_check = Some(Utc::now());
        let change = match &result {
            Ok(()) => {
                checks.last_error = None;
                checks.health.on_success(config)
            }
            Err(error) => {
                checks.last_error = Some(error.clone());
                checks.health.on_failure(config)
            }
        };
        self.apply_health_change(change, result.err().as_deref().unwrap_or("probe succeeded"));
    }

    fn apply_health_change(&self, change: Option<bool>, why: &str) {
        if let Some(healthy) = change {
            self.state.healthy.store(healthy, Ordering::Relaxed);
            if healthy {
                tracing::info!(route = %self.route, target = %self.name, "target healthy again");
            } else {
                tracing::warn!(route = %self.route, target = %self.name, reason = why, "target unhealthy: out of rotation");
            }
            let name = |healthy| if healthy { "healthy" } else { "unhealthy" };
            self.report_transition("health", name(!healthy), name(healthy), why);
        }
    }

    fn report_breaker(&self, from: BreakerState, to: BreakerState, why: &str) {
        let log = format!("circuit breaker {} → {}", from.as_str(), to.as_str());
        match to {
            BreakerState::Open => {
                tracing::warn!(route = %self.route, target = %self.name, reason = why, "{log}")
            }
            _ => tracing::info!(route = %self.route, target = %self.name, reason = why, "{log}"),
        }
        self.report_transition("breaker", from.as_str(), to.as_str(), why);
    }

    fn report_transition(&self, kind: &str, from: &str, to: &str, why: &str) {
        self.events.record(ProxyEvent::Transition(TargetTransition {
            at: Utc::now(),
            route: self.route.to_string(),
            target: self.name.to_string(),
            kind: kind.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            reason: Some(why.to_string()),
        }));
    }

    /// The target's state now.
    pub fn snapshot(&self) -> TargetSnapshot {
        let checks = self.state.checks();
        TargetSnapshot {
            healthy: self.is_healthy(),
            in_flight: self.in_flight(),
            breaker: checks.breaker.state(Instant::now()),
            consecutive_failures: checks
                .health
                .consecutive_failures()
                .max(checks.breaker.consecutive_failures()),
            last_check: checks.last_check,
            last_error: checks.last_error.clone(),
        }
    }
}

impl TargetState {
    /// The lock is only ever held for a few field updates, never across an await.
    fn checks(&self) -> MutexGuard<'_, Checks> {
        self.checks.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How a real request to a target went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// The target answered with a status below 500.
    Answered,
    /// The target answered with a 5xx status.
    ServerError,
    /// The target could not be reached or did not answer in time (the reason).
    Unreachable(&'a str),
}

/// A request in flight on a target; dropping it ends the count.
#[derive(Debug)]
pub struct InFlight(Arc<TargetState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
