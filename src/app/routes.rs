//! Routes & backends: per route and per target traffic (rps share, errors, percentiles, status
//! distribution), live health and breaker state, and each target's transitions.

use crate::api::traffic::get_routes;
use crate::app::format;
use crate::app::health::{TargetState, live_target_state};
use crate::app::resource::page_resource;
use crate::app::widgets::{EmptyState, ErrorNote, loading};
use crate::live::use_live_feed;
use crate::views::{RouteView, StatusClasses, TargetTransition, TargetView, TrafficStats};
use leptos::prelude::*;

#[component]
pub fn RoutesPage() -> impl IntoView {
    let live = use_live_feed();
    let routes = page_resource(move || live.poll.get(), |_| get_routes());
    view! {
        <section class="page">
            <header class="page-header"><h1>"Routes & backends"</h1></header>
            <Transition fallback=loading>
                {move || Suspend::new(async move {
                    match routes.await {
                        Ok(routes) if routes.is_empty() => view! {
                            <EmptyState title="No routes configured">
                                <p>"Add routes to " <code>"config.json"</code> "; a saved change is applied without a restart."</p>
                            </EmptyState>
                        }.into_any(),
                        Ok(routes) => routes.into_iter().map(|route| view! { <RouteCard route /> }).collect_view().into_any(),
                        Err(error) => view! { <ErrorNote what="Could not read the routes" error=error.to_string() /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn RouteCard(route: RouteView) -> impl IntoView {
    let requests_href = format!("/requests?route={}", crate::app::query::encode(&route.name));
    let targets = route.targets.clone();
    view! {
        <section class="panel route" data-testid="route" data-route=route.name.clone()>
            <header class="panel-header">
                <h2><span class="mono">{route.name.clone()}</span></h2>
                <span class="muted mono">{route.path.clone()}</span>
                <span class="badge">{route.strategy.replace('_', " ")}</span>
                <a href=requests_href>"Requests →"</a>
            </header>
            {route.all_targets_down.then(|| view! {
                <p class="banner banner-bad" role="alert" data-testid="all-down">
                    "All targets of this route are down: requests to it get 503 until one recovers."
                </p>
            })}
            <TrafficSummary traffic=route.traffic.clone() />
            <div class="table-wrap">
                <table class="targets">
                    <thead>
                        <tr>
                            <th scope="col">"Target"</th>
                            <th scope="col">"State"</th>
                            <th scope="col">"Breaker"</th>
                            <th scope="col" class="num">"Share"</th>
                            <th scope="col" class="num">"Requests"</th>
                            <th scope="col" class="num">"Errors"</th>
                            <th scope="col" class="num">"p50 / p95 / p99"</th>
                            <th scope="col" class="num">"In flight"</th>
                            <th scope="col">"Last check"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {targets.into_iter().map(|target| view! { <TargetRow target /> }).collect_view()}
                    </tbody>
                </table>
            </div>
            <Transitions targets=route.targets />
        </section>
    }
}

#[component]
fn TrafficSummary(traffic: TrafficStats) -> impl IntoView {
    let l = traffic.latency;
    view! {
        <dl class="facts inline">
            <div><dt>"Requests"</dt><dd>{format::count(traffic.requests)}</dd></div>
            <div><dt>"Errors"</dt><dd>{format::count(traffic.errors)}</dd></div>
            <div><dt>"Latency p50 / p95 / p99"</dt><dd>{format!("{} / {} / {}", format::latency(l.p50_us), format::latency(l.p95_us), format::latency(l.p99_us))}</dd></div>
            <div><dt>"Status"</dt><dd><StatusBar status=traffic.status /></dd></div>
        </dl>
    }
}

/// The status classes as a stacked bar with counts.
#[component]
pub fn StatusBar(status: StatusClasses) -> impl IntoView {
    let classes = [
        ("2xx", status.success),
        ("3xx", status.redirection),
        ("4xx", status.client_error),
        ("5xx", status.server_error),
        ("1xx", status.informational),
    ];
    let total: u64 = classes.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return view! { <span class="muted">"no traffic yet"</span> }.into_any();
    }
    let segments = classes
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(class, n)| {
            let width = format!("width: {:.2}%", *n as f64 * 100.0 / total as f64);
            view! { <span class=format!("bar-segment status-{class}") style=width title=format!("{class}: {n}")></span> }
        })
        .collect_view();
    let legend = classes
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(class, n)| format!("{class} {}", format::count(*n)))
        .collect::<Vec<_>>()
        .join(" · ");
    view! {
        <span class="status-bar" role="img" aria-label=legend.clone()>{segments}</span>
        <span class="small">{legend}</span>
    }
    .into_any()
}

#[component]
fn TargetRow(target: TargetView) -> impl IntoView {
    let (healthy, breaker) = live_target_state(&target);
    let state = move || TargetState::of(healthy.get(), &breaker.get());
    let l = target.traffic.latency;
    let last_check = target
        .last_check
        .map_or_else(|| "—".to_string(), format::clock);
    view! {
        <tr data-testid="target-row" data-target=target.url.clone() data-state=move || state().label()>
            <td class="mono">{target.url.clone()} {(target.weight != 1).then(|| format!(" ×{}", target.weight))}</td>
            <td><span class=move || format!("pill state-{}", state().label())>{move || state().label()}</span></td>
            <td>{move || breaker.get().replace('_', "-")}</td>
            <td class="num">{format::percent(target.share)}</td>
            <td class="num">{format::count(target.traffic.requests)}</td>
            <td class="num">{format::count(target.traffic.errors)}</td>
            <td class="num">{format!("{} / {} / {}", format::latency(l.p50_us), format::latency(l.p95_us), format::latency(l.p99_us))}</td>
            <td class="num">{target.in_flight}</td>
            <td class="small" title=target.last_error.clone().unwrap_or_default()>
                {last_check} {(target.consecutive_failures > 0).then(|| format!(" · {} failing", target.consecutive_failures))}
            </td>
        </tr>
    }
}

/// Health and breaker transitions of the route's targets, newest first (rendered, then pushed).
#[component]
fn Transitions(targets: Vec<TargetView>) -> impl IntoView {
    let live = use_live_feed();
    let urls: Vec<(String, String)> = targets
        .iter()
        .map(|t| (t.route.clone(), t.url.clone()))
        .collect();
    let mut rendered: Vec<TargetTransition> =
        targets.into_iter().flat_map(|t| t.transitions).collect();
    rendered.sort_by_key(|t| std::cmp::Reverse(t.at));
    let newest_rendered = rendered.first().map(|t| t.at);
    let list = move || {
        let mut pushed: Vec<TargetTransition> = live.transitions.with(|list| {
            list.iter()
                .filter(|t| urls.iter().any(|(r, u)| *r == t.route && *u == t.target))
                .filter(|t| newest_rendered.is_none_or(|newest| t.at > newest))
                .cloned()
                .collect()
        });
        pushed.extend(rendered.iter().cloned());
        pushed.truncate(20);
        pushed
    };
    view! {
        <details class="timeline" open=true>
            <summary>"Transitions"</summary>
            {move || {
                let list = list();
                if list.is_empty() {
                    return view! { <p class="muted small">"No health or breaker changes since start."</p> }.into_any();
                }
                view! {
                    <ol class="transitions">
                        {list.into_iter().map(|t| view! {
                            <li class=format!("transition to-{}", t.to)>
                                <time class="mono">{format::clock(t.at)}</time>
                                " " <span class="mono">{t.target.clone()}</span>
                                " " {t.kind.clone()} ": " {t.from.replace('_', "-")} " → " <strong>{t.to.replace('_', "-")}</strong>
                                {t.reason.clone().map(|r| view! { <span class="muted">" (" {r} ")"</span> })}
                            </li>
                        }).collect_view()}
                    </ol>
                }.into_any()
            }}
        </details>
    }
}
