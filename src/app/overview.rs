//! The overview page: cards, live charts (or a history range with the previous period for
//! comparison), the health grid of every target, and the gateway's own status — rendered with
//! current data on the server and kept live by the event socket.

mod chart_data;

use crate::api::overview::get_overview;
use crate::api::traffic::get_stats;
use crate::app::chart::LineChart;
use crate::app::format;
use crate::app::health_grid::HealthGrid;
use crate::app::page_data::PageData;
use crate::app::query_string::{href, use_query_value};
use crate::app::resource::page_resource;
use crate::app::widgets::{StatCard, loading};
use crate::live_feed::use_live_feed;
use crate::views::{ConfigReload, OverviewData, SeriesPoint, StatsPeriod, format_uptime};
use chart_data::{ThreeCharts, live_chart_data, period_chart_data};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The landing page of the dashboard.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let live = use_live_feed();
    let data = page_resource(move || live.poll.get(), |_| get_overview());

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
                <OverviewBody data />
            </PageData>
        </section>
    }
}

/// Live (15 minutes) or a period from the history, and the comparison switch.
#[component]
fn RangePicker() -> impl IntoView {
    let query = use_query_map();
    let range = use_query_value("range");
    let compare = use_query_value("compare");
    let choices = [
        ("Live 15 m", None),
        ("1 h", Some("1h")),
        ("24 h", Some("24h")),
        ("7 d", Some("7d")),
    ];
    let links = choices
        .into_iter()
        .map(|(label, value)| {
            let link =
                move || query.with(|q| href("/", q, &[("range", value.map(str::to_string))]));
            let current = move || range.get().as_deref() == value;
            view! {
                <a
                    href=link
                    class="segment"
                    class:active=current
                    aria-current=move || current().then_some("true")
                >
                    {label}
                </a>
            }
        })
        .collect_view();
    let compare_link = move || {
        let next = if compare.get().is_some() {
            None
        } else {
            Some("1".to_string())
        };
        query.with(|q| href("/", q, &[("compare", next)]))
    };
    view! {
        <nav class="range-picker" aria-label="Time range" data-testid="range-picker">
            <div class="segments">{links}</div>
            <Show when=move || range.get().is_some()>
                <a href=compare_link class="segment" class:active=move || compare.get().is_some() data-testid="compare-toggle">
                    {move || if compare.get().is_some() { "✓ Compare with previous" } else { "Compare with previous" }}
                </a>
            </Show>
        </nav>
    }
}

