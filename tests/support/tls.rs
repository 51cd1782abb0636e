//! Certificates for the TLS tests, made per test with rcgen: a private CA, server certificates
//! it signs (for upstreams started with [`super::Upstream::start_tls`]), client certificates for
//! mTLS, and the PEM files a config names.

use gatewatch::server::config::crypto_provider;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A private CA.
pub struct TestPki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

impl TestPki {
    /// A new CA, trusted by nothing but what is told to trust it.
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Gatewatch test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { ca }
    }

    /// A certificate for `names` signed by the CA, and its key.
    fn issue(&self, names: &[&str]) -> (CertificateDer<'static>, PrivateKeyDer<'static>, String) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "gatewatch test");
        let certificate = params.signed_by(&key, &self.ca).unwrap();
        let key_pem = key.serialize_pem();
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (
            certificate.der().clone(),
            der,
            format!("{}|{}", certificate.pem(), key_pem),
        )
    }

    /// A server config presenting a certificate for `names` signed by the CA; with
    /// `client_auth`, clients must present a certificate signed by the CA.
    pub fn server(&self, names: &[&str], client_auth: bool) -> Arc<ServerConfig> {
        let (certificate, key, _) = self.issue(names);
        let builder = ServerConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if client_auth {
            let mut roots = RootCertStore::empty();
            roots.add(self.ca.der().clone()).unwrap();
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), crypto_provider())
                    .build()
                    .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder
            .with_single_cert(vec![certificate, self.ca.der().clone()], key)
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }

    /// Writes the CA certificate to `dir/ca.pem`.
    pub fn write_ca(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, self.ca.pem()).unwrap();
        path
    }

    /// Writes a certificate for `names` signed by the CA and its key to `dir/{name}.crt` and
    /// `dir/{name}.key` (a server's; [`write_client`](Self::write_client) names a client's).
    pub fn write_server(&self, dir: &Path, name: &str, names: &[&str]) -> (PathBuf, PathBuf) {
        let (_, _, pems) = self.issue(names);
        let (certificate, key) = pems.split_once('|').unwrap();
        let (cert_path, key_path) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&cert_path, certificate).unwrap();
        std::fs::write(&key_path, key).unwrap();
        (cert_path, key_path)
    }

    /// Writes a client certificate signed by the CA and its key to `dir/{name}.crt` and
    /// `dir/{name}.key`.
    pub fn write_client(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        self.write_server(dir, name, &["gatewatch-client"])
    }
}
