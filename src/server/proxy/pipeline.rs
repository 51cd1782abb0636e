//! The proxy core. Every request goes through the same named steps:
//!
//! 1. [`match_route`] — the most specific route (or static directory) for method, host and path;
//! 2. [`check_rate_limit`] — the client's token bucket on that route;
//! 3. [`pick_target`] — a healthy target whose breaker admits it, chosen by the route's strategy;
//! 4. [`rewrite_request`] — upstream URI, hop-by-hop headers, `X-Forwarded-*`, request id, rules;
//! 5. [`forward`] — send and wait for the response headers (bounded by the route's timeout),
//!    feeding the outcome to the target's breaker and passive health;
//! 6. [`rewrite_response`] — hop-by-hop headers, rules;
//! 7. [`Exchange::record`] — wrap the body so the request's event is recorded when it ends.
//!
//! Steps 3–5 repeat for retries: idempotent bodyless requests whose connection failed before any
//! response (connect refused, or a pooled connection found closed) go to another target, at most
//! `retries` times, with a short exponential backoff. Timeouts and answered requests are never
//! retried.

use super::balance::TargetSet;
use super::body::{BoxError, Completion, MeteredBody, RequestBody, ResponseBody};
use super::error::ProxyError;
use super::event::{ErrorKind, EventSink, RequestEvent, RequestShare};
use super::headers::{self, X_REQUEST_ID};
use super::table::{Handler, Route, RouteTable, StaticService, StaticSite};
use super::target::{InFlight, Outcome, Target};
use super::upstream::{self, Destination, UpstreamBody};
use super::websocket::{self, Session};
use crate::server::proxy::header_capture::CapturedHeaders;
use crate::server::proxy::llm_tap::LlmTap;
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::http::uri::{self, PathAndQuery};
use axum::http::{Request, Response, StatusCode, Uri, Version};
use compact_str::CompactString;
use futures_util::FutureExt;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tower_http::services::fs::ServeFileSystemResponseBody;

/// What the proxy needs to serve requests; shared by every connection.
pub struct ProxyCore {
    /// The route table in force (swapped whole on reload).
    pub table: arc_swap::ArcSwap<RouteTable>,
    /// Where finished requests are reported.
    pub events: EventSink,
    /// Open WebSocket tunnels.
    pub tunnels: TaskTracker,
    /// Cancelled to close every tunnel (at the end of a shutdown's drain period).
    pub close_tunnels: CancellationToken,
    /// Client connections open now.
    pub connections: AtomicU64,
}

