//! Signing in and out: `GET /login` (a server-rendered form that works with or without
//! JavaScript), `POST /login` (throttled; the same answer for an unknown user and a wrong
//! password; argon2 verification off the async runtime) and `POST /logout`. Every attempt is
//! written to the audit log.

use super::Caller;
use super::guard::{ClientAddr, CspNonce, session_cookie};
use super::sessions::COOKIE;
use crate::server::admin::AppState;
use crate::server::admin::audit::NewEntry;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Router, routing::get};
use serde::Deserialize;
use std::time::Instant;

/// The sign-in routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(page).post(sign_in))
        .route("/logout", axum::routing::post(sign_out))
}

/// `?next=…` of the sign-in page.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    next: Option<String>,
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct SignIn {
    name: String,
    password: String,
    next: Option<String>,
}

/// `GET /login`.
async fn page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    Query(query): Query<PageQuery>,
) -> Response {
    if !state.gateway.config().auth.has_accounts() {
        return redirect("/", None);
    }
    login_page(StatusCode::OK, &nonce, query.next.as_deref(), "", None)
}

/// `POST /login`.
async fn sign_in(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    Form(form): Form<SignIn>,
) -> Response {
    let config = state.gateway.config();
    let auth = &config.auth;
    if !auth.has_accounts() {
        return redirect("/", None);
    }
    let next = form.next.as_deref();
    let name = form.name.trim();
    if let Err(wait) = state.auth.throttle.check(client.ip(), name, Instant::now()) {
        audit(&state, name, None, client, "login", "throttled", Vec::new()).await;
        let seconds = wait.as_secs().max(1);
        let mut response = login_page(
            StatusCode::TOO_MANY_REQUESTS,
            &nonce,
            next,
            name,
            Some(&format!(
                "Too many failed sign-ins. Try again in {seconds} s."
            )),
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_str(&seconds.to_string()).unwrap_or(HeaderValue::from_static("60")),
        );
        return response;
    }
    let user = auth.user(name).cloned();
    let verified = state
        .auth
        .passwords
        .verify(
            user.as_ref().map(|user| user.password_hash.clone()),
            form.password,
        )
        .await;
    match user.filter(|_| verified) {
        Some(user) => {
            let id = state
                .auth
                .sessions
                .create(&user, auth.session_ttl, Instant::now());
            audit(
                &state,
                &user.name,
                Some(user.role),
                client,
                "login",
                "ok",
                Vec::new(),
            )
            .await;
            let cookie = format!(
                "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
                auth.session_ttl.as_secs(),
                secure(&state)
            );
            redirect(&local_path(next), Some(&cookie))
        }
        None => {
            state
                .auth
                .throttle
                .failed(client.ip(), name, Instant::now());
            audit(&state, name, None, client, "login", "failed", Vec::new()).await;
            login_page(
                StatusCode::UNAUTHORIZED,
                &nonce,
                next,
                name,
                Some("Wrong user name or password."),
            )
        }
    }
}

/// `; Secure` when the dashboard speaks HTTPS (`dashboard.tls`): the browser then never sends
/// the session cookie over plain HTTP.
fn secure(state: &AppState) -> &'static str {
    if state.gateway.listening().dashboard_tls {
        "; Secure"
    } else {
        ""
    }
}

/// `POST /logout`.
async fn sign_out(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    headers: HeaderMap,
) -> Response {
    if let Some(cookie) = session_cookie(&headers)
        && let Some(user) = state.auth.sessions.end(cookie)
    {
        audit(
            &state,
            &user.name,
            Some(user.role),
            client,
            "logout",
            "ok",
            Vec::new(),
        )
        .await;
    } else if !caller.name.is_empty() {
        audit(
            &state,
            &caller.name,
            Some(caller.role),
            client,
            "logout",
            "ok",
            Vec::new(),
        )
        .await;
    }
    let expired = format!(
        "{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        secure(&state)
    );
    redirect("/login", Some(&expired))
}

/// Writes a sign-in or sign-out entry (a failure to store it is logged; signing in goes on).
async fn audit(
    state: &AppState,
    actor: &str,
    role: Option<crate::views::Role>,
    client: std::net::SocketAddr,
    action: &str,
    outcome: &str,
    summary: Vec<String>,
) {
    let entry = NewEntry {
        actor: actor.chars().take(64).collect(),
        role,
        client: client.ip().to_string(),
        action: action.into(),
        outcome: outcome.into(),
        summary,
        ..NewEntry::default()
    };
    let log = state.audit.clone();
    let stored = tokio::task::spawn_blocking(move || log.record(&entry)).await;
    if let Ok(Err(error)) | Err(error) = stored.map_err(|e| e.to_string()) {
        tracing::error!(%error, action, "cannot write the audit log");
    }
}

/// `next` if it is a path on this dashboard (never another site: no scheme, no `//`), else `/`.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(|c| c.is_control() || c == '\\')
                && !path.starts_with("/login") =>
        {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

fn redirect(location: &str, cookie: Option<&str>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, location);
    }
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The sign-in page.
fn login_page(
    status: StatusCode,
    nonce: &CspNonce,
    next: Option<&str>,
    name: &str,
    error: Option<&str>,
) -> Response {
    let _ = nonce;
    let next = escape(&local_path(next));
    let name = escape(name);
    let error = error.map_or(String::new(), |error| {
        format!(
            r#"<p class="login-error" role="alert" data-testid="login-error">{}</p>"#,
            escape(error)
        )
    });
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Sign in · Gatewatch</title>
<link rel="icon" type="image/svg+xml" href="/favicon.svg">
<script src="/theme-init.js"></script>
<link rel="stylesheet" href="/pkg/gatewatch.css">
</head>
<body>
<main class="login">
<form class="login-form card" method="post" action="/login" data-testid="login-form">
<h1>Gatewatch</h1>
<p class="muted">Sign in to the dashboard.</p>
{error}
<label>User name <input name="name" autocomplete="username" required autofocus value="{name}" data-testid="login-name"></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required data-testid="login-password"></label>
<input type="hidden" name="next" value="{next}">
<button type="submit" class="button primary" data-testid="login-submit">Sign in</button>
</form>
</main>
</body>
</html>
"#
    );
    let mut response = (status, Html(html)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `text` safe inside HTML text and double-quoted attributes.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_a_local_path_only() {
        assert_eq!(
            local_path(Some("/requests?status=5xx")),
            "/requests?status=5xx"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "evil",
            "/login?next=/x",
            "",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn the_page_escapes_what_it_echoes() {
        let response = login_page(
            StatusCode::UNAUTHORIZED,
            &CspNonce("n".into()),
            Some("/x\"><script>"),
            "<b>alice</b>",
            Some("Wrong user name or password."),
        );
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}
