//! `routes[]`: how a request is matched and where it goes, as written and as validated.

use super::compression::{CompressionConfig, FileCompression, validate_compression};
use super::upstream_tls::{FileUpstreamTls, UpstreamTlsConfig, validate_upstream_tls};
use super::{FieldErrors, schema};
use axum::http::{HeaderName, HeaderValue, Method};
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Default time an upstream has to send response headers.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default retries (connect failures of idempotent requests only).
pub const DEFAULT_RETRIES: u32 = 1;
/// Most retries a route may ask for.
pub const MAX_RETRIES: u32 = 10;
/// The lowest `rate_limit.requests_per_second`: one request per 1000 s. Below it the wait a
/// refused client is told (`Retry-After`) would not fit a duration.
pub const MIN_RATE_LIMIT_PER_SECOND: f64 = 0.001;
/// The highest `rate_limit.requests_per_second`.
pub const MAX_RATE_LIMIT_PER_SECOND: f64 = 1_000_000.0;
/// The largest `max_body_bytes` a route may set (1 TiB).
pub const MAX_BODY_BYTES: u64 = 1 << 40;
/// Most targets one route may have (target sets are bit masks on the hot path).
pub const MAX_TARGETS: usize = 64;

// A route as written in `config.json`.
/// A route: which requests it takes and the upstream targets it forwards them to.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    rename = "route",
    extend(
        "if" = {"required": ["path"], "properties": {"path": {"enum": ["*", "/*"]}}},
        "then" = {"properties": {"strip_prefix": {"const": false}}}
    )
)]
pub struct FileRoute {
    /// Unique, non-empty name of the route (used in events, metrics and the dashboard).
    #[schemars(regex(pattern = r"\S"))]
    pub name: String,
    /// Request paths the route takes: "/exact", "/prefix/*" (the prefix and everything below it,
    /// at segment boundaries) or "*" (every path).
    #[schemars(with = "schema::PathPattern")]
    pub path: String,
    /// HTTP methods the route takes (case-insensitive). Default: all methods (leave out; an
    /// empty list is an error).
    #[schemars(with = "Option<Vec<schema::HttpMethod>>", length(min = 1))]
    pub methods: Option<Vec<String>>,
    /// Host header the route takes (case-insensitive); without a port it matches any port.
    /// Default: every host (leave out; must not be empty).
    #[schemars(
        regex(pattern = r"\S"),
        extend("examples" = ["api.example.com", "localhost:8080"])
    )]
    pub host: Option<String>,
    /// Remove the matched path prefix before forwarding (/api/users -> /users). Not allowed with
    /// path "*". Default false.
    #[serde(default)]
    pub strip_prefix: bool,
    /// 1 to 64 upstreams, each an "http(s)://host[:port][/base]" URL string or {"url",
    /// "weight"}; the same URL may not be listed twice. https targets' certificates are verified
    /// (against the system's roots unless upstream_tls says otherwise), with SNI from the host.
    // Read as JSON values and checked by hand, for precise errors.
    #[schemars(
        with = "Vec<schema::Target>",
        length(min = 1, max = MAX_TARGETS),
        extend("uniqueItems" = true)
    )]
    pub targets: Vec<serde_json::Value>,
    /// How requests are spread over eligible targets: round_robin, weighted_round_robin (smooth,
    /// by weight), least_connections or random. Default round_robin.
    #[serde(default)]
    #[schemars(extend("default" = Strategy::default().as_str()))]
    pub strategy: Strategy,
    /// Time an upstream has to send response headers once the request is sent (its body
    /// uploaded), in ms (1 to 3600000); then 504. Also bounds the connect. Default 30000.
    #[schemars(
        range(min = 1, max = 3_600_000),
        extend("default" = DEFAULT_TIMEOUT.as_millis())
    )]
    pub timeout_ms: Option<u64>,
    /// Extra attempts on another target after a connect failure (idempotent requests without a
    /// body only), 0 to 10. Default 1.
    #[schemars(range(min = 0, max = MAX_RETRIES), extend("default" = DEFAULT_RETRIES))]
    pub retries: Option<u32>,
    /// Active GET probes of each target; 2xx/3xx within timeout_ms is good. Default: off.
    pub health_check: Option<FileHealthCheck>,
    /// Circuit breaking per target: opens after consecutive failures (connect error, timeout,
    /// 5xx). Default: off.
    pub circuit_breaker: Option<FileCircuitBreaker>,
    /// Token-bucket rate limit per client IP. Default: off.
    pub rate_limit: Option<FileRateLimit>,
    /// Proxy WebSocket upgrades (otherwise upgrade headers are dropped as hop-by-hop). Default
    /// false.
    #[serde(default)]
    pub websocket: bool,
    /// Keep each client IP on one target while it is eligible (rendezvous hashing; overrides
    /// strategy). Default false.
    #[serde(default)]
    pub sticky: bool,
    /// The upstream speaks the OpenAI-compatible (or Anthropic) API: read model and usage from
    /// JSON responses and SSE streams (tee'd, never delaying the client) and count tokens per
    /// model. Default false.
    #[serde(default)]
    pub llm: bool,
    /// Headers to set and remove on requests before they are forwarded. Default: none.
    pub request_headers: Option<FileHeaderRules>,
    /// Headers to set and remove on upstream responses before they reach the client. Default:
    /// none.
    pub response_headers: Option<FileHeaderRules>,
    /// How the route's https:// targets are connected to: trusted CAs, the server name, a
    /// client certificate (mTLS). Only for routes with https:// targets. Default: the system's
    /// roots, each URL's host as the server name, no client certificate.
    pub upstream_tls: Option<FileUpstreamTls>,
    /// Compress responses for clients that accept it (Accept-Encoding), streaming. Never for
    /// responses already encoded, ranges, text/event-stream or types that do not compress.
    /// Default: off.
    pub compression: Option<FileCompression>,
    /// Largest request body the route accepts, in bytes (1 to 1099511627776): a larger
    /// Content-Length gets 413 before anything is forwarded, and a body that grows past it while
    /// streaming is cut (the request recorded as body_too_large). Default: no bound.
    #[schemars(range(min = 1, max = MAX_BODY_BYTES))]
    pub max_body_bytes: Option<u64>,
}

