//! TLS to `https://` targets: what a target connects with ([`TargetTls`]: the route's client
//! config, built once per config, and the server name for SNI and verification), and why a TLS
//! exchange failed ([`TlsFailure`]), in words short enough for a 502's body.

use crate::server::config::UpstreamTlsConfig;
use axum::http::uri::Authority;
use rustls::pki_types::ServerName;
use rustls::{AlertDescription, CertificateError};
use std::io;
use tokio_rustls::TlsConnector;

/// How one `https://` target is connected to.
#[derive(Clone)]
pub struct TargetTls {
    pub connector: TlsConnector,
    /// Sent as SNI and checked against the certificate: `upstream_tls.server_name`, or the
    /// target URL's host.
    pub server_name: ServerName<'static>,
}

impl std::fmt::Debug for TargetTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetTls")
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl TargetTls {
    /// TLS for a target at `authority`, with its route's `config`.
    pub fn new(config: &UpstreamTlsConfig, authority: &Authority) -> Self {
        let server_name = config.server_name.clone().unwrap_or_else(|| {
            let host = authority.host();
            let host = host.trim_start_matches('[').trim_end_matches(']');
            ServerName::try_from(host.to_string()).expect("validated target host is a server name")
        });
        Self {
            connector: TlsConnector::from(config.client.clone()),
            server_name,
        }
    }
}

/// Why TLS with an upstream failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsFailure {
    /// Its certificate is not signed by a trusted CA (or not correctly signed at all).
    Untrusted,
    /// Its certificate is for another name.
    WrongName,
    /// Its certificate has expired or is not valid yet.
    Expired,
    /// It asked for a client certificate and the route has none.
    ClientCertificateRequired,
    /// It refused the client certificate.
    ClientCertificateRefused,
    /// Anything else in the handshake or the records (not TLS at all, no common protocol, …).
    Handshake,
}

impl TlsFailure {
    /// The failure a rustls error stands for.
    pub fn of(error: &rustls::Error) -> Self {
        use rustls::Error;
        match error {
            Error::InvalidCertificate(certificate) => match certificate {
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => Self::WrongName,
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => Self::Expired,
                _ => Self::Untrusted,
            },
            Error::AlertReceived(AlertDescription::CertificateRequired) => {
                Self::ClientCertificateRequired
            }
            Error::AlertReceived(
                AlertDescription::BadCertificate
                | AlertDescription::UnknownCA
                | AlertDescription::CertificateUnknown
                | AlertDescription::CertificateExpired
                | AlertDescription::CertificateRevoked
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::AccessDenied,
            ) => Self::ClientCertificateRefused,
            _ => Self::Handshake,
        }
    }

    /// The failure an I/O error on a TLS stream carries, if it carries one.
    pub fn of_io(error: &io::Error) -> Option<Self> {
        error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .map(Self::of)
    }

    /// One line for the client and the target's last error.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Untrusted => "upstream TLS: certificate not trusted",
            Self::WrongName => "upstream TLS: certificate not valid for the server name",
            Self::Expired => "upstream TLS: certificate expired or not yet valid",
            Self::ClientCertificateRequired => "upstream TLS: client certificate required",
            Self::ClientCertificateRefused => "upstream TLS: client certificate refused",
            Self::Handshake => "upstream TLS: handshake failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustls_errors_map_to_short_reasons() {
        let untrusted = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert_eq!(TlsFailure::of(&untrusted), TlsFailure::Untrusted);
        assert_eq!(
            TlsFailure::of(&untrusted).reason(),
            "upstream TLS: certificate not trusted"
        );
        let name = rustls::Error::InvalidCertificate(CertificateError::NotValidForName);
        assert_eq!(TlsFailure::of(&name), TlsFailure::WrongName);
        let required = rustls::Error::AlertReceived(AlertDescription::CertificateRequired);
        assert_eq!(
            TlsFailure::of(&required),
            TlsFailure::ClientCertificateRequired
        );
        let wrapped = io::Error::new(io::ErrorKind::InvalidData, untrusted);
        assert_eq!(TlsFailure::of_io(&wrapped), Some(TlsFailure::Untrusted));
        assert_eq!(TlsFailure::of_io(&io::Error::other("plain")), None);
    }
}
