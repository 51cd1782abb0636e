//! [`RequestQuery`] as SQL: the stored rows `RequestQuery::matches` accepts, newest first.
//!
//! Values are always bound as parameters, never written into the SQL text. Time bounds are
//! rounded up to the stored microsecond (see [`row::micros_ceil`]) so that a row is selected
//! exactly when the record read back from it passes `matches`.
//!
//! Plans (checked by a test): most filters walk `seq` backwards and stop after `limit` matches;
//! a route uses its index, already in `seq` order. Only a window with both `since` and `until`
//! reads through the time index and sorts — just that window's rows, keeping the newest
//! `limit` — because walking `seq` down to an old window would read everything newer than it.

use super::row;
use crate::server::metrics::query::{MAX_LIMIT, RequestQuery};
use crate::views::RequestRecord;
use rusqlite::Connection;
use rusqlite::types::Value;

/// The SQL text and its parameters for `query`.
pub fn build(query: &RequestQuery) -> (String, Vec<Value>) {
    let mut conditions: Vec<&str> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    let mut bind = |condition: &'static str, value: Value| {
        conditions.push(condition);
        values.push(value);
    };

    // Stored seqs fit in an i64, so a cursor beyond that excludes nothing.
    if let Some(before) = query.before.and_then(|b| i64::try_from(b).ok()) {
        bind("seq < ?", Value::Integer(before));
    }
    if let Some(since) = query.since {
        bind("at_us >= ?", Value::Integer(row::micros_ceil(since)));
    }
    if let Some(until) = query.until {
        bind("at_us < ?", Value::Integer(row::micros_ceil(until)));
    }
    if let Some(status) = query.status {
        let (low, high) = status.range();
        bind("status >= ?", Value::Integer(low.into()));
        bind("status <= ?", Value::Integer(high.into()));
    }
    let text = |s: &String| Value::Text(s.clone());
    if let Some(method) = &query.method {
        bind("method = ?", text(method));
    }
    if let Some(route) = &query.route {
        bind("route = ?", text(route));
    }
    if let Some(target) = &query.target {
        bind("target = ?", text(target));
    }
    if let Some(client) = &query.client {
        bind("client = ?", text(client));
    }
    if let Some(path) = &query.path {
        // instr, not LIKE: case-sensitive and no wildcards, like `str::contains`.
        bind("instr(path, ?) > 0", text(path));
    }
    if let Some(model) = &query.model {
        bind("model = ?", text(model));
    }

    let mut sql = format!("SELECT {} FROM requests", row::COLUMNS);
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(" ORDER BY seq DESC LIMIT ?");
    values.push(Value::Integer(query.limit.min(MAX_LIMIT) as i64));
    (sql, values)
}

/// Runs `query`.
pub fn requests(conn: &Connection, query: &RequestQuery) -> rusqlite::Result<Vec<RequestRecord>> {
    let (sql, values) = build(query);
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(rusqlite::params_from_iter(values), row::read)?;
    rows.collect()
}

/// The newest request with `request_id`.
pub fn by_request_id(
    conn: &Connection,
    request_id: &str,
) -> rusqlite::Result<Option<RequestRecord>> {
    use rusqlite::OptionalExtension;
    let sql = format!(
        "SELECT {} FROM requests WHERE request_id = ?1 ORDER BY seq DESC LIMIT 1",
        row::COLUMNS
    );
    conn.prepare_cached(&sql)?
        .query_row([request_id], row::read)
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::history::testing;
    use crate::server::metrics::query::StatusFilter;
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
    fn values_are_bound_never_written_into_the_sql() {
        let query = RequestQuery {
            path: Some("x'; DROP TABLE requests; --".into()),
            route: Some("secret-route".into()),
            ..RequestQuery::default()
        };
        let (sql, values) = build(&query);
        assert!(
            !sql.contains("DROP") && !sql.contains("secret-route"),
            "{sql}"
        );
        assert_eq!(values.len(), 3, "route, path and the limit");
    }

    #[test]
    fn only_a_time_window_makes_sqlite_sort() {
        let dir = tempfile::tempdir().unwrap();
        let (history, writer) = testing::open(dir.path());
        let records = testing::varied(3, 0, 300, start(), Duration::seconds(1));
        let conn = schema_conn(history.path());
        for query in queries(&records) {
            let (sql, values) = build(&query);
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(rusqlite::params_from_iter(values), |r| {
                    r.get::<_, String>(3)
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let plan = plan.join("; ");
            if query.since.is_some() && query.until.is_some() {
                // A window: read through the time index, and sort only the window's rows.
                assert!(plan.contains("requests_at"), "{query:?}: {plan}");
            } else {
                assert!(!plan.contains("TEMP B-TREE"), "{query:?}: {plan}");
            }
        }
        writer.shutdown();
    }

    fn schema_conn(path: &std::path::Path) -> Connection {
        super::super::schema::open_reader(path, std::time::Duration::from_secs(1)).unwrap()
    }
}
