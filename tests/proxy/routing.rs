//! Routing, rewriting, error answers, static directories and per-request events (gigabyte
//! bodies stream in `tests/streaming.rs`, a binary of their own).

use crate::support::*;
use gatewatch::server::proxy::event::{ErrorKind, ProxyEvent};
use hyper::StatusCode;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

fn echo(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not an upstream echo: {body}"))
}

#[tokio::test]
async fn most_specific_route_wins_and_paths_are_rewritten() {
    let (api, health, rest) = (
        Upstream::start("api").await,
        Upstream::start("health").await,
        Upstream::start("rest").await,
    );
    let gateway = TestGateway::start(json!({"routes": [
        {"name": "rest", "path": "*", "targets": [rest.url()]},
        {"name": "api", "path": "/api/*", "strip_prefix": true, "targets": [format!("{}/v2", api.url())]},
        {"name": "health", "path": "/api/health", "methods": ["GET"], "targets": [health.url()]},
    ]}))
    .await;

    let (status, _, body) = get(&gateway.url("/api/users/7?expand=1")).await;
    assert_eq!(status, StatusCode::OK);
    let seen = echo(&body);
    assert_eq!(seen["upstream"], "api");
    assert_eq!(
        seen["uri"], "/v2/users/7?expand=1",
        "prefix stripped, base path added, query kept"
    );

    assert_eq!(
        echo(&get(&gateway.url("/api/health")).await.2)["upstream"],
        "health"
    );
    assert_eq!(
        echo(&get(&gateway.url("/apiary")).await.2)["upstream"],
        "rest",
        "prefixes end at a segment"
    );
    let post = client()
        .post(gateway.url("/api/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        echo(&post.text().await.unwrap())["upstream"],
        "api",
        "methods narrow the exact route"
    );
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn forwarding_headers_request_ids_and_header_rules() {
    let upstream = Upstream::start("one").await;
    let gateway = TestGateway::start(json!({"routes": [{
        "name": "one", "path": "*", "targets": [upstream.url()],
        "request_headers": {"set": {"x-env": "test"}, "remove": ["x-drop-me"]},
        "response_headers": {"set": {"x-served-by": "gatewatch"}, "remove": ["x-upstream"]},
    }]}))
    .await;

    let response = client()
        .get(gateway.url("/hello"))
        .header("host", "shop.example")
        .header("x-forwarded-for", "203.0.113.9")
        .header("connection", "keep-alive, x-private")
        .header("x-private", "hop")
        .header("x-drop-me", "1")
        .send()
        .await
        .unwrap();
    let headers = response.headers().clone();
    let seen = echo(&response.text().await.unwrap());
    let sent = &seen["headers"];
    assert_eq!(
        sent["x-forwarded-for"], "127.0.0.1",
        "a client's own chain is not believed"
    );
    assert_eq!(sent["x-forwarded-proto"], "http");
    assert_eq!(sent["x-forwarded-host"], "shop.example");
    assert_eq!(
        sent["host"],
        upstream.addr.to_string(),
        "upstream gets its own host name"
    );
    assert!(
        sent.get("x-private").is_none(),
        "headers named by Connection are hop-by-hop"
    );
    assert!(sent.get("x-drop-me").is_none());
    assert_eq!(sent["x-env"], "test");
    let id = headers["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 16, "generated id returned to the client");
    assert_eq!(sent["x-request-id"], id, "and sent upstream");
    assert_eq!(headers["x-served-by"], "gatewatch");
    assert!(headers.get("x-upstream").is_none());
    assert!(
        headers.get("x-upstream-private").is_none(),
        "upstream's hop-by-hop headers removed"
    );

    let response = client()
        .get(gateway.url("/"))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-42");
    assert_eq!(
        echo(&response.text().await.unwrap())["headers"]["x-request-id"],
        "trace-42"
    );
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn proxy_errors_are_short_answers_with_the_request_id() {
    let dead = closed_port().await;
    let slow = Upstream::start("slow").await;
    let gateway = TestGateway::start(json!({"routes": [
        {"name": "dead", "path": "/dead/*", "targets": [format!("http://{dead}")], "retries": 0},
        {"name": "slow", "path": "/hold/*", "targets": [slow.url()], "timeout_ms": 200},
    ]}))
    .await;
    let mut events = gateway.events();

    let cases = [
        ("/nothing", 404, "no route matches", ErrorKind::NoRoute),
        ("/dead/x", 502, "upstream unreachable", ErrorKind::Connect),
        (
            "/hold/never",
            504,
            "did not answer in time",
            ErrorKind::Timeout,
        ),
    ];
    for (path, status, reason, kind) in cases {
        // Never a hang: each answer comes well within the bound (the timeout is 200 ms).
        let (got, headers, body) = tokio::time::timeout(WAIT, get(&gateway.url(path)))
            .await
            .unwrap_or_else(|_| panic!("{path} hung"));
        assert_eq!(got.as_u16(), status, "{path}: {body}");
        let id = headers["x-request-id"].to_str().unwrap().to_string();
        assert!(
            body.contains(reason) && body.contains(&id),
            "{path}: {body}"
        );
        assert!(body.len() < 200, "short body: {body}");
        let event = next_matching(&mut events, WAIT, |e| match &**e {
            ProxyEvent::Request(r) if r.request_id == id.as_str() => Some(r.clone()),
            _ => None,
        })
        .await;
        assert_eq!(event.status.as_u16(), status);
        assert_eq!(event.error, Some(kind));
    }
    // The 504 came while the upstream still held the request, never answered.
    slow.wait_for_holds(1, WAIT).await;
    slow.release();
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn every_request_is_recorded_once_with_its_details() {
    let upstream = Upstream::start("one").await;
    let gateway = TestGateway::start(
        json!({"routes": [{"name": "files", "path": "/*", "targets": [upstream.url()]}]}),
    )
    .await;
    let mut events = gateway.events();
    let response = client()
        .post(gateway.url("/upload?token=secret"))
        .header("user-agent", "test-agent/1")
        .body(vec![7u8; 5000])
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "5000");
    let (_, _, body) = get(&gateway.url("/bytes/12345")).await;
    assert_eq!(body.len(), 12345);

    let upload = next_request(&mut events, WAIT).await;
    assert_eq!(upload.method, "POST");
    assert_eq!(upload.path, "/upload");
    assert_eq!(upload.route.as_deref(), Some("files"));
    assert_eq!(upload.target.as_deref(), Some(upstream.url().as_str()));
    assert_eq!(upload.status, 200);
    assert_eq!(upload.bytes_in, 5000);
    assert_eq!(upload.bytes_out, 4);
    assert_eq!(upload.user_agent.as_ref().unwrap(), "test-agent/1");
    assert_eq!(upload.error, None);
    assert!(upload.upstream_latency.unwrap() <= upload.latency);
    let download = next_request(&mut events, WAIT).await;
    assert_eq!(download.bytes_out, 12345);
    assert_eq!(gateway.running.gateway.status().requests_total, 2);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn static_directories_serve_files_with_spa_fallback_and_no_traversal() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "<h1>app</h1>").unwrap();
    std::fs::write(site.path().join("app.js"), "console.log(1)").unwrap();
    let secret_dir = tempfile::tempdir().unwrap();
    std::fs::write(secret_dir.path().join("secret.txt"), "TOP SECRET").unwrap();
    let gateway = TestGateway::start(json!({"static": [
        {"path": "/app/*", "dir": site.path(), "spa_fallback": "index.html"},
        {"path": "/plain/*", "dir": site.path()},
    ]}))
    .await;

    let (status, headers, body) = get(&gateway.url("/app/app.js")).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "console.log(1)"));
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert_eq!(
        get(&gateway.url("/app/some/client/route")).await.2,
        "<h1>app</h1>"
    );
    assert_eq!(get(&gateway.url("/plain/missing")).await.0, 404);
    assert_eq!(get(&gateway.url("/plain/")).await.2, "<h1>app</h1>");

    let secret = secret_dir.path().file_name().unwrap().to_str().unwrap();
    for attempt in [
        format!("/plain/../{secret}/secret.txt"),
        format!("/plain/%2e%2e/{secret}/secret.txt"),
        "/plain/..%2f..%2fetc%2fpasswd".to_string(),
    ] {
        let mut stream = tokio::net::TcpStream::connect(gateway.running.proxy_addr)
            .await
            .unwrap();
        // Raw request: clients would normalise the dot segments away.
        let request = format!("GET {attempt} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
        tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
            .await
            .unwrap();
        let mut answer = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut answer)
            .await
            .unwrap();
        assert!(
            !answer.contains("TOP SECRET") && !answer.contains("root:"),
            "{attempt}: {answer}"
        );
        assert!(!answer.starts_with("HTTP/1.1 200"), "{attempt}: {answer}");
    }
    assert!(gateway.stop(WAIT).await);
}
