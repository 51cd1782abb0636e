//! [`RequestQuery`] over the stored segments: the records `RequestQuery::matches` accepts,
//! newest first.
//!
//! Segments are walked from the newest down. SQL picks them by the cursor and the time window
//! (on the segment's first `seq` and its earliest and latest time; bounds rounded up to the
//! stored microsecond, see [`row::micros_ceil`]); the string table skips those that cannot hold
//! a match ([`segment::Stored::may_match`]); the rest are decoded and filtered record by record until
//! `limit` records match. A look-up by request id reads the segments' Bloom filters and decodes
//! only the segments that may hold the id.

use super::segment;
use super::{id_filter, row};
use crate::request_filter::{MAX_LIMIT, RequestQuery};
use crate::views::RequestRecord;
use rusqlite::{Connection, OptionalExtension};

const SEGMENTS: &str = "SELECT first_seq, data FROM request_segments \
    WHERE first_seq < ?1 AND max_at_us >= ?2 AND min_at_us < ?3 ORDER BY first_seq DESC";

const ID_FILTERS: &str =
    "SELECT first_seq, id_filter FROM request_segments ORDER BY first_seq DESC";

const SEGMENT_DATA: &str = "SELECT data FROM request_segments WHERE first_seq = ?1";

/// How much of the history a query read (for tests).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// Segments SQL selected.
    pub selected: usize,
    /// Of those, the ones decoded (the others' string tables ruled them out).
    pub decoded: usize,
}

/// Runs `query`.
pub fn requests(conn: &Connection, query: &RequestQuery) -> rusqlite::Result<Vec<RequestRecord>> {
    scan(conn, query).map(|(records, _)| records)
}

/// Runs `query`, telling how many segments it read.
pub fn scan(
    conn: &Connection,
    query: &RequestQuery,
) -> rusqlite::Result<(Vec<RequestRecord>, Scan)> {
    let limit = query.limit.min(MAX_LIMIT);
    let mut found = Vec::new();
    let mut scan = Scan::default();
    if limit == 0 {
        return Ok((found, scan));
    }
    // Stored seqs fit in an i64, so a cursor beyond that excludes nothing.
    let before = query
        .before
        .map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
    let since = query.since.map_or(i64::MIN, row::micros_ceil);
    let until = query.until.map_or(i64::MAX, row::micros_ceil);
    let mut statement = conn.prepare_cached(SEGMENTS)?;
    let mut rows = statement.query((before, since, until))?;
    while let Some(row) = rows.next()? {
        scan.selected += 1;
        let first_seq: i64 = row.get(0)?;
        let data = row.get_ref(1)?.as_blob()?;
        let stored = segment::Stored::parse(data)?;
        if !stored.may_match(query) {
            continue;
        }
        scan.decoded += 1;
        let records = stored.decode_where(first_seq, |seq, at, status| {
            query.matches_head(seq, at, status)
        })?;
        for record in records.into_iter().rev().filter(|r| query.matches(r)) {
            found.push(record);
            if found.len() == limit {
                return Ok((found, scan));
            }
        }
    }
    Ok((found, scan))
}

