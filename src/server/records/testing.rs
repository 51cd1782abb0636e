//! Test helpers shared by the metrics engine's and the history's tests: generated request
//! records and times.

use crate::views::{LlmUsage, RequestRecord};
use chrono::{DateTime, Duration, Utc};

/// Routes, targets and models the generated traffic uses.
pub const ROUTES: [&str; 3] = ["api", "llm", "static"];
pub const TARGETS: [&str; 3] = [
    "http://10.0.0.1:8080",
    "http://10.0.0.2:8080",
    "http://10.0.0.3:9000",
];
pub const MODELS: [&str; 2] = ["gpt-4o", "claude-sonnet"];

/// The time an RFC 3339 text names (tests write times readably).
pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("an RFC 3339 time")
        .with_timezone(&Utc)
}

/// A plain successful request at `at`.
pub fn request(seq: u64, at: DateTime<Utc>) -> RequestRecord {
    RequestRecord {
        seq,
        request_id: compact_str::format_compact!("req-{seq}"),
        at,
        method: "GET".into(),
        path: "/api/items".into(),
        route: Some("api".into()),
        target: Some(TARGETS[0].into()),
        status: 200,
        latency_us: 1_000,
        upstream_us: Some(900),
        bytes_in: 10,
        bytes_out: 100,
        client: "127.0.0.1".into(),
        user_agent: Some("curl/8".into()),
        error: None,
        attempts: 1,
        llm: None,
    }
}

/// `n` varied requests (every field and every `None`/`Some` case), seqs `first..first + n`,
/// one every `step` from `start`, times at whole microseconds (what the history stores).
pub fn varied(
    seed: u64,
    first: u64,
    n: usize,
    start: DateTime<Utc>,
    step: Duration,
) -> Vec<RequestRecord> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n)
        .map(|i| {
            let seq = first + i as u64;
            // Sub-microsecond jitter is dropped: the history stores whole microseconds.
            let at = start + step * i as i32 + Duration::microseconds(rng.i64(0..1_000));
            let status = *rng
                .choice(&[
                    200u16, 200, 200, 201, 204, 301, 304, 400, 404, 429, 500, 502, 503, 101,
                ])
                .unwrap();
            let route = match rng.u8(0..10) {
                0 => None,
                n => Some(ROUTES[n as usize % ROUTES.len()].into()),
            };
            let llm = (route.as_deref() == Some("llm")).then(|| LlmUsage {
                model: match rng.u8(0..5) {
                    0 => String::new(),
                    n => MODELS[n as usize % MODELS.len()].into(),
                },
                input_tokens: rng.bool().then(|| rng.u64(1..5_000)),
                output_tokens: rng.bool().then(|| rng.u64(1..5_000)),
                streamed: rng.bool(),
                first_token_us: rng.bool().then(|| rng.u64(1..2_000_000)),
            });
            RequestRecord {
                seq,
                request_id: compact_str::format_compact!(
                    "req-{}",
                    rng.u32(0..(n as u32 / 2).max(1))
                ),
                at,
                method: rng.choice(["GET", "POST", "PUT", "DELETE"]).unwrap().into(),
                path: rng
                    .choice([
                        "/api/items",
                        "/api/items/42",
                        "/v1/chat/completions",
                        "/static/app.js",
                        "/API/Items",
                        "/",
                    ])
                    .unwrap()
                    .into(),
                target: route
                    .as_ref()
                    .and_then(|_| rng.u8(0..4).checked_sub(1))
                    .map(|t| TARGETS[t as usize].into()),
                route,
                status,
                latency_us: rng.u64(50..3_000_000),
                upstream_us: rng.bool().then(|| rng.u64(10..1_000_000)),
                bytes_in: rng.u64(0..100_000),
                bytes_out: rng.u64(0..1_000_000),
                client: rng.choice(["127.0.0.1", "10.1.1.1", "::1"]).unwrap().into(),
                user_agent: rng.bool().then(|| "Mozilla/5.0".into()),
                error: (status >= 400).then(|| {
                    if status >= 500 {
                        "upstream_5xx"
                    } else {
                        "client_4xx"
                    }
                    .into()
                }),
                attempts: rng.u32(1..4),
                llm,
            }
        })
        .collect()
}
