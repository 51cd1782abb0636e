//! What the history reports about itself: counters, whether writes currently fail, and logging of
//! failures at a bounded rate (a full disk fails every batch; the log gets one line per
//! [`REPORT_EVERY`], with the count of failures in between).

use crate::views::HistoryStatus;
use chrono::{DateTime, Utc};
use std::fmt::Display;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The least time between two log lines about the same kind of trouble.
pub const REPORT_EVERY: Duration = Duration::from_secs(30);

/// Counters and error state shared by the writer thread, `submit` and `status`.
#[derive(Default)]
pub struct Health {
    rows_written: AtomicU64,
    batches_dropped: AtomicU64,
    rows_dropped: AtomicU64,
    rows_deleted_for_size: AtomicU64,
    bytes: AtomicU64,
    writer_running: AtomicBool,
    queue_full_reported: RateLimit,
    refused_reported: RateLimit,
    failures: Mutex<Failures>,
}

#[derive(Default)]
struct Failures {
    /// Whether the last write failed.
    failing: bool,
    last_error: Option<(String, DateTime<Utc>)>,
    last_report: Option<Instant>,
    /// Failures not logged since `last_report`.
    unreported: u64,
    last_recovery_report: Option<Instant>,
}

impl Health {
    pub fn set_writer_running(&self, running: bool) {
        self.writer_running.store(running, Ordering::Release);
    }

    /// `rows` were stored.
    pub fn written(&self, rows: u64) {
        self.rows_written.fetch_add(rows, Ordering::Relaxed);
    }

    /// `rows` of the oldest requests were deleted to keep the file within `history.max_bytes`.
    pub fn deleted_for_size(&self, rows: u64) {
        self.rows_deleted_for_size
            .fetch_add(rows, Ordering::Relaxed);
    }

    /// The file (with its WAL) takes `bytes` on disk.
    pub fn measured(&self, bytes: u64) {
        self.bytes.store(bytes, Ordering::Relaxed);
    }

    /// Single rows were refused (a `seq` already stored, or one too large for SQLite).
    pub fn rows_refused(&self, path: &Path, rows: u64) {
        self.rows_dropped.fetch_add(rows, Ordering::Relaxed);
        if self.refused_reported.due() {
            tracing::warn!(
                path = %path.display(),
                rows,
                "history refused rows whose seq is already stored or above i64::MAX"
            );
        }
    }

    /// `submit` found the writer's queue full (or the writer gone): the batch is lost.
    pub fn queue_full(&self, path: &Path, rows: u64) {
        self.batches_dropped.fetch_add(1, Ordering::Relaxed);
        self.rows_dropped.fetch_add(rows, Ordering::Relaxed);
        if self.queue_full_reported.due() {
            tracing::warn!(
                path = %path.display(),
                batches_dropped = self.batches_dropped.load(Ordering::Relaxed),
                "history writer is behind or stopped: dropping request batches"
            );
        }
    }

    /// A write (of `batches` batches, `rows` rows) or a retention pass failed with `error`.
    pub fn write_failed(
        &self,
        path: &Path,
        what: &str,
        error: &dyn Display,
        batches: u64,
        rows: u64,
    ) {
        self.batches_dropped.fetch_add(batches, Ordering::Relaxed);
        self.rows_dropped.fetch_add(rows, Ordering::Relaxed);
        let message = format!("{what}: {error}");
        let mut failures = self.lock();
        failures.failing = true;
        failures.last_error = Some((message.clone(), Utc::now()));
        let due = failures
            .last_report
            .is_none_or(|at| at.elapsed() >= REPORT_EVERY);
        if due {
            tracing::error!(
                path = %path.display(),
                unreported_failures = failures.unreported,
                "history degraded (the proxy is not affected): {message}"
            );
            failures.last_report = Some(Instant::now());
            failures.unreported = 0;
        } else {
            failures.unreported += 1;
        }
    }

    /// A write succeeded: if writes were failing, they have recovered.
    pub fn write_succeeded(&self, path: &Path) {
        let mut failures = self.lock();
        if failures.failing {
            failures.failing = false;
            let due = failures
                .last_recovery_report
                .is_none_or(|at| at.elapsed() >= REPORT_EVERY);
            if due {
                failures.last_recovery_report = Some(Instant::now());
                tracing::info!(path = %path.display(), "history writes work again");
            }
        }
    }

    pub fn status(&self, path: &Path, retention: Duration, max_bytes: u64) -> HistoryStatus {
        let failures = self.lock();
        let (last_error, last_error_at) = match &failures.last_error {
            Some((message, at)) => (Some(message.clone()), Some(*at)),
            None => (None, None),
        };
        HistoryStatus {
            path: path.display().to_string(),
            healthy: !failures.failing && self.writer_running.load(Ordering::Acquire),
            last_error,
            last_error_at,
            rows_written: self.rows_written.load(Ordering::Relaxed),
            batches_dropped: self.batches_dropped.load(Ordering::Relaxed),
            rows_dropped: self.rows_dropped.load(Ordering::Relaxed),
            retention_days: retention.as_secs_f64() / 86_400.0,
            bytes: self.bytes.load(Ordering::Relaxed),
            max_bytes,
            rows_deleted_for_size: self.rows_deleted_for_size.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Failures> {
        // The guarded data stays consistent at every step, so a panic elsewhere cannot leave it
        // half-written.
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Lets one caller through per [`REPORT_EVERY`], from any thread, without a lock.
#[derive(Default)]
struct RateLimit {
    /// Unix seconds of the last time through (0: never).
    last: AtomicI64,
}

impl RateLimit {
    fn due(&self) -> bool {
        let now = Utc::now().timestamp();
        let last = self.last.load(Ordering::Relaxed);
        now - last >= REPORT_EVERY.as_secs() as i64
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}
