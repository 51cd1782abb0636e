//! Who is signed in, and the audit log (admin only) for the Config page.

use crate::views::{AuditPage, SessionView};
use leptos::prelude::*;

/// The caller: name, role, whether the dashboard has accounts.
#[server(prefix = "/api/fn", endpoint = "session")]
pub async fn get_session() -> Result<SessionView, ServerFnError> {
    let config = super::adapter::gateway().config();
    let exposed = config.dashboard.allow_unauthenticated
        && !config.auth.has_accounts()
        && !config.dashboard.listen.ip().is_loopback();
    Ok(super::adapter::caller().view(exposed))
}

/// The newest audit entries (admin only), with the query string's filters.
#[server(prefix = "/api/fn", endpoint = "audit")]
pub async fn get_audit(query: String) -> Result<AuditPage, ServerFnError> {
    use super::adapter::{admin, failed, pairs, state};
    admin()?;
    let pairs = pairs(&query)?;
    crate::server::admin::audit_page(&state(), pairs)
        .await
        .map_err(failed)
}
