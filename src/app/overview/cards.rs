//! The overview's stat cards: traffic of the last seconds, the gauges and the process's
//! resources, uptime and the totals since start. Each shows what the server rendered until the
//! live feed brings newer numbers.

use super::live_series::RecentTraffic;
use crate::app::format;
use crate::app::widgets::StatCard;
use crate::live_feed::{mounted, use_live_feed};
use crate::views::{
    LatencyPercentiles, MetricsSnapshot, SeriesPoint, SystemStats, TrafficStats, format_uptime,
};
use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// Every card, in the order they show.
#[component]
pub fn Cards(
    /// The metrics the page was rendered with.
    metrics: MetricsSnapshot,
    /// The live series (see [`live_series`](super::live_series::live_series)).
    series: Memo<Vec<SeriesPoint>>,
    /// The process's uptime and start, as rendered.
    uptime_secs: u64,
    started_at: DateTime<Utc>,
) -> impl IntoView {
    let MetricsSnapshot {
        rps,
        error_rate,
        totals,
        system,
        active_connections,
        open_websockets,
        ..
    } = metrics;
    let latency = totals.latency;
    view! {
        <div class="cards">
            <RecentTrafficCards series rps error_rate latency />
            <GaugeCards series system active_connections open_websockets />
            <UptimeCard uptime_secs started_at />
            <TotalsCard totals />
        </div>
    }
}

/// Whether live seconds have arrived since the page went on screen (until then the cards show
/// what was rendered).
fn has_live() -> impl Fn() -> bool + Copy + Send + Sync + 'static {
    let live = use_live_feed();
    let mounted = mounted();
    move || mounted.get() && live.series.with(|s| !s.is_empty())
}

/// Requests per second, error rate and latency percentiles of the last 10 seconds (latency since
/// start until live seconds with requests arrive).
#[component]
fn RecentTrafficCards(
    series: Memo<Vec<SeriesPoint>>,
    rps: f64,
    error_rate: f64,
    latency: LatencyPercentiles,
) -> impl IntoView {
    let has_live = has_live();
    let recent = move || series.with(|s| RecentTraffic::of_last(s));
    let rps_shown =
        Signal::derive(move || format::rate(if has_live() { recent().rps } else { rps }));
    let error_rate_now = move || {
        if has_live() {
            recent().error_rate
        } else {
            error_rate
        }
    };
    let error_rate_shown = Signal::derive(move || format::percent(error_rate_now()));
    let error_tone = Signal::derive(move || match error_rate_now() {
        r if r >= 0.05 => "bad",
        r if r > 0.0 => "warn",
        _ => "",
    });
    let latency_shown = Signal::derive(move || {
        let w = recent();
        let (p50, p95, p99) = if has_live() && w.requests > 0 {
            (w.p50_us, w.p95_us, w.p99_us)
        } else {
            (latency.p50_us, latency.p95_us, latency.p99_us)
        };
        format!(
            "{} / {} / {}",
            format::latency(p50),
            format::latency(p95),
            format::latency(p99)
        )
    });
    let latency_note = Signal::derive(move || {
        if has_live() && recent().requests > 0 {
            "p50 / p95 / p99, last 10 s".to_string()
        } else {
            "p50 / p95 / p99 since start".to_string()
        }
    });
    view! {
        <StatCard label="Requests / s" testid="card-rps" value=rps_shown note=Signal::derive(|| "last 10 s".to_string()) />
        <StatCard label="Error rate" testid="card-error-rate" value=error_rate_shown tone=error_tone note=Signal::derive(|| "last 10 s".to_string()) />
        <StatCard label="Latency" testid="card-latency" value=latency_shown note=latency_note compact=true />
    }
}

/// Connections, WebSockets, CPU and memory as the newest live second sampled them.
#[component]
fn GaugeCards(
    series: Memo<Vec<SeriesPoint>>,
    system: SystemStats,
    active_connections: u64,
    open_websockets: u64,
) -> impl IntoView {
    let has_live = has_live();
    let latest = move || {
        series
            .with(|s| s.last().and_then(|p| p.sample))
            .filter(|_| has_live())
    };
    let connections = Signal::derive(move || {
        format::count(latest().map_or(active_connections, |s| s.active_connections))
    });
    let websockets = Signal::derive(move || {
        format::count(latest().map_or(open_websockets, |s| s.open_websockets))
    });
    let process_cpu = system.process_cpu_percent;
    let cpu = Signal::derive(move || {
        let process = latest().map_or(process_cpu, |s| s.process_cpu_percent);
        format!("{process:.1}%")
    });
    let cpu_note = format!(
        "of one core · host {:.0}% of {} cores",
        system.host_cpu_percent, system.cpu_cores
    );
    let process_memory = system.process_memory_bytes;
    let memory = Signal::derive(move || {
        format::bytes(latest().map_or(process_memory, |s| s.process_memory_bytes))
    });
    let memory_note = format!(
        "resident · host has {}",
        format::bytes(system.host_memory_total_bytes)
    );
    view! {
        <StatCard label="Active connections" testid="card-connections" value=connections />
        <StatCard label="Open WebSockets" testid="card-websockets" value=websockets />
        <StatCard label="CPU" testid="card-cpu" value=cpu note=Signal::derive(move || cpu_note.clone()) />
        <StatCard label="Memory" testid="card-memory" value=memory note=Signal::derive(move || memory_note.clone()) />
    }
}

/// Uptime, counted on by the live ticks.
#[component]
fn UptimeCard(uptime_secs: u64, started_at: DateTime<Utc>) -> impl IntoView {
    let live = use_live_feed();
    let mounted = mounted();
    let rendered = uptime_secs;
    let uptime_secs = move || {
        let tick = mounted.get().then(|| live.last_tick.get()).flatten();
        tick.map_or(rendered, |tick| tick.uptime_secs.max(rendered))
    };
    view! {
        <article class="card stat">
            <h2 class="card-label">"Uptime"</h2>
            <p class="card-value" data-testid="uptime" data-seconds=move || uptime_secs().to_string()>
                {move || format_uptime(uptime_secs())}
            </p>
            <p class="card-note">"since " {format::date_time(started_at)}</p>
        </article>
    }
}

/// Requests and errors since start (counted on by the live metrics ticks) and bytes moved.
#[component]
fn TotalsCard(totals: TrafficStats) -> impl IntoView {
    let live = use_live_feed();
    let mounted = mounted();
    let (rendered_requests, rendered_errors) = (totals.requests, totals.errors);
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
    let value = Signal::derive(move || format::count(requests_total()));
    let (bytes_in, bytes_out) = (totals.bytes_in, totals.bytes_out);
    let note = Signal::derive(move || {
        format!(
            "{} errors · {} in · {} out",
            format::count(errors_total()),
            format::bytes(bytes_in),
            format::bytes(bytes_out)
        )
    });
    view! { <StatCard label="Requests served" testid="card-totals" value note /> }
}
