//! Gatewatch: a reverse proxy / API gateway with a live monitoring dashboard built in.
//!
//! One crate, two builds:
//! - `ssr`: the `gatewatch` server binary — proxy, server-rendered dashboard, API ([`server`]).
//! - `hydrate`: the WASM client that hydrates the dashboard in the browser ([`hydrate`]).
//!
//! Shared by both: the dashboard components ([`app`]), the plain serde view types ([`views`]),
//! the server functions ([`api`]) and the client side of the live event socket ([`live`]).

pub mod api;
pub mod app;
pub mod config_form;
pub mod diff;
pub mod live;
pub mod query;
pub mod views;

#[cfg(feature = "ssr")]
pub mod server;

/// Entry point of the WASM client: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // A marker for tests and tools: the WASM ran and the page is interactive.
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
