//! `dashboard.tls`: the dashboard, its API, `/metrics` and the live socket over HTTPS, the
//! session cookie `Secure`, and the certificates listed in `/api/health`.

use crate::ca::*;
use crate::support::*;
use bytes::Bytes;
use futures_util::StreamExt;
use gatewatch::server::admin::auth::credentials::hash_password;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const PASSWORD: &str = "a long enough password";

#[tokio::test]
async fn the_dashboard_speaks_https_with_a_secure_cookie_and_a_wss_live_socket() {
    let ca = TestCa::new();
    let certs = tempfile::tempdir().unwrap();
    let dashboard_leaf = ca.issue(&["localhost", "127.0.0.1"]);
    let proxy_leaf = ca.issue_for_days(&["soon.test"], 5);
    let dashboard_pair = write_pair(certs.path(), "dashboard", &dashboard_leaf);
    let proxy_pair = write_pair(certs.path(), "proxy", &proxy_leaf);
    let gateway = TestGateway::start(json!({
        "dashboard": {"listen": "127.0.0.1:0", "tls": {"certificates": [entry(&dashboard_pair)]}},
        "tls": {"listen": "127.0.0.1:0", "certificates": [entry(&proxy_pair)]},
        "auth": {"users": [{"name": "alice", "password_hash": hash_password(PASSWORD).unwrap(), "role": "admin"}]},
    }))
    .await;
    let addr = gateway.running.dashboard_addr;
    let origin = format!("https://127.0.0.1:{}", addr.port());

    // Plain HTTP gets no answer from the dashboard listener.
    let plain = reqwest::Client::builder().no_proxy().build().unwrap();
    assert!(plain.get(gateway.api("/login")).send().await.is_err());

    // Sign in over HTTPS: the cookie is Secure.
    let mut sender = http1(ca.connect(addr, "127.0.0.1", &[b"http/1.1"]).await).await;
    let form = format!(
        "name=alice&password={}&next=%2F",
        PASSWORD.replace(' ', "+")
    );
    let request = Request::post("/login")
        .header("host", addr.to_string())
        .header("origin", &origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form)))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_string();

    // The API over HTTPS (HTTP/2 by ALPN): the certificates, the one expiring soon among them.
    let mut sender = http2(ca.connect(addr, "localhost", &[b"h2"]).await).await;
    let request = Request::get(format!("https://localhost:{}/api/health", addr.port()))
        .header("cookie", &cookie)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let health: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let certificates = health["certificates"].as_array().unwrap();
    assert_eq!(certificates.len(), 2, "{health}");
    assert_eq!(certificates[0]["listener"], "proxy");
    assert_eq!(certificates[0]["names"], json!(["soon.test"]));
    let days_left = certificates[0]["days_left"].as_i64().unwrap();
    assert!((3..=5).contains(&days_left), "{days_left}");
    assert!(
        certificates[0]["issuer"]
            .as_str()
            .unwrap()
            .contains("Gatewatch Test Intermediate")
    );
    assert_eq!(certificates[1]["listener"], "dashboard");
    assert_eq!(certificates[1]["names"], json!(["localhost", "127.0.0.1"]));

    // The live socket over wss.
    let stream = ca.connect(addr, "localhost", &[b"http/1.1"]).await;
    let mut request = format!("wss://localhost:{}/api/live", addr.port())
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    request.headers_mut().insert(
        "origin",
        format!("https://localhost:{}", addr.port())
            .parse()
            .unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("live socket over wss");
    let first = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("a live event within 5 s")
        .unwrap()
        .unwrap();
    assert!(first.is_text(), "{first:?}");
}
