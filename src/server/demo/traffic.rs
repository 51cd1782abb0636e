//! The demo traffic generator: requests for the demo routes sent through the gateway's own proxy
//! listener at a steady rate — catalog and order API calls, chat completions (plain and
//! streamed), an occasional path no route takes and an occasional small burst.
//!
//! Every request carries `User-Agent: gatewatch-demo-traffic`. At most [`MAX_IN_FLIGHT`] are
//! out at once: a tick that finds them all busy is skipped, so a slow gateway is never buried
//! under piled-up tasks. Nothing is logged per request.
//!
//! hyper's client (already the proxy's) sends them: reqwest is only a dev-dependency, and the
//! generator needs nothing it adds.

use super::llm::MODELS;
use crate::server::config::DemoTrafficConfig;
use axum::http::{Method, Request, header};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// The `User-Agent` of every generated request.
pub const USER_AGENT: &str = "gatewatch-demo-traffic";
/// Most generated requests out at once.
pub const MAX_IN_FLIGHT: usize = 32;
/// Longest one generated request (answer included) may take before it is dropped.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// One request the generator sends.
#[derive(Clone, Debug, PartialEq)]
pub enum DemoRequest {
    /// `GET /api/catalog/items`.
    CatalogList,
    /// `GET /api/catalog/items/{n}`.
    CatalogItem(u32),
    /// `POST /api/orders` with a JSON order.
    CreateOrder { item: u32, quantity: u32 },
    /// `GET /api/orders/{n}`.
    Order(u32),
    /// `POST /v1/chat/completions`.
    Chat { model: &'static str, stream: bool },
    /// `GET /v1/models`.
    Models,
    /// `GET` a path no demo route takes (a 404).
    Stray(&'static str),
}

const STRAY_PATHS: [&str; 4] = ["/wp-login.php", "/.env", "/api/v0/legacy", "/favicon.ico"];

const PROMPTS: [&str; 4] = [
    "Where is my order?",
    "Summarise today's traffic in one sentence.",
    "Is the burr grinder back in stock?",
    "How should I brew a light roast?",
];

impl DemoRequest {
    /// The next request (or, now and then, a burst of a few) for a tick.
    pub fn plan(rng: &mut fastrand::Rng) -> Vec<Self> {
        let roll = rng.u32(..100);
        let request = match roll {
            0..30 => Self::CatalogList,
            30..50 => Self::CatalogItem(rng.u32(1..=500)),
            50..62 => Self::CreateOrder {
                item: rng.u32(1..=500),
                quantity: rng.u32(1..=4),
            },
            62..77 => Self::Order(rng.u32(1..=10_000)),
            77..92 => Self::Chat {
                model: MODELS[rng.usize(..MODELS.len())],
                stream: rng.bool(),
            },
            92..95 => Self::Models,
            95..98 => Self::Stray(STRAY_PATHS[rng.usize(..STRAY_PATHS.len())]),
            _ => {
                let burst = rng.usize(3..=6);
                return (0..burst)
                    .map(|_| Self::CatalogItem(rng.u32(1..=500)))
                    .collect();
            }
        };
        vec![request]
    }

    /// The method, path and JSON body (if any).
    pub fn parts(&self, rng: &mut fastrand::Rng) -> (Method, String, Option<serde_json::Value>) {
        match self {
            Self::CatalogList => (Method::GET, "/api/catalog/items".into(), None),
            Self::CatalogItem(n) => (Method::GET, format!("/api/catalog/items/{n}"), None),
            Self::CreateOrder { item, quantity } => (
                Method::POST,
                "/api/orders".into(),
                Some(serde_json::json!({"item": item, "quantity": quantity})),
            ),
            Self::Order(n) => (Method::GET, format!("/api/orders/{n}"), None),
            Self::Chat { model, stream } => (
                Method::POST,
                "/v1/chat/completions".into(),
                Some(serde_json::json!({
                    "model": model,
                    "stream": stream,
                    "messages": [{"role": "user", "content": PROMPTS[rng.usize(..PROMPTS.len())]}],
                })),
            ),
            Self::Models => (Method::GET, "/v1/models".into(), None),
            Self::Stray(path) => (Method::GET, (*path).into(), None),
        }
    }

    /// The request to send to the proxy at `proxy`.
    fn to_request(&self, proxy: SocketAddr, rng: &mut fastrand::Rng) -> Request<Full<Bytes>> {
        let (method, path, json) = self.parts(rng);
        let builder = Request::builder()
            .method(method)
            .uri(format!("http://{proxy}{path}"))
            .header(header::USER_AGENT, USER_AGENT);
        let built = match json {
            Some(json) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(json.to_string()))),
            None => builder.body(Full::new(Bytes::new())),
        };
        built.expect("demo requests are well-formed")
    }
}

