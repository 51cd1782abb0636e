//! The certificates the gateway's TLS listeners serve, as the dashboard and `/api/health` show
//! them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Days before expiry from which a certificate is shown as expiring soon (amber).
pub const EXPIRING_SOON_DAYS: i64 = 14;

/// One certificate a TLS listener serves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateView {
    /// `proxy` (`tls`) or `dashboard` (`dashboard.tls`).
    pub listener: String,
    /// The chain's PEM file.
    pub cert_path: String,
    /// The names it is valid for (subject alternative names, or its common name).
    pub names: Vec<String>,
    /// The issuer's distinguished name.
    pub issuer: String,
    /// When it expires.
    pub not_after: DateTime<Utc>,
    /// Whole days left when the view was made; negative once expired.
    pub days_left: i64,
}

/// How urgent a certificate's expiry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    Ok,
    /// Expires within [`EXPIRING_SOON_DAYS`].
    Soon,
    Expired,
}

impl CertificateView {
    /// How urgent its expiry is.
    pub fn expiry(&self) -> Expiry {
        if self.days_left < 0 {
            Expiry::Expired
        } else if self.days_left < EXPIRING_SOON_DAYS {
            Expiry::Soon
        } else {
            Expiry::Ok
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_amber_two_weeks_ahead_and_red_once_past() {
        let view = |days_left| CertificateView {
            listener: "proxy".into(),
            cert_path: "a.pem".into(),
            names: vec!["a.test".into()],
            issuer: "CN=ca".into(),
            not_after: Utc::now(),
            days_left,
        };
        assert_eq!(view(30).expiry(), Expiry::Ok);
        assert_eq!(view(14).expiry(), Expiry::Ok);
        assert_eq!(view(13).expiry(), Expiry::Soon);
        assert_eq!(view(0).expiry(), Expiry::Soon);
        assert_eq!(view(-1).expiry(), Expiry::Expired);
    }
}
