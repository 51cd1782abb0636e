//! The database layout and how a connection is opened: pragmas, and migrations keyed by
//! `PRAGMA user_version`.
//!
//! Layout (version 2):
//! - `request_segments`: finished requests, up to [`SEGMENT_ROWS`] consecutive ones per row,
//!   packed by [`segment`](super::segment) and keyed by the first `seq` (the rowid); the
//!   columns beside the blob (last `seq`, earliest and latest time in microseconds since the
//!   Unix epoch, a Bloom filter of the request ids) let queries pick segments without decoding
//!   them. No secondary index: one insert per segment is all a write costs.
//!   Version 1 stored one row per request in `requests` with three indexes, which cost the
//!   writer ~4 µs of CPU per request; the migration to version 2 packs those rows into
//!   segments and drops the table.
//! - `rollup_minute`, `rollup_hour`: traffic summed per time bucket, at three scopes (see
//!   [`Scope`]), each with a mergeable latency histogram.
//! - `meta`: the largest `seq` ever stored, so `seq` keeps increasing across restarts even after
//!   retention has deleted every row.

use super::row;
use super::segment::{self, SEGMENT_ROWS};
use rusqlite::{Connection, OpenFlags, Transaction};
use std::time::Duration;

/// The layout this build writes and reads.
pub const SCHEMA_VERSION: i64 = 2;

/// Each migration takes the database from version `index` to `index + 1`.
const MIGRATIONS: [fn(&Transaction<'_>) -> rusqlite::Result<()>; SCHEMA_VERSION as usize] =
    [|tx| tx.execute_batch(&v1()), to_segments];

/// Version 1: the one-row-per-request table, a rollup table per grain, and `meta`.
fn v1() -> String {
    let rollup = |grain: &str| ROLLUP_TABLE.replace("{table}", grain);
    [
        V1_REQUESTS,
        &rollup("rollup_minute"),
        &rollup("rollup_hour"),
        V1_META,
    ]
    .concat()
}

/// The layout of both rollup tables (`{table}` is `rollup_minute` or `rollup_hour`).
const ROLLUP_TABLE: &str = "
CREATE TABLE {table} (
    id            INTEGER PRIMARY KEY,
    scope         INTEGER NOT NULL,
    route         TEXT    NOT NULL,
    bucket        INTEGER NOT NULL,
    target        TEXT    NOT NULL,
    model         TEXT    NOT NULL,
    requests      INTEGER NOT NULL,
    errors        INTEGER NOT NULL,
    status_1xx    INTEGER NOT NULL,
    status_2xx    INTEGER NOT NULL,
    status_3xx    INTEGER NOT NULL,
    status_4xx    INTEGER NOT NULL,
    status_5xx    INTEGER NOT NULL,
    bytes_in      INTEGER NOT NULL,
    bytes_out     INTEGER NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    latency       BLOB    NOT NULL
);
CREATE UNIQUE INDEX {table}_key ON {table} (scope, route, bucket, target, model);
CREATE INDEX {table}_bucket ON {table} (bucket);
";

const V1_REQUESTS: &str = "
CREATE TABLE requests (
    seq            INTEGER PRIMARY KEY,
    request_id     TEXT    NOT NULL,
    at_us          INTEGER NOT NULL,
    method         TEXT    NOT NULL,
    path           TEXT    NOT NULL,
    route          TEXT,
    target         TEXT,
    status         INTEGER NOT NULL,
    latency_us     INTEGER NOT NULL,
    upstream_us    INTEGER,
    bytes_in       INTEGER NOT NULL,
    bytes_out      INTEGER NOT NULL,
    client         TEXT    NOT NULL,
    user_agent     TEXT,
    error          TEXT,
    attempts       INTEGER NOT NULL,
    model          TEXT,
    input_tokens   INTEGER,
    output_tokens  INTEGER,
    streamed       INTEGER,
    first_token_us INTEGER
);
CREATE INDEX requests_at ON requests (at_us);
CREATE INDEX requests_request_id ON requests (request_id);
CREATE INDEX requests_route ON requests (route);
";

const V1_META: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
";

const V2: &str = "
CREATE TABLE request_segments (
    first_seq INTEGER PRIMARY KEY,
    last_seq  INTEGER NOT NULL,
    min_at_us INTEGER NOT NULL,
    max_at_us INTEGER NOT NULL,
    rows      INTEGER NOT NULL,
    id_filter BLOB    NOT NULL,
    data      BLOB    NOT NULL
);
";

/// Stores one segment (replacing the one with the same first `seq`: the writer rewrites its
/// newest segment while it fills up).
pub const INSERT_SEGMENT: &str = "INSERT OR REPLACE INTO request_segments \
    (first_seq, last_seq, min_at_us, max_at_us, rows, id_filter, data) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// Stores `segment` with [`INSERT_SEGMENT`].
pub fn insert_segment(tx: &Connection, segment: &segment::Encoded) -> rusqlite::Result<()> {
    tx.prepare_cached(INSERT_SEGMENT)?
        .execute(rusqlite::params![
            segment.first_seq,
            segment.last_seq,
            segment.min_at_us,
            segment.max_at_us,
            segment.rows,
            segment.id_filter,
            segment.data,
        ])?;
    Ok(())
}

/// Version 1 → 2: the rows of `requests` packed into segments, oldest first, then the table
/// (and its indexes) dropped.
fn to_segments(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(V2)?;
    let mut select = tx.prepare(&format!(
        "SELECT {} FROM requests WHERE seq > ?1 ORDER BY seq LIMIT {SEGMENT_ROWS}",
        row::COLUMNS
    ))?;
    let mut after = -1i64;
    loop {
        let records = select
            .query_map([after], row::read)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let Some(last) = records.last() else { break };
        after = last.seq as i64;
        insert_segment(tx, &segment::encode(&records))?;
    }
    drop(select);
    tx.execute_batch("DROP TABLE requests;")
}

/// The `meta` key holding the largest `seq` ever stored.
pub const META_MAX_SEQ: &str = "max_seq";

/// Which traffic a rollup row sums. Every request is counted once at each scope, so a period's
/// totals are read from a handful of rows instead of merging every (route, target, model).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// One (route, target, model); `''` stands for "none" in each of the three.
    Key = 0,
    /// One route, all its targets and models (`target = model = ''`; route `''`: unrouted).
    Route = 1,
    /// All traffic (`route = target = model = ''`).
    All = 2,
}

/// What goes wrong while opening: the caller adds the path.
#[derive(Debug)]
pub enum OpenError {
    Sqlite(rusqlite::Error),
    /// The file was written by a newer build.
    TooNew(i64),
}

impl From<rusqlite::Error> for OpenError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sqlite(error)
    }
}

