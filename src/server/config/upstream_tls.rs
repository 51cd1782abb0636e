//! `routes[].upstream_tls` and what a route with `https://` targets connects with: the file's
//! settings, validated, and the route's rustls [`ClientConfig`] built from them once per config
//! (the trusted roots, an optional client certificate for mTLS, the verifier). Every file named
//! is read here, so an unreadable CA file or a client key that does not match its certificate is
//! a config error at the field that names it, never a failure on the request path.
//!
//! Without `ca_file` the system's roots are trusted (Debian's ca-certificates, through
//! rustls-native-certs, loaded once per process).

use super::FieldErrors;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use schemars::JsonSchema;
use serde::Deserialize;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// `upstream_tls` as written.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct FileUpstreamTls {
    /// PEM file of the CA certificates that sign the targets' certificates, trusted instead of
    /// the system's roots (relative to the config file). Default: the system's roots.
    #[schemars(extend("examples" = ["certs/internal-ca.pem"]))]
    pub ca_file: Option<String>,
    /// The name sent as SNI and checked against the targets' certificates, instead of each
    /// target URL's host. Default: the URL's host.
    #[schemars(regex(pattern = r"\S"), extend("examples" = ["api.internal"]))]
    pub server_name: Option<String>,
    /// Accept any certificate (still encrypted, but anyone in between can read it). Logged at
    /// start and shown on the route's card. Default false.
    #[serde(default)]
    #[schemars(extend("default" = false))]
    pub insecure_skip_verify: bool,
    /// PEM file of the client certificate (chain) presented to targets that ask for one (mTLS);
    /// needs client_key. Default: none.
    pub client_cert: Option<String>,
    /// PEM file of the private key of client_cert (PKCS#8, PKCS#1 or SEC1). Default: none.
    pub client_key: Option<String>,
}

/// How a route's `https://` targets are connected to: validated, with its client config built.
#[derive(Clone, Debug)]
pub struct UpstreamTlsConfig {
    /// The CA file trusted instead of the system's roots (resolved path).
    pub ca_file: Option<PathBuf>,
    /// SNI and the certificate name to check, instead of each target's host.
    pub server_name: Option<ServerName<'static>>,
    /// Any certificate is accepted.
    pub insecure_skip_verify: bool,
    /// The client certificate and key presented for mTLS (resolved paths).
    pub client_identity: Option<(PathBuf, PathBuf)>,
    /// Built once per config; shared by the route's targets and their connections.
    pub client: Arc<ClientConfig>,
    /// A hash of the settings and the files' contents: two configs are equal when both are.
    fingerprint: u64,
}

impl PartialEq for UpstreamTlsConfig {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
    }
}

/// Logs a warning for every route of `routes` whose targets' certificates are not verified
/// (at start and at each reload that applies such a route).
pub fn warn_unverified(routes: &[super::RouteConfig]) {
    for route in routes {
        if route
            .upstream_tls
            .as_ref()
            .is_some_and(|tls| tls.insecure_skip_verify)
        {
            tracing::warn!(
                route = %route.name,
                "upstream_tls.insecure_skip_verify: the certificates of route {:?}'s https \
                 targets are not verified; anyone between gatewatch and them can read and change \
                 the traffic",
                route.name
            );
        }
    }
}

/// The process's crypto provider, for TLS both ways (termination and upstreams): rustls with
/// ring. rustls 0.23.48 deprecates ring's provider because ring has no post-quantum key
/// exchange; Gatewatch keeps it on purpose (aws-lc-rs would need cmake and a C toolchain in every
/// build), so clients and upstreams get the classic X25519 / P-256 / P-384 groups.
#[allow(deprecated, reason = "ring chosen deliberately, see above")]
pub fn crypto_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The system's trusted roots, read once per process.
fn system_roots() -> Result<Arc<RootCertStore>, String> {
    static ROOTS: OnceLock<Result<Arc<RootCertStore>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(
                    "no system root certificates found (install ca-certificates, or \
                     set upstream_tls.ca_file)"
                        .to_string(),
                );
            }
            Ok(Arc::new(roots))
        })
        .clone()
}

