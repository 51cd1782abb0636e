//! Gigabyte bodies through the proxy, both ways, in flat memory.
//!
//! A test binary of its own, on purpose: cargo runs test binaries one after another, so the two
//! gibibytes never stream beside the timing-sensitive tests of `tests/proxy` (which run as
//! threads of one process and would share both cores with it), and the resident-memory check
//! measures this test alone rather than whatever else the process runs at the time. Adding
//! another test here would undo both: keep this file to this one test.

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;
use support::*;

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn gigabyte_bodies_stream_both_ways_in_flat_memory() {
    const GIB: u64 = 1 << 30;
    let upstream = Upstream::start("bulk").await;
    let gateway = TestGateway::start(
        json!({"routes": [{"name": "bulk", "path": "*", "targets": [upstream.url()]}]}),
    )
    .await;
    let before = rss_kib();

    let response = client()
        .get(gateway.url(&format!("/bytes/{GIB}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let mut received = 0u64;
    while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
        received += chunk.unwrap().len() as u64;
    }
    assert_eq!(received, GIB);

    let chunk = bytes::Bytes::from(vec![1u8; 256 * 1024]);
    let chunks = (GIB / chunk.len() as u64) as usize;
    let upload = futures_util::stream::iter(
        (0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    );
    let response = client()
        .put(gateway.url("/upload"))
        .body(reqwest::Body::wrap_stream(upload))
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), GIB.to_string());

    let grown_mib = rss_kib().saturating_sub(before) / 1024;
    assert!(
        grown_mib < 64,
        "2 GiB through the proxy grew RSS by {grown_mib} MiB"
    );
    assert!(gateway.stop(WAIT).await);
}
