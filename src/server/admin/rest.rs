//! The REST API on the dashboard listener: `/metrics` (Prometheus) and JSON under `/api`.
//! Handlers are thin: they parse parameters ([`params`]), ask the gateway, and serialise.
//! Bad parameters are a 400 naming the parameter; nothing here touches the proxy's hot path.

mod alerts;
mod audit;
mod error;
mod logs;
mod params;
mod requests;
mod stats;

pub use alerts::{alert_history, create_silence, end_silence};
pub use audit::audit_page;
pub use error::ApiError;
pub use logs::log_page;
pub use requests::{
    Format as RequestsFormat, MAX_EXPORT, MAX_FILTER_LEN, find as find_request,
    page as request_page, parse_query as parse_requests_query,
};
pub use stats::period_stats;

use crate::server::admin::AppState;
use crate::server::gateway::snapshot;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};

/// The admin API's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(prometheus))
        .route("/api/metrics", get(metrics))
        .route("/api/health", get(health))
        .route("/api/routes", get(routes))
        .route("/api/models", get(models))
        .route("/api/requests", get(requests::list))
        .route("/api/requests/{id}", get(requests::one))
        .route("/api/stats", get(stats::stats))
        .route("/api/logs", get(logs::logs))
        .route("/api/audit", get(audit::audit))
        .route("/api/alerts", get(alerts::list))
        .route("/api/alerts/history", get(alerts::history))
        .route("/api/alerts/silences", post(alerts::silence))
        .route("/api/alerts/silences/{id}", delete(alerts::unsilence))
        .route("/api/alerts/test", post(alerts::test))
}

/// `GET /metrics`: Prometheus text exposition.
async fn prometheus(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.gateway.metrics().prometheus().render(),
    )
}

/// `GET /api/metrics`: totals, rates, gauges, resources and the per-second series.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    Json(snapshot::metrics(&state.gateway))
}

/// `GET /api/health`: the gateway's own health (history, targets, dropped events).
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    Json(snapshot::health(&state.gateway))
}

/// `GET /api/routes`: routes and their targets with live state and traffic.
async fn routes(State(state): State<AppState>) -> impl IntoResponse {
    Json(snapshot::routes(&state.gateway))
}

/// `GET /api/models`: LLM traffic per model.
async fn models(State(state): State<AppState>) -> impl IntoResponse {
    Json(state.gateway.metrics().models())
}
