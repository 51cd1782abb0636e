//! Routes & backends: per route and per target traffic (request rate, errors, percentiles,
//! status distribution, load-balancing share), health and breaker state, and each target's
//! transitions. Rendered from the page's read, then kept current by the routes pushed once a
//! second ([`LiveFeed::routes`](crate::live_feed::LiveFeed)); cards and rows are keyed, so a push
//! updates their text without rebuilding them.

use crate::api::traffic::get_routes;
use crate::app::format;
use crate::app::health_grid::TargetState;
use crate::app::live_routes::{live_route, live_routes, live_target};
use crate::app::page_data::PageData;
use crate::app::resource::page_resource;
use crate::app::widgets::EmptyState;
use crate::live_feed::use_live_feed;
use crate::views::{
    LatencyPercentiles, RouteView, StatusClasses, TargetTransition, TargetView, TrafficStats,
};
use leptos::prelude::*;

#[component]
pub fn RoutesPage() -> impl IntoView {
    let live = use_live_feed();
    let routes = page_resource(move || live.poll.get(), |_| get_routes());
    view! {
        <section class="page">
            <header class="page-header"><h1>"Routes & backends"</h1></header>
            <PageData data=routes failed="Could not read the routes" let:routes>
                <RouteCards rendered=routes />
            </PageData>
        </section>
    }
}

#[component]
fn RouteCards(rendered: Vec<RouteView>) -> impl IntoView {
    let routes = live_routes(rendered);
    view! {
        <Show
            when=move || routes.with(|list| !list.is_empty())
            fallback=|| view! {
                <EmptyState title="No routes configured">
                    <p>"Add routes to " <code>"config.json"</code> "; a saved change is applied without a restart."</p>
                </EmptyState>
            }
        >
            <For each=move || routes.get() key=|route| route.name.clone() let(route)>
                <RouteCard route routes />
            </For>
        </Show>
    }
}

#[component]
fn RouteCard(route: RouteView, routes: Memo<Vec<RouteView>>) -> impl IntoView {
    let requests_href = format!(
        "/requests?route={}",
        crate::app::query_string::encode(&route.name)
    );
    let name = route.name.clone();
    let name_for_transitions = route.name.clone();
    let route_attr = route.name.clone();
    let route_attr_label = route.name.clone();
    let rendered_transitions: Vec<TargetTransition> = route
        .targets
        .iter()
        .flat_map(|t| t.transitions.iter().cloned())
        .collect();
    let current = live_route(routes, route);
    view! {
        <section class="panel route" data-testid="route" data-route=route_attr>
            <header class="panel-header">
                <h2><span class="mono">{name.clone()}</span></h2>
                <span class="muted mono">{move || current.with(|r| r.path.clone())}</span>
                <span class="badge">{move || current.with(|r| r.strategy.replace('_', " "))}</span>
                {move || current.with(|r| r.tls_unverified).then(|| view! {
                    <span
                        class="badge badge-bad"
                        data-testid="tls-unverified"
                        title="upstream_tls.insecure_skip_verify: the targets' certificates are not verified"
                    >
                        "TLS not verified"
                    </span>
                })}
                <a href=requests_href>"Requests →"</a>
            </header>
            {move || current.with(|r| r.all_targets_down).then(|| view! {
                <p class="banner banner-bad" role="alert" data-testid="all-down">
                    "All targets of this route are down: requests to it get 503 until one recovers."
                </p>
            })}
            <TrafficSummary traffic=Signal::derive(move || current.with(|r| r.traffic.clone())) />
            // Focusable, so a keyboard can scroll it when the columns overflow.
            <div class="table-wrap" tabindex="0" role="region" aria-label=format!("Targets of {}", route_attr_label)>
                <table class="targets">
                    <thead>
                        <tr>
                            <th scope="col">"Target"</th>
                            <th scope="col">"State"</th>
                            <th scope="col">"Breaker"</th>
                            <th scope="col" class="num">"Share"</th>
                            <th scope="col" class="num">"Rate"</th>
                            <th scope="col" class="num">"Requests"</th>
                            <th scope="col" class="num">"Errors"</th>
                            <th scope="col" class="num">"p50 / p95 / p99"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col" class="num">"In flight"</th>
                            <th scope="col">"Last check"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For each=move || current.with(|r| r.targets.clone()) key=|target| target.url.clone() let(target)>
                            <TargetRow target=live_target(current, target) />
                        </For>
                    </tbody>
                </table>
            </div>
            <Transitions route=name_for_transitions rendered=rendered_transitions />
        </section>
    }
}

