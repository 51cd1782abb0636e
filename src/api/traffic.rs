//! Traffic over periods, per route and target, and per model.

use crate::views::{ModelView, PeriodStats, RouteView};
use leptos::prelude::*;

/// `/api/stats` for the query string `period=…&route=…`.
#[server(prefix = "/api/fn", endpoint = "stats")]
pub async fn get_stats(query: String) -> Result<PeriodStats, ServerFnError> {
    use super::adapter::{failed, gateway, pairs};
    crate::server::admin::period_stats(&gateway(), pairs(&query)?)
        .await
        .map_err(failed)
}

/// Routes and their targets with live state and traffic.
#[server(prefix = "/api/fn", endpoint = "routes")]
pub async fn get_routes() -> Result<Vec<RouteView>, ServerFnError> {
    Ok(crate::server::gateway::snapshot::routes(
        &super::adapter::gateway(),
    ))
}

/// LLM traffic per model.
#[server(prefix = "/api/fn", endpoint = "models")]
pub async fn get_models() -> Result<Vec<ModelView>, ServerFnError> {
    Ok(super::adapter::gateway().metrics().models())
}
