//! Routes and targets as signals: what the page read, replaced by each push while the live socket
//! is up ([`LiveFeed::routes`](crate::live::LiveFeed)). One memo per card, row or tile, so a
//! push re-renders only what changed, and keyed lists keep their elements (and focus).

use crate::live::{mounted, use_live_feed};
use crate::views::{RouteView, TargetView};
use leptos::prelude::*;

/// The routes as read by the page, replaced by each push while the live socket is up.
pub fn live_routes(rendered: Vec<RouteView>) -> Memo<Vec<RouteView>> {
    let live = use_live_feed();
    let mounted = mounted();
    Memo::new(move |_| {
        mounted
            .get()
            .then(|| live.routes.get())
            .flatten()
            .unwrap_or_else(|| rendered.clone())
    })
}

/// Route `fallback.name` in `routes`; `fallback` (as first shown) once it is gone, while its
/// card leaves.
pub fn live_route(routes: Memo<Vec<RouteView>>, fallback: RouteView) -> Memo<RouteView> {
    Memo::new(move |_| {
        routes
            .with(|list| list.iter().find(|r| r.name == fallback.name).cloned())
            .unwrap_or_else(|| fallback.clone())
    })
}

/// Target `fallback.url` of `route`, like [`live_route`].
pub fn live_target(route: Memo<RouteView>, fallback: TargetView) -> Memo<TargetView> {
    Memo::new(move |_| {
        route
            .with(|r| r.targets.iter().find(|t| t.url == fallback.url).cloned())
            .unwrap_or_else(|| fallback.clone())
    })
}

/// Target `fallback.url` of route `fallback.route` in `routes`, like [`live_route`].
pub fn live_target_in(routes: Memo<Vec<RouteView>>, fallback: TargetView) -> Memo<TargetView> {
    Memo::new(move |_| {
        routes
            .with(|list| {
                list.iter()
                    .filter(|r| r.name == fallback.route)
                    .flat_map(|r| r.targets.iter())
                    .find(|t| t.url == fallback.url)
                    .cloned()
            })
            .unwrap_or_else(|| fallback.clone())
    })
}

/// Every target of every route, in order.
pub fn all_targets(routes: Memo<Vec<RouteView>>) -> Vec<TargetView> {
    routes.with(|list| {
        list.iter()
            .flat_map(|r| r.targets.iter().cloned())
            .collect()
    })
}
