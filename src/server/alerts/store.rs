//! Alert state changes and silences in the history's SQLite file (tables `alert_events` and
//! `alert_silences`), kept whether or not the request history is on, so they survive restarts.
//! Every call blocks: the engine writes from a task of its own through `spawn_blocking`, and the
//! API reads the same way.

use crate::server::sqlite_file::SqliteFile;
use crate::views::{AlertChange, AlertHistoryPage, AlertState, SilenceView};
use chrono::{DateTime, Utc};
use rusqlite::params;
use std::path::Path;
use std::time::Duration;

/// Most entries one page returns.
pub const MAX_LIMIT: usize = 1_000;
/// Entries returned when no limit is given.
pub const DEFAULT_LIMIT: usize = 100;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS alert_events (
    id          INTEGER PRIMARY KEY,
    at_us       INTEGER NOT NULL,
    rule        TEXT    NOT NULL,
    metric      TEXT    NOT NULL,
    scope       TEXT    NOT NULL,
    route       TEXT,
    severity    TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    comparison  TEXT    NOT NULL,
    threshold   REAL    NOT NULL,
    value       REAL,
    started_us  INTEGER,
    silenced    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_events_at ON alert_events (at_us);
CREATE INDEX IF NOT EXISTS alert_events_rule ON alert_events (rule, id);
CREATE TABLE IF NOT EXISTS alert_silences (
    id          INTEGER PRIMARY KEY,
    rule        TEXT,
    route       TEXT,
    created_us  INTEGER NOT NULL,
    until_us    INTEGER NOT NULL,
    created_by  TEXT    NOT NULL,
    comment     TEXT    NOT NULL,
    ended_us    INTEGER
);
";

/// Which changes to list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistoryQuery {
    pub rule: Option<String>,
    pub severity: Option<String>,
    pub state: Option<AlertState>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only entries older than this id (the previous page's `next_cursor`).
    pub before: Option<u64>,
    pub limit: usize,
}

/// See the module docs.
#[derive(Debug)]
pub struct AlertStore {
    file: SqliteFile,
}

fn state_from(text: &str) -> AlertState {
    match text {
        "pending" => AlertState::Pending,
        "firing" => AlertState::Firing,
        "resolved" => AlertState::Resolved,
        _ => AlertState::Inactive,
    }
}

fn time(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

impl AlertStore {
    /// The store in the SQLite file at `path` (opened on first use, and again after a failure).
    pub fn new(path: &Path) -> Self {
        Self {
            file: SqliteFile::new(path, SCHEMA, "alert history"),
        }
    }

    /// Stores `changes` in one transaction; returns their ids.
    pub fn record(&self, changes: &[AlertChange]) -> Result<Vec<u64>, String> {
        self.with_conn(|conn| {
            let tx = conn.transaction()?;
            let mut ids = Vec::with_capacity(changes.len());
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO alert_events (at_us, rule, metric, scope, route, severity, \
                     state, comparison, threshold, value, started_us, silenced) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )?;
                for change in changes {
                    insert.execute(params![
                        change.at.timestamp_micros(),
                        change.rule,
                        change.metric,
                        change.scope,
                        change.route,
                        change.severity,
                        change.state.as_str(),
                        change.comparison,
                        change.threshold,
                        change.value,
                        change.started_at.map(|t| t.timestamp_micros()),
                        change.silenced,
                    ])?;
                    ids.push(u64::try_from(tx.last_insert_rowid()).unwrap_or(0));
                }
            }
            tx.commit()?;
            Ok(ids)
        })
    }

    /// A page of changes matching `query`, newest first.
    pub fn history(&self, query: &HistoryQuery) -> Result<AlertHistoryPage, String> {
        let limit = query.limit.clamp(1, MAX_LIMIT);
        self.with_conn(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT id, at_us, rule, metric, scope, route, severity, state, comparison, \
                 threshold, value, started_us, silenced FROM alert_events \
                 WHERE (?1 IS NULL OR rule = ?1) AND (?2 IS NULL OR severity = ?2) \
                 AND (?3 IS NULL OR state = ?3) AND (?4 IS NULL OR at_us >= ?4) \
                 AND (?5 IS NULL OR at_us <= ?5) AND (?6 IS NULL OR id < ?6) \
                 ORDER BY id DESC LIMIT ?7",
            )?;
            let rows = statement.query_map(
                params![
                    query.rule,
                    query.severity,
                    query.state.map(AlertState::as_str),
                    query.since.map(|t| t.timestamp_micros()),
                    query.until.map(|t| t.timestamp_micros()),
                    query.before.and_then(|id| i64::try_from(id).ok()),
                    (limit + 1) as i64,
                ],
                read_change,
            )?;
            let mut entries = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            let next_cursor = (entries.len() > limit).then(|| {
                entries.truncate(limit);
                entries.last().map_or(0, |entry| entry.id)
            });
            Ok(AlertHistoryPage {
                entries,
                next_cursor,
            })
        })
    }

    /// Each rule's newest change, if that is `firing` (the alerts firing when the gateway
    /// stopped).
    pub fn open_episodes(&self) -> Result<Vec<AlertChange>, String> {
        self.with_conn(|conn| {
            let mut statement = conn.prepare(
                "SELECT id, at_us, rule, metric, scope, route, severity, state, comparison, \
                 threshold, value, started_us, silenced FROM alert_events \
                 WHERE id IN (SELECT MAX(id) FROM alert_events GROUP BY rule) \
                 AND state = 'firing'",
            )?;
            let rows = statement.query_map([], read_change)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
    }

    /// Stores a new silence; returns its id.
    pub fn add_silence(&self, silence: &SilenceView) -> Result<u64, String> {
        self.with_conn(|conn| {
            conn.execute(
                "INSERT INTO alert_silences (rule, route, created_us, until_us, created_by, \
                 comment) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    silence.rule,
                    silence.route,
                    silence.created_at.timestamp_micros(),
                    silence.until.timestamp_micros(),
                    silence.created_by,
                    silence.comment,
                ],
            )?;
            Ok(u64::try_from(conn.last_insert_rowid()).unwrap_or(0))
        })
    }

    /// Ends silence `id` at `now`; false if there is no such silence in force.
    pub fn end_silence(&self, id: u64, now: DateTime<Utc>) -> Result<bool, String> {
        self.with_conn(|conn| {
            let changed = conn.execute(
                "UPDATE alert_silences SET ended_us = ?2 \
                 WHERE id = ?1 AND ended_us IS NULL AND until_us > ?2",
                params![
                    i64::try_from(id).unwrap_or(i64::MAX),
                    now.timestamp_micros()
                ],
            )?;
            Ok(changed == 1)
        })
    }

    /// The silences in force at `now`.
    pub fn active_silences(&self, now: DateTime<Utc>) -> Result<Vec<SilenceView>, String> {
        self.with_conn(|conn| {
            let mut statement = conn.prepare(
                "SELECT id, rule, route, created_us, until_us, created_by, comment \
                 FROM alert_silences WHERE ended_us IS NULL AND until_us > ?1 ORDER BY id",
            )?;
            let rows = statement.query_map(params![now.timestamp_micros()], |row| {
                Ok(SilenceView {
                    id: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
                    rule: row.get(1)?,
                    route: row.get(2)?,
                    created_at: time(row.get(3)?),
                    until: time(row.get(4)?),
                    created_by: row.get(5)?,
                    comment: row.get(6)?,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
    }

    /// Deletes changes and ended silences older than `retention`; returns the rows deleted.
    pub fn prune(&self, now: DateTime<Utc>, retention: Duration) -> Result<usize, String> {
        let cutoff = now - chrono::Duration::from_std(retention).unwrap_or_default();
        let cutoff = cutoff.timestamp_micros();
        self.with_conn(|conn| {
            let events =
                conn.execute("DELETE FROM alert_events WHERE at_us < ?1", params![cutoff])?;
            let silences = conn.execute(
                "DELETE FROM alert_silences WHERE until_us < ?1 OR ended_us < ?1",
                params![cutoff],
            )?;
            Ok(events + silences)
        })
    }
    /// Runs `use_conn` on the file's connection ([`SqliteFile::with`]).
    fn with_conn<T>(
        &self,
        use_conn: impl FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Result<T, String> {
        self.file.with(use_conn)
    }
}

fn read_change(row: &rusqlite::Row<'_>) -> rusqlite::Result<AlertChange> {
    let state: String = row.get(7)?;
    Ok(AlertChange {
        id: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
        at: time(row.get(1)?),
        rule: row.get(2)?,
        metric: row.get(3)?,
        scope: row.get(4)?,
        route: row.get(5)?,
        severity: row.get(6)?,
        state: state_from(&state),
        comparison: row.get(8)?,
        threshold: row.get(9)?,
        value: row.get(10)?,
        started_at: row.get::<_, Option<i64>>(11)?.map(time),
        silenced: row.get(12)?,
        firing_now: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(rule: &str, state: AlertState, second: i64) -> AlertChange {
        AlertChange {
            rule: rule.into(),
            metric: "error_rate".into(),
            scope: "route api".into(),
            route: Some("api".into()),
            severity: "critical".into(),
            state,
            comparison: "above".into(),
            threshold: 0.05,
            value: Some(0.5),
            at: DateTime::from_timestamp(1_700_000_000 + second, 0).unwrap(),
            started_at: (state != AlertState::Pending)
                .then(|| DateTime::from_timestamp(1_700_000_000, 0).unwrap()),
            ..AlertChange::default()
        }
    }

    #[test]
    fn changes_are_listed_newest_first_filtered_and_paged() {
        let dir = tempfile::tempdir().unwrap();
        let store = AlertStore::new(&dir.path().join("history.db"));
        let ids = store
            .record(&[
                change("a", AlertState::Pending, 0),
                change("a", AlertState::Firing, 1),
                change("b", AlertState::Firing, 2),
                change("a", AlertState::Resolved, 3),
            ])
            .unwrap();
        assert_eq!(ids.len(), 4);
        let page = store
            .history(&HistoryQuery {
                rule: Some("a".into()),
                limit: 2,
                ..HistoryQuery::default()
            })
            .unwrap();
        let states: Vec<_> = page.entries.iter().map(|e| e.state).collect();
        assert_eq!(states, [AlertState::Resolved, AlertState::Firing]);
        assert_eq!(page.entries[0].value, Some(0.5));
        assert_eq!(
            page.entries[0].started_at,
            DateTime::from_timestamp(1_700_000_000, 0)
        );
        let rest = store
            .history(&HistoryQuery {
                rule: Some("a".into()),
                before: page.next_cursor,
                limit: 2,
                ..HistoryQuery::default()
            })
            .unwrap();
        assert_eq!(rest.entries.len(), 1);
        assert_eq!(rest.next_cursor, None);
        let firing = store
            .history(&HistoryQuery {
                state: Some(AlertState::Firing),
                since: DateTime::from_timestamp(1_700_000_002, 0),
                limit: 10,
                ..HistoryQuery::default()
            })
            .unwrap();
        assert_eq!(firing.entries.len(), 1);
        assert_eq!(firing.entries[0].rule, "b");
        // "b" still fires; "a" resolved.
        let open = store.open_episodes().unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].rule, "b");
    }

    #[test]
    fn silences_survive_reopening_until_they_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let now = Utc::now();
        let silence = SilenceView {
            id: 0,
            rule: Some("a".into()),
            route: None,
            created_at: now,
            until: now + chrono::Duration::hours(1),
            created_by: "alice".into(),
            comment: "deploy".into(),
        };
        let id = AlertStore::new(&path).add_silence(&silence).unwrap();
        let store = AlertStore::new(&path);
        let active = store.active_silences(now).unwrap();
        assert_eq!(active.len(), 1);
        assert_eq!((active[0].id, active[0].comment.as_str()), (id, "deploy"));
        assert!(
            store
                .active_silences(now + chrono::Duration::hours(2))
                .unwrap()
                .is_empty(),
            "expired"
        );
        assert!(store.end_silence(id, now).unwrap());
        assert!(!store.end_silence(id, now).unwrap(), "already ended");
        assert!(store.active_silences(now).unwrap().is_empty());
    }
}
