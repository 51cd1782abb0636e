//! Header rewriting: hop-by-hop headers removed, forwarding headers (`X-Forwarded-*`,
//! `Forwarded`, `X-Real-IP`) believed only from `trusted_proxies` and otherwise replaced by what
//! this hop knows, the client behind a trusted proxy found, the request id generated or
//! propagated, and a route's `request_headers` / `response_headers` rules applied.

use crate::server::config::{HeaderRules, TrustedProxies};
use axum::http::header::{self, Entry, HeaderMap, HeaderName, HeaderValue};
use compact_str::{CompactString, format_compact};
use std::net::IpAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// `X-Request-Id`.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// `X-Forwarded-For`.
pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`.
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`.
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// `X-Real-IP`.
pub static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// What a client may claim about the hops before this one; believed only from a trusted proxy.
static FORWARDING: [&HeaderName; 5] = [
    &X_FORWARDED_FOR,
    &X_FORWARDED_PROTO,
    &X_FORWARDED_HOST,
    &header::FORWARDED,
    &X_REAL_IP,
];

/// The scheme a client reached the proxy with: what `X-Forwarded-Proto` says upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// The plain listener (`listen`).
    Http,
    /// The HTTPS listener (`tls.listen`).
    Https,
}

impl Proto {
    /// As `X-Forwarded-Proto` writes it.
    pub fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Http => "http",
            Self::Https => "https",
        })
    }
}

/// Who sent a request, and over what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientSide {
    /// The address the connection came from (a trusted proxy's, or the client's own).
    pub peer: IpAddr,
    /// The listener's scheme.
    pub proto: Proto,
    /// Whether `peer` is one of `trusted_proxies`, whose forwarding headers are kept.
    pub trusted: bool,
}

/// Longest request id accepted from a client.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1); `Connection` first.
/// As `HeaderName`s: all but `Keep-Alive` are standard names, which compare as small integers.
static HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Removes hop-by-hop headers, including those the `Connection` header names. Looks at the
/// headers present once and removes only those found — usually just `Connection` — instead of
/// a removal (a hash and a probe) per hop-by-hop name.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let mut present = [false; HOP_BY_HOP.len()];
    for name in headers.keys() {
        if let Some(index) = HOP_BY_HOP.iter().position(|hop| hop == name) {
            present[index] = true;
        }
    }
    if !present.contains(&true) {
        return;
    }
    // Only `Connection` names others; its value is shared, not copied.
    if present[0]
        && let Some(connection) = headers.get(header::CONNECTION).cloned()
    {
        for token in connection.to_str().unwrap_or("").split(',') {
            let token = token.trim();
            let listed = HOP_BY_HOP
                .iter()
                .any(|hop| hop.as_str().eq_ignore_ascii_case(token));
            if !token.is_empty() && !listed {
                // Not a valid header name: nothing to remove.
                headers.remove(token);
            }
        }
    }
    for (name, present) in HOP_BY_HOP.iter().zip(present) {
        if present {
            headers.remove(name);
        }
    }
}

/// The request's id: the client's `X-Request-Id` when it is sane, otherwise a new one.
pub fn request_id(headers: &HeaderMap) -> HeaderValue {
    headers
        .get(&X_REQUEST_ID)
        .filter(|id| {
            let bytes = id.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= MAX_REQUEST_ID_LEN
                && bytes.iter().all(|b| b.is_ascii_graphic())
        })
        .cloned()
        .unwrap_or_else(new_request_id)
}

/// A new request id: 16 hex digits, 11 of milliseconds since the Unix epoch then 5 of a
/// per-process counter that starts at a random value. Ids made later sort later, so the
/// history's index on request ids grows at its end instead of at random places (which halved
/// the history writer's cost), and two ids collide only if two processes made them in the same
/// millisecond with the same counter value.
pub fn new_request_id() -> HeaderValue {
    static COUNTER: OnceLock<AtomicU32> = OnceLock::new();
    let counter = COUNTER.get_or_init(|| AtomicU32::new(fastrand::u32(..)));
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let sequence = u64::from(counter.fetch_add(1, Ordering::Relaxed)) & 0xf_ffff;
    let mut bits = ((millis & 0xfff_ffff_ffff) << 20) | sequence;
    let mut text = [0u8; 16];
    for byte in text.iter_mut().rev() {
        *byte = b"0123456789abcdef"[(bits & 0xf) as usize];
        bits >>= 4;
    }
    HeaderValue::from_bytes(&text).expect("hex digits are a valid header value")
}

