//! The audit log: every config apply, rollback and rejected apply, every sign-in (success and
//! failure) and sign-out, and every later admin write, in the `audit_log` table of the history's
//! SQLite file (kept whether or not the request history is on), for `audit.retention_days`.
//!
//! A config change is written in the same transaction as its audit entry
//! ([`AuditLog::record_with`]): when the entry cannot be stored, the change is refused, so no
//! change goes unaudited. Reads and writes block: call them from `spawn_blocking`.

use crate::diff::DiffLine;
use crate::server::sqlite_file::SqliteFile;
use crate::views::{AuditEntry, AuditPage, Role};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// Most entries one page returns.
pub const MAX_LIMIT: usize = 1_000;
/// Entries returned when no limit is given.
pub const DEFAULT_LIMIT: usize = 100;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_log (
    id             INTEGER PRIMARY KEY,
    at_us          INTEGER NOT NULL,
    actor          TEXT    NOT NULL,
    role           TEXT,
    client         TEXT    NOT NULL,
    action         TEXT    NOT NULL,
    outcome        TEXT    NOT NULL,
    version_before TEXT,
    version_after  TEXT,
    summary        TEXT    NOT NULL,
    diff           TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at_us);
CREATE INDEX IF NOT EXISTS audit_log_version_after ON audit_log (version_after);
";

/// An entry to store (its id and time are given when it is stored).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewEntry {
    pub actor: String,
    pub role: Option<Role>,
    pub client: String,
    pub action: String,
    pub outcome: String,
    pub version_before: Option<String>,
    pub version_after: Option<String>,
    pub summary: Vec<String>,
    pub diff: Vec<DiffLine>,
}

/// Which entries to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only entries older than this id (the previous page's `next_cursor`).
    pub before: Option<u64>,
    pub limit: usize,
}

/// The audit log's store.
#[derive(Debug)]
pub struct AuditLog {
    file: SqliteFile,
    retention: Duration,
}

impl AuditLog {
    /// The audit log in the SQLite file at `path` (created if missing), keeping entries for
    /// `retention`. Opening is retried on every use while it fails (a full disk may clear).
    pub fn new(path: &Path, retention: Duration) -> Self {
        let log = Self {
            file: SqliteFile::new(path, SCHEMA, "audit log"),
            retention,
        };
        if let Err(error) = log.with_conn(|_| Ok(())) {
            tracing::error!(path = %path.display(), %error, "audit log unavailable: config changes will be refused until it can be written");
        }
        log
    }

    /// Where it is stored.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Stores `entry` now.
    pub fn record(&self, entry: &NewEntry) -> Result<u64, String> {
        self.record_with(entry, || Ok(())).map(|(id, ())| id)
    }

