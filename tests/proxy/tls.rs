//! `https://` targets: certificates verified against a private CA (`upstream_tls.ca_file`) or
//! refused with a 502 that says why, `server_name`, `insecure_skip_verify`, client certificates
//! (mTLS), kept-alive TLS connections, health probes over TLS, LLM accounting over TLS, and the
//! config errors for bad TLS settings.

use crate::support::tls::TestPki;
use crate::support::*;
use gatewatch::server::config;
use gatewatch::server::proxy::event::ErrorKind;
use hyper::StatusCode;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

/// A gateway with one route `tls` (path `*`) to `target`, with `extra` route settings.
async fn gateway_to(target: &str, extra: serde_json::Value) -> TestGateway {
    let mut route = json!({"name": "tls", "path": "*", "targets": [target]});
    route
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    TestGateway::start(json!({"routes": [route]})).await
}

fn path_text(path: &std::path::Path) -> String {
    path.to_str().unwrap().to_string()
}

#[tokio::test]
async fn a_private_ca_in_ca_file_is_trusted() {
    let pki = TestPki::new();
    let files = tempfile::tempdir().unwrap();
    let upstream = Upstream::start_tls("secure", pki.server(&["localhost"], false)).await;
    let ca = path_text(&pki.write_ca(files.path()));
    let gateway = gateway_to(
        &upstream.https_url(),
        json!({"upstream_tls": {"ca_file": ca}}),
    )
    .await;
    let (status, _, body) = get(&gateway.url("/hello?x=1")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["upstream"], "secure");
    assert_eq!(echo["uri"], "/hello?x=1");
    assert_eq!(
        echo["headers"]["host"],
        format!("localhost:{}", upstream.addr.port())
    );
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_502_that_says_so_and_its_own_error_kind() {
    let pki = TestPki::new();
    let upstream = Upstream::start_tls("unknown-ca", pki.server(&["localhost"], false)).await;
    // No ca_file: the system's roots do not know the test CA.
    let gateway = gateway_to(&upstream.https_url(), json!({})).await;
    let mut events = gateway.events();
    let (status, _, body) = get(&gateway.url("/echo")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(
        body.contains("upstream TLS: certificate not trusted"),
        "{body}"
    );
    let event = next_request(&mut events, WAIT).await;
    assert_eq!(event.error, Some(ErrorKind::UpstreamTls));
    assert_eq!(ErrorKind::UpstreamTls.as_str(), "upstream_tls");
    assert_eq!(upstream.requests(), 0);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn server_name_sets_the_name_sent_and_checked() {
    let pki = TestPki::new();
    let files = tempfile::tempdir().unwrap();
    let ca = path_text(&pki.write_ca(files.path()));
    let upstream = Upstream::start_tls("internal", pki.server(&["api.internal"], false)).await;
    let by_address = format!("https://{}", upstream.addr);

    let wrong = gateway_to(&by_address, json!({"upstream_tls": {"ca_file": ca}})).await;
    let (status, _, body) = get(&wrong.url("/echo")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(
        body.contains("upstream TLS: certificate not valid for the server name"),
        "{body}"
    );
    assert!(wrong.stop(WAIT).await);

    let named = gateway_to(
        &by_address,
        json!({"upstream_tls": {"ca_file": ca, "server_name": "api.internal"}}),
    )
    .await;
    let (status, _, body) = get(&named.url("/echo")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("\"upstream\":\"internal\""), "{body}");
    assert!(named.stop(WAIT).await);
}

#[tokio::test]
async fn insecure_skip_verify_accepts_any_certificate_and_shows_on_the_route() {
    let pki = TestPki::new();
    let upstream = Upstream::start_tls("self-made", pki.server(&["elsewhere"], false)).await;
    let gateway = gateway_to(
        &upstream.https_url(),
        json!({"upstream_tls": {"insecure_skip_verify": true}}),
    )
    .await;
    let (status, _, body) = get(&gateway.url("/echo")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, routes) = get_json(&gateway.api("/api/routes")).await;
    assert_eq!(routes[0]["name"], "tls");
    assert_eq!(routes[0]["tls_unverified"], true);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn an_upstream_requiring_a_client_certificate_gets_the_configured_one() {
    let pki = TestPki::new();
    let files = tempfile::tempdir().unwrap();
    let ca = path_text(&pki.write_ca(files.path()));
    let (cert, key) = pki.write_client(files.path(), "client");
    let upstream = Upstream::start_tls("mutual", pki.server(&["localhost"], true)).await;

    let with_certificate = gateway_to(
        &upstream.https_url(),
        json!({"upstream_tls": {
            "ca_file": ca, "client_cert": path_text(&cert), "client_key": path_text(&key),
        }}),
    )
    .await;
    for _ in 0..3 {
        let (status, _, body) = get(&with_certificate.url("/echo")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert!(with_certificate.stop(WAIT).await);

    let without = gateway_to(
        &upstream.https_url(),
        json!({"upstream_tls": {"ca_file": ca}}),
    )
    .await;
    let mut events = without.events();
    let (status, _, body) = get(&without.url("/echo")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(body.contains("upstream TLS: client certificate"), "{body}");
    let event = next_request(&mut events, WAIT).await;
    assert_eq!(event.error, Some(ErrorKind::UpstreamTls));
    assert_eq!(
        upstream.requests(),
        3,
        "only the requests with a certificate"
    );
    assert!(without.stop(WAIT).await);
}

#[tokio::test]
async fn tls_connections_are_kept_alive_and_reused() {
    let pki = TestPki::new();
    let files = tempfile::tempdir().unwrap();
    let ca = path_text(&pki.write_ca(files.path()));
    let upstream = Upstream::start_tls("kept", pki.server(&["localhost"], false)).await;
    let gateway = gateway_to(
        &upstream.https_url(),
        json!({"upstream_tls": {"ca_file": ca}}),
    )
    .await;
    let client = client();
    for round in 0..4 {
        let echo = client.get(gateway.url("/echo")).send().await.unwrap();
        assert_eq!(echo.status(), StatusCode::OK);
        let sized = client
            .get(gateway.url("/bytes/300000"))
            .send()
            .await
            .unwrap();
        assert_eq!(sized.bytes().await.unwrap().len(), 300_000);
        let chunked = client.get(gateway.url("/chunks/3")).send().await.unwrap();
        assert_eq!(chunked.text().await.unwrap(), "chunk 0\nchunk 1\nchunk 2\n");
        let upload = client
            .post(gateway.url("/upload"))
            .body(vec![7u8; 200_000])
            .send()
            .await
            .unwrap();
        assert_eq!(upload.text().await.unwrap(), "200000", "round {round}");
    }
    assert_eq!(upstream.requests(), 16);
    assert_eq!(
        upstream.connections(),
        1,
        "16 requests over one kept-alive TLS connection (one handshake)"
    );
    assert!(gateway.stop(WAIT).await);
}

/// The health of the route's only target as `/api/routes` shows it: (healthy, last error).
async fn target_health(gateway: &TestGateway) -> (bool, Option<String>) {
    let (_, routes) = get_json(&gateway.api("/api/routes")).await;
    let target = &routes[0]["targets"][0];
    (
        target["healthy"].as_bool().unwrap(),
        target["last_error"].as_str().map(str::to_string),
    )
}

async fn wait_for_health(gateway: &TestGateway, healthy: bool) -> Option<String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (now, error) = target_health(gateway).await;
        if now == healthy {
            return error;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "target never became {}",
            if healthy { "healthy" } else { "unhealthy" }
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn health_probes_go_over_tls() {
    let pki = TestPki::new();
    let files = tempfile::tempdir().unwrap();
    let ca = path_text(&pki.write_ca(files.path()));
    let upstream = Upstream::start_tls("probed", pki.server(&["localhost"], false)).await;
    let health = json!({"path": "/health", "interval_ms": 300, "timeout_ms": 300,
                        "healthy_threshold": 1, "unhealthy_threshold": 1});
    let gateway = gateway_to(
        &upstream.https_url(),
        json!({"upstream_tls": {"ca_file": ca}, "health_check": health}),
    )
    .await;
    eventually(WAIT, "probes over TLS", || upstream.probes() >= 2).await;
    assert!(target_health(&gateway).await.0);
    upstream.set_healthy(false);
    let error = wait_for_health(&gateway, false).await;
    assert_eq!(error.as_deref(), Some("status 503"));
    upstream.set_healthy(true);
    wait_for_health(&gateway, true).await;
    assert!(gateway.stop(WAIT).await);

    // Without the CA, every probe fails the handshake, and says why.
    let untrusted = gateway_to(&upstream.https_url(), json!({"health_check": health})).await;
    let error = wait_for_health(&untrusted, false).await;
    assert_eq!(
        error.as_deref(),
        Some("upstream TLS: certificate not trusted")
    );
    assert!(untrusted.stop(WAIT).await);
}

#[tokio::test]
async fn llm_tokens_are_counted_from_https_upstreams_json_and_sse() {
    let pki = TestPki::new();
    let files = tempfile::tempdir().unwrap();
    let ca = path_text(&pki.write_ca(files.path()));
    let upstream = Upstream::start_tls("llm", pki.server(&["localhost"], false)).await;
    let gateway = gateway_to(
        &upstream.https_url(),
        json!({"llm": true, "upstream_tls": {"ca_file": ca}}),
    )
    .await;
    let mut events = gateway.events();
    for (path, streamed) in [("/llm/json", false), ("/llm/sse", true)] {
        let response = client().post(gateway.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.bytes().await.unwrap();
        let event = next_request(&mut events, WAIT).await;
        let usage = event
            .llm
            .unwrap_or_else(|| panic!("no usage read from {path}"));
        assert_eq!(usage.model, "tls-model");
        assert_eq!(usage.input_tokens, Some(11), "{path}");
        assert_eq!(usage.output_tokens, Some(7), "{path}");
        assert_eq!(usage.streamed, streamed);
    }
    assert!(gateway.stop(WAIT).await);
}

/// The config errors of `route_tls` (the `upstream_tls` of a route to an https target).
fn tls_errors(target: &str, upstream_tls: serde_json::Value) -> Vec<String> {
    let text = json!({"routes": [
        {"name": "r", "path": "*", "targets": [target], "upstream_tls": upstream_tls},
    ]})
    .to_string();
    match config::parse(&text) {
        Ok(_) => Vec::new(),
        Err(error) => error.field_lines(),
    }
}

#[test]
fn bad_tls_settings_are_config_errors_at_their_field() {
    let pki = TestPki::new();
    let files = tempfile::tempdir().unwrap();
    let ca = path_text(&pki.write_ca(files.path()));
    let (cert, key) = pki.write_client(files.path(), "one");
    let (_, other_key) = pki.write_client(files.path(), "two");
    let missing = path_text(&files.path().join("missing.pem"));
    let target = "https://api.internal:8443";

    let errors = tls_errors(target, json!({"ca_file": missing}));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("routes[0].upstream_tls.ca_file: cannot read"),
        "{errors:?}"
    );

    let errors = tls_errors(target, json!({"ca_file": path_text(&key)}));
    assert!(
        errors[0].starts_with("routes[0].upstream_tls.ca_file: ")
            && errors[0].contains("no PEM certificate"),
        "{errors:?}"
    );

    let errors = tls_errors(
        target,
        json!({"ca_file": ca, "client_cert": path_text(&cert), "client_key": path_text(&other_key)}),
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("routes[0].upstream_tls.client_key: does not match client_cert"),
        "{errors:?}"
    );

    let errors = tls_errors(
        target,
        json!({"ca_file": ca, "client_cert": path_text(&cert), "client_key": missing}),
    );
    assert!(
        errors[0].starts_with("routes[0].upstream_tls.client_key: cannot read"),
        "{errors:?}"
    );

    let errors = tls_errors(
        target,
        json!({"ca_file": ca, "client_cert": path_text(&cert)}),
    );
    assert_eq!(
        errors,
        ["routes[0].upstream_tls.client_key: needed with client_cert"]
    );

    let errors = tls_errors("http://127.0.0.1:1", json!({"ca_file": ca}));
    assert_eq!(
        errors,
        ["routes[0].upstream_tls: applies to https:// targets, and this route has none"]
    );

    let good =
        json!({"ca_file": ca, "client_cert": path_text(&cert), "client_key": path_text(&key)});
    assert!(tls_errors(target, good).is_empty());
}
