//! Per-minute and per-hour traffic summaries: what the writer adds up for each transaction and
//! how it merges that into the stored rows.
//!
//! SQL cannot add latency histograms, so a stored rollup is updated by reading it (or taking it
//! from a small cache of the buckets still being filled), merging the new traffic in Rust and
//! writing the whole row back. The cache only ever holds what is committed, so a restart or a
//! failed transaction loses nothing: the next write reads the row again.

use super::schema::Scope;
use crate::server::records::histogram::LatencyHistogram;
use crate::views::{RequestRecord, StatusClasses};
use foldhash::HashMap;
use rusqlite::{Connection, OptionalExtension, Row, params};

/// The columns [`Rollup::read`] expects, in order.
macro_rules! rollup_value_columns {
    () => {
        "requests, errors, status_1xx, status_2xx, status_3xx, status_4xx, status_5xx, \
         bytes_in, bytes_out, input_tokens, output_tokens, latency"
    };
}

macro_rules! upsert_sql {
    ($table:literal) => {
        concat!(
            "INSERT INTO ",
            $table,
            " (scope, route, bucket, target, model, ",
            rollup_value_columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) \
             ON CONFLICT (scope, route, bucket, target, model) DO UPDATE SET \
             requests = excluded.requests, errors = excluded.errors, \
             status_1xx = excluded.status_1xx, status_2xx = excluded.status_2xx, \
             status_3xx = excluded.status_3xx, status_4xx = excluded.status_4xx, \
             status_5xx = excluded.status_5xx, bytes_in = excluded.bytes_in, \
             bytes_out = excluded.bytes_out, input_tokens = excluded.input_tokens, \
             output_tokens = excluded.output_tokens, latency = excluded.latency"
        )
    };
}

macro_rules! select_one_sql {
    ($table:literal) => {
        concat!(
            "SELECT ",
            rollup_value_columns!(),
            " FROM ",
            $table,
            " WHERE scope = ?1 AND route = ?2 AND bucket = ?3 AND target = ?4 AND model = ?5"
        )
    };
}

macro_rules! select_range_sql {
    ($table:literal) => {
        concat!(
            "SELECT bucket, ",
            rollup_value_columns!(),
            " FROM ",
            $table,
            " WHERE scope = ?1 AND route = ?2 AND bucket >= ?3 AND bucket < ?4"
        )
    };
}

/// The width of a rollup bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grain {
    Minute,
    Hour,
}

impl Grain {
    pub const ALL: [Self; 2] = [Self::Minute, Self::Hour];

    /// Bucket width in seconds.
    pub fn secs(self) -> i64 {
        match self {
            Self::Minute => 60,
            Self::Hour => 3_600,
        }
    }

    /// The start (Unix seconds) of the bucket holding `unix_secs`.
    pub fn bucket_of(self, unix_secs: i64) -> i64 {
        unix_secs.div_euclid(self.secs()) * self.secs()
    }

    fn upsert_sql(self) -> &'static str {
        match self {
            Self::Minute => upsert_sql!("rollup_minute"),
            Self::Hour => upsert_sql!("rollup_hour"),
        }
    }

    /// Selects `bucket` and the value columns (read with `Rollup::read(row, 1)`) of one scope and
    /// route over `[?3, ?4)`.
    pub fn select_range_sql(self) -> &'static str {
        match self {
            Self::Minute => select_range_sql!("rollup_minute"),
            Self::Hour => select_range_sql!("rollup_hour"),
        }
    }

    fn select_one_sql(self) -> &'static str {
        match self {
            Self::Minute => select_one_sql!("rollup_minute"),
            Self::Hour => select_one_sql!("rollup_hour"),
        }
    }
}

/// Which row of which table a rollup is stored in. `''` stands for "none" (no route matched, no
/// target, not an LLM answer) and, at the wider scopes, for "all".
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    pub grain: Grain,
    pub scope: Scope,
    pub route: String,
    /// Bucket start, Unix seconds.
    pub bucket: i64,
    pub target: String,
    pub model: String,
}

/// Traffic summed over one bucket.
#[derive(Clone, Debug, Default)]
pub struct Rollup {
    pub requests: u64,
    /// Requests with an error kind.
    pub errors: u64,
    pub status: StatusClasses,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub latency: LatencyHistogram,
}

impl Rollup {
    /// Counts one request.
    pub fn record(&mut self, record: &RequestRecord) {
        self.requests += 1;
        self.errors += u64::from(record.error.is_some());
        self.status.count(record.status);
        self.bytes_in = self.bytes_in.saturating_add(record.bytes_in);
        self.bytes_out = self.bytes_out.saturating_add(record.bytes_out);
        if let Some(llm) = &record.llm {
            let tokens = |t: Option<u64>| t.unwrap_or(0);
            self.input_tokens = self.input_tokens.saturating_add(tokens(llm.input_tokens));
            self.output_tokens = self.output_tokens.saturating_add(tokens(llm.output_tokens));
        }
        self.latency.record(record.latency_us);
    }

    /// Adds everything counted in `other`.
    pub fn merge(&mut self, other: &Self) {
        self.requests = self.requests.saturating_add(other.requests);
        self.errors = self.errors.saturating_add(other.errors);
        self.status.add(&other.status);
        self.bytes_in = self.bytes_in.saturating_add(other.bytes_in);
        self.bytes_out = self.bytes_out.saturating_add(other.bytes_out);
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.latency.merge(&other.latency);
    }