    /// Stores `entry` and runs `change` in one transaction: the entry is kept only when `change`
    /// succeeds, and `change` runs only when the entry could be written.
    pub fn record_with<T>(
        &self,
        entry: &NewEntry,
        change: impl FnOnce() -> Result<T, String>,
    ) -> Result<(u64, T), String> {
        self.with_conn(|conn| {
            let tx = conn.transaction().map_err(|e| e.to_string())?;
            tx.execute(
                "INSERT INTO audit_log (at_us, actor, role, client, action, outcome, \
                 version_before, version_after, summary, diff) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    Utc::now().timestamp_micros(),
                    entry.actor,
                    entry.role.map(Role::as_str),
                    entry.client,
                    entry.action,
                    entry.outcome,
                    entry.version_before,
                    entry.version_after,
                    serde_json::to_string(&entry.summary).map_err(|e| e.to_string())?,
                    serde_json::to_string(&entry.diff).map_err(|e| e.to_string())?,
                ],
            )
            .map_err(|e| e.to_string())?;
            let id = u64::try_from(tx.last_insert_rowid()).unwrap_or(0);
            let changed = change()?;
            tx.commit().map_err(|e| e.to_string())?;
            Ok((id, changed))
        })
    }

    /// A page of entries matching `query`, newest first.
    pub fn list(&self, query: &AuditQuery) -> Result<AuditPage, String> {
        let limit = query.limit.clamp(1, MAX_LIMIT);
        self.with_conn(|conn| {
            let mut statement = conn
                .prepare(
                    "SELECT id, at_us, actor, role, client, action, outcome, version_before, \
                     version_after, summary, diff FROM audit_log \
                     WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action = ?2) \
                     AND (?3 IS NULL OR at_us >= ?3) AND (?4 IS NULL OR at_us <= ?4) \
                     AND (?5 IS NULL OR id < ?5) ORDER BY id DESC LIMIT ?6",
                )
                .map_err(|e| e.to_string())?;
            let rows = statement
                .query_map(
                    params![
                        query.actor,
                        query.action,
                        query.since.map(|t| t.timestamp_micros()),
                        query.until.map(|t| t.timestamp_micros()),
                        query.before.and_then(|id| i64::try_from(id).ok()),
                        (limit + 1) as i64,
                    ],
                    read_entry,
                )
                .map_err(|e| e.to_string())?;
            let mut entries = rows
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| e.to_string())?;
            let next_cursor = (entries.len() > limit).then(|| {
                entries.truncate(limit);
                entries.last().map_or(0, |entry| entry.id)
            });
            Ok(AuditPage {
                entries,
                next_cursor,
            })
        })
    }

    /// One entry by id.
    pub fn get(&self, id: u64) -> Result<Option<AuditEntry>, String> {
        self.with_conn(|conn| {
            conn.query_row(
                "SELECT id, at_us, actor, role, client, action, outcome, version_before, \
                 version_after, summary, diff FROM audit_log WHERE id = ?1",
                params![i64::try_from(id).unwrap_or(i64::MAX)],
                read_entry,
            )
            .optional()
            .map_err(|e| e.to_string())
        })
    }

    /// Who wrote each of `versions` (config version ids, see
    /// [`version_id`](super::config_edit::version_id)): the actor of the newest applied change
    /// that made that text the config. A version no audited change wrote (edited by hand) has
    /// no entry.
    pub fn authors(&self, versions: &[String]) -> Result<HashMap<String, String>, String> {
        self.with_conn(|conn| {
            let mut statement = conn
                .prepare(
                    "SELECT actor FROM audit_log WHERE version_after = ?1 AND outcome = 'ok' \
                     AND action IN ('config.apply', 'config.rollback') ORDER BY id DESC LIMIT 1",
                )
                .map_err(|e| e.to_string())?;
            let mut authors = HashMap::new();
            for version in versions {
                let author: Option<String> = statement
                    .query_row(params![version], |row| row.get(0))
                    .optional()
                    .map_err(|e| e.to_string())?;
                if let Some(author) = author {
                    authors.insert(version.clone(), author);
                }
            }
            Ok(authors)
        })
    }

    /// Deletes entries older than the retention; returns how many went.
    pub fn prune(&self, now: DateTime<Utc>) -> Result<usize, String> {
        let cutoff = now - chrono::Duration::from_std(self.retention).unwrap_or_default();
        self.with_conn(|conn| {
            conn.execute(
                "DELETE FROM audit_log WHERE at_us < ?1",
                params![cutoff.timestamp_micros()],
            )
            .map_err(|e| e.to_string())
        })
    }
    /// Runs `use_conn` on the file's connection ([`SqliteFile::with`]).
    fn with_conn<T>(
        &self,
        use_conn: impl FnOnce(&mut rusqlite::Connection) -> Result<T, String>,
    ) -> Result<T, String> {
        self.file.with(use_conn)
    }
}

