//! The health grid: one tile per target, coloured by state, with its last check, consecutive
//! failures and breaker state; transitions pushed over the socket recolour it at once.

use crate::app::format;
use crate::live::use_live_feed;
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

/// A target's health and breaker: as rendered, then as the newest pushed transitions say.
pub fn live_target_state(target: &TargetView) -> (Signal<bool>, Signal<String>) {
    let live = use_live_feed();
    let (route, url) = (target.route.clone(), target.url.clone());
    let newest = move |kind: &'static str| {
        let (route, url) = (route.clone(), url.clone());
        move || {
            live.transitions.with(|list| {
                list.iter()
                    .find(|t| t.kind == kind && t.route == route && t.target == url)
                    .map(|t| t.to.clone())
            })
        }
    };
    let rendered_healthy = target.healthy;
    let health = newest("health");
    let healthy = Signal::derive(move || health().map_or(rendered_healthy, |to| to == "healthy"));
    let rendered_breaker = target.breaker.clone();
    let breaker_of = newest("breaker");
    let breaker = Signal::derive(move || breaker_of().unwrap_or_else(|| rendered_breaker.clone()));
    (healthy, breaker)
}

/// Every target of every route.
#[component]
pub fn HealthGrid(routes: Vec<RouteView>) -> impl IntoView {
    if routes.is_empty() {
        return view! {
            <crate::app::widgets::EmptyState title="No routes yet">
                <p>"Add a route with targets to " <code>"config.json"</code>
                " (see the README's configuration section); it is picked up without a restart."</p>
            </crate::app::widgets::EmptyState>
        }
        .into_any();
    }
    let tiles = routes
        .into_iter()
        .flat_map(|route| route.targets)
        .map(|target| view! { <TargetTile target /> })
        .collect_view();
    view! { <ul class="health-grid" data-testid="health-grid">{tiles}</ul> }.into_any()
}

#[component]
fn TargetTile(target: TargetView) -> impl IntoView {
    let (healthy, breaker) = live_target_state(&target);
    let state = move || TargetState::of(healthy.get(), &breaker.get());
    let last_check = target.last_check.map_or_else(
        || "no check yet".to_string(),
        |at| format!("checked {}", format::clock(at)),
    );
    let title = target.last_error.clone().unwrap_or_default();
    view! {
        <li
            class=move || format!("tile state-{}", state().label())
            data-testid="target-tile"
            data-route=target.route.clone()
            data-target=target.url.clone()
            data-state=move || state().label()
            title=title
        >
            <span class="tile-dot" aria-hidden="true"></span>
            <span class="tile-url mono">{target.url.clone()}</span>
            <span class="tile-route">{target.route.clone()}</span>
            <span class="tile-facts">
                <span class="tile-state">{move || state().label()}</span>
                " · breaker " {move || breaker.get().replace('_', "-")}
                " · " {target.consecutive_failures} " consecutive failures"
                " · " {last_check}
            </span>
        </li>
    }
}
