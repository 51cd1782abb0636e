//! `/api/metrics`, `/api/routes`, `/api/requests`, `/api/health`, `/api/logs` and `/metrics`
//! against traffic whose every request the test knows.

use crate::WAIT;
use crate::support::*;
use serde_json::Value;
use std::collections::HashSet;

/// Sends `n` requests of `method` to `path` and returns their `X-Request-Id`s.
async fn send(gateway: &TestGateway, method: &str, path: &str, n: usize) -> Vec<String> {
    let client = client();
    let mut ids = Vec::new();
    for _ in 0..n {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = client
            .request(method, gateway.url(path))
            .header("user-agent", "metrics-test/1")
            .body("abc")
            .send()
            .await
            .unwrap();
        ids.push(
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_string(),
        );
        response.bytes().await.unwrap();
    }
    ids
}

/// Every request of a page, following `next_cursor` to the end.
async fn all_pages(gateway: &TestGateway, filter: &str, page: usize) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor = String::new();
    loop {
        let url = gateway.api(&format!("/api/requests?limit={page}{filter}{cursor}"));
        let (status, body) = get_json(&url).await;
        assert_eq!(status, 200, "{body}");
        rows.extend(body["requests"].as_array().unwrap().iter().cloned());
        match body["next_cursor"].as_u64() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return rows,
        }
    }
}

fn count(rows: &[Value], pick: impl Fn(&Value) -> bool) -> usize {
    rows.iter().filter(|r| pick(r)).count()
}

