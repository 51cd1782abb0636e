//! Entry points for fuzzing the parsers that read bytes from outside: each takes arbitrary
//! bytes, runs one parser on them, and panics only when the parser panics or breaks an
//! invariant checked here. The coverage-guided targets in `fuzz/` (cargo-fuzz) and the replay
//! test `tests/fuzz.rs` (the committed corpus and seeded mutations, in `cargo test`) both call
//! these, so both check the same things. RELIABILITY.md ("Fuzzing") lists what each one checks.

use crate::request_filter::{MAX_LIMIT, RequestQuery, StatusFilter};
use crate::server::admin::rest::{
    MAX_EXPORT, MAX_FILTER_LEN, RequestsFormat, parse_requests_query,
};
use crate::server::config::{self, ConfigError};
use crate::server::history::segment;
use crate::server::proxy::request_path::normalise;
use crate::server::proxy::upstream::wire::{
    ChunkedDecoder, Decoded, MAX_HEAD, ResponseFraming, WireError, parse_response_head,
};
use crate::views::RequestRecord;
use axum::http::{Method, StatusCode};
use bytes::BytesMut;
use std::path::Path;

/// The upstream response-head parser on `data`: the first byte picks the request method (odd:
/// `HEAD`), the rest is what the upstream sent.
///
/// Checks: a parsed head is taken off the front of the buffer and nothing else is; an incomplete
/// head leaves the buffer as it was, a rejected one at most loses its head; an answer to `HEAD`, a 1xx, 204 or 304 has no
/// body; a body delimited by the close never leaves the connection open for another exchange;
/// an incomplete head is shorter than the bound.
pub fn response_head(data: &[u8]) {
    let Some((&first, wire)) = data.split_first() else {
        return;
    };
    let method = if first & 1 == 1 {
        Method::HEAD
    } else {
        Method::GET
    };
    let mut buffer = BytesMut::from(wire);
    match parse_response_head(&mut buffer, &method) {
        Ok(Some(head)) => {
            let taken = wire.len() - buffer.len();
            assert!(taken > 0, "a head was parsed from no bytes");
            assert_eq!(
                &buffer[..],
                &wire[taken..],
                "the body must stay in the buffer"
            );
            assert!(
                wire[..taken].ends_with(b"\n"),
                "a head ends with its empty line"
            );
            let status = head.response.status();
            if method == Method::HEAD
                || status.is_informational()
                || status == StatusCode::NO_CONTENT
                || status == StatusCode::NOT_MODIFIED
            {
                assert_eq!(head.framing, ResponseFraming::Empty);
            }
            if head.framing == ResponseFraming::UntilClose {
                assert!(!head.keep_alive, "a body until close ends the connection");
            }
        }
        Ok(None) => {
            assert_eq!(&buffer[..], wire, "an incomplete head stays in the buffer");
            assert!(wire.len() < MAX_HEAD, "an incomplete head over the bound");
        }
        // A head rejected for its fields may already be taken off: the connection is dropped.
        Err(_) => assert!(
            wire.ends_with(&buffer[..]),
            "a rejected head left other bytes"
        ),
    }
}

/// The client request-path normaliser on `data`: the first byte picks `merge_slashes` (odd:
/// on), the rest is the request target (`/path?query`; not UTF-8: skipped, as no request target
/// is).
///
/// Checks: normalising a normalised path changes nothing; a normalised path has no `.` or `..`
/// segment (so nothing climbs above the root) and, when merging, no `//`; the query is kept as
/// it is; a target not starting with `/` is left alone.
pub fn request_path(data: &[u8]) {
    let Some((&first, target)) = data.split_first() else {
        return;
    };
    let Ok(target) = std::str::from_utf8(target) else {
        return;
    };
    let merge_slashes = first & 1 == 1;
    let Ok(normal) = normalise(target, merge_slashes) else {
        return;
    };
    let again = normalise(&normal, merge_slashes).expect("a normal path normalises");
    assert_eq!(again, normal, "normalising is not idempotent");
    if !target.starts_with('/') {
        assert_eq!(normal, target);
        return;
    }
    let split = |text: &str| text.find('?').unwrap_or(text.len());
    let (path, query) = normal.split_at(split(&normal));
    assert_eq!(query, &target[split(target)..], "the query changed");
    assert!(path.starts_with('/'), "{path:?} lost its root");
    for segment in path.split('/').skip(1) {
        assert!(
            segment != "." && segment != "..",
            "{path:?} keeps a dot segment"
        );
    }
    if merge_slashes {
        assert!(!path.contains("//"), "{path:?} keeps an empty segment");
    }
}

