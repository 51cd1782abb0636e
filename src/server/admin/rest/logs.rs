//! `GET /api/logs`: the gateway's own log lines, newest first, filtered by level and text.

use super::ApiError;
use super::params::Params;
use crate::server::gateway::log_capture::{LOG_LINES, LogRing, level_of};
use crate::views::LogPage;
use axum::Json;
use axum::extract::Query;

/// Lines returned when no limit is given.
const DEFAULT_LIMIT: u64 = 200;

/// `?level=error|warn|info` (that level and more severe; default `info`), `search` (case-
/// insensitive substring of the message or module), `cursor` (the `next_cursor` of the previous
/// page), `limit`.
pub async fn logs(Query(pairs): Query<Vec<(String, String)>>) -> Result<Json<LogPage>, ApiError> {
    log_page(pairs).map(Json)
}

/// The page of log lines for a query string's pairs.
pub fn log_page(pairs: Vec<(String, String)>) -> Result<LogPage, ApiError> {
    let params = Params::new(pairs, &["level", "search", "cursor", "limit"])?;
    let level = params
        .choice("level", &["error", "warn", "info", "debug", "trace"])?
        .and_then(level_of)
        .unwrap_or(tracing::Level::INFO);
    let limit = params
        .number("limit", 1, LOG_LINES as u64)?
        .unwrap_or(DEFAULT_LIMIT) as usize;
    let cursor = params.number("cursor", 0, u64::MAX)?;
    let lines = LogRing::global().query(level, params.text("search"), cursor, limit);
    let next_cursor = (lines.len() == limit)
        .then(|| lines.last().map(|line| line.seq))
        .flatten();
    Ok(LogPage { lines, next_cursor })
}
