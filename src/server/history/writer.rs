//! The writer thread: the only connection that writes. It takes batches from the bounded queue,
//! writes as many as are waiting in one transaction (rows and rollups together, with cached
//! statements), and deletes what retention has expired, and the oldest data when the file
//! outgrows `history.max_bytes` ([`SizeBound`]), in small chunks between transactions.
//!
//! Any SQLite error (disk full, database locked past the busy timeout, read-only file) drops the
//! batches of that transaction, shows in [`Health`], and the thread carries on: the next
//! transaction tries again, so history recovers by itself once the cause is gone.

use super::rollup::{BatchRollups, Grain, RollupStore};
use super::row;
use super::schema::{self, META_MAX_SEQ};
use super::segment;
use super::size_bound::{self, SizeBound};
use super::store_status::Health;
use crate::server::records::record::SharedRecord;
use chrono::Utc;
use rusqlite::{Connection, TransactionBehavior};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The most rows written in one transaction (when many batches are waiting).
pub const MAX_TRANSACTION_ROWS: usize = 50_000;
/// Rows encoded between two yields of the CPU (tens of microseconds of work): a proxy thread
/// woken on the writer's core runs at the next yield instead of waiting out the writer's time
/// slice, which took the history's share of the proxy's p99 at c=1 from ~200 to ~40 µs
/// (docs/performance-log.md#proxy-2026-12-05-writer-yields). Its nice level alone did not: a thread woken on a busy core
/// can wait for the running one's time slice to end.
const YIELD_EVERY_ROWS: u64 = 64;
/// Rollup rows one retention `DELETE` removes: each chunk is its own short transaction.
pub const RETENTION_CHUNK: i64 = 5_000;
/// Segments one retention `DELETE` removes (up to ~50 000 requests), or one pass trims.
pub const RETENTION_SEGMENTS: i64 = 50;
/// Chunks per retention pass; a bigger backlog continues after the queued batches are written.
pub const RETENTION_CHUNKS_PER_PASS: usize = 20;
/// Segments holding both expired and kept requests (at most `?2` of them).
const STRADDLING: &str = "SELECT first_seq, data FROM request_segments \
    WHERE min_at_us < ?1 AND max_at_us >= ?1 LIMIT ?2";
/// How soon a failed retention pass is tried again.
const RETENTION_RETRY: Duration = Duration::from_secs(60);

/// What the writer's queue carries.
pub enum Command {
    /// Rows to store.
    Batch(Vec<SharedRecord>),
    /// Answer once everything queued before has been written (or dropped).
    Flush(SyncSender<()>),
    /// Write everything queued before, then stop.
    Shutdown,
}

/// The writer's settings.
pub struct WriterConfig {
    pub path: PathBuf,
    /// Rows and rollups older than this are deleted.
    pub retention: Duration,
    /// How often retention runs.
    pub retention_interval: Duration,
    /// How large the file may grow.
    pub size: SizeBound,
}

/// The writer thread's state.
pub struct Writer {
    conn: Connection,
    health: Arc<Health>,
    config: WriterConfig,
    rollups: RollupStore,
    next_retention: Instant,
    /// The largest `seq` stored: a record must come after it (`seq` orders the segments).
    max_seq: Option<i64>,
    /// The newest segment while it has room: the next write adds to it and stores it again.
    open: Option<segment::Builder>,
    /// Where written batches go to be dropped by the thread that allocated their records.
    written: Option<SyncSender<Vec<SharedRecord>>>,
    /// Above the size bound's high-water mark and not yet back under its low-water mark.
    shrinking: bool,
}

/// What one transaction did with its rows.
#[derive(Default)]
struct Written {
    stored: u64,
    /// Refused one by one: `seq` not above every `seq` stored, or too large for SQLite.
    refused: u64,
}

const UPDATE_MAX_SEQ: &str = "INSERT INTO meta (key, value) VALUES (?1, ?2) \
    ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)";

