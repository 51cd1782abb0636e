//! The dashboard's pages as lazily loaded routes: with `cargo leptos build --split`, each page's
//! code is a separate WASM chunk that the browser fetches when the page is first shown (the
//! server names the current page's chunk in the HTML, so it loads beside the main module), and
//! the main module holds only the frame every page shares: router, reactive system, live feed.
//!
//! A page's data is read inside its component (its server-rendered resources hydrate as before),
//! so `data()` is empty.

use super::{
    AlertsPage, ConfigPage, LogsPage, ModelsPage, OverviewPage, RequestDetailPage, RequestsPage,
    RoutesPage,
};
use leptos::prelude::*;
use leptos_router::{LazyRoute, lazy_route};

/// `lazy_page!(Route, Page, "doc")`: the route type `Route` whose lazily loaded view is `Page`.
/// (`#[lazy_route]` names the chunk after `Route`, so every page gets its own.)
macro_rules! lazy_page {
    ($route:ident, $page:ident, $doc:literal) => {
        #[doc = $doc]
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page /> }.into_any()
            }
        }
    };
}

lazy_page!(OverviewRoute, OverviewPage, "`/`");
lazy_page!(RequestsRoute, RequestsPage, "`/requests`");
lazy_page!(RequestDetailRoute, RequestDetailPage, "`/requests/:id`");
lazy_page!(RoutesRoute, RoutesPage, "`/routes`");
lazy_page!(ModelsRoute, ModelsPage, "`/models`");
lazy_page!(LogsRoute, LogsPage, "`/logs`");
lazy_page!(AlertsRoute, AlertsPage, "`/alerts`");
lazy_page!(ConfigRoute, ConfigPage, "`/config`");
