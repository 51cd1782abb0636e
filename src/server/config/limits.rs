//! `limits`, `trusted_proxies` and `merge_slashes`: what the proxy listener allows a client
//! (connections, time, header and body sizes, WebSockets), whose forwarding headers it believes,
//! and how it normalises request paths before routing.

use super::FieldErrors;
use ipnet::IpNet;
use schemars::JsonSchema;
use serde::Deserialize;
use std::net::IpAddr;
use std::time::Duration;

/// Default bound on client connections open at once on the proxy listeners.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default time a client has from connecting (or finishing a request) to sending a request's
/// whole head (or the HTTP/2 preface).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time an idle kept-alive connection stays open.
pub const DEFAULT_KEEPALIVE_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default bound on a request head's size.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
/// Default time an upload may stall (no byte from the client) before the request is cut.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time an upstream's response body may stall before the request is cut.
pub const DEFAULT_UPSTREAM_BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time a WebSocket may go without a frame either way before it is closed.
pub const DEFAULT_WEBSOCKET_IDLE_TIMEOUT: Duration = Duration::from_secs(3_600);
/// Default bound on WebSocket tunnels open at once.
pub const DEFAULT_MAX_WEBSOCKETS: usize = 10_000;
/// The longest any of the limits' timeouts may be set to (one day).
pub const MAX_TIMEOUT_MS: u64 = 86_400_000;

/// `limits` as written.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct FileLimits {
    /// Most client connections open at once on the proxy's listeners (1 to 1000000); beyond it a
    /// new connection is closed at once and counted. Default 10000.
    #[schemars(range(min = 1, max = 1_000_000), extend("default" = DEFAULT_MAX_CONNECTIONS))]
    pub max_connections: Option<usize>,
    /// Time a client has to send a request's head, in ms, from connecting (covering the first
    /// byte and the HTTP/2 preface; over TLS from the end of the handshake) or, on a kept-alive
    /// HTTP/1.1 connection, from the next request's first byte; then the connection is closed
    /// (HTTP/1.1 clients get 408). 100 to 86400000. Default 10000.
    #[schemars(
        range(min = 100, max = MAX_TIMEOUT_MS),
        extend("default" = DEFAULT_HEADER_READ_TIMEOUT.as_millis())
    )]
    pub header_read_timeout_ms: Option<u64>,
    /// Time an idle connection (HTTP/1.1 kept alive, or HTTP/2 with no open stream) stays open,
    /// in ms. 100 to 86400000. Default 60000.
    #[schemars(
        range(min = 100, max = MAX_TIMEOUT_MS),
        extend("default" = DEFAULT_KEEPALIVE_IDLE_TIMEOUT.as_millis())
    )]
    pub keepalive_idle_timeout_ms: Option<u64>,
    /// Largest request head (request line and headers) accepted, in bytes; a larger one gets 431.
    /// 1024 to 1048576. Default 65536.
    #[schemars(range(min = 1024, max = 1_048_576), extend("default" = DEFAULT_MAX_HEADER_BYTES))]
    pub max_header_bytes: Option<usize>,
    /// Time an upload may go without a byte from the client, in ms; then the request is cut and
    /// recorded with error kind body_timeout. 100 to 86400000. Default 60000.
    #[schemars(
        range(min = 100, max = MAX_TIMEOUT_MS),
        extend("default" = DEFAULT_BODY_READ_TIMEOUT.as_millis())
    )]
    pub body_read_timeout_ms: Option<u64>,
    /// Time an upstream's response body may go without a byte, in ms; then the response is cut
    /// and recorded with error kind upstream_body_timeout. 100 to 86400000. Default 60000.
    #[schemars(
        range(min = 100, max = MAX_TIMEOUT_MS),
        extend("default" = DEFAULT_UPSTREAM_BODY_TIMEOUT.as_millis())
    )]
    pub upstream_body_timeout_ms: Option<u64>,
    /// Time a WebSocket may go without a message either way, in ms; then it is closed. 100 to
    /// 86400000. Default 3600000.
    #[schemars(
        range(min = 100, max = MAX_TIMEOUT_MS),
        extend("default" = DEFAULT_WEBSOCKET_IDLE_TIMEOUT.as_millis())
    )]
    pub websocket_idle_timeout_ms: Option<u64>,
    /// Most WebSocket tunnels open at once (1 to 1000000); the next upgrade gets 503. Default
    /// 10000.
    #[schemars(range(min = 1, max = 1_000_000), extend("default" = DEFAULT_MAX_WEBSOCKETS))]
    pub max_websockets: Option<usize>,
}

/// What the proxy listener allows a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub keepalive_idle_timeout: Duration,
    pub max_header_bytes: usize,
    pub body_read_timeout: Duration,
    pub upstream_body_timeout: Duration,
    pub websocket_idle_timeout: Duration,
    pub max_websockets: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            keepalive_idle_timeout: DEFAULT_KEEPALIVE_IDLE_TIMEOUT,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            upstream_body_timeout: DEFAULT_UPSTREAM_BODY_TIMEOUT,
            websocket_idle_timeout: DEFAULT_WEBSOCKET_IDLE_TIMEOUT,
            max_websockets: DEFAULT_MAX_WEBSOCKETS,
        }
    }
}

