//! A segment: up to [`SEGMENT_ROWS`] request records, consecutive in `seq`, packed into one
//! blob. The history stores segments instead of one SQLite row per request, which made every
//! request cost four B-tree inserts (the table and three indexes, ~4 µs of the writer's CPU);
//! a segment costs one insert per write and a few hundred nanoseconds of encoding per record.
//!
//! Layout (all integers LEB128 varints; signed ones zigzagged):
//!
//! ```text
//! format (1 byte, = FORMAT) | string count | strings (length, UTF-8 bytes)… | row count | rows…
//! row: seq − previous seq | at_us − previous at_us (signed) | presence flags
//!      | request_id, method, path, client (string indexes)
//!      | [route] [target] [user_agent] [error] (string indexes, when present)
//!      | status | latency_us | [upstream_us] | bytes_in | bytes_out | attempts
//!      | [model (string index) [input_tokens] [output_tokens] [first_token_us]]
//! ```
//!
//! "Previous" starts at the segment's first `seq` and at 0. Every string is stored once per
//! segment: the table at the front also lets a query skip a segment without decoding its rows
//! when a value it asks for exactly (route, target, method, client, model) is not in the table
//! ([`Stored::may_match`]). Decoding checks every length and index: damaged data is an error, never a
//! panic.

use super::row;
use crate::request_filter::RequestQuery;
use crate::views::{LlmUsage, RequestRecord};
use chrono::{DateTime, Utc};
use foldhash::HashMap;
use std::sync::Arc;

/// The most records in one segment. The writer appends to its newest segment until it is full,
/// so a quiet gateway does not leave one tiny segment per write.
pub const SEGMENT_ROWS: usize = 1024;

/// The layout version written in a segment's first byte.
const FORMAT: u8 = 1;

/// Presence flags of a row's optional fields.
mod flag {
    pub const ROUTE: u64 = 1;
    pub const TARGET: u64 = 1 << 1;
    pub const USER_AGENT: u64 = 1 << 2;
    pub const ERROR: u64 = 1 << 3;
    pub const UPSTREAM_US: u64 = 1 << 4;
    pub const LLM: u64 = 1 << 5;
    pub const INPUT_TOKENS: u64 = 1 << 6;
    pub const OUTPUT_TOKENS: u64 = 1 << 7;
    pub const STREAMED: u64 = 1 << 8;
    pub const FIRST_TOKEN_US: u64 = 1 << 9;
}

/// A segment ready to store: the blob and the columns queries select segments by.
#[derive(Debug)]
pub struct Encoded {
    pub first_seq: i64,
    pub last_seq: i64,
    /// The earliest and latest `at` of its records, in stored microseconds.
    pub min_at_us: i64,
    pub max_at_us: i64,
    pub rows: i64,
    pub data: Vec<u8>,
    /// [`super::id_filter`] over the records' request ids.
    pub id_filter: Vec<u8>,
}

/// Why a blob could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("damaged history segment: {0}")]
pub struct Corrupt(&'static str);

/// A damaged segment fails the statement reading it (with the reason) rather than hiding rows.
impl From<Corrupt> for rusqlite::Error {
    fn from(error: Corrupt) -> Self {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(error))
    }
}

/// Packs `records`: non-empty, in increasing `seq` order, every `seq` within `i64` (the writer
/// checks all three).
pub fn encode(records: &[RequestRecord]) -> Encoded {
    let mut builder = Builder::default();
    for record in records {
        builder.push(record);
    }
    builder.finish()
}

/// A segment being filled: records are encoded as they are pushed, so the writer can rewrite
/// its newest segment with a few more records at the cost of those records and one copy.
#[derive(Default)]
pub struct Builder {
    strings: StringTable,
    rows: Vec<u8>,
    count: usize,
    first_seq: u64,
    previous_seq: u64,
    previous_at: i64,
    min_at_us: i64,
    max_at_us: i64,
    /// The request ids' hashes, for the Bloom filter (rebuilt at each [`Builder::finish`]).
    id_hashes: Vec<u64>,
}

impl Builder {
    /// Records in it.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether it holds [`SEGMENT_ROWS`] records.
    pub fn is_full(&self) -> bool {
        self.count >= SEGMENT_ROWS
    }

    /// The last `seq` pushed (`None` while empty).
    pub fn last_seq(&self) -> Option<u64> {
        (self.count > 0).then_some(self.previous_seq)
    }

