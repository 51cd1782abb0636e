//! The TLS handshake of one listener ([`Terminator`]): rustls on the ring provider, TLS 1.2 or
//! 1.3 from the configured minimum, ALPN `h2` and `http/1.1`, the certificate chosen by SNI.
//!
//! A handshake is bounded by [`HANDSHAKE_TIMEOUT`] and runs on the task of its own connection,
//! so a client that sends garbage or stalls costs that one task until then and nothing else.
//! Failures are counted by kind ([`HandshakeErrors`], exported on `/metrics`) and logged only
//! at debug level: a port open to the internet sees scanners all day.

use super::certificates::CertificateSet;
use super::resolver::SniResolver;
use crate::server::config::{TlsServing, TlsVersion};
use arc_swap::ArcSwap;
use rustls::ServerConfig;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Longest a client may take to complete the handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The protocols offered by ALPN, preferred first.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The TLS side of one listener: its certificates and settings, swapped on reload.
pub struct Terminator {
    resolver: Arc<SniResolver>,
    config: ArcSwap<ServerConfig>,
    errors: Arc<HandshakeErrors>,
    timeout: Duration,
}

impl Terminator {
    /// A terminator serving `serving`, counting failed handshakes in `errors`.
    pub fn new(serving: &TlsServing, errors: Arc<HandshakeErrors>) -> Self {
        let resolver = Arc::new(SniResolver::new(serving.certificates.clone()));
        let config = server_config(&resolver, serving.min_version);
        Self {
            resolver,
            config: ArcSwap::from_pointee(config),
            errors,
            timeout: HANDSHAKE_TIMEOUT,
        }
    }

    /// The same with another handshake bound (tests).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Serves `serving` to new handshakes; open connections keep what they negotiated.
    pub fn apply(&self, serving: &TlsServing) {
        self.resolver.replace(serving.certificates.clone());
        self.config
            .store(Arc::new(server_config(&self.resolver, serving.min_version)));
    }

    /// The certificates in force.
    pub fn certificates(&self) -> Arc<CertificateSet> {
        self.resolver.current()
    }

    /// The handshake on `stream`, within the bound; a failure is counted and logged at debug.
    pub async fn accept<S>(&self, stream: S) -> Result<TlsStream<S>, HandshakeFailure>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let acceptor = TlsAcceptor::from(self.config.load_full());
        let failure = match tokio::time::timeout(self.timeout, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(error)) => {
                let kind = HandshakeFailure::of(&error);
                tracing::debug!(%error, kind = kind.as_str(), "TLS handshake failed");
                kind
            }
            Err(_) => {
                tracing::debug!("TLS handshake timed out");
                HandshakeFailure::Timeout
            }
        };
        self.errors.count(failure);
        Err(failure)
    }
}

/// rustls's settings for a listener.
fn server_config(resolver: &Arc<SniResolver>, min_version: TlsVersion) -> ServerConfig {
    let versions: &[&'static rustls::SupportedProtocolVersion] = match min_version {
        TlsVersion::V1_2 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::V1_3 => &[&rustls::version::TLS13],
    };
    let mut config = ServerConfig::builder_with_provider(crate::server::config::crypto_provider())
        .with_protocol_versions(versions)
        .expect("the ring provider supports TLS 1.2 and 1.3")
        .with_no_client_auth()
        .with_cert_resolver(resolver.clone());
    config.alpn_protocols = ALPN.iter().map(|protocol| protocol.to_vec()).collect();
    config
}

/// Why a handshake failed: the label of `gatewatch_tls_handshake_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeFailure {
    /// Not finished within the bound.
    Timeout,
    /// Not TLS, or TLS broken off mid-message (plain HTTP on the TLS port, scanners).
    Protocol,
    /// No protocol version, cipher suite or ALPN protocol in common.
    Incompatible,
    /// The client refused the certificate (an unknown CA, a wrong name, expired).
    CertificateRejected,
    /// The client sent another alert.
    Alert,
    /// The connection closed or was reset during the handshake.
    Closed,
    /// Anything else.
    Other,
}