/// How a route spreads requests over its targets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum Strategy {
    #[default]
    RoundRobin,
    WeightedRoundRobin,
    LeastConnections,
    Random,
}

impl Strategy {
    /// The name used in `config.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoundRobin => "round_robin",
            Self::WeightedRoundRobin => "weighted_round_robin",
            Self::LeastConnections => "least_connections",
            Self::Random => "random",
        }
    }
}

/// `health_check` as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct FileHealthCheck {
    /// Path probed, relative to each target's URL; must start with "/".
    #[schemars(regex(pattern = "^/"), extend("examples" = ["/health"]))]
    pub path: String,
    /// Time between probes in ms (100 to 3600000). Default 5000.
    #[schemars(range(min = 100, max = 3_600_000), extend("default" = 5_000))]
    pub interval_ms: Option<u64>,
    /// Time a probe may take in ms (1 to 3600000); must not exceed interval_ms. Default 2000.
    #[schemars(range(min = 1, max = 3_600_000), extend("default" = 2_000))]
    pub timeout_ms: Option<u64>,
    /// Consecutive good probes that bring a target back into rotation (at least 1). Default 2.
    #[schemars(range(min = 1, max = u32::MAX), extend("default" = 2))]
    pub healthy_threshold: Option<u32>,
    /// Consecutive failed probes that take a target out of rotation (at least 1). Default 3.
    #[schemars(range(min = 1, max = u32::MAX), extend("default" = 3))]
    pub unhealthy_threshold: Option<u32>,
}

