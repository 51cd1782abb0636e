//! The proxy listener. No routes exist yet, so every request is answered `404 no route`.

use axum::Router;
use axum::http::{StatusCode, Uri};

/// Builds the proxy router.
pub fn router() -> Router {
    Router::new().fallback(no_route)
}

async fn no_route(uri: Uri) -> (StatusCode, String) {
    (
        StatusCode::NOT_FOUND,
        format!("no route matches {}\n", uri.path()),
    )
}