    /// Appends `record`, whose `seq` must be above every `seq` pushed before.
    pub fn push(&mut self, record: &RequestRecord) {
        debug_assert!(self.last_seq().is_none_or(|last| last < record.seq));
        let at_us = row::micros(record.at);
        if self.count == 0 {
            (self.first_seq, self.previous_seq) = (record.seq, record.seq);
            (self.min_at_us, self.max_at_us) = (at_us, at_us);
        }
        self.count += 1;
        self.min_at_us = self.min_at_us.min(at_us);
        self.max_at_us = self.max_at_us.max(at_us);
        self.id_hashes
            .push(super::id_filter::hash(&record.request_id));
        let rows = &mut self.rows;
        let strings = &mut self.strings;
        put(rows, record.seq.wrapping_sub(self.previous_seq));
        put_signed(rows, at_us.wrapping_sub(self.previous_at));
        (self.previous_seq, self.previous_at) = (record.seq, at_us);

        let llm = record.llm.as_ref();
        let mut flags = 0;
        let mut set = |present: bool, bit: u64| {
            if present {
                flags |= bit;
            }
        };
        set(record.route.is_some(), flag::ROUTE);
        set(record.target.is_some(), flag::TARGET);
        set(record.user_agent.is_some(), flag::USER_AGENT);
        set(record.error.is_some(), flag::ERROR);
        set(record.upstream_us.is_some(), flag::UPSTREAM_US);
        set(llm.is_some(), flag::LLM);
        set(
            llm.is_some_and(|l| l.input_tokens.is_some()),
            flag::INPUT_TOKENS,
        );
        set(
            llm.is_some_and(|l| l.output_tokens.is_some()),
            flag::OUTPUT_TOKENS,
        );
        set(llm.is_some_and(|l| l.streamed), flag::STREAMED);
        set(
            llm.is_some_and(|l| l.first_token_us.is_some()),
            flag::FIRST_TOKEN_US,
        );
        put(rows, flags);

        for text in [
            &record.request_id,
            &record.method,
            &record.path,
            &record.client,
        ] {
            put(rows, strings.index(text));
        }
        for text in [
            &record.route,
            &record.target,
            &record.user_agent,
            &record.error,
        ]
        .into_iter()
        .flatten()
        {
            put(rows, strings.index(text));
        }
        put(rows, record.status.into());
        put(rows, record.latency_us);
        if let Some(upstream_us) = record.upstream_us {
            put(rows, upstream_us);
        }
        put(rows, record.bytes_in);
        put(rows, record.bytes_out);
        put(rows, record.attempts.into());
        if let Some(llm) = llm {
            put(rows, strings.index(&llm.model));
            for value in [llm.input_tokens, llm.output_tokens, llm.first_token_us]
                .into_iter()
                .flatten()
            {
                put(rows, value);
            }
        }
    }

    /// The segment as it stands (the builder stays usable: more records may follow).
    pub fn finish(&self) -> Encoded {
        let mut data = Vec::with_capacity(1 + 10 + self.strings.bytes + 10 + self.rows.len());
        data.push(FORMAT);
        put(&mut data, self.strings.list.len() as u64);
        for text in &self.strings.list {
            put(&mut data, text.len() as u64);
            data.extend_from_slice(text.as_bytes());
        }
        put(&mut data, self.count as u64);
        data.extend_from_slice(&self.rows);
        Encoded {
            first_seq: self.first_seq as i64,
            last_seq: self.previous_seq as i64,
            min_at_us: self.min_at_us,
            max_at_us: self.max_at_us,
            rows: self.count as i64,
            data,
            id_filter: super::id_filter::build(&self.id_hashes),
        }
    }
}

/// Unpacks a segment whose first `seq` is `first_seq`, in increasing `seq` order.
pub fn decode(first_seq: i64, data: &[u8]) -> Result<Vec<RequestRecord>, Corrupt> {
    Stored::parse(data)?.decode_where(first_seq, |_, _, _| true)
}

/// A stored segment with its string table read (once) and its rows not yet decoded.
pub struct Stored<'a> {
    strings: Vec<&'a str>,
    /// Positioned at the row count.
    rows: Reader<'a>,
}

impl<'a> Stored<'a> {
    /// Reads the format byte and the string table of `data`.
    pub fn parse(data: &'a [u8]) -> Result<Self, Corrupt> {
        let mut rows = Reader { data, at: 0 };
        let strings = rows.strings()?;
        Ok(Self { strings, rows })
    }

    /// Whether the segment may hold a record `query` accepts, judged from its string table
    /// alone: `false` when a value the query wants exactly, or the path substring, appears in
    /// none of its strings. Time and `seq` bounds are checked on the segment's columns, the rest
    /// per record.
    pub fn may_match(&self, query: &RequestQuery) -> bool {
        let has = |wanted: &str| self.strings.contains(&wanted);
        [
            &query.method,
            &query.route,
            &query.target,
            &query.client,
            &query.model,
        ]
        .into_iter()
        .flatten()
        .all(|wanted| has(wanted))
            && query
                .path
                .as_deref()
                .is_none_or(|part| self.strings.iter().any(|s| s.contains(part)))
    }

