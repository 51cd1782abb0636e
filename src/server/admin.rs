//! The admin plane: everything served on `dashboard.listen`, never on the proxy's listener.
//!
//! - [`router`] (here): server-rendered pages, server functions, the live socket, the REST API
//!   and the site's static files (WASM, CSS, assets), over one [`AppState`], all behind
//!   [`auth::guard`], answers compressed for clients that accept it (pages, JSON, CSV exports,
//!   `/metrics`; the site's precompressed files go as they are);
//! - [`auth`]: hosts, origins, accounts, tokens, roles, sessions, sign-in;
//! - [`audit`]: the audit log of sign-ins and admin writes;
//! - [`rest`]: `/metrics` and the JSON API under `/api`;
//! - [`live_socket`]: the `/api/live` WebSocket and the 1 Hz uptime ticker;
//! - [`config_edit`]: the Config page's check, atomic write with versions, apply and rollback;
//! - [`page_render`]: every page rendered in full within a deadline, rendered again if it stalls;
//! - [`site`]: where the built site (WASM, CSS, assets) is.

pub mod audit;
pub mod auth;
pub mod config_edit;
pub mod live_socket;
mod page_render;
pub mod rest;
pub mod site;

pub use rest::{ApiError, audit_page, find_request, log_page, period_stats, request_page};

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
use leptos_axum::{LeptosRoutes, file_and_error_handler_with_context, generate_route_list};
use live_socket::live_socket;
use site::{SITE_BUILD_HEADER, SITE_PKG_DIR, site_build};
use std::sync::Arc;
use tower_http::compression::CompressionLayer;

/// Builds the dashboard router over `state`.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let gateway = state.gateway.clone();
    let options = state.leptos_options.clone();
    let site_files = format!("/{SITE_PKG_DIR}/");
    let site_build = HeaderValue::from_str(&site_build(std::path::Path::new(&*options.site_root)))
        .unwrap_or_else(|_| HeaderValue::from_static("none"));
    // What every server render is given: the gateway, and what the guard found out about the
    // request (pages, server functions and the not-found page alike).
    let page_context = move || {
        provide_context(gateway.clone());
        provide_request_context();
    };
    let pages = Router::new()
        .leptos_routes_with_context(&state, routes, page_context.clone(), move || {
            shell(options.clone())
        })
        .layer(middleware::from_fn(page_render::within_deadline));
    Router::new()
        .route(LIVE_SOCKET_PATH, get(live_socket))
        .merge(rest::router())
        .merge(auth::login::router())
        .merge(pages)
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            page_context,
            shell,
        ))
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
        // Inside the guard, outside everything else: tower-http leaves answers already encoded
        // (the site's precompressed files), event streams, images and tiny bodies alone, and the
        // live socket's 101 has no body to compress.
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::guard::guard,
        ))
        .with_state(state)
}

/// Gives pages and server functions what the guard found out about their request: the caller
/// and the CSP nonce (which Leptos puts on the scripts it writes into the page).
fn provide_request_context() {
    let Some(parts) = leptos::prelude::use_context::<axum::http::request::Parts>() else {
        return;
    };
    if let Some(caller) = parts.extensions.get::<auth::Caller>() {
        provide_context(caller.clone());
    }
    if let Some(nonce) = parts.extensions.get::<auth::guard::CspNonce>() {
        provide_context(leptos::nonce::Nonce::from_value(nonce.0.clone()));
    }
    if let Some(client) = parts.extensions.get::<auth::guard::ClientAddr>() {
        provide_context(*client);
    }
}

/// The state given to the dashboard router.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// Where the site (WASM, CSS, assets) is and how pages are rendered.
    pub leptos_options: LeptosOptions,
    /// The gateway.
    pub gateway: SharedGateway,
    /// Sessions, the sign-in throttle and password checks.
    pub auth: Arc<auth::AuthState>,
    /// The audit log.
    pub audit: Arc<audit::AuditLog>,
    /// Clients holding `/api/live` open.
    pub live_clients: Arc<live_socket::LiveClients>,
}
