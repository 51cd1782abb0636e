//! Response compression: per route (`compression`), negotiated from `Accept-Encoding`, streaming,
//! never for what must not or need not be compressed; and the dashboard listener's.

use crate::support::*;
use async_compression::codecs::{BrotliDecoder, Decode, GzipDecoder, ZstdDecoder};
use async_compression::core::util::PartialBuffer;
use hyper::StatusCode;
use reqwest::header::HeaderMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

async fn gateway_for(upstream: &Upstream, compression: serde_json::Value) -> TestGateway {
    TestGateway::start(json!({"routes": [
        {"name": "packed", "path": "*", "llm": true, "targets": [upstream.url()],
         "compression": compression},
    ]}))
    .await
}

/// GET `url` with `Accept-Encoding: accept`: the headers and the body as sent.
async fn fetch(url: &str, accept: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let response = client()
        .get(url)
        .header("accept-encoding", accept)
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

fn decode(encoding: &str, data: &[u8]) -> Vec<u8> {
    let mut output = vec![0u8; 8 << 20];
    let mut input = PartialBuffer::new(data);
    let mut out = PartialBuffer::new(&mut output[..]);
    let done = match encoding {
        "gzip" => {
            let mut decoder = GzipDecoder::new();
            while !decoder.decode(&mut input, &mut out).unwrap() {}
            decoder.finish(&mut out).unwrap()
        }
        "br" => {
            let mut decoder = BrotliDecoder::new();
            while !decoder.decode(&mut input, &mut out).unwrap() {}
            decoder.finish(&mut out).unwrap()
        }
        "zstd" => {
            let mut decoder = ZstdDecoder::new();
            while !decoder.decode(&mut input, &mut out).unwrap() {}
            decoder.finish(&mut out).unwrap()
        }
        other => panic!("unexpected encoding {other}"),
    };
    assert!(done);
    let written = out.written_len();
    output.truncate(written);
    output
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|value| value.to_str().unwrap())
}

fn text(size: usize) -> Vec<u8> {
    let line = b"The quick brown fox jumps over the lazy dog, again and again.\n";
    line.iter().copied().cycle().take(size).collect()
}

