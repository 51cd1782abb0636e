//! The admin plane's security against the real gateway over loopback: the Host allow-list, the
//! Origin/CSRF check, accounts and tokens with their roles, sign-in and its throttle, sessions
//! ending by expiry and by reload, and the audit log.

mod support;

use gatewatch::server::admin::auth::credentials::{hash_password, new_token, token_hash};
use gatewatch::views::LiveEvent;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use std::time::Duration;
use support::{TestGateway, json, next_matching};

const ALICE: (&str, &str) = ("alice", "alice's long password");
const BOB: (&str, &str) = ("bob", "bob's long password");

/// Accounts: alice (admin), bob (viewer), and a viewer and an admin token.
struct Accounts {
    viewer_token: String,
    admin_token: String,
    auth: serde_json::Value,
}

fn accounts(session_ttl_s: u64) -> Accounts {
    let viewer_token = new_token();
    let admin_token = new_token();
    let auth = json!({
        "users": [
            {"name": ALICE.0, "password_hash": hash_password(ALICE.1).unwrap(), "role": "admin"},
            {"name": BOB.0, "password_hash": hash_password(BOB.1).unwrap(), "role": "viewer"},
        ],
        "tokens": [
            {"name": "prometheus", "token_hash": token_hash(&viewer_token), "role": "viewer"},
            {"name": "deploy", "token_hash": token_hash(&admin_token), "role": "admin"},
        ],
        "session_ttl_s": session_ttl_s,
    });
    Accounts {
        viewer_token,
        admin_token,
        auth,
    }
}

/// A client that follows no redirects (the tests look at them).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn origin(gateway: &TestGateway) -> String {
    format!("http://{}", gateway.running.dashboard_addr)
}