/// A Prometheus sample's value: the line starting with `series ` (name and labels exactly).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {series} in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_api_and_prometheus_report_exactly_the_traffic_sent() {
    let (one, two) = (Upstream::start("one").await, Upstream::start("two").await);
    let dead = closed_port().await;
    let gateway = TestGateway::start(json!({
        "history": {"enabled": false},
        "routes": [
            {"name": "api", "path": "/api/*", "strip_prefix": true,
             "targets": [one.url(), two.url()]},
            {"name": "dead", "path": "/dead", "targets": [format!("http://{dead}")]},
        ]
    }))
    .await;
    let mut events = gateway.events();

    let ok = send(&gateway, "GET", "/api/items?secret=1", 10).await;
    let failed = send(&gateway, "GET", "/api/status/503", 3).await;
    let posted = send(&gateway, "POST", "/dead", 2).await;
    let lost = send(&gateway, "GET", "/nowhere", 1).await;
    // The engine has counted a request once its event is passed on.
    for _ in 0..16 {
        next_request(&mut events, WAIT).await;
    }

    let (status, metrics) = get_json(&gateway.api("/api/metrics")).await;
    assert_eq!(status, 200);
    let totals = &metrics["totals"];
    assert_eq!(totals["requests"], 16);
    assert_eq!(totals["status"]["2xx"], 10);
    assert_eq!(totals["status"]["4xx"], 1);
    assert_eq!(totals["status"]["5xx"], 5);
    assert_eq!(totals["errors"], 6);
    assert_eq!(totals["errors_by_kind"]["upstream_5xx"], 3);
    assert_eq!(totals["errors_by_kind"]["connect"], 2);
    assert_eq!(totals["errors_by_kind"]["no_route"], 1);
    // Bodies that were forwarded: a failed connect or no route never reads the body.
    assert_eq!(totals["bytes_in"], 13 * 3);
    let latency = &totals["latency"];
    assert!(latency["p50_us"].as_u64().unwrap() > 0);
    assert!(latency["p50_us"].as_u64() <= latency["p99_us"].as_u64());
    assert!(latency["p99_us"].as_u64() <= latency["max_us"].as_u64());

    let (_, routes) = get_json(&gateway.api("/api/routes")).await;
    let api = routes
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "api")
        .unwrap();
    assert_eq!(api["traffic"]["requests"], 13);
    assert_eq!(api["traffic"]["status"]["5xx"], 3);
    let targets = api["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    let per_target: u64 = targets
        .iter()
        .map(|t| t["traffic"]["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(per_target, 13);
    // Round robin: the two targets share the traffic.
    for target in targets {
        let requests = target["traffic"]["requests"].as_u64().unwrap();
        assert!((6..=7).contains(&requests), "{target}");
        let share = target["share"].as_f64().unwrap();
        assert!((share - requests as f64 / 13.0).abs() < 1e-9, "{target}");
    }
    let dead_route = routes
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "dead")
        .unwrap();
    assert_eq!(dead_route["traffic"]["errors_by_kind"]["connect"], 2);

    // The request log: every request once, newest first, whatever the page size.
    let rows = all_pages(&gateway, "", 4).await;
    assert_eq!(rows.len(), 16);
    let seqs: Vec<u64> = rows.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
    let ids: HashSet<&str> = rows
        .iter()
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    let sent: HashSet<&str> = ok
        .iter()
        .chain(&failed)
        .chain(&posted)
        .chain(&lost)
        .map(String::as_str)
        .collect();
    assert_eq!(ids, sent);
    assert_eq!(rows[0]["request_id"], lost[0].as_str());
    assert_eq!(
        count(&rows, |r| r["path"] == "/api/items"),
        10,
        "query strings are stripped"
    );

    // Filters return exactly the matching requests.
    let filtered = |filter: &'static str| all_pages(&gateway, filter, 1000);
    assert_eq!(filtered("&status=5xx").await.len(), 5);
    assert_eq!(filtered("&status=503").await.len(), 3);
    assert_eq!(filtered("&status=404").await.len(), 1);
    assert_eq!(filtered("&method=post").await.len(), 2);
    assert_eq!(filtered("&route=api").await.len(), 13);
    assert_eq!(filtered("&route=api&status=2xx").await.len(), 10);
    assert_eq!(filtered("&path=status").await.len(), 3);
    assert_eq!(filtered("&client=127.0.0.1").await.len(), 16);
    assert_eq!(filtered("&client=10.0.0.1").await.len(), 0);
    let by_target = all_pages(&gateway, &format!("&target={}", one.url()), 1000).await;
    assert_eq!(
        by_target.len(),
        targets
            .iter()
            .find(|t| t["url"] == one.url().as_str())
            .unwrap()["traffic"]["requests"]
            .as_u64()
            .unwrap() as usize
    );
    // Compared as times, not strings: serialized fractions vary in length (".5Z" vs ".500001Z").
    let at = |row: &Value| {
        chrono::DateTime::parse_from_rfc3339(row["at"].as_str().unwrap()).expect("an RFC 3339 time")
    };
    let since = rows[5]["at"].as_str().unwrap().to_string();
    let newer = all_pages(
        &gateway,
        &format!("&since={}", since.replace('+', "%2B")),
        1000,
    )
    .await;
    assert_eq!(newer.len(), count(&rows, |r| at(r) >= at(&rows[5])));

    // One request, by id, with every detail.
    let (status, one_post) = get_json(&gateway.api(&format!("/api/requests/{}", posted[0]))).await;
    assert_eq!(status, 200);
    assert_eq!(one_post["method"], "POST");
    assert_eq!(one_post["route"], "dead");
    assert_eq!(one_post["status"], 502);
    assert_eq!(one_post["error"], "connect");
    assert_eq!(one_post["user_agent"], "metrics-test/1");
    assert_eq!(one_post["bytes_in"], 0, "the body was never read");
    let (status, body) = get_json(&gateway.api("/api/requests/no-such-id")).await;
    assert_eq!((status.as_u16(), body["error"].is_string()), (404, true));

    // Exports: CSV and JSON of the current filter, as downloads.
    let (status, headers, csv) = get(&gateway.api("/api/requests?format=csv&route=api")).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"gatewatch-requests-")
    );
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert!(lines[0].starts_with("seq,request_id,at,method,path,route,target,status"));
    assert_eq!(lines.len(), 1 + 13);
    assert_eq!(lines.iter().filter(|l| l.contains(",503,")).count(), 3);
    let (status, headers, json) = get(&gateway.api("/api/requests?format=json&status=5xx")).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .ends_with(".json\"")
    );
    let exported: Vec<Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(exported.len(), 5);
    assert!(
        !headers.contains_key("x-next-cursor"),
        "a complete export names no next cursor"
    );
    // An export cut short by its limit says where the rest starts.
    let (status, headers, json) =
        get(&gateway.api("/api/requests?format=json&status=5xx&limit=2")).await;
    assert_eq!(status, 200);
    let first: Vec<Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(first.len(), 2);
    let cursor = headers["x-next-cursor"].to_str().unwrap().to_string();
    let (_, _, json) = get(&gateway.api(&format!(
        "/api/requests?format=json&status=5xx&cursor={cursor}"
    )))
    .await;
    let rest: Vec<Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(
        first.len() + rest.len(),
        5,
        "the cursor continues the export"
    );

    // Prometheus: the same counts, by route, target and status class.
    let (status, headers, text) = get(&gateway.api("/metrics")).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let by_class = |route: &str, target: &str, class: &str| {
        let series = format!(
            "gatewatch_requests_total{{route=\"{route}\",target=\"{target}\",status_class=\"{class}\"}}"
        );
        text.lines()
            .find_map(|l| l.strip_prefix(&series)?.strip_prefix(' '))
            .map_or(0.0, |v| v.parse().unwrap())
    };
    let api_ok = by_class("api", &one.url(), "2xx") + by_class("api", &two.url(), "2xx");
    assert_eq!(api_ok, 10.0);
    let api_failed = by_class("api", &one.url(), "5xx") + by_class("api", &two.url(), "5xx");
    assert_eq!(api_failed, 3.0);
    assert_eq!(by_class("dead", &format!("http://{dead}"), "5xx"), 2.0);
    assert_eq!(by_class("(none)", "(none)", "4xx"), 1.0);
    assert_eq!(
        sample(
            &text,
            "gatewatch_request_errors_total{route=\"dead\",kind=\"connect\"}"
        ),
        2.0
    );
    assert_eq!(
        sample(&text, "gatewatch_request_bytes_total{route=\"api\"}"),
        39.0
    );

    // History is off here: health says so, stats cannot be served.
    let (_, health) = get_json(&gateway.api("/api/health")).await;
    assert!(health["history"].is_null());
    let (status, body) = get_json(&gateway.api("/api/stats?period=1h")).await;
    assert_eq!(status, 503);
    assert!(
        body["error"].as_str().unwrap().contains("history.enabled"),
        "{body}"
    );
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn bad_parameters_are_rejected_naming_the_parameter() {
    let gateway = TestGateway::start(json!({"routes": []})).await;
    let cases = [
        ("/api/requests?limit=0", "limit"),
        ("/api/requests?limit=1001", "limit"),
        ("/api/requests?limit=ten", "limit"),
        ("/api/requests?format=csv&limit=50001", "limit"),
        ("/api/requests?cursor=-1", "cursor"),
        ("/api/requests?status=6xx", "status"),
        ("/api/requests?status=abc", "status"),
        ("/api/requests?since=yesterday", "since"),
        (
            "/api/requests?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
            "until",
        ),
        ("/api/requests?format=xml", "format"),
        ("/api/requests?colour=red", "colour"),
        ("/api/requests?route=a&route=b", "route"),
        ("/api/stats", "period"),
        ("/api/stats?period=2h", "period"),
        ("/api/logs?level=loud", "level"),
        ("/api/logs?limit=0", "limit"),
    ];
    for (path, parameter) in cases {
        let (status, body) = get_json(&gateway.api(path)).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["parameter"], parameter, "{path}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(
            error.starts_with(&format!("{parameter}: ")),
            "{path}: {error}"
        );
    }
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn health_and_logs_describe_the_gateway() {
    capture_logs();
    let up = Upstream::start("up").await;
    let gateway = TestGateway::start(json!({"routes": [
        {"name": "web", "path": "*", "targets": [up.url()]},
    ]}))
    .await;
    let (status, health) = get_json(&gateway.api("/api/health")).await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok", "{health}");
    let history = &health["history"];
    assert_eq!(history["healthy"], true);
    assert!(
        history["path"].as_str().unwrap().ends_with("gatewatch.db"),
        "{history}"
    );
    assert_eq!(history["retention_days"], 7.0);
    assert_eq!(health["routes"][0]["healthy_targets"], 1);

    // The gateway logged opening this test's own history file.
    let dir = gateway.dir.path().display().to_string();
    let search = format!("/api/logs?search={}", "history%20opened");
    let (status, logs) = get_json(&gateway.api(&search)).await;
    assert_eq!(status, 200);
    let lines = logs["lines"].as_array().unwrap();
    let ours = lines
        .iter()
        .find(|l| l["message"].as_str().unwrap().contains(&dir));
    let ours = ours.unwrap_or_else(|| panic!("no line about {dir} in {logs}"));
    assert_eq!(ours["level"], "INFO");
    assert!(ours["target"].as_str().unwrap().starts_with("gatewatch"));
    let (_, errors) = get_json(&gateway.api("/api/logs?level=error&search=history%20opened")).await;
    assert!(errors["lines"].as_array().unwrap().is_empty());
    assert!(gateway.stop(WAIT).await);
}

