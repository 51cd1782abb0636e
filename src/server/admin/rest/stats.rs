//! `GET /api/stats?period=5m|1h|24h|7d&route=…`: a period's totals and series with the period
//! before it, read from the history's rollups.

use super::ApiError;
use super::params::Params;
use crate::server::admin::AppState;
use crate::server::gateway::Gateway;
use crate::views::{PeriodStats, StatsPeriod};
use axum::Json;
use axum::extract::{Query, State};

/// Longest route name accepted (route names in the config are far shorter).
const MAX_ROUTE_LEN: usize = 256;

pub async fn stats(
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<PeriodStats>, ApiError> {
    period_stats(&state.gateway, pairs).await.map(Json)
}

/// The stats for a query string's pairs (`period`, `route`).
pub async fn period_stats(
    gateway: &Gateway,
    pairs: Vec<(String, String)>,
) -> Result<PeriodStats, ApiError> {
    let params = Params::new(pairs, &["period", "route"])?;
    let period = match params.text("period") {
        None => {
            return Err(ApiError::bad_parameter(
                "period",
                "required (5m, 1h, 24h or 7d)",
            ));
        }
        Some(text) => StatsPeriod::parse(text).ok_or_else(|| {
            ApiError::bad_parameter(
                "period",
                format!("expected 5m, 1h, 24h or 7d, got {text:?}"),
            )
        })?,
    };
    let route = params.string("route");
    if route.as_ref().is_some_and(|r| r.len() > MAX_ROUTE_LEN) {
        return Err(ApiError::bad_parameter(
            "route",
            format!("longer than {MAX_ROUTE_LEN} bytes"),
        ));
    }
    let Some(history) = gateway.history().cloned() else {
        return Err(ApiError::unavailable(history_unavailable(gateway)));
    };
    let now = chrono::Utc::now();
    let read = tokio::task::spawn_blocking(move || history.stats(period, route.as_deref(), now));
    match read.await {
        Ok(Ok(stats)) => Ok(stats),
        Ok(Err(error)) => {
            tracing::warn!(%error, "reading stats from the history failed");
            Err(ApiError::unavailable(format!(
                "history read failed: {error}"
            )))
        }
        Err(_) => Err(ApiError::unavailable("history read failed")),
    }
}

/// Why there is no history to read from.
pub fn history_unavailable(gateway: &Gateway) -> String {
    match gateway.history_status() {
        Some(status) => format!(
            "history is unavailable: {}",
            status.last_error.unwrap_or_else(|| "not open".into())
        ),
        None => "history is off (history.enabled is false in the config)".into(),
    }
}
