//! Header capture for the request detail view, on the proxy's threads: each exchange's headers
//! are copied into one compact buffer ([`CapturedHeaders`]: one allocation, no per-header
//! strings, nothing pointing into hyper's buffers) that travels with the request's event; they
//! are turned into text — bounded, secrets redacted — only when someone asks for one. The
//! metrics side keeps the newest [`KEPT_REQUESTS`] (`metrics::header_log`).

use crate::views::{ExchangedHeaders, HeaderLine};
use axum::http::HeaderMap;

/// How many requests' headers are kept (the newest).
pub const KEPT_REQUESTS: usize = 2_000;
/// Most headers kept per direction; the rest are counted as omitted.
pub const MAX_HEADERS: usize = 64;
/// Longest header value kept (in bytes; a cut value ends with `…`).
pub const MAX_VALUE_LEN: usize = 512;
/// Longest header name kept (in bytes).
const MAX_NAME_LEN: usize = 255;
/// What a secret's value is replaced with.
pub const REDACTED: &str = "[redacted]";
/// Marks a value cut to [`MAX_VALUE_LEN`] in its stored length.
const CUT: u16 = 0x8000;

/// Header names whose values are always secrets.
const SECRET_NAMES: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
];
/// Parts of a header name that mark its value as a secret (`x-auth-token`, `x-client-secret`…).
const SECRET_WORDS: [&str; 7] = [
    "token", "secret", "password", "passwd", "apikey", "api-key", "session",
];

/// Headers whose value is a URL, shown with its query string and user info redacted: a query
/// often carries a token (`?code=…`, `?api_key=…`, a signed URL's signature).
const URL_NAMES: [&str; 4] = ["location", "content-location", "referer", "origin"];

/// Whether the value of header `name` (lower case) must not be shown: a known credential
/// header, a name with a secret-sounding word, or any `*-key` / `*_key` (`x-goog-api-key`,
/// `ocp-apim-subscription-key`).
pub fn is_secret(name: &str) -> bool {
    SECRET_NAMES.contains(&name)
        || SECRET_WORDS.iter().any(|word| name.contains(word))
        || name.ends_with("-key")
        || name.ends_with("_key")
}

/// `url` with its user info (`user:pass@`) and query string replaced by [`REDACTED`], or `None`
/// when it has neither.
fn redacted_url(url: &str) -> Option<String> {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (url, None),
    };
    let (base, query) = match before_fragment.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (before_fragment, None),
    };
    // User info sits between the scheme's `//` and the first `@` before the path.
    let user_info = base.find("//").and_then(|start| {
        let authority_start = start + 2;
        let authority_end = base[authority_start..]
            .find('/')
            .map_or(base.len(), |end| authority_start + end);
        base[authority_start..authority_end]
            .rfind('@')
            .map(|at| (authority_start, authority_start + at))
    });
    if query.is_none() && user_info.is_none() {
        return None;
    }
    let mut shown = String::with_capacity(url.len());
    match user_info {
        Some((start, at)) => {
            shown.push_str(&base[..start]);
            shown.push_str(REDACTED);
            shown.push_str(&base[at..]);
        }
        None => shown.push_str(base),
    }
    if query.is_some() {
        shown.push('?');
        shown.push_str(REDACTED);
    }
    if let Some(fragment) = fragment {
        shown.push('#');
        shown.push_str(fragment);
    }
    Some(shown)
}

/// One exchange's headers, as bytes: for each header, the name's length (1 byte), the name, the
/// value's length (2 bytes, high bit: cut) and the value — the request's first, then the
/// response's. Values are kept as received; [`CapturedHeaders::exchanged`] redacts secrets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapturedHeaders {
    bytes: Vec<u8>,
    request_count: u16,
    response_count: u16,
    omitted: (u32, u32),
}

impl CapturedHeaders {
    /// A capture starting with a request's headers, with room for a typical response's after
    /// them (growing the buffer later would copy the request's part again).
    pub fn request(headers: &HeaderMap) -> Self {
        let mut captured = Self {
            bytes: Vec::with_capacity(stored_len(headers) + RESPONSE_ROOM),
            ..Self::default()
        };
        (captured.request_count, captured.omitted.0) = captured.push_all(headers);
        captured
    }

    /// Adds the response's headers (call once).
    pub fn add_response(&mut self, headers: &HeaderMap) {
        (self.response_count, self.omitted.1) = self.push_all(headers);
    }