/// `circuit_breaker` as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct FileCircuitBreaker {
    /// Consecutive failures that open the breaker (at least 1). Default 5.
    #[schemars(range(min = 1, max = u32::MAX), extend("default" = 5))]
    pub failure_threshold: Option<u32>,
    /// How long the breaker stays open, in ms (1 to 86400000). Default 30000.
    #[schemars(range(min = 1, max = 86_400_000), extend("default" = 30_000))]
    pub open_ms: Option<u64>,
    /// Probe requests admitted once open_ms has passed; a good one closes the breaker (at least
    /// 1). Default 1.
    #[schemars(range(min = 1, max = u32::MAX), extend("default" = 1))]
    pub half_open_requests: Option<u32>,
}

/// `rate_limit` as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct FileRateLimit {
    /// Sustained rate allowed per client IP (0.001 to 1000000; fractions allowed: 0.5 is one
    /// request every two seconds).
    #[schemars(range(min = MIN_RATE_LIMIT_PER_SECOND, max = MAX_RATE_LIMIT_PER_SECOND))]
    pub requests_per_second: f64,
    /// Bucket size: requests allowed at once (at least 1). Default: one second's worth,
    /// ceil(requests_per_second).
    #[schemars(range(min = 1, max = u32::MAX))]
    pub burst: Option<u32>,
}

// `request_headers` / `response_headers` as written.
/// Headers to change: removals are applied first, then sets. Framing and hop-by-hop headers
/// (content-length, transfer-encoding, connection, keep-alive, proxy-connection, te, trailer,
/// upgrade) are written by the proxy for each hop and cannot be named.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "headerRules")]
pub struct FileHeaderRules {
    /// Header name -> value; each replaces every existing value of that header. Default: none.
    #[serde(default)]
    #[schemars(schema_with = "schema::header_set")]
    pub set: BTreeMap<String, String>,
    /// Header names to remove. Default: none.
    #[serde(default)]
    #[schemars(with = "Vec<schema::HeaderName>")]
    pub remove: Vec<String>,
}

/// Which request paths a route takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathPattern {
    /// `/health`: this path only.
    Exact(String),
    /// `/api/*`: `/api` and everything below it (the stored prefix has no trailing slash).
    Prefix(String),
    /// `*`: every path.
    Any,
}

impl std::fmt::Display for PathPattern {
    /// As written in `config.json`: `/health`, `/api/*`, `*`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(path) => f.write_str(path),
            Self::Prefix(prefix) => write!(f, "{prefix}/*"),
            Self::Any => f.write_str("*"),
        }
    }
}

impl PathPattern {
    /// Whether `path` is taken by this pattern.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            Self::Exact(exact) => path == exact,
            Self::Prefix(prefix) => path
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
            Self::Any => true,
        }
    }

    /// How specific the pattern is: exact beats any prefix, a longer prefix beats a shorter one,
    /// and the catch-all comes last.
    pub fn specificity(&self) -> (u8, usize) {
        match self {
            Self::Exact(path) => (2, path.len()),
            Self::Prefix(prefix) => (1, prefix.len()),
            Self::Any => (0, 0),
        }
    }

    /// `path` with the matched prefix removed (always starting with `/`), for `strip_prefix`.
    pub fn strip<'a>(&self, path: &'a str) -> &'a str {
        let rest = match self {
            Self::Prefix(prefix) => path.strip_prefix(prefix.as_str()).unwrap_or(path),
            Self::Exact(exact) => path.strip_prefix(exact.as_str()).unwrap_or(path),
            Self::Any => path,
        };
        if rest.is_empty() { "/" } else { rest }
    }
}

/// An upstream server of a route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetConfig {
    /// The URL as written (also the target's name in metrics).
    pub url: String,
    /// `host:port` to connect to.
    pub authority: String,
    /// Path prefix of the URL without trailing slash (`""` for none).
    pub base_path: String,
    /// Relative share for `weighted_round_robin` (≥ 1).
    pub weight: u32,
    /// An `https://` target: connected to with the route's [`UpstreamTlsConfig`].
    pub tls: bool,
}

/// Active health checking of a route's targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheckConfig {
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
}

/// Circuit breaking per target of a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CircuitBreakerConfig {
    pub failure_threshold: u32,
    pub open: Duration,
    pub half_open_requests: u32,
}

/// Rate limiting per client IP on a route.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimitConfig {
    pub requests_per_second: f64,
    pub burst: u32,
}