    /// Reads the value columns (`requests` … `latency`) starting at column `first`. A histogram that does not
    /// decode is logged and counted as empty: the counters are still right.
    pub fn read(row: &Row<'_>, first: usize) -> rusqlite::Result<Self> {
        let int =
            |i: usize| -> rusqlite::Result<u64> { row.get::<_, i64>(first + i).map(|v| v as u64) };
        let blob: &[u8] = row.get_ref(first + 11)?.as_blob()?;
        let latency = LatencyHistogram::from_bytes(blob).unwrap_or_else(|| {
            tracing::warn!("history: a stored latency histogram does not decode; counted as empty");
            LatencyHistogram::default()
        });
        Ok(Self {
            requests: int(0)?,
            errors: int(1)?,
            status: StatusClasses {
                informational: int(2)?,
                success: int(3)?,
                redirection: int(4)?,
                client_error: int(5)?,
                server_error: int(6)?,
            },
            bytes_in: int(7)?,
            bytes_out: int(8)?,
            input_tokens: int(9)?,
            output_tokens: int(10)?,
            latency,
        })
    }
}

/// The traffic of one write transaction, summed per minute and (route, target, model); borrows
/// the strings from the records so counting a request allocates nothing.
#[derive(Default)]
pub struct BatchRollups<'a> {
    minutes: HashMap<(i64, &'a str, &'a str, &'a str), Rollup>,
}

impl<'a> BatchRollups<'a> {
    /// Counts `record` in its minute.
    pub fn record(&mut self, record: &'a RequestRecord) {
        let minute = Grain::Minute.bucket_of(record.at.timestamp());
        let key = (
            minute,
            record.route.as_deref().unwrap_or(""),
            record.target.as_deref().unwrap_or(""),
            record.llm.as_ref().map_or("", |l| l.model.as_str()),
        );
        self.minutes.entry(key).or_default().record(record);
    }

    /// Every rollup row this traffic adds to: both grains, all three scopes.
    pub fn into_deltas(self) -> HashMap<RollupKey, Rollup> {
        let mut deltas: HashMap<RollupKey, Rollup> = HashMap::default();
        for ((minute, route, target, model), rollup) in self.minutes {
            for grain in Grain::ALL {
                let bucket = grain.bucket_of(minute);
                let keys = [
                    (Scope::Key, route, target, model),
                    (Scope::Route, route, "", ""),
                    (Scope::All, "", "", ""),
                ];
                for (scope, route, target, model) in keys {
                    let key = RollupKey {
                        grain,
                        scope,
                        route: route.to_owned(),
                        bucket,
                        target: target.to_owned(),
                        model: model.to_owned(),
                    };
                    deltas.entry(key).or_default().merge(&rollup);
                }
            }
        }
        deltas
    }
}

/// Writes rollups, remembering the stored value of the buckets still being filled.
#[derive(Default)]
pub struct RollupStore {
    /// Committed values of recent buckets.
    cache: HashMap<RollupKey, Rollup>,
    /// The newest bucket written, per grain (index: `Grain as usize`).
    newest: [i64; 2],
}

/// Rollups written in a transaction that has not committed yet.
pub struct Pending(Vec<(RollupKey, Rollup)>);

impl RollupStore {
    /// Adds `deltas` to the stored rows, inside the caller's transaction. Hand the result to
    /// [`Self::committed`] once the transaction commits, or call [`Self::forget`] if it fails.
    pub fn write(
        &self,
        conn: &Connection,
        deltas: HashMap<RollupKey, Rollup>,
    ) -> rusqlite::Result<Pending> {
        let mut written = Vec::with_capacity(deltas.len());
        for (key, mut rollup) in deltas {
            match self.cache.get(&key) {
                Some(stored) => rollup.merge(stored),
                None => {
                    if let Some(stored) = read_one(conn, &key)? {
                        rollup.merge(&stored);
                    }
                }
            }
            let mut upsert = conn.prepare_cached(key.grain.upsert_sql())?;
            upsert.execute(params![
                key.scope as i64,
                key.route,
                key.bucket,
                key.target,
                key.model,
                rollup.requests as i64,
                rollup.errors as i64,
                rollup.status.informational as i64,
                rollup.status.success as i64,
                rollup.status.redirection as i64,
                rollup.status.client_error as i64,
                rollup.status.server_error as i64,
                rollup.bytes_in as i64,
                rollup.bytes_out as i64,
                rollup.input_tokens as i64,
                rollup.output_tokens as i64,
                rollup.latency.to_bytes(),
            ])?;
            written.push((key, rollup));
        }
        Ok(Pending(written))
    }

    /// Remembers what a committed transaction stored, and lets go of buckets that are no longer
    /// being filled (anything before the previous bucket of the newest one written).
    pub fn committed(&mut self, pending: Pending) {
        for (key, _) in &pending.0 {
            let newest = &mut self.newest[key.grain as usize];
            *newest = (*newest).max(key.bucket);
        }
        self.cache.extend(pending.0);
        let newest = self.newest;
        self.cache
            .retain(|key, _| key.bucket >= newest[key.grain as usize] - key.grain.secs());
    }

    /// Drops every remembered value (after a failed transaction: the database is the truth).
    pub fn forget(&mut self) {
        self.cache.clear();
    }
}

/// The stored rollup at `key`, if any.
fn read_one(conn: &Connection, key: &RollupKey) -> rusqlite::Result<Option<Rollup>> {
    let mut select = conn.prepare_cached(key.grain.select_one_sql())?;
    select
        .query_row(
            params![
                key.scope as i64,
                key.route,
                key.bucket,
                key.target,
                key.model
            ],
            |row| Rollup::read(row, 0),
        )
        .optional()
}