#[component]
fn TrafficSummary(#[prop(into)] traffic: Signal<TrafficStats>) -> impl IntoView {
    move || {
        let traffic = traffic.get();
        let l = traffic.latency;
        view! {
            <dl class="facts inline">
                <div><dt>"Rate"</dt><dd data-testid="route-rps">{format::rate(traffic.rps)}</dd></div>
                <div><dt>"Errors (last 10 s)"</dt><dd>{format::percent(traffic.error_rate)}</dd></div>
                <div><dt>"Requests"</dt><dd data-testid="route-requests">{format::count(traffic.requests)}</dd></div>
                <div><dt>"Errors"</dt><dd>{format::count(traffic.errors)}</dd></div>
                <div><dt>"Latency p50 / p95 / p99"</dt><dd>{percentiles(traffic.requests, l)}</dd></div>
                <div><dt>"Status"</dt><dd><StatusBar status=traffic.status /></dd></div>
            </dl>
        }
    }
}

/// p50 / p95 / p99, or a dash before the first request.
fn percentiles(requests: u64, l: LatencyPercentiles) -> String {
    if requests == 0 {
        return "—".to_string();
    }
    format!(
        "{} / {} / {}",
        format::latency(l.p50_us),
        format::latency(l.p95_us),
        format::latency(l.p99_us)
    )
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
    // An SVG, not styled spans: widths as attributes keep the page within a CSP without inline
    // styles.
    let mut x = 0.0;
    let segments = classes
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(class, n)| {
            let width = *n as f64 * 100.0 / total as f64;
            let at = x;
            x += width;
            view! {
                <rect class=format!("bar-segment status-{class}") x=format!("{at:.2}") y="0" width=format!("{width:.2}") height="1">
                    <title>{format!("{class}: {n}")}</title>
                </rect>
            }
        })
        .collect_view();
    let legend = classes
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(class, n)| format!("{class} {}", format::count(*n)))
        .collect::<Vec<_>>()
        .join(" · ");
    view! {
        <svg class="status-bar" viewBox="0 0 100 1" preserveAspectRatio="none" role="img" aria-label=legend.clone()>{segments}</svg>
        <span class="small">{legend}</span>
    }
    .into_any()
}

#[component]
fn TargetRow(target: Memo<TargetView>) -> impl IntoView {
    let state = move || target.with(|t| TargetState::of(t.healthy, &t.breaker));
    let url = target.with_untracked(|t| t.url.clone());
    let cells = move || {
        let t = target.get();
        let l = t.traffic.latency;
        let last_check = t.last_check.map_or_else(|| "—".to_string(), format::clock);
        let state = TargetState::of(t.healthy, &t.breaker);
        view! {
            <td class="mono">{t.url.clone()} {(t.weight != 1).then(|| format!(" ×{}", t.weight))}</td>
            <td><span class=format!("pill state-{}", state.label())>{state.label()}</span></td>
            <td>{t.breaker.replace('_', "-")}</td>
            <td class="num">{format::percent(t.share)}</td>
            <td class="num" data-testid="target-rps">{format::rate(t.traffic.rps)}</td>
            <td class="num" data-testid="target-requests">{format::count(t.traffic.requests)}</td>
            <td class="num" title=format!("{} of the last 10 s", format::percent(t.traffic.error_rate))>{format::count(t.traffic.errors)}</td>
            <td class="num">{percentiles(t.traffic.requests, l)}</td>
            <td class="status-cell" data-testid="target-status"><StatusBar status=t.traffic.status /></td>
            <td class="num">{t.in_flight}</td>
            <td class="small" title=t.last_error.clone().unwrap_or_default() data-testid="target-last-check">
                {last_check} {(t.consecutive_failures > 0).then(|| format!(" · {} failing", t.consecutive_failures))}
            </td>
        }
    };
    view! {
        <tr data-testid="target-row" data-target=url data-state=move || state().label()>
            {cells}
        </tr>
    }
}

/// Health and breaker transitions of the route's targets, newest first (rendered, then pushed).
#[component]
fn Transitions(route: String, rendered: Vec<TargetTransition>) -> impl IntoView {
    let live = use_live_feed();
    let mounted = crate::live_feed::mounted();
    let mut rendered = rendered;
    rendered.sort_by_key(|t| std::cmp::Reverse(t.at));
    let newest_rendered = rendered.first().map(|t| t.at);
    let list = move || {
        if !mounted.get() {
            return rendered.iter().take(20).cloned().collect();
        }
        let mut pushed: Vec<TargetTransition> = live.transitions.with(|list| {
            list.iter()
                .filter(|t| t.route == route)
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
