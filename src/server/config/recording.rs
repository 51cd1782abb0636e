//! `metrics` and `history`: whether requests are recorded, and where and for how long their
//! history is kept.

use super::FieldErrors;
use schemars::JsonSchema;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The history database's file name when `history.path` is not given (beside the config).
pub const DEFAULT_HISTORY_FILE: &str = "gatewatch.db";
/// How long history is kept when `history.retention_days` is not given.
pub const DEFAULT_RETENTION_DAYS: u32 = 7;
/// The longest retention accepted.
pub const MAX_RETENTION_DAYS: u32 = 3_650;

/// `metrics` as written.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct FileMetrics {
    /// Record every proxied request. false: the proxy records nothing per request (no metrics,
    /// no history, no live request log). Default true.
    #[schemars(extend("default" = true))]
    pub enabled: Option<bool>,
    /// Keep the request and response headers of the newest 2000 requests in memory for the
    /// request detail view, secrets (Authorization, Proxy-Authorization, Cookie, Set-Cookie,
    /// anything named *-key, *token*, *secret*, *password*, *session*; the query string and user
    /// info of Location, Referer and Origin URLs) redacted whenever shown. Never written to the
    /// history. Costs up to 5% of proxy throughput. Default true.
    #[schemars(extend("default" = true))]
    pub capture_headers: Option<bool>,
}

/// `history` as written.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct FileHistory {
    /// Keep the history on disk. false: requests are kept in memory only, and /api/stats answers
    /// 503. Default true.
    #[schemars(extend("default" = true))]
    pub enabled: Option<bool>,
    /// The SQLite file, relative to the config file's directory unless absolute; must not be
    /// empty or end with "/". Default "gatewatch.db" beside the config file.
    #[schemars(
        regex(pattern = r"^(?=.*\S).*[^/]$"),
        extend(
            "default" = DEFAULT_HISTORY_FILE,
            "examples" = ["gatewatch.db", "data/history.db", "/var/lib/gatewatch/history.db"]
        )
    )]
    pub path: Option<String>,
    /// Days requests and rollups are kept before they are deleted (1 to 3650). Default 7.
    #[schemars(
        range(min = 1, max = MAX_RETENTION_DAYS),
        extend("default" = DEFAULT_RETENTION_DAYS)
    )]
    pub retention_days: Option<u32>,
    /// Most bytes the history file may take (1 MiB to 16 TiB): beyond it the oldest requests
    /// are deleted first, as if they had aged out. Default 10737418240 (10 GiB).
    #[schemars(
        range(min = MIN_HISTORY_BYTES, max = MAX_HISTORY_BYTES),
        extend("default" = DEFAULT_HISTORY_MAX_BYTES)
    )]
    pub max_bytes: Option<u64>,
}

/// The history file's size bound when `history.max_bytes` is not given (10 GiB).
pub const DEFAULT_HISTORY_MAX_BYTES: u64 = 10 << 30;
/// The smallest `history.max_bytes` accepted (1 MiB).
pub const MIN_HISTORY_BYTES: u64 = 1 << 20;
/// The largest `history.max_bytes` accepted (16 TiB).
pub const MAX_HISTORY_BYTES: u64 = 16 << 40;

/// Whether the proxy records its requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Off: the proxy reports nothing per request (no metrics, no history, no live log).
    pub enabled: bool,
    /// Off: the request detail view shows no headers (the proxy does not copy them).
    pub capture_headers: bool,
}

/// The request history database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryConfig {
    /// Off: requests are kept in memory only.
    pub enabled: bool,
    /// The SQLite file (relative paths resolve beside the config file).
    pub path: PathBuf,
    /// Rows older than this are deleted.
    pub retention: Duration,
    /// Beyond this size the oldest rows are deleted.
    pub max_bytes: u64,
}

/// Validates `metrics`.
pub fn validate_metrics(file: Option<FileMetrics>) -> MetricsConfig {
    let file = file.unwrap_or_default();
    MetricsConfig {
        enabled: file.enabled.unwrap_or(true),
        capture_headers: file.capture_headers.unwrap_or(true),
    }
}

/// Validates `history`; `base` is the config file's directory.
pub fn validate_history(
    file: Option<FileHistory>,
    base: &Path,
    errors: &mut FieldErrors,
) -> HistoryConfig {
    let file = file.unwrap_or_default();
    let path = match file.path.as_deref() {
        None => base.join(DEFAULT_HISTORY_FILE),
        Some(path) => {
            if path.trim().is_empty() || path.ends_with('/') {
                errors.push("history.path", format!("not a file path: {path:?}"));
            }
            base.join(path)
        }
    };
    let days = file.retention_days.unwrap_or(DEFAULT_RETENTION_DAYS);
    if !(1..=MAX_RETENTION_DAYS).contains(&days) {
        errors.push(
            "history.retention_days",
            format!("must be between 1 and {MAX_RETENTION_DAYS} days, got {days}"),
        );
    }
    let max_bytes = file.max_bytes.unwrap_or(DEFAULT_HISTORY_MAX_BYTES);
    if !(MIN_HISTORY_BYTES..=MAX_HISTORY_BYTES).contains(&max_bytes) {
        errors.push(
            "history.max_bytes",
            format!(
                "must be from {MIN_HISTORY_BYTES} to {MAX_HISTORY_BYTES} bytes, got {max_bytes}"
            ),
        );
    }
    HistoryConfig {
        enabled: file.enabled.unwrap_or(true),
        path,
        retention: Duration::from_secs(u64::from(days) * 86_400),
        max_bytes,
    }
}