/// How a chunked body ended.
#[derive(Debug, PartialEq, Eq)]
enum ChunkedOutcome {
    /// The last chunk and trailers were read; this many bytes followed them.
    End(usize),
    /// The input ended mid-body.
    Incomplete,
    Error(WireError),
}

/// Decodes `wire` fed in pieces of the given sizes (the last piece takes the rest): the body
/// bytes delivered and how it ended.
fn decode_chunked(
    wire: &[u8],
    mut sizes: impl Iterator<Item = usize>,
) -> (Vec<u8>, ChunkedOutcome) {
    let mut decoder = ChunkedDecoder::default();
    let mut buffer = BytesMut::new();
    let mut body = Vec::new();
    let mut rest = wire;
    loop {
        let size = sizes.next().unwrap_or(rest.len()).min(rest.len());
        let piece;
        (piece, rest) = rest.split_at(size);
        buffer.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buffer) {
                Ok(Decoded::Data(data)) => {
                    assert!(!data.is_empty(), "an empty data piece");
                    body.extend_from_slice(&data);
                }
                Ok(Decoded::NeedMore) => break,
                Ok(Decoded::End) => {
                    assert_eq!(
                        decoder.decode(&mut buffer),
                        Ok(Decoded::End),
                        "the end stays"
                    );
                    return (body, ChunkedOutcome::End(buffer.len() + rest.len()));
                }
                Err(error) => return (body, ChunkedOutcome::Error(error)),
            }
        }
        if rest.is_empty() {
            return (body, ChunkedOutcome::Incomplete);
        }
    }
}

/// The chunked-body decoder on `data`: the first byte seeds how the rest is split into pieces,
/// the rest is the body as the upstream sent it.
///
/// Checks: the body bytes delivered, where it ends and the error (if any) are the same whether
/// the input arrives whole, one byte at a time or in pieces of random sizes; no data piece is
/// empty; once ended, the decoder stays ended.
pub fn chunked(data: &[u8]) {
    let Some((&seed, wire)) = data.split_first() else {
        return;
    };
    let whole = decode_chunked(wire, std::iter::empty());
    let bytewise = decode_chunked(wire, std::iter::repeat(1));
    assert_eq!(whole, bytewise, "one byte at a time");
    let mut state = u64::from(seed) | 0x100;
    let random = std::iter::from_fn(|| {
        // xorshift64: sizes 0..=15 most of the time, now and then a long piece.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        Some(if state % 8 == 0 {
            (state >> 8) as usize % 512
        } else {
            (state >> 8) as usize % 16
        })
    });
    assert_eq!(
        whole,
        decode_chunked(wire, random),
        "pieces seeded by {seed}"
    );
}

/// The config parser (what `gatewatch check` runs) on `data` as a config file's content.
/// Relative paths in it resolve under a directory that does not exist.
///
/// Checks: content that is not UTF-8 is a read error, anything else is a config or a list of
/// field errors, never empty, each naming its JSON path and a reason.
pub fn config(data: &[u8]) {
    let path = Path::new("/nonexistent/gatewatch-fuzz/config.json");
    match config::parse_file_content(path, data.to_vec()) {
        Ok(config) => assert_eq!(config.source.as_bytes(), data),
        Err(ConfigError::Read { .. }) => assert!(std::str::from_utf8(data).is_err()),
        Err(ConfigError::Invalid(errors)) => {
            assert!(!errors.is_empty(), "invalid without a field error");
            for error in errors {
                assert!(!error.path.is_empty(), "no field path: {error:?}");
                assert!(!error.reason.is_empty(), "no reason: {error:?}");
            }
        }
    }
}

/// The admin API's query-string parsing on `data` as a raw query string: decoded into pairs as
/// the handlers' `Query` extractor does, then read both strictly (`/api/requests`) and
/// leniently (the dashboard's live filter, [`RequestQuery::from_pairs`]); each value is also
/// read as a status filter.
///
/// Checks: the strict reading's limit is within its format's bounds, `since` is before `until`,
/// the text filters are within their length bound and the method is upper case; its errors are
/// 400s naming a parameter. The lenient reading keeps the default limit and an upper-case
/// method. A status filter's range holds exactly the codes it matches.
pub fn admin_query(data: &[u8]) {
    let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(data) else {
        return;
    };
    for (_, value) in &pairs {
        check_status_filter(value);
    }
    match parse_requests_query(pairs.clone()) {
        Ok((format, query)) => {
            let max = match format {
                RequestsFormat::Page => MAX_LIMIT,
                RequestsFormat::Json | RequestsFormat::Csv => MAX_EXPORT,
            };
            assert!((1..=max).contains(&query.limit), "limit {}", query.limit);
            check_query(&query);
            if let (Some(since), Some(until)) = (query.since, query.until) {
                assert!(since < until, "since {since} not before until {until}");
            }
            for text in [&query.route, &query.target, &query.client, &query.path]
                .into_iter()
                .chain([&query.model, &query.method])
                .flatten()
            {
                assert!(!text.is_empty() && text.len() <= MAX_FILTER_LEN);
            }
        }
        Err(error) => {
            assert_eq!(error.status, StatusCode::BAD_REQUEST);
            let parameter = error.parameter.expect("a 400 names its parameter");
            assert!(error.message.starts_with(&format!("{parameter}: ")));
        }
    }
    let lenient =
        RequestQuery::from_pairs(pairs.iter().map(|(name, value)| (&name[..], &value[..])));
    assert_eq!(lenient.limit, crate::request_filter::DEFAULT_LIMIT);
    check_query(&lenient);
}

