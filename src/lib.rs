//! Gatewatch: a reverse proxy / API gateway with a live monitoring dashboard built in.
//!
//! One crate, two builds:
//! - `ssr`: the `gatewatch` server binary — proxy, server-rendered dashboard, API ([`server`]).
//! - `hydrate`: the WASM client that hydrates the dashboard in the browser ([`hydrate`]).
//!
//! Shared by both: the dashboard components ([`app`]), the plain serde view types ([`views`]),
//! the server functions ([`api`]) and the client side of the live event socket ([`live`]).

// The dashboard's view types nest deeply (a chart inside a page inside a lazily loaded route).
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod config_form;
pub mod diff;
pub mod live_feed;
pub mod request_filter;
pub mod views;

#[cfg(feature = "ssr")]
pub mod server;

/// Entry point of the WASM client: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Pages are lazily loaded chunks (see `app::pages`): hydration waits for the current page's
    // chunk, so it runs as a task.
    let Some(body) = leptos::prelude::document().body() else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        let app = leptos::mount::hydrate_from_async(body.clone(), app::App).await;
        // The app lives as long as the page.
        app.forget();
        // A marker for tests and tools: the WASM ran and the page is interactive.
        let _ = body.set_attribute("data-hydrated", "true");
    });
}

/// Slack in the WASM client's read-only data, so that `cargo leptos --split` can split it.
///
/// The splitter moves each constant (strings, tables) into the chunk of the page that uses it,
/// re-laid out per chunk with alignment padding; when the re-laid segment comes out longer than
/// the linked one, it gives up and keeps every constant in the main module (+17 KB brotli that
/// every page downloads first). These bytes are kept by the linker (`#[used]`) but used by no
/// code, so the splitter drops them and their room absorbs the padding.
#[cfg(feature = "hydrate")]
#[used]
static SPLIT_DATA_SLACK: [u8; 2048] = [0x5a; 2048];