/// `addr` as a client can reach it: an unspecified IP (`0.0.0.0`, `::`) becomes loopback.
pub fn reachable(addr: SocketAddr) -> SocketAddr {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// Sends `config`'s traffic to the proxy at `proxy` (already [`reachable`]) until `stop` is
/// cancelled; requests still out then are dropped.
pub async fn run(config: DemoTrafficConfig, proxy: SocketAddr, stop: CancellationToken) {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut in_flight = JoinSet::new();
    let mut rng = fastrand::Rng::new();
    let mut ticks =
        tokio::time::interval(Duration::from_secs_f64(1.0 / config.requests_per_second));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        while in_flight.try_join_next().is_some() {}
        for request in DemoRequest::plan(&mut rng) {
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                break;
            };
            let request = request.to_request(proxy, &mut rng);
            let client = client.clone();
            in_flight.spawn(async move {
                let _slot = slot;
                // The answer is read to its end, so the proxy sees a whole exchange; its outcome
                // is the dashboard's business, not the generator's.
                let _ = tokio::time::timeout(REQUEST_TIMEOUT, async {
                    let response = client.request(request).await.ok()?;
                    response.into_body().collect().await.ok()
                })
                .await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_addresses_become_loopback() {
        let reach = |text: &str| reachable(text.parse().unwrap()).to_string();
        assert_eq!(reach("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(reach("[::]:8080"), "[::1]:8080");
        assert_eq!(reach("10.1.2.3:80"), "10.1.2.3:80");
    }

    #[test]
    fn the_mix_covers_every_kind_of_request() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut seen = std::collections::HashSet::new();
        let mut streamed = std::collections::HashSet::new();
        let mut bursts = 0;
        for _ in 0..5_000 {
            let planned = DemoRequest::plan(&mut rng);
            assert!((1..=6).contains(&planned.len()));
            if planned.len() > 1 {
                bursts += 1;
            }
            for request in planned {
                seen.insert(std::mem::discriminant(&request));
                if let DemoRequest::Chat { stream, .. } = request {
                    streamed.insert(stream);
                }
            }
        }
        assert_eq!(seen.len(), 7, "every kind of request is sent");
        assert_eq!(streamed.len(), 2, "chats both plain and streamed");
        assert!(bursts > 20, "bursts happen now and then: {bursts}");
    }

    #[test]
    fn requests_are_addressed_to_the_proxy_with_the_demo_user_agent() {
        let mut rng = fastrand::Rng::with_seed(1);
        let proxy = "127.0.0.1:8080".parse().unwrap();
        let chat = DemoRequest::Chat {
            model: "gpt-4o-mini",
            stream: true,
        }
        .to_request(proxy, &mut rng);
        assert_eq!(chat.method(), Method::POST);
        assert_eq!(
            chat.uri().to_string(),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
        assert_eq!(chat.headers()[header::USER_AGENT], USER_AGENT);
        assert_eq!(chat.headers()[header::CONTENT_TYPE], "application/json");
        let (_, path, _) = DemoRequest::CatalogItem(42).parts(&mut rng);
        assert_eq!(path, "/api/catalog/items/42");
    }
}