/// Headers to set and remove.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderRules {
    pub set: Vec<(HeaderName, HeaderValue)>,
    pub remove: Vec<HeaderName>,
}

impl HeaderRules {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }
}

/// A validated route.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteConfig {
    pub name: String,
    pub path: PathPattern,
    /// `None`: every method.
    pub methods: Option<Vec<Method>>,
    /// Lower-case host (with port if one was given); `None`: every host.
    pub host: Option<String>,
    pub strip_prefix: bool,
    pub targets: Vec<TargetConfig>,
    pub strategy: Strategy,
    pub timeout: Duration,
    pub retries: u32,
    pub health_check: Option<HealthCheckConfig>,
    pub circuit_breaker: Option<CircuitBreakerConfig>,
    pub rate_limit: Option<RateLimitConfig>,
    pub websocket: bool,
    pub sticky: bool,
    /// The upstream speaks the OpenAI-compatible or Anthropic API: read models and token usage
    /// from its responses.
    pub llm: bool,
    pub request_headers: HeaderRules,
    pub response_headers: HeaderRules,
    /// How `https://` targets are connected to; `Some` exactly when the route has one.
    pub upstream_tls: Option<UpstreamTlsConfig>,
    /// Response compression; `None`: off.
    pub compression: Option<CompressionConfig>,
    /// Largest request body accepted; `None`: no bound.
    pub max_body_bytes: Option<u64>,
}

/// Validates `routes[index]`, reporting problems under that path; files it names resolve against
/// `base` (the config file's directory).
pub fn validate_route(
    route: FileRoute,
    at: &str,
    base: &Path,
    errors: &mut FieldErrors,
) -> Option<RouteConfig> {
    let before = errors.len();
    if route.name.trim().is_empty() {
        errors.push(format!("{at}.name"), "must not be empty");
    }
    let path = parse_path_pattern(&route.path)
        .map_err(|reason| errors.push(format!("{at}.path"), reason))
        .ok();
    let methods = route.methods.map(|methods| {
        if methods.is_empty() {
            errors.push(
                format!("{at}.methods"),
                "must list at least one method (or be left out for all)",
            );
        }
        methods
            .iter()
            .enumerate()
            .filter_map(|(i, method)| {
                Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                    .map_err(|_| {
                        errors.push(
                            format!("{at}.methods[{i}]"),
                            format!("not an HTTP method: {method:?}"),
                        )
                    })
                    .ok()
            })
            .collect()
    });
    let host = route.host.map(|host| host.trim().to_ascii_lowercase());
    if host.as_deref() == Some("") {
        errors.push(
            format!("{at}.host"),
            "must not be empty (leave it out to match every host)",
        );
    }
    if route.strip_prefix && matches!(path, Some(PathPattern::Any)) {
        errors.push(
            format!("{at}.strip_prefix"),
            "a catch-all path (\"*\") has no prefix to strip",
        );
    }
    if route.targets.is_empty() {
        errors.push(format!("{at}.targets"), "must list at least one target");
    } else if route.targets.len() > MAX_TARGETS {
        errors.push(
            format!("{at}.targets"),
            format!("at most {MAX_TARGETS} targets per route"),
        );
    }
    let targets: Vec<_> = route
        .targets
        .iter()
        .enumerate()
        .filter_map(|(i, target)| parse_target(target, &format!("{at}.targets[{i}]"), errors))
        .collect();
    for (i, target) in targets.iter().enumerate() {
        if let Some(first) = targets[..i].iter().position(|t| t.url == target.url) {
            errors.push(
                format!("{at}.targets"),
                format!("{:?} is listed twice (targets[{first}])", target.url),
            );
        }
    }
    let timeout = match route.timeout_ms {
        None => DEFAULT_TIMEOUT,
        Some(ms) => duration_ms(ms, 1, 3_600_000, &format!("{at}.timeout_ms"), errors),
    };
    let retries = route.retries.unwrap_or(DEFAULT_RETRIES);
    if retries > MAX_RETRIES {
        errors.push(
            format!("{at}.retries"),
            format!("must be at most {MAX_RETRIES}"),
        );
    }
    let health_check = route
        .health_check
        .map(|h| validate_health_check(h, &format!("{at}.health_check"), errors));
    let circuit_breaker = route
        .circuit_breaker
        .map(|c| validate_circuit_breaker(c, &format!("{at}.circuit_breaker"), errors));
    let rate_limit = route
        .rate_limit
        .map(|r| validate_rate_limit(r, &format!("{at}.rate_limit"), errors));
    let request_headers = validate_header_rules(
        route.request_headers,
        &format!("{at}.request_headers"),
        errors,
    );
    let response_headers = validate_header_rules(
        route.response_headers,
        &format!("{at}.response_headers"),
        errors,
    );
    let upstream_tls = validate_upstream_tls(
        route.upstream_tls,
        targets.iter().any(|target| target.tls),
        &format!("{at}.upstream_tls"),
        base,
        errors,
    );
    let compression = route
        .compression
        .map(|c| validate_compression(c, &format!("{at}.compression"), errors));
    if let Some(bytes) = route.max_body_bytes
        && !(1..=MAX_BODY_BYTES).contains(&bytes)
    {
        errors.push(
            format!("{at}.max_body_bytes"),
            format!("must be from 1 to {MAX_BODY_BYTES} bytes, got {bytes}"),
        );
    }

    if errors.len() > before {
        return None;
    }
    Some(RouteConfig {
        name: route.name,
        path: path?,
        methods,
        host,
        strip_prefix: route.strip_prefix,
        targets,
        strategy: route.strategy,
        timeout,
        retries,
        health_check,
        circuit_breaker,
        rate_limit,
        websocket: route.websocket,
        sticky: route.sticky,
        llm: route.llm,
        request_headers,
        response_headers,
        upstream_tls,
        compression,
        max_body_bytes: route.max_body_bytes,
    })
}

