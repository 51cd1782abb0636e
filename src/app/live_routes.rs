//! Routes and targets as signals: what the page read, replaced by each push while the live socket
//! is up ([`LiveFeed::routes`](crate::live_feed::LiveFeed)). One memo per card, row or tile, so a
//! push re-renders only what changed, and keyed lists keep their elements (and focus).

use crate::live_feed::{mounted, use_live_feed};
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

/// The item of `list` with `fallback`'s key, or `fallback` (as first shown) once it is gone,
/// while its card, row or tile leaves.
pub fn keyed_item<T, K>(
    list: impl Fn(&dyn Fn(&T) -> bool) -> Option<T> + Send + Sync + 'static,
    fallback: T,
    key: impl Fn(&T) -> K + Send + Sync + 'static,
) -> Memo<T>
where
    T: Clone + PartialEq + Send + Sync + 'static,
    K: PartialEq,
{
    Memo::new(move |_| {
        let wanted = key(&fallback);
        list(&|item| key(item) == wanted).unwrap_or_else(|| fallback.clone())
    })
}

/// Route `fallback.name` in `routes`, like [`keyed_item`].
pub fn live_route(routes: Memo<Vec<RouteView>>, fallback: RouteView) -> Memo<RouteView> {
    keyed_item(
        move |is| routes.with(|list| list.iter().find(|r| is(r)).cloned()),
        fallback,
        |r| r.name.clone(),
    )
}

/// Target `fallback.url` of `route`, like [`keyed_item`].
pub fn live_target(route: Memo<RouteView>, fallback: TargetView) -> Memo<TargetView> {
    keyed_item(
        move |is| route.with(|r| r.targets.iter().find(|t| is(t)).cloned()),
        fallback,
        |t| t.url.clone(),
    )
}

/// Target `fallback.url` of route `fallback.route` in `routes`, like [`keyed_item`].
pub fn live_target_in(routes: Memo<Vec<RouteView>>, fallback: TargetView) -> Memo<TargetView> {
    keyed_item(
        move |is| {
            routes.with(|list| {
                list.iter()
                    .flat_map(|r| r.targets.iter())
                    .find(|t| is(t))
                    .cloned()
            })
        },
        fallback,
        |t| (t.route.clone(), t.url.clone()),
    )
}

/// Every target of every route, in order.
pub fn all_targets(routes: Memo<Vec<RouteView>>) -> Vec<TargetView> {
    routes.with(|list| {
        list.iter()
            .flat_map(|r| r.targets.iter().cloned())
            .collect()
    })
}
