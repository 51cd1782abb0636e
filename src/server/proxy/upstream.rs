//! Talking to upstreams over kept-alive HTTP/1.1 connections, pooled per target ([`pool`]),
//! spoken by Gatewatch itself ([`wire`]) and driven by the tasks that use them ([`connection`]
//! sends the request and reads the response head, [`body`] reads the response body, [`upload`]
//! sends the request body), over plain TCP or TLS ([`transport`], [`tls`] for `https://`
//! targets), and [`send`], which turns failures into [`ProxyError`]s: connect → 502, TLS → 502
//! saying why, timeout → 504, a broken exchange → 502.
//!
//! Bodies stream both ways without conversion; protocol upgrades (WebSocket) go over a fresh
//! connection that hands its socket over on `101 Switching Protocols`.

pub mod body;
pub mod connection;
pub mod pool;
pub mod tls;
pub mod transport;
pub mod upload;
pub mod wire;

use super::error::ProxyError;
use crate::server::proxy::body::RequestBody;
use axum::http::{Request, Response};
pub use body::UpstreamBody;
pub use connection::UpstreamConnection;
use connection::{Broken, Outgoing, SendError};
use futures_util::FutureExt;
pub use pool::{ConnectionPool, IDLE_TIMEOUT, MAX_IDLE_PER_TARGET};
use std::sync::Arc;
use std::time::Duration;
pub use tls::{TargetTls, TlsFailure};
pub use transport::{CONNECT_TIMEOUT, ConnectError, Transport};

/// Where and how a request goes upstream.
pub struct Destination<'a> {
    /// The target's `host:port`.
    pub authority: &'a str,
    /// The target's idle connections.
    pub pool: &'a Arc<ConnectionPool>,
    /// TLS for an `https://` target.
    pub tls: Option<&'a TargetTls>,
    /// The request asks to switch protocols (a WebSocket upgrade).
    pub upgrade: bool,
}

/// Sends `request` to `destination` and waits up to `timeout` for the response headers.
///
/// Not an `async fn`: the future returned is the exchange's own, under the timeout, without
/// another state around it that would keep a second copy of the request.
pub fn send(
    destination: Destination<'_>,
    request: Request<RequestBody>,
    timeout: Duration,
) -> impl Future<Output = Result<Response<UpstreamBody>, ProxyError>> + '_ {
    tokio::time::timeout(timeout, exchange(destination, request))
        .map(|answered| answered.unwrap_or(Err(ProxyError::Timeout)))
}

async fn exchange(
    destination: Destination<'_>,
    request: Request<RequestBody>,
) -> Result<Response<UpstreamBody>, ProxyError> {
    if destination.upgrade {
        // Boxed, as opening below: rare paths whose state would widen every exchange.
        return Box::pin(exchange_upgradable(destination, request)).await;
    }
    let mut request = Outgoing::new(request);
    let mut pooled = destination.pool.take();
    loop {
        let reused = pooled.is_some();
        let connection = match pooled.take() {
            Some(connection) => connection,
            None => Box::pin(open(destination.authority, destination.tls)).await?,
        };
        match connection.send(request, destination.pool).await {
            Ok(response) => return Ok(response),
            // A kept-alive connection the upstream had closed: send it again on a fresh one.
            Err(SendError {
                unanswered: Some(unanswered),
                ..
            }) if reused => request = unanswered,
            Err(error) => return Err(broken(error.cause)),
        }
    }
}

/// A request that may switch protocols goes over a connection of its own.
async fn exchange_upgradable(
    destination: Destination<'_>,
    request: Request<RequestBody>,
) -> Result<Response<UpstreamBody>, ProxyError> {
    let connection = open(destination.authority, destination.tls).await?;
    let response = connection
        .send_upgradable(request)
        .await
        .map_err(|error| broken(error.into()))?;
    Ok(response.map(UpstreamBody::detached))
}

async fn open(authority: &str, tls: Option<&TargetTls>) -> Result<UpstreamConnection, ProxyError> {
    UpstreamConnection::open(authority, tls)
        .await
        .map_err(|error| {
            tracing::debug!(%error, authority, "upstream connect failed");
            match error {
                ConnectError::Tcp(_) => ProxyError::Connect,
                ConnectError::Tls(failure) => ProxyError::Tls(failure),
            }
        })
}

/// The error for an exchange that broke before an answer: a TLS failure says so (an upstream
/// that wants a client certificate says it once the request is sent, with TLS 1.3).
fn broken(error: Broken) -> ProxyError {
    tracing::debug!(%error, "upstream failed before answering");
    match &error {
        Broken::Io(io) => TlsFailure::of_io(io).map_or(ProxyError::Upstream, ProxyError::Tls),
        _ => ProxyError::Upstream,
    }
}
