//! The middleware in front of everything on the dashboard listener, in this order:
//!
//! 1. **Host** (DNS rebinding): the `Host` must be the listen address, a loopback name with the
//!    listen port (`localhost`, `127.0.0.1`, `[::1]`) or one of `auth.allowed_hosts`; else 421 on
//!    every path, reads included.
//! 2. **Who**: a session cookie (`gatewatch_session`) or `Authorization: Bearer <token>`; without
//!    accounts, everyone is the local admin.
//! 3. **Origin** (CSRF): a request that is not GET/HEAD/OPTIONS — and the `/api/live` upgrade —
//!    must come from the dashboard's own origin or one of `auth.allowed_origins`; without an
//!    `Origin`, `Sec-Fetch-Site` must be `same-origin` or `none`. A write with neither is refused,
//!    unless it carries a valid bearer token (which no browser adds to a cross-site request).
//! 4. **Access**: without a caller, pages redirect to `/login?next=…` and `/api/*` and `/metrics`
//!    answer 401 with `WWW-Authenticate: Bearer`; the sign-in page and the site's static files
//!    are public. Reads need `viewer`; everything else (config check, apply, rollback and every
//!    later write) needs `admin` — a write is admin-only unless it is listed as a read here.
//!
//! Every response gets the security headers: a CSP allowing only the dashboard itself (scripts
//! by a per-response nonce, plus `'wasm-unsafe-eval'` for the client), `frame-ancestors 'none'`,
//! `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin`.

use super::credentials::{find_token, hex, random_bytes};
use super::sessions::COOKIE;
use super::{Caller, Via};
use crate::api::SERVER_FN_PREFIX;
use crate::live_feed::LIVE_SOCKET_PATH;
use crate::server::admin::AppState;
use crate::server::config::Config;
use crate::views::Role;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::time::Instant;

/// Server functions that only read (POST is how server functions are called): a viewer may call
/// them. Every other server function is admin-only.
pub const READ_SERVER_FNS: &[&str] = &[
    "alerts",
    "alerts/history",
    "config",
    "config/version",
    "logs",
    "overview",
    "requests",
    "request",
    "status",
    "stats",
    "routes",
    "models",
    "session",
];

/// Reads only an admin may make (`GET`).
pub const ADMIN_READS: &[&str] = &["/api/audit"];

/// The per-response CSP nonce, kept in the request's extensions for the page renderer.
#[derive(Clone, Debug)]
pub struct CspNonce(pub String);

/// The middleware (see the module docs).
pub async fn guard(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = hex(&random_bytes::<16>());
    let config = state.gateway.config();
    let bound = state.gateway.listening().dashboard;
    let admitted = admit(
        &state,
        &config,
        bound,
        request.headers(),
        request.method(),
        request.uri(),
    );
    let mut response = match admitted {
        Ok(caller) => {
            let extensions = request.extensions_mut();
            extensions.insert(caller);
            extensions.insert(CspNonce(nonce.clone()));
            extensions.insert(ClientAddr(peer));
            next.run(request).await
        }
        Err(refusal) => refusal.into_response(),
    };
    add_security_headers(response.headers_mut(), &nonce);
    response
}

/// The client's address (for the audit log and the sign-in throttle).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub SocketAddr);

/// The caller, or the response that refuses the request.
fn admit(
    state: &AppState,
    config: &Config,
    bound: SocketAddr,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
) -> Result<Caller, Refusal> {
    let path = uri.path();
    // HTTP/2 (which browsers speak over HTTPS) names the host in `:authority`, not `Host`.
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| uri.authority().map(|authority| authority.as_str()))
        .unwrap_or("");
    if !host_allowed(host, bound, &config.auth.allowed_hosts) {
        return Err(refuse(
            StatusCode::MISDIRECTED_REQUEST,
            &format!(
                "this dashboard does not answer for host {host:?}; add it to auth.allowed_hosts"
            ),
        ));
    }
    let caller = authenticate(state, config, headers);
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe || path == LIVE_SOCKET_PATH {
        let by_token = caller
            .as_ref()
            .is_some_and(|caller| caller.via == Via::Token);
        let scheme = if state.gateway.listening().dashboard_tls {
            "https"
        } else {
            "http"
        };
        check_origin(
            headers,
            (scheme, host),
            &config.auth.allowed_origins,
            safe || by_token,
        )?;
    }
    match caller {
        Some(caller) if caller.role >= required_role(method, path) => Ok(caller),
        Some(caller) => Err(refuse(
            StatusCode::FORBIDDEN,
            &format!(
                "{} has the {} role; this needs admin",
                caller.name,
                caller.role.as_str()
            ),
        )),
        // The sign-in page and the site's files are public.
        None if is_public(method, path) => Ok(Caller::anonymous()),
        None if is_api(path) => Err(unauthorized()),
        None => Err(to_login(uri)),
    }
}

