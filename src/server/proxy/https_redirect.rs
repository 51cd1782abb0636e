//! `tls.redirect_http`: a request on the plain listener is answered with `308 Permanent
//! Redirect` to the same host, path and query over HTTPS (308, not 301: the method and body are
//! kept). The port is the HTTPS listener's, left out when it is 443.

use super::body::ResponseBody;
use super::headers::X_REQUEST_ID;
use axum::http::header::{self, HeaderValue};
use axum::http::{Request, Response, StatusCode};
use bytes::Bytes;

/// The answer to `request` on the plain listener when HTTPS is on `https_port`.
pub fn answer<B>(
    request: &Request<B>,
    https_port: u16,
    request_id: &HeaderValue,
) -> Response<ResponseBody> {
    let (status, body, location) = match location(request, https_port) {
        Some(location) => (
            StatusCode::PERMANENT_REDIRECT,
            format!(
                "308 Permanent Redirect: {}\n",
                location.to_str().unwrap_or("")
            ),
            Some(location),
        ),
        None => (
            StatusCode::BAD_REQUEST,
            "400 Bad Request: a redirect to HTTPS needs a Host header\n".to_string(),
            None,
        ),
    };
    let mut response = Response::new(ResponseBody::Full(Some(Bytes::from(body))));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Some(location) = location {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(X_REQUEST_ID.clone(), request_id.clone());
    response
}

/// `https://host[:port]/path?query` for `request`; `None` without a usable host.
pub fn location<B>(request: &Request<B>, https_port: u16) -> Option<HeaderValue> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.as_str())
        })?
        .trim();
    let name = host_name(host)?;
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |path| path.as_str());
    let location = if https_port == 443 {
        format!("https://{name}{path}")
    } else {
        format!("https://{name}:{https_port}{path}")
    };
    HeaderValue::from_str(&location).ok()
}

/// The host without its port (`[::1]:80` → `[::1]`); `None` when empty or not a host.
fn host_name(host: &str) -> Option<&str> {
    let name = if host.starts_with('[') {
        &host[..=host.find(']')?]
    } else {
        host.split(':').next()?
    };
    let plausible = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b));
    plausible.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location_of(host: Option<&str>, uri: &str, port: u16) -> Option<String> {
        let mut request = Request::builder().uri(uri);
        if let Some(host) = host {
            request = request.header("host", host);
        }
        location(&request.body(()).unwrap(), port).map(|value| value.to_str().unwrap().to_string())
    }

    #[test]
    fn the_redirect_keeps_host_path_and_query_on_the_https_port() {
        assert_eq!(
            location_of(Some("example.com:8080"), "/a/b?x=1&y=2", 8443).as_deref(),
            Some("https://example.com:8443/a/b?x=1&y=2")
        );
        assert_eq!(
            location_of(Some("Example.com"), "/", 443).as_deref(),
            Some("https://Example.com/")
        );
        assert_eq!(
            location_of(Some("[::1]:8080"), "/x", 8443).as_deref(),
            Some("https://[::1]:8443/x")
        );
        assert_eq!(
            location_of(None, "http://h.test:80/p?q", 443).as_deref(),
            Some("https://h.test/p?q")
        );
    }

    #[test]
    fn no_usable_host_is_a_bad_request() {
        assert_eq!(location_of(None, "/x", 443), None);
        assert_eq!(location_of(Some("a b"), "/x", 443), None);
        assert_eq!(location_of(Some("evil/x"), "/x", 443), None);
        let request = Request::builder().uri("/x").body(()).unwrap();
        let response = answer(&request, 443, &HeaderValue::from_static("id"));
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let request = Request::builder()
            .uri("/x")
            .header("host", "a.test")
            .body(())
            .unwrap();
        let response = answer(&request, 8443, &HeaderValue::from_static("id"));
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(response.headers()["location"], "https://a.test:8443/x");
    }
}