/// Parses `/exact`, `/prefix/*` or `*`.
pub fn parse_path_pattern(path: &str) -> Result<PathPattern, String> {
    if path == "*" || path == "/*" {
        return Ok(PathPattern::Any);
    }
    if !path.starts_with('/') {
        return Err(format!("must start with '/' or be \"*\", got {path:?}"));
    }
    if path.contains(['?', '#']) {
        return Err("must not contain a query or fragment".into());
    }
    match path.strip_suffix("/*") {
        Some(prefix) if !prefix.contains('*') => Ok(PathPattern::Prefix(prefix.to_string())),
        None if !path.contains('*') => Ok(PathPattern::Exact(path.to_string())),
        _ => Err(
            "a wildcard may only end the path as \"/*\" (e.g. \"/api/*\") or stand alone as \"*\""
                .into(),
        ),
    }
}

fn parse_target(
    value: &serde_json::Value,
    at: &str,
    errors: &mut FieldErrors,
) -> Option<TargetConfig> {
    let (url, weight) = match value {
        serde_json::Value::String(url) => (url.as_str(), 1),
        serde_json::Value::Object(fields) => {
            for key in fields.keys().filter(|k| *k != "url" && *k != "weight") {
                errors.push(
                    format!("{at}.{key}"),
                    format!("unknown field `{key}`, expected `url` or `weight`"),
                );
            }
            let Some(url) = fields.get("url").and_then(|u| u.as_str()) else {
                errors.push(
                    format!("{at}.url"),
                    "missing: a target object needs a \"url\" string",
                );
                return None;
            };
            let weight = match fields.get("weight") {
                None => 1,
                Some(weight) => match weight.as_u64() {
                    Some(w @ 1..=1000) => w as u32,
                    _ => {
                        errors.push(
                            format!("{at}.weight"),
                            "must be a whole number from 1 to 1000",
                        );
                        return None;
                    }
                },
            };
            (url, weight)
        }
        _ => {
            errors.push(
                at.to_string(),
                "must be a URL string or an object {\"url\": …, \"weight\": n}",
            );
            return None;
        }
    };
    let url_at = if value.is_string() {
        at.to_string()
    } else {
        format!("{at}.url")
    };
    match parse_target_url(url) {
        Ok((authority, _, true)) if !is_tls_server_name(&authority) => {
            errors.push(
                url_at,
                format!("the host of {url:?} is not a DNS name or IP address TLS can check"),
            );
            None
        }
        Ok((authority, base_path, tls)) => Some(TargetConfig {
            url: url.to_string(),
            authority,
            base_path,
            weight,
            tls,
        }),
        Err(reason) => {
            errors.push(url_at, reason);
            None
        }
    }
}