/// Who the request comes from: `Some(local admin)` without accounts, else the session's user or
/// the token's name, or `None`.
fn authenticate(state: &AppState, config: &Config, headers: &HeaderMap) -> Option<Caller> {
    let auth = &config.auth;
    if !auth.has_accounts() {
        return Some(Caller::local());
    }
    if let Some(cookie) = session_cookie(headers)
        && let Some(user) = state.auth.sessions.find(cookie, auth, Instant::now())
    {
        return Some(Caller {
            name: user.name,
            role: user.role,
            via: Via::Session,
        });
    }
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .trim();
    find_token(&auth.tokens, token).map(|token| Caller {
        name: token.name.clone(),
        role: token.role,
        via: Via::Token,
    })
}

/// The value of the session cookie, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE && !value.is_empty()).then_some(value)
        })
}

/// Whether `host` (a `Host` header) names this dashboard.
pub fn host_allowed(host: &str, bound: SocketAddr, allowed: &[String]) -> bool {
    let host = host.trim().to_ascii_lowercase();
    if host.is_empty() {
        return false;
    }
    let port = bound.port();
    let with_port = |name: &str| host == format!("{name}:{port}") || (port == 80 && host == name);
    let listen_ip = match bound {
        SocketAddr::V4(v4) => v4.ip().to_string(),
        SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
    };
    if (!bound.ip().is_unspecified() && with_port(&listen_ip))
        || ["localhost", "127.0.0.1", "[::1]"]
            .into_iter()
            .any(with_port)
    {
        return true;
    }
    let name_only = host_without_port(&host);
    allowed
        .iter()
        .any(|entry| *entry == host || (!entry_has_port(entry) && entry == name_only))
}

fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        host.split(':').next().unwrap_or(host)
    }
}

fn entry_has_port(entry: &str) -> bool {
    host_without_port(entry).len() != entry.len()
}

/// Refuses a cross-site request (see the module docs); `lenient`: a request with neither
/// `Origin` nor `Sec-Fetch-Site` passes (reads such as the live socket's upgrade, and
/// token-authenticated writes). The dashboard's own origin is `scheme://host`.
fn check_origin(
    headers: &HeaderMap,
    (scheme, host): (&str, &str),
    allowed: &[String],
    lenient: bool,
) -> Result<(), Refusal> {
    let header_text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    match (header_text("origin"), header_text("sec-fetch-site")) {
        (Some(origin), _) => {
            let origin = origin.trim().to_ascii_lowercase();
            let own = format!("{scheme}://{}", host.trim().to_ascii_lowercase());
            if origin == own || allowed.contains(&origin) {
                Ok(())
            } else {
                Err(refuse(
                    StatusCode::FORBIDDEN,
                    &format!(
                        "cross-origin request refused (Origin {origin}); add the origin to auth.allowed_origins if it is yours"
                    ),
                ))
            }
        }
        (None, Some("same-origin" | "none")) => Ok(()),
        (None, Some(site)) => Err(refuse(
            StatusCode::FORBIDDEN,
            &format!("cross-site request refused (Sec-Fetch-Site: {site})"),
        )),
        (None, None) if lenient => Ok(()),
        (None, None) => Err(refuse(
            StatusCode::FORBIDDEN,
            "a write needs an Origin header from this dashboard (or a bearer token)",
        )),
    }
}