/// What holds of any parsed [`RequestQuery`].
fn check_query(query: &RequestQuery) {
    if let Some(method) = &query.method {
        assert_eq!(
            method,
            &method.to_ascii_uppercase(),
            "method not upper case"
        );
    }
    if let Some(status) = query.status {
        check_status(status);
    }
}

fn check_status_filter(text: &str) {
    if let Some(status) = StatusFilter::parse(text) {
        check_status(status);
    }
}

fn check_status(status: StatusFilter) {
    let (low, high) = status.range();
    assert!(
        (100..=599).contains(&low) && low <= high && high <= 599,
        "{status:?}"
    );
    assert!(status.matches(low) && status.matches(high), "{status:?}");
    assert!(
        !status.matches(low - 1) && !status.matches(high + 1),
        "{status:?}"
    );
}

/// The history's segment decoder on `data`: the first 8 bytes (little-endian, zero-padded) are
/// the segment's first `seq`, the rest the stored blob ([`segment_input`] makes such inputs).
///
/// Checks: damaged data is an error, never a panic; a segment decodes to at most one record per
/// byte; decoding only some records (as queries do) gives those records of the full decoding;
/// a record decoded is never ruled out by the string-table check for a query asking for exactly
/// its method, route, target, client, model and path; records in increasing `seq` order encode
/// back to a segment that decodes to the same records.
pub fn segment(data: &[u8]) {
    let (seq_bytes, blob) = data.split_at(data.len().min(8));
    let mut first_seq = [0u8; 8];
    first_seq[..seq_bytes.len()].copy_from_slice(seq_bytes);
    let first_seq = i64::from_le_bytes(first_seq);
    let Ok(stored) = segment::Stored::parse(blob) else {
        assert!(segment::decode(first_seq, blob).is_err());
        return;
    };
    let _ = stored.may_match(&RequestQuery::default());
    let Ok(records) = segment::decode(first_seq, blob) else {
        return;
    };
    assert!(records.len() <= blob.len(), "more records than bytes");
    let even = |seq: u64| seq.is_multiple_of(2);
    let some = segment::Stored::parse(blob)
        .expect("parsed once")
        .decode_where(first_seq, |seq, _, _| even(seq))
        .expect("a segment that decodes whole decodes in part");
    let wanted: Vec<&RequestRecord> = records.iter().filter(|r| even(r.seq)).collect();
    assert!(some.iter().eq(wanted), "a partial decoding differs");
    for record in records.iter().take(8) {
        let query = RequestQuery {
            method: Some(record.method.to_string()),
            route: record.route.as_ref().map(ToString::to_string),
            target: record.target.as_ref().map(ToString::to_string),
            client: Some(record.client.to_string()),
            path: Some(record.path.to_string()),
            model: record.llm.as_ref().map(|llm| llm.model.clone()),
            ..RequestQuery::default()
        };
        let stored = segment::Stored::parse(blob).expect("parsed once");
        assert!(
            stored.may_match(&query),
            "a segment holding a match was ruled out"
        );
    }
    if !records.is_empty() && records.windows(2).all(|pair| pair[0].seq < pair[1].seq) {
        let encoded = segment::encode(&records);
        assert_eq!(encoded.first_seq as u64, records[0].seq);
        let again = segment::decode(encoded.first_seq, &encoded.data).expect("re-encoded");
        assert!(again == records, "re-encoded records differ");
    }
}

/// A [`segment`] fuzz input holding `records` (non-empty, in increasing `seq` order) as the
/// history stores them: seeds for the corpus.
pub fn segment_input(records: &[RequestRecord]) -> Vec<u8> {
    let encoded = segment::encode(records);
    let mut input = encoded.first_seq.to_le_bytes().to_vec();
    input.extend_from_slice(&encoded.data);
    input
}
