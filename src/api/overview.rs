//! The overview page's data in one round trip.

use crate::views::OverviewData;
use leptos::prelude::*;

/// Status, metrics with the live series, routes with their targets, health, and the alert
/// starts the request-rate chart marks.
#[server(prefix = "/api/fn", endpoint = "overview")]
pub async fn get_overview() -> Result<OverviewData, ServerFnError> {
    use crate::server::gateway::snapshot;
    let gateway = super::adapter::gateway();
    Ok(OverviewData {
        status: gateway.status(),
        metrics: snapshot::metrics(&gateway),
        routes: snapshot::routes(&gateway),
        health: snapshot::health(&gateway),
        alert_starts: snapshot::alert_starts(&gateway).await,
    })
}