fn read_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    let role: Option<String> = row.get(3)?;
    let summary: String = row.get(9)?;
    let diff: String = row.get(10)?;
    Ok(AuditEntry {
        id: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
        at: DateTime::from_timestamp_micros(row.get(1)?).unwrap_or_default(),
        actor: row.get(2)?,
        role: match role.as_deref() {
            Some("admin") => Some(Role::Admin),
            Some("viewer") => Some(Role::Viewer),
            _ => None,
        },
        client: row.get(4)?,
        action: row.get(5)?,
        outcome: row.get(6)?,
        version_before: row.get(7)?,
        version_after: row.get(8)?,
        summary: serde_json::from_str(&summary).unwrap_or_default(),
        diff: serde_json::from_str(&diff).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(actor: &str, action: &str) -> NewEntry {
        NewEntry {
            actor: actor.into(),
            role: Some(Role::Admin),
            client: "127.0.0.1".into(),
            action: action.into(),
            outcome: "ok".into(),
            summary: vec!["routes added: api".into()],
            ..NewEntry::default()
        }
    }

    #[test]
    fn entries_are_listed_newest_first_by_filter_and_page() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(&dir.path().join("history.db"), Duration::from_secs(86_400));
        for n in 0..5 {
            log.record(&entry(
                if n % 2 == 0 { "alice" } else { "bob" },
                "config.apply",
            ))
            .unwrap();
        }
        log.record(&entry("alice", "login")).unwrap();
        let all = log
            .list(&AuditQuery {
                limit: 10,
                ..AuditQuery::default()
            })
            .unwrap();
        assert_eq!(all.entries.len(), 6);
        assert_eq!(all.entries[0].action, "login");
        assert_eq!(all.entries[1].summary, ["routes added: api"]);
        let alice_applies = log
            .list(&AuditQuery {
                actor: Some("alice".into()),
                action: Some("config.apply".into()),
                limit: 2,
                ..AuditQuery::default()
            })
            .unwrap();
        assert_eq!(alice_applies.entries.len(), 2);
        let rest = log
            .list(&AuditQuery {
                actor: Some("alice".into()),
                action: Some("config.apply".into()),
                before: alice_applies.next_cursor,
                limit: 2,
                ..AuditQuery::default()
            })
            .unwrap();
        assert_eq!(rest.entries.len(), 1);
        assert_eq!(rest.next_cursor, None);
        assert!(rest.entries[0].id < alice_applies.entries[1].id);
    }

    #[test]
    fn a_change_is_kept_only_with_its_entry_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let log = AuditLog::new(&path, Duration::from_secs(86_400));
        let failed: Result<(u64, ()), String> =
            log.record_with(&entry("alice", "config.apply"), || Err("disk full".into()));
        assert_eq!(failed.unwrap_err(), "audit log: disk full");
        let (id, value) = log
            .record_with(&entry("alice", "config.apply"), || Ok(7))
            .unwrap();
        assert_eq!(value, 7);
        drop(log);
        let reopened = AuditLog::new(&path, Duration::from_secs(86_400));
        let page = reopened
            .list(&AuditQuery {
                limit: 10,
                ..AuditQuery::default()
            })
            .unwrap();
        assert_eq!(page.entries.len(), 1, "the failed change left no entry");
        assert_eq!(page.entries[0].id, id);
        assert!(reopened.get(id).unwrap().is_some());
    }

    #[test]
    fn an_unwritable_store_refuses_the_change() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be: SQLite cannot open it.
        let path = dir.path().join("history.db");
        std::fs::create_dir(&path).unwrap();
        let log = AuditLog::new(&path, Duration::from_secs(86_400));
        let mut ran = false;
        let result = log.record_with(&entry("alice", "config.apply"), || {
            ran = true;
            Ok(())
        });
        assert!(result.is_err());
        assert!(!ran, "the change must not run unaudited");
    }

    #[test]
    fn a_version_is_authored_by_the_change_that_wrote_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(&dir.path().join("history.db"), Duration::from_secs(86_400));
        let write = |actor: &str, after: &str, outcome: &str| {
            log.record(&NewEntry {
                version_after: Some(after.into()),
                outcome: outcome.into(),
                ..entry(actor, "config.apply")
            })
            .unwrap();
        };
        write("alice", "aaaa", "ok");
        write("bob", "bbbb", "ok");
        write("carol", "cccc", "rejected");
        write("bob", "aaaa", "ok");
        let authors = log
            .authors(&["aaaa".into(), "bbbb".into(), "cccc".into(), "dddd".into()])
            .unwrap();
        assert_eq!(authors.get("aaaa").map(String::as_str), Some("bob"));
        assert_eq!(authors.get("bbbb").map(String::as_str), Some("bob"));
        assert_eq!(authors.get("cccc"), None, "a rejected change wrote nothing");
        assert_eq!(authors.get("dddd"), None);
    }
}
