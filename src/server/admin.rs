//! The admin plane: everything served on `dashboard.listen`, never on the proxy's listener.
//!
//! - [`router`] (here): server-rendered pages, server functions, the live socket, the REST API
//!   and the site's static files (WASM, CSS, assets), over one [`AppState`];
//! - [`rest`]: `/metrics` and the JSON API under `/api`;
//! - [`live_socket`]: the `/api/live` WebSocket and the 1 Hz uptime ticker;
//! - [`config_edit`]: the Config page's check, atomic write with versions, apply and rollback;
//! - [`page_render`]: every page rendered in full within a deadline, rendered again if it stalls;
//! - [`site`]: where the built site (WASM, CSS, assets) is.

pub mod config_edit;
pub mod live_socket;
mod page_render;
pub mod rest;
pub mod site;

pub use rest::{ApiError, find_request, log_page, period_stats, request_page};

use crate::app::{App, shell};
use crate::live_feed::LIVE_SOCKET_PATH;
use crate::server::gateway::SharedGateway;
use axum::Router;
use axum::extract::FromRef;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::routing::get;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, file_and_error_handler, generate_route_list};
use live_socket::live_socket;
use site::{SITE_BUILD_HEADER, SITE_PKG_DIR, site_build};

/// Builds the dashboard router over `state`.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let gateway = state.gateway.clone();
    let options = state.leptos_options.clone();
    let site_files = format!("/{SITE_PKG_DIR}/");
    let site_build = HeaderValue::from_str(&site_build(std::path::Path::new(&*options.site_root)))
        .unwrap_or_else(|_| HeaderValue::from_static("none"));
    let pages = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(gateway.clone()),
            move || shell(options.clone()),
        )
        .layer(middleware::from_fn(page_render::within_deadline));
    Router::new()
        .route(LIVE_SOCKET_PATH, get(live_socket))
        .merge(rest::router())
        .merge(pages)
        .fallback(file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let is_site_file = request.uri().path().starts_with(&site_files);
            let site_build = site_build.clone();
            async move {
                let mut response = next.run(request).await;
                if is_site_file {
                    response
                        .headers_mut()
                        .insert(HeaderName::from_static(SITE_BUILD_HEADER), site_build);
                }
                response
            }
        }))
        .with_state(state)
}

/// The state given to the dashboard router.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// Where the site (WASM, CSS, assets) is and how pages are rendered.
    pub leptos_options: LeptosOptions,
    /// The gateway.
    pub gateway: SharedGateway,
}
