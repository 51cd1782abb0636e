//! The timeline of the range: one lane per rule that fired, a bar per episode (an ongoing one
//! growing with the clock), and the episodes listed with start, end and duration.

use super::active::SeverityPill;
use super::episodes::{Episode, episodes, lanes, span_on_axis};
use super::range::AlertRange;
use super::values::{lasted, metric_value};
use crate::app::format;
use crate::app::widgets::ErrorNote;
use crate::views::{AlertHistoryPage, AlertView};
use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// Width of a lane's axis, in SVG units.
const AXIS: f64 = 1_000.0;

#[component]
pub fn Timeline(
    history: Result<AlertHistoryPage, String>,
    range: AlertRange,
    since: Option<DateTime<Utc>>,
    now: Memo<DateTime<Utc>>,
    /// Every rule as it stands now (the firing ones complete the history).
    firing: Vec<AlertView>,
) -> impl IntoView {
    let heading = format!("Timeline · last {}", range.label());
    let body = match history {
        Err(error) => {
            view! { <ErrorNote what="Could not read the alert history" error /> }.into_any()
        }
        Ok(page) => {
            let truncated = page.next_cursor.is_some();
            let list = episodes(&page.entries, &firing);
            if list.is_empty() {
                view! {
                    <p class="muted small" data-testid="no-episodes">
                        {format!("No alert fired in the last {}.", range.label())}
                    </p>
                }
                .into_any()
            } else {
                let start = since
                    .unwrap_or_else(|| list.iter().map(|e| e.started).min().unwrap_or_default());
                view! {
                    {truncated.then(|| view! {
                        <p class="muted small">"Only the newest changes of this range are shown."</p>
                    })}
                    <Lanes episodes=list.clone() start now />
                    <EpisodeTable episodes=list now />
                }
                .into_any()
            }
        }
    };
    view! {
        <section class="panel" aria-labelledby="timeline-heading">
            <header class="panel-header"><h2 id="timeline-heading">{heading}</h2></header>
            {body}
        </section>
    }
}

/// A lane per rule, its episodes as bars from `start` to now.
#[component]
fn Lanes(episodes: Vec<Episode>, start: DateTime<Utc>, now: Memo<DateTime<Utc>>) -> impl IntoView {
    let lanes = lanes(&episodes)
        .into_iter()
        .map(|rule| {
            let mine: Vec<Episode> = episodes.iter().filter(|e| e.rule == rule).cloned().collect();
            let bars = move || {
                let end = now.get();
                mine.iter()
                    .filter_map(|episode| {
                        let until = episode.ended.unwrap_or(end);
                        let (x, width) = span_on_axis(episode.started, until, start, end, AXIS)?;
                        let class = format!(
                            "episode-bar severity-{}{}",
                            severity_class(&episode.severity),
                            if episode.ongoing { " ongoing" } else { "" }
                        );
                        let label = format!(
                            "{}: {} → {}",
                            episode.rule,
                            format::date_time(episode.started),
                            episode.ended.map_or_else(|| "now".to_string(), format::date_time)
                        );
                        Some(view! {
                            <rect class=class x=format!("{x:.1}") y="0" width=format!("{width:.1}") height="10">
                                <title>{label}</title>
                            </rect>
                        })
                    })
                    .collect_view()
            };
            view! {
                <li class="lane" data-testid="alert-lane" data-rule=rule.clone()>
                    <span class="lane-name mono">{rule.clone()}</span>
                    <svg class="lane-bar" viewBox=format!("0 0 {AXIS} 10") preserveAspectRatio="none" role="img" aria-label=format!("When {rule} fired")>
                        {bars}
                    </svg>
                </li>
            }
        })
        .collect_view();
    view! {
        <ol class="lanes">{lanes}</ol>
        <div class="lane-axis small muted">
            <span>{format::date_time(start)}</span>
            <span>"now"</span>
        </div>
    }
}

/// The severity's CSS class name (only known words; others are `other`).
fn severity_class(severity: &str) -> &str {
    match severity {
        "critical" | "warning" | "info" => severity,
        _ => "other",
    }
}

/// The episodes, newest first.
#[component]
fn EpisodeTable(episodes: Vec<Episode>, now: Memo<DateTime<Utc>>) -> impl IntoView {
    let rows = episodes
        .into_iter()
        .map(|episode| {
            let started = episode.started;
            let (end, duration): (String, Box<dyn Fn() -> String + Send + Sync>) = match episode.ended {
                Some(ended) => (format::date_time(ended), Box::new(move || lasted(started, ended))),
                None if episode.ongoing => (
                    "firing".to_string(),
                    Box::new(move || lasted(started, now.get())),
                ),
                None => ("not recorded".to_string(), Box::new(|| "—".to_string())),
            };
            view! {
                <tr data-testid="alert-episode" data-rule=episode.rule.clone() data-ongoing=episode.ongoing.to_string()>
                    <th scope="row" class="mono">{episode.rule.clone()}</th>
                    <td><SeverityPill severity=episode.severity.clone() /></td>
                    <td class="mono small">{episode.scope.clone()}</td>
                    <td>{format::date_time(started)}</td>
                    <td data-testid="episode-end">{end}</td>
                    <td class="num" data-testid="episode-duration">{duration}</td>
                    <td class="num">{metric_value(&episode.metric, episode.value)}</td>
                    <td>{episode.silenced.then(|| view! { <span class="badge silenced">"silenced"</span> })}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label="Alert episodes">
            <table data-testid="alert-episodes">
                <thead>
                    <tr>
                        <th scope="col">"Rule"</th>
                        <th scope="col">"Severity"</th>
                        <th scope="col">"Scope"</th>
                        <th scope="col">"Started"</th>
                        <th scope="col">"Ended"</th>
                        <th scope="col" class="num">"Duration"</th>
                        <th scope="col" class="num">"Value"</th>
                        <th scope="col"><span class="visually-hidden">"Silenced"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
