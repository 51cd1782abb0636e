//! Forwarding headers: a client's own `X-Forwarded-*`, `Forwarded` and `X-Real-IP` are replaced
//! by what this hop knows; from `trusted_proxies` the chain is kept, and the client — for rate
//! limits, sticky sessions, the record and the dashboard — is the right-most untrusted address
//! of `X-Forwarded-For`.

use crate::normalise::{echo, reload};
use crate::support::*;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

const TRUSTED_PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
const OTHER_PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

/// Sends a GET for `url` from `peer` with `headers`; returns the status and the body.
async fn get_from(peer: IpAddr, url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut request = client_from(peer).get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

const SPOOFED: [(&str, &str); 6] = [
    ("x-forwarded-for", "203.0.113.9"),
    ("x-forwarded-for", "198.51.100.1"),
    ("x-forwarded-proto", "https"),
    ("x-forwarded-host", "evil.example"),
    ("forwarded", "for=203.0.113.9;proto=https"),
    ("x-real-ip", "203.0.113.9"),
];

#[tokio::test]
async fn an_untrusted_peers_forwarding_headers_are_replaced_by_what_this_hop_knows() {
    let upstream = Upstream::start("one").await;
    let gateway = TestGateway::start(json!({
        "trusted_proxies": [TRUSTED_PEER.to_string()],
        "routes": [{"name": "one", "path": "*", "targets": [upstream.url()]}],
    }))
    .await;
    let mut events = gateway.events();
    let mut headers = SPOOFED.to_vec();
    headers.push(("host", "shop.example"));
    let (status, body) = get_from(OTHER_PEER, &gateway.url("/"), &headers).await;
    assert_eq!(status, 200);
    let sent = &echo(&body)["headers"];
    assert_eq!(sent["x-forwarded-for"], "127.0.0.2", "only the real peer");
    assert_eq!(sent["x-forwarded-proto"], "http");
    assert_eq!(sent["x-forwarded-host"], "shop.example");
    assert!(sent.get("forwarded").is_none(), "{sent}");
    assert!(sent.get("x-real-ip").is_none(), "{sent}");
    assert_eq!(next_request(&mut events, WAIT).await.client, OTHER_PEER);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn a_trusted_proxys_chain_is_kept_and_names_the_client() {
    let upstream = Upstream::start("one").await;
    let gateway = TestGateway::start(json!({
        "trusted_proxies": ["127.0.0.1", "10.0.0.0/8"],
        "routes": [{"name": "one", "path": "*", "targets": [upstream.url()]}],
    }))
    .await;
    let mut events = gateway.events();
    let (status, body) = get_from(
        TRUSTED_PEER,
        &gateway.url("/"),
        &[
            ("x-forwarded-for", "198.51.100.7, 203.0.113.5"),
            ("x-forwarded-for", "10.1.2.3"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "shop.example"),
            ("forwarded", "for=198.51.100.7"),
            ("x-real-ip", "203.0.113.5"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let sent = &echo(&body)["headers"];
    assert_eq!(
        sent["x-forwarded-for"], "198.51.100.7, 203.0.113.5, 10.1.2.3, 127.0.0.1",
        "every line joined in order, the peer appended"
    );
    assert_eq!(sent["x-forwarded-proto"], "https");
    assert_eq!(sent["x-forwarded-host"], "shop.example");
    assert_eq!(sent["forwarded"], "for=198.51.100.7");
    assert_eq!(sent["x-real-ip"], "203.0.113.5");
    let event = next_request(&mut events, WAIT).await;
    let client: IpAddr = "203.0.113.5".parse().unwrap();
    assert_eq!(event.client, client, "the right-most untrusted address");
    // What the dashboard shows.
    let path = format!("/api/requests/{}", event.request_id);
    let (status, record) = get_json(&gateway.api(&path)).await;
    assert_eq!(status.as_u16(), 200, "{record}");
    assert_eq!(record["client"], "203.0.113.5");

    // A chain that does not parse is not believed.
    let garbled = [("x-forwarded-for", "203.0.113.5, not-an-address")];
    assert_eq!(
        get_from(TRUSTED_PEER, &gateway.url("/"), &garbled).await.0,
        200
    );
    assert_eq!(next_request(&mut events, WAIT).await.client, TRUSTED_PEER);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn rate_limits_and_sticky_sessions_follow_the_forwarded_client() {
    let upstreams = [
        Upstream::start("s1").await,
        Upstream::start("s2").await,
        Upstream::start("s3").await,
    ];
    let gateway = TestGateway::start(json!({
        "trusted_proxies": ["127.0.0.1"],
        "routes": [
            {"name": "limited", "path": "/limited", "targets": [upstreams[0].url()],
             "rate_limit": {"requests_per_second": 0.001, "burst": 1}},
            {"name": "sticky", "path": "/sticky", "sticky": true,
             "targets": upstreams.iter().map(Upstream::url).collect::<Vec<_>>()},
        ],
    }))
    .await;
    let limited = gateway.url("/limited");
    let limited = async |peer, ip| get_from(peer, &limited, &[("x-forwarded-for", ip)]).await.0;
    assert_eq!(limited(TRUSTED_PEER, "203.0.113.5").await, 200);
    assert_eq!(
        limited(TRUSTED_PEER, "203.0.113.5").await,
        429,
        "the same client"
    );
    assert_eq!(
        limited(TRUSTED_PEER, "203.0.113.6").await,
        200,
        "another client behind the same proxy"
    );
    // A client claiming other addresses still spends its own bucket.
    assert_eq!(limited(OTHER_PEER, "203.0.113.7").await, 200);
    assert_eq!(limited(OTHER_PEER, "203.0.113.8").await, 429);

    let sticky = gateway.url("/sticky");
    let mut chosen = HashMap::new();
    for round in 0..2 {
        for i in 1..=24 {
            let client = format!("198.51.100.{i}");
            let (status, body) =
                get_from(TRUSTED_PEER, &sticky, &[("x-forwarded-for", &client)]).await;
            assert_eq!(status, 200);
            let upstream = echo(&body)["upstream"].as_str().unwrap().to_string();
            let first = chosen.entry(client).or_insert_with(|| upstream.clone());
            assert_eq!(*first, upstream, "round {round}: a client keeps its target");
        }
    }
    let targets: HashSet<&String> = chosen.values().collect();
    assert!(
        targets.len() > 1,
        "clients behind one proxy spread: {chosen:?}"
    );
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn trusted_proxies_follow_a_reload() {
    let upstream = Upstream::start("one").await;
    let config = |trusted: &[&str]| {
        json!({"trusted_proxies": trusted,
               "routes": [{"name": "one", "path": "*", "targets": [upstream.url()]}]})
    };
    let gateway = TestGateway::start(config(&[])).await;
    let mut events = gateway.events();
    let headers = [("x-forwarded-for", "203.0.113.5")];
    let (_, body) = get_from(TRUSTED_PEER, &gateway.url("/"), &headers).await;
    assert_eq!(echo(&body)["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(next_request(&mut events, WAIT).await.client, TRUSTED_PEER);

    let changes = reload(&gateway, config(&["127.0.0.0/8"])).await;
    assert_eq!(changes, ["settings changed: trusted_proxies"]);
    let (_, body) = get_from(TRUSTED_PEER, &gateway.url("/"), &headers).await;
    assert_eq!(
        echo(&body)["headers"]["x-forwarded-for"],
        "203.0.113.5, 127.0.0.1"
    );
    let client: IpAddr = "203.0.113.5".parse().unwrap();
    assert_eq!(next_request(&mut events, WAIT).await.client, client);
    assert!(gateway.stop(WAIT).await);
}