/// Splits `http(s)://host:port/base` into the authority (`host:port`, port 80 or 443 if absent),
/// the base path, and whether it is `https`.
fn parse_target_url(url: &str) -> Result<(String, String, bool), String> {
    let not_url = || format!("not an absolute http(s) URL: {url:?}");
    let uri: axum::http::Uri = url.parse().map_err(|_| not_url())?;
    let tls = match uri.scheme_str() {
        Some(scheme) if scheme.eq_ignore_ascii_case("http") => false,
        Some(scheme) if scheme.eq_ignore_ascii_case("https") => true,
        _ => return Err(not_url()),
    };
    let authority = uri.authority().ok_or_else(not_url)?;
    if authority.host().is_empty() {
        return Err(not_url());
    }
    if uri.query().is_some() || url.contains('#') {
        return Err(format!("must not contain a query or fragment: {url:?}"));
    }
    if authority.as_str().contains('@') {
        return Err(format!("must not contain credentials: {url:?}"));
    }
    let authority = match authority.port_u16() {
        Some(_) => authority.to_string(),
        None => format!("{}:{}", authority.host(), if tls { 443 } else { 80 }),
    };
    let base_path = uri.path().trim_end_matches('/').to_string();
    Ok((authority, base_path, tls))
}

/// Whether the host of `authority` (`host:port`) can be a TLS server name (a DNS name or an IP
/// address).
fn is_tls_server_name(authority: &str) -> bool {
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    rustls::pki_types::ServerName::try_from(host).is_ok()
}

fn duration_ms(ms: u64, min: u64, max: u64, at: &str, errors: &mut FieldErrors) -> Duration {
    if !(min..=max).contains(&ms) {
        errors.push(
            at.to_string(),
            format!("must be from {min} to {max} milliseconds"),
        );
    }
    Duration::from_millis(ms)
}

fn at_least_one(value: Option<u32>, default: u32, at: String, errors: &mut FieldErrors) -> u32 {
    let value = value.unwrap_or(default);
    if value == 0 {
        errors.push(at, "must be at least 1");
    }
    value
}

fn validate_health_check(
    file: FileHealthCheck,
    at: &str,
    errors: &mut FieldErrors,
) -> HealthCheckConfig {
    if !file.path.starts_with('/') {
        errors.push(
            format!("{at}.path"),
            format!("must start with '/', got {:?}", file.path),
        );
    }
    let interval = duration_ms(
        file.interval_ms.unwrap_or(5_000),
        100,
        3_600_000,
        &format!("{at}.interval_ms"),
        errors,
    );
    let timeout = duration_ms(
        file.timeout_ms.unwrap_or(2_000),
        1,
        3_600_000,
        &format!("{at}.timeout_ms"),
        errors,
    );
    if timeout > interval {
        errors.push(format!("{at}.timeout_ms"), "must not exceed interval_ms");
    }
    HealthCheckConfig {
        path: file.path,
        interval,
        timeout,
        healthy_threshold: at_least_one(
            file.healthy_threshold,
            2,
            format!("{at}.healthy_threshold"),
            errors,
        ),
        unhealthy_threshold: at_least_one(
            file.unhealthy_threshold,
            3,
            format!("{at}.unhealthy_threshold"),
            errors,
        ),
    }
}

