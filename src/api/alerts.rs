//! Alerts: every rule's state, the history of state changes, and silences (admins only).

use crate::views::{AlertHistoryPage, AlertsSnapshot, NewSilence, SilenceView};
use leptos::prelude::*;

/// Every rule with its current state and value, the silences in force, the notifiers.
#[server(prefix = "/api/fn", endpoint = "alerts")]
pub async fn get_alerts() -> Result<AlertsSnapshot, ServerFnError> {
    Ok(super::adapter::gateway().alerts().snapshot())
}

/// A page of alert state changes for the query string (`rule`, `severity`, `state`, `since`,
/// `until`, `cursor`, `limit`), newest first.
#[server(prefix = "/api/fn", endpoint = "alerts/history")]
pub async fn get_alert_history(query: String) -> Result<AlertHistoryPage, ServerFnError> {
    use super::adapter::{failed, gateway, pairs};
    crate::server::admin::rest::alert_history(&gateway(), pairs(&query)?)
        .await
        .map_err(failed)
}

/// Silences a rule or every rule of a route (admins only; audited).
#[server(prefix = "/api/fn", endpoint = "alerts/silence")]
pub async fn create_silence(silence: NewSilence) -> Result<SilenceView, ServerFnError> {
    use super::adapter::{actor, admin, failed, state};
    let caller = admin()?;
    crate::server::admin::rest::create_silence(&state(), &actor(&caller), silence)
        .await
        .map_err(failed)
}

/// Ends silence `id` (admins only; audited).
#[server(prefix = "/api/fn", endpoint = "alerts/unsilence")]
pub async fn end_silence(id: u64) -> Result<(), ServerFnError> {
    use super::adapter::{actor, admin, failed, state};
    let caller = admin()?;
    crate::server::admin::rest::end_silence(&state(), &actor(&caller), id)
        .await
        .map(|_| ())
        .map_err(failed)
}
