//! The dashboard application: the HTML shell, the router, and the page frame around every page.

pub mod alerts;
pub mod chart;
pub mod config;
pub mod config_form;
pub mod format;
pub mod health_grid;
pub mod live_routes;
pub mod logs;
pub mod models;
pub mod overview;
pub mod page_data;
pub mod pages;
pub mod query_string;
pub mod requests;
pub mod resource;
pub mod routes;
pub mod running_config;
pub mod session;
pub mod theme;
pub mod widgets;

use crate::live_feed::{LiveFeed, use_live_feed};
use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    Lazy, SsrMode,
    components::{A, Route, Router, Routes},
    path,
};
use pages::{
    AlertsRoute, ConfigRoute, LogsRoute, ModelsRoute, OverviewRoute, RequestDetailRoute,
    RequestsRoute, RoutesRoute,
};

pub use alerts::AlertsPage;
pub use config::ConfigPage;
pub use logs::LogsPage;
pub use models::ModelsPage;
pub use overview::OverviewPage;
pub use requests::{RequestDetailPage, RequestsPage};
pub use routes::RoutesPage;
pub use theme::ThemeToggle;

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                // Applies the remembered theme before first paint (no flash).
                <script src="/theme-init.js"></script>
                // Retries WASM fetches while the dashboard is unreachable (before the client loads).
                <script src="/wasm-fetch.js"></script>
                <noscript>
                    // Without JavaScript the page still shows current data: it reloads itself.
                    <meta http-equiv="refresh" content="5" />
                    <style nonce=leptos::nonce::use_nonce()>".needs-js { display: none !important; }"</style>
                </noscript>
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The dashboard: page frame, navigation and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    LiveFeed::provide();
    session::provide_session();
    alerts::nav_badge::provide_firing_count();

    view! {
        <Stylesheet id="leptos" href="/pkg/gatewatch.css" />
        <Title text="Gatewatch" />
        <Router>
            // target=_self: the browser, not the router, follows it, so the focus moves too.
            <a class="skip-link" href="#main" target="_self">"Skip to content"</a>
            <TopBar />
            <main class="content" id="main" tabindex="-1">
                <session::ExposureBanner />
                <Routes fallback=NotFound>
                    <Route path=path!("/") view={Lazy::<OverviewRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/requests") view={Lazy::<RequestsRoute>::new()} ssr=SsrMode::Async />
                    <Route
                        path=path!("/requests/:id")
                        view={Lazy::<RequestDetailRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/routes") view={Lazy::<RoutesRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/models") view={Lazy::<ModelsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/logs") view={Lazy::<LogsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/alerts") view={Lazy::<AlertsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/config") view={Lazy::<ConfigRoute>::new()} ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}

/// The top bar: brand, navigation (with the count of firing alerts), live state, who is signed
/// in, theme. Drawn once both reads it shows are in (they are made with the page, so the server
/// renders it whole); one boundary for the two, as each boundary costs the main module code.
#[component]
fn TopBar() -> impl IntoView {
    let session = session::use_session();
    let firing = alerts::nav_badge::use_firing_count();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let session = session.await.ok();
                // Not read (alerts unavailable): shown as none firing until a change is pushed.
                let firing = firing.await.unwrap_or(0);
                view! {
                    <header class="topbar">
                        <a class="brand" href="/">
                            <span class="brand-mark" aria-hidden="true"></span>
                            "Gatewatch"
                        </a>
                        <nav class="nav" aria-label="Main">
                            <A href="/" exact=true>"Overview"</A>
                            <A href="/requests">"Requests"</A>
                            <A href="/routes">"Routes & backends"</A>
                            <A href="/models">"Models"</A>
                            <A href="/logs">"Logs"</A>
                            <alerts::nav_badge::AlertsNavLink rendered=firing />
                            <A href="/config">"Config"</A>
                        </nav>
                        <div class="topbar-end">
                            <LiveIndicator />
                            <noscript>
                                <span class="badge" data-testid="static-notice">
                                    "JavaScript off · refreshing every 5 s"
                                </span>
                            </noscript>
                            <session::SessionBadge session />
                            <ThemeToggle />
                        </div>
                    </header>
                }
            })}
        </Suspense>
    }
}

/// Shows whether live updates are flowing (hidden when JavaScript is off).
#[component]
fn LiveIndicator() -> impl IntoView {
    let state = use_live_feed().state;
    view! {
        <span
            class="badge live-indicator needs-js"
            data-testid="live-status"
            data-state=move || state.get().label()
            role="status"
        >
            <span class="dot" aria-hidden="true"></span>
            {move || state.get().label()}
        </span>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="page">
            <h1>"Page not found"</h1>
            <p>"There is no dashboard page at this address. " <a href="/">"Go to the overview"</a></p>
        </section>
    }
}