/// The client a request comes from, as `peer` (the connection's address) tells it with
/// `trusted`: `peer` itself, unless it is a trusted proxy; then the right-most address of the
/// `X-Forwarded-For` chain (every line, in order) that is not itself trusted — the left-most if
/// all are. An entry that is not an address, met on the way, makes it `peer` again: a garbled
/// chain is not believed. Returns the client and whether `peer` is trusted.
pub fn client_address(
    headers: &HeaderMap,
    peer: IpAddr,
    trusted: &TrustedProxies,
) -> (IpAddr, bool) {
    if trusted.is_empty() || !trusted.contains(peer) {
        return (peer, false);
    }
    let mut client = peer;
    for line in headers.get_all(&X_FORWARDED_FOR).iter().rev() {
        let Ok(line) = line.to_str() else {
            return (peer, true);
        };
        for entry in line.rsplit(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some(address) = parse_forwarded_address(entry) else {
                return (peer, true);
            };
            client = address;
            if !trusted.contains(address) {
                return (client, true);
            }
        }
    }
    (client, true)
}

/// An `X-Forwarded-For` entry: an address, maybe with a port (`192.0.2.1:4711`,
/// `[2001:db8::1]:4711`) or in brackets; IPv4-mapped IPv6 as IPv4.
fn parse_forwarded_address(entry: &str) -> Option<IpAddr> {
    let address = entry
        .parse::<IpAddr>()
        .or_else(|_| {
            entry
                .parse::<std::net::SocketAddr>()
                .map(|socket| socket.ip())
        })
        .or_else(|_| {
            entry
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .unwrap_or("")
                .parse::<IpAddr>()
        })
        .ok()?;
    Some(address.to_canonical())
}

/// Sets the forwarding headers the upstream gets. From a trusted proxy the chain is kept:
/// `X-Forwarded-For` gets the proxy's address appended (all its lines joined into one), and
/// `X-Forwarded-Proto` / `X-Forwarded-Host`, `Forwarded` and `X-Real-IP` stay as it sent them
/// (the first two set from this hop if missing). From anyone else those five are dropped and
/// replaced by what this hop knows: `X-Forwarded-For` the peer, `X-Forwarded-Proto` the scheme,
/// `X-Forwarded-Host` the host asked for.
pub fn add_forwarded(headers: &mut HeaderMap, client: ClientSide, host: Option<&HeaderValue>) {
    let peer = ip_text(client.peer);
    if !client.trusted {
        remove_forwarding(headers);
    }
    match headers.entry(&X_FORWARDED_FOR) {
        Entry::Occupied(mut existing) => {
            let mut chain = CompactString::default();
            for line in existing.iter() {
                match line.to_str() {
                    Ok(line) if !line.trim().is_empty() => {
                        chain.push_str(line.trim());
                        chain.push_str(", ");
                    }
                    _ => {}
                }
            }
            chain.push_str(&peer);
            if let Ok(value) = HeaderValue::from_str(&chain) {
                existing.insert(value);
            }
        }
        Entry::Vacant(vacant) => {
            if let Ok(value) = HeaderValue::from_str(&peer) {
                vacant.insert(value);
            }
        }
    }
    headers
        .entry(&X_FORWARDED_PROTO)
        .or_insert_with(|| client.proto.header_value());
    if let Some(host) = host {
        headers
            .entry(&X_FORWARDED_HOST)
            .or_insert_with(|| host.clone());
    }
}