impl ProxyCore {
    /// Serves one request from `client`.
    pub async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
        client: IpAddr,
    ) -> Response<MeteredBody> {
        let mut exchange = Exchange::begin(&request, client, self.events.requests_here());
        let table = self.table.load_full();
        let response = match match_route(&table, &request) {
            None => exchange.fail(ProxyError::NoRoute),
            Some(Handler::Static(site)) => {
                exchange.event.route = Some(CompactString::new(&site.name));
                // Boxed: the file service's state would otherwise widen every request's future.
                Box::pin(serve_static(site, request)).await
            }
            Some(Handler::Proxy(route)) => self.proxy(route, request, &mut exchange).await,
        };
        exchange.record(response)
    }

    async fn proxy(
        &self,
        route: &Arc<Route>,
        mut request: Request<Incoming>,
        exchange: &mut Exchange,
    ) -> Response<ResponseBody> {
        exchange.event.route = Some(CompactString::new(&route.name));
        if let Err(error) = check_rate_limit(route, exchange.event.client) {
            return exchange.fail(error);
        }
        let websocket = route.config.websocket && headers::is_websocket_upgrade(request.headers());
        let mut client_upgrade = websocket.then(|| hyper::upgrade::on(&mut request));
        let retries = route.config.retries;
        // The request to send next (scoped: its parts are not kept twice across the waits).
        let (mut pending, can_retry) = {
            let (parts, body) = request.into_parts();
            let (body, bytes_in) = RequestBody::new(body);
            exchange.bytes_in = bytes_in;
            let can_retry = !websocket
                && body.is_empty()
                && parts.method.is_idempotent()
                && route.targets.len() > 1;
            (Some((parts, body)), can_retry)
        };
        let mut tried = TargetSet::empty();
        let mut last_error = None;
        for attempt in 0..=retries {
            let (index, target) = match pick_target(route, exchange.event.client, tried) {
                Ok(picked) => picked,
                Err(error) => return exchange.fail(last_error.unwrap_or(error)),
            };
            tried.insert(index);
            exchange.event.target = Some(CompactString::new(&target.name));
            exchange.event.attempts = attempt + 1;
            // What a retry would send stays in `pending`, and this attempt's head lives only in
            // this block: no other copy is kept across the wait (each widens the request's future).
            let upstream_request = {
                let Some((parts, body)) = pending.take() else {
                    break;
                };
                if can_retry && attempt < retries {
                    pending = Some((copy_parts(&parts), RequestBody::Empty));
                }
                rewrite_request(
                    parts,
                    body,
                    route,
                    &target,
                    &exchange.request_id,
                    exchange.event.client,
                    websocket,
                )
            };
            let in_flight = target.start_request();
            let sent = Instant::now();
            match forward(route, &target, upstream_request, websocket).await {
                Ok(mut response) => {
                    exchange.event.upstream_latency = Some(sent.elapsed());
                    let upgraded = response.status() == StatusCode::SWITCHING_PROTOCOLS;
                    match client_upgrade.take() {
                        Some(client_upgrade) if upgraded => {
                            let session =
                                Session::new(&exchange.event, &exchange.request_id, route, &target);
                            websocket::open_tunnel(
                                &self.tunnels,
                                self.close_tunnels.clone(),
                                client_upgrade,
                                hyper::upgrade::on(&mut response),
                                session,
                                in_flight,
                                self.events.clone(),
                            );
                        }
                        _ => {
                            exchange.in_flight = Some(in_flight);
                            exchange.read_llm_usage = route.config.llm;
                        }
                    }
                    return rewrite_response(response, route);
                }
                Err(error) if pending.is_some() && error.is_retryable() => {
                    last_error = Some(error);
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(error) => return exchange.fail(error),
            }
        }
        exchange.fail(last_error.unwrap_or(ProxyError::Connect))
    }
}

/// A request on its way through the steps: the event being filled in and what its recording needs.
pub struct Exchange {
    /// The event, completed when the response body ends.
    pub event: RequestEvent,
    /// `X-Request-Id` for the upstream and the answer (the event keeps a copy as text).
    pub request_id: HeaderValue,
    started: Instant,
    sink: Arc<RequestShare>,
    bytes_in: Option<Arc<AtomicU64>>,
    in_flight: Option<InFlight>,
    /// The upstream answered on an `llm` route: tap the response for model and tokens.
    read_llm_usage: bool,
}

impl Exchange {
    fn begin(request: &Request<Incoming>, client: IpAddr, sink: Arc<RequestShare>) -> Self {
        let request_id = headers::request_id(request.headers());
        Self {
            event: RequestEvent {
                headers: sink
                    .captures_headers()
                    .then(|| CapturedHeaders::request(request.headers())),
                ..RequestEvent::received(request, &request_id, client)
            },
            request_id,
            started: Instant::now(),
            sink,
            bytes_in: None,
            in_flight: None,
            read_llm_usage: false,
        }
    }

    /// The proxy answers itself with `error`.
    fn fail(&mut self, error: ProxyError) -> Response<ResponseBody> {
        self.event.error = Some(error.kind());
        error.response(&self.request_id)
    }

