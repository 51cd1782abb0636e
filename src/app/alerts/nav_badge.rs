//! The navigation's link to the Alerts page with the number of alerts firing: read with every
//! page on the server (so it is rendered, and a page without JavaScript shows it), then in the
//! browser the newest of that read, the count pushed with each alert change and each second's
//! tick, and the Alerts page's own reads
//! ([`LiveFeed::alerts_firing`](crate::live_feed::LiveFeed)). Hidden while nothing fires.

use crate::app::resource::{BytesJson, page_resource};
use crate::live_feed::{mounted, use_live_feed};
use leptos::prelude::*;
use leptos_router::components::A;

/// The count as read with the page.
type FiringResource = Resource<Result<usize, ServerFnError>, BytesJson>;

/// Reads the count with the page, on the server; only the count travels inside the page.
///
/// Its source never changes, so the browser never reads it again: the pushes keep it current
/// there (each is newer than this read: the socket subscribes after the page was rendered).
/// A read from the browser would put the decoder of the whole alerts snapshot into the main
/// module, which every page loads first. Changes the browser missed while its socket was down
/// show with the first tick after it reconnects.
pub fn provide_firing_count() {
    provide_context::<FiringResource>(page_resource(|| (), |_| read_firing_count()));
}

/// The page's [`FiringResource`].
pub fn use_firing_count() -> FiringResource {
    expect_context::<FiringResource>()
}

#[cfg(feature = "ssr")]
async fn read_firing_count() -> Result<usize, ServerFnError> {
    Ok(crate::api::alerts::get_alerts().await?.firing())
}

/// Never called in the browser (see [`provide_firing_count`]).
#[cfg(not(feature = "ssr"))]
async fn read_firing_count() -> Result<usize, ServerFnError> {
    Err(ServerFnError::new(
        "the count of firing alerts is read with the page",
    ))
}

/// "Alerts" in the navigation, with the badge: `rendered` (the page's read) until the page is
/// on screen, then the newest count the live feed knows, if it knows one.
#[component]
pub fn AlertsNavLink(rendered: usize) -> impl IntoView {
    let live = use_live_feed();
    let mounted = mounted();
    let count = Memo::new(move |_| {
        let known = mounted.get().then(|| live.alerts_firing.get()).flatten();
        known.map_or(rendered, |firing| firing.count)
    });
    view! {
        <A href="/alerts">
            "Alerts"
            // Not there while nothing fires (so the link reads "Alerts", not "Alerts0"); one
            // element built anew on a change, the cheapest for the main module.
            {move || {
                let n = count.get();
                (n > 0).then(|| view! {
                    <span class="nav-badge" data-testid="alerts-badge">{n}</span>
                    <span class="visually-hidden">" firing"</span>
                })
            }}
        </A>
    }
}