/// Removes the forwarding headers a client sent. Looks at the headers present once (most
/// requests carry none of them) rather than a removal per name.
fn remove_forwarding(headers: &mut HeaderMap) {
    let mut present = [false; FORWARDING.len()];
    for name in headers.keys() {
        if let Some(index) = FORWARDING.iter().position(|forwarding| *forwarding == name) {
            present[index] = true;
        }
    }
    for (name, present) in FORWARDING.iter().zip(present) {
        if present {
            headers.remove(*name);
        }
    }
}

/// `ip` as text, as `IpAddr`'s `Display` writes it; IPv4 (most clients) without the formatting
/// machinery, which is a measurable part of a request's cost.
pub fn ip_text(ip: IpAddr) -> CompactString {
    let IpAddr::V4(v4) = ip else {
        return format_compact!("{ip}");
    };
    // Written into a buffer, then stored once (pushing character by character re-checked the
    // string's inline or heap layout on every push).
    let mut text = [0u8; 15];
    let mut len = 0;
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text[len] = b'.';
            len += 1;
        }
        if octet >= 100 {
            text[len] = b'0' + octet / 100;
            len += 1;
        }
        if octet >= 10 {
            text[len] = b'0' + octet / 10 % 10;
            len += 1;
        }
        text[len] = b'0' + octet % 10;
        len += 1;
    }
    CompactString::from_utf8(&text[..len]).unwrap_or_default()
}

/// Applies a route's rules: removals first, then sets (a set replaces every existing value).
pub fn apply_rules(headers: &mut HeaderMap, rules: &HeaderRules) {
    for name in &rules.remove {
        headers.remove(name);
    }
    for (name, value) in &rules.set {
        headers.insert(name.clone(), value.clone());
    }
}

