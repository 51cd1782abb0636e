//! Talking to upstreams over kept-alive HTTP/1.1 connections, pooled per target ([`pool`]),
//! spoken by Gatewatch itself ([`wire`]) and driven by the tasks that use them ([`connection`]
//! sends the request and reads the response head, [`body`] reads the response body, [`upload`]
//! sends the request body), over plain TCP or TLS ([`transport`], [`tls`] for `https://`
//! targets), and [`send`], which turns failures into [`ProxyError`]s: connect → 502, TLS → 502
//! saying why, timeout → 504, a broken exchange → 502, a request body over the route's bound →
//! 413, one that stalled → 408.
//!
//! The route's timeout bounds the connect (beside [`CONNECT_TIMEOUT`]) and, once the request is
//! sent, the wait for the response head; an upload takes as long as the client keeps sending
//! (each stall bounded by `limits.body_read_timeout_ms`).
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
pub use connection::Timeouts;
pub use connection::UpstreamConnection;
use connection::{Broken, Outgoing, SendError};
pub use pool::{ConnectionPool, IDLE_TIMEOUT, MAX_IDLE_PER_TARGET};
use std::sync::Arc;
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

/// Sends `request` to `destination` and waits for the response headers, within `timeouts`.
pub async fn send(
    destination: Destination<'_>,
    request: Request<RequestBody>,
    timeouts: Timeouts,
) -> Result<Response<UpstreamBody>, ProxyError> {
    if destination.upgrade {
        // Boxed, as opening below: rare paths whose state would widen every exchange. An
        // upgrade has no body: its whole exchange is under the route's timeout.
        let upgrade =
            tokio::time::timeout(timeouts.answer, exchange_upgradable(destination, request));
        return Box::pin(upgrade).await.unwrap_or(Err(ProxyError::Timeout));
    }
    let mut request = Outgoing::new(request);
    let mut pooled = destination.pool.take();
    loop {
        let reused = pooled.is_some();
        let connection = match pooled.take() {
            Some(connection) => connection,
            None => Box::pin(tokio::time::timeout(
                timeouts.answer,
                open(destination.authority, destination.tls),
            ))
            .await
            .unwrap_or(Err(ProxyError::Timeout))?,
        };
        match connection.send(request, destination.pool, timeouts).await {
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
        Broken::TimedOut => ProxyError::Timeout,
        Broken::ClientBody(body) => body.proxy_error(),
        _ => ProxyError::Upstream,
    }
}
