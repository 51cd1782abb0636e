//! The config page: read `config.json` and the running config, check an edit, apply it, and
//! review and roll back to a saved version.

use crate::views::{ConfigApplied, ConfigCheck, ConfigDocument};
use leptos::prelude::*;

/// The config file as it is on disk, with its saved versions.
#[server(prefix = "/api/fn", endpoint = "config")]
pub async fn get_config() -> Result<ConfigDocument, ServerFnError> {
    let state = super::adapter::state();
    let path = state.gateway.config_path().to_path_buf();
    let running = state.gateway.config().source.clone();
    let audit = state.audit.clone();
    tokio::task::spawn_blocking(move || {
        crate::server::admin::config_edit::document(&path, &running, &audit)
    })
    .await?
    .map_err(|error| ServerFnError::new(format!("cannot read the config file: {error}")))
}

/// Validates `text` and diffs it against the file; changes nothing (admin only).
#[server(prefix = "/api/fn", endpoint = "config/check")]
pub async fn check_config(text: String) -> Result<ConfigCheck, ServerFnError> {
    super::adapter::admin()?;
    let path = super::adapter::gateway().config_path().to_path_buf();
    Ok(
        tokio::task::spawn_blocking(move || crate::server::admin::config_edit::check(&path, &text))
            .await?,
    )
}

/// Writes `text` to the config file (if valid) and applies it (admin only; audited).
#[server(prefix = "/api/fn", endpoint = "config/apply")]
pub async fn apply_config(text: String) -> Result<ConfigApplied, ServerFnError> {
    use crate::server::admin::config_edit::{self, Change};
    let caller = super::adapter::admin()?;
    let state = super::adapter::state();
    let actor = super::adapter::actor(&caller);
    config_edit::apply(&state.gateway, &state.audit, actor, Change::Apply, text)
        .await
        .map_err(|error| ServerFnError::new(format!("cannot write the config file: {error}")))
}

/// The text of saved version `id`, to review (diff) before rolling back to it.
#[server(prefix = "/api/fn", endpoint = "config/version")]
pub async fn get_config_version(id: String) -> Result<String, ServerFnError> {
    let path = super::adapter::gateway().config_path().to_path_buf();
    tokio::task::spawn_blocking(move || crate::server::admin::config_edit::read_version(&path, &id))
        .await?
        .map_err(|error| ServerFnError::new(format!("cannot read that version: {error}")))
}

/// Makes saved version `id` the config again (the current content is saved as a version too;
/// admin only; audited).
#[server(prefix = "/api/fn", endpoint = "config/rollback")]
pub async fn rollback_config(id: String) -> Result<ConfigApplied, ServerFnError> {
    use crate::server::admin::config_edit::{self, Change};
    let caller = super::adapter::admin()?;
    let state = super::adapter::state();
    let gateway = state.gateway.clone();
    let path = gateway.config_path().to_path_buf();
    let text = tokio::task::spawn_blocking(move || {
        crate::server::admin::config_edit::read_version(&path, &id)
    })
    .await?
    .map_err(|error| ServerFnError::new(format!("cannot read that version: {error}")))?;
    let actor = super::adapter::actor(&caller);
    config_edit::apply(&gateway, &state.audit, actor, Change::Rollback, text)
        .await
        .map_err(|error| ServerFnError::new(format!("cannot write the config file: {error}")))
}