/// Whether the request asks to switch to the WebSocket protocol.
pub fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let has_token = |name: HeaderName, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value
                .to_str()
                .unwrap_or("")
                .split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    };
    has_token(header::CONNECTION, "upgrade") && has_token(header::UPGRADE, "websocket")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn ip_text_is_what_display_writes() {
        let mut ips: Vec<IpAddr> = [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.9.100",
            "::1",
            "fe80::1:2",
        ]
        .iter()
        .map(|ip| ip.parse().unwrap())
        .collect();
        ips.extend((0..=255u8).map(|octet| IpAddr::from([octet, 255 - octet, octet / 3, 7])));
        for ip in ips {
            assert_eq!(ip_text(ip), ip.to_string());
        }
    }

    #[test]
    fn without_hop_by_hop_headers_nothing_changes() {
        let mut h = headers(&[("host", "a"), ("x-kept", "1"), ("accept", "*/*")]);
        let before = h.clone();
        remove_hop_by_hop(&mut h);
        assert_eq!(h, before);
        let mut h = headers(&[("host", "a"), ("upgrade", "h2c"), ("te", "trailers")]);
        remove_hop_by_hop(&mut h);
        assert_eq!(h.keys().collect::<Vec<_>>(), ["host"]);
    }

    #[test]
    fn hop_by_hop_headers_and_those_named_by_connection_are_removed() {
        let mut h = headers(&[
            ("connection", "keep-alive, X-Private, not a name, , close"),
            ("keep-alive", "timeout=5"),
            ("x-private", "1"),
            ("transfer-encoding", "chunked"),
            ("x-kept", "yes"),
        ]);
        remove_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h["x-kept"], "yes");
    }

    #[test]
    fn request_ids_are_propagated_when_sane_and_generated_otherwise() {
        assert_eq!(
            request_id(&headers(&[("x-request-id", "abc-123")])),
            "abc-123"
        );
        let generated = request_id(&headers(&[("x-request-id", "has space")]));
        assert_eq!(generated.len(), 16);
        let ids: Vec<HeaderValue> = (0..1000).map(|_| new_request_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] != w[1]), "ids are unique");
        // Later ids sort later (unless the counter wraps inside one millisecond, once in 2^20).
        let ordered = ids
            .windows(2)
            .filter(|w| w[0].as_bytes() < w[1].as_bytes())
            .count();
        assert!(ordered >= 998, "{ordered} of 999 pairs in order");
        let long = "a".repeat(200);
        assert_ne!(
            request_id(&headers(&[("x-request-id", &long)])),
            long.as_str()
        );
    }

    fn side(peer: [u8; 4], proto: Proto, trusted: bool) -> ClientSide {
        ClientSide {
            peer: IpAddr::from(peer),
            proto,
            trusted,
        }
    }

    const SPOOFED: [(&str, &str); 6] = [
        ("x-forwarded-for", "1.2.3.4"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "evil.example"),
        ("forwarded", "for=1.2.3.4;proto=https"),
        ("x-real-ip", "1.2.3.4"),
        ("x-kept", "yes"),
    ];

    #[test]
    fn an_untrusted_clients_forwarding_headers_are_replaced() {
        let mut h = headers(&SPOOFED);
        let host = HeaderValue::from_static("example.com");
        add_forwarded(&mut h, side([10, 0, 0, 2], Proto::Http, false), Some(&host));
        assert_eq!(h["x-forwarded-for"], "10.0.0.2");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "example.com");
        assert!(h.get("forwarded").is_none());
        assert!(h.get("x-real-ip").is_none());
        assert_eq!(h["x-kept"], "yes");
        assert_eq!(h.len(), 4);
    }

    #[test]
    fn a_trusted_proxys_chain_is_kept_and_appended_to() {
        let mut h = headers(&SPOOFED);
        add_forwarded(&mut h, side([10, 0, 0, 2], Proto::Http, true), None);
        assert_eq!(h["x-forwarded-for"], "1.2.3.4, 10.0.0.2");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "evil.example");
        assert_eq!(h["forwarded"], "for=1.2.3.4;proto=https");
        assert_eq!(h["x-real-ip"], "1.2.3.4");

        // Repeated X-Forwarded-For lines become one, in order; missing ones are set.
        let mut h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "2.2.2.2, 3.3.3.3"),
        ]);
        add_forwarded(&mut h, side([10, 0, 0, 3], Proto::Https, true), None);
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(
            h.get_all("x-forwarded-for").iter().collect::<Vec<_>>(),
            ["1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.3"]
        );
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_address_behind_trusted_proxies() {
        let trusted =
            crate::server::config::parse(r#"{"trusted_proxies": ["10.0.0.0/8", "2001:db8::/32"]}"#)
                .unwrap()
                .trusted_proxies;
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        let client = |peer: &str, lines: &[&str]| {
            let h = headers(
                &lines
                    .iter()
                    .map(|line| ("x-forwarded-for", *line))
                    .collect::<Vec<_>>(),
            );
            client_address(&h, ip(peer), &trusted)
        };
        let chain = ["198.51.100.1, 203.0.113.5", "10.1.1.1, 10.2.2.2"];
        assert_eq!(
            client("10.0.0.1", &chain),
            (ip("203.0.113.5"), true),
            "lines joined, trusted hops skipped from the right"
        );
        assert_eq!(
            client("192.0.2.9", &chain),
            (ip("192.0.2.9"), false),
            "an untrusted peer is the client whatever it claims"
        );
        assert_eq!(client("10.0.0.1", &[]), (ip("10.0.0.1"), true));
        assert_eq!(
            client("10.0.0.1", &["10.9.9.9, 10.8.8.8"]),
            (ip("10.9.9.9"), true),
            "all trusted: the left-most"
        );
        assert_eq!(
            client("10.0.0.1", &["garbage, 10.3.3.3"]),
            (ip("10.0.0.1"), true),
            "a garbled chain falls back to the peer"
        );
        assert_eq!(
            client("10.0.0.1", &["garbage, 203.0.113.7"]),
            (ip("203.0.113.7"), true),
            "what is left of the client is not read"
        );
        assert_eq!(
            client(
                "2001:db8::1",
                &["198.51.100.2:5000, [2001:db8:ffff::1]:443, ::ffff:10.4.4.4, "]
            ),
            (ip("198.51.100.2"), true),
            "ports, brackets, mapped IPv4 and empty entries"
        );
    }

    #[test]
    fn websocket_upgrades_are_recognised() {
        assert!(is_websocket_upgrade(&headers(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket")
        ])));
        assert!(!is_websocket_upgrade(&headers(&[("upgrade", "websocket")])));
    }
}
