//! The health grid: one tile per target, coloured by state, with its last check, consecutive
//! failures and breaker state; kept current by the routes pushed each second, and recoloured by a
//! transition as soon as it arrives.

use crate::app::format;
use crate::app::live_routes::{all_targets, live_routes, live_target_in};
use crate::views::{RouteView, TargetView};
use leptos::prelude::*;

/// How a target is doing, as the grid colours it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetState {
    /// Healthy and its breaker closed.
    Up,
    /// Healthy but the breaker is half-open (probing).
    Probing,
    /// Unhealthy, or its breaker is open: out of rotation.
    Down,
}

impl TargetState {
    pub fn of(healthy: bool, breaker: &str) -> Self {
        match (healthy, breaker) {
            (false, _) | (_, "open") => Self::Down,
            (true, "half_open") => Self::Probing,
            _ => Self::Up,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Probing => "probing",
            Self::Down => "down",
        }
    }
}

/// Every target of every route, kept current by pushes.
#[component]
pub fn HealthGrid(routes: Vec<RouteView>) -> impl IntoView {
    let routes = live_routes(routes);
    view! {
        <Show
            when=move || routes.with(|list| list.iter().any(|r| !r.targets.is_empty()))
            fallback=|| view! {
                <crate::app::widgets::EmptyState title="No routes yet">
                    <p>"Add a route with targets to " <code>"config.json"</code>
                    " (see the README's configuration section); it is picked up without a restart."</p>
                </crate::app::widgets::EmptyState>
            }
        >
            <ul class="health-grid" data-testid="health-grid">
                <For
                    each=move || all_targets(routes)
                    key=|target| (target.route.clone(), target.url.clone())
                    let(target)
                >
                    <TargetTile target=live_target_in(routes, target) />
                </For>
            </ul>
        </Show>
    }
}

#[component]
fn TargetTile(target: Memo<TargetView>) -> impl IntoView {
    let state = move || target.with(|t| TargetState::of(t.healthy, &t.breaker));
    let (route, url) = target.with_untracked(|t| (t.route.clone(), t.url.clone()));
    let facts = move || {
        let t = target.get();
        let last_check = t.last_check.map_or_else(
            || "no check yet".to_string(),
            |at| format!("checked {}", format::clock(at)),
        );
        view! {
            <span class="tile-state">{TargetState::of(t.healthy, &t.breaker).label()}</span>
            " · breaker " {t.breaker.replace('_', "-")}
            " · " <span data-testid="tile-failures">{t.consecutive_failures}</span> " consecutive failures"
            " · " <span data-testid="tile-last-check">{last_check}</span>
        }
    };
    view! {
        <li
            class=move || format!("tile state-{}", state().label())
            data-testid="target-tile"
            data-route=route.clone()
            data-target=url.clone()
            data-state=move || state().label()
            title=move || target.with(|t| t.last_error.clone().unwrap_or_default())
        >
            <span class="tile-dot" aria-hidden="true"></span>
            <span class="tile-url mono">{url.clone()}</span>
            <span class="tile-route">{route.clone()}</span>
            <span class="tile-facts">{facts}</span>
        </li>
    }
}