/// A segment goes once its newest request is older than the cutoff.
const DELETE_REQUESTS: &str = "DELETE FROM request_segments WHERE first_seq IN \
    (SELECT first_seq FROM request_segments WHERE max_at_us < ?1 LIMIT ?2)";

/// Starts `writer` on its own thread (it does blocking disk I/O, so not a tokio task).
pub fn spawn(writer: Writer, commands: Receiver<Command>) -> std::io::Result<JoinHandle<()>> {
    /// Marks the writer stopped however the thread ends, panics included.
    struct Running(Arc<Health>);
    impl Drop for Running {
        fn drop(&mut self) {
            self.0.set_writer_running(false);
        }
    }

    writer.health.set_writer_running(true);
    let running = Running(writer.health.clone());
    std::thread::Builder::new()
        .name("gatewatch-history".into())
        .spawn(move || {
            let _running = running;
            yield_cpu_to_the_proxy();
            writer.run(commands);
        })
}

/// Lowers this thread's scheduling priority (nice 10): when the cores are busy, the proxy's
/// threads go first and the writer catches up in the gaps (its queue absorbs the delay).
fn yield_cpu_to_the_proxy() {
    // On Linux, PRIO_PROCESS with no pid (`who` 0) applies to the calling thread alone.
    if let Err(error) = rustix::process::setpriority_process(None, 10) {
        tracing::debug!("history writer: cannot lower its priority: {error}");
    }
}

impl Writer {
    /// A writer for `conn`, whose largest `seq` stored so far is `max_seq`.
    pub fn new(
        conn: Connection,
        max_seq: Option<i64>,
        health: Arc<Health>,
        config: WriterConfig,
    ) -> Self {
        Self {
            conn,
            health,
            config,
            rollups: RollupStore::default(),
            next_retention: Instant::now(),
            max_seq,
            open: None,
            written: None,
            shrinking: false,
        }
    }

    /// Sends every batch, once written (or dropped), to `to` instead of freeing it here; when
    /// `to` is full the batch is freed here after all. The recorder, which allocated the
    /// records, frees them there at less cost: memory freed on another thread returns to its
    /// owner's allocator only lazily, which made it map fresh pages for new records.
    pub fn giving_back_written(mut self, to: SyncSender<Vec<SharedRecord>>) -> Self {
        self.written = Some(to);
        self
    }

