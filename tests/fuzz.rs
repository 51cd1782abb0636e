//! The fuzz targets without the fuzzer: every file of the committed corpus
//! (`fuzz/corpus/<target>/`) through the same entry points as the cargo-fuzz targets
//! (`gatewatch::server::fuzz`), then a few seconds of seeded mutations of it per target (bit
//! flips, interesting bytes and numbers, inserted tokens, deleted and repeated ranges, splices
//! between corpus files). Deterministic, and no instrumented build: `bench/fuzz.sh` runs the
//! coverage-guided fuzzer for minutes per target.
//!
//! A failing input is written to `fuzz/artifacts/<target>/` (replay it with
//! `cargo fuzz run <target> <file>`, or add it to the corpus once fixed).
//! `GATEWATCH_FUZZ_ITERATIONS` overrides the mutations per target.

use gatewatch::server::fuzz;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Mutations per target, unless the time bound comes first.
const ITERATIONS: usize = 20_000;
/// The most time mutations of one target take (a slow machine runs fewer).
const TIME_BOUND: Duration = Duration::from_secs(4);
/// The longest input a mutation makes.
const MAX_LEN: usize = 16 * 1024;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The corpus of `target`, in file-name order.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = root().join("corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    let corpus: Vec<_> = files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(path).unwrap())
        })
        .collect();
    assert!(!corpus.is_empty(), "no corpus in {}", dir.display());
    corpus
}

/// splitmix64: a small seeded generator, enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Bytes that parsers treat specially.
const INTERESTING_BYTES: &[u8] = b"\0\x01\x7f\x80\xff\r\n\t \"\\{}[],:;=&%+-./0179afAFxX";
/// Numbers at the edges of integer types, as text.
const INTERESTING_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "127",
    "128",
    "255",
    "65535",
    "65536",
    "2147483648",
    "4294967296",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "1e400",
    "ffffffffffffffff",
];

/// `input` changed by one to four mutations.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[(String, Vec<u8>)], tokens: &[&[u8]]) {
    for _ in 0..=rng.below(4) {
        let len = input.len();
        let at = rng.below(len + 1);
        match rng.below(9) {
            0 if len > 0 => input[at.min(len - 1)] ^= 1 << rng.below(8),
            1 if len > 0 => {
                input[at.min(len - 1)] = INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())]
            }
            2 => input.insert(at, rng.next() as u8),
            3 => {
                let end = (at + 1 + rng.below(16)).min(len);
                input.drain(at.min(end)..end);
            }
            4 => {
                let end = (at + 1 + rng.below(64)).min(len);
                let copy = input[at.min(end)..end].to_vec();
                let to = rng.below(len + 1);
                input.splice(to..to, copy);
            }
            5 => {
                // Splice: this input's head, another's tail.
                let other = &corpus[rng.below(corpus.len())].1;
                let from = rng.below(other.len() + 1);
                input.truncate(at);
                input.extend_from_slice(&other[from..]);
            }
            6 if !tokens.is_empty() => {
                let token = tokens[rng.below(tokens.len())];
                input.splice(at..at, token.iter().copied());
            }
            7 => {
                let number = INTERESTING_NUMBERS[rng.below(INTERESTING_NUMBERS.len())];
                input.splice(at..at, number.bytes());
            }
            _ => {
                // Overwrite a digit run-like stretch with random ASCII.
                for byte in input.iter_mut().skip(at).take(1 + rng.below(4)) {
                    *byte = b' ' + rng.below(95) as u8;
                }
            }
        }
    }
    input.truncate(MAX_LEN);
}

/// Replays the corpus of `target` through `check`, then mutations of it.
fn run(target: &str, check: fn(&[u8]), tokens: &[&[u8]]) {
    let corpus = corpus(target);
    for (name, input) in &corpus {
        if catch_unwind(|| check(input)).is_err() {
            panic!("{target}: corpus file {name} fails");
        }
    }
    let iterations = std::env::var("GATEWATCH_FUZZ_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(ITERATIONS);
    let seed = target
        .bytes()
        .fold(0u64, |h, b| h.rotate_left(5) ^ u64::from(b));
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut ran = 0;
    while ran < iterations && started.elapsed() < TIME_BOUND {
        let mut input = corpus[rng.below(corpus.len())].1.clone();
        mutate(&mut rng, &mut input, &corpus, tokens);
        if catch_unwind(AssertUnwindSafe(|| check(&input))).is_err() {
            let dir = root().join("artifacts").join(target);
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("crash-mutation-{ran}"));
            std::fs::write(&path, &input).unwrap();
            panic!(
                "{target}: mutation {ran} fails; input written to {}",
                path.display()
            );
        }
        ran += 1;
    }
    eprintln!(
        "{target}: {} corpus files and {ran} mutations in {:?}",
        corpus.len(),
        started.elapsed()
    );
}

