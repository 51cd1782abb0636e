//! Request targets before routing: paths normalised (dot segments, encoded dots, merged
//! slashes) so a more specific route's `methods`, `rate_limit` and `host` cannot be slipped
//! past, paths that cannot be normalised refused with 400, `%2F` kept encoded, and
//! absolute-form requests routed by their authority. Sent on raw sockets: HTTP clients
//! normalise URLs themselves.

use crate::support::raw::raw_request;
use crate::support::*;
use gatewatch::server::gateway::config_reload::{self, Trigger};
use gatewatch::server::proxy::event::ErrorKind;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

/// A GET of `target` for `host`, closing after the answer.
pub fn get_head(target: &str, host: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
}

/// Writes `config` over the gateway's file (with the listen addresses it started on) and applies
/// it as SIGHUP does; returns what the reload report says changed.
pub async fn reload(gateway: &TestGateway, config: serde_json::Value) -> Vec<String> {
    let mut config = config;
    let object = config.as_object_mut().unwrap();
    object.insert("listen".into(), "127.0.0.1:0".into());
    object.insert("dashboard".into(), json!({"listen": "127.0.0.1:0"}));
    std::fs::write(
        &gateway.config_path,
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .unwrap();
    let report = config_reload::reload_file(&gateway.running.gateway, Trigger::Signal)
        .await
        .expect("a reload report");
    assert!(report.applied, "{:?}", report.errors);
    report.changes
}

pub fn echo(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not an upstream echo: {body}"))
}

#[tokio::test]
async fn every_spelling_of_a_path_gets_the_rules_of_the_route_it_names() {
    let (api, api_admin, admin) = (
        Upstream::start("api").await,
        Upstream::start("api-admin").await,
        Upstream::start("admin").await,
    );
    let gateway = TestGateway::start(json!({"routes": [
        {"name": "api", "path": "/api/*", "targets": [api.url()]},
        {"name": "api-admin", "path": "/api/admin", "methods": ["GET"], "host": "admin.example",
         "targets": [api_admin.url()]},
        {"name": "admin", "path": "/admin", "methods": ["GET"], "host": "admin.example",
         "rate_limit": {"requests_per_second": 0.001, "burst": 2}, "targets": [admin.url()]},
    ]}))
    .await;
    let addr = gateway.running.proxy_addr;
    let mut events = gateway.events();

    // Raw, these went to /api/*, past /api/admin's methods and host.
    for path in [
        "/api/x/../admin",
        "/api//admin",
        "/api/./admin",
        "/api/%61dmin",
    ] {
        let (status, _, body) = raw_request(addr, &get_head(path, "admin.example")).await;
        assert_eq!(status, 200, "{path}");
        let seen = echo(&body);
        assert_eq!(seen["upstream"], "api-admin", "{path}");
        assert_eq!(seen["uri"], "/api/admin", "{path}: forwarded normalised");
    }
    let recorded = next_request(&mut events, WAIT).await;
    assert_eq!(
        (recorded.path.as_str(), recorded.route.as_deref()),
        ("/api/admin", Some("api-admin")),
        "recorded as routed"
    );

    // Raw, /api/%2e%2e/admin went to /api/* too; normalised it is /admin, with /admin's
    // methods, host and rate limit — and no other route to fall back on.
    let dotted = "/api/%2e%2e/admin";
    let post = format!(
        "POST {dotted} HTTP/1.1\r\nHost: admin.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(raw_request(addr, &post).await.0, 404, "methods");
    assert_eq!(
        raw_request(addr, &get_head(dotted, "other.example"))
            .await
            .0,
        404,
        "host"
    );
    for path in [dotted, "/api/x/../../admin"] {
        let (status, _, body) = raw_request(addr, &get_head(path, "admin.example")).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(echo(&body)["upstream"], "admin");
        assert_eq!(echo(&body)["uri"], "/admin");
    }
    let (status, _, _) = raw_request(addr, &get_head("/api/.%2E/admin", "admin.example")).await;
    assert_eq!(status, 429, "the third spelling spends the same bucket");
    assert_eq!(api.requests(), 0, "nothing slipped through to /api/*");
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn paths_above_the_root_or_with_broken_escapes_are_refused_with_400() {
    let upstream = Upstream::start("any").await;
    let gateway = TestGateway::start(json!({"routes": [
        {"name": "any", "path": "*", "targets": [upstream.url()]},
    ]}))
    .await;
    let mut events = gateway.events();
    for path in [
        "/../etc/passwd",
        "/a/../../etc",
        "/%2e%2e/etc",
        "/a%zz",
        "/a%2",
    ] {
        let (status, _, body) =
            raw_request(gateway.running.proxy_addr, &get_head(path, "gw.example")).await;
        assert_eq!(status, 400, "{path}");
        assert!(body.starts_with("400 Bad Request: "), "{body}");
        let event = next_request(&mut events, WAIT).await;
        assert_eq!(event.status.as_u16(), 400);
        assert_eq!(event.error, Some(ErrorKind::Client4xx));
        assert_eq!(event.route, None);
    }
    assert_eq!(upstream.requests(), 0);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn encoded_slashes_stay_encoded_and_prefixes_are_stripped_from_the_normal_path() {
    let upstream = Upstream::start("svc").await;
    let gateway = TestGateway::start(json!({"routes": [
        {"name": "svc", "path": "/svc/*", "strip_prefix": true,
         "targets": [format!("{}/v2", upstream.url())]},
    ]}))
    .await;
    let (status, _, body) = raw_request(
        gateway.running.proxy_addr,
        &get_head("/svc/a%2fb/./c//%7Euser/x/..?q=%2e%2e//../", "gw.example"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        echo(&body)["uri"],
        "/v2/a%2Fb/c/~user/?q=%2e%2e//../",
        "%2F one segment, escapes normal, query untouched"
    );
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn merge_slashes_can_be_turned_off_and_follows_a_reload() {
    let (api, exact) = (Upstream::start("api").await, Upstream::start("exact").await);
    let config = |merge: bool| {
        json!({"merge_slashes": merge, "routes": [
            {"name": "api", "path": "/api/*", "targets": [api.url()]},
            {"name": "exact", "path": "/api/admin", "targets": [exact.url()]},
        ]})
    };
    let gateway = TestGateway::start(config(true)).await;
    let addr = gateway.running.proxy_addr;
    let seen = echo(&raw_request(addr, &get_head("/api//admin", "gw")).await.2);
    assert_eq!(
        (&seen["upstream"], &seen["uri"]),
        (&"exact".into(), &"/api/admin".into())
    );

    let changes = reload(&gateway, config(false)).await;
    assert_eq!(changes, ["settings changed: merge_slashes"]);
    let seen = echo(
        &raw_request(addr, &get_head("/api//admin/./x", "gw"))
            .await
            .2,
    );
    assert_eq!(
        (&seen["upstream"], &seen["uri"]),
        (&"api".into(), &"/api//admin/x".into()),
        "slashes kept, dot segments still resolved"
    );
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn absolute_form_requests_are_routed_by_their_authority_and_forwarded_in_origin_form() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let gateway = TestGateway::start(json!({"routes": [
        {"name": "a", "path": "/x", "host": "a.example", "targets": [a.url()]},
        {"name": "b", "path": "/x", "host": "b.example", "targets": [b.url()]},
    ]}))
    .await;
    let addr = gateway.running.proxy_addr;
    let (status, _, body) = raw_request(
        addr,
        "GET http://a.example/y/../x?k=v HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    let seen = echo(&body);
    assert_eq!(seen["upstream"], "a", "the authority wins over Host");
    assert_eq!(seen["uri"], "/x?k=v", "origin form, normalised");
    assert_eq!(seen["headers"]["host"], a.addr.to_string());
    assert_eq!(seen["headers"]["x-forwarded-host"], "a.example");

    // Origin form still goes by Host.
    let (_, _, body) = raw_request(addr, &get_head("/x", "b.example")).await;
    assert_eq!(echo(&body)["upstream"], "b");
    assert!(gateway.stop(WAIT).await);
}