/// Validates `upstream_tls` (at `at`, `None` if left out) for a route whose targets include
/// `https://` ones (`has_https`): reads its files (relative to `base`) and builds the client
/// config. `None` when there is nothing to connect with TLS, or on errors (reported).
pub fn validate_upstream_tls(
    file: Option<FileUpstreamTls>,
    has_https: bool,
    at: &str,
    base: &Path,
    errors: &mut FieldErrors,
) -> Option<UpstreamTlsConfig> {
    if !has_https {
        if file.is_some() {
            errors.push(
                at.to_string(),
                "applies to https:// targets, and this route has none",
            );
        }
        return None;
    }
    let file = file.unwrap_or_default();
    let before = errors.len();
    let mut fingerprint = DefaultHasher::new();
    file.insecure_skip_verify.hash(&mut fingerprint);

    let ca_file = file.ca_file.as_deref().map(|name| base.join(name));
    let roots = match &ca_file {
        Some(path) => read_roots(path, &format!("{at}.ca_file"), &mut fingerprint, errors),
        None => system_roots()
            .map_err(|reason| errors.push(at.to_string(), reason))
            .ok(),
    };

    let server_name = file.server_name.as_deref().and_then(|name| {
        name.hash(&mut fingerprint);
        ServerName::try_from(name.trim().to_string())
            .map_err(|_| {
                errors.push(
                    format!("{at}.server_name"),
                    format!("not a DNS name or IP address: {name:?}"),
                )
            })
            .ok()
    });

    let identity = match (&file.client_cert, &file.client_key) {
        (None, None) => None,
        (Some(_), None) => {
            errors.push(format!("{at}.client_key"), "needed with client_cert");
            None
        }
        (None, Some(_)) => {
            errors.push(format!("{at}.client_cert"), "needed with client_key");
            None
        }
        (Some(cert), Some(key)) => {
            let (cert, key) = (base.join(cert), base.join(key));
            let chain = read_certificates(&cert, &format!("{at}.client_cert"), errors);
            let private_key = match PrivateKeyDer::from_pem_file(&key) {
                Ok(private_key) => Some(private_key),
                Err(error) => {
                    errors.push(
                        format!("{at}.client_key"),
                        format!(
                            "cannot read a private key from {}: {}",
                            key.display(),
                            pem_reason(&error)
                        ),
                    );
                    None
                }
            };
            match (chain, private_key) {
                (Some(chain), Some(private_key)) => {
                    for certificate in &chain {
                        certificate.as_ref().hash(&mut fingerprint);
                    }
                    private_key.secret_der().hash(&mut fingerprint);
                    Some((cert, key, chain, private_key))
                }
                _ => None,
            }
        }
    };
    if errors.len() > before {
        return None;
    }
    let roots = roots?;

    let builder = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions");
    let builder = if file.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(crypto_provider())))
    } else {
        builder.with_root_certificates(roots)
    };
    let (client, client_identity) = match identity {
        None => (builder.with_no_client_auth(), None),
        Some((cert, key, chain, private_key)) => {
            match builder.with_client_auth_cert(chain, private_key) {
                Ok(client) => (client, Some((cert, key))),
                Err(error) => {
                    errors.push(
                        format!("{at}.client_key"),
                        format!("does not match client_cert ({error})"),
                    );
                    return None;
                }
            }
        }
    };
    let mut client = client;
    // HTTP/1.1 is all the upstream connection speaks.
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    Some(UpstreamTlsConfig {
        ca_file,
        server_name,
        insecure_skip_verify: file.insecure_skip_verify,
        client_identity,
        client: Arc::new(client),
        fingerprint: fingerprint.finish(),
    })
}

/// The CA certificates in `path`, as a root store (an error if it holds none).
fn read_roots(
    path: &Path,
    at: &str,
    fingerprint: &mut DefaultHasher,
    errors: &mut FieldErrors,
) -> Option<Arc<RootCertStore>> {
    let certificates = read_certificates(path, at, errors)?;
    let mut roots = RootCertStore::empty();
    for certificate in certificates {
        certificate.as_ref().hash(fingerprint);
        if let Err(error) = roots.add(certificate) {
            errors.push(
                at.to_string(),
                format!("{}: not a usable CA certificate ({error})", path.display()),
            );
            return None;
        }
    }
    Some(Arc::new(roots))
}

/// Every certificate in the PEM file at `path` (an error if it cannot be read or holds none).
fn read_certificates(
    path: &Path,
    at: &str,
    errors: &mut FieldErrors,
) -> Option<Vec<CertificateDer<'static>>> {
    let read = CertificateDer::pem_file_iter(path)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>());
    match read {
        Ok(certificates) if certificates.is_empty() => {
            errors.push(
                at.to_string(),
                format!("{}: no PEM certificate in it", path.display()),
            );
            None
        }
        Ok(certificates) => Some(certificates),
        Err(error) => {
            errors.push(
                at.to_string(),
                format!("cannot read {}: {}", path.display(), pem_reason(&error)),
            );
            None
        }
    }
}

fn pem_reason(error: &rustls::pki_types::pem::Error) -> String {
    match error {
        rustls::pki_types::pem::Error::Io(error) => error.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM item in it".to_string(),
        other => format!("not valid PEM ({other:?})"),
    }
}

/// `insecure_skip_verify`: any certificate for any name is accepted; the handshake's signatures
/// are still checked (the peer holds the key of the certificate it sent).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
