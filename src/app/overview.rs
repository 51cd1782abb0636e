//! The overview page: cards, live charts (or a history range with the previous period for
//! comparison), the health grid of every target, and the gateway's own status — rendered with
//! current data on the server and kept live by the event socket.
//!
//! Its parts: [`range_picker`] in the header; [`notices`], [`cards`], [`charts`] (drawing
//! [`chart_data`]), the health grid, the [`gateway_panel`] and (with TLS) the
//! [`certificates_panel`] below, in that order. The cards
//! and the live charts share the per-second series of [`live_series`]; the request-rate chart
//! marks the alerts that began firing ([`alert_markers`]).

mod alert_markers;
mod cards;
mod certificates_panel;
mod chart_data;
mod charts;
mod gateway_panel;
mod live_series;
mod notices;
mod range_picker;

use crate::api::overview::get_overview;
use crate::app::health_grid::HealthGrid;
use crate::app::live_routes::live_routes;
use crate::app::page_data::PageData;
use crate::app::resource::page_resource;
use crate::live_feed::use_live_feed;
use crate::views::OverviewData;
use cards::Cards;
use certificates_panel::CertificatesPanel;
use charts::{Charts, PeriodReading};
use gateway_panel::GatewayPanel;
use leptos::prelude::*;
use live_series::live_series;
use notices::{DemoBanner, ProblemsBanner};
use range_picker::RangePicker;
/// The page's read.
async fn read_overview() -> Result<OverviewData, ServerFnError> {
    get_overview().await
}

/// The landing page of the dashboard.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let live = use_live_feed();
    let data = page_resource(move || live.poll.get(), |_| read_overview());
    let reading = PeriodReading::for_page();

    view! {
        <section class="page">
            <header class="page-header">
                <h1>"Overview"</h1>
                <RangePicker />
                <button
                    type="button"
                    class="button needs-js"
                    data-testid="refresh-status"
                    on:click=move |_| data.refetch()
                >
                    "Refresh"
                </button>
            </header>
            <PageData data failed="Could not load the gateway status" let:data>
                <OverviewBody data reading />
            </PageData>
        </section>
    }
}

/// Everything below the header, from the page's read.
#[component]
fn OverviewBody(data: OverviewData, reading: PeriodReading) -> impl IntoView {
    let OverviewData {
        status,
        metrics,
        routes,
        health,
        alert_starts,
    } = data;
    let series = live_series(metrics.series.clone());
    let live_routes = live_routes(routes.clone());
    let demo = status
        .demo
        .then(|| view! { <DemoBanner config_path=status.config_path.clone() /> });
    let (uptime_secs, started_at) = (status.uptime_secs, status.started_at);
    view! {
        <ProblemsBanner routes=live_routes read=health.problems />
        {demo}
        <Cards metrics series uptime_secs started_at />
        <Charts series reading alert_starts />
        <section class="panel" aria-labelledby="health-heading">
            <header class="panel-header">
                <h2 id="health-heading">"Targets"</h2>
                <a href="/routes">"Routes & backends →"</a>
            </header>
            <HealthGrid routes />
        </section>
        <GatewayPanel status routes=live_routes />
        <CertificatesPanel certificates=health.certificates />
    }
}