#[tokio::test]
async fn zstd_br_and_gzip_round_trip_with_vary() {
    let upstream = Upstream::start("packed").await;
    let gateway = gateway_for(&upstream, json!({})).await;
    for encoding in ["zstd", "br", "gzip"] {
        for path in ["/text/200000", "/text/200000/chunked"] {
            let (status, headers, body) = fetch(&gateway.url(path), encoding).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(
                header(&headers, "content-encoding"),
                Some(encoding),
                "{path}"
            );
            assert_eq!(header(&headers, "vary"), Some("accept-encoding"));
            assert_eq!(header(&headers, "content-length"), None);
            assert!(
                body.len() < 20_000,
                "{encoding} {path}: {} bytes",
                body.len()
            );
            assert_eq!(decode(encoding, &body), text(200_000), "{encoding} {path}");
        }
    }
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn q_values_and_the_routes_algorithms_choose_the_encoding() {
    let upstream = Upstream::start("choosy").await;
    let gateway = gateway_for(&upstream, json!({"algorithms": ["br", "gzip"]})).await;
    let url = gateway.url("/text/5000");
    let chosen = |accept: &'static str| {
        let url = url.clone();
        async move {
            let (_, headers, _) = fetch(&url, accept).await;
            header(&headers, "content-encoding").map(str::to_string)
        }
    };
    assert_eq!(chosen("gzip, br, zstd").await.as_deref(), Some("br"));
    assert_eq!(chosen("zstd").await, None, "zstd is not among the route's");
    assert_eq!(chosen("gzip;q=1, br;q=0.5").await.as_deref(), Some("gzip"));
    assert_eq!(chosen("br;q=0, *;q=0.1").await.as_deref(), Some("gzip"));
    assert_eq!(chosen("identity").await, None);
    let (_, headers, body) = fetch(&url, "identity").await;
    assert_eq!(header(&headers, "vary"), Some("accept-encoding"));
    assert_eq!(body, text(5000));
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn min_bytes_small_encoded_and_incompressible_answers_pass_untouched() {
    let upstream = Upstream::start("untouched").await;
    let gateway = gateway_for(&upstream, json!({"min_bytes": 1024})).await;

    let (_, headers, body) = fetch(&gateway.url("/text/1000"), "gzip").await;
    assert_eq!(header(&headers, "content-encoding"), None);
    assert_eq!(header(&headers, "vary"), None);
    assert_eq!(header(&headers, "content-length"), Some("1000"));
    assert_eq!(body, text(1000));
    let (_, headers, _) = fetch(&gateway.url("/text/1024"), "gzip").await;
    assert_eq!(header(&headers, "content-encoding"), Some("gzip"));

    let (_, headers, body) = fetch(&gateway.url("/encoded"), "br, zstd").await;
    assert_eq!(header(&headers, "content-encoding"), Some("gzip"));
    assert_eq!(body, vec![b'z'; 4096], "passed on as the upstream sent it");

    let (_, headers, body) = fetch(&gateway.url("/image/5000"), "gzip").await;
    assert_eq!(header(&headers, "content-encoding"), None);
    assert_eq!(body.len(), 5000);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn event_streams_are_never_compressed_nor_held_back() {
    let upstream = Upstream::start("events").await;
    let gateway = gateway_for(&upstream, json!({"min_bytes": 0})).await;
    let mut response = client()
        .get(gateway.url("/sse"))
        .header("accept-encoding", "gzip, br, zstd")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers().get("content-encoding"), None);
    let first = tokio::time::timeout(WAIT, response.chunk())
        .await
        .expect("the first event arrives while the upstream holds the stream open")
        .unwrap()
        .unwrap();
    assert!(first.starts_with(b"data: first"));
    upstream.release();
    let mut rest = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        rest.extend_from_slice(&chunk);
    }
    assert!(rest.ends_with(b"data: last\n\n"));
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn compressed_llm_answers_still_count_tokens_and_no_compression_is_the_default() {
    let upstream = Upstream::start("llm").await;
    let gateway = gateway_for(&upstream, json!({"min_bytes": 0})).await;
    let mut events = gateway.events();
    let (_, headers, body) = fetch(&gateway.url("/llm/json"), "gzip").await;
    assert_eq!(header(&headers, "content-encoding"), Some("gzip"));
    let answer: serde_json::Value = serde_json::from_slice(&decode("gzip", &body)).unwrap();
    assert_eq!(answer["model"], "tls-model");
    let event = next_request(&mut events, WAIT).await;
    let usage = event.llm.expect("usage read before compression");
    assert_eq!(
        (usage.input_tokens, usage.output_tokens),
        (Some(11), Some(7))
    );
    assert_eq!(
        event.bytes_out,
        body.len() as u64,
        "the bytes sent, compressed"
    );
    assert!(gateway.stop(WAIT).await);

    let plain = TestGateway::start(json!({"routes": [
        {"name": "plain", "path": "*", "targets": [upstream.url()]},
    ]}))
    .await;
    let (_, headers, body) = fetch(&plain.url("/text/5000"), "gzip").await;
    assert_eq!(header(&headers, "content-encoding"), None);
    assert_eq!(header(&headers, "vary"), None);
    assert_eq!(body, text(5000));
    assert!(plain.stop(WAIT).await);
}

#[tokio::test]
async fn the_dashboard_compresses_pages_json_and_metrics() {
    let upstream = Upstream::start("dash").await;
    let gateway = gateway_for(&upstream, json!({})).await;
    // Requests recorded first, so the CSV export has rows (tower-http leaves tiny bodies alone).
    let mut events = gateway.events();
    for _ in 0..3 {
        get(&gateway.url("/echo")).await;
        next_request(&mut events, WAIT).await;
    }
    for path in ["/", "/api/routes", "/metrics", "/api/requests?format=csv"] {
        let (status, headers, body) = fetch(&gateway.api(path), "gzip").await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(header(&headers, "content-encoding"), Some("gzip"), "{path}");
        assert!(!decode("gzip", &body).is_empty(), "{path}");
        let (_, headers, body) = fetch(&gateway.api(path), "identity").await;
        assert_eq!(header(&headers, "content-encoding"), None, "{path}");
        assert!(!body.is_empty());
    }
    assert!(gateway.stop(WAIT).await);
}
