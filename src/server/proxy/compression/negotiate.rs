//! Whether a response is compressed, and with which encoding: decided from the request's
//! `Accept-Encoding` (RFC 9110 §12.5.3: q-values, `*`, `q=0` refusing), the route's algorithms
//! (its order breaks ties between equal q-values), and the response's status and headers, which
//! are rewritten for the encoding chosen (`Content-Encoding`, `Vary`, no `Content-Length`, a weak
//! `ETag`).

use crate::server::config::{CompressionConfig, Encoding};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};

/// What the response's compression needs from its request, taken before the request is sent on.
#[derive(Debug, Default)]
pub struct RequestEncodingFacts {
    /// The request's `Accept-Encoding` values, joined (`None`: the header was absent).
    accept_encoding: Option<HeaderValue>,
    /// A HEAD request: its answer has no body to compress.
    head: bool,
}

impl RequestEncodingFacts {
    /// The facts of a request with `method` and `headers`.
    pub fn of(method: &Method, headers: &HeaderMap) -> Self {
        let mut values = headers.get_all(header::ACCEPT_ENCODING).iter();
        let accept_encoding = match (values.next(), values.next()) {
            (None, _) => None,
            (Some(one), None) => Some(one.clone()),
            (Some(first), Some(second)) => {
                let mut joined = first.as_bytes().to_vec();
                for value in std::iter::once(second).chain(values) {
                    joined.extend_from_slice(b", ");
                    joined.extend_from_slice(value.as_bytes());
                }
                HeaderValue::from_bytes(&joined).ok()
            }
        };
        Self {
            accept_encoding,
            head: method == Method::HEAD,
        }
    }
}

/// Decides the response's encoding under `config` and rewrites its `headers` for it: `Vary:
/// Accept-Encoding` on every response whose encoding depends on it, and, when one is chosen,
/// `Content-Encoding`, no `Content-Length` or `Accept-Ranges`, and a weak `ETag`.
pub fn negotiate_compression(
    config: &CompressionConfig,
    request: &RequestEncodingFacts,
    status: StatusCode,
    headers: &mut HeaderMap,
) -> Option<Encoding> {
    if request.head || !compressible_response(config, status, headers) {
        return None;
    }
    add_vary(headers);
    let encoding = choose(
        request.accept_encoding.as_ref()?.to_str().ok()?,
        &config.algorithms,
    )?;
    headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(encoding.as_str()),
    );
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::ACCEPT_RANGES);
    if let Some(etag) = headers.get(header::ETAG)
        && !etag.as_bytes().starts_with(b"W/")
    {
        let mut weak = b"W/".to_vec();
        weak.extend_from_slice(etag.as_bytes());
        if let Ok(weak) = HeaderValue::from_bytes(&weak) {
            headers.insert(header::ETAG, weak);
        }
    }
    Some(encoding)
}

/// Whether the response may be compressed at all, whatever the client accepts.
fn compressible_response(
    config: &CompressionConfig,
    status: StatusCode,
    headers: &HeaderMap,
) -> bool {
    if status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || status == StatusCode::PARTIAL_CONTENT
        || headers.contains_key(header::CONTENT_RANGE)
    {
        return false;
    }
    let encoded = headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .any(|value| !value.as_bytes().eq_ignore_ascii_case(b"identity"));
    let no_transform = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|directive| directive.trim().eq_ignore_ascii_case("no-transform"));
    let too_small = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|length| length < config.min_bytes);
    let type_compresses = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(compressible_type);
    !encoded && !no_transform && !too_small && type_compresses
}

/// Whether a `Content-Type` is one that compresses (and is not an event stream).
fn compressible_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    match kind {
        "text" => subtype != "event-stream",
        "application" => {
            matches!(
                subtype,
                "json"
                    | "javascript"
                    | "ecmascript"
                    | "xml"
                    | "wasm"
                    | "x-ndjson"
                    | "ndjson"
                    | "graphql"
                    | "x-www-form-urlencoded"
                    | "csv"
                    | "yaml"
                    | "x-yaml"
            ) || subtype.ends_with("+json")
                || subtype.ends_with("+xml")
        }
        "image" => subtype == "svg+xml",
        _ => false,
    }
}

/// Adds `Accept-Encoding` to `Vary` unless it is there (or `Vary: *`).
fn add_vary(headers: &mut HeaderMap) {
    let listed = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|name| name == "*" || name.eq_ignore_ascii_case("accept-encoding"));
    if !listed {
        headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
}

/// The encoding to use for `accept_encoding` among `offered` (most preferred first): the
/// highest q-value above 0, ties to the earlier offered; a coding not listed takes `*`'s q-value,
/// or is not acceptable.
pub fn choose(accept_encoding: &str, offered: &[Encoding]) -> Option<Encoding> {
    let mut best: Option<(Encoding, u16)> = None;
    for &encoding in offered {
        let mut named = None;
        let mut any = None;
        for item in accept_encoding.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let quality = parts
                .find_map(|parameter| {
                    let (name, value) = parameter.split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("q")
                        .then(|| parse_quality(value.trim()))
                })
                .unwrap_or(Some(1000));
            let Some(quality) = quality else { continue };
            if coding == "*" {
                any = Some(quality);
            } else if coding.eq_ignore_ascii_case(encoding.as_str())
                || (encoding == Encoding::Gzip && coding.eq_ignore_ascii_case("x-gzip"))
            {
                named = Some(named.map_or(quality, |seen: u16| seen.max(quality)));
            }
        }
        let quality = named.or(any).unwrap_or(0);
        if quality > 0 && best.is_none_or(|(_, top)| quality > top) {
            best = Some((encoding, quality));
        }
    }
    best.map(|(encoding, _)| encoding)
}

