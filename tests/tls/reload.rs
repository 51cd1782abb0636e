//! Certificates replaced on disk: a good replacement is served to new connections while an open
//! connection keeps working; a broken one is rejected and reported (last reload, `/api/health`)
//! while the old certificate keeps serving.

use crate::ca::*;
use crate::proxy::HttpsGateway;
use crate::support::*;
use hyper::StatusCode;
use std::time::Duration;

/// The certificate files are polled every 2 s.
const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_replaced_certificate_is_served_to_new_connections_while_an_old_one_keeps_working() {
    let upstream = Upstream::start("up").await;
    let https = HttpsGateway::start(&upstream, false).await;
    let addr = https.https_addr();
    let old = https.ca.connect(addr, "two.test", &[b"http/1.1"]).await;
    assert_eq!(served(&old), https.leaves[1].der);
    let mut old = http1(old).await;
    assert_eq!(
        get1(&mut old, "two.test", "/status/200").await.0.status,
        StatusCode::OK
    );

    let renewed = https.ca.issue(&["two.test"]);
    write_pair(https.certs.path(), "two", &renewed);
    let mut live = https.gateway.live();
    let mut served_now = None;
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        let stream = https.ca.connect(addr, "two.test", &[b"http/1.1"]).await;
        if served(&stream) == renewed.der {
            served_now = Some(stream);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let new = served_now.expect("the renewed certificate is served to new connections");
    let (head, _) = get1(&mut http1(new).await, "two.test", "/status/200").await;
    assert_eq!(head.status, StatusCode::OK);
    // The connection opened before the change still works, on its old certificate.
    let (head, _) = get1(&mut old, "two.test", "/status/201").await;
    assert_eq!(head.status, StatusCode::CREATED);
    // Written as two files, the pair may be seen half replaced first (rejected): the reload
    // that puts it in force is the one that counts.
    let report = next_matching(&mut live, WAIT, |event| match event.event() {
        gatewatch::views::LiveEvent::ConfigReload(report) if report.applied => Some(report.clone()),
        _ => None,
    })
    .await;
    assert_eq!(report.trigger, "certificate change");
    assert_eq!(report.changes, vec!["settings changed: tls"]);
    // The others are untouched.
    let other = https.ca.connect(addr, "one.test", &[b"http/1.1"]).await;
    assert_eq!(served(&other), https.leaves[0].der);
}

#[tokio::test]
async fn a_broken_replacement_is_rejected_and_reported_while_the_old_certificate_serves() {
    let upstream = Upstream::start("up").await;
    let https = HttpsGateway::start(&upstream, false).await;
    let addr = https.https_addr();
    let mut live = https.gateway.live();
    // A new certificate whose key did not come with it: the old key no longer matches.
    let renewed = https.ca.issue(&["two.test"]);
    replace_file(&https.certs.path().join("two.pem"), &renewed.chain_pem);
    let report = next_matching(&mut live, WAIT, |event| match event.event() {
        gatewatch::views::LiveEvent::ConfigReload(report) => Some(report.clone()),
        _ => None,
    })
    .await;
    assert!(!report.applied, "{report:?}");
    assert_eq!(report.errors.len(), 1, "{report:?}");
    assert!(
        report.errors[0].starts_with("tls.certificates[1].key: ")
            && report.errors[0].contains("is not the private key of the certificate in"),
        "{report:?}"
    );
    let stream = https.ca.connect(addr, "two.test", &[b"http/1.1"]).await;
    assert_eq!(
        served(&stream),
        https.leaves[1].der,
        "the old one serves on"
    );
    let (status, health) = get_json(&https.gateway.api("/api/health")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "degraded", "{health}");
    let problems = health["problems"].to_string();
    assert!(problems.contains("tls: rejected"), "{problems}");
    assert!(problems.contains("tls.certificates[1].key"), "{problems}");

    // The matching key arrives: applied, the problem is gone.
    replace_file(&https.certs.path().join("two.key"), &renewed.key_pem);
    let report = next_matching(&mut live, WAIT, |event| match event.event() {
        gatewatch::views::LiveEvent::ConfigReload(report) => Some(report.clone()),
        _ => None,
    })
    .await;
    assert!(report.applied, "{report:?}");
    let stream = https.ca.connect(addr, "two.test", &[b"http/1.1"]).await;
    assert_eq!(served(&stream), renewed.der);
    let (_, health) = get_json(&https.gateway.api("/api/health")).await;
    assert_eq!(health["status"], "ok", "{health}");
    let names: Vec<_> = health["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["names"][0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["one.test", "two.test", "*.example.com"]);
}
