//! CPU cost of recording, per request, on one thread: what the recorder task spends turning the
//! proxy's events into counts, histograms, the recent-request ring, the header log and the
//! Prometheus registry. Run with `cargo bench --features ssr --bench recorder`.
//!
//! Events come in batches the size the recorder drains every 20 ms at 35 000 requests/s, with the
//! shape the proxy benchmark sends (one route, two targets, a short path, a few headers).

use axum::http::{HeaderMap, HeaderValue, Method};
use compact_str::CompactString;
use gatewatch::server::metrics::engine::MetricsEngine;
use gatewatch::server::metrics::prometheus::PrometheusMetrics;
use gatewatch::server::proxy::event::RequestEvent;
use gatewatch::server::proxy::header_capture::CapturedHeaders;
use std::hint::black_box;
use std::time::{Duration, Instant};

const BATCH: usize = 700;
const BATCHES: usize = 1_500;

fn main() {
    let route = CompactString::const_new("bench");
    let targets = [
        CompactString::const_new("http://127.0.0.1:4101"),
        CompactString::const_new("http://127.0.0.1:4102"),
    ];
    let mut request_headers = HeaderMap::new();
    request_headers.insert("host", HeaderValue::from_static("127.0.0.1:4180"));
    request_headers.insert("accept", HeaderValue::from_static("*/*"));
    let mut response_headers = HeaderMap::new();
    response_headers.insert("content-type", HeaderValue::from_static("text/plain"));
    response_headers.insert("content-length", HeaderValue::from_static("2"));
    let event = |i: usize, headers: bool| RequestEvent {
        route: Some(route.clone()),
        target: Some(targets[i % 2].clone()),
        latency: Duration::from_micros(900 + (i % 400) as u64),
        upstream_latency: Some(Duration::from_micros(700 + (i % 300) as u64)),
        bytes_out: 2,
        attempts: 1,
        headers: headers.then(|| {
            let mut captured = CapturedHeaders::request(&request_headers);
            captured.add_response(&response_headers);
            captured
        }),
        ..RequestEvent::arrived(
            compact_str::format_compact!("{i:016x}"),
            Method::GET,
            CompactString::const_new("/two-bytes"),
            "127.0.0.1".parse().unwrap(),
        )
    };

    let batch_of = |batch: usize, headers: bool| -> Vec<RequestEvent> {
        (0..BATCH)
            .map(|i| event(batch * BATCH + i, headers))
            .collect()
    };

    for headers in [true, false] {
        let engine = MetricsEngine::new(0);
        let mut spent = Duration::ZERO;
        for batch in 0..BATCHES {
            let mut events = batch_of(batch, headers);
            let started = Instant::now();
            let records = engine.record_requests(&mut events);
            drop(black_box((records, events)));
            spent += started.elapsed();
        }
        report(
            &format!("engine (headers {})", if headers { "on" } else { "off" }),
            spent,
        );
    }

    let prometheus = PrometheusMetrics::default();
    let engine = MetricsEngine::new(0);
    let mut spent = Duration::ZERO;
    for batch in 0..BATCHES {
        let mut events = batch_of(batch, false);
        let records = engine.record_requests(&mut events);
        let started = Instant::now();
        prometheus.record_requests(&records);
        spent += started.elapsed();
        if batch % 50 == 49 {
            // The recorder's once-a-second upkeep.
            prometheus.set_gauges(&Default::default(), &[]);
        }
    }
    report("of which Prometheus", spent);
}

fn report(what: &str, spent: Duration) {
    let requests = (BATCH * BATCHES) as f64;
    println!(
        "{what:<24} {:>7.0} ns/request  ({:.0} requests/s on one core)",
        spent.as_nanos() as f64 / requests,
        requests / spent.as_secs_f64()
    );
}
