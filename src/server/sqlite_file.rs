//! One SQLite connection to a file beside the history, opened on first use with its schema
//! created, and opened afresh after any failure (a full disk may clear, the file may be
//! replaced). The audit log and the alert store each keep one; every call blocks, so callers
//! run on a thread of their own or through `spawn_blocking`.

use rusqlite::Connection;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// How long a statement waits for another connection's write lock on the file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// See the module docs.
#[derive(Debug)]
pub struct SqliteFile {
    path: PathBuf,
    schema: &'static str,
    /// What is stored, as error messages name it ("audit log").
    what: &'static str,
    conn: Mutex<Option<Connection>>,
}

impl SqliteFile {
    /// The file at `path`, holding `what`, with the tables of `schema` (`CREATE … IF NOT
    /// EXISTS` statements, run on every open). Nothing is opened yet.
    pub fn new(path: &Path, schema: &'static str, what: &'static str) -> Self {
        Self {
            path: path.to_path_buf(),
            schema,
            what,
            conn: Mutex::new(None),
        }
    }

    /// Where it is stored.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `use_conn` on the connection, opening it first if needed; an error of either is
    /// returned as text naming what is stored, and the connection is opened afresh next time.
    pub fn with<T, E: Display>(
        &self,
        use_conn: impl FnOnce(&mut Connection) -> Result<T, E>,
    ) -> Result<T, String> {
        let mut slot = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(self.open().map_err(|error| {
                format!(
                    "cannot open the {} in {}: {error}",
                    self.what,
                    self.path.display()
                )
            })?);
        }
        let conn = slot.as_mut().expect("opened above");
        let result = use_conn(conn);
        if result.is_err() {
            *slot = None;
        }
        result.map_err(|error| format!("{}: {error}", self.what))
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(parent);
        }
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.execute_batch(self.schema)?;
        Ok(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS notes (text TEXT NOT NULL);";

    #[test]
    fn creates_the_schema_and_reopens_after_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let file = SqliteFile::new(&dir.path().join("sub/notes.db"), SCHEMA, "notes");
        file.with(|conn| conn.execute("INSERT INTO notes VALUES ('a')", []))
            .unwrap();
        let failed = file.with(|_| Err::<(), _>("disk full"));
        assert_eq!(failed.unwrap_err(), "notes: disk full");
        // Opened afresh: the schema is there and the row kept.
        let count: i64 = file
            .with(|conn| conn.query_row("SELECT count(*) FROM notes", [], |row| row.get(0)))
            .unwrap();
        assert_eq!(count, 1);
    }

    #[test]
    fn a_file_that_cannot_be_opened_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("blocker");
        std::fs::write(&blocker, "a file, not a directory").unwrap();
        let file = SqliteFile::new(&blocker.join("notes.db"), SCHEMA, "notes");
        let error = file.with(|_| Ok::<(), String>(())).unwrap_err();
        assert!(
            error.starts_with(&format!("cannot open the notes in {}", blocker.display())),
            "{error}"
        );
    }
}
