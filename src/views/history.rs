//! The health of the request history database, as the API and the dashboard show it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How the history store is doing. History failing never stops the proxy: it only shows here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryStatus {
    /// The SQLite file.
    pub path: String,
    /// Whether the last write (or retention pass) succeeded and the writer is running.
    pub healthy: bool,
    /// The most recent write error. Kept after recovery so operators can see what happened;
    /// `healthy` says whether it is still current.
    pub last_error: Option<String>,
    /// When `last_error` happened.
    pub last_error_at: Option<DateTime<Utc>>,
    /// Request rows stored since start.
    pub rows_written: u64,
    /// Batches lost since start: the writer's queue was full, or writing them failed.
    pub batches_dropped: u64,
    /// Request rows lost since start (in dropped batches, or refused one by one, e.g. a
    /// duplicate `seq`).
    pub rows_dropped: u64,
    /// How long rows and rollups are kept, in days.
    pub retention_days: f64,
    /// The file's size on disk with its write-ahead log, as last measured (after each write).
    #[serde(default)]
    pub bytes: u64,
    /// `history.max_bytes`: beyond it the oldest requests are deleted.
    #[serde(default)]
    pub max_bytes: u64,
    /// Requests deleted since start to keep the file within `max_bytes` (before their age).
    #[serde(default)]
    pub rows_deleted_for_size: u64,
}