    /// Step 7: returns the response with its body metered; the event is recorded when it ends.
    fn record(mut self, response: Response<ResponseBody>) -> Response<MeteredBody> {
        let status = response.status();
        self.event.status = status;
        if self.event.error.is_none() {
            self.event.error = if status.is_server_error() {
                Some(ErrorKind::Upstream5xx)
            } else if status.is_client_error() {
                Some(ErrorKind::Client4xx)
            } else {
                None
            };
        }
        let (mut parts, body) = response.into_parts();
        parts
            .headers
            .insert(X_REQUEST_ID.clone(), self.request_id.clone());
        if let Some(headers) = self.event.headers.as_mut() {
            headers.add_response(&parts.headers);
        }
        // The tap reads the bytes as sent: compressed answers are passed through unread.
        let encoded = parts
            .headers
            .get(header::CONTENT_ENCODING)
            .is_some_and(|encoding| encoding != "identity");
        let llm = if self.read_llm_usage && !encoded {
            let content_type = parts.headers.get(header::CONTENT_TYPE);
            LlmTap::for_response(content_type.and_then(|v| v.to_str().ok()), self.started)
        } else {
            None
        };
        let completion = Completion {
            event: self.event,
            started: self.started,
            sink: self.sink,
            bytes_in: self.bytes_in,
            in_flight: self.in_flight,
        };
        Response::from_parts(parts, MeteredBody::new(body, completion, llm))
    }
}

/// Step 1: the handler for the request, by path, method and host.
pub fn match_route<'a>(table: &'a RouteTable, request: &Request<Incoming>) -> Option<&'a Handler> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| request.uri().authority().map(uri::Authority::as_str));
    table.find(request.method(), host, request.uri().path())
}

/// Step 2: takes a token from the client's bucket, if the route limits rates.
pub fn check_rate_limit(route: &Route, client: IpAddr) -> Result<(), ProxyError> {
    match &route.limiter {
        Some(limiter) => limiter
            .check(client, Instant::now())
            .map_err(ProxyError::RateLimited),
        None => Ok(()),
    }
}

/// Step 3: a target for the request among those not yet `tried`: healthy, breaker admitting.
pub fn pick_target(
    route: &Route,
    client: IpAddr,
    tried: TargetSet,
) -> Result<(usize, Arc<Target>), ProxyError> {
    // The time only matters to breakers (a clock read is a measurable part of a request).
    let breaker = route
        .config
        .circuit_breaker
        .as_ref()
        .map(|config| (config, Instant::now()));
    let mut healthy = TargetSet::empty();
    let mut eligible = TargetSet::empty();
    for (index, target) in route.targets.iter().enumerate() {
        if tried.contains(index) || !target.is_healthy() {
            continue;
        }
        healthy.insert(index);
        if breaker.is_none_or(|(config, now)| target.breaker_available(config, now)) {
            eligible.insert(index);
        }
    }
    loop {
        let Some(index) = route.balancer.pick(&route.targets, eligible, client) else {
            return Err(if healthy.is_empty() {
                ProxyError::NoHealthyTarget
            } else {
                ProxyError::CircuitOpen
            });
        };
        let target = &route.targets[index];
        if breaker.is_none_or(|(config, now)| target.breaker_admits(config, now)) {
            return Ok((index, target.clone()));
        }
        // Another request took the last half-open probe slot meanwhile.
        eligible.remove(index);
    }
}

/// Step 4: the request as the target gets it.
pub fn rewrite_request(
    mut parts: Parts,
    body: RequestBody,
    route: &Route,
    target: &Target,
    request_id: &HeaderValue,
    client: IpAddr,
    websocket: bool,
) -> Request<RequestBody> {
    let original_host = parts.headers.get(header::HOST).cloned().or_else(|| {
        parts
            .uri
            .authority()
            .and_then(|authority| HeaderValue::from_str(authority.as_str()).ok())
    });
    headers::remove_hop_by_hop(&mut parts.headers);
    // Room for the headers added below: the map grows once at most, not once per insert.
    parts.headers.reserve(5);
    if websocket {
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        parts
            .headers
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    }
    headers::add_forwarded(&mut parts.headers, client, original_host.as_ref());
    parts
        .headers
        .insert(X_REQUEST_ID.clone(), request_id.clone());
    parts
        .headers
        .insert(header::HOST, target.host_header.clone());
    headers::apply_rules(&mut parts.headers, &route.config.request_headers);
    parts.uri = upstream_uri(&parts.uri, route, target);
    parts.version = Version::HTTP_11;
    Request::from_parts(parts, body)
}