/// The role a request needs.
pub fn required_role(method: &Method, path: &str) -> Role {
    if ADMIN_READS.contains(&path) {
        return Role::Admin;
    }
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || path == "/login"
        || path == "/logout"
    {
        return Role::Viewer;
    }
    let read_fn = path
        .strip_prefix(SERVER_FN_PREFIX)
        .and_then(|name| name.strip_prefix('/'))
        .is_some_and(|name| READ_SERVER_FNS.contains(&name));
    if *method == Method::POST && read_fn {
        Role::Viewer
    } else {
        Role::Admin
    }
}

/// What anyone may fetch without signing in: the sign-in page and the site's static files.
fn is_public(method: &Method, path: &str) -> bool {
    let read = matches!(*method, Method::GET | Method::HEAD);
    path == "/login"
        || (read
            && (path.starts_with("/pkg/")
                || matches!(
                    path,
                    "/favicon.svg" | "/theme-init.js" | "/wasm-fetch.js" | "/favicon.ico"
                )))
}

/// Whether a caller without credentials gets a 401 rather than the sign-in page.
fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path == "/metrics"
}

fn unauthorized() -> Refusal {
    Refusal::Unauthorized
}

/// A redirect to the sign-in page that comes back to this page afterwards.
fn to_login(uri: &Uri) -> Refusal {
    let page = uri.path_and_query().map_or("/", |page| page.as_str());
    Refusal::ToLogin(format!("/login?next={}", form_urlencoded_component(page)))
}

/// `text` percent-encoded for a query value.
fn form_urlencoded_component(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                encoded.push(char::from(byte));
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

/// Why a request is not served.
#[derive(Debug)]
enum Refusal {
    /// A short `text/plain` answer with this status.
    Plain(StatusCode, String),
    /// 401 with `WWW-Authenticate: Bearer`.
    Unauthorized,
    /// To the sign-in page (the value of `Location`).
    ToLogin(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Plain(status, reason) => (
                status,
                [(header::CACHE_CONTROL, "no-store")],
                format!("{reason}\n"),
            )
                .into_response(),
            Self::Unauthorized => {
                let mut response = Self::Plain(
                    StatusCode::UNAUTHORIZED,
                    "sign in or send Authorization: Bearer <token>".into(),
                )
                .into_response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"gatewatch\""),
                );
                response
            }
            Self::ToLogin(location) => {
                let mut response = StatusCode::SEE_OTHER.into_response();
                if let Ok(location) = HeaderValue::from_str(&location) {
                    response.headers_mut().insert(header::LOCATION, location);
                }
                response
            }
        }
    }
}

/// A short `text/plain` refusal.
fn refuse(status: StatusCode, reason: &str) -> Refusal {
    Refusal::Plain(status, reason.to_string())
}