impl HandshakeFailure {
    /// Every kind, in label order.
    pub const ALL: [Self; 7] = [
        Self::Timeout,
        Self::Protocol,
        Self::Incompatible,
        Self::CertificateRejected,
        Self::Alert,
        Self::Closed,
        Self::Other,
    ];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Protocol => "protocol",
            Self::Incompatible => "incompatible",
            Self::CertificateRejected => "certificate_rejected",
            Self::Alert => "alert",
            Self::Closed => "closed",
            Self::Other => "other",
        }
    }

    /// The kind of a failed handshake's error.
    pub fn of(error: &io::Error) -> Self {
        use rustls::AlertDescription as A;
        let tls = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        match tls {
            Some(
                rustls::Error::InvalidMessage(_)
                | rustls::Error::InappropriateMessage { .. }
                | rustls::Error::InappropriateHandshakeMessage { .. }
                | rustls::Error::PeerMisbehaved(_)
                | rustls::Error::PeerSentOversizedRecord
                | rustls::Error::DecryptError,
            ) => Self::Protocol,
            Some(rustls::Error::PeerIncompatible(_) | rustls::Error::NoApplicationProtocol) => {
                Self::Incompatible
            }
            Some(rustls::Error::AlertReceived(
                A::BadCertificate
                | A::UnsupportedCertificate
                | A::CertificateRevoked
                | A::CertificateExpired
                | A::CertificateUnknown
                | A::UnknownCA,
            )) => Self::CertificateRejected,
            Some(rustls::Error::AlertReceived(_)) => Self::Alert,
            Some(_) => Self::Other,
            None => match error.kind() {
                io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe => Self::Closed,
                _ => Self::Other,
            },
        }
    }
}

/// Failed handshakes since start, by kind; shared by every TLS listener of the gateway.
#[derive(Debug, Default)]
pub struct HandshakeErrors {
    counts: [AtomicU64; HandshakeFailure::ALL.len()],
}

impl HandshakeErrors {
    /// Counts one failure of `kind`.
    pub fn count(&self, kind: HandshakeFailure) {
        let index = HandshakeFailure::ALL
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(HandshakeFailure::ALL.len() - 1);
        self.counts[index].fetch_add(1, Ordering::Relaxed);
    }

    /// Every kind with its count so far.
    pub fn totals(&self) -> Vec<(&'static str, u64)> {
        HandshakeFailure::ALL
            .iter()
            .zip(&self.counts)
            .map(|(kind, count)| (kind.as_str(), count.load(Ordering::Relaxed)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::tls::certificates::{CertificateSet, pair_from_pem, tests::self_signed};
    use std::path::Path;
    use tokio::io::AsyncWriteExt;

    fn serving() -> TlsServing {
        let (cert, key) = self_signed(&["a.test"]);
        let pair = pair_from_pem(
            cert.as_bytes(),
            key.as_bytes(),
            Path::new("c"),
            Path::new("k"),
        )
        .unwrap();
        TlsServing {
            certificates: CertificateSet::new(vec![pair]).unwrap(),
            min_version: TlsVersion::V1_2,
        }
    }

    fn count_of(errors: &HandshakeErrors, kind: &str) -> u64 {
        errors
            .totals()
            .into_iter()
            .find(|(k, _)| *k == kind)
            .unwrap()
            .1
    }

    #[tokio::test]
    async fn a_stalled_handshake_is_cut_and_counted() {
        let errors = Arc::new(HandshakeErrors::default());
        let terminator =
            Terminator::new(&serving(), errors.clone()).with_timeout(Duration::from_millis(50));
        let (_client, server) = tokio::io::duplex(1024);
        let started = std::time::Instant::now();
        assert_eq!(
            terminator.accept(server).await.err(),
            Some(HandshakeFailure::Timeout)
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(count_of(&errors, "timeout"), 1);
    }

    #[tokio::test]
    async fn garbage_and_hang_ups_are_told_apart() {
        let errors = Arc::new(HandshakeErrors::default());
        let terminator = Terminator::new(&serving(), errors.clone());
        let (mut client, server) = tokio::io::duplex(1024);
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(
            terminator.accept(server).await.err(),
            Some(HandshakeFailure::Protocol)
        );
        let (client, server) = tokio::io::duplex(1024);
        drop(client);
        assert_eq!(
            terminator.accept(server).await.err(),
            Some(HandshakeFailure::Closed)
        );
        assert_eq!(count_of(&errors, "protocol"), 1);
        assert_eq!(count_of(&errors, "closed"), 1);
    }
}
