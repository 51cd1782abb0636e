//! The API's views of the running gateway, assembled from the route table's live target state
//! and the metrics engine. Shared by the admin API, the dashboard and the recorder's 1 Hz tick.

use crate::server::alerts::store::HistoryQuery;
use crate::server::gateway::Gateway;
use crate::server::proxy::table::Route;
use crate::views::{
    AlertStart, AlertState, GatewayHealth, LiveEvent, MetricsSnapshot, ModelsTick, RouteHealth,
    RouteView, RoutesTick, TargetView,
};
use chrono::Utc;
use std::sync::atomic::Ordering;

/// Transitions listed per target.
pub const TRANSITIONS_PER_TARGET: usize = 20;

/// Client connections and WebSocket tunnels open now, and requests in flight to targets.
#[derive(Clone, Copy, Debug, Default)]
pub struct Activity {
    pub active_connections: u64,
    pub open_websockets: u64,
    pub in_flight_requests: u64,
}

/// What is open right now.
pub fn activity(gateway: &Gateway) -> Activity {
    let core = gateway.proxy().core();
    let in_flight_requests = gateway
        .proxy()
        .table()
        .routes()
        .flat_map(|route| route.targets.iter())
        .map(|target| u64::from(target.in_flight()))
        .sum();
    Activity {
        active_connections: core.connections.load(Ordering::Relaxed),
        open_websockets: core.tunnels.len() as u64,
        in_flight_requests,
    }
}

/// `/api/metrics`.
pub fn metrics(gateway: &Gateway) -> MetricsSnapshot {
    let engine = gateway.metrics().snapshot();
    let activity = activity(gateway);
    MetricsSnapshot {
        generated_at: Utc::now(),
        started_at: gateway.started_at(),
        uptime_secs: gateway.uptime_secs(),
        active_connections: activity.active_connections,
        open_websockets: activity.open_websockets,
        in_flight_requests: activity.in_flight_requests,
        websocket_sessions: engine.websocket_sessions,
        rps: engine.rps,
        error_rate: engine.error_rate,
        totals: engine.totals,
        system: engine.system,
        events_dropped: gateway.proxy().core().events.dropped(),
        series: engine.series,
        last_reload: gateway.last_reload(),
    }
}

/// `/api/routes`: every route of the table in force, in matching order.
pub fn routes(gateway: &Gateway) -> Vec<RouteView> {
    let table = gateway.proxy().table();
    table
        .routes()
        .map(|route| route_view(gateway, route))
        .collect()
}

fn route_view(gateway: &Gateway, route: &Route) -> RouteView {
    let metrics = gateway.metrics();
    let traffic = metrics.route_traffic(&route.name);
    let mut targets: Vec<TargetView> = route
        .targets
        .iter()
        .map(|target| {
            let state = target.snapshot();
            let traffic = metrics.target_traffic(&route.name, &target.name);
            TargetView {
                route: route.name.to_string(),
                url: target.name.to_string(),
                weight: target.config.weight,
                healthy: state.healthy,
                breaker: state.breaker.as_str().to_string(),
                in_flight: state.in_flight,
                consecutive_failures: state.consecutive_failures,
                last_check: state.last_check,
                last_error: state.last_error,
                share: 0.0,
                traffic,
                transitions: metrics.transitions_of(
                    &route.name,
                    &target.name,
                    TRANSITIONS_PER_TARGET,
                ),
            }
        })
        .collect();
    // Each target's share of the requests the route's current targets served.
    let served: u64 = targets.iter().map(|target| target.traffic.requests).sum();
    if served > 0 {
        for target in &mut targets {
            target.share = target.traffic.requests as f64 / served as f64;
        }
    }
    let all_targets_down = !targets.is_empty()
        && targets
            .iter()
            .all(|target| !target.healthy || target.breaker == "open");
    RouteView {
        name: route.name.to_string(),
        path: route.config.path.to_string(),
        strategy: route.config.strategy.as_str().to_string(),
        tls_unverified: route
            .config
            .upstream_tls
            .as_ref()
            .is_some_and(|tls| tls.insecure_skip_verify),
        traffic,
        targets,
        all_targets_down,
    }
}

/// The live events that carry the routes (their transitions left out: each was pushed as it
/// happened) and, once there is LLM traffic, the models. Published each second, and sent first
/// to a new live subscriber so its pages are current before the next second.
pub fn live_state(gateway: &Gateway, routes: &[RouteView]) -> Vec<LiveEvent> {
    let routes = routes
        .iter()
        .map(|route| RouteView {
            targets: route
                .targets
                .iter()
                .map(|target| TargetView {
                    transitions: Vec::new(),
                    ..target.clone()
                })
                .collect(),
            ..route.clone()
        })
        .collect();
    let mut events = vec![LiveEvent::Routes(RoutesTick { routes })];
    let models = gateway.metrics().models();
    if !models.is_empty() {
        events.push(LiveEvent::Models(ModelsTick { models }));
    }
    events
}

/// Firing changes the overview's request-rate chart marks: enough for its longest range on a
/// gateway with a few busy rules (the chart leaves out those outside its time range).
const ALERT_STARTS_READ: usize = 500;

/// Where alerts began firing, from the newest firing changes of the alert history; none when
/// the history cannot be read (the charts show without markers then).
pub async fn alert_starts(gateway: &Gateway) -> Vec<AlertStart> {
    let store = gateway.alerts().store().clone();
    let query = HistoryQuery {
        state: Some(AlertState::Firing),
        limit: ALERT_STARTS_READ,
        ..HistoryQuery::default()
    };
    tokio::task::spawn_blocking(move || store.history(&query))
        .await
        .ok()
        .and_then(Result::ok)
        .map(|page| page.entries.iter().filter_map(AlertStart::of).collect())
        .unwrap_or_default()
}

/// `/api/health`.
pub fn health(gateway: &Gateway) -> GatewayHealth {
    let mut problems = Vec::new();
    let routes: Vec<RouteHealth> = gateway
        .proxy()
        .table()
        .routes()
        .map(|route| {
            let healthy_targets = route
                .targets
                .iter()
                .filter(|target| target.is_healthy())
                .count();
            if healthy_targets == 0 {
                problems.push(format!("route {}: no healthy target", route.name));
            }
            RouteHealth {
                name: route.name.to_string(),
                healthy_targets,
                targets: route.targets.len(),
            }
        })
        .collect();
    let history = gateway.history_status();
    if let Some(status) = history.as_ref().filter(|status| !status.healthy) {
        problems.push(format!(
            "history: {}",
            status.last_error.as_deref().unwrap_or("failing")
        ));
    }
    let events_dropped = gateway.proxy().core().events.dropped();
    if events_dropped > 0 {
        problems.push(format!(
            "metrics: {events_dropped} request events dropped (recorder behind)"
        ));
    }
    let now = chrono::Utc::now();
    problems.extend(gateway.tls().problems(now));
    GatewayHealth {
        status: if problems.is_empty() {
            "ok"
        } else {
            "degraded"
        }
        .to_string(),
        uptime_secs: gateway.uptime_secs(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        problems,
        history,
        routes,
        events_dropped,
        certificates: gateway.tls().certificates(now),
    }
}
