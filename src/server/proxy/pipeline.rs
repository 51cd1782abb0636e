//! The proxy core. Every request goes through the same named steps:
//!
//! 0. [`client_address`] and [`normalise_path`] — the client (behind `trusted_proxies`, the
//!    right-most untrusted `X-Forwarded-For` address), and the path in RFC 3986 normal form
//!    (dot segments resolved, slashes merged; 400 if it cannot be), which the later steps use;
//! 1. [`match_route`] — the most specific route (or static directory) for method, host and path;
//! 2. [`check_rate_limit`] — the client's token bucket on that route; [`check_body_size`] — a
//!    body's announced length against the route's `max_body_bytes`;
//! 3. [`pick_target`] — a healthy target whose breaker admits it, chosen by the route's strategy;
//! 4. [`rewrite_request`] — upstream URI, hop-by-hop headers, `X-Forwarded-*`, request id, rules;
//! 5. [`forward`] — send and wait for the response headers (the route's timeout runs from the
//!    request sent, its body uploaded, to the response head), feeding the outcome to the
//!    target's breaker and passive health;
//! 6. [`rewrite_response`] — hop-by-hop headers, rules;
//! 7. [`negotiate_compression`] — on routes with `compression`, the encoding the client and the
//!    route agree on for this response, if it compresses at all (headers rewritten for it);
//! 8. [`Exchange::record`] — wrap the body (compressing it as it streams, when step 7 chose an
//!    encoding) so the request's event is recorded when it ends.
//!
//! Steps 3–5 repeat for retries: idempotent bodyless requests whose connection failed before any
//! response (connect refused, or a pooled connection found closed) go to another target, at most
//! `retries` times, with a short exponential backoff. Timeouts and answered requests are never
//! retried.

use super::balance::TargetSet;
use super::body::{BoxError, Completion, MeteredBody, RequestBody, ResponseBody};
use super::compression::RequestEncodingFacts;
pub use super::compression::negotiate_compression;
use super::error::ProxyError;
use super::event::{ErrorKind, EventSink, RequestEvent, RequestShare};
pub use super::headers::client_address;
use super::headers::{self, ClientSide, Proto, X_REQUEST_ID};
use super::https_redirect;
use super::request_path;
use super::table::{Handler, Route, RouteTable, StaticService, StaticSite};
use super::target::{InFlight, Outcome, Target};
use super::upstream::{self, Destination, Timeouts, UpstreamBody};
use super::websocket::{self, Session};
use crate::server::config::{Encoding, Limits};
use crate::server::proxy::header_capture::CapturedHeaders;
use crate::server::proxy::llm_tap::LlmTap;
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::http::uri::PathAndQuery;
use axum::http::{Request, Response, StatusCode, Uri, Version};
use compact_str::CompactString;
use futures_util::FutureExt;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::borrow::Cow;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
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
    /// Places among `limits.max_websockets`, taken by upgrades on their way and open tunnels.
    pub tunnel_slots: websocket::TunnelSlots,
    /// Cancelled at the end of a shutdown's drain period: every tunnel is closed and every
    /// request still in flight is cut.
    pub close_tunnels: CancellationToken,
    /// Client connections open now.
    pub connections: AtomicU64,
    /// Client connections closed at once since start because `limits.max_connections` were
    /// open.
    pub connections_rejected: AtomicU64,
    /// `limits` in force (swapped on reload; read per connection, and per WebSocket upgrade).
    pub limits: arc_swap::ArcSwap<Limits>,
    /// The port of the HTTPS listener, where `tls.redirect_http` sends plain requests; 0 while
    /// there is none.
    pub https_port: AtomicU16,
}