#[test]
fn response_head() {
    let tokens: &[&[u8]] = &[
        b"\r\n",
        b"\r\n\r\n",
        b"HTTP/1.1 ",
        b"HTTP/1.0 ",
        b"content-length: ",
        b"transfer-encoding: chunked\r\n",
        b"transfer-encoding: ",
        b"connection: close\r\n",
        b"connection: keep-alive\r\n",
        b", ",
        b"chunked",
        b"204",
        b"304",
        b"101",
    ];
    run("response_head", fuzz::response_head, tokens);
}

#[test]
fn chunked() {
    let tokens: &[&[u8]] = &[b"\r\n", b"\n", b"0\r\n\r\n", b";ext=1", b"x-trailer: 1\r\n"];
    run("chunked", fuzz::chunked, tokens);
}

#[test]
fn config() {
    let tokens: &[&[u8]] = &[
        b"null",
        b"{}",
        b"[]",
        b"\"\"",
        b"true",
        b"-0.5",
        b"\"/\"",
        b"\"http://127.0.0.1:1\"",
        b"\"https://[::1]:443\"",
        b"\"0.0.0.0:0\"",
        b"\"routes\": [{\"name\": \"r\", \"path\": \"/\", \"targets\": [\"http://a:1\"]}],",
        b"\"limits\": {},",
        b"\"trusted_proxies\": [\"10.0.0.0/8\"],",
        b"\"tls\": {},",
        b"\"history\": {\"max_bytes\": 0},",
        b"\\u0000",
        b"\\ud800",
    ];
    run("config", fuzz::config, tokens);
}

#[test]
fn admin_query() {
    let tokens: &[&[u8]] = &[
        b"&",
        b"=",
        b"%",
        b"%00",
        b"%ff",
        b"+",
        b"limit=",
        b"cursor=",
        b"since=",
        b"until=",
        b"status=",
        b"method=",
        b"path=",
        b"format=json",
        b"5xx",
        b"2026-11-25T10:00:00Z",
        b"T23:59:60.999999999+23:59",
    ];
    run("admin_query", fuzz::admin_query, tokens);
}

#[test]
fn request_path() {
    let tokens: &[&[u8]] = &[
        b"/", b"//", b"/.", b"/..", b"/../", b"/./", b"%2e", b"%2E", b"%2f", b"%2F", b"%7e", b"%",
        b"%zz", b"?", b"?a=../b", b"#",
    ];
    run("request_path", fuzz::request_path, tokens);
}

#[test]
fn segment() {
    run(
        "segment",
        fuzz::segment,
        &[
            b"\x01",
            b"\x80",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
        ],
    );
}

/// Writes the segment corpus's seeds (segments as the history stores them): run with
/// `--ignored` after a change to the segment layout, then minimise the corpus.
#[test]
#[ignore]
fn write_segment_seeds() {
    use chrono::{DateTime, Duration};
    use gatewatch::views::{LlmUsage, RequestRecord};
    let start = DateTime::from_timestamp(1_796_000_000, 123_000).unwrap();
    let record = |seq: u64, offset: i64| RequestRecord {
        seq,
        request_id: format!("req-{seq}").into(),
        at: start + Duration::milliseconds(offset),
        method: if seq.is_multiple_of(3) { "POST" } else { "GET" }.into(),
        path: format!("/api/items/{}", seq % 4).into(),
        route: (!seq.is_multiple_of(5)).then(|| "api".into()),
        target: (!seq.is_multiple_of(5)).then(|| "http://127.0.0.1:9001".into()),
        status: [200, 404, 502, 200][seq as usize % 4],
        latency_us: 1_000 + seq * 37,
        upstream_us: seq.is_multiple_of(2).then_some(800 + seq),
        bytes_in: seq * 10,
        bytes_out: 2_048,
        client: "10.0.0.1".into(),
        user_agent: (seq % 2 == 1).then(|| "curl/8.5.0".into()),
        error: (seq % 4 == 2).then(|| "upstream_5xx".into()),
        attempts: 1 + (seq % 4 == 2) as u32,
        llm: seq.is_multiple_of(3).then(|| LlmUsage {
            model: "gpt-4o-mini".into(),
            input_tokens: Some(12),
            output_tokens: seq.is_multiple_of(2).then_some(40),
            streamed: seq.is_multiple_of(2),
            first_token_us: seq.is_multiple_of(2).then_some(300),
        }),
    };
    let mut extremes = record(u64::MAX - 1, -86_400_000);
    extremes.latency_us = u64::MAX;
    extremes.bytes_in = u64::MAX;
    extremes.path = "".into();
    let seeds: [(&str, Vec<RequestRecord>); 4] = [
        ("one", vec![record(1, 0)]),
        (
            "varied",
            (100..112)
                .map(|seq| record(seq, seq as i64 * 700))
                .collect(),
        ),
        (
            "gaps-and-time-going-back",
            vec![
                record(5, 0),
                record(9, -5_000),
                record(1_000, 1),
                record(1_001, 3),
            ],
        ),
        ("extremes", vec![record(0, 0), extremes]),
    ];
    let dir = root().join("corpus").join("segment");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, records) in seeds {
        std::fs::write(dir.join(name), fuzz::segment_input(&records)).unwrap();
    }
}