fn validate_circuit_breaker(
    file: FileCircuitBreaker,
    at: &str,
    errors: &mut FieldErrors,
) -> CircuitBreakerConfig {
    CircuitBreakerConfig {
        failure_threshold: at_least_one(
            file.failure_threshold,
            5,
            format!("{at}.failure_threshold"),
            errors,
        ),
        open: duration_ms(
            file.open_ms.unwrap_or(30_000),
            1,
            86_400_000,
            &format!("{at}.open_ms"),
            errors,
        ),
        half_open_requests: at_least_one(
            file.half_open_requests,
            1,
            format!("{at}.half_open_requests"),
            errors,
        ),
    }
}

fn validate_rate_limit(file: FileRateLimit, at: &str, errors: &mut FieldErrors) -> RateLimitConfig {
    let rps = file.requests_per_second;
    if !(MIN_RATE_LIMIT_PER_SECOND..=MAX_RATE_LIMIT_PER_SECOND).contains(&rps) {
        errors.push(
            format!("{at}.requests_per_second"),
            format!(
                "must be a number from {MIN_RATE_LIMIT_PER_SECOND} to {MAX_RATE_LIMIT_PER_SECOND}, got {rps:?}"
            ),
        );
    }
    let burst = file
        .burst
        .unwrap_or_else(|| rps.ceil().clamp(1.0, 1_000_000.0) as u32);
    if burst == 0 {
        errors.push(format!("{at}.burst"), "must be at least 1");
    }
    RateLimitConfig {
        requests_per_second: rps,
        burst,
    }
}

/// Headers that frame a message or describe one connection: the proxy writes them for each hop
/// itself, so a header rule may neither set nor remove them (a rule setting `content-length` or
/// `transfer-encoding` would make the client and the proxy disagree on where a message ends).
const FRAMING_HEADERS: [&str; 8] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// Why a rule may not name `name`, if it may not.
fn framing_header(name: &HeaderName) -> Option<String> {
    FRAMING_HEADERS.contains(&name.as_str()).then(|| {
        format!(
            "{name} is a framing or hop-by-hop header, which the proxy writes itself; \
             header rules cannot change it"
        )
    })
}