    /// One pass over `headers`: the buffer is sized beforehand for the request and a typical
    /// response, so the per-header `reserve` rarely grows it (a second pass to size it exactly
    /// cost more than the rare growth).
    fn push_all(&mut self, headers: &HeaderMap) -> (u16, u32) {
        let mut count = 0u16;
        for (name, value) in headers.iter().take(MAX_HEADERS) {
            let name = &name.as_str().as_bytes()[..name.as_str().len().min(MAX_NAME_LEN)];
            let value = value.as_bytes();
            let kept = value.len().min(MAX_VALUE_LEN);
            let cut = if kept < value.len() { CUT } else { 0 };
            self.bytes.reserve(3 + name.len() + kept);
            self.bytes.push(name.len() as u8);
            self.bytes.extend_from_slice(name);
            self.bytes
                .extend_from_slice(&(kept as u16 | cut).to_le_bytes());
            self.bytes.extend_from_slice(&value[..kept]);
            count += 1;
        }
        let omitted = headers.len().saturating_sub(usize::from(count));
        (count, u32::try_from(omitted).unwrap_or(u32::MAX))
    }

    /// The headers as text, secrets redacted.
    pub fn exchanged(&self) -> ExchangedHeaders {
        let mut entries = Entries {
            bytes: &self.bytes,
            at: 0,
        };
        let request = entries.by_ref().take(self.request_count.into()).collect();
        let response = entries.take(self.response_count.into()).collect();
        ExchangedHeaders {
            request,
            response,
            omitted: self.omitted,
        }
    }
}

/// Bytes reserved for the response's headers when a capture starts: more than the usual
/// answer's dozen short headers.
const RESPONSE_ROOM: usize = 512;

/// The bytes `headers` take in a capture (at most [`MAX_HEADERS`] of them, names and values cut).
fn stored_len(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .take(MAX_HEADERS)
        .map(|(name, value)| {
            3 + name.as_str().len().min(MAX_NAME_LEN) + value.as_bytes().len().min(MAX_VALUE_LEN)
        })
        .sum()
}

/// Reads [`CapturedHeaders`]' entries back as [`HeaderLine`]s.
struct Entries<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Iterator for Entries<'_> {
    type Item = HeaderLine;

    fn next(&mut self) -> Option<HeaderLine> {
        let name_len = usize::from(*self.bytes.get(self.at)?);
        let name = self.bytes.get(self.at + 1..self.at + 1 + name_len)?;
        let at = self.at + 1 + name_len;
        let stored = u16::from_le_bytes([*self.bytes.get(at)?, *self.bytes.get(at + 1)?]);
        let value_len = usize::from(stored & !CUT);
        let value = self.bytes.get(at + 2..at + 2 + value_len)?;
        self.at = at + 2 + value_len;
        let name = String::from_utf8_lossy(name).into_owned();
        let value = String::from_utf8_lossy(value);
        Some(if is_secret(&name) {
            HeaderLine {
                value: redacted(&name, &value),
                name,
                redacted: true,
            }
        } else if let Some(value) = URL_NAMES
            .contains(&name.as_str())
            .then(|| redacted_url(&value))
            .flatten()
        {
            HeaderLine {
                name,
                value,
                redacted: true,
            }
        } else {
            let mut value = value.into_owned();
            if stored & CUT != 0 {
                value.push('…');
            }
            HeaderLine {
                name,
                value,
                redacted: false,
            }
        })
    }
}

