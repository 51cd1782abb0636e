//! Talking to upstreams: one pooled keep-alive HTTP/1.1 client for all targets, and
//! [`send`] that turns its failures into [`ProxyError`]s (connect → 502, timeout → 504).
//!
//! hyper's client is used directly rather than reqwest: it streams `Incoming` bodies both ways
//! without conversion, passes protocol upgrades through, and adds nothing per request.

use super::body::RequestBody;
use super::error::ProxyError;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// Longest a TCP connect to an upstream may take (the route timeout also bounds it).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle keep-alive connections kept per upstream.
pub const MAX_IDLE_PER_UPSTREAM: usize = 1024;
/// How long an idle upstream connection is kept.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The shared upstream client.
pub type UpstreamClient = Client<HttpConnector, RequestBody>;

/// A new upstream client (one per process; cheap to clone).
pub fn client() -> UpstreamClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(IDLE_TIMEOUT)
        .pool_max_idle_per_host(MAX_IDLE_PER_UPSTREAM)
        // The proxy sets Host itself.
        .set_host(false)
        .build(connector)
}

/// Sends `request` and waits up to `timeout` for the response headers.
pub async fn send(
    client: &UpstreamClient,
    request: Request<RequestBody>,
    timeout: Duration,
) -> Result<Response<Incoming>, ProxyError> {
    match tokio::time::timeout(timeout, client.request(request)).await {
        Err(_) => Err(ProxyError::Timeout),
        Ok(Err(error)) if error.is_connect() => Err(ProxyError::Connect),
        Ok(Err(error)) => {
            tracing::debug!(%error, "upstream failed before answering");
            Err(ProxyError::Upstream)
        }
        Ok(Ok(response)) => Ok(response),
    }
}