/// The newest request with `request_id`.
pub fn by_request_id(
    conn: &Connection,
    request_id: &str,
) -> rusqlite::Result<Option<RequestRecord>> {
    let mut filters = conn.prepare_cached(ID_FILTERS)?;
    let mut data = conn.prepare_cached(SEGMENT_DATA)?;
    let mut rows = filters.query([])?;
    while let Some(row) = rows.next()? {
        if !id_filter::may_contain(row.get_ref(1)?.as_blob()?, request_id) {
            continue;
        }
        let first_seq: i64 = row.get(0)?;
        let found = data
            .query_row([first_seq], |row| {
                let records = segment::decode(first_seq, row.get_ref(0)?.as_blob()?)?;
                Ok(records
                    .into_iter()
                    .rev()
                    .find(|r| r.request_id == request_id))
            })
            .optional()?
            .flatten();
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::super::segment::SEGMENT_ROWS;
    use super::*;
    use crate::request_filter::StatusFilter;
    use crate::server::history::testing;
    use chrono::{DateTime, Duration, Utc};

    fn start() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-03-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Every filter alone, edge values, and a few combinations.
    fn queries(records: &[RequestRecord]) -> Vec<RequestQuery> {
        let q = RequestQuery::default;
        let some = |s: &str| Some(s.to_owned());
        let at = records[records.len() / 3].at;
        let later = records[2 * records.len() / 3].at;
        let nanos = Duration::nanoseconds;
        let mut all = vec![
            q(),
            RequestQuery { limit: 1, ..q() },
            RequestQuery { limit: 0, ..q() },
            RequestQuery {
                limit: MAX_LIMIT + 500,
                ..q()
            },
            RequestQuery {
                before: Some(records[100].seq),
                ..q()
            },
            RequestQuery {
                before: Some(0),
                ..q()
            },
            RequestQuery {
                before: Some(u64::MAX),
                ..q()
            },
        ];
        for bound in [
            at,
            at + nanos(1),
            at - nanos(1),
            at + nanos(999),
            at + nanos(1_000),
        ] {
            all.push(RequestQuery {
                since: Some(bound),
                ..q()
            });
            all.push(RequestQuery {
                until: Some(bound),
                ..q()
            });
        }
        all.push(RequestQuery {
            since: Some(at),
            until: Some(later),
            limit: MAX_LIMIT,
            ..q()
        });
        all.push(RequestQuery {
            since: Some(later),
            until: Some(at),
            ..q()
        });
        for status in [
            "200", "503", "101", "1xx", "2xx", "3xx", "4xx", "5xx", "418",
        ] {
            all.push(RequestQuery {
                status: StatusFilter::parse(status),
                ..q()
            });
        }
        for method in ["GET", "POST", "get", ""] {
            all.push(RequestQuery {
                method: some(method),
                ..q()
            });
        }
        for route in ["api", "llm", "static", "", "nope"] {
            all.push(RequestQuery {
                route: some(route),
                ..q()
            });
        }
        for target in testing::TARGETS.into_iter().chain([""]) {
            all.push(RequestQuery {
                target: some(target),
                ..q()
            });
        }
        for client in ["127.0.0.1", "::1", "127.0.0"] {
            all.push(RequestQuery {
                client: some(client),
                ..q()
            });
        }
        for path in [
            "items",
            "Items",
            "/",
            "",
            "/api/items/42",
            "%",
            "_",
            "x'; DROP TABLE requests; --",
        ] {
            all.push(RequestQuery {
                path: some(path),
                ..q()
            });
        }
        for model in ["gpt-4o", "claude-sonnet", "", "nope"] {
            all.push(RequestQuery {
                model: some(model),
                ..q()
            });
        }
        all.push(RequestQuery {
            route: some("api"),
            status: Some(StatusFilter::Class(2)),
            since: Some(at),
            method: some("GET"),
            limit: 50,
            ..q()
        });
        all.push(RequestQuery {
            model: some("gpt-4o"),
            path: some("/v1"),
            client: some("10.1.1.1"),
            until: Some(later),
            before: Some(records[records.len() - 10].seq),
            ..q()
        });
        all.push(RequestQuery {
            target: some(testing::TARGETS[1]),
            status: Some(StatusFilter::Code(500)),
            limit: MAX_LIMIT,
            ..q()
        });
        all
    }

    fn expected(records: &[RequestRecord], query: &RequestQuery) -> Vec<RequestRecord> {
        let mut matching: Vec<_> = records
            .iter()
            .filter(|r| query.matches(r))
            .cloned()
            .collect();
        matching.sort_by_key(|r| std::cmp::Reverse(r.seq));
        matching.truncate(query.limit.min(MAX_LIMIT));
        matching
    }

    #[test]
    fn every_filter_returns_exactly_what_matches_accepts_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let (history, writer) = testing::open(dir.path());
        let records = testing::varied(7, 1_000, 3_000, start(), Duration::milliseconds(1_500));
        for chunk in records.chunks(250) {
            history.submit(chunk.to_vec());
        }
        assert!(history.flush_blocking());
        for query in queries(&records) {
            let want = expected(&records, &query);
            let got = history.requests(&query).unwrap();
            assert_eq!(got.len(), want.len(), "{query:?}");
            assert!(got == want, "{query:?}");
        }
        // The generated set really exercises the filters.
        let count = |query: RequestQuery| {
            expected(
                &records,
                &RequestQuery {
                    limit: MAX_LIMIT,
                    ..query
                },
            )
            .len()
        };
        assert!(
            count(RequestQuery {
                model: Some(String::new()),
                ..RequestQuery::default()
            }) > 10
        );
        assert!(
            count(RequestQuery {
                status: StatusFilter::parse("1xx"),
                ..RequestQuery::default()
            }) > 10
        );
        writer.shutdown();
    }

    #[test]
    fn paging_with_the_cursor_yields_every_match_once() {
        let dir = tempfile::tempdir().unwrap();
        let (history, writer) = testing::open(dir.path());
        let records = testing::varied(11, 0, 2_000, start(), Duration::seconds(2));
        history.submit(records.clone());
        assert!(history.flush_blocking());

        for filter in [
            RequestQuery::default(),
            RequestQuery {
                route: Some("api".into()),
                ..RequestQuery::default()
            },
            RequestQuery {
                status: Some(StatusFilter::Class(5)),
                path: Some("items".into()),
                ..RequestQuery::default()
            },
        ] {
            let mut pages = Vec::new();
            let mut before = None;
            loop {
                let page = history
                    .requests(&RequestQuery {
                        limit: 37,
                        before,
                        ..filter.clone()
                    })
                    .unwrap();
                let Some(last) = page.last() else { break };
                before = Some(last.seq);
                pages.extend(page);
            }
            let want = expected(
                &records,
                &RequestQuery {
                    limit: usize::MAX,
                    ..filter.clone()
                },
            );
            let want_all: Vec<_> = {
                let mut all: Vec<_> = records
                    .iter()
                    .filter(|r| filter.matches(r))
                    .cloned()
                    .collect();
                all.sort_by_key(|r| std::cmp::Reverse(r.seq));
                all
            };
            assert_eq!(want.len(), want_all.len().min(MAX_LIMIT));
            assert_eq!(pages.len(), want_all.len(), "{filter:?}");
            assert!(pages == want_all, "{filter:?}");
        }
        writer.shutdown();
    }

    #[test]
    fn segments_without_a_wanted_value_are_not_decoded() {
        let dir = tempfile::tempdir().unwrap();
        let (history, writer) = testing::open(dir.path());
        let mut records = testing::varied(5, 0, 3 * SEGMENT_ROWS, start(), Duration::seconds(1));
        // One route only in the oldest segment.
        records[17].route = Some("rare".into());
        history.submit(records.clone());
        assert!(history.flush_blocking());
        let conn =
            super::super::schema::open_reader(history.path(), std::time::Duration::from_secs(1))
                .unwrap();
        let rare = RequestQuery {
            route: Some("rare".into()),
            ..RequestQuery::default()
        };
        let (found, read) = scan(&conn, &rare).unwrap();
        assert_eq!(found, vec![records[17].clone()]);
        assert_eq!(
            read,
            Scan {
                selected: 3,
                decoded: 1
            }
        );
        // The newest page needs the newest segment only.
        let (found, read) = scan(
            &conn,
            &RequestQuery {
                limit: 10,
                ..RequestQuery::default()
            },
        )
        .unwrap();
        assert_eq!(found.len(), 10);
        assert_eq!(
            read,
            Scan {
                selected: 1,
                decoded: 1
            }
        );
        // A time window selects the segments it overlaps.
        let window = RequestQuery {
            since: Some(records[10].at),
            until: Some(records[20].at),
            ..RequestQuery::default()
        };
        let (found, read) = scan(&conn, &window).unwrap();
        assert_eq!(found.len(), 10);
        assert_eq!(read.selected, 1);
        writer.shutdown();
    }
}
