//! Alerts over the API:
//!
//! - `GET /api/alerts` (viewer): every rule with its state and value, silences, notifiers;
//! - `GET /api/alerts/history` (viewer): state changes, newest first — `rule`, `severity`,
//!   `state`, `since`, `until` (RFC 3339 or Unix seconds), `cursor`, `limit` (1–1000, 100);
//! - `POST /api/alerts/silences` (admin, audited): `{"rule" | "route", "duration_s",
//!   "comment"}` → 201 with the silence;
//! - `DELETE /api/alerts/silences/{id}` (admin, audited) → 200 with the ended silence, or 404;
//! - `POST /api/alerts/test?notifier=NAME` (admin, audited): sends a test notification, answers
//!   how it went (200 delivered, 502 not), 404 for an unknown notifier.
//!
//! Writes are admin-only and Origin-checked by the guard; each is audited before it answers. A
//! silence costs a row; a test costs one notification with its retries, bounded by the
//! notifier's timeout.

use super::ApiError;
use super::params::Params;
use crate::server::admin::AppState;
use crate::server::admin::audit::NewEntry;
use crate::server::admin::auth::Caller;
use crate::server::admin::auth::guard::ClientAddr;
use crate::server::admin::config_edit::Actor;
use crate::server::alerts::store::{DEFAULT_LIMIT, HistoryQuery, MAX_LIMIT};
use crate::server::gateway::SharedGateway;
use crate::views::{
    AlertHistoryPage, AlertState, AlertsSnapshot, NewSilence, NotificationOutcome, Role,
    SilenceView,
};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;

/// `GET /api/alerts`.
pub async fn list(State(state): State<AppState>) -> Json<AlertsSnapshot> {
    Json(state.gateway.alerts().snapshot())
}

/// `GET /api/alerts/history`.
pub async fn history(
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<AlertHistoryPage>, ApiError> {
    alert_history(&state.gateway, pairs).await.map(Json)
}

/// The page of alert state changes for a query string's pairs.
pub async fn alert_history(
    gateway: &SharedGateway,
    pairs: Vec<(String, String)>,
) -> Result<AlertHistoryPage, ApiError> {
    let params = Params::new(
        pairs,
        &[
            "rule", "severity", "state", "since", "until", "cursor", "limit",
        ],
    )?;
    let state = params
        .choice("state", &["pending", "firing", "resolved", "inactive"])?
        .map(|state| match state {
            "pending" => AlertState::Pending,
            "firing" => AlertState::Firing,
            "resolved" => AlertState::Resolved,
            _ => AlertState::Inactive,
        });
    let query = HistoryQuery {
        rule: params.string("rule"),
        severity: params.string("severity"),
        state,
        since: params.time("since")?,
        until: params.time("until")?,
        before: params.number("cursor", 1, u64::MAX)?,
        limit: params
            .number("limit", 1, MAX_LIMIT as u64)?
            .map_or(DEFAULT_LIMIT, |limit| limit as usize),
    };
    let store = gateway.alerts().store().clone();
    tokio::task::spawn_blocking(move || store.history(&query))
        .await
        .map_err(|error| ApiError::unavailable(error.to_string()))?
        .map_err(ApiError::unavailable)
}

/// The caller as the audit log records them.
fn actor(caller: &Caller, client: Option<&ClientAddr>) -> Actor {
    Actor {
        name: caller.name.clone(),
        role: Some(caller.role),
        client: client.map_or_else(String::new, |ClientAddr(addr)| addr.ip().to_string()),
    }
}

fn admin_only(caller: &Caller) -> Result<(), ApiError> {
    if caller.role == Role::Admin {
        return Ok(());
    }
    Err(ApiError {
        status: StatusCode::FORBIDDEN,
        message: format!("{} has the viewer role; this needs admin", caller.name),
        parameter: None,
    })
}

fn unprocessable(message: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: message.into(),
        parameter: None,
    }
}

/// Writes an audit entry; a write whose entry cannot be stored was still done, so this only
/// logs (the silence itself is in the store already).
async fn audit(state: &AppState, actor: &Actor, action: &str, outcome: &str, summary: String) {
    let entry = NewEntry {
        actor: actor.name.clone(),
        role: actor.role,
        client: actor.client.clone(),
        action: action.to_string(),
        outcome: outcome.to_string(),
        summary: vec![summary],
        ..NewEntry::default()
    };
    let log = state.audit.clone();
    let stored = tokio::task::spawn_blocking(move || log.record(&entry)).await;
    if !matches!(stored, Ok(Ok(_))) {
        tracing::error!(action, actor = actor.name, "audit entry not stored");
    }
}

