//! Who is signed in: one resource per page load (read on the server while the page renders),
//! shared by the top bar's badge and sign-out, the banner of a dashboard open to the network
//! without accounts, and the Config page's read-only mode for viewers.

use crate::api::audit::get_session;
use crate::app::resource::{BytesJson, page_resource};
use crate::views::SessionView;
use leptos::prelude::*;

/// The caller, as the server saw them.
pub type SessionResource = Resource<Result<SessionView, ServerFnError>, BytesJson>;

/// Reads the caller once for the whole page.
pub fn provide_session() {
    provide_context::<SessionResource>(page_resource(|| (), |_| get_session()));
}

/// The page's [`SessionResource`].
pub fn use_session() -> SessionResource {
    expect_context::<SessionResource>()
}

/// The signed-in user and role, with a sign-out button (nothing without accounts, or when the
/// caller could not be read). Signing out is a form POST, so it works with JavaScript off too.
/// The top bar (in `app.rs`) reads the session and passes it in.
#[component]
pub fn SessionBadge(session: Option<SessionView>) -> impl IntoView {
    let name = session.as_ref().and_then(|s| s.name.clone())?;
    let role = session.map_or("viewer", |s| s.role.as_str());
    Some(view! {
        <span class="session">
            <span class="badge" data-testid="session-user" title="Signed in">
                {format!("{name} · {role}")}
            </span>
            <form method="post" action="/logout">
                <button type="submit" class="button small" data-testid="logout">"Sign out"</button>
            </form>
        </span>
    })
}

/// A warning on every page while `dashboard.allow_unauthenticated` exposes the dashboard.
#[component]
pub fn ExposureBanner() -> impl IntoView {
    let session = use_session();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                session.await.ok().filter(|s| s.unauthenticated_exposed).map(|_| view! {
                    <p class="banner banner-bad" role="alert" data-testid="unauthenticated-banner">
                        "This dashboard is reachable from the network without sign-in "
                        "(dashboard.allow_unauthenticated): anyone who can reach it can change the gateway. "
                        "Configure auth in config.json."
                    </p>
                })
            })}
        </Suspense>
    }
}