fn validate_header_rules(
    file: Option<FileHeaderRules>,
    at: &str,
    errors: &mut FieldErrors,
) -> HeaderRules {
    let file = file.unwrap_or_default();
    let mut rules = HeaderRules::default();
    for (name, value) in &file.set {
        let parsed_name = HeaderName::from_bytes(name.as_bytes());
        let parsed_value = HeaderValue::from_str(value);
        if let Some(reason) = parsed_name.as_ref().ok().and_then(framing_header) {
            errors.push(format!("{at}.set.{name}"), reason);
            continue;
        }
        match (parsed_name, parsed_value) {
            (Ok(name), Ok(value)) => rules.set.push((name, value)),
            (Err(_), _) => errors.push(format!("{at}.set.{name}"), "not a valid header name"),
            (_, Err(_)) => errors.push(format!("{at}.set.{name}"), "not a valid header value"),
        }
    }
    for (i, name) in file.remove.iter().enumerate() {
        let parsed = HeaderName::from_bytes(name.as_bytes());
        if let Some(reason) = parsed.as_ref().ok().and_then(framing_header) {
            errors.push(format!("{at}.remove[{i}]"), reason);
            continue;
        }
        match parsed {
            Ok(name) => rules.remove.push(name),
            Err(_) => errors.push(
                format!("{at}.remove[{i}]"),
                format!("not a valid header name: {name:?}"),
            ),
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::tests::errors_of;

    #[test]
    fn a_rate_that_would_overflow_the_wait_is_refused_with_its_path() {
        let config = |rps: &str| {
            format!(
                r#"{{"routes": [{{"name": "api", "path": "/", "targets": ["http://127.0.0.1:9"],
                "rate_limit": {{"requests_per_second": {rps}}}}}]}}"#
            )
        };
        for (rps, got) in [("1e-30", "1e-30"), ("0", "0.0"), ("2e6", "2000000.0")] {
            assert_eq!(
                errors_of(&config(rps)),
                vec![format!(
                    "routes[0].rate_limit.requests_per_second: must be a number from 0.001 to 1000000, got {got}"
                )]
            );
        }
        assert!(crate::server::config::parse(&config("0.001")).is_ok());
    }

    #[test]
    fn path_patterns_parse_and_match() {
        let exact = parse_path_pattern("/health").unwrap();
        assert!(exact.matches("/health"));
        assert!(!exact.matches("/health/x"));
        let prefix = parse_path_pattern("/api/*").unwrap();
        assert_eq!(prefix, PathPattern::Prefix("/api".into()));
        assert!(prefix.matches("/api"));
        assert!(prefix.matches("/api/users/1"));
        assert!(
            !prefix.matches("/apix"),
            "a prefix ends at a segment boundary"
        );
        assert_eq!(parse_path_pattern("*").unwrap(), PathPattern::Any);
        assert!(parse_path_pattern("api").is_err());
        assert!(parse_path_pattern("/a/*/b").is_err());
        assert!(parse_path_pattern("/a*").is_err());
    }

    #[test]
    fn strip_prefix_keeps_a_leading_slash() {
        let prefix = parse_path_pattern("/api/*").unwrap();
        assert_eq!(prefix.strip("/api/users"), "/users");
        assert_eq!(prefix.strip("/api"), "/");
    }

    #[test]
    fn specificity_orders_exact_then_longest_prefix_then_catch_all() {
        let exact = parse_path_pattern("/a").unwrap().specificity();
        let long = parse_path_pattern("/api/v1/*").unwrap().specificity();
        let short = parse_path_pattern("/api/*").unwrap().specificity();
        let any = parse_path_pattern("*").unwrap().specificity();
        assert!(exact > long && long > short && short > any);
    }

    #[test]
    fn header_rules_cannot_touch_framing_or_hop_by_hop_headers() {
        use crate::server::config::tests::errors_of;
        let errors = errors_of(
            r#"{"routes": [
                {"name": "a", "path": "*", "targets": ["http://127.0.0.1:9000"],
                 "response_headers": {"set": {"Content-Length": "5", "x-ok": "1",
                                              "transfer-encoding": "chunked"},
                                      "remove": ["x-gone", "Connection"]},
                 "request_headers": {"set": {"keep-alive": "timeout=5", "proxy-connection": "x",
                                             "te": "trailers", "trailer": "x", "upgrade": "h2c"}}}
            ]}"#,
        );
        let framing = "is a framing or hop-by-hop header, which the proxy writes itself; header rules cannot change it";
        assert_eq!(
            errors,
            [
                format!("routes[0].request_headers.set.keep-alive: keep-alive {framing}"),
                format!(
                    "routes[0].request_headers.set.proxy-connection: proxy-connection {framing}"
                ),
                format!("routes[0].request_headers.set.te: te {framing}"),
                format!("routes[0].request_headers.set.trailer: trailer {framing}"),
                format!("routes[0].request_headers.set.upgrade: upgrade {framing}"),
                format!("routes[0].response_headers.set.Content-Length: content-length {framing}"),
                format!(
                    "routes[0].response_headers.set.transfer-encoding: transfer-encoding {framing}"
                ),
                format!("routes[0].response_headers.remove[1]: connection {framing}"),
            ]
        );
    }

    #[test]
    fn target_urls_are_split() {
        assert_eq!(
            parse_target_url("http://127.0.0.1:9000").unwrap(),
            ("127.0.0.1:9000".into(), "".into(), false)
        );
        assert_eq!(
            parse_target_url("http://backend/v1/").unwrap(),
            ("backend:80".into(), "/v1".into(), false)
        );
        assert_eq!(
            parse_target_url("https://api.internal/v1").unwrap(),
            ("api.internal:443".into(), "/v1".into(), true)
        );
        assert_eq!(
            parse_target_url("HTTPS://10.0.0.5:8443").unwrap(),
            ("10.0.0.5:8443".into(), "".into(), true)
        );
        assert!(
            parse_target_url("127.0.0.1:9000")
                .unwrap_err()
                .starts_with("not an absolute http(s) URL")
        );
        assert!(
            parse_target_url("ftp://x")
                .unwrap_err()
                .starts_with("not an absolute http(s) URL")
        );
        assert!(parse_target_url("http://x/?a=1").is_err());
    }
}
