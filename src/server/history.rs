//! The request history: every finished request and per-minute / per-hour rollups in a SQLite file
//! that survives restarts.
//!
//! The proxy never waits on disk: [`History::submit`] hands a batch to a bounded queue without
//! blocking, and one writer thread ([`HistoryWriter`]) stores it. Reads (the request log, one
//! request, `/api/stats`) block on a small pool of separate read connections; call them from
//! `spawn_blocking`. When the disk is full or the file is locked, batches are dropped and counted,
//! [`History::status`] says so, and the proxy carries on.
//!
//! Submodules, one concept each: `schema` (layout, pragmas, migrations), `segment` (requests
//! packed into one blob), `id_filter` (a segment's request ids as a Bloom filter), `row` (stored
//! times, and the old one-row-per-request layout the migration reads), `rollup` (traffic summed
//! per bucket), `writer` (the writer thread), `size_bound` (`history.max_bytes`), `search`
//! (request filters over segments), `stats` (periods from rollups), `store_status` (counters and
//! errors).

mod id_filter;
mod rollup;
mod row;
mod schema;
mod search;
pub(crate) mod segment;
mod size_bound;
mod stats;
mod store_status;
mod writer;

#[cfg(test)]
pub(crate) mod testing;

pub use schema::SCHEMA_VERSION;

use crate::request_filter::RequestQuery;
use crate::server::config::DEFAULT_HISTORY_MAX_BYTES;
use crate::server::records::record::SharedRecord;
use crate::views::{HistoryStatus, PeriodStats, RequestRecord, StatsPeriod};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};
use size_bound::SizeBound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use store_status::Health;
use writer::{Command, Writer, WriterConfig};

/// How long requests and rollups are kept unless configured otherwise.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 86_400);
/// Batches that may wait for the writer before `submit` drops new ones (and counts them). The
/// recorder hands over a batch every 250 ms, so this is about ten seconds of traffic: enough to
/// ride out a slow checkpoint, and a bound on what a writer that cannot keep up holds in memory
/// (at 15 000 requests/s about 150 000 records) and on what a crash then loses.
pub const DEFAULT_QUEUE_BATCHES: usize = 40;
/// How long a connection waits for a lock before its statement fails with "database is locked".
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the writer deletes expired rows and rollups.
pub const DEFAULT_RETENTION_INTERVAL: Duration = Duration::from_secs(10 * 60);
/// Read connections kept open between queries.
const READ_POOL: usize = 2;

/// The history database: cheap to clone, shared by the recorder (which submits) and the API
/// (which reads).
#[derive(Clone)]
pub struct History {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    options: HistoryOptions,
    commands: SyncSender<Command>,
    next_seq: AtomicU64,
    health: Arc<Health>,
    readers: Mutex<Vec<Connection>>,
    /// Written batches, for [`History::release_written`].
    written: Mutex<Receiver<Vec<SharedRecord>>>,
}

/// Written batches waiting for [`History::release_written`]; more are freed by the writer.
pub const WRITTEN_BATCHES_KEPT: usize = 8;

/// Owns the writer thread: call [`Self::shutdown`] on graceful shutdown so every submitted batch
/// is written.
pub struct HistoryWriter {
    commands: SyncSender<Command>,
    thread: JoinHandle<()>,
}

/// Settings of [`History::open_with`]; [`History::open`] uses the defaults but for retention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryOptions {
    /// Rows and rollups older than this are deleted.
    pub retention: Duration,
    /// Capacity of the writer's queue, in batches.
    pub queue_batches: usize,
    /// SQLite's busy timeout, for the writer and the readers.
    pub busy_timeout: Duration,
    /// How often expired data is deleted (also once at start).
    pub retention_interval: Duration,
    /// How large the file and its WAL may grow before the oldest requests are deleted.
    pub max_bytes: u64,
}

impl Default for HistoryOptions {
    fn default() -> Self {
        Self {
            retention: DEFAULT_RETENTION,
            queue_batches: DEFAULT_QUEUE_BATCHES,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            retention_interval: DEFAULT_RETENTION_INTERVAL,
            max_bytes: DEFAULT_HISTORY_MAX_BYTES,
        }
    }
}

