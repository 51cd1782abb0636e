//! TLS termination: the proxy's HTTPS listener (`tls`) and the dashboard over HTTPS
//! (`dashboard.tls`).
//!
//! - [`certificates`]: PEM pairs loaded, checked and described (names, issuer, expiry);
//! - [`resolver`]: SNI — which certificate a handshake gets, from a lock-free snapshot;
//! - [`acceptor`]: the bounded handshake with ALPN, and failures counted by kind;
//! - [`dashboard_listener`]: the dashboard's HTTPS listener for `axum::serve`;
//! - [`reload`]: certificate files watched, a change reloaded like a config change.
//!
//! [`TlsTermination`] holds the gateway's terminators; a config put in force hands them its
//! certificates ([`TlsTermination::apply`]).

pub mod acceptor;
pub mod certificates;
pub mod dashboard_listener;
pub mod reload;
pub mod resolver;

use crate::server::config::Config;
use crate::views::CertificateView;
use acceptor::{HandshakeErrors, Terminator};
use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex, PoisonError};

/// The gateway's TLS listeners' terminators, whichever are configured at start (adding or
/// removing `tls` or `dashboard.tls` takes a restart; their certificates reload live).
pub struct TlsTermination {
    /// The proxy's HTTPS listener (`tls`).
    pub proxy: Option<Arc<Terminator>>,
    /// The dashboard's (`dashboard.tls`).
    pub dashboard: Option<Arc<Terminator>>,
    /// Failed handshakes of both, by kind.
    pub handshake_errors: Arc<HandshakeErrors>,
    /// The TLS errors of the last rejected reload, until a config is applied.
    rejected: Mutex<Vec<String>>,
}

impl TlsTermination {
    /// The terminators `config` asks for.
    pub fn start(config: &Config) -> Self {
        let handshake_errors = Arc::new(HandshakeErrors::default());
        let terminator = |serving| Arc::new(Terminator::new(serving, handshake_errors.clone()));
        Self {
            proxy: config.tls.as_ref().map(|tls| terminator(&tls.serving)),
            dashboard: config.dashboard.tls.as_ref().map(terminator),
            handshake_errors: handshake_errors.clone(),
            rejected: Mutex::default(),
        }
    }

    /// Puts `config`'s certificates in force for new handshakes.
    pub fn apply(&self, config: &Config) {
        if let (Some(terminator), Some(tls)) = (&self.proxy, &config.tls) {
            terminator.apply(&tls.serving);
        }
        if let (Some(terminator), Some(serving)) = (&self.dashboard, &config.dashboard.tls) {
            terminator.apply(serving);
        }
        self.rejected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Keeps the TLS lines among a rejected config's `errors`, for health to report until the
    /// next config is applied.
    pub fn note_rejected(&self, errors: &[String]) {
        let tls: Vec<String> = errors
            .iter()
            .filter(|line| line.starts_with("tls") || line.starts_with("dashboard.tls"))
            .cloned()
            .collect();
        *self.rejected.lock().unwrap_or_else(PoisonError::into_inner) = tls;
    }

    /// Every certificate served, the proxy's first.
    pub fn certificates(&self, now: DateTime<Utc>) -> Vec<CertificateView> {
        [("proxy", &self.proxy), ("dashboard", &self.dashboard)]
            .into_iter()
            .filter_map(|(listener, terminator)| Some((listener, terminator.as_ref()?)))
            .flat_map(|(listener, terminator)| {
                let set = terminator.certificates();
                set.entries()
                    .iter()
                    .map(|entry| CertificateView {
                        listener: listener.to_string(),
                        cert_path: entry.cert_path.display().to_string(),
                        names: entry.info.names.clone(),
                        issuer: entry.info.issuer.clone(),
                        not_after: entry.info.not_after,
                        days_left: entry.info.days_left(now),
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// What health reports: a rejected certificate change, expired certificates.
    pub fn problems(&self, now: DateTime<Utc>) -> Vec<String> {
        let mut problems: Vec<String> = self
            .rejected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|line| format!("tls: rejected, the previous certificate keeps serving: {line}"))
            .collect();
        for certificate in self.certificates(now) {
            if certificate.days_left < 0 {
                problems.push(format!(
                    "tls: the {} certificate for {} has expired",
                    certificate.listener,
                    certificate
                        .names
                        .first()
                        .map_or("(no name)", String::as_str)
                ));
            }
        }
        problems
    }
}