    /// Runs until [`Command::Shutdown`] (or until every sender is gone), then writes whatever is
    /// still queued.
    pub fn run(mut self, commands: Receiver<Command>) {
        self.keep_within_bound();
        loop {
            if Instant::now() >= self.next_retention {
                self.expire();
            }
            if self.shrinking {
                self.keep_within_bound();
            }
            // More to delete for size: carry on once the queued batches are written.
            let wait = match self.shrinking {
                true => Duration::ZERO,
                false => self
                    .next_retention
                    .saturating_duration_since(Instant::now()),
            };
            let command = match commands.recv_timeout(wait) {
                Ok(command) => command,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            if self.handle(command, &commands).is_break() {
                break;
            }
        }
        // Batches that raced with the shutdown request are written too.
        let rest: Vec<Vec<SharedRecord>> = commands
            .try_iter()
            .filter_map(|command| match command {
                Command::Batch(batch) => Some(batch),
                Command::Flush(ack) => {
                    let _ = ack.send(());
                    None
                }
                Command::Shutdown => None,
            })
            .collect();
        if !rest.is_empty() {
            self.write(rest);
        }
    }

    fn handle(&mut self, command: Command, commands: &Receiver<Command>) -> ControlFlow<()> {
        match command {
            Command::Batch(first) => {
                // Take everything already waiting into the same transaction.
                let mut rows = first.len();
                let mut batches = vec![first];
                let mut next = None;
                while rows < MAX_TRANSACTION_ROWS {
                    match commands.try_recv() {
                        Ok(Command::Batch(batch)) => {
                            rows += batch.len();
                            batches.push(batch);
                        }
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                self.write(batches);
                match next {
                    Some(command) => self.handle(command, commands),
                    None => ControlFlow::Continue(()),
                }
            }
            Command::Flush(ack) => {
                let _ = ack.send(());
                ControlFlow::Continue(())
            }
            Command::Shutdown => ControlFlow::Break(()),
        }
    }

    /// Writes `batches` in one transaction, or drops them all if it fails.
    fn write(&mut self, batches: Vec<Vec<SharedRecord>>) {
        self.store(&batches);
        if let Some(to) = &self.written {
            for batch in batches {
                // Full: nobody is taking them back; this one is freed here.
                let _ = to.try_send(batch);
            }
        }
    }

    fn store(&mut self, batches: &[Vec<SharedRecord>]) {
        match self.try_write(batches) {
            Ok(written) => {
                self.health.written(written.stored);
                if written.refused > 0 {
                    self.health.rows_refused(&self.config.path, written.refused);
                }
                self.health.write_succeeded(&self.config.path);
                self.keep_within_bound();
            }
            Err(error) => {
                // The rollup cache may hold values from the rolled-back transaction's reads:
                // start again from the database.
                self.rollups.forget();
                let rows = batches.iter().map(|b| b.len() as u64).sum();
                self.health.write_failed(
                    &self.config.path,
                    "writing requests",
                    &error,
                    batches.len() as u64,
                    rows,
                );
            }
        }
    }

    fn try_write(&mut self, batches: &[Vec<SharedRecord>]) -> rusqlite::Result<Written> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut written = Written::default();
        let mut rollups = BatchRollups::default();
        let mut max_seq = self.max_seq;
        // Taken: if the transaction fails, the next write starts a new segment.
        let mut open = self.open.take().unwrap_or_default();
        for record in batches.iter().flatten() {
            let Some(seq) = i64::try_from(record.seq)
                .ok()
                .filter(|&seq| max_seq.is_none_or(|max| seq > max))
            else {
                written.refused += 1;
                continue;
            };
            if open.is_full() {
                schema::insert_segment(&tx, &open.finish())?;
                open = segment::Builder::default();
            }
            open.push(record);
            rollups.record(record);
            written.stored += 1;
            max_seq = Some(seq);
            if written.stored % YIELD_EVERY_ROWS == 0 {
                std::thread::yield_now();
            }
        }
        if written.stored > 0 {
            schema::insert_segment(&tx, &open.finish())?;
        }
        let pending = self.rollups.write(&tx, rollups.into_deltas())?;
        if let Some(max_seq) = max_seq.filter(|_| written.stored > 0) {
            tx.prepare_cached(UPDATE_MAX_SEQ)?
                .execute((META_MAX_SEQ, max_seq))?;
        }
        tx.commit()?;
        self.rollups.committed(pending);
        self.max_seq = max_seq;
        self.open = (open.len() > 0 && !open.is_full()).then_some(open);
        Ok(written)
    }

    /// Deletes the oldest data, a few chunks at a time, while the file is above the size
    /// bound's high-water mark (and, once started, until it is under the low-water mark); then
    /// measures the file for [`Health`].
    fn keep_within_bound(&mut self) {
        let size = self.config.size;
        let shrunk =
            size.needs_shrinking(&self.conn, self.shrinking)
                .and_then(|needed| match needed {
                    true => size.shrink(&self.conn, RETENTION_CHUNKS_PER_PASS),
                    false => Ok(size_bound::Shrunk {
                        done: true,
                        ..Default::default()
                    }),
                });
        match shrunk {
            Ok(shrunk) => {
                if shrunk.deleted {
                    // The open segment may be gone (it must not come back with the next write),
                    // and remembered rollups with it.
                    self.open = None;
                    self.rollups.forget();
                }
                if shrunk.rows > 0 {
                    self.health.deleted_for_size(shrunk.rows);
                }
                self.shrinking = !shrunk.done;
            }
            Err(error) => {
                self.shrinking = false;
                self.health.write_failed(
                    &self.config.path,
                    "deleting the oldest history to stay within history.max_bytes",
                    &error,
                    0,
                    0,
                );
            }
        }
        self.health
            .measured(size_bound::bytes_on_disk(&self.config.path));
    }

    /// One retention pass: deletes rows and rollups older than the retention, a chunk at a time.
    fn expire(&mut self) {
        // The open segment may be deleted: the next write starts a new one rather than bringing
        // it back.
        self.open = None;
        let cutoff = chrono::Duration::from_std(self.config.retention)
            .ok()
            .and_then(|retention| Utc::now().checked_sub_signed(retention));
        let Some(cutoff) = cutoff else {
            // A retention longer than the calendar: nothing ever expires.
            self.next_retention = Instant::now() + self.config.retention_interval;
            return;
        };
        self.next_retention = match self.try_expire(row::micros(cutoff), cutoff.timestamp()) {
            Ok(true) => Instant::now() + self.config.retention_interval,
            // More to delete: carry on once the queued batches are written.
            Ok(false) => Instant::now(),
            Err(error) => {
                self.health.write_failed(
                    &self.config.path,
                    "deleting expired history",
                    &error,
                    0,
                    0,
                );
                Instant::now() + RETENTION_RETRY
            }
        };
    }

    /// Rewrites the segments holding both expired and kept requests without the expired ones
    /// (a segment of a quiet period can span hours), so retention is exact to the request.
    fn trim_straddling(&mut self, cutoff_us: i64) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        let straddling = tx
            .prepare_cached(STRADDLING)?
            .query_map((cutoff_us, RETENTION_SEGMENTS), |row| {
                let first_seq: i64 = row.get(0)?;
                // Expired records are skipped before their strings are copied.
                let kept = segment::Stored::parse(row.get_ref(1)?.as_blob()?)?
                    .decode_where(first_seq, |_, at, _| row::micros(at) >= cutoff_us)?;
                Ok((first_seq, kept))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (first_seq, kept) in straddling {
            tx.prepare_cached("DELETE FROM request_segments WHERE first_seq = ?1")?
                .execute([first_seq])?;
            if !kept.is_empty() {
                schema::insert_segment(&tx, &segment::encode(&kept))?;
            }
        }
        tx.commit()
    }

    /// Whether everything expired is gone (`false`: the pass stopped at its chunk limit).
    fn try_expire(&mut self, cutoff_us: i64, cutoff_secs: i64) -> rusqlite::Result<bool> {
        self.trim_straddling(cutoff_us)?;
        let mut chunks = 0;
        let mut delete = |sql: &str, cutoff: i64, chunk: i64| -> rusqlite::Result<bool> {
            loop {
                if chunks == RETENTION_CHUNKS_PER_PASS {
                    return Ok(false);
                }
                chunks += 1;
                let deleted = self.conn.prepare_cached(sql)?.execute((cutoff, chunk))?;
                if (deleted as i64) < chunk {
                    return Ok(true);
                }
            }
        };
        if !delete(DELETE_REQUESTS, cutoff_us, RETENTION_SEGMENTS)? {
            return Ok(false);
        }
        for grain in Grain::ALL {
            // A bucket goes once all of it is older than the cutoff.
            let sql = match grain {
                Grain::Minute => {
                    "DELETE FROM rollup_minute WHERE id IN \
                     (SELECT id FROM rollup_minute WHERE bucket < ?1 LIMIT ?2)"
                }
                Grain::Hour => {
                    "DELETE FROM rollup_hour WHERE id IN \
                     (SELECT id FROM rollup_hour WHERE bucket < ?1 LIMIT ?2)"
                }
            };
            if !delete(sql, grain.bucket_of(cutoff_secs), RETENTION_CHUNK)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