    /// The records (the segment's first `seq` is `first_seq`) for which `keep(seq, at, status)`
    /// holds, in increasing `seq` order: the others are skipped before any of their strings is
    /// copied.
    pub fn decode_where(
        self,
        first_seq: i64,
        mut keep: impl FnMut(u64, DateTime<Utc>, u16) -> bool,
    ) -> Result<Vec<RequestRecord>, Corrupt> {
        let Self {
            strings,
            rows: mut reader,
        } = self;
        let count = reader.count(1)?;
        let mut records = Vec::new();
        let (mut previous_seq, mut previous_at) = (first_seq as u64, 0i64);
        let text = |index: u64| -> Result<&str, Corrupt> {
            usize::try_from(index)
                .ok()
                .and_then(|i| strings.get(i))
                .copied()
                .ok_or(Corrupt("string index out of range"))
        };
        for _ in 0..count {
            let seq = previous_seq.wrapping_add(reader.varint()?);
            let at_us = previous_at.wrapping_add(reader.signed()?);
            (previous_seq, previous_at) = (seq, at_us);
            let at = DateTime::from_timestamp_micros(at_us).ok_or(Corrupt("time out of range"))?;
            let flags = reader.varint()?;
            let has = |bit: u64| flags & bit != 0;
            // String indexes first; the strings are copied only for a record that is kept.
            let [request_id, method, path, client] = [(); 4].map(|()| reader.varint());
            let (request_id, method, path, client) = (request_id?, method?, path?, client?);
            let route = reader.optional(has(flag::ROUTE))?;
            let target = reader.optional(has(flag::TARGET))?;
            let user_agent = reader.optional(has(flag::USER_AGENT))?;
            let error = reader.optional(has(flag::ERROR))?;
            let status =
                u16::try_from(reader.varint()?).map_err(|_| Corrupt("status too large"))?;
            let latency_us = reader.varint()?;
            let upstream_us = reader.optional(has(flag::UPSTREAM_US))?;
            let bytes_in = reader.varint()?;
            let bytes_out = reader.varint()?;
            let attempts =
                u32::try_from(reader.varint()?).map_err(|_| Corrupt("attempts too large"))?;
            let llm = if has(flag::LLM) {
                Some((
                    reader.varint()?,
                    reader.optional(has(flag::INPUT_TOKENS))?,
                    reader.optional(has(flag::OUTPUT_TOKENS))?,
                    reader.optional(has(flag::FIRST_TOKEN_US))?,
                ))
            } else {
                None
            };
            if !keep(seq, at, status) {
                continue;
            }
            let llm = match llm {
                Some((model, input_tokens, output_tokens, first_token_us)) => Some(LlmUsage {
                    model: text(model)?.into(),
                    input_tokens,
                    output_tokens,
                    streamed: has(flag::STREAMED),
                    first_token_us,
                }),
                None => None,
            };
            records.push(RequestRecord {
                seq,
                request_id: text(request_id)?.into(),
                at,
                method: text(method)?.into(),
                path: text(path)?.into(),
                route: route.map(text).transpose()?.map(Into::into),
                target: target.map(text).transpose()?.map(Into::into),
                status,
                latency_us,
                upstream_us,
                bytes_in,
                bytes_out,
                client: text(client)?.into(),
                user_agent: user_agent.map(text).transpose()?.map(Into::into),
                error: error.map(text).transpose()?.map(Into::into),
                attempts,
                llm,
            });
        }
        if reader.at != reader.data.len() {
            return Err(Corrupt("bytes after the last row"));
        }
        Ok(records)
    }
}

/// Strings numbered in order of first use.
#[derive(Default)]
struct StringTable {
    list: Vec<Arc<str>>,
    index: HashMap<Arc<str>, u64>,
    bytes: usize,
}

impl StringTable {
    fn index(&mut self, text: &str) -> u64 {
        if let Some(&index) = self.index.get(text) {
            return index;
        }
        let index = self.list.len() as u64;
        let owned: Arc<str> = Arc::from(text);
        self.list.push(owned.clone());
        self.index.insert(owned, index);
        self.bytes += text.len() + 2;
        index
    }
}

