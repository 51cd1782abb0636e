//! The dashboard listener's router: server-rendered pages, server functions, the live socket, the
//! admin API (`/api/*`, `/metrics`) and the site's static files (WASM, CSS, assets).

use crate::app::{App, shell};
use crate::live::LIVE_SOCKET_PATH;
use crate::server::admin;
use crate::server::live::live_socket;
use crate::server::state::AppState;
use axum::Router;
use axum::routing::get;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, file_and_error_handler, generate_route_list};

/// Builds the dashboard router over `state`.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let gateway = state.gateway.clone();
    let options = state.leptos_options.clone();
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
        .with_state(state)
}
