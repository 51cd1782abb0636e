//! The database layout and how a connection is opened: pragmas, and migrations keyed by
//! `PRAGMA user_version`.
//!
//! Layout (version 1):
//! - `requests`: one row per finished request, keyed by `seq` (the rowid). Times are integer
//!   microseconds since the Unix epoch; the LLM columns are all NULL when the response was not an
//!   LLM answer (`model IS NULL` ⇔ `llm` is `None`). Indexed on `at_us` (time filters and
//!   retention), `request_id` (look-up by id) and `route` (the most common filter; SQLite keeps
//!   the rowid in every index entry, so `route = ? ORDER BY seq DESC` reads the index in order
//!   without sorting). Status, method, client and path filters walk `seq` backwards instead:
//!   each extra index costs every insert, and the filters they would serve usually match often.
//! - `rollup_minute`, `rollup_hour`: traffic summed per time bucket, at three scopes (see
//!   [`Scope`]), each with a mergeable latency histogram.
//! - `meta`: the largest `seq` ever stored, so `seq` keeps increasing across restarts even after
//!   retention has deleted every row.

use rusqlite::{Connection, OpenFlags};
use std::time::Duration;

/// The layout this build writes and reads.
pub const SCHEMA_VERSION: i64 = 1;

/// Each migration takes the database from version `index` to `index + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [V1];

const V1: &str = "
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

CREATE TABLE rollup_minute (
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
CREATE UNIQUE INDEX rollup_minute_key ON rollup_minute (scope, route, bucket, target, model);
CREATE INDEX rollup_minute_bucket ON rollup_minute (bucket);

CREATE TABLE rollup_hour (
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
CREATE UNIQUE INDEX rollup_hour_key ON rollup_hour (scope, route, bucket, target, model);
CREATE INDEX rollup_hour_bucket ON rollup_hour (bucket);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
";

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
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
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
