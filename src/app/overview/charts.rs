//! The overview's traffic charts: live from the per-second series, or a period read from the
//! history (`?range=`), with the previous period overlaid when `?compare=` is set, and the
//! alerts that began firing within the time shown marked on the request-rate chart.

use super::alert_markers::alert_markers;
use super::chart_data::{ThreeCharts, live_chart_data, period_chart_data};
use crate::api::traffic::get_stats;
use crate::app::chart::LineChart;
use crate::app::format;
use crate::app::page_data::PageData;
use crate::app::query_string::use_query_value;
use crate::app::resource::{BytesJson, page_resource};
use crate::app::widgets::loading;
use crate::live_feed::use_live_feed;
use crate::views::{AlertStart, PeriodStats, SeriesPoint, StatsPeriod};
use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// The history period the range picker chose (`?range=`) and its stats, read again at every
/// poll. Made by the page outside its own data boundary: a resource first created inside a
/// `Suspend` can leave the server's render of the page waiting forever (leptos-rs/leptos#4866).
#[derive(Clone, Copy)]
pub struct PeriodReading {
    period: Memo<Option<StatsPeriod>>,
    stats: Resource<Result<Option<PeriodStats>, ServerFnError>, BytesJson>,
}

impl PeriodReading {
    pub fn for_page() -> Self {
        let live = use_live_feed();
        let range = use_query_value("range");
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
        Self { period, stats }
    }
}

/// The three charts: live from `series`, or the history period the range picker chose; the
/// alert starts read with the page (`alert_starts`) and pushed since marked.
#[component]
pub fn Charts(
    series: Memo<Vec<SeriesPoint>>,
    reading: PeriodReading,
    alert_starts: Vec<AlertStart>,
) -> impl IntoView {
    let PeriodReading { period, stats } = reading;
    let compare = use_query_value("compare");
    let markers = alert_markers(alert_starts);
    let live_charts = move || {
        let data = Memo::new(move |_| series.with(|s| live_chart_data(s)));
        view! { <ChartGrid data markers /> }
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
                                view! { <ChartGrid data markers /> }.into_any()
                            }
                            None => loading().into_any(),
                        }}
                    </PageData>
                }.into_any(),
            }}
        </section>
    }
}

/// Requests per second, latency and error rate side by side.
#[component]
fn ChartGrid(data: Memo<ThreeCharts>, markers: Memo<Vec<DateTime<Utc>>>) -> impl IntoView {
    view! {
        <div class="charts">
            <LineChart title="Requests per second" testid="chart-rps" data=Signal::derive(move || data.with(|d| d.rps.clone())) unit=|v| format!("{v:.0}/s") markers />
            <LineChart title="Latency" testid="chart-latency" data=Signal::derive(move || data.with(|d| d.latency.clone())) unit=|v| format::latency((v * 1000.0) as u64) />
            <LineChart title="Error rate" testid="chart-errors" data=Signal::derive(move || data.with(|d| d.errors.clone())) unit=|v| format!("{v:.1}%") />
        </div>
    }
}
