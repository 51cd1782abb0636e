//! The headers of recent requests, for the request detail view: captured by the proxy as
//! `HeaderMap`s (cheap clones of what hyper parsed), turned into bounded text with secrets
//! redacted on the recorder thread, and kept for the newest [`KEPT_REQUESTS`] requests only.

use crate::views::{ExchangedHeaders, HeaderLine};
use axum::http::{HeaderMap, HeaderName};
use std::collections::VecDeque;

/// How many requests' headers are kept (the newest).
pub const KEPT_REQUESTS: usize = 2_000;
/// Most headers kept per direction; the rest are counted as omitted.
pub const MAX_HEADERS: usize = 64;
/// Longest header value kept (in bytes, cut at a character boundary).
pub const MAX_VALUE_LEN: usize = 512;
/// What a secret's value is replaced with.
pub const REDACTED: &str = "[redacted]";

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

/// Whether the value of header `name` (lower case, as `HeaderName` keeps it) must not be shown.
pub fn is_secret(name: &HeaderName) -> bool {
    let name = name.as_str();
    SECRET_NAMES.contains(&name) || SECRET_WORDS.iter().any(|word| name.contains(word))
}

/// The headers of one exchange as text, bounded and redacted.
pub fn exchanged(request: &HeaderMap, response: &HeaderMap) -> ExchangedHeaders {
    let (request, request_omitted) = lines(request);
    let (response, response_omitted) = lines(response);
    ExchangedHeaders {
        request,
        response,
        omitted: (request_omitted, response_omitted),
    }
}

/// At most [`MAX_HEADERS`] lines of `headers`, and how many were left out.
fn lines(headers: &HeaderMap) -> (Vec<HeaderLine>, u32) {
    let lines: Vec<HeaderLine> = headers
        .iter()
        .take(MAX_HEADERS)
        .map(|(name, value)| {
            let text = String::from_utf8_lossy(value.as_bytes());
            if is_secret(name) {
                HeaderLine {
                    name: name.to_string(),
                    value: redacted(name, &text),
                    redacted: true,
                }
            } else {
                HeaderLine {
                    name: name.to_string(),
                    value: bounded(&text),
                    redacted: false,
                }
            }
        })
        .collect();
    let omitted = headers.len().saturating_sub(lines.len());
    (lines, u32::try_from(omitted).unwrap_or(u32::MAX))
}

/// A secret's replacement: an authorization's scheme stays visible (`Bearer [redacted]`), so an
/// operator can still tell which kind of credential was sent.
fn redacted(name: &HeaderName, value: &str) -> String {
    let authorization = name.as_str().ends_with("authorization");
    match value.split_once(' ') {
        Some((scheme, _))
            if authorization && scheme.len() <= 16 && scheme.chars().all(char::is_alphanumeric) =>
        {
            format!("{scheme} {REDACTED}")
        }
        _ => REDACTED.to_string(),
    }
}

fn bounded(text: &str) -> String {
    if text.len() <= MAX_VALUE_LEN {
        return text.to_string();
    }
    let mut end = MAX_VALUE_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The headers of the newest requests, by `seq` (oldest first, `seq` increasing).
#[derive(Debug)]
pub struct HeaderLog {
    entries: VecDeque<(u64, ExchangedHeaders)>,
    capacity: usize,
}

impl Default for HeaderLog {
    fn default() -> Self {
        Self::with_capacity(KEPT_REQUESTS)
    }
}

impl HeaderLog {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: VecDeque::with_capacity(capacity.min(KEPT_REQUESTS)),
            capacity,
        }
    }

    /// Keeps the headers of request `seq` (newer than any kept), forgetting the oldest when full.
    pub fn push(&mut self, seq: u64, headers: ExchangedHeaders) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back((seq, headers));
    }

    /// The headers of request `seq`, if still kept.
    pub fn get(&self, seq: u64) -> Option<&ExchangedHeaders> {
        let index = self
            .entries
            .binary_search_by_key(&seq, |(kept, _)| *kept)
            .ok()?;
        self.entries.get(index).map(|(_, headers)| headers)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn map(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
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

    #[test]
    fn the_log_keeps_the_newest_and_finds_by_seq() {
        let mut log = HeaderLog::with_capacity(3);
        for seq in [10, 11, 13, 14] {
            log.push(seq, ExchangedHeaders::default());
        }
        assert_eq!(log.len(), 3);
        assert!(log.get(10).is_none(), "the oldest was forgotten");
        assert!(log.get(12).is_none());
        assert!(log.get(11).is_some() && log.get(13).is_some() && log.get(14).is_some());
    }
}