/// A q-value (`0`, `0.5`, `1.000`) in thousandths; `None` if malformed.
fn parse_quality(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = match whole {
        "0" => format!("{fraction:0<3}").parse::<u16>().ok()?,
        "1" if fraction.bytes().all(|b| b == b'0') => 1000,
        _ => return None,
    };
    Some(thousandths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Encoding::*;

    const ALL: [Encoding; 3] = [Zstd, Brotli, Gzip];

    #[test]
    fn q_values_decide_and_the_routes_order_breaks_ties() {
        assert_eq!(choose("gzip, br, zstd", &ALL), Some(Zstd));
        assert_eq!(choose("gzip, br", &ALL), Some(Brotli));
        assert_eq!(choose("gzip;q=1, br;q=0.5", &ALL), Some(Gzip));
        assert_eq!(choose("zstd;q=0, br;q=0.1, gzip;q=0.2", &ALL), Some(Gzip));
        assert_eq!(choose("GZIP", &ALL), Some(Gzip));
        assert_eq!(choose("x-gzip", &ALL), Some(Gzip));
        assert_eq!(choose("*", &ALL), Some(Zstd));
        assert_eq!(choose("*;q=0.5, zstd;q=0", &ALL), Some(Brotli));
        assert_eq!(choose("identity", &ALL), None);
        assert_eq!(choose("br;q=0", &[Brotli, Gzip]), None);
        assert_eq!(choose("", &ALL), None);
        assert_eq!(
            choose("gzip;q=2, br;q=0.x", &ALL),
            None,
            "malformed q-values"
        );
        assert_eq!(choose("br, gzip", &[Gzip, Brotli]), Some(Gzip));
    }

    #[test]
    fn quality_values_parse_as_rfc_9110_writes_them() {
        assert_eq!(parse_quality("1"), Some(1000));
        assert_eq!(parse_quality("1.000"), Some(1000));
        assert_eq!(parse_quality("0.5"), Some(500));
        assert_eq!(parse_quality("0.05"), Some(50));
        assert_eq!(parse_quality("0"), Some(0));
        assert_eq!(parse_quality("1.5"), None);
        assert_eq!(parse_quality("0.1234"), None);
    }

    fn config() -> CompressionConfig {
        CompressionConfig {
            algorithms: ALL.to_vec(),
            min_bytes: 1024,
        }
    }

    fn request(accept: &str) -> RequestEncodingFacts {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(accept).unwrap(),
        );
        RequestEncodingFacts::of(&Method::GET, &headers)
    }

    fn headers(fields: &[(&str, &str)]) -> HeaderMap {
        fields
            .iter()
            .map(|(name, value)| {
                (
                    header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(value).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn a_chosen_encoding_rewrites_the_headers() {
        let mut response = headers(&[
            ("content-type", "application/json"),
            ("content-length", "5000"),
            ("etag", "\"v1\""),
            ("vary", "origin"),
        ]);
        let chosen =
            negotiate_compression(&config(), &request("br"), StatusCode::OK, &mut response);
        assert_eq!(chosen, Some(Brotli));
        assert_eq!(response["content-encoding"], "br");
        assert!(response.get("content-length").is_none());
        assert_eq!(response["etag"], "W/\"v1\"");
        let vary: Vec<_> = response.get_all("vary").iter().collect();
        assert_eq!(vary, ["origin", "accept-encoding"]);
    }

    #[test]
    fn what_is_never_compressed() {
        let never = |fields: &[(&str, &str)], status: StatusCode| {
            let mut response = headers(fields);
            let before = response.clone();
            let chosen = negotiate_compression(&config(), &request("gzip"), status, &mut response);
            assert_eq!(chosen, None, "{fields:?}");
            assert_eq!(response, before, "headers untouched for {fields:?}");
        };
        let ok = StatusCode::OK;
        never(&[("content-type", "text/event-stream")], ok);
        never(&[("content-type", "image/png")], ok);
        never(&[("content-type", "application/octet-stream")], ok);
        never(&[], ok);
        never(
            &[("content-type", "text/plain"), ("content-encoding", "gzip")],
            ok,
        );
        never(
            &[("content-type", "text/plain"), ("content-length", "1023")],
            ok,
        );
        never(
            &[
                ("content-type", "text/plain"),
                ("cache-control", "public, no-transform"),
            ],
            ok,
        );
        never(
            &[("content-type", "text/plain")],
            StatusCode::PARTIAL_CONTENT,
        );
        never(&[("content-type", "text/plain")], StatusCode::NOT_MODIFIED);
        never(
            &[
                ("content-type", "text/plain"),
                ("content-range", "bytes 0-1/2"),
            ],
            ok,
        );
    }

    #[test]
    fn vary_is_added_even_when_the_client_accepts_nothing() {
        let mut response = headers(&[("content-type", "text/html; charset=utf-8")]);
        let chosen = negotiate_compression(
            &config(),
            &request("identity"),
            StatusCode::OK,
            &mut response,
        );
        assert_eq!(chosen, None);
        assert_eq!(response["vary"], "accept-encoding");
        assert!(response.get("content-encoding").is_none());
        let head = RequestEncodingFacts::of(&Method::HEAD, &HeaderMap::new());
        assert_eq!(
            negotiate_compression(&config(), &head, StatusCode::OK, &mut response),
            None
        );
    }
}
