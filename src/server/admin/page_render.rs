//! Server-rendered pages within a deadline. Rendering a page takes milliseconds, but Leptos's
//! server render can, rarely, stall for good while it waits on a page's data (a race inside its
//! `Suspense` machinery: leptos-rs/leptos#4851, #4866) — the browser would wait forever. Each
//! page is therefore rendered in full (it is a few hundred kilobytes at most) before anything is
//! sent, under a deadline; a render that misses it is dropped and the page rendered afresh, and
//! when that misses its deadline too the answer is a 503 that asks the browser to come back.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// The deadline of each attempt: the first far above any real render on a loaded box, the
/// second longer still.
const ATTEMPTS: [Duration; 2] = [Duration::from_secs(3), Duration::from_secs(10)];
/// Largest page buffered (far above any real page; a larger one is an error, not a page).
const MAX_PAGE_BYTES: usize = 16 * 1024 * 1024;

/// Middleware for the page routes (see the module docs). Requests other than GET and HEAD, and
/// server functions (under `/api/`, registered beside the pages), go through untouched.
pub async fn within_deadline(request: Request, next: Next) -> Response {
    within(&ATTEMPTS, request, next).await
}

/// [`within_deadline`] with the given deadlines, one per attempt.
async fn within(deadlines: &[Duration], request: Request, next: Next) -> Response {
    let is_page = (request.method() == Method::GET || request.method() == Method::HEAD)
        && !request.uri().path().starts_with("/api/");
    if !is_page {
        return next.run(request).await;
    }
    let (parts, _empty) = request.into_parts();
    for (attempt, &deadline) in deadlines.iter().enumerate() {
        let request = Request::from_parts(parts.clone(), Body::empty());
        match tokio::time::timeout(deadline, render(next.clone(), request)).await {
            Ok(response) => return response,
            Err(_) => tracing::warn!(
                path = %parts.uri.path(),
                attempt = attempt + 1,
                ?deadline,
                "page render stalled; dropped"
            ),
        }
    }
    stalled()
}

/// The whole response of one render, its body read to the end.
async fn render(next: Next, request: Request) -> Response {
    let (head, body) = next.run(request).await.into_parts();
    match axum::body::to_bytes(body, MAX_PAGE_BYTES).await {
        Ok(bytes) => Response::from_parts(head, Body::from(bytes)),
        Err(error) => {
            tracing::warn!(%error, "page render failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be rendered.",
            )
                .into_response()
        }
    }
}

/// Every attempt stalled: ask the browser to try again shortly.
fn stalled() -> Response {
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        "The page could not be rendered in time; try again.",
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::ServiceExt;

    /// Short deadlines: the renders here take microseconds, or forever.
    const TEST_ATTEMPTS: [Duration; 2] = [Duration::from_millis(50), Duration::from_millis(100)];

    /// A page whose first `stalls` renders never finish.
    fn app(stalls: usize) -> (Router, Arc<AtomicUsize>) {
        let renders = Arc::new(AtomicUsize::new(0));
        let counted = renders.clone();
        let router = Router::new()
            .route(
                "/page",
                get(move || {
                    let render = counted.fetch_add(1, Ordering::SeqCst);
                    async move {
                        if render < stalls {
                            std::future::pending::<()>().await;
                        }
                        format!("render {render}")
                    }
                }),
            )
            .layer(axum::middleware::from_fn(|request, next| {
                within(&TEST_ATTEMPTS, request, next)
            }));
        (router, renders)
    }

    async fn get_page(router: Router) -> (StatusCode, String) {
        let response = router
            .oneshot(Request::get("/page").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_page_that_renders_is_sent_as_rendered() {
        let (router, renders) = app(0);
        assert_eq!(get_page(router).await, (StatusCode::OK, "render 0".into()));
        assert_eq!(renders.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_stalled_render_is_dropped_and_the_page_rendered_again() {
        let (router, renders) = app(1);
        assert_eq!(get_page(router).await, (StatusCode::OK, "render 1".into()));
        assert_eq!(renders.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn when_every_render_stalls_the_browser_is_asked_to_come_back() {
        let (router, renders) = app(usize::MAX);
        let response = router
            .oneshot(Request::get("/page").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(renders.load(Ordering::SeqCst), TEST_ATTEMPTS.len());
    }
}
