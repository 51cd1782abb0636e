//! Active health checks: for every route with `health_check`, a background task probes each
//! target every `interval_ms` (`GET` the target's base path + `path`, 2xx/3xx within `timeout_ms`
//! is good) and feeds the result to the target's [`HealthTracker`](super::target_health::HealthTracker).
//! `https://` targets are probed over TLS with their route's settings, as requests are sent; a
//! TLS failure is a failed probe that says why.
//!
//! Probes go over one kept-alive connection per target, and the checker watches that connection:
//! when the target closes it — the process died or restarted, or it dropped the idle connection —
//! the route is probed again at once instead of at the next tick. A stopped upstream is out of
//! rotation within milliseconds of going away, not up to an interval later; a target that merely
//! closed an idle connection passes the early probe on a fresh one.

use super::table::{Route, RouteTable};
use super::target::Target;
use super::upstream::{ConnectError, Transport};
use crate::server::config::HealthCheckConfig;
use axum::http::{Request, Response, Version, header};
use bytes::Bytes;
use futures_util::future::join_all;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// Most bytes of a probe's response body read; a longer body is not read on, and its connection
/// is given up (the probe still counts by its status).
const MAX_PROBE_BODY: usize = 64 * 1024;

/// Starts a checker for every route of `table` that asks for one; all stop when `stop` is cancelled.
pub fn start(table: &RouteTable, stop: &CancellationToken) {
    for route in table
        .routes()
        .filter(|route| route.config.health_check.is_some())
    {
        tokio::spawn(check_route(route.clone(), stop.clone()));
    }
}

async fn check_route(route: Arc<Route>, stop: CancellationToken) {
    let Some(config) = route.config.health_check.clone() else {
        return;
    };
    let closed = Arc::new(Notify::new());
    let mut connections: Vec<Option<ProbeConnection>> =
        route.targets.iter().map(|_| None).collect();
    let mut interval = tokio::time::interval(config.interval);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // At most one early probe between two ticks, whatever a target does with its connections.
    let mut early_allowed = true;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = interval.tick() => early_allowed = true,
            _ = closed.notified(), if early_allowed => {
                early_allowed = false;
                interval.reset();
            }
        }
        let probes =
            route
                .targets
                .iter()
                .zip(connections.iter_mut())
                .map(|(target, connection)| {
                    let closed = &closed;
                    let config = &config;
                    async move {
                        let result = probe(connection, target, config, closed).await;
                        target.record_probe(config, result);
                    }
                });
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = join_all(probes) => {}
        }
    }
}

/// A kept-alive connection to one target, watched for the target closing it.
struct ProbeConnection {
    sender: SendRequest<Empty<Bytes>>,
    /// Set between probes: a close then is news. During a probe (and after an answer that
    /// announced the close) the probe's own result says what happened.
    idle: Arc<AtomicBool>,
}

impl ProbeConnection {
    /// Connects to `target`; `closed` is notified if the target closes the connection while idle.
    async fn open(target: &Target, closed: &Arc<Notify>) -> Result<Self, String> {
        let stream = Transport::connect(target.authority.as_str(), target.tls.as_ref())
            .await
            .map_err(|error| match error {
                ConnectError::Tcp(_) => "connection refused or unreachable".to_string(),
                ConnectError::Tls(failure) => failure.reason().to_string(),
            })?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| "connection closed without a response".to_string())?;
        let idle = Arc::new(AtomicBool::new(false));
        let watched = idle.clone();
        let closed = closed.clone();
        tokio::spawn(async move {
            let _ = connection.await;
            if watched.load(Ordering::Acquire) {
                closed.notify_one();
            }
        });
        Ok(Self { sender, idle })
    }

    async fn get(&mut self, request: Request<Empty<Bytes>>) -> Result<Response<Incoming>, String> {
        self.idle.store(false, Ordering::Release);
        let closed = |_| "connection closed without a response".to_string();
        self.sender.ready().await.map_err(closed)?;
        self.sender.send_request(request).await.map_err(closed)
    }
}

/// Probes `target` once over its kept-alive `connection` (opened first if there is none); any
/// failure gives the connection up.
async fn probe(
    connection: &mut Option<ProbeConnection>,
    target: &Target,
    config: &HealthCheckConfig,
    closed: &Arc<Notify>,
) -> Result<(), String> {
    let uri = format!("{}{}", target.config.base_path, config.path);
    let request = Request::get(uri)
        .header(header::HOST, target.host_header.clone())
        .header(header::USER_AGENT, "gatewatch-health-check")
        .body(Empty::new())
        .map_err(|error| format!("invalid probe request: {error}"))?;
    let exchange = async {
        if connection
            .as_ref()
            .is_none_or(|open| open.sender.is_closed())
        {
            *connection = Some(ProbeConnection::open(target, closed).await?);
        }
        let Some(open) = connection.as_mut() else {
            return Err("connection closed without a response".to_string());
        };
        let response = open.get(request).await?;
        let status = response.status();
        let kept_alive = response.version() == Version::HTTP_11
            && !response
                .headers()
                .get(header::CONNECTION)
                .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"close"));
        // Read to the end so the connection can carry the next probe. The status is the verdict:
        // a body too large or cut short only costs the connection.
        let read = Limited::new(response.into_body(), MAX_PROBE_BODY)
            .collect()
            .await
            .is_ok();
        if kept_alive && read {
            open.idle.store(true, Ordering::Release);
        } else {
            *connection = None;
        }
        Ok(status)
    };
    let result = match tokio::time::timeout(config.timeout, exchange).await {
        Err(_) => Err(format!(
            "no answer within {} ms",
            config.timeout.as_millis()
        )),
        Ok(Err(error)) => Err(error),
        Ok(Ok(status)) if status.is_success() || status.is_redirection() => Ok(()),
        Ok(Ok(status)) => Err(format!("status {}", status.as_u16())),
    };
    if result.is_err() {
        // Given up by the checker, not closed by the target: no early probe for this close (a
        // failed status has already marked the connection idle).
        if let Some(open) = connection.take() {
            open.idle.store(false, Ordering::Release);
        }
    }
    result
}