impl ProxyCore {
    /// Serves one request from `peer` (the connection's address), which came in over `proto`.
    pub async fn handle(
        self: Arc<Self>,
        mut request: Request<Incoming>,
        peer: IpAddr,
        proto: Proto,
    ) -> Response<MeteredBody> {
        let table = self.table.load_full();
        let (client, trusted) = client_address(request.headers(), peer, table.trusted_proxies());
        let path = normalise_path(&mut request, table.merge_slashes());
        let mut exchange = Unanswered(Some(Exchange::begin(
            &request,
            client,
            self.events.requests_here(),
        )));
        exchange.from = ClientSide {
            peer,
            proto,
            trusted,
        };
        if let Err(error) = path {
            let response = exchange.fail(error);
            return exchange.answer(response);
        }
        if proto == Proto::Http && table.redirects_http() {
            let port = self.https_port.load(Ordering::Relaxed);
            if port != 0 {
                let response = https_redirect::answer(&request, port, &exchange.request_id);
                return exchange.answer(response);
            }
        }
        let response = match match_route(&table, &request) {
            None => exchange.fail(ProxyError::NoRoute),
            Some(Handler::Static(site)) => {
                exchange.event.route = Some(CompactString::new(&site.name));
                // Boxed: the file service's state would otherwise widen every request's future.
                Box::pin(serve_static(site, request)).await
            }
            Some(Handler::Proxy(route)) => self.proxy(route, request, &mut exchange).await,
        };
        exchange.answer(response)
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
        if let Err(error) = check_body_size(route, &request) {
            return exchange.fail(error);
        }
        let websocket = route.config.websocket && headers::is_websocket_upgrade(request.headers());
        let encoding_facts = route
            .config
            .compression
            .as_ref()
            .map(|_| RequestEncodingFacts::of(request.method(), request.headers()));
        let mut tunnel_slot = None;
        if websocket {
            let limits = self.limits.load();
            tunnel_slot = self
                .tunnel_slots
                .reserve(limits.max_websockets, limits.websocket_idle_timeout);
            if tunnel_slot.is_none() {
                return exchange.fail(ProxyError::TooManyWebSockets);
            }
        }
        let mut client_upgrade = websocket.then(|| hyper::upgrade::on(&mut request));
        let retries = route.config.retries;
        // The request to send next (scoped: its parts are not kept twice across the waits).
        let (mut pending, can_retry) = {
            let (parts, body) = request.into_parts();
            let (body, bytes_in) = RequestBody::new(body, &route.body_limits);
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
                    exchange.from,
                    websocket,
                )
            };
            let in_flight = target.start_request();
            let sent = Instant::now();
            match forward(route, &target, upstream_request, websocket).await {
                Ok(mut response) => {
                    exchange.event.upstream_latency = Some(sent.elapsed());
                    let upgraded = response.status() == StatusCode::SWITCHING_PROTOCOLS;
                    match (client_upgrade.take(), tunnel_slot.take()) {
                        (Some(client_upgrade), Some(slot)) if upgraded => {
                            let session = Session::new(
                                &exchange.event,
                                &exchange.request_id,
                                route,
                                &target,
                                slot,
                            );
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
                    let mut response = rewrite_response(response, route);
                    if let (Some(config), Some(facts)) =
                        (&route.config.compression, &encoding_facts)
                    {
                        let status = response.status();
                        exchange.encoding =
                            negotiate_compression(config, facts, status, response.headers_mut());
                    }
                    return response;
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

/// A request's [`Exchange`] until it has a response: a request whose future is dropped before
/// (cut at the end of a shutdown's drain period, or abandoned by its client) is still recorded,
/// with status 503 and error kind `shutdown` if the gateway cut it, else 499 and
/// `client_aborted` (no response was sent: the status says why there is none).
struct Unanswered(Option<Exchange>);

impl Unanswered {
    /// Step 8 for the response: see [`Exchange::record`].
    fn answer(mut self, response: Response<ResponseBody>) -> Response<MeteredBody> {
        match self.0.take() {
            Some(exchange) => exchange.record(response),
            None => unreachable!("an exchange is answered once, by value"),
        }
    }
}

impl std::ops::Deref for Unanswered {
    type Target = Exchange;
    fn deref(&self) -> &Exchange {
        self.0.as_ref().expect("answered only by value")
    }
}

impl std::ops::DerefMut for Unanswered {
    fn deref_mut(&mut self) -> &mut Exchange {
        self.0.as_mut().expect("answered only by value")
    }
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        let Some(mut exchange) = self.0.take() else {
            return;
        };
        let kind = super::event::aborted();
        exchange.event.error = Some(kind);
        let status = super::event::aborted_status(kind);
        let mut response = Response::new(ResponseBody::Full(None));
        *response.status_mut() = status;
        // The body is already at its end: dropping it records the request.
        drop(exchange.record(response));
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
    /// The encoding the response body is compressed with (step 7).
    encoding: Option<Encoding>,
    /// Where the request came from: the connection's address and scheme.
    from: ClientSide,
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
            encoding: None,
            from: ClientSide {
                peer: client,
                proto: Proto::Http,
                trusted: false,
            },
        }
    }

    /// The proxy answers itself with `error`.
    fn fail(&mut self, error: ProxyError) -> Response<ResponseBody> {
        self.event.error = Some(error.kind());
        error.response(&self.request_id)
    }

    /// Step 8: returns the response with its body metered (and compressed, if step 7 chose an
    /// encoding); the event is recorded when it ends.
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
        // The tap reads the bytes as the upstream sent them: answers it compressed are passed
        // through unread; those compressed here are read before compression.
        let encoded = self.encoding.is_none()
            && parts
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
        Response::from_parts(
            parts,
            MeteredBody::new(body, completion, llm, self.encoding),
        )
    }
}

/// Step 0: the request's path (and query) in normal form, as [`request_path::normalise`] makes
/// it; the URI is only replaced when normalising changed it.
pub fn normalise_path<B>(request: &mut Request<B>, merge_slashes: bool) -> Result<(), ProxyError> {
    let Some(path_and_query) = request.uri().path_and_query() else {
        return Ok(());
    };
    let normal = match request_path::normalise(path_and_query.as_str(), merge_slashes) {
        Ok(Cow::Borrowed(_)) => return Ok(()),
        Ok(Cow::Owned(normal)) => normal,
        Err(error) => return Err(ProxyError::BadPath(error)),
    };
    let mut parts = request.uri().clone().into_parts();
    parts.path_and_query = Some(
        PathAndQuery::try_from(normal)
            .map_err(|_| ProxyError::BadPath(request_path::PathError::InvalidEscape))?,
    );
    *request.uri_mut() = Uri::from_parts(parts)
        .map_err(|_| ProxyError::BadPath(request_path::PathError::InvalidEscape))?;
    Ok(())
}

/// The host a request asks for: the authority of an absolute-form (or HTTP/2) request target,
/// which RFC 9112 §3.2.2 says wins over a `Host` header; otherwise `Host`.
fn requested_host<B>(request: &Request<B>) -> Option<&str> {
    match request.uri().authority() {
        // Without user information (`user@host`), which names no host.
        Some(authority) => authority.as_str().rsplit('@').next(),
        None => request
            .headers()
            .get(header::HOST)
            .and_then(|host| host.to_str().ok()),
    }
}

/// Step 1: the handler for the request, by path, method and host.
pub fn match_route<'a, B>(table: &'a RouteTable, request: &Request<B>) -> Option<&'a Handler> {
    table.find(
        request.method(),
        requested_host(request),
        request.uri().path(),
    )
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

/// Step 2 too: a body whose length says it is larger than the route's `max_body_bytes` is
/// refused before anything is sent (one that grows past it while streaming is cut then).
pub fn check_body_size<B: http_body::Body>(
    route: &Route,
    request: &Request<B>,
) -> Result<(), ProxyError> {
    match route.body_limits.max_upload {
        Some(max) if request.body().size_hint().lower() > max => Err(ProxyError::BodyTooLarge),
        _ => Ok(()),
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
    client: ClientSide,
    websocket: bool,
) -> Request<RequestBody> {
    let original_host = match parts.uri.authority() {
        Some(authority) => authority
            .as_str()
            .rsplit('@')
            .next()
            .and_then(|host| HeaderValue::from_str(host).ok()),
        None => parts.headers.get(header::HOST).cloned(),
    };
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
        tls: target.tls.as_ref(),
        upgrade,
    };
    let timeouts = Timeouts {
        answer: route.config.timeout,
        body_stall: route.body_limits.download_stall,
    };
    upstream::send(destination, request, timeouts).map(move |result| {
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
            Err(error) if error.is_clients_fault() => return,
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

/// A static directory's answer (path traversal is refused by the file service; a file reached
/// through a symbolic link that leads outside the directory is not served).
async fn serve_static(site: &StaticSite, request: Request<Incoming>) -> Response<ResponseBody> {
    let (mut parts, body) = request.into_parts();
    let path = site.config.path.strip(parts.uri.path());
    if leads_outside(site, path).await {
        let mut response = Response::new(ResponseBody::Full(Some(bytes::Bytes::from_static(
            b"404 Not Found\n",
        ))));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    }
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

/// Whether the file (or directory index) `path` names in `site` resolves, through symbolic links,
/// outside the site's directory. A path that names nothing is left to the file service.
async fn leads_outside(site: &StaticSite, path: &str) -> bool {
    let Some(root) = site.root.clone() else {
        return true;
    };
    let Some(relative) = static_relative_path(path) else {
        return false;
    };
    let candidate = site.config.dir.join(relative);
    let resolved = tokio::task::spawn_blocking(move || {
        let real = candidate.canonicalize().ok()?;
        let index = real
            .is_dir()
            .then(|| real.join("index.html").canonicalize().ok())
            .flatten();
        Some((real, index))
    })
    .await
    .ok()
    .flatten();
    match resolved {
        Some((real, index)) => {
            !real.starts_with(&root) || index.is_some_and(|index| !index.starts_with(&root))
        }
        None => false,
    }
}

/// A request path as a relative file path: percent-decoded, empty and `.` segments dropped;
/// `None` for `..` or anything undecodable (the file service refuses those itself).
fn static_relative_path(path: &str) -> Option<std::path::PathBuf> {
    let mut relative = std::path::PathBuf::new();
    for segment in path.split('/') {
        let decoded = percent_decode(segment)?;
        match decoded.as_str() {
            "" | "." => {}
            ".." => return None,
            name if name.contains(['/', '\\', '\0']) => return None,
            name => relative.push(name),
        }
    }
    Some(relative)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::parse;
    use crate::server::proxy::event::EventSink;
    use std::net::Ipv4Addr;

    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));

    fn table(json: &str) -> RouteTable {
        RouteTable::build(&parse(json).unwrap(), None, &EventSink::channel(16).0)
    }

    /// The route named `name` in a table built from `routes` (a JSON array's items).
    fn route(routes: &str, name: &str) -> Arc<Route> {
        let table = table(&format!(r#"{{"routes": [{routes}]}}"#));
        table
            .routes()
            .find(|route| &*route.name == name)
            .cloned()
            .expect("route exists")
    }

    fn name_of(handler: Option<&Handler>) -> Option<String> {
        match handler? {
            Handler::Proxy(route) => Some(route.name.to_string()),
            Handler::Static(site) => Some(site.name.to_string()),
        }
    }

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    fn header<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
        headers.get(name).map(|value| value.to_str().unwrap())
    }

    #[test]
    fn match_route_reads_the_host_header_or_the_requests_authority() {
        let table = table(
            r#"{"routes": [
                {"name": "api-host", "path": "/v/*", "host": "api.example", "targets": ["http://127.0.0.1:1"]},
                {"name": "any-host", "path": "/v/*", "targets": ["http://127.0.0.1:2"]}
            ]}"#,
        );
        let request = |uri: &str, host: Option<&str>| {
            let mut request = Request::builder().uri(uri);
            if let Some(host) = host {
                request = request.header(header::HOST, host);
            }
            request.body(()).unwrap()
        };
        let found = |request: Request<()>| name_of(match_route(&table, &request));
        assert_eq!(
            found(request("/v/1", Some("api.example:8080"))).as_deref(),
            Some("api-host")
        );
        assert_eq!(
            found(request("http://api.example/v/1", None)).as_deref(),
            Some("api-host"),
            "absolute-form request without Host"
        );
        assert_eq!(
            found(request("http://api.example/v/1", Some("other.example"))).as_deref(),
            Some("api-host"),
            "the absolute form's authority wins over Host"
        );
        assert_eq!(
            found(request("http://other.example/v/1", Some("api.example"))).as_deref(),
            Some("any-host")
        );
        assert_eq!(
            found(request("/v/1", Some("other.example"))).as_deref(),
            Some("any-host")
        );
        assert_eq!(found(request("/w", None)), None);
    }

    #[test]
    fn check_rate_limit_spends_each_clients_own_bucket() {
        let limited = route(
            r#"{"name": "r", "path": "*", "targets": ["http://127.0.0.1:1"],
                "rate_limit": {"requests_per_second": 0.001, "burst": 2}}"#,
            "r",
        );
        assert!(check_rate_limit(&limited, CLIENT).is_ok());
        assert!(check_rate_limit(&limited, CLIENT).is_ok());
        match check_rate_limit(&limited, CLIENT) {
            Err(ProxyError::RateLimited(retry_after)) => assert!(retry_after > Duration::ZERO),
            other => panic!("expected rate limited, got {other:?}"),
        }
        let other_client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 8));
        assert!(check_rate_limit(&limited, other_client).is_ok());
        let open = route(
            r#"{"name": "o", "path": "*", "targets": ["http://127.0.0.1:1"]}"#,
            "o",
        );
        for _ in 0..100 {
            assert!(check_rate_limit(&open, CLIENT).is_ok());
        }
    }

    const THREE_TARGETS: &str =
        r#""targets": ["http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"]"#;

    #[test]
    fn pick_target_skips_tried_and_unhealthy_targets() {
        let route = route(
            &format!(
                r#"{{"name": "r", "path": "*", {THREE_TARGETS},
                    "health_check": {{"path": "/h", "unhealthy_threshold": 1}}}}"#
            ),
            "r",
        );
        let health = route.config.health_check.clone().unwrap();
        route.targets[1].record_probe(&health, Err("refused".into()));
        let mut tried = TargetSet::empty();
        tried.insert(0);
        for _ in 0..20 {
            let (index, target) = pick_target(&route, CLIENT, tried).unwrap();
            assert_eq!(index, 2, "0 was tried and 1 is down");
            assert_eq!(&*target.name, "http://127.0.0.1:3");
        }
        tried.insert(2);
        assert!(matches!(
            pick_target(&route, CLIENT, tried),
            Err(ProxyError::NoHealthyTarget)
        ));
    }

    #[test]
    fn pick_target_tells_open_breakers_from_unhealthy_targets() {
        let route = route(
            &format!(
                r#"{{"name": "r", "path": "*", {THREE_TARGETS},
                    "circuit_breaker": {{"failure_threshold": 1, "open_ms": 60000}}}}"#
            ),
            "r",
        );
        let breaker = route.config.circuit_breaker.unwrap();
        for target in &route.targets[..2] {
            target.record_outcome(Outcome::Unreachable("refused"), None, Some(&breaker));
        }
        for _ in 0..20 {
            let (index, _) = pick_target(&route, CLIENT, TargetSet::empty()).unwrap();
            assert_eq!(index, 2, "the others' breakers are open");
        }
        route.targets[2].record_outcome(Outcome::ServerError, None, Some(&breaker));
        assert!(matches!(
            pick_target(&route, CLIENT, TargetSet::empty()),
            Err(ProxyError::CircuitOpen)
        ));
    }

    #[test]
    fn rewrite_request_forwards_what_the_target_should_see() {
        let route = route(
            r#"{"name": "api", "path": "/api/*", "strip_prefix": true,
                "targets": ["http://10.0.0.5:9000/v2"],
                "request_headers": {"set": {"x-env": "prod"}, "remove": ["cookie"]}}"#,
            "api",
        );
        let target = &route.targets[0];
        let request_id = HeaderValue::from_static("req-1");
        let parts = parts(
            "GET",
            "/api/users?page=2",
            &[
                ("host", "gw.example"),
                ("connection", "keep-alive, x-hop"),
                ("keep-alive", "timeout=5"),
                ("x-hop", "1"),
                ("te", "trailers"),
                ("cookie", "a=b"),
                ("x-forwarded-for", "203.0.113.1"),
                ("x-kept", "yes"),
            ],
        );
        let upstream = rewrite_request(
            parts,
            RequestBody::Empty,
            &route,
            target,
            &request_id,
            ClientSide {
                peer: CLIENT,
                proto: Proto::Http,
                trusted: false,
            },
            false,
        );
        assert_eq!(upstream.uri(), "/v2/users?page=2");
        assert_eq!(upstream.version(), Version::HTTP_11);
        let headers = upstream.headers();
        for gone in ["connection", "keep-alive", "x-hop", "te", "cookie"] {
            assert!(headers.get(gone).is_none(), "{gone} was forwarded");
        }
        assert_eq!(header(headers, "host"), Some("10.0.0.5:9000"));
        assert_eq!(
            header(headers, "x-forwarded-for"),
            Some("192.0.2.7"),
            "a client's own X-Forwarded-For is not believed"
        );
        assert_eq!(header(headers, "x-forwarded-proto"), Some("http"));
        assert_eq!(header(headers, "x-forwarded-host"), Some("gw.example"));
        assert_eq!(header(headers, "x-request-id"), Some("req-1"));
        assert_eq!(header(headers, "x-env"), Some("prod"));
        assert_eq!(header(headers, "x-kept"), Some("yes"));
    }

    #[test]
    fn rewrite_request_keeps_the_path_without_strip_or_base_and_asks_for_upgrades() {
        let route = route(
            r#"{"name": "ws", "path": "/ws", "websocket": true, "targets": ["http://127.0.0.1:8000"]}"#,
            "ws",
        );
        let parts = parts(
            "GET",
            "/ws?room=1",
            &[
                ("host", "gw.example"),
                ("connection", "Upgrade"),
                ("upgrade", "websocket"),
                ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ],
        );
        let upstream = rewrite_request(
            parts,
            RequestBody::Empty,
            &route,
            &route.targets[0],
            &HeaderValue::from_static("req-2"),
            ClientSide {
                peer: CLIENT,
                proto: Proto::Https,
                trusted: false,
            },
            true,
        );
        assert_eq!(upstream.uri(), "/ws?room=1");
        let headers = upstream.headers();
        assert_eq!(header(headers, "connection"), Some("upgrade"));
        assert_eq!(header(headers, "upgrade"), Some("websocket"));
        assert_eq!(
            header(headers, "sec-websocket-key"),
            Some("dGhlIHNhbXBsZSBub25jZQ==")
        );
        assert_eq!(header(headers, "host"), Some("127.0.0.1:8000"));
        assert_eq!(header(headers, "x-forwarded-proto"), Some("https"));
    }

    #[test]
    fn upstream_uri_joins_the_targets_base_and_the_stripped_path() {
        let route = route(
            r#"{"name": "api", "path": "/api/*", "strip_prefix": true, "targets": ["http://127.0.0.1:1/base"]}"#,
            "api",
        );
        let uri = |path: &str| upstream_uri(&path.parse().unwrap(), &route, &route.targets[0]);
        // The bare prefix strips to "/", so it reaches the base's own index.
        assert_eq!(uri("/api"), "/base/");
        assert_eq!(uri("/api/"), "/base/");
        assert_eq!(uri("/api/a/b?x=1&y"), "/base/a/b?x=1&y");
    }

    #[test]
    fn normalise_path_replaces_the_uri_only_when_it_changes() {
        let normalised = |uri: &str, merge: bool| {
            let mut request = Request::builder().uri(uri).body(()).unwrap();
            normalise_path(&mut request, merge).map(|()| request.uri().to_string())
        };
        assert_eq!(
            normalised("/api/x/../admin?q=/../", true).unwrap(),
            "/api/admin?q=/../"
        );
        assert_eq!(
            normalised("http://a.example/b//%2e/c", true).unwrap(),
            "http://a.example/b/c",
            "an absolute form keeps its authority"
        );
        assert_eq!(normalised("/b//c", false).unwrap(), "/b//c");
        assert_eq!(
            normalised("/../etc", true),
            Err(ProxyError::BadPath(request_path::PathError::AboveRoot))
        );
        assert_eq!(
            normalised("/a%zz", true),
            Err(ProxyError::BadPath(request_path::PathError::InvalidEscape))
        );
    }

    #[test]
    fn copied_parts_are_the_same_head() {
        let original = parts("DELETE", "/a?b", &[("x-one", "1"), ("x-one", "2")]);
        let copy = copy_parts(&original);
        assert_eq!(copy.method, original.method);
        assert_eq!(copy.uri, original.uri);
        assert_eq!(copy.version, original.version);
        assert_eq!(copy.headers, original.headers);
    }

    #[test]
    fn backoff_doubles_from_10_ms_up_to_200_ms() {
        let waits: Vec<u64> = (0..8).map(|n| backoff(n).as_millis() as u64).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 200, 200, 200]);
    }
}