/// Validates `limits`, reporting each value out of range at its path.
pub fn validate_limits(file: Option<FileLimits>, errors: &mut FieldErrors) -> Limits {
    let file = file.unwrap_or_default();
    let defaults = Limits::default();
    let timeout =
        |value: Option<u64>, name: &str, default: Duration, errors: &mut FieldErrors| match value {
            None => default,
            Some(ms) if (100..=MAX_TIMEOUT_MS).contains(&ms) => Duration::from_millis(ms),
            Some(ms) => {
                errors.push(
                    format!("limits.{name}"),
                    format!("must be from 100 to {MAX_TIMEOUT_MS} milliseconds, got {ms}"),
                );
                default
            }
        };
    let count = |value: Option<usize>,
                 name: &str,
                 (min, max): (usize, usize),
                 default: usize,
                 errors: &mut FieldErrors| match value {
        None => default,
        Some(n) if (min..=max).contains(&n) => n,
        Some(n) => {
            errors.push(
                format!("limits.{name}"),
                format!("must be from {min} to {max}, got {n}"),
            );
            default
        }
    };
    Limits {
        max_connections: count(
            file.max_connections,
            "max_connections",
            (1, 1_000_000),
            defaults.max_connections,
            errors,
        ),
        header_read_timeout: timeout(
            file.header_read_timeout_ms,
            "header_read_timeout_ms",
            defaults.header_read_timeout,
            errors,
        ),
        keepalive_idle_timeout: timeout(
            file.keepalive_idle_timeout_ms,
            "keepalive_idle_timeout_ms",
            defaults.keepalive_idle_timeout,
            errors,
        ),
        max_header_bytes: count(
            file.max_header_bytes,
            "max_header_bytes",
            (1024, 1_048_576),
            defaults.max_header_bytes,
            errors,
        ),
        body_read_timeout: timeout(
            file.body_read_timeout_ms,
            "body_read_timeout_ms",
            defaults.body_read_timeout,
            errors,
        ),
        upstream_body_timeout: timeout(
            file.upstream_body_timeout_ms,
            "upstream_body_timeout_ms",
            defaults.upstream_body_timeout,
            errors,
        ),
        websocket_idle_timeout: timeout(
            file.websocket_idle_timeout_ms,
            "websocket_idle_timeout_ms",
            defaults.websocket_idle_timeout,
            errors,
        ),
        max_websockets: count(
            file.max_websockets,
            "max_websockets",
            (1, 1_000_000),
            defaults.max_websockets,
            errors,
        ),
    }
}

/// The addresses whose forwarding headers (`X-Forwarded-*`, `Forwarded`, `X-Real-IP`) are
/// believed: a load balancer or CDN in front of the gateway.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Whether `ip` is one of the trusted proxies (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Whether no proxy is trusted (the default).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The networks, as configured.
    pub fn networks(&self) -> &[IpNet] {
        &self.0
    }
}

/// Validates `trusted_proxies`: each entry a CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a single
/// address.
pub fn validate_trusted_proxies(file: Vec<String>, errors: &mut FieldErrors) -> TrustedProxies {
    let networks = file
        .iter()
        .enumerate()
        .filter_map(|(index, text)| {
            let text = text.trim();
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| {
                    errors.push(
                        format!("trusted_proxies[{index}]"),
                        format!(
                            "not an IP address or CIDR: {text:?} (e.g. \"10.0.0.0/8\", \"::1\")"
                        ),
                    )
                })
                .ok()
        })
        .collect();
    TrustedProxies(networks)
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::super::tests::errors_of;
    use super::*;

    #[test]
    fn defaults_apply_when_left_out() {
        let config = parse("{}").unwrap();
        assert_eq!(config.limits, Limits::default());
        assert!(config.trusted_proxies.is_empty());
        assert!(config.merge_slashes);
    }

    #[test]
    fn limits_are_read_and_checked() {
        let config = parse(
            r#"{"limits": {"max_connections": 5, "header_read_timeout_ms": 250,
                "max_header_bytes": 2048, "max_websockets": 3}}"#,
        )
        .unwrap();
        assert_eq!(config.limits.max_connections, 5);
        assert_eq!(
            config.limits.header_read_timeout,
            Duration::from_millis(250)
        );
        assert_eq!(config.limits.max_header_bytes, 2048);
        assert_eq!(config.limits.max_websockets, 3);
        assert_eq!(
            errors_of(r#"{"limits": {"max_connections": 0, "body_read_timeout_ms": 5}}"#),
            vec![
                "limits.max_connections: must be from 1 to 1000000, got 0",
                "limits.body_read_timeout_ms: must be from 100 to 86400000 milliseconds, got 5",
            ]
        );
    }

    #[test]
    fn trusted_proxies_take_cidrs_and_addresses() {
        let config =
            parse(r#"{"trusted_proxies": ["10.0.0.0/8", "::1", "2001:db8::/32"]}"#).unwrap();
        let trusted = &config.trusted_proxies;
        assert!(trusted.contains("10.1.2.3".parse().unwrap()));
        assert!(trusted.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(trusted.contains("::1".parse().unwrap()));
        assert!(trusted.contains("2001:db8:1::7".parse().unwrap()));
        assert!(!trusted.contains("11.0.0.1".parse().unwrap()));
        assert_eq!(
            errors_of(r#"{"trusted_proxies": ["10.0.0.0/33", "proxy"]}"#),
            vec![
                "trusted_proxies[0]: not an IP address or CIDR: \"10.0.0.0/33\" (e.g. \"10.0.0.0/8\", \"::1\")",
                "trusted_proxies[1]: not an IP address or CIDR: \"proxy\" (e.g. \"10.0.0.0/8\", \"::1\")",
            ]
        );
    }
}