/// Opens the writer's connection: creates the file if needed, switches it to WAL and brings the
/// schema up to [`SCHEMA_VERSION`].
pub fn open_writer(
    path: &std::path::Path,
    busy_timeout: Duration,
) -> Result<Connection, OpenError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(busy_timeout)?;
    // WAL: readers never block the writer nor the writer them. NORMAL: a commit is not fsynced
    // (the WAL is at checkpoints), so a power cut may lose the last moments but never corrupts.
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(path = %path.display(), mode, "history database is not in WAL mode");
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // 32 MiB of page cache (negative: KiB): keeps the hot ends of the indexes in memory.
    conn.pragma_update(None, "cache_size", -32_768)?;
    migrate(&conn)?;
    Ok(conn)
}

/// Opens a read-only connection to a database [`open_writer`] has set up.
pub fn open_reader(path: &std::path::Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(busy_timeout)?;
    // Read-write flags so the connection can take part in WAL recovery; `query_only` keeps this
    // side from ever writing.
    conn.pragma_update(None, "query_only", true)?;
    conn.pragma_update(None, "cache_size", -16_384)?;
    Ok(conn)
}

/// Runs the migrations the file has not seen yet, each in its own transaction.
fn migrate(conn: &Connection) -> Result<(), OpenError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(OpenError::TooNew(version));
    }
    for (from, migration) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let tx = conn.unchecked_transaction()?;
        migration(&tx)?;
        tx.pragma_update(None, "user_version", from as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_gets_the_current_schema_and_reopening_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let conn = open_writer(&path, Duration::from_secs(1)).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        conn.execute("INSERT INTO meta (key, value) VALUES ('x', 1)", [])
            .unwrap();
        drop(conn);

        // Reopening runs no migration again (it would fail on the existing tables).
        let conn = open_writer(&path, Duration::from_secs(1)).unwrap();
        let x: i64 = conn
            .query_row("SELECT value FROM meta WHERE key = 'x'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(x, 1);
    }

    #[test]
    fn a_version_1_file_keeps_every_request_when_packed_into_segments() {
        use crate::request_filter::RequestQuery;
        use crate::server::history::{History, HistoryOptions, testing};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        // Within retention, on a whole second (stored times are whole microseconds).
        let start =
            chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() - 3_600, 0).unwrap();
        let records = testing::varied(
            9,
            40,
            2 * SEGMENT_ROWS + 7,
            start,
            chrono::Duration::milliseconds(900),
        );
        {
            // A file as version 1 left it.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(&v1()).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            let mut insert = conn.prepare(row::INSERT).unwrap();
            for record in &records {
                assert!(row::insert(&mut insert, record.seq as i64, record).unwrap());
            }
        }
        let (history, writer) = History::open_with(&path, HistoryOptions::default()).unwrap();
        assert_eq!(history.next_seq(), 40 + records.len() as u64);
        let mut stored = Vec::new();
        loop {
            let page = history
                .requests(&RequestQuery {
                    limit: 500,
                    before: stored.last().map(|r: &crate::views::RequestRecord| r.seq),
                    ..RequestQuery::default()
                })
                .unwrap();
            if page.is_empty() {
                break;
            }
            stored.extend(page);
        }
        stored.reverse();
        assert_eq!(stored.len(), records.len());
        for (got, want) in stored.iter().zip(&records) {
            assert_eq!(got, want);
        }
        let wanted = &records[123];
        assert_eq!(
            history.request_by_id(&wanted.request_id).unwrap().as_ref(),
            Some(wanted)
        );
        writer.shutdown();

        let conn = open_reader(&path, Duration::from_secs(1)).unwrap();
        let (segments, tables): (i64, i64) = conn
            .query_row(
                "SELECT (SELECT count(*) FROM request_segments), \
                 (SELECT count(*) FROM sqlite_master WHERE name LIKE 'requests%')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            (segments, tables),
            (3, 0),
            "packed, and the old table and indexes gone"
        );
    }

    #[test]
    fn a_file_from_a_newer_build_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        match open_writer(&path, Duration::from_secs(1)) {
            Err(OpenError::TooNew(found)) => assert_eq!(found, SCHEMA_VERSION + 1),
            other => panic!("expected TooNew, got {other:?}"),
        }
    }
}
