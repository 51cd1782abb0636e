//! CPU cost of the history writer, per stored request: rows and rollups written to a real
//! SQLite file in a temporary directory, the way the recorder hands them over (batches of the
//! size it drains every 20 ms at 35 000 requests/s). Run with
//! `cargo bench --features ssr --bench history`.
//!
//! The records have the proxy benchmark's shape: one route, two targets, a short path, ids as
//! the proxy generates them.

use gatewatch::server::history::History;
use gatewatch::server::proxy::headers::new_request_id;
use gatewatch::views::RequestRecord;
use std::time::{Duration, Instant};

const BATCH: usize = 700;
const BATCHES: usize = 1_000;

fn main() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("history.db");
    let (history, writer) =
        History::open(&path, Duration::from_secs(7 * 24 * 3600)).expect("opens the history");
    let targets = ["http://127.0.0.1:4101", "http://127.0.0.1:4102"];
    let record = |seq: u64| RequestRecord {
        seq,
        request_id: new_request_id().to_str().expect("ascii").into(),
        at: chrono::Utc::now(),
        method: "GET".into(),
        path: "/two-bytes".into(),
        route: Some("bench".into()),
        target: Some(targets[seq as usize % 2].into()),
        status: 200,
        latency_us: 900 + seq % 400,
        upstream_us: Some(700 + seq % 300),
        bytes_in: 0,
        bytes_out: 2,
        client: "127.0.0.1".into(),
        user_agent: Some("wrk".into()),
        error: None,
        attempts: 1,
        llm: None,
    };
    let batches: Vec<Vec<RequestRecord>> = (0..BATCHES)
        .map(|b| (0..BATCH).map(|i| record((b * BATCH + i) as u64)).collect())
        .collect();

    let cpu_before = process_cpu();
    let started = Instant::now();
    for batch in batches {
        history.submit(batch);
        // Like the recorder: the next batch comes after the writer has had time for this one
        // (the queue is bounded; a full queue would drop rows instead of measuring them).
        while history.status().rows_written + (BATCH as u64) * 4 < history.next_seq() {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    assert!(history.flush_blocking(), "the writer stopped");
    let wall = started.elapsed();
    let cpu = process_cpu() - cpu_before;
    let rows = (BATCH * BATCHES) as f64;
    let status = history.status();
    assert_eq!(status.rows_written, rows as u64, "every row is stored");
    println!(
        "history writer: {rows} rows in {:.2} s wall, {:.2} µs CPU per row ({:.0} rows/s), \
         database {} MiB",
        wall.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / rows,
        rows / wall.as_secs_f64(),
        std::fs::metadata(&path).map_or(0, |m| m.len()) >> 20,
    );
    writer.shutdown();
}

/// CPU time this process has used (user + system, all threads).
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("stat has a command in parentheses")
        .1
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 (1-based), in clock ticks (100 Hz on Linux).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}
