//! Header rewriting: hop-by-hop headers removed, `X-Forwarded-*` added, the request id generated
//! or propagated, and a route's `request_headers` / `response_headers` rules applied.

use crate::server::config::HeaderRules;
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
    /// The client's address.
    pub ip: IpAddr,
    /// The listener's scheme.
    pub proto: Proto,
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

/// Adds `X-Forwarded-For` (appending the client), and `X-Forwarded-Proto` (`proto`) /
/// `X-Forwarded-Host` unless a proxy in front already set them. One map look-up per header.
pub fn add_forwarded(
    headers: &mut HeaderMap,
    client: IpAddr,
    proto: Proto,
    host: Option<&HeaderValue>,
) {
    let client = ip_text(client);
    match headers.entry(&X_FORWARDED_FOR) {
        Entry::Occupied(mut existing) => {
            let appended = match existing.get().to_str() {
                Ok(before) if !before.trim().is_empty() => format_compact!("{before}, {client}"),
                _ => client,
            };
            if let Ok(value) = HeaderValue::from_str(&appended) {
                existing.insert(value);
            }
        }
        Entry::Vacant(vacant) => {
            if let Ok(value) = HeaderValue::from_str(&client) {
                vacant.insert(value);
            }
        }
    }
    headers
        .entry(&X_FORWARDED_PROTO)
        .or_insert_with(|| proto.header_value());
    if let Some(host) = host {
        headers
            .entry(&X_FORWARDED_HOST)
            .or_insert_with(|| host.clone());
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

    #[test]
    fn forwarded_for_is_appended() {
        let mut h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        add_forwarded(
            &mut h,
            IpAddr::from([10, 0, 0, 2]),
            Proto::Http,
            Some(&HeaderValue::from_static("example.com")),
        );
        assert_eq!(h["x-forwarded-for"], "1.2.3.4, 10.0.0.2");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "example.com");

        // A first proxy: the client alone; what a proxy in front set is kept; repeated
        // X-Forwarded-For lines become one.
        let mut h = headers(&[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "front.example"),
        ]);
        add_forwarded(&mut h, IpAddr::from([192, 168, 1, 20]), Proto::Https, None);
        assert_eq!(h["x-forwarded-for"], "192.168.1.20");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "front.example");
        let mut h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "2.2.2.2"),
        ]);
        add_forwarded(&mut h, "::1".parse().unwrap(), Proto::Https, None);
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(
            h.get_all("x-forwarded-for").iter().collect::<Vec<_>>(),
            ["1.1.1.1, ::1"]
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
