//! Stored times, and the version 1 layout (one row of `requests` per request), which only the
//! migration to segments still reads.
//!
//! Precision: `at` is stored as whole microseconds since the Unix epoch (rounded down), so a
//! record read back equals the one written with `at` truncated to the microsecond
//! ([`truncate_to_micros`](crate::server::records::record::truncate_to_micros), the precision
//! every record is made with). Every other field round-trips exactly: `u64` counters are stored
//! as SQLite's signed 64-bit integers bit for bit (values above `i64::MAX` read back unchanged), and
//! `seq` must fit in an `i64` because it orders the rows (the writer refuses larger ones).

use crate::views::{LlmUsage, RequestRecord};
use chrono::{DateTime, Utc};
use compact_str::CompactString;
use rusqlite::Row;
use rusqlite::types::{FromSql, FromSqlError, ValueRef};
#[cfg(test)]
use rusqlite::{Statement, params};

/// The columns [`read`] expects, in order.
pub const COLUMNS: &str = "seq, request_id, at_us, method, path, route, target, status, \
    latency_us, upstream_us, bytes_in, bytes_out, client, user_agent, error, attempts, model, \
    input_tokens, output_tokens, streamed, first_token_us";

/// Inserts one version 1 row (tests write old files with it).
#[cfg(test)]
pub const INSERT: &str = "INSERT INTO requests (seq, request_id, at_us, method, path, route, \
    target, status, latency_us, upstream_us, bytes_in, bytes_out, client, user_agent, error, \
    attempts, model, input_tokens, output_tokens, streamed, first_token_us) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
    ?19, ?20, ?21) ON CONFLICT (seq) DO NOTHING";

/// `at` as stored: microseconds since the epoch, rounded down.
pub fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// The smallest stored time that is not before `at` (rounded up): `stored >= micros_ceil(t)`
/// holds exactly when the record read back has `at >= t`.
pub fn micros_ceil(at: DateTime<Utc>) -> i64 {
    let floor = at.timestamp_micros();
    if at.timestamp_subsec_nanos().is_multiple_of(1_000) {
        floor
    } else {
        floor.saturating_add(1)
    }
}

/// Stores `record` as a version 1 row; `Ok(false)` when a row with that `seq` already exists.
#[cfg(test)]
pub fn insert(
    statement: &mut Statement<'_>,
    seq: i64,
    record: &RequestRecord,
) -> rusqlite::Result<bool> {
    let llm = record.llm.as_ref();
    let changed = statement.execute(params![
        seq,
        record.request_id.as_str(),
        micros(record.at),
        record.method.as_str(),
        record.path.as_str(),
        record.route.as_deref(),
        record.target.as_deref(),
        record.status,
        record.latency_us as i64,
        record.upstream_us.map(|v| v as i64),
        record.bytes_in as i64,
        record.bytes_out as i64,
        record.client.as_str(),
        record.user_agent.as_deref(),
        record.error.as_deref(),
        record.attempts,
        llm.map(|l| l.model.as_str()),
        llm.and_then(|l| l.input_tokens).map(|v| v as i64),
        llm.and_then(|l| l.output_tokens).map(|v| v as i64),
        llm.map(|l| l.streamed),
        llm.and_then(|l| l.first_token_us).map(|v| v as i64),
    ])?;
    Ok(changed == 1)
}

/// Reads a row selected with [`COLUMNS`].
pub fn read(row: &Row<'_>) -> rusqlite::Result<RequestRecord> {
    let at_us: i64 = row.get(2)?;
    let at = DateTime::from_timestamp_micros(at_us).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            2,
            rusqlite::types::Type::Integer,
            format!("at_us {at_us} is out of range").into(),
        )
    })?;
    let model: Option<String> = row.get(16)?;
    let llm = match model {
        None => None,
        Some(model) => Some(LlmUsage {
            model,
            input_tokens: row.get::<_, Option<Bits>>(17)?.map(|b| b.0),
            output_tokens: row.get::<_, Option<Bits>>(18)?.map(|b| b.0),
            streamed: row.get::<_, Option<bool>>(19)?.unwrap_or(false),
            first_token_us: row.get::<_, Option<Bits>>(20)?.map(|b| b.0),
        }),
    };
    Ok(RequestRecord {
        seq: row.get::<_, Bits>(0)?.0,
        request_id: row.get::<_, Text>(1)?.0,
        at,
        method: row.get::<_, Text>(3)?.0,
        path: row.get::<_, Text>(4)?.0,
        route: row.get::<_, Option<Text>>(5)?.map(|t| t.0),
        target: row.get::<_, Option<Text>>(6)?.map(|t| t.0),
        status: row.get(7)?,
        latency_us: row.get::<_, Bits>(8)?.0,
        upstream_us: row.get::<_, Option<Bits>>(9)?.map(|b| b.0),
        bytes_in: row.get::<_, Bits>(10)?.0,
        bytes_out: row.get::<_, Bits>(11)?.0,
        client: row.get::<_, Text>(12)?.0,
        user_agent: row.get::<_, Option<Text>>(13)?.map(|t| t.0),
        error: row.get::<_, Option<Text>>(14)?.map(|t| t.0),
        attempts: row.get(15)?,
        llm,
    })
}

/// A `u64` stored bit for bit in SQLite's `i64` (rusqlite refuses negative integers as `u64`).
pub struct Bits(pub u64);

impl FromSql for Bits {
    fn column_result(value: ValueRef<'_>) -> Result<Self, FromSqlError> {
        i64::column_result(value).map(|v| Self(v as u64))
    }
}

/// A text column read straight into a [`CompactString`] (no `String` in between).
pub struct Text(pub CompactString);

impl FromSql for Text {
    fn column_result(value: ValueRef<'_>) -> Result<Self, FromSqlError> {
        value.as_str().map(|text| Self(CompactString::new(text)))
    }
}
