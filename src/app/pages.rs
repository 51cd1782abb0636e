//! The dashboard's pages as lazily loaded routes: with `cargo leptos build --split`, each page's
//! code is a separate WASM chunk that the browser fetches when the page is first shown (the
//! server names the current page's chunk in the HTML, so it loads beside the main module), and
//! the main module holds only the frame every page shares: router, reactive system, live feed.
//!
//! A page's data is read inside its component (its server-rendered resources hydrate as before),
//! so `data()` is empty.

use super::{
    ConfigPage, LogsPage, ModelsPage, OverviewPage, RequestDetailPage, RequestsPage, RoutesPage,
};
use leptos::prelude::*;
use leptos_router::{LazyRoute, lazy_route};

/// `/`
pub struct OverviewRoute;

#[lazy_route]
impl LazyRoute for OverviewRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <OverviewPage /> }.into_any()
    }
}

/// `/requests`
pub struct RequestsRoute;

#[lazy_route]
impl LazyRoute for RequestsRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <RequestsPage /> }.into_any()
    }
}

/// `/requests/:id`
pub struct RequestDetailRoute;

#[lazy_route]
impl LazyRoute for RequestDetailRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <RequestDetailPage /> }.into_any()
    }
}

/// `/routes`
pub struct RoutesRoute;

#[lazy_route]
impl LazyRoute for RoutesRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <RoutesPage /> }.into_any()
    }
}

/// `/models`
pub struct ModelsRoute;

#[lazy_route]
impl LazyRoute for ModelsRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <ModelsPage /> }.into_any()
    }
}

/// `/logs`
pub struct LogsRoute;

#[lazy_route]
impl LazyRoute for LogsRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <LogsPage /> }.into_any()
    }
}

/// `/config`
pub struct ConfigRoute;

#[lazy_route]
impl LazyRoute for ConfigRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <ConfigPage /> }.into_any()
    }
}