/// A secret's replacement: an authorization's scheme stays visible (`Bearer [redacted]`), so an
/// operator can still tell which kind of credential was sent.
fn redacted(name: &str, value: &str) -> String {
    let authorization = name.ends_with("authorization");
    match value.split_once(' ') {
        Some((scheme, _))
            if authorization && scheme.len() <= 16 && scheme.chars().all(char::is_alphanumeric) =>
        {
            format!("{scheme} {REDACTED}")
        }
        _ => REDACTED.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderName, HeaderValue};

    fn exchanged(request: &HeaderMap, response: &HeaderMap) -> ExchangedHeaders {
        let mut captured = CapturedHeaders::request(request);
        captured.add_response(response);
        captured.exchanged()
    }

    fn map(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn a_typical_exchange_is_captured_in_one_allocation() {
        let request = map(&[
            ("host", "api.example"),
            ("user-agent", "curl/8"),
            ("accept", "*/*"),
        ]);
        let response = map(&[
            ("server", "nginx/1.22.1"),
            ("date", "Wed, 02 Dec 2026 23:04:03 GMT"),
            ("content-type", "application/json"),
            ("content-length", "16384"),
            ("last-modified", "Wed, 02 Dec 2026 20:00:00 GMT"),
            ("etag", "\"692f4a10-4000\""),
            ("accept-ranges", "bytes"),
            ("x-request-id", "0192f4a1-0000-7000-8000-000000000000"),
        ]);
        let mut captured = CapturedHeaders::request(&request);
        let capacity = captured.bytes.capacity();
        captured.add_response(&response);
        assert_eq!(captured.bytes.capacity(), capacity, "the response fitted");
        assert_eq!(
            captured.bytes.len(),
            stored_len(&request) + stored_len(&response)
        );
        assert_eq!(captured.exchanged().response.len(), 8);
    }

    #[test]
    fn secrets_are_redacted_and_the_rest_kept() {
        let request = map(&[
            ("authorization", "Bearer sk-live-123"),
            ("cookie", "session=abc; theme=dark"),
            ("x-auth-token", "t0k3n"),
            ("x-client-secret", "s3cr3t"),
            ("accept", "application/json"),
            ("x-trace", "7"),
        ]);
        let response = map(&[("set-cookie", "sid=xyz"), ("content-type", "text/plain")]);
        let headers = exchanged(&request, &response);
        let shown = |lines: &[HeaderLine]| {
            lines
                .iter()
                .map(|l| format!("{}: {} ({})", l.name, l.value, l.redacted))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            shown(&headers.request),
            [
                "authorization: Bearer [redacted] (true)",
                "cookie: [redacted] (true)",
                "x-auth-token: [redacted] (true)",
                "x-client-secret: [redacted] (true)",
                "accept: application/json (false)",
                "x-trace: 7 (false)",
            ]
        );
        assert_eq!(
            shown(&headers.response),
            [
                "set-cookie: [redacted] (true)",
                "content-type: text/plain (false)"
            ]
        );
        let all = format!("{headers:?}");
        for secret in ["sk-live-123", "abc", "t0k3n", "s3cr3t", "xyz"] {
            assert!(!all.contains(secret), "{secret} leaked: {all}");
        }
    }

    #[test]
    fn an_authorization_without_a_plain_scheme_is_redacted_whole() {
        let request = map(&[
            ("authorization", "sk-live-123 456"),
            ("proxy-authorization", "x"),
        ]);
        let headers = exchanged(&request, &HeaderMap::new());
        assert_eq!(headers.request[0].value, REDACTED);
        assert_eq!(headers.request[1].value, REDACTED);
    }

    #[test]
    fn key_headers_and_the_queries_and_user_info_of_urls_are_redacted() {
        let request = map(&[
            ("x-goog-api-key", "AIza-secret"),
            ("ocp-apim-subscription-key", "sub-secret"),
            ("x_service_key", "svc-secret"),
            ("referer", "https://app.example/cb?code=ref-secret#top"),
            ("origin", "https://app.example"),
            ("keyboard", "qwerty"),
        ]);
        let response = map(&[
            (
                "location",
                "https://user:pw-secret@id.example/next?token=loc-secret",
            ),
            ("content-location", "/docs/a"),
        ]);
        let headers = exchanged(&request, &response);
        let value = |lines: &[HeaderLine], name: &str| {
            let line = lines.iter().find(|l| l.name == name).unwrap();
            (line.value.clone(), line.redacted)
        };
        assert_eq!(value(&headers.request, "x-goog-api-key").0, REDACTED);
        assert_eq!(value(&headers.request, "x_service_key").0, REDACTED);
        assert_eq!(
            value(&headers.request, "referer"),
            ("https://app.example/cb?[redacted]#top".into(), true)
        );
        assert_eq!(
            value(&headers.request, "origin"),
            ("https://app.example".into(), false),
            "a URL without query or user info is shown as it is"
        );
        assert_eq!(
            value(&headers.request, "keyboard"),
            ("qwerty".into(), false)
        );
        assert_eq!(
            value(&headers.response, "location"),
            ("https://[redacted]@id.example/next?[redacted]".into(), true)
        );
        assert_eq!(
            value(&headers.response, "content-location"),
            ("/docs/a".into(), false)
        );
        let all = format!("{headers:?}");
        for secret in [
            "AIza",
            "sub-secret",
            "svc-secret",
            "ref-secret",
            "pw-secret",
            "loc-secret",
        ] {
            assert!(!all.contains(secret), "{secret} leaked: {all}");
        }
    }

    #[test]
    fn many_or_long_headers_are_bounded() {
        let long = "é".repeat(MAX_VALUE_LEN);
        let mut request = map(&[("x-long", &long)]);
        for n in 0..100 {
            request.append(
                HeaderName::from_bytes(format!("x-h{n}").as_bytes()).unwrap(),
                HeaderValue::from_static("v"),
            );
        }
        let headers = exchanged(&request, &HeaderMap::new());
        assert_eq!(headers.request.len(), MAX_HEADERS);
        assert_eq!(headers.omitted, (101 - MAX_HEADERS as u32, 0));
        let value = &headers.request[0].value;
        assert!(
            value.len() <= MAX_VALUE_LEN + '…'.len_utf8(),
            "{}",
            value.len()
        );
        assert!(value.ends_with('…'));
    }
}
