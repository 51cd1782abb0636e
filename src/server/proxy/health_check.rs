//! Active health checks: for every route with `health_check`, a background task probes each
//! target every `interval_ms` (`GET` the target's base path + `path`, 2xx/3xx within `timeout_ms`
//! is good) and feeds the result to the target's [`HealthTracker`](super::health::HealthTracker).

use super::table::{Route, RouteTable};
use super::target::Target;
use crate::server::config::HealthCheckConfig;
use axum::http::{Request, header};
use bytes::Bytes;
use futures_util::future::join_all;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// The client probes are sent with.
pub type ProbeClient = Client<HttpConnector, Empty<Bytes>>;

/// A client for probes (no connection reuse: each probe tests a fresh connect).
pub fn probe_client() -> ProbeClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .set_host(false)
        .build(connector)
}

/// Starts a checker for every route of `table` that asks for one; all stop when `stop` is cancelled.
pub fn start(table: &RouteTable, client: &ProbeClient, stop: &CancellationToken) {
    for route in table
        .routes()
        .filter(|route| route.config.health_check.is_some())
    {
        tokio::spawn(check_route(route.clone(), client.clone(), stop.clone()));
    }
}

async fn check_route(route: Arc<Route>, client: ProbeClient, stop: CancellationToken) {
    let Some(config) = route.config.health_check.clone() else {
        return;
    };
    let mut interval = tokio::time::interval(config.interval);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = interval.tick() => {}
        }
        let probes = route.targets.iter().map(|target| async {
            let result = probe(&client, target, &config).await;
            target.record_probe(&config, result);
        });
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = join_all(probes) => {}
        }
    }
}

async fn probe(
    client: &ProbeClient,
    target: &Target,
    config: &HealthCheckConfig,
) -> Result<(), String> {
    let uri = format!(
        "http://{}{}{}",
        target.authority, target.config.base_path, config.path
    );
    let request = Request::get(uri)
        .header(header::HOST, target.host_header.clone())
        .header(header::USER_AGENT, "gatewatch-health-check")
        .body(Empty::new())
        .map_err(|error| format!("invalid probe request: {error}"))?;
    match tokio::time::timeout(config.timeout, client.request(request)).await {
        Err(_) => Err(format!(
            "no answer within {} ms",
            config.timeout.as_millis()
        )),
        Ok(Err(error)) if error.is_connect() => Err("connection refused or unreachable".into()),
        Ok(Err(_)) => Err("connection closed without a response".into()),
        Ok(Ok(response))
            if response.status().is_success() || response.status().is_redirection() =>
        {
            Ok(())
        }
        Ok(Ok(response)) => Err(format!("status {}", response.status().as_u16())),
    }
}
