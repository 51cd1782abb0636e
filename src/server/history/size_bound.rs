//! The history's size bound (`history.max_bytes`): the database file and its write-ahead log
//! together stay within it, give or take one write transaction.
//!
//! The bound is split in two. The WAL gets an eighth of it (at most [`MAX_WAL_BYTES`]): SQLite
//! checkpoints once half of that is written and truncates the log back to it afterwards. The
//! main file gets the rest, and the writer keeps the pages in use below seven eighths of that:
//! above it, the oldest data is deleted until three quarters are in use, one short transaction
//! per chunk, between write transactions (as age retention does). Deleted pages go to SQLite's
//! freelist and new writes reuse them, so the file stops growing once it reaches the bound's
//! high-water mark; nothing is vacuumed on the writer's path (a VACUUM rewrites the whole file).
//! Lowering `max_bytes` frees pages inside the file but does not shrink it: run `VACUUM` on it
//! offline for that.
//!
//! What goes first: the oldest request segments (up to [`SEGMENT_ROWS`](super::segment) requests
//! each), oldest `seq` first. Rollups are kept by age alone while there are requests to delete:
//! they are small (a row per route, target and model per minute and per hour) and keep the
//! stats of the whole retention period; only a history with no request left above the bound
//! loses its oldest minute rollups, then its oldest hour rollups.

use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// The most bytes given to the write-ahead log, whatever the bound: 8 MiB, so a checkpoint
/// comes every 4 MiB written, about as often as SQLite's default of 1000 pages.
pub const MAX_WAL_BYTES: u64 = 8 << 20;
/// Rollup rows one chunk deletes once no request is left to delete.
const ROLLUP_CHUNK: i64 = 1_000;

/// The budget for one `max_bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeBound {
    /// `history.max_bytes`.
    pub max_bytes: u64,
    /// The WAL's share: the size it is truncated to after a checkpoint.
    pub wal_bytes: u64,
    /// Deleting starts when more bytes than this are in use in the main file...
    pub high_bytes: u64,
    /// ...and stops once no more than this are.
    pub low_bytes: u64,
}

/// What one [`SizeBound::shrink`] call did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Shrunk {
    /// Requests deleted.
    pub rows: u64,
    /// Whether anything was deleted (requests or rollups).
    pub deleted: bool,
    /// Whether the file is back under the low-water mark (`false`: stopped at the chunk limit,
    /// or nothing was left to delete).
    pub done: bool,
}

impl SizeBound {
    pub fn new(max_bytes: u64) -> Self {
        let wal_bytes = (max_bytes / 8).min(MAX_WAL_BYTES);
        let main = max_bytes - wal_bytes;
        Self {
            max_bytes,
            wal_bytes,
            high_bytes: main / 8 * 7,
            low_bytes: main / 4 * 3,
        }
    }

    /// Sets the WAL's checkpoint interval and size limit on the writer's connection.
    pub fn configure(&self, conn: &Connection) -> rusqlite::Result<()> {
        let page_size = page_size(conn)?;
        let checkpoint_pages = (self.wal_bytes / 2 / page_size).max(4);
        conn.pragma_update(None, "wal_autocheckpoint", checkpoint_pages as i64)?;
        conn.pragma_update(None, "journal_size_limit", self.wal_bytes as i64)?;
        Ok(())
    }

    /// Whether the pages in use call for deleting (`shrinking`: a shrink that stopped at its
    /// chunk limit goes on down to the low-water mark).
    pub fn needs_shrinking(&self, conn: &Connection, shrinking: bool) -> rusqlite::Result<bool> {
        let used = used_bytes(conn)?;
        Ok(used > self.high_bytes || (shrinking && used > self.low_bytes))
    }

    /// Deletes the oldest data, one chunk per transaction, until the pages in use are under the
    /// low-water mark or `chunks` chunks are done.
    pub fn shrink(&self, conn: &Connection, chunks: usize) -> rusqlite::Result<Shrunk> {
        let mut shrunk = Shrunk::default();
        for _ in 0..chunks {
            if used_bytes(conn)? <= self.low_bytes {
                shrunk.done = true;
                return Ok(shrunk);
            }
            match delete_oldest(conn)? {
                Some(rows) => {
                    shrunk.rows += rows;
                    shrunk.deleted = true;
                }
                // Nothing left: the file cannot get smaller by deleting.
                None => {
                    shrunk.done = true;
                    return Ok(shrunk);
                }
            }
        }
        Ok(shrunk)
    }
}

/// Deletes the oldest segment, or, with none left, the oldest rollups. `Some(requests deleted)`,
/// `None` when there was nothing to delete.
fn delete_oldest(conn: &Connection) -> rusqlite::Result<Option<u64>> {
    let deleted = conn
        .prepare_cached(
            "DELETE FROM request_segments WHERE first_seq = \
             (SELECT min(first_seq) FROM request_segments) RETURNING rows",
        )?
        .query_row([], |row| row.get::<_, i64>(0))
        .map(|rows| Some(rows.max(0) as u64));
    match deleted {
        Err(rusqlite::Error::QueryReturnedNoRows) => {}
        other => return other,
    }
    for table in ["rollup_minute", "rollup_hour"] {
        let sql = format!(
            "DELETE FROM {table} WHERE id IN \
             (SELECT id FROM {table} ORDER BY bucket LIMIT ?1)"
        );
        if conn.prepare_cached(&sql)?.execute([ROLLUP_CHUNK])? > 0 {
            return Ok(Some(0));
        }
    }
    Ok(None)
}

/// Bytes of the main file's pages that hold data (the file's size less its free pages), as the
/// writer's connection sees the database (its WAL included).
pub fn used_bytes(conn: &Connection) -> rusqlite::Result<u64> {
    let pages: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
    let free: i64 = conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
    Ok((pages - free).max(0) as u64 * page_size(conn)?)
}

fn page_size(conn: &Connection) -> rusqlite::Result<u64> {
    let size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
    Ok(size.max(512) as u64)
}

/// The database's size on disk: the main file and its WAL (0 for a file that is missing).
pub fn bytes_on_disk(path: &Path) -> u64 {
    let len = |path: &Path| std::fs::metadata(path).map_or(0, |m| m.len());
    len(path) + len(&wal_path(path))
}

/// `<path>-wal`.
fn wal_path(path: &Path) -> PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_split_between_the_log_and_the_main_file() {
        let small = SizeBound::new(1 << 20);
        assert_eq!(small.wal_bytes, 128 << 10);
        assert!(small.low_bytes < small.high_bytes);
        assert!(small.high_bytes + small.wal_bytes < small.max_bytes);
        let large = SizeBound::new(10 << 30);
        assert_eq!(large.wal_bytes, MAX_WAL_BYTES);
        assert!(large.high_bytes + large.wal_bytes < large.max_bytes);
    }
}