/// The request target the upstream gets, in origin form (`/path?query`; the connection already
/// goes to the target): its base path, the (maybe stripped) path, the query.
fn upstream_uri(original: &Uri, route: &Route, target: &Target) -> Uri {
    let base = target.config.base_path.as_str();
    let path_and_query = if base.is_empty() && !route.config.strip_prefix {
        original
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"))
    } else {
        let path = if route.config.strip_prefix {
            route.config.path.strip(original.path())
        } else {
            original.path()
        };
        let mut text = String::with_capacity(
            base.len() + path.len() + original.query().map_or(0, |q| q.len() + 1),
        );
        text.push_str(base);
        text.push_str(path);
        if let Some(query) = original.query() {
            text.push('?');
            text.push_str(query);
        }
        PathAndQuery::try_from(text).unwrap_or_else(|_| PathAndQuery::from_static("/"))
    };
    Uri::from(path_and_query)
}

/// Step 5: sends the request to the target and reports the outcome to its breaker and health.
///
/// Not an `async fn`: the exchange's future is returned as it is, with the report attached,
/// instead of inside another state that would hold a second copy of the request.
pub fn forward<'a>(
    route: &'a Route,
    target: &'a Target,
    request: Request<RequestBody>,
    upgrade: bool,
) -> impl Future<Output = Result<Response<UpstreamBody>, ProxyError>> + 'a {
    let destination = Destination {
        authority: &target.config.authority,
        pool: target.connections(),
        upgrade,
    };
    upstream::send(destination, request, route.config.timeout).map(move |result| {
        report_outcome(route, target, &result);
        result
    })
}

/// Feeds an upstream exchange's outcome to the target's breaker and passive health, if the
/// route has them.
fn report_outcome(
    route: &Route,
    target: &Target,
    result: &Result<Response<UpstreamBody>, ProxyError>,
) {
    let (health, breaker) = (
        route.config.health_check.as_ref(),
        route.config.circuit_breaker.as_ref(),
    );
    if health.is_some() || breaker.is_some() {
        let outcome = match result {
            Ok(response) if response.status().is_server_error() => Outcome::ServerError,
            Ok(_) => Outcome::Answered,
            Err(error) => Outcome::Unreachable(error.reason()),
        };
        target.record_outcome(outcome, health, breaker);
    }
}

/// Step 6: the response as the client gets it.
pub fn rewrite_response(response: Response<UpstreamBody>, route: &Route) -> Response<ResponseBody> {
    let (mut parts, body) = response.into_parts();
    if parts.status != StatusCode::SWITCHING_PROTOCOLS {
        headers::remove_hop_by_hop(&mut parts.headers);
    }
    headers::apply_rules(&mut parts.headers, &route.config.response_headers);
    Response::from_parts(parts, ResponseBody::Upstream(body))
}

/// A static directory's answer (path traversal is refused by the file service).
async fn serve_static(site: &StaticSite, request: Request<Incoming>) -> Response<ResponseBody> {
    let (mut parts, body) = request.into_parts();
    let path = site.config.path.strip(parts.uri.path());
    let path_and_query = match parts.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    parts.uri = Uri::try_from(path_and_query).unwrap_or_default();
    let request = Request::from_parts(parts, body);
    match &site.service {
        StaticService::Plain(service) => serve_files(service.clone(), request).await,
        StaticService::SinglePageApp(service) => serve_files(service.clone(), request).await,
    }
}

/// Runs a file service (which never fails: errors are responses) and boxes its body.
async fn serve_files<S>(service: S, request: Request<Incoming>) -> Response<ResponseBody>
where
    S: tower::Service<
            Request<Incoming>,
            Response = Response<ServeFileSystemResponseBody>,
            Error = Infallible,
        >,
{
    match service.oneshot(request).await {
        Ok(response) => {
            response.map(|body| ResponseBody::Boxed(body.map_err(BoxError::from).boxed_unsync()))
        }
        Err(never) => match never {},
    }
}

/// The head of a bodyless request, kept to send it again.
fn copy_parts(parts: &Parts) -> Parts {
    let mut request = Request::new(());
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.version_mut() = parts.version;
    *request.headers_mut() = parts.headers.clone();
    request.into_parts().0
}

/// Wait before retry number `attempt + 1`: 10 ms, 20 ms, 40 ms … at most 200 ms.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((10u64 << attempt.min(5)).min(200))
}
