//! `GET /api/audit` (admin only): the audit log, newest first, filtered by actor, action and
//! time, in pages.

use super::ApiError;
use super::params::Params;
use crate::server::admin::AppState;
use crate::server::admin::audit::{AuditQuery, DEFAULT_LIMIT, MAX_LIMIT};
use crate::views::AuditPage;
use axum::Json;
use axum::extract::{Query, State};

/// `?actor=`, `action=`, `since=`, `until=` (RFC 3339 or Unix seconds), `cursor=` (the previous
/// page's `next_cursor`), `limit=` (1–1000, default 100).
pub async fn audit(
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<AuditPage>, ApiError> {
    audit_page(&state, pairs).await.map(Json)
}

/// The page of audit entries for a query string's pairs.
pub async fn audit_page(
    state: &AppState,
    pairs: Vec<(String, String)>,
) -> Result<AuditPage, ApiError> {
    let params = Params::new(
        pairs,
        &["actor", "action", "since", "until", "cursor", "limit"],
    )?;
    let query = AuditQuery {
        actor: params.string("actor"),
        action: params.string("action"),
        since: params.time("since")?,
        until: params.time("until")?,
        before: params.number("cursor", 1, u64::MAX)?,
        limit: params
            .number("limit", 1, MAX_LIMIT as u64)?
            .map_or(DEFAULT_LIMIT, |limit| limit as usize),
    };
    let log = state.audit.clone();
    tokio::task::spawn_blocking(move || log.list(&query))
        .await
        .map_err(|error| ApiError::unavailable(error.to_string()))?
        .map_err(ApiError::unavailable)
}
