//! History benchmark: writes ≥ 1 M requests spread over the last 7 days into a fresh SQLite
//! history through the same writer the gateway uses, then times the reads the API serves.
//!
//! Run: `cargo run --release --features ssr --example history_bench -- [rows] [db path]`
//! (default 1 200 000 rows in a temporary directory). Prints a Markdown table.

use chrono::{Duration as TimeDelta, Utc};
use gatewatch::request_filter::RequestQuery;
use gatewatch::server::history::History;
use gatewatch::views::{LlmUsage, RequestRecord, StatsPeriod};
use std::time::{Duration, Instant};

/// Rows per submitted batch: the recorder hands the writer one batch every 250 ms, so at the
/// proxy's top rate (~50 000 requests/s on this box) a batch holds about 12 500 rows.
const BATCH: usize = 12_500;

fn main() {
    let mut args = std::env::args().skip(1);
    let rows: usize = args
        .next()
        .map_or(1_200_000, |n| n.parse().expect("rows: a number"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = args
        .next()
        .map_or_else(|| dir.path().join("history.db"), std::path::PathBuf::from);

    let (history, writer) = History::open(&path, Duration::from_secs(8 * 86_400)).expect("opens");
    let now = Utc::now();
    let span = TimeDelta::days(7) - TimeDelta::minutes(1);
    let step = span / rows as i32;
    let start = now - span;
    let mut rng = fastrand::Rng::with_seed(7);

    // Write: submit in batches as the recorder does, never more than the queue holds, and time
    // until every row is committed.
    let began = Instant::now();
    let first_seq = history.next_seq();
    let mut batch = Vec::with_capacity(BATCH);
    for (i, seq) in (0..rows).zip(first_seq..) {
        batch.push(record(&mut rng, seq, start + step * i as i32));
        if batch.len() == BATCH {
            history.submit(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
            // Keep the queue short so nothing is dropped: this measures the writer, not the
            // queue's capacity.
            assert!(history.flush_blocking());
        }
    }
    history.submit(batch);
    assert!(history.flush_blocking());
    let write = began.elapsed();
    let status = history.status();
    assert_eq!(status.rows_written as usize, rows, "{status:?}");
    assert_eq!(status.rows_dropped, 0);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);

    println!("| measurement | value |");
    println!("|---|---|");
    println!("| rows written | {rows} over 7 days ({size} bytes on disk, WAL excluded) |");
    println!(
        "| writer throughput | {:.0} rows/s ({:.1} s for all, batches of {BATCH}) |",
        rows as f64 / write.as_secs_f64(),
        write.as_secs_f64()
    );

    let time = |what: &str, runs: usize, mut read: Box<dyn FnMut()>| {
        read(); // warm the page cache, as a running gateway's would be
        let mut samples: Vec<Duration> = (0..runs)
            .map(|_| {
                let began = Instant::now();
                read();
                began.elapsed()
            })
            .collect();
        samples.sort();
        println!(
            "| {what} | median {:.1} ms, max {:.1} ms ({runs} runs) |",
            ms(samples[runs / 2]),
            ms(samples[runs - 1])
        );
    };
    for period in StatsPeriod::ALL {
        let h = history.clone();
        time(
            &format!("stats period={}", period.as_str()),
            20,
            Box::new(move || {
                let stats = h.stats(period, None, Utc::now()).unwrap();
                assert!(stats.current.requests > 0);
            }),
        );
    }
    let h = history.clone();
    time(
        "stats period=7d route=api",
        20,
        Box::new(move || {
            h.stats(StatsPeriod::Week, Some("api"), Utc::now()).unwrap();
        }),
    );
    let h = history.clone();
    time(
        "requests newest page (limit 100)",
        20,
        Box::new(move || {
            assert_eq!(h.requests(&RequestQuery::default()).unwrap().len(), 100);
        }),
    );
    let h = history.clone();
    time(
        "requests status=5xx route=api (limit 100)",
        20,
        Box::new(move || {
            let query = RequestQuery {
                status: gatewatch::request_filter::StatusFilter::parse("5xx"),
                route: Some("api".into()),
                ..RequestQuery::default()
            };
            h.requests(&query).unwrap();
        }),
    );
    let h = history.clone();
    time(
        "requests since 3 days ago, page of 1000",
        10,
        Box::new(move || {
            let query = RequestQuery {
                since: Some(Utc::now() - TimeDelta::days(3)),
                limit: 1_000,
                ..RequestQuery::default()
            };
            h.requests(&query).unwrap();
        }),
    );
    let h = history.clone();
    time(
        "requests one hour 3 days ago (since and until), page of 100",
        10,
        Box::new(move || {
            let since = Utc::now() - TimeDelta::days(3);
            let query = RequestQuery {
                since: Some(since),
                until: Some(since + TimeDelta::hours(1)),
                ..RequestQuery::default()
            };
            assert_eq!(h.requests(&query).unwrap().len(), 100);
        }),
    );
    let h = history.clone();
    time(
        "requests path=/nowhere (matches nothing: every segment read)",
        5,
        Box::new(move || {
            let query = RequestQuery {
                path: Some("/nowhere".into()),
                ..RequestQuery::default()
            };
            assert!(h.requests(&query).unwrap().is_empty());
        }),
    );
    let h = history.clone();
    time(
        "requests status=418 (matches nothing; every segment decoded)",
        5,
        Box::new(move || {
            let query = RequestQuery {
                status: gatewatch::request_filter::StatusFilter::parse("418"),
                ..RequestQuery::default()
            };
            assert!(h.requests(&query).unwrap().is_empty());
        }),
    );
    let oldest_id = {
        let mut rng = fastrand::Rng::with_seed(7);
        record(&mut rng, first_seq, start).request_id
    };
    let h = history.clone();
    time(
        "request by id, the oldest",
        10,
        Box::new(move || {
            assert!(h.request_by_id(&oldest_id).unwrap().is_some());
        }),
    );
    let h = history.clone();
    time(
        "request by id, unknown",
        10,
        Box::new(move || {
            assert!(h.request_by_id("no-such-id").unwrap().is_none());
        }),
    );
    writer.shutdown();
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

/// A plausible request: three routes, four targets, some errors, some LLM answers.
fn record(rng: &mut fastrand::Rng, seq: u64, at: chrono::DateTime<Utc>) -> RequestRecord {
    let route = ["api", "web", "llm"][rng.usize(0..3)];
    let status = [200, 200, 200, 200, 201, 304, 404, 500, 502][rng.usize(0..9)];
    RequestRecord {
        seq,
        // As the proxy makes them: milliseconds then a counter (see `new_request_id`).
        request_id: compact_str::format_compact!(
            "{:011x}{:05x}",
            at.timestamp_millis(),
            seq & 0xf_ffff
        ),
        at,
        method: ["GET", "GET", "POST"][rng.usize(0..3)].into(),
        path: compact_str::format_compact!("/{route}/items/{}", rng.u32(0..1000)),
        route: Some(route.into()),
        target: Some(compact_str::format_compact!(
            "http://10.0.0.{}:8080",
            rng.u8(1..5)
        )),
        status,
        latency_us: rng.u64(100..200_000),
        upstream_us: Some(rng.u64(50..150_000)),
        bytes_in: rng.u64(0..2_000),
        bytes_out: rng.u64(100..50_000),
        client: compact_str::format_compact!("192.168.1.{}", rng.u8(1..255)),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) bench".into()),
        error: (status >= 500).then(|| "upstream_5xx".into()),
        attempts: 1,
        llm: (route == "llm").then(|| LlmUsage {
            model: ["gpt-4o", "claude-sonnet"][rng.usize(0..2)].into(),
            input_tokens: Some(rng.u64(10..4_000)),
            output_tokens: Some(rng.u64(10..2_000)),
            streamed: rng.bool(),
            first_token_us: Some(rng.u64(50_000..900_000)),
        }),
    }
}
