//! The admin plane's security: who may call the dashboard listener, from which host and origin,
//! and what they may do.
//!
//! - [`guard`]: the middleware every dashboard request passes — the `Host` allow-list (421),
//!   security headers, the Origin/CSRF check for writes (403), authentication by session cookie
//!   or bearer token, and the role each request needs (401/403, or a redirect to `/login`);
//! - [`login`]: the `/login` page and form, `/logout`;
//! - [`sessions`]: server-side sessions; [`throttle`]: brute-force protection;
//! - [`credentials`]: argon2id password hashes, API tokens by SHA-256, random secrets.
//!
//! Without accounts (no `auth.users` or `auth.tokens`) every caller that passes the host and
//! origin checks is the local admin; the config refuses that on a network-reachable address
//! unless `dashboard.allow_unauthenticated` says so. Nothing here runs on the proxy listener.

pub mod credentials;
pub mod guard;
pub mod login;
pub mod sessions;
pub mod throttle;

use crate::server::admin::AppState;
use crate::views::{Role, SessionView};
use credentials::PasswordChecker;
use sessions::Sessions;
use std::time::{Duration, Instant};
use throttle::LoginThrottle;

/// Who is calling the admin plane (kept in the request's extensions by [`guard`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The user or token name; `local` without accounts.
    pub name: String,
    pub role: Role,
    pub via: Via,
}

/// How a caller was recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// A signed-in user's session cookie.
    Session,
    /// `Authorization: Bearer` with a configured token.
    Token,
    /// No accounts are configured: the caller is the local admin.
    Local,
    /// Not signed in (only public pages and files are served so).
    Anonymous,
}

impl Caller {
    /// The caller when the dashboard has no accounts.
    pub fn local() -> Self {
        Self {
            name: "local".into(),
            role: Role::Admin,
            via: Via::Local,
        }
    }

    /// Someone who has not signed in, fetching a public page or file.
    pub fn anonymous() -> Self {
        Self {
            name: String::new(),
            role: Role::Viewer,
            via: Via::Anonymous,
        }
    }

    /// What the pages show of the caller.
    pub fn view(&self, unauthenticated_exposed: bool) -> SessionView {
        let signed_in = matches!(self.via, Via::Session | Via::Token);
        SessionView {
            accounts: self.via != Via::Local,
            name: signed_in.then(|| self.name.clone()),
            role: self.role,
            unauthenticated_exposed,
        }
    }
}

/// The admin plane's security state, shared by the guard, the login handlers and the server
/// functions.
#[derive(Debug, Default)]
pub struct AuthState {
    pub sessions: Sessions,
    pub throttle: LoginThrottle,
    pub passwords: PasswordChecker,
}

/// How often expired sessions and old audit entries are cleared.
const TIDY_EVERY: Duration = Duration::from_secs(3_600);

/// Until shutdown: ends the sessions a reload invalidated (a user removed or changed) as soon as
/// it is applied, clears expired sessions and old audit entries every [`TIDY_EVERY`].
pub async fn keep_tidy(state: AppState) {
    let mut applied = state.gateway.config_applied();
    let mut tidy = tokio::time::interval(TIDY_EVERY);
    let stop = state.gateway.shutdown_token().clone();
    loop {
        let prune_audit = tokio::select! {
            _ = stop.cancelled() => return,
            _ = tidy.tick() => true,
            changed = applied.changed() => {
                if changed.is_err() {
                    return;
                }
                false
            }
        };
        let config = state.gateway.config();
        let ended = state.auth.sessions.prune(&config.auth, Instant::now());
        if ended > 0 {
            tracing::info!(
                ended,
                "sessions ended (expired, or their user was removed or changed)"
            );
        }
        if prune_audit {
            let audit = state.audit.clone();
            let pruned = tokio::task::spawn_blocking(move || audit.prune(chrono::Utc::now())).await;
            if let Ok(Err(error)) = pruned {
                tracing::warn!(%error, "cannot delete old audit entries");
            }
        }
    }
}