/// Why the history could not be opened or read.
#[derive(thiserror::Error, Debug)]
pub enum HistoryError {
    #[error("cannot create the directory for the history database {}: {source}", .path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the history database {}: {source}", .path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the history database {} has schema version {found}, newer than this gatewatch \
         understands ({SCHEMA_VERSION}): upgrade gatewatch or point history.path elsewhere",
        .path.display()
    )]
    TooNew { path: PathBuf, found: i64 },
    #[error("cannot start the history writer thread for {}: {source}", .path.display())]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading the history database {} failed: {source}", .path.display())]
    Query {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

impl History {
    /// Opens (creating if needed, and migrating the schema) the database at `path`, and starts
    /// the writer thread. Sets WAL mode, `synchronous=NORMAL` and a busy timeout.
    pub fn open(
        path: &Path,
        retention: Duration,
    ) -> Result<(History, HistoryWriter), HistoryError> {
        Self::open_with(
            path,
            HistoryOptions {
                retention,
                ..HistoryOptions::default()
            },
        )
    }

    /// [`Self::open`] with every setting.
    pub fn open_with(
        path: &Path,
        options: HistoryOptions,
    ) -> Result<(History, HistoryWriter), HistoryError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| HistoryError::CreateDir {
                path: path.to_owned(),
                source,
            })?;
        }
        let conn = schema::open_writer(path, options.busy_timeout).map_err(|e| match e {
            schema::OpenError::Sqlite(source) => HistoryError::Open {
                path: path.to_owned(),
                source,
            },
            schema::OpenError::TooNew(found) => HistoryError::TooNew {
                path: path.to_owned(),
                found,
            },
        })?;
        let size = SizeBound::new(options.max_bytes);
        size.configure(&conn).map_err(|source| HistoryError::Open {
            path: path.to_owned(),
            source,
        })?;
        let next_seq = stored_next_seq(&conn).map_err(|source| HistoryError::Open {
            path: path.to_owned(),
            source,
        })?;

        let (commands, queue) = sync_channel(options.queue_batches.max(1));
        let (give_back, written) = sync_channel(WRITTEN_BATCHES_KEPT);
        let health = Arc::new(Health::default());
        let writer = Writer::new(
            conn,
            next_seq.checked_sub(1).map(|max| max as i64),
            health.clone(),
            WriterConfig {
                path: path.to_owned(),
                retention: options.retention,
                retention_interval: options.retention_interval,
                size,
            },
        )
        .giving_back_written(give_back);
        let thread = writer::spawn(writer, queue).map_err(|source| HistoryError::Spawn {
            path: path.to_owned(),
            source,
        })?;
        let history = History {
            shared: Arc::new(Shared {
                path: path.to_owned(),
                options,
                commands: commands.clone(),
                next_seq: AtomicU64::new(next_seq),
                health,
                readers: Mutex::new(Vec::with_capacity(READ_POOL)),
                written: Mutex::new(written),
            }),
        };
        Ok((history, HistoryWriter { commands, thread }))
    }

    /// The `seq` to give the next request: one past the largest ever stored (0 for a new
    /// database) or submitted since, so `seq` keeps increasing across restarts, even after
    /// retention has deleted every row.
    pub fn next_seq(&self) -> u64 {
        self.shared.next_seq.load(Ordering::Acquire)
    }

    /// Hands `batch` to the writer without blocking. If the queue is full (the disk cannot keep
    /// up) or the writer has stopped, the batch is dropped and counted in [`Self::status`].
    /// Takes shared records (what the recorder has) or plain ones (tests, tools).
    pub fn submit<R: Into<SharedRecord>>(&self, batch: Vec<R>) {
        self.queue(batch, false);
    }

    /// Hands `batch` to the writer, waiting while its queue is full: for the last batch at
    /// shutdown, which must not be dropped. Dropped (and counted) only if the writer has stopped.
    /// Blocking: call it from a blocking thread, never from the proxy.
    pub fn submit_blocking<R: Into<SharedRecord>>(&self, batch: Vec<R>) {
        self.queue(batch, true);
    }

    fn queue<R: Into<SharedRecord>>(&self, batch: Vec<R>, wait: bool) {
        // A no-op for shared records: the vector is reused in place.
        let batch: Vec<SharedRecord> = batch.into_iter().map(Into::into).collect();
        let Some(max_seq) = batch.iter().map(|r| r.seq).max() else {
            return;
        };
        self.shared
            .next_seq
            .fetch_max(max_seq.saturating_add(1), Ordering::AcqRel);
        let rows = batch.len() as u64;
        let commands = &self.shared.commands;
        let queued = if wait {
            commands.send(Command::Batch(batch)).is_ok()
        } else {
            commands.try_send(Command::Batch(batch)).is_ok()
        };
        if !queued {
            self.shared.health.queue_full(&self.shared.path, rows);
        }
    }

    /// Frees the batches the writer has written, on the calling thread: the recorder calls it,
    /// so records are freed where they were allocated (see [`Writer::giving_back_written`]).
    pub fn release_written(&self) {
        let Ok(written) = self.shared.written.try_lock() else {
            return;
        };
        while let Ok(batch) = written.try_recv() {
            drop(batch);
        }
    }

    /// Blocks until everything submitted before the call has been written (or dropped). `false`
    /// when the writer has stopped. For tests, tools and shutdown paths, never for the proxy.
    pub fn flush_blocking(&self) -> bool {
        let (ack, acked) = sync_channel(1);
        self.shared.commands.send(Command::Flush(ack)).is_ok() && acked.recv().is_ok()
    }

    /// How the history is doing.
    pub fn status(&self) -> HistoryStatus {
        let options = &self.shared.options;
        self.shared
            .health
            .status(&self.shared.path, options.retention, options.max_bytes)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The stored requests `query` selects (exactly those `RequestQuery::matches` accepts),
    /// newest first, at most `query.limit` (capped at `MAX_LIMIT`). Blocking.
    pub fn requests(&self, query: &RequestQuery) -> Result<Vec<RequestRecord>, HistoryError> {
        self.read(|conn| search::requests(conn, query))
    }

    /// The newest stored request with this `X-Request-Id`. Blocking.
    pub fn request_by_id(&self, request_id: &str) -> Result<Option<RequestRecord>, HistoryError> {
        self.read(|conn| search::by_request_id(conn, request_id))
    }

    /// Stats for `period` ending at `now` (rounded up to the period's bucket grid), for one route
    /// or all traffic, with the period before it. Read from the rollups. Blocking.
    pub fn stats(
        &self,
        period: StatsPeriod,
        route: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<PeriodStats, HistoryError> {
        self.read(|conn| stats::period_stats(conn, period, route, now))
    }

    /// Runs `read` on a pooled read connection (never the writer's).
    fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, HistoryError> {
        let shared = &self.shared;
        let pooled = shared
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let result = match pooled {
            Some(conn) => Ok(conn),
            None => schema::open_reader(&shared.path, shared.options.busy_timeout),
        }
        .and_then(|conn| {
            let result = read(&conn);
            let mut readers = shared
                .readers
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if readers.len() < READ_POOL {
                readers.push(conn);
            }
            result
        });
        result.map_err(|source| HistoryError::Query {
            path: shared.path.clone(),
            source,
        })
    }
}

impl HistoryWriter {
    /// Writes everything submitted so far and stops the writer thread. Blocking: call it on
    /// graceful shutdown, after the proxy and the recorder have stopped submitting.
    pub fn shutdown(self) {
        // Fails only if the thread is already gone; joining tells why.
        let _ = self.commands.send(Command::Shutdown);
        if self.thread.join().is_err() {
            tracing::error!("the history writer thread panicked; recent requests may be lost");
        }
    }
}

/// One past the largest `seq` the database has ever stored (0 for a new one).
fn stored_next_seq(conn: &Connection) -> rusqlite::Result<u64> {
    let in_rows: Option<i64> =
        conn.query_row("SELECT max(last_seq) FROM request_segments", [], |r| {
            r.get(0)
        })?;
    let in_meta: Option<i64> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [schema::META_MAX_SEQ],
            |r| r.get(0),
        )
        .optional()?;
    Ok(in_rows
        .max(in_meta)
        .map_or(0, |max| (max as u64).saturating_add(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request_filter::MAX_LIMIT;
    use crate::server::records::histogram::LatencyHistogram;
    use crate::server::records::record::truncate_to_micros;
    use crate::server::records::testing::at;
    use chrono::Duration as TimeDelta;
    use std::time::Instant;

    fn all(history: &History) -> Vec<RequestRecord> {
        let mut rows = Vec::new();
        let mut before = None;
        loop {
            let query = RequestQuery {
                limit: MAX_LIMIT,
                before,
                ..RequestQuery::default()
            };
            let page = history.requests(&query).unwrap();
            let Some(last) = page.last() else { return rows };
            before = Some(last.seq);
            rows.extend(page);
        }
    }

    #[test]
    fn written_batches_are_freed_by_whoever_releases_them_and_never_pile_up() {
        let dir = tempfile::tempdir().unwrap();
        let (history, writer) = testing::open(dir.path());
        let start = Utc::now();
        let kept = SharedRecord::new(testing::request(0, start));
        history.submit(vec![kept.clone()]);
        assert!(history.flush_blocking());
        assert_eq!(
            SharedRecord::strong_count(&kept),
            2,
            "written, and waiting to be released"
        );
        history.release_written();
        assert_eq!(SharedRecord::strong_count(&kept), 1);

        // Nobody releasing: beyond the bound, the writer frees batches itself.
        let records: Vec<SharedRecord> = (1..=WRITTEN_BATCHES_KEPT as u64 + 5)
            .map(|seq| SharedRecord::new(testing::request(seq, start)))
            .collect();
        for record in &records {
            history.submit(vec![record.clone()]);
            assert!(history.flush_blocking());
        }
        let held = records
            .iter()
            .filter(|r| SharedRecord::strong_count(r) > 1)
            .count();
        assert_eq!(held, WRITTEN_BATCHES_KEPT);
        history.release_written();
        assert!(records.iter().all(|r| SharedRecord::strong_count(r) == 1));
        writer.shutdown();
        assert_eq!(
            history.status().rows_written,
            WRITTEN_BATCHES_KEPT as u64 + 6
        );
    }

    #[test]
    fn records_survive_a_restart_and_seq_continues() {
        let dir = tempfile::tempdir().unwrap();
        let (history, writer) = testing::open(dir.path());
        assert_eq!(history.next_seq(), 0, "a new database starts at 0");
        // Within retention (it runs at reopening), on a whole second.
        let start = DateTime::from_timestamp(Utc::now().timestamp() - 7_200, 0).unwrap();
        let mut records = testing::varied(5, 0, 1_500, start, TimeDelta::seconds(3));
        // Extremes: counters above i64::MAX, and a time with nanoseconds (stored to the µs).
        records[10].latency_us = u64::MAX;
        records[10].bytes_out = u64::MAX - 1;
        records[11].at = start + TimeDelta::nanoseconds(123_456_789);
        for chunk in records.chunks(100) {
            history.submit(chunk.to_vec());
        }
        writer.shutdown();
        assert_eq!(history.status().rows_written, 1_500);
        drop(history);

        let (history, writer) = testing::open(dir.path());
        assert_eq!(history.next_seq(), 1_500);
        let mut want = records.clone();
        want[11].at = truncate_to_micros(want[11].at);
        assert_eq!(want[11].at, start + TimeDelta::microseconds(123_456));
        want.reverse();
        let got = all(&history);
        assert_eq!(got.len(), want.len());
        assert!(got == want, "rows read back differ from the rows written");
        writer.shutdown();
    }

    #[test]
    fn request_by_id_finds_the_newest_with_that_id() {
        let dir = tempfile::tempdir().unwrap();
        let (history, writer) = testing::open(dir.path());
        let now = at("2025-03-01T10:00:00Z");
        let mut first = testing::request(1, now);
        first.request_id = "abc".into();
        let mut retried = testing::request(7, now + TimeDelta::seconds(1));
        retried.request_id = "abc".into();
        retried.status = 502;
        history.submit(vec![first, retried.clone(), testing::request(9, now)]);
        assert!(history.flush_blocking());
        assert_eq!(history.request_by_id("abc").unwrap(), Some(retried));
        assert_eq!(
            history.request_by_id("req-9").unwrap().map(|r| r.seq),
            Some(9)
        );
        assert_eq!(history.request_by_id("nope").unwrap(), None);
        writer.shutdown();
    }

    #[test]
    fn a_restart_within_the_minute_keeps_its_counts() {
        let dir = tempfile::tempdir().unwrap();
        // Recent, so the retention pass at reopening keeps it.
        let ten_minutes_ago = (Utc::now() - TimeDelta::minutes(10)).timestamp();
        let minute = DateTime::from_timestamp(ten_minutes_ago.div_euclid(60) * 60, 0).unwrap();
        let batch = |first: u64, latency: u64| -> Vec<RequestRecord> {
            (first..first + 20)
                .map(|seq| {
                    let mut r = testing::request(seq, minute + TimeDelta::seconds(seq as i64 % 60));
                    r.latency_us = latency + seq;
                    r
                })
                .collect()
        };
        let (one, two, three) = (batch(0, 1_000), batch(20, 50_000), batch(40, 900_000));

        let (history, writer) = testing::open(dir.path());
        history.submit(one.clone());
        assert!(history.flush_blocking());
        // Same minute, next transaction: merged with the committed value the writer remembers.
        history.submit(two.clone());
        writer.shutdown();
        drop(history);
        // After a restart the writer remembers nothing: it merges with the stored row.
        let (history, writer) = testing::open(dir.path());
        history.submit(three.clone());
        assert!(history.flush_blocking());

        let mut latency = LatencyHistogram::default();
        for r in one.iter().chain(&two).chain(&three) {
            latency.record(r.latency_us);
        }
        let p = latency.percentiles();
        for period in [
            StatsPeriod::FiveMinutes,
            StatsPeriod::Day,
            StatsPeriod::Week,
        ] {
            let stats = history
                .stats(period, None, minute + TimeDelta::seconds(61))
                .unwrap();
            let s = &stats.current;
            assert_eq!(s.requests, 60, "{period:?}");
            assert_eq!(s.status.success, 60, "{period:?}");
            assert_eq!(s.bytes_out, 60 * 100, "{period:?}");
            assert_eq!(
                (s.p50_us, s.p95_us, s.p99_us, s.max_us),
                (p.p50_us, p.p95_us, p.p99_us, p.max_us)
            );
            let routed = history
                .stats(period, Some("api"), minute + TimeDelta::seconds(61))
                .unwrap();
            assert_eq!(routed.current, stats.current);
        }
        writer.shutdown();
    }

    #[test]
    fn retention_deletes_old_rows_and_rollups_and_keeps_recent_ones() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let cutoff = now - TimeDelta::days(7);
        // The writer takes its own clock at reopening, a moment later: keep rows clear of the
        // boundary so which side each falls on does not depend on timing.
        let old: Vec<_> =
            testing::varied(1, 0, 300, now - TimeDelta::days(10), TimeDelta::minutes(15))
                .into_iter()
                .filter(|r| (r.at - cutoff).abs() > TimeDelta::minutes(1))
                .collect();
        let recent = testing::varied(
            2,
            300,
            300,
            now - TimeDelta::hours(2),
            TimeDelta::seconds(20),
        );
        let (history, writer) = testing::open(dir.path());
        history.submit(old.clone());
        history.submit(recent.clone());
        writer.shutdown();
        drop(history);

        // Retention runs at start (and every `retention_interval`).
        let (history, writer) = testing::open(dir.path());
        assert!(history.flush_blocking());
        let kept = all(&history);
        let want: Vec<_> = old
            .iter()
            .chain(&recent)
            .filter(|r| r.at >= cutoff)
            .rev()
            .map(|r| RequestRecord {
                at: truncate_to_micros(r.at),
                ..r.clone()
            })
            .collect();
        assert!(
            want.len() > 300 && want.len() < 600,
            "some old rows are within retention"
        );
        assert!(
            kept == want,
            "kept {} rows, wanted {}",
            kept.len(),
            want.len()
        );

        let conn = schema::open_reader(history.path(), Duration::from_secs(1)).unwrap();
        for table in ["rollup_minute", "rollup_hour"] {
            let count = |sql: &str| -> i64 {
                conn.query_row(
                    &sql.replace("{table}", table),
                    [cutoff.timestamp() - 3_600],
                    |r| r.get(0),
                )
                .unwrap()
            };
            assert_eq!(
                count("SELECT count(*) FROM {table} WHERE bucket < ?1"),
                0,
                "{table}"
            );
            assert!(
                count("SELECT count(*) FROM {table} WHERE bucket >= ?1") > 0,
                "{table}"
            );
        }
        // What is left still adds up.
        let week = history.stats(StatsPeriod::Week, None, now).unwrap();
        let in_week = kept
            .iter()
            .filter(|r| r.at >= week.from && r.at < week.until)
            .count();
        assert_eq!(week.current.requests, in_week as u64);
        writer.shutdown();
    }

    #[test]
    fn seq_keeps_increasing_after_retention_deleted_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let long_ago = Utc::now() - TimeDelta::days(30);
        let (history, writer) = testing::open(dir.path());
        history.submit(vec![
            testing::request(41, long_ago),
            testing::request(42, long_ago),
        ]);
        writer.shutdown();
        drop(history);
        let (history, writer) = testing::open(dir.path());
        assert!(history.flush_blocking());
        assert!(all(&history).is_empty());
        assert_eq!(history.next_seq(), 43);
        // Submitting moves it on at once, before anything is written.
        history.submit(vec![testing::request(100, Utc::now())]);
        assert_eq!(history.next_seq(), 101);
        writer.shutdown();
    }

    #[test]
    fn duplicate_and_oversized_seqs_are_refused_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let (history, writer) = testing::open(dir.path());
        let now = at("2025-03-01T10:00:00Z");
        history.submit(vec![testing::request(1, now), testing::request(2, now)]);
        let mut duplicate = testing::request(2, now);
        duplicate.status = 500;
        history.submit(vec![
            duplicate,
            testing::request(u64::MAX, now),
            testing::request(3, now),
        ]);
        assert!(history.flush_blocking());
        let status = history.status();
        assert_eq!(
            (
                status.rows_written,
                status.rows_dropped,
                status.batches_dropped
            ),
            (3, 2, 0)
        );
        assert!(status.healthy);
        let rows = all(&history);
        assert_eq!(
            rows.iter().map(|r| (r.seq, r.status)).collect::<Vec<_>>(),
            [(3, 200), (2, 200), (1, 200)]
        );
        // Refused rows are not counted in the rollups either.
        let stats = history.stats(StatsPeriod::FiveMinutes, None, now).unwrap();
        assert_eq!(stats.current.requests + stats.previous.requests, 0);
        let stats = history
            .stats(StatsPeriod::FiveMinutes, None, now + TimeDelta::seconds(1))
            .unwrap();
        assert_eq!(
            (stats.current.requests, stats.current.status.server_error),
            (3, 0)
        );
        writer.shutdown();
    }

    #[test]
    fn a_locked_database_degrades_history_and_it_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let (history, writer) = testing::open_with(
            dir.path(),
            HistoryOptions {
                queue_batches: 4,
                ..HistoryOptions::default()
            },
        );
        let now = at("2025-03-01T10:00:00Z");
        history.submit(vec![testing::request(0, now)]);
        assert!(history.flush_blocking());
        assert!(history.status().healthy);

        // Another process takes the write lock and keeps it past the busy timeout.
        let other = rusqlite::Connection::open(history.path()).unwrap();
        other.execute_batch("BEGIN EXCLUSIVE").unwrap();
        history.submit(vec![testing::request(1, now)]);
        assert!(history.flush_blocking());
        let status = history.status();
        assert!(!status.healthy, "{status:?}");
        let error = status.last_error.clone().unwrap();
        assert!(error.contains("locked"), "{error}");
        assert!(status.last_error_at.is_some());
        assert_eq!((status.batches_dropped, status.rows_dropped), (1, 1));

        // Submitting never waits on the stuck writer: the queue fills and batches are dropped.
        let started = Instant::now();
        for seq in 2..202 {
            history.submit(vec![testing::request(seq, now)]);
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        assert!(history.status().batches_dropped > 150);
        // Reads still work: WAL readers do not need the write lock.
        assert_eq!(all(&history).len(), 1);

        other.execute_batch("ROLLBACK").unwrap();
        // Let the writer get through what queued up while the lock was held.
        assert!(history.flush_blocking());
        history.submit(vec![testing::request(500, now)]);
        assert!(history.flush_blocking());
        let status = history.status();
        assert!(status.healthy, "{status:?}");
        assert_eq!(
            status.last_error.as_deref(),
            Some(error.as_str()),
            "the last error stays visible"
        );
        assert_eq!(all(&history).first().map(|r| r.seq), Some(500));
        assert_eq!(status.rows_written + status.rows_dropped, 203);
        writer.shutdown();
        assert!(!history.status().healthy, "a stopped writer is not healthy");
    }

    #[test]
    fn open_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_db = dir.path().join("garbage.db");
        std::fs::write(&not_a_db, vec![b'x'; 8_192]).unwrap();
        let error = History::open(&not_a_db, DEFAULT_RETENTION).err().unwrap();
        assert!(matches!(error, HistoryError::Open { .. }), "{error:?}");
        assert!(error.to_string().contains("garbage.db"), "{error}");

        let file = dir.path().join("file");
        std::fs::write(&file, b"").unwrap();
        let error = History::open(&file.join("history.db"), DEFAULT_RETENTION)
            .err()
            .unwrap();
        assert!(matches!(error, HistoryError::CreateDir { .. }), "{error:?}");
        assert!(error.to_string().contains("file/history.db"), "{error}");
    }

    #[test]
    fn the_directory_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/nested/history.db");
        let (history, writer) = History::open(&path, DEFAULT_RETENTION).unwrap();
        assert!(path.exists());
        assert_eq!(history.status().path, path.display().to_string());
        assert_eq!(history.status().retention_days, 7.0);
        writer.shutdown();
    }

    /// Bytes the file may exceed `max_bytes` by: one write transaction's pages beyond the
    /// log's checkpoint point (here the open segment, rewritten whole by every write, at most
    /// 1024 rows of ~150 bytes), see `size_bound`.
    const SIZE_SLACK: u64 = 256 << 10;

    #[test]
    fn the_file_stays_within_max_bytes_keeping_the_newest_requests() {
        let dir = tempfile::tempdir().unwrap();
        let max_bytes = crate::server::config::MIN_HISTORY_BYTES;
        let (history, writer) = testing::open_with(
            dir.path(),
            HistoryOptions {
                max_bytes,
                ..HistoryOptions::default()
            },
        );
        let path = history.path().to_owned();
        let mut rng = fastrand::Rng::with_seed(26);
        let start = Utc::now();
        // ~150 bytes per request (unique ids and paths), ~5 MiB in all: five times the bound.
        let total = 36_000u64;
        let mut largest = 0;
        for first in (0..total).step_by(300) {
            let batch: Vec<RequestRecord> = (first..first + 300)
                .map(|seq| {
                    let mut record = testing::request(seq, start);
                    let noise: String = (0..100).map(|_| rng.alphanumeric()).collect();
                    record.path = compact_str::format_compact!("/items/{seq}/{noise}");
                    record
                })
                .collect();
            history.submit_blocking(batch);
            assert!(history.flush_blocking());
            largest = largest.max(size_bound::bytes_on_disk(&path));
        }
        let status = history.status();
        assert!(
            largest <= max_bytes + SIZE_SLACK,
            "{largest} bytes on disk, bound {max_bytes}"
        );
        assert!(status.bytes > 0 && status.bytes <= max_bytes + SIZE_SLACK);
        assert_eq!(status.max_bytes, max_bytes);
        assert!(status.rows_deleted_for_size > total / 2, "{status:?}");
        assert_eq!(status.rows_dropped, 0);

        let stored = all(&history);
        let newest = total - 1;
        assert_eq!(stored.first().map(|r| r.seq), Some(newest), "newest kept");
        let oldest_kept = stored.last().unwrap().seq;
        assert!(oldest_kept > 0, "the oldest are gone");
        assert_eq!(
            stored.len() as u64,
            newest - oldest_kept + 1,
            "whole segments go, oldest first: what is left is contiguous"
        );
        assert_eq!(stored.len() as u64 + status.rows_deleted_for_size, total);
        assert!(history.request_by_id("req-0").unwrap().is_none());
        assert!(
            history
                .request_by_id(&format!("req-{newest}"))
                .unwrap()
                .is_some()
        );
        writer.shutdown();
    }
}