#[component]
fn OverviewBody(data: OverviewData) -> impl IntoView {
    let live = use_live_feed();
    let OverviewData {
        status,
        metrics,
        routes,
        health,
    } = data;
    let rendered_series = metrics.series.clone();
    let mounted = crate::live_feed::mounted();
    // The rendered series, continued by the seconds pushed since (oldest first).
    let series = Memo::new(move |_| {
        if !mounted.get() {
            return rendered_series.clone();
        }
        live.series.with(|pushed| {
            let first_pushed = pushed.front().map(|p| p.at);
            let mut merged: Vec<SeriesPoint> = rendered_series
                .iter()
                .filter(|p| first_pushed.is_none_or(|first| p.at < first))
                .cloned()
                .collect();
            merged.extend(pushed.iter().cloned());
            let excess = merged
                .len()
                .saturating_sub(crate::live_feed::SERIES_SECONDS);
            merged.drain(..excess);
            merged
        })
    });
    let recent = move || series.with(|s| Window::of(&s[s.len().saturating_sub(10)..]));
    // What the newest second sampled besides traffic (gauges, resources).
    let latest = move || series.with(|s| s.last().and_then(|p| p.sample));
    let rendered_rps = metrics.rps;
    let rendered_error_rate = metrics.error_rate;
    let has_live = move || mounted.get() && live.series.with(|s| !s.is_empty());

    let rps = Signal::derive(move || {
        format::rate(if has_live() {
            recent().rps
        } else {
            rendered_rps
        })
    });
    let error_rate_value = move || {
        if has_live() {
            recent().error_rate
        } else {
            rendered_error_rate
        }
    };
    let error_rate = Signal::derive(move || format::percent(error_rate_value()));
    let error_tone = Signal::derive(move || match error_rate_value() {
        r if r >= 0.05 => "bad",
        r if r > 0.0 => "warn",
        _ => "",
    });
    let totals = metrics.totals.clone();
    let latency_rendered = totals.latency;
    let latency = Signal::derive(move || {
        let w = recent();
        if has_live() && w.requests > 0 {
            format!(
                "{} / {} / {}",
                format::latency(w.p50_us),
                format::latency(w.p95_us),
                format::latency(w.p99_us)
            )
        } else {
            format!(
                "{} / {} / {}",
                format::latency(latency_rendered.p50_us),
                format::latency(latency_rendered.p95_us),
                format::latency(latency_rendered.p99_us)
            )
        }
    });
    let latency_note = Signal::derive(move || {
        if has_live() && recent().requests > 0 {
            "p50 / p95 / p99, last 10 s".to_string()
        } else {
            "p50 / p95 / p99 since start".to_string()
        }
    });
    let rendered_connections = metrics.active_connections;
    let rendered_websockets = metrics.open_websockets;
    let connections = Signal::derive(move || {
        format::count(
            latest()
                .filter(|_| has_live())
                .map_or(rendered_connections, |p| p.active_connections),
        )
    });
    let websockets = Signal::derive(move || {
        format::count(
            latest()
                .filter(|_| has_live())
                .map_or(rendered_websockets, |p| p.open_websockets),
        )
    });
    let system = metrics.system.clone();
    let cpu = Signal::derive(move || {
        let process = latest()
            .filter(|_| has_live())
            .map_or(system.process_cpu_percent, |p| p.process_cpu_percent);
        format!("{process:.1}%")
    });
    let cpu_note = Signal::derive({
        let system = metrics.system.clone();
        move || {
            format!(
                "of one core · host {:.0}% of {} cores",
                system.host_cpu_percent, system.cpu_cores
            )
        }
    });
    let rendered_memory = metrics.system.process_memory_bytes;
    let memory = Signal::derive(move || {
        format::bytes(
            latest()
                .filter(|_| has_live())
                .map_or(rendered_memory, |p| p.process_memory_bytes),
        )
    });
    let host_memory = metrics.system.host_memory_total_bytes;
    let memory_note =
        Signal::derive(move || format!("resident · host has {}", format::bytes(host_memory)));
    let rendered_uptime = status.uptime_secs;
    let uptime_secs = move || {
        let tick = mounted.get().then(|| live.last_tick.get()).flatten();
        tick.map_or(rendered_uptime, |tick| {
            tick.uptime_secs.max(rendered_uptime)
        })
    };
    let rendered_requests = totals.requests;
    let rendered_errors = totals.errors;
    let requests_total = move || {
        let tick = mounted.get().then(|| live.metrics.get()).flatten();
        tick.map_or(rendered_requests, |t| {
            t.requests_total.max(rendered_requests)
        })
    };
    let errors_total = move || {
        let tick = mounted.get().then(|| live.metrics.get()).flatten();
        tick.map_or(rendered_errors, |t| t.errors_total.max(rendered_errors))
    };
    let totals_value = Signal::derive(move || format::count(requests_total()));
    let totals_note = Signal::derive({
        let (bytes_in, bytes_out) = (totals.bytes_in, totals.bytes_out);
        move || {
            format!(
                "{} errors · {} in · {} out",
                format::count(errors_total()),
                format::bytes(bytes_in),
                format::bytes(bytes_out)
            )
        }
    });

    let reload = status.last_reload.clone();
    let last_reload = Signal::derive(move || {
        let pushed = mounted.get().then(|| live.last_reload.get()).flatten();
        pushed.or_else(|| reload.clone())
    });
    let generated_at = status.generated_at;
    // Route problems follow the pushed routes; the others (history, dropped events) are as read.
    let other_problems: Vec<String> = health
        .problems
        .iter()
        .filter(|p| !p.starts_with("route "))
        .cloned()
        .collect();
    let live_routes = crate::app::live_routes::live_routes(routes.clone());
    let problems = move || {
        let mut list: Vec<String> = live_routes.with(|routes| {
            routes
                .iter()
                .filter(|r| !r.targets.iter().any(|t| t.healthy))
                .map(|r| format!("route {}: no healthy target", r.name))
                .collect()
        });
        list.extend(other_problems.iter().cloned());
        list
    };
    let route_count = move || live_routes.with(Vec::len);

    view! {
        {move || {
            let problems = problems();
            (!problems.is_empty()).then(|| view! {
                <div class="banner banner-warn" role="status" data-testid="problems">
                    <strong>"Needs attention: "</strong>
                    {problems.join(" · ")}
                </div>
            })
        }}
        {status.demo.then(|| view! {
            <p class="banner banner-info" data-testid="demo-banner">
                <strong>"Demo: "</strong>
                "the " <code>"demo-*"</code> " routes go to built-in demo upstreams and a built-in generator is sending them traffic. Remove the "
                <code>"demo"</code> " section and the " <code>"demo-*"</code> " routes from " <code>{status.config_path.clone()}</code> " to turn it off."
            </p>
        })}
        <div class="cards">
            <StatCard label="Requests / s" testid="card-rps" value=rps note=Signal::derive(|| "last 10 s".to_string()) />
            <StatCard label="Error rate" testid="card-error-rate" value=error_rate tone=error_tone note=Signal::derive(|| "last 10 s".to_string()) />
            <StatCard label="Latency" testid="card-latency" value=latency note=latency_note compact=true />
            <StatCard label="Active connections" testid="card-connections" value=connections />
            <StatCard label="Open WebSockets" testid="card-websockets" value=websockets />
            <StatCard label="CPU" testid="card-cpu" value=cpu note=cpu_note />
            <StatCard label="Memory" testid="card-memory" value=memory note=memory_note />
            <article class="card stat">
                <h2 class="card-label">"Uptime"</h2>
                <p class="card-value" data-testid="uptime" data-seconds=move || uptime_secs().to_string()>
                    {move || format_uptime(uptime_secs())}
                </p>
                <p class="card-note">"since " {format::date_time(status.started_at)}</p>
            </article>
            <StatCard label="Requests served" testid="card-totals" value=totals_value note=totals_note />
        </div>
        <Charts series />
        <section class="panel" aria-labelledby="health-heading">
            <header class="panel-header">
                <h2 id="health-heading">"Targets"</h2>
                <a href="/routes">"Routes & backends →"</a>
            </header>
            <HealthGrid routes />
        </section>
        <section class="panel" aria-labelledby="gateway-heading">
            <header class="panel-header"><h2 id="gateway-heading">"Gateway"</h2></header>
            <dl class="facts">
                <div><dt>"Proxy"</dt><dd class="mono" data-testid="proxy-listen">{status.proxy_listen}</dd></div>
                <div><dt>"Dashboard & API"</dt><dd class="mono" data-testid="dashboard-listen">{status.dashboard_listen}</dd></div>
                <div><dt>"Routes"</dt><dd data-testid="proxy-summary">{move || route_summary(route_count())}</dd></div>
                <div><dt>"Config"</dt><dd class="mono" data-testid="config-path">{status.config_path}</dd></div>
                <div><dt>"Last reload"</dt><dd data-testid="last-reload" data-applied=move || last_reload.get().map(|r| r.applied.to_string())>
                    {move || reload_summary(last_reload.get().as_ref())}
                </dd></div>
                <div><dt>"Version"</dt><dd>"gatewatch " {status.version}</dd></div>
            </dl>
            <p class="muted small">
                "Rendered at "
                <time data-testid="generated-at" datetime=generated_at.to_rfc3339()>
                    {format::clock_millis(generated_at)}
                </time>
            </p>
        </section>
    }
}

