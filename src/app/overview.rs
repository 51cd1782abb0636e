//! The overview page: what the gateway is and how it is doing, server-rendered with current data
//! and kept live by the event socket.

use crate::api::status::get_status;
use crate::live::use_live_feed;
use crate::views::{ConfigReload, GatewayStatus, format_uptime};
use leptos::prelude::*;

/// The landing page of the dashboard.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let status = Resource::new(|| (), |_| get_status());

    view! {
        <section class="page">
            <header class="page-header">
                <h1>"Overview"</h1>
                <button
                    type="button"
                    class="button needs-js"
                    data-testid="refresh-status"
                    on:click=move |_| status.refetch()
                >
                    "Refresh"
                </button>
            </header>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(status) => view! { <StatusCards status /> }.into_any(),
                        Err(error) => {
                            view! {
                                <p class="error" data-testid="status-error">
                                    "Could not load the gateway status: " {error.to_string()}
                                </p>
                            }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

/// Cards describing the gateway process; uptime follows the live ticks.
#[component]
fn StatusCards(status: GatewayStatus) -> impl IntoView {
    let live = use_live_feed();
    let rendered_uptime = status.uptime_secs;
    let uptime = move || {
        live.last_tick.get().map_or(rendered_uptime, |tick| {
            tick.uptime_secs.max(rendered_uptime)
        })
    };
    let generated_at = status.generated_at;

    view! {
        <div class="cards">
            <article class="card">
                <h2 class="card-label">"Uptime"</h2>
                <p class="card-value" data-testid="uptime" data-seconds=move || uptime().to_string()>
                    {move || format_uptime(uptime())}
                </p>
                <p class="card-note">"since " {status.started_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</p>
            </article>
            <article class="card">
                <h2 class="card-label">"Proxy"</h2>
                <p class="card-value mono" data-testid="proxy-listen">{status.proxy_listen}</p>
                <p class="card-note" data-testid="proxy-summary">
                    {route_summary(status.route_count)} " · " {status.requests_total} " requests served"
                </p>
            </article>
            <article class="card">
                <h2 class="card-label">"Dashboard"</h2>
                <p class="card-value mono" data-testid="dashboard-listen">{status.dashboard_listen}</p>
                <p class="card-note">"this page and the API"</p>
            </article>
            <article class="card">
                <h2 class="card-label">"Config"</h2>
                <p class="card-value mono small" data-testid="config-path">{status.config_path}</p>
                <p class="card-note">"gatewatch " {status.version}</p>
                <p class="card-note" data-testid="last-reload">{reload_summary(status.last_reload.as_ref())}</p>
            </article>
        </div>
        <p class="muted small">
            "Status as of "
            <time
                data-testid="generated-at"
                datetime=generated_at.to_rfc3339()
            >
                {generated_at.format("%H:%M:%S%.3f UTC").to_string()}
            </time>
        </p>
    }
}

fn reload_summary(reload: Option<&ConfigReload>) -> String {
    match reload {
        None => "not reloaded since start".to_string(),
        Some(reload) => {
            let at = reload.at.format("%H:%M:%S UTC");
            match (reload.applied, reload.errors.first()) {
                (true, _) => format!("reloaded ({}) at {at}", reload.trigger),
                (false, Some(first)) => {
                    format!("reload rejected at {at}, old config serving: {first}")
                }
                (false, None) => format!("reload rejected at {at}, old config serving"),
            }
        }
    }
}

fn route_summary(count: usize) -> String {
    match count {
        0 => "no routes configured yet".to_string(),
        1 => "1 route".to_string(),
        n => format!("{n} routes"),
    }
}
