//! The JSON API of the `api` and `flaky` demo upstreams: a made-up product catalog and order
//! service that answers GET and POST on any path, after a latency drawn from its [`ApiProfile`],
//! with an occasional 500.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// How a demo API answers: latency and error rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ApiProfile {
    /// The shortest answer.
    pub min_latency: Duration,
    /// The longest answer.
    pub max_latency: Duration,
    /// How strongly latencies bunch near the minimum (1: uniform; higher: a longer, thinner tail).
    pub tail: i32,
    /// Share of requests answered with 500.
    pub error_rate: f64,
}

impl ApiProfile {
    /// `api`: a few milliseconds, 0.5 % errors.
    pub const FAST: Self = Self {
        min_latency: Duration::from_millis(2),
        max_latency: Duration::from_millis(9),
        tail: 1,
        error_rate: 0.005,
    };

    /// `flaky`: 20–400 ms with most answers near the bottom, 8 % errors.
    pub const FLAKY: Self = Self {
        min_latency: Duration::from_millis(20),
        max_latency: Duration::from_millis(400),
        tail: 4,
        error_rate: 0.08,
    };

    /// The latency for a uniform random `draw` in [0, 1).
    pub fn latency(&self, draw: f64) -> Duration {
        let spread = self.max_latency.saturating_sub(self.min_latency);
        self.min_latency + spread.mul_f64(draw.clamp(0.0, 1.0).powi(self.tail))
    }
}

/// What one demo API upstream knows about itself.
struct Api {
    name: String,
    profile: ApiProfile,
}

/// The router of a demo API upstream called `name`: `GET /health`, and every other path.
pub fn router(name: &str, profile: ApiProfile) -> Router {
    let api = Arc::new(Api {
        name: name.to_string(),
        profile,
    });
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .fallback(answer)
        .with_state(api)
}

const PRODUCTS: [&str; 8] = [
    "espresso beans",
    "pour-over kettle",
    "burr grinder",
    "ceramic mug",
    "milk frother",
    "travel tumbler",
    "scale",
    "paper filters",
];

async fn answer(State(api): State<Arc<Api>>, method: Method, uri: Uri, body: Bytes) -> Response {
    tokio::time::sleep(api.profile.latency(fastrand::f64())).await;
    if fastrand::f64() < api.profile.error_rate {
        let error = json!({"error": "internal error (a demo failure)", "upstream": api.name});
        return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(error)).into_response();
    }
    let last_segment = uri.path().rsplit('/').next().unwrap_or("");
    let (status, body) = match (method, last_segment.parse::<u64>()) {
        (Method::POST, _) => (
            StatusCode::CREATED,
            json!({
                "id": fastrand::u32(1..1_000_000),
                "status": "created",
                "received_bytes": body.len(),
            }),
        ),
        (Method::GET, Ok(id)) => (StatusCode::OK, item(id)),
        (Method::GET, Err(_)) => {
            let first = fastrand::u64(1..500);
            let items: Vec<_> = (first..first + 5).map(item).collect();
            (StatusCode::OK, json!({"items": items, "total": 504}))
        }
        (_, _) => (StatusCode::OK, json!({"ok": true})),
    };
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(name) = api.name.parse() {
        response.headers_mut().insert("x-demo-upstream", name);
    }
    response
}

fn item(id: u64) -> serde_json::Value {
    let name = PRODUCTS[(id % PRODUCTS.len() as u64) as usize];
    json!({"id": id, "name": name, "price_cents": 499 + (id * 37) % 5_000})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_stay_within_the_profile() {
        for profile in [ApiProfile::FAST, ApiProfile::FLAKY] {
            assert_eq!(profile.latency(0.0), profile.min_latency);
            assert_eq!(profile.latency(1.0), profile.max_latency);
            assert!(profile.latency(0.5) < profile.max_latency);
        }
        // The flaky tail is long but thin: the median answer is well under 100 ms.
        assert!(ApiProfile::FLAKY.latency(0.5) < Duration::from_millis(50));
        assert!(ApiProfile::FLAKY.latency(0.99) > Duration::from_millis(350));
    }
}