fn put(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_signed(out: &mut Vec<u8>, value: i64) {
    put(out, ((value << 1) ^ (value >> 63)) as u64);
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, Corrupt> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.data.get(self.at).ok_or(Corrupt("truncated"))?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Corrupt("varint too long"))
    }

    fn signed(&mut self) -> Result<i64, Corrupt> {
        let raw = self.varint()?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    fn optional(&mut self, present: bool) -> Result<Option<u64>, Corrupt> {
        present.then(|| self.varint()).transpose()
    }

    /// A count of items each at least `min_bytes` long: never more than the bytes left could
    /// hold, so a damaged count cannot make a huge allocation.
    fn count(&mut self, min_bytes: usize) -> Result<usize, Corrupt> {
        let count = usize::try_from(self.varint()?).map_err(|_| Corrupt("count too large"))?;
        if count.saturating_mul(min_bytes) > self.data.len() - self.at {
            return Err(Corrupt("count larger than the data"));
        }
        Ok(count)
    }

    /// The format byte and the string table.
    fn strings(&mut self) -> Result<Vec<&'a str>, Corrupt> {
        if self.data.first() != Some(&FORMAT) {
            return Err(Corrupt("unknown format"));
        }
        self.at = 1;
        let count = self.count(1)?;
        let mut strings = Vec::with_capacity(count);
        for _ in 0..count {
            let len = usize::try_from(self.varint()?).map_err(|_| Corrupt("length too large"))?;
            let end = self
                .at
                .checked_add(len)
                .filter(|&end| end <= self.data.len())
                .ok_or(Corrupt("string past the end"))?;
            let text = std::str::from_utf8(&self.data[self.at..end])
                .map_err(|_| Corrupt("string not UTF-8"))?;
            strings.push(text);
            self.at = end;
        }
        Ok(strings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::history::testing;
    use chrono::{Duration, Utc};
    use compact_str::CompactString;

    fn records() -> Vec<RequestRecord> {
        let start = DateTime::parse_from_rfc3339("2025-03-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut records = testing::varied(3, 5_000, 600, start, Duration::milliseconds(700));
        // Extremes: counters at u64::MAX, a time going backwards, a gap in seq, empty strings.
        records[1].latency_us = u64::MAX;
        records[1].bytes_in = u64::MAX;
        records[2].at = start - Duration::days(400);
        records[3].path = CompactString::default();
        for record in &mut records[10..] {
            record.seq += 1_000;
        }
        records
    }

    #[test]
    fn records_round_trip_exactly() {
        let records = records();
        let encoded = encode(&records);
        assert_eq!(encoded.rows, records.len() as i64);
        assert_eq!(encoded.first_seq, 5_000);
        assert_eq!(encoded.last_seq, records.last().unwrap().seq as i64);
        let times = records.iter().map(|r| row::micros(r.at));
        assert_eq!(encoded.min_at_us, times.clone().min().unwrap());
        assert_eq!(encoded.max_at_us, times.max().unwrap());
        let decoded = decode(encoded.first_seq, &encoded.data).unwrap();
        assert!(decoded == records, "decoded records differ");
        // Repeated strings are stored once: far smaller than the records' text.
        let text: usize = records.iter().map(|r| r.path.len() + r.client.len()).sum();
        assert!(
            encoded.data.len() < text * 2,
            "{} bytes",
            encoded.data.len()
        );
    }

    #[test]
    fn damaged_data_is_an_error_not_a_panic() {
        let encoded = encode(&records()[..20]);
        for len in 0..encoded.data.len() {
            assert!(
                decode(encoded.first_seq, &encoded.data[..len]).is_err(),
                "{len}"
            );
        }
        let mut longer = encoded.data.clone();
        longer.push(0);
        assert!(decode(encoded.first_seq, &longer).is_err());
        for position in 0..encoded.data.len() {
            let mut flipped = encoded.data.clone();
            flipped[position] ^= 0xff;
            // Either an error or some records: never a panic or a huge allocation.
            let _ = decode(encoded.first_seq, &flipped);
            let _ = Stored::parse(&flipped).map(|s| s.may_match(&RequestQuery::default()));
        }
    }

    #[test]
    fn may_match_never_skips_a_segment_holding_a_match() {
        let records = records();
        let segments: Vec<&[RequestRecord]> = records.chunks(50).collect();
        let some = |s: &str| Some(s.to_owned());
        let mut skipped = 0;
        let mut queries = Vec::new();
        for route in testing::ROUTES.iter().chain(&["nope"]) {
            queries.push(RequestQuery {
                route: some(route),
                ..RequestQuery::default()
            });
        }
        for model in testing::MODELS.iter().chain(&[""]) {
            queries.push(RequestQuery {
                model: some(model),
                method: some("GET"),
                ..RequestQuery::default()
            });
        }
        for path in ["items", "/", "", "zzz"] {
            queries.push(RequestQuery {
                path: some(path),
                ..RequestQuery::default()
            });
        }
        queries.push(RequestQuery {
            client: some("10.1.1.1"),
            ..RequestQuery::default()
        });
        for query in &queries {
            for segment in &segments {
                let encoded = encode(segment);
                let holds = segment.iter().any(|r| query.matches(r));
                let may = Stored::parse(&encoded.data).unwrap().may_match(query);
                assert!(may || !holds, "{query:?} skipped a segment with a match");
                skipped += usize::from(!may);
            }
        }
        assert!(skipped > 0, "the string table never ruled a segment out");
    }
}
