//! The dashboard listener's router: server-rendered pages, server functions, the live socket, the
//! admin API (`/api/*`, `/metrics`) and the site's static files (WASM, CSS, assets).

use crate::app::{App, shell};
use crate::live::LIVE_SOCKET_PATH;
use crate::server::admin;
use crate::server::live::live_socket;
use crate::server::site::{SITE_BUILD_HEADER, SITE_PKG_DIR, site_build};
use crate::server::state::AppState;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::routing::get;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, file_and_error_handler, generate_route_list};

/// Builds the dashboard router over `state`.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let gateway = state.gateway.clone();
    let options = state.leptos_options.clone();
    let site_files = format!("/{SITE_PKG_DIR}/");
    let site_build = HeaderValue::from_str(&site_build(std::path::Path::new(&*options.site_root)))
        .unwrap_or_else(|_| HeaderValue::from_static("none"));
    Router::new()
        .route(LIVE_SOCKET_PATH, get(live_socket))
        .merge(admin::router())
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(gateway.clone()),
            move || shell(options.clone()),
        )
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