/// Signs in; returns the session cookie (`gatewatch_session=…`).
async fn sign_in(gateway: &TestGateway, (name, password): (&str, &str)) -> String {
    let response = client()
        .post(gateway.api("/login"))
        .header("origin", origin(gateway))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded_text(&[
            ("name", name),
            ("password", password),
            ("next", "/config"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "sign-in of {name}"
    );
    assert_eq!(response.headers()["location"], "/config");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    cookie.split(';').next().unwrap().to_string()
}

/// POSTs a server function from the dashboard's own origin, with `auth` headers.
async fn call(
    gateway: &TestGateway,
    function: &str,
    body: &str,
    auth: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut request = client()
        .post(gateway.api(&format!("/api/fn/{function}")))
        .header("origin", origin(gateway))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    for (name, value) in auth {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

fn form_text(config_text: &str) -> String {
    serde_urlencoded_text(&[("text", config_text)])
}

fn serde_urlencoded_text(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| {
            let mut encoded = String::new();
            for byte in value.bytes() {
                match byte {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        encoded.push(char::from(byte))
                    }
                    _ => encoded.push_str(&format!("%{byte:02X}")),
                }
            }
            format!("{name}={encoded}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The config file with one more route, as an edit would make it.
fn edited(gateway: &TestGateway, route: &str) -> String {
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&gateway.config_path).unwrap()).unwrap();
    config["routes"].as_array_mut().unwrap().push(
        json!({"name": route, "path": format!("/{route}/*"), "targets": ["http://127.0.0.1:9"]}),
    );
    serde_json::to_string_pretty(&config).unwrap()
}

#[tokio::test]
async fn cross_site_writes_are_refused_with_and_without_accounts() {
    for with_accounts in [false, true] {
        let mut config = json!({"routes": []});
        let accounts = accounts(3600);
        if with_accounts {
            config["auth"] = accounts.auth.clone();
        }
        let gateway = TestGateway::start(config).await;
        let before = std::fs::read(&gateway.config_path).unwrap();
        let body = form_text(&edited(&gateway, "evil"));
        let url = gateway.api("/api/fn/config/apply");
        let mut cookie = String::new();
        if with_accounts {
            cookie = sign_in(&gateway, ALICE).await;
        }
        // A form on another site, a fetch from another site, and a request with neither header.
        let attempts: [&[(&str, &str)]; 4] = [
            &[("origin", "http://evil.example")],
            &[("origin", "null")],
            &[("sec-fetch-site", "cross-site")],
            &[],
        ];
        for headers in attempts {
            let mut request = client()
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", &cookie)
                .body(body.clone());
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "accounts: {with_accounts}, headers: {headers:?}"
            );
        }
        assert_eq!(
            std::fs::read(&gateway.config_path).unwrap(),
            before,
            "nothing written"
        );
        gateway.stop(Duration::from_secs(5)).await;
    }
}

#[tokio::test]
async fn a_foreign_host_gets_421_on_every_path() {
    let gateway = TestGateway::start(json!({})).await;
    let port = gateway.running.dashboard_addr.port();
    for path in ["/", "/api/metrics", "/api/fn/config", "/metrics", "/login"] {
        let response = client()
            .get(gateway.api(path))
            .header("host", format!("rebound.example:{port}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST, "{path}");
    }
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let response = client()
            .get(gateway.api("/api/health"))
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{host}");
    }
    gateway.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn every_dashboard_response_carries_the_security_headers() {
    let gateway = TestGateway::start(json!({})).await;
    for path in ["/", "/api/metrics", "/no/such/page"] {
        let response = client().get(gateway.api(path)).send().await.unwrap();
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "same-origin");
    }
    gateway.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn the_live_socket_refuses_foreign_origins_and_too_many_clients() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let gateway =
        TestGateway::start(json!({"dashboard": {"listen": "127.0.0.1:0", "max_live_clients": 2}}))
            .await;
    let url = format!("ws://{}/api/live", gateway.running.dashboard_addr);
    let with_origin = |origin: &str| {
        let mut request = url.as_str().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_str(origin).unwrap());
        request
    };
    match tokio_tungstenite::connect_async(with_origin("http://evil.example")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::FORBIDDEN)
        }
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
    let own = origin(&gateway);
    let (first, _) = tokio_tungstenite::connect_async(with_origin(&own))
        .await
        .unwrap();
    let (second, _) = tokio_tungstenite::connect_async(with_origin(&own))
        .await
        .unwrap();
    match tokio_tungstenite::connect_async(with_origin(&own)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE)
        }
        other => panic!(
            "expected 503 for the third client, got {:?}",
            other.map(|_| ())
        ),
    }
    drop((first, second));
    gateway.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn viewers_read_and_may_not_write() {
    let accounts = accounts(3600);
    let gateway = TestGateway::start(json!({"routes": [], "auth": accounts.auth})).await;
    let bob = sign_in(&gateway, BOB).await;
    let viewer_bearer = format!("Bearer {}", accounts.viewer_token);
    let body = form_text(&edited(&gateway, "viewer-edit"));
    for auth in [
        [("cookie", bob.as_str())],
        [("authorization", viewer_bearer.as_str())],
    ] {
        for function in ["config/apply", "config/check", "config/rollback"] {
            let (status, text) = call(&gateway, function, &body, &auth).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{function} by {auth:?}: {text}"
            );
            assert!(text.contains("needs admin"), "{text}");
        }
        let (status, _) = call(&gateway, "overview", "", &auth).await;
        assert_eq!(status, StatusCode::OK, "a viewer reads");
        let (status, _) = call(&gateway, "config", "", &auth).await;
        assert_eq!(status, StatusCode::OK, "a viewer reads the config");
        let mut headers = HeaderMap::new();
        headers.insert(auth[0].0, HeaderValue::from_str(auth[0].1).unwrap());
        let audit = client()
            .get(gateway.api("/api/audit"))
            .headers(headers)
            .send()
            .await
            .unwrap();
        assert_eq!(
            audit.status(),
            StatusCode::FORBIDDEN,
            "the audit log is admin-only"
        );
    }
    gateway.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn tokens_grant_their_role_and_nothing_else_gets_in() {
    let accounts = accounts(3600);
    let gateway = TestGateway::start(json!({"routes": [], "auth": accounts.auth})).await;
    let get = |path: &str, bearer: Option<&str>| {
        let mut request = client().get(gateway.api(path));
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.send()
    };
    for path in ["/api/metrics", "/metrics", "/api/requests", "/api/routes"] {
        let response = get(path, Some(&accounts.viewer_token)).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{path} with a viewer token"
        );
        for bearer in [None, Some("gw_not-a-token")] {
            let response = get(path, bearer).await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{path} with {bearer:?}"
            );
            assert!(
                response.headers()["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .starts_with("Bearer"),
            );
        }
    }
    // Pages send whoever has not signed in to the sign-in page, and back afterwards.
    let page = get("/requests?status=5xx", None).await.unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        page.headers()["location"],
        "/login?next=/requests%3Fstatus%3D5xx"
    );
    // The sign-in page and the site's files are public.
    assert_eq!(get("/login", None).await.unwrap().status(), StatusCode::OK);
    // An admin token may write without a browser's Origin header.
    let body = form_text(&edited(&gateway, "deployed"));
    let response = client()
        .post(gateway.api("/api/fn/config/apply"))
        .header("authorization", format!("Bearer {}", accounts.admin_token))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    let applied: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(applied["reload"]["applied"], true, "{applied}");
    gateway.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_and_look_alike() {
    let accounts = accounts(3600);
    let gateway = TestGateway::start(json!({"auth": accounts.auth})).await;
    let attempt = |name: &'static str, password: &'static str| {
        client()
            .post(gateway.api("/login"))
            .header("origin", origin(&gateway))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded_text(&[
                ("name", name),
                ("password", password),
            ]))
            .send()
    };
    let unknown = attempt("mallory", "guess").await.unwrap();
    let wrong = attempt("alice", "guess").await.unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let message = |html: String| {
        html.split("data-testid=\"login-error\">")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .map(str::to_string)
    };
    let (unknown, wrong) = (
        message(unknown.text().await.unwrap()),
        message(wrong.text().await.unwrap()),
    );
    assert_eq!(
        unknown, wrong,
        "the same answer for an unknown user and a wrong password"
    );
    assert!(unknown.is_some());
    for _ in 0..3 {
        assert_eq!(
            attempt("alice", "guess").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Five failures from this client within the minute: even the right password waits now.
    let throttled = attempt("alice", ALICE.1).await.unwrap();
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    gateway.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn sessions_end_when_they_expire_or_their_user_goes() {
    let accounts = accounts(1);
    let gateway = TestGateway::start(json!({"routes": [], "auth": accounts.auth.clone()})).await;
    let page = |cookie: String| {
        client()
            .get(gateway.api("/config"))
            .header("cookie", cookie)
            .send()
    };
    // Expiry: a one-second session is gone after a second.
    let alice = sign_in(&gateway, ALICE).await;
    assert_eq!(page(alice.clone()).await.unwrap().status(), StatusCode::OK);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = page(alice.clone()).await.unwrap().status();
        if status == StatusCode::SEE_OTHER {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the session never expired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    gateway.stop(Duration::from_secs(5)).await;

    // Removal: bob's session ends at the reload that removes him.
    let accounts = accounts_with_ttl(accounts, 3600);
    let gateway = TestGateway::start(json!({"routes": [], "auth": accounts.auth.clone()})).await;
    let bob = sign_in(&gateway, BOB).await;
    let alice = sign_in(&gateway, ALICE).await;
    let page = |cookie: String| {
        client()
            .get(gateway.api("/config"))
            .header("cookie", cookie)
            .send()
    };
    assert_eq!(page(bob.clone()).await.unwrap().status(), StatusCode::OK);
    let mut live = gateway.live();
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&gateway.config_path).unwrap()).unwrap();
    config["auth"]["users"]
        .as_array_mut()
        .unwrap()
        .retain(|user| user["name"] != BOB.0);
    std::fs::write(
        &gateway.config_path,
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .unwrap();
    next_matching(&mut live, Duration::from_secs(10), |event| {
        match event.event() {
            LiveEvent::ConfigReload(reload) if reload.applied => Some(()),
            _ => None,
        }
    })
    .await;
    assert_eq!(
        page(bob).await.unwrap().status(),
        StatusCode::SEE_OTHER,
        "bob was removed"
    );
    assert_eq!(
        page(alice).await.unwrap().status(),
        StatusCode::OK,
        "alice is unchanged"
    );
    gateway.stop(Duration::from_secs(5)).await;
}

async fn json_of(response: reqwest::Response) -> serde_json::Value {
    let status = response.status();
    let bytes = response.bytes().await.unwrap();
    serde_json::from_slice(&bytes).unwrap_or_else(|error| {
        panic!(
            "{status}: not JSON ({error}): {}",
            String::from_utf8_lossy(&bytes)
        )
    })
}

fn accounts_with_ttl(accounts: Accounts, ttl: u64) -> Accounts {
    let mut auth = accounts.auth;
    auth["session_ttl_s"] = ttl.into();
    Accounts { auth, ..accounts }
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let accounts = accounts(3600);
    let gateway = TestGateway::start(json!({"auth": accounts.auth})).await;
    let alice = sign_in(&gateway, ALICE).await;
    let response = client()
        .post(gateway.api("/logout"))
        .header("origin", origin(&gateway))
        .header("cookie", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/login");
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let page = client()
        .get(gateway.api("/"))
        .header("cookie", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    gateway.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn changes_and_sign_ins_are_audited_and_the_log_survives_a_restart() {
    let accounts = accounts(3600);
    let gateway = TestGateway::start(json!({"routes": [], "auth": accounts.auth})).await;
    let alice = sign_in(&gateway, ALICE).await;
    let (status, text) = call(
        &gateway,
        "config/apply",
        &form_text(&edited(&gateway, "audited")),
        &[("cookie", &alice)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (status, text) = call(
        &gateway,
        "config/apply",
        &form_text("{\"routes\": 3}"),
        &[("cookie", &alice)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains("routes"),
        "the rejected apply names the field: {text}"
    );
    let audit = |gateway: &TestGateway, query: &str| {
        client()
            .get(gateway.api(&format!("/api/audit{query}")))
            .header("authorization", format!("Bearer {}", accounts.admin_token))
            .send()
    };
    let check = |page: serde_json::Value| {
        let entries = page["entries"].as_array().unwrap().clone();
        let apply = entries
            .iter()
            .find(|e| e["action"] == "config.apply" && e["outcome"] == "ok")
            .unwrap_or_else(|| panic!("no apply entry: {page}"));
        assert_eq!(apply["actor"], "alice");
        assert_eq!(apply["role"], "admin");
        assert_eq!(apply["client"], "127.0.0.1");
        assert_eq!(apply["summary"][0], "routes added: audited");
        assert_ne!(apply["version_before"], apply["version_after"]);
        assert!(
            entries
                .iter()
                .any(|e| e["action"] == "config.apply" && e["outcome"] == "rejected"),
            "{page}"
        );
        assert!(
            entries
                .iter()
                .any(|e| e["action"] == "login" && e["outcome"] == "ok" && e["actor"] == "alice")
        );
    };
    check(json_of(audit(&gateway, "").await.unwrap()).await);
    let filtered = json_of(audit(&gateway, "?action=login&actor=alice").await.unwrap()).await;
    assert!(
        filtered["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"] == "login")
    );
    let bad = audit(&gateway, "?limit=0").await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let gateway = gateway.restart().await;
    check(json_of(audit(&gateway, "").await.unwrap()).await);
    // The file alice wrote is hers; the version it replaced was written by hand.
    let bearer = format!("Bearer {}", accounts.admin_token);
    let (status, text) = call(&gateway, "config", "", &[("authorization", &bearer)]).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let document: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(document["author"], "alice", "{document}");
    assert_eq!(document["versions"][0]["author"], serde_json::Value::Null);
    gateway.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn an_apply_that_cannot_be_audited_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the history (and audit) file should be: it cannot be opened.
    let blocked = dir.path().join("blocked.db");
    std::fs::create_dir(&blocked).unwrap();
    let gateway = TestGateway::start(json!({
        "routes": [],
        "history": {"path": blocked.to_str().unwrap()},
    }))
    .await;
    let before = std::fs::read(&gateway.config_path).unwrap();
    let (status, text) = call(
        &gateway,
        "config/apply",
        &form_text(&edited(&gateway, "unaudited")),
        &[],
    )
    .await;
    assert_ne!(status, StatusCode::OK, "{text}");
    assert!(text.contains("audit"), "the refusal says why: {text}");
    assert_eq!(
        std::fs::read(&gateway.config_path).unwrap(),
        before,
        "nothing written"
    );
    assert!(
        gateway.running.gateway.config().routes.is_empty(),
        "nothing applied"
    );
    gateway.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn dashboard_edits_cannot_serve_directories_outside_the_config_tree() {
    let outside = tempfile::tempdir().unwrap();
    let gateway = TestGateway::start(json!({"routes": []})).await;
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&gateway.config_path).unwrap()).unwrap();
    config["static"] = json!([{"path": "/x/*", "dir": outside.path().to_str().unwrap()}]);
    let (status, text) = call(
        &gateway,
        "config/apply",
        &form_text(&config.to_string()),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains("static[0].dir"),
        "refused at the field: {text}"
    );
    assert!(gateway.running.gateway.config().static_dirs.is_empty());
    // A directory inside the config's tree is fine.
    std::fs::create_dir(gateway.dir.path().join("site")).unwrap();
    config["static"] = json!([{"path": "/x/*", "dir": "site"}]);
    let (_, text) = call(
        &gateway,
        "config/apply",
        &form_text(&config.to_string()),
        &[],
    )
    .await;
    assert!(text.contains("\"applied\":true"), "{text}");
    gateway.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn symbolic_links_out_of_a_static_directory_are_not_followed() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "top secret").unwrap();
    let gateway = TestGateway::start(json!({"routes": []})).await;
    let site = gateway.dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("index.html"), "hello").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), site.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink(outside.path(), site.join("out")).unwrap();
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&gateway.config_path).unwrap()).unwrap();
    config["static"] = json!([{"path": "/s/*", "dir": "site"}]);
    let mut live = gateway.live();
    std::fs::write(&gateway.config_path, config.to_string()).unwrap();
    next_matching(&mut live, Duration::from_secs(10), |event| {
        match event.event() {
            LiveEvent::ConfigReload(reload) if reload.applied => Some(()),
            _ => None,
        }
    })
    .await;
    let (status, _, body) = support::get(&gateway.url("/s/index.html")).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "hello"));
    for path in ["/s/leak.txt", "/s/out/secret.txt", "/s/%6Ceak.txt"] {
        let (status, _, body) = support::get(&gateway.url(path)).await;
        assert_eq!(status.as_u16(), 404, "{path}");
        assert!(!body.contains("top secret"), "{path}");
    }
    gateway.stop(Duration::from_secs(5)).await;
}