/// `POST /api/alerts/silences`.
pub async fn silence(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    client: Option<Extension<ClientAddr>>,
    body: Result<Json<NewSilence>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    admin_only(&caller)?;
    let Json(new) = body.map_err(|rejection| ApiError {
        status: rejection.status(),
        message: rejection.body_text(),
        parameter: None,
    })?;
    let actor = actor(&caller, client.as_ref().map(|Extension(c)| c));
    let silence = create_silence(&state, &actor, new).await?;
    Ok((StatusCode::CREATED, Json(silence)))
}

/// Silences a rule or a route for `actor` (checked, stored, audited).
pub async fn create_silence(
    state: &AppState,
    actor: &Actor,
    new: NewSilence,
) -> Result<SilenceView, ApiError> {
    match (&new.rule, &new.route) {
        (Some(rule), None) => {
            if !state.gateway.alerts().rule_names().contains(rule) {
                return Err(unprocessable(format!(
                    "rule: no alert rule is named {rule:?}"
                )));
            }
        }
        (None, Some(route)) => {
            if !state
                .gateway
                .config()
                .routes
                .iter()
                .any(|r| &r.name == route)
            {
                return Err(unprocessable(format!("route: no route is named {route:?}")));
            }
        }
        _ => return Err(unprocessable("give exactly one of rule and route")),
    }
    if new
        .comment
        .as_ref()
        .is_some_and(|comment| comment.len() > 1_000)
    {
        return Err(unprocessable("comment: at most 1000 bytes"));
    }
    let target = match (&new.rule, &new.route) {
        (Some(rule), _) => format!("rule {rule}"),
        (_, Some(route)) => format!("route {route}"),
        _ => String::new(),
    };
    let duration = new.duration_s;
    let gateway = state.gateway.clone();
    let by = actor.name.clone();
    let result = tokio::task::spawn_blocking(move || gateway.alerts().silence(new, &by))
        .await
        .map_err(|error| ApiError::unavailable(error.to_string()))?;
    match result {
        Ok(silence) => {
            tracing::info!(
                silence = silence.id,
                "{target} silenced for {duration}s by {}",
                actor.name
            );
            audit(
                state,
                actor,
                "alerts.silence",
                "ok",
                format!("silenced {target} for {duration}s (silence {})", silence.id),
            )
            .await;
            Ok(silence)
        }
        Err(message) if message.starts_with("duration_s") => Err(unprocessable(message)),
        Err(message) => Err(ApiError::unavailable(message)),
    }
}

/// `DELETE /api/alerts/silences/{id}`.
pub async fn unsilence(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    client: Option<Extension<ClientAddr>>,
    Path(id): Path<String>,
) -> Result<Json<SilenceView>, ApiError> {
    admin_only(&caller)?;
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::bad_parameter("id", "not a silence id"))?;
    let actor = actor(&caller, client.as_ref().map(|Extension(c)| c));
    end_silence(&state, &actor, id).await.map(Json)
}

/// Ends silence `id` for `actor` (audited); 404 if none such is in force.
pub async fn end_silence(
    state: &AppState,
    actor: &Actor,
    id: u64,
) -> Result<SilenceView, ApiError> {
    let gateway = state.gateway.clone();
    let ended = tokio::task::spawn_blocking(move || gateway.alerts().end_silence(id))
        .await
        .map_err(|error| ApiError::unavailable(error.to_string()))?
        .map_err(ApiError::unavailable)?;
    let Some(silence) = ended else {
        return Err(ApiError::not_found(format!("no silence {id} is in force")));
    };
    audit(
        state,
        actor,
        "alerts.unsilence",
        "ok",
        format!("ended silence {id}"),
    )
    .await;
    Ok(silence)
}

/// `POST /api/alerts/test?notifier=NAME`.
pub async fn test(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    client: Option<Extension<ClientAddr>>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<impl IntoResponse, ApiError> {
    admin_only(&caller)?;
    let params = Params::new(pairs, &["notifier"])?;
    let Some(name) = params.string("notifier") else {
        return Err(ApiError::bad_parameter("notifier", "required"));
    };
    let outcome: NotificationOutcome = state
        .gateway
        .alerts()
        .test(&name)
        .await
        .ok_or_else(|| ApiError::not_found(format!("no notifier is named {name:?}")))?;
    let actor = actor(&caller, client.as_ref().map(|Extension(c)| c));
    let result = if outcome.delivered { "ok" } else { "failed" };
    audit(
        &state,
        &actor,
        "alerts.test",
        result,
        format!("test notification through {name}: {result}"),
    )
    .await;
    let status = if outcome.delivered {
        StatusCode::OK
    } else {
        StatusCode::BAD_GATEWAY
    };
    Ok((status, Json(outcome)))
}