/// The security headers every dashboard response carries.
fn add_security_headers(headers: &mut HeaderMap, nonce: &str) {
    let csp = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'nonce-{nonce}'; img-src 'self' data:; connect-src 'self'; \
         font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    );
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn hosts_are_the_listen_address_loopback_names_or_allowed_ones() {
        let bound = addr("127.0.0.1:3000");
        for host in [
            "127.0.0.1:3000",
            "localhost:3000",
            "LOCALHOST:3000",
            "[::1]:3000",
        ] {
            assert!(host_allowed(host, bound, &[]), "{host}");
        }
        for host in [
            "evil.example:3000",
            "localhost:3001",
            "localhost",
            "",
            "127.0.0.1",
        ] {
            assert!(!host_allowed(host, bound, &[]), "{host}");
        }
        let allowed = [
            "gw.example.com".to_string(),
            "ops.example.com:8443".to_string(),
        ];
        assert!(host_allowed("gw.example.com", bound, &allowed));
        assert!(host_allowed("gw.example.com:3000", bound, &allowed));
        assert!(host_allowed("ops.example.com:8443", bound, &allowed));
        assert!(!host_allowed("ops.example.com", bound, &allowed));
        // An unspecified listen address is no host name.
        assert!(!host_allowed("0.0.0.0:3000", addr("0.0.0.0:3000"), &[]));
        assert!(host_allowed("10.0.0.5:3000", addr("10.0.0.5:3000"), &[]));
        assert!(host_allowed("[::1]:3000", addr("[::1]:3000"), &[]));
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn writes_need_the_dashboards_origin() {
        let host = "127.0.0.1:3000";
        let ok = |pairs: &[(&'static str, &str)], lenient| {
            check_origin(
                &headers(pairs),
                ("http", host),
                &["https://gw.example.com".into()],
                lenient,
            )
            .is_ok()
        };
        assert!(ok(&[("origin", "http://127.0.0.1:3000")], false));
        assert!(ok(&[("origin", "https://gw.example.com")], false));
        assert!(!ok(&[("origin", "http://evil.example")], false));
        assert!(
            !ok(&[("origin", "http://evil.example")], true),
            "a foreign origin never passes"
        );
        assert!(!ok(&[("origin", "null")], false));
        let over_https = |origin: &str| {
            check_origin(&headers(&[("origin", origin)]), ("https", host), &[], false).is_ok()
        };
        assert!(over_https("https://127.0.0.1:3000"));
        assert!(!over_https("http://127.0.0.1:3000"));
        assert!(ok(&[("sec-fetch-site", "same-origin")], false));
        assert!(ok(&[("sec-fetch-site", "none")], false));
        assert!(!ok(&[("sec-fetch-site", "cross-site")], false));
        assert!(!ok(&[], false), "a write with neither header");
        assert!(ok(&[], true));
    }

    #[test]
    fn writes_are_admin_only_unless_listed_as_reads() {
        assert_eq!(required_role(&Method::GET, "/config"), Role::Viewer);
        assert_eq!(
            required_role(&Method::POST, "/api/fn/overview"),
            Role::Viewer
        );
        assert_eq!(required_role(&Method::POST, "/api/fn/config"), Role::Viewer);
        assert_eq!(
            required_role(&Method::POST, "/api/fn/config/apply"),
            Role::Admin
        );
        assert_eq!(
            required_role(&Method::POST, "/api/fn/config/check"),
            Role::Admin
        );
        assert_eq!(
            required_role(&Method::POST, "/api/fn/config/rollback"),
            Role::Admin
        );
        assert_eq!(
            required_role(&Method::POST, "/api/fn/something-new"),
            Role::Admin
        );
        assert_eq!(required_role(&Method::PUT, "/api/config"), Role::Admin);
        assert_eq!(
            required_role(&Method::DELETE, "/api/fn/overview"),
            Role::Admin
        );
        assert_eq!(required_role(&Method::GET, "/api/audit"), Role::Admin);
        assert_eq!(required_role(&Method::POST, "/api/fn/audit"), Role::Admin);
    }

    #[test]
    fn every_server_function_is_a_read_or_admin_only_on_purpose() {
        // Admin-only; a new server function must be added to one list or the other.
        const ADMIN_SERVER_FNS: &[&str] = &[
            "config/check",
            "config/apply",
            "config/rollback",
            "audit",
            "alerts/silence",
            "alerts/unsilence",
        ];
        for (path, _) in leptos::server_fn::axum::server_fn_paths() {
            let name = path
                .strip_prefix(SERVER_FN_PREFIX)
                .and_then(|name| name.strip_prefix('/'))
                .unwrap_or(path);
            assert!(
                READ_SERVER_FNS.contains(&name) != ADMIN_SERVER_FNS.contains(&name),
                "server function {path} must be in exactly one of the lists"
            );
        }
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let map = headers(&[("cookie", "theme=dark; gatewatch_session=abc123; x=y")]);
        assert_eq!(session_cookie(&map), Some("abc123"));
        assert_eq!(
            session_cookie(&headers(&[("cookie", "gatewatch_session=")])),
            None
        );
        assert_eq!(session_cookie(&HeaderMap::new()), None);
    }

    #[test]
    fn the_next_page_is_encoded_into_the_login_link() {
        let response =
            to_login(&"/requests?status=5xx&route=a%20b".parse().unwrap()).into_response();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers()[header::LOCATION],
            "/login?next=/requests%3Fstatus%3D5xx%26route%3Da%2520b"
        );
    }
}