/// `/api/requests/{id}` of a request that sent secrets: the value of every header the client
/// sent and got back, secrets replaced.
async fn detail_of_secret_request(gateway: &TestGateway) -> Value {
    let mut events = gateway.events();
    let response = client()
        .get(gateway.url("/api/items"))
        .header("authorization", "Bearer sk-live-4242")
        .header("cookie", "session=c00kie")
        .header("x-upstream-token", "t0k3n")
        .header("x-trace", "trace-7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    response.bytes().await.unwrap();
    next_request(&mut events, WAIT).await;
    let (status, detail) = get_json(&gateway.api(&format!("/api/requests/{id}"))).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(
        detail["request_id"],
        id.as_str(),
        "the record's fields stay at the top"
    );
    detail
}

fn header<'a>(lines: &'a Value, name: &str) -> Option<&'a Value> {
    lines.as_array().unwrap().iter().find(|l| l["name"] == name)
}

#[tokio::test]
async fn request_detail_shows_the_headers_with_secrets_redacted() {
    let upstream = Upstream::start("one").await;
    let gateway = TestGateway::start(json!({
        "history": {"enabled": false},
        "routes": [{
            "name": "api", "path": "/api/*", "strip_prefix": true, "targets": [upstream.url()],
            "response_headers": {"set": {"set-cookie": "sid=s3cr3t; HttpOnly", "x-served-by": "gw"}},
        }]
    }))
    .await;
    let detail = detail_of_secret_request(&gateway).await;
    let headers = &detail["headers"];
    let (request, response) = (&headers["request"], &headers["response"]);

    let value = |lines: &Value, name: &str| {
        header(lines, name).map(|l| (l["value"].clone(), l["redacted"].clone()))
    };
    assert_eq!(
        value(request, "x-trace"),
        Some((json!("trace-7"), json!(false)))
    );
    assert_eq!(
        value(request, "authorization"),
        Some((json!("Bearer [redacted]"), json!(true)))
    );
    assert_eq!(
        value(request, "cookie"),
        Some((json!("[redacted]"), json!(true)))
    );
    assert_eq!(
        value(request, "x-upstream-token"),
        Some((json!("[redacted]"), json!(true)))
    );
    // The response as the client got it: the route's rules applied, the request id added.
    assert_eq!(
        value(response, "x-served-by"),
        Some((json!("gw"), json!(false)))
    );
    assert_eq!(
        value(response, "set-cookie"),
        Some((json!("[redacted]"), json!(true)))
    );
    assert_eq!(
        value(response, "x-request-id").map(|(v, _)| v),
        Some(detail["request_id"].clone())
    );
    let text = detail.to_string();
    for secret in ["sk-live-4242", "c00kie", "t0k3n", "s3cr3t"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[tokio::test]
async fn with_header_capture_off_the_detail_has_no_headers() {
    let upstream = Upstream::start("one").await;
    let gateway = TestGateway::start(json!({
        "history": {"enabled": false},
        "metrics": {"capture_headers": false},
        "routes": [{"name": "api", "path": "/api/*", "strip_prefix": true, "targets": [upstream.url()]}]
    }))
    .await;
    let detail = detail_of_secret_request(&gateway).await;
    assert_eq!(detail["headers"], Value::Null, "{detail}");
    assert_eq!(detail["status"], 200);
}