/// Request count, error share and request-weighted percentiles over a few seconds.
#[derive(Clone, Copy, Default)]
struct Window {
    requests: u64,
    rps: f64,
    error_rate: f64,
    p50_us: u64,
    p95_us: u64,
    p99_us: u64,
}

impl Window {
    fn of(points: &[SeriesPoint]) -> Self {
        let requests: u64 = points.iter().map(|p| p.requests).sum();
        let errors: u64 = points.iter().map(|p| p.errors).sum();
        let weighted = |f: fn(&SeriesPoint) -> u64| {
            if requests == 0 {
                return 0;
            }
            let sum: u128 = points
                .iter()
                .map(|p| f(p) as u128 * p.requests as u128)
                .sum();
            (sum / requests as u128) as u64
        };
        Self {
            requests,
            rps: if points.is_empty() {
                0.0
            } else {
                requests as f64 / points.len() as f64
            },
            error_rate: if requests == 0 {
                0.0
            } else {
                errors as f64 / requests as f64
            },
            p50_us: weighted(|p| p.p50_us),
            p95_us: weighted(|p| p.p95_us),
            p99_us: weighted(|p| p.p99_us),
        }
    }
}

/// The three charts: live from the per-second series, or a history period.
#[component]
fn Charts(series: Memo<Vec<SeriesPoint>>) -> impl IntoView {
    let live = use_live_feed();
    let range = use_query_value("range");
    let compare = use_query_value("compare");
    let period = Memo::new(move |_| range.get().as_deref().and_then(StatsPeriod::parse));
    let stats = page_resource(
        move || (period.get(), live.poll.get()),
        |(period, _)| async move {
            match period {
                Some(period) => get_stats(format!("period={}", period.as_str()))
                    .await
                    .map(Some),
                None => Ok(None),
            }
        },
    );
    let live_charts = move || {
        let data = Memo::new(move |_| series.with(|s| live_chart_data(s)));
        charts(data)
    };
    view! {
        <section class="panel" aria-label="Traffic charts">
            {move || match period.get() {
                None => live_charts().into_any(),
                Some(_) => view! {
                    <PageData data=stats failed="No history for this range" let:stats>
                        {match stats {
                            Some(stats) => {
                                let with_previous = compare.get().is_some();
                                let data = Memo::new(move |_| period_chart_data(&stats, with_previous));
                                charts(data).into_any()
                            }
                            None => loading().into_any(),
                        }}
                    </PageData>
                }.into_any(),
            }}
        </section>
    }
}

fn charts(data: Memo<ThreeCharts>) -> impl IntoView {
    view! {
        <div class="charts">
            <LineChart title="Requests per second" testid="chart-rps" data=Signal::derive(move || data.with(|d| d.rps.clone())) unit=|v| format!("{v:.0}/s") />
            <LineChart title="Latency" testid="chart-latency" data=Signal::derive(move || data.with(|d| d.latency.clone())) unit=|v| format::latency((v * 1000.0) as u64) />
            <LineChart title="Error rate" testid="chart-errors" data=Signal::derive(move || data.with(|d| d.errors.clone())) unit=|v| format!("{v:.1}%") />
        </div>
    }
}

fn reload_summary(reload: Option<&ConfigReload>) -> String {
    match reload {
        None => "not reloaded since start".to_string(),
        Some(reload) => {
            let at = format!("{} UTC", format::clock(reload.at));
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
