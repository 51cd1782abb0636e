//! Certificates as the TLS listeners serve them: each configured `cert`/`key` pair read from
//! its PEM files (a chain, and an RSA or ECDSA key in PKCS#8, PKCS#1 or SEC1 form), checked to
//! belong together, and described (names, issuer, expiry) for the dashboard, `/metrics` and
//! `gatewatch check`.
//!
//! Loading happens while a config is validated (off the proxy's threads); a set of loaded pairs
//! compares equal to another only when every file's content is the same, so a certificate
//! replaced on disk makes the config differ and a reload puts it in force.

use chrono::{DateTime, Utc};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Days before expiry from which a certificate is reported as expiring soon.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// One certificate chain and its private key, loaded and checked.
#[derive(Clone)]
pub struct LoadedCertificate {
    /// The chain's PEM file.
    pub cert_path: PathBuf,
    /// The private key's PEM file.
    pub key_path: PathBuf,
    /// What rustls serves.
    pub key: Arc<CertifiedKey>,
    /// What the end-entity certificate says.
    pub info: CertificateInfo,
    /// SHA-256 over both files' content: equal digests, equal pairs.
    digest: [u8; 32],
}

impl PartialEq for LoadedCertificate {
    fn eq(&self, other: &Self) -> bool {
        self.cert_path == other.cert_path
            && self.key_path == other.key_path
            && self.digest == other.digest
    }
}

impl Eq for LoadedCertificate {}

impl fmt::Debug for LoadedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedCertificate")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// What the dashboard and `gatewatch check` tell about a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The DNS names (and IP addresses) it is valid for: its subject alternative names, or its
    /// common name when it has none. Lowercase.
    pub names: Vec<String>,
    /// The issuer's distinguished name.
    pub issuer: String,
    /// When it stops being valid.
    pub not_after: DateTime<Utc>,
}

impl CertificateInfo {
    /// The name it is known by: its first name, or the issuer's for a nameless one.
    pub fn primary_name(&self) -> &str {
        self.names.first().map_or("(no name)", String::as_str)
    }

    /// Whole days until it expires (negative once expired).
    pub fn days_left(&self, now: DateTime<Utc>) -> i64 {
        (self.not_after - now).num_seconds().div_euclid(86_400)
    }

    /// A warning when it has expired or expires within [`EXPIRY_WARNING_DAYS`].
    pub fn expiry_warning(&self, now: DateTime<Utc>) -> Option<String> {
        let days = self.days_left(now);
        let name = self.primary_name();
        if self.not_after <= now {
            Some(format!(
                "certificate for {name} expired on {}",
                self.not_after.format("%Y-%m-%d")
            ))
        } else if days < EXPIRY_WARNING_DAYS {
            Some(format!(
                "certificate for {name} expires in {days} day{} ({})",
                if days == 1 { "" } else { "s" },
                self.not_after.format("%Y-%m-%d")
            ))
        } else {
            None
        }
    }
}

/// Why a pair could not be loaded, and which of its two files is at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairError {
    /// `cert` or `key`: the field of the pair the error is about.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl PairError {
    fn cert(reason: impl Into<String>) -> Self {
        Self {
            field: "cert",
            reason: reason.into(),
        }
    }

    fn key(reason: impl Into<String>) -> Self {
        Self {
            field: "key",
            reason: reason.into(),
        }
    }
}

/// Reads the pair at `cert_path` and `key_path` and checks that the key belongs to the chain's
/// first certificate.
pub fn load_pair(cert_path: &Path, key_path: &Path) -> Result<LoadedCertificate, PairError> {
    let cert_pem = std::fs::read(cert_path).map_err(|error| {
        PairError::cert(format!("cannot read {}: {error}", cert_path.display()))
    })?;
    let key_pem = std::fs::read(key_path)
        .map_err(|error| PairError::key(format!("cannot read {}: {error}", key_path.display())))?;
    pair_from_pem(&cert_pem, &key_pem, cert_path, key_path)
}

/// [`load_pair`] on content already read.
pub fn pair_from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_path: &Path,
    key_path: &Path,
) -> Result<LoadedCertificate, PairError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            PairError::cert(format!(
                "not a PEM certificate chain: {} ({error})",
                cert_path.display()
            ))
        })?;
    let Some(leaf) = chain.first() else {
        return Err(PairError::cert(format!(
            "no PEM certificate in {}",
            cert_path.display()
        )));
    };
    let info = describe(leaf).map_err(|reason| {
        PairError::cert(format!(
            "not a valid X.509 certificate: {} ({reason})",
            cert_path.display()
        ))
    })?;
    let key_der = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| {
        PairError::key(format!(
            "no PEM private key (PKCS#8, PKCS#1 or SEC1) in {}",
            key_path.display()
        ))
    })?;
    let signing_key =
        rustls::crypto::ring::sign::any_supported_type(&key_der).map_err(|error| {
            PairError::key(format!(
                "unsupported private key in {} ({error})",
                key_path.display()
            ))
        })?;
    let key = CertifiedKey::new(chain, signing_key);
    if let Err(error) = key.keys_match() {
        let reason = match error {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => format!(
                "{} is not the private key of the certificate in {}",
                key_path.display(),
                cert_path.display()
            ),
            other => format!(
                "cannot check {} against {}: {other}",
                key_path.display(),
                cert_path.display()
            ),
        };
        return Err(PairError::key(reason));
    }
    let mut digest = Sha256::new();
    digest.update((cert_pem.len() as u64).to_be_bytes());
    digest.update(cert_pem);
    digest.update(key_pem);
    Ok(LoadedCertificate {
        cert_path: cert_path.to_path_buf(),
        key_path: key_path.to_path_buf(),
        key: Arc::new(key),
        info,
        digest: digest.finalize().into(),
    })
}

/// Names, issuer and expiry of a DER certificate.
fn describe(der: &CertificateDer<'_>) -> Result<CertificateInfo, String> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der.as_ref()).map_err(|error| error.to_string())?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => names.push(dns.to_ascii_lowercase()),
                GeneralName::IPAddress(bytes) => {
                    if let Some(ip) = ip_from_bytes(bytes) {
                        names.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    if names.is_empty() {
        names.extend(
            cert.subject()
                .iter_common_name()
                .filter_map(|cn| cn.as_str().ok())
                .map(str::to_ascii_lowercase),
        );
    }
    let not_after = DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
        .ok_or_else(|| "expiry date out of range".to_string())?;
    Ok(CertificateInfo {
        names,
        issuer: cert.issuer().to_string(),
        not_after,
    })
}

fn ip_from_bytes(bytes: &[u8]) -> Option<std::net::IpAddr> {
    match bytes.len() {
        4 => Some(<[u8; 4]>::try_from(bytes).ok()?.into()),
        16 => Some(<[u8; 16]>::try_from(bytes).ok()?.into()),
        _ => None,
    }
}

/// The certificates of one listener, in config order: the first is served when no name matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateSet {
    entries: Vec<LoadedCertificate>,
}

impl CertificateSet {
    /// A set of `entries`; `None` if there are none.
    pub fn new(entries: Vec<LoadedCertificate>) -> Option<Self> {
        (!entries.is_empty()).then_some(Self { entries })
    }

    /// The pairs, in config order.
    pub fn entries(&self) -> &[LoadedCertificate] {
        &self.entries
    }

    /// The pair to serve for the name a client asked for (SNI): one with that exact name, else
    /// one whose wildcard (`*.example.com`) covers it, else the first.
    pub fn select(&self, server_name: Option<&str>) -> &LoadedCertificate {
        let Some(name) = server_name.map(|name| name.trim_end_matches('.').to_ascii_lowercase())
        else {
            return &self.entries[0];
        };
        let exact = self
            .entries
            .iter()
            .find(|entry| entry.info.names.contains(&name));
        let wildcard = || {
            self.entries.iter().find(|entry| {
                entry
                    .info
                    .names
                    .iter()
                    .any(|pattern| wildcard_matches(pattern, &name))
            })
        };
        exact.or_else(wildcard).unwrap_or(&self.entries[0])
    }
}

/// Whether `pattern` (`*.example.com`) covers `name` (`a.example.com`, not `example.com`, not
/// `a.b.example.com`): the wildcard stands for exactly one label.
fn wildcard_matches(pattern: &str, name: &str) -> bool {
    let Some(suffix) = pattern.strip_prefix("*.") else {
        return false;
    };
    match name.split_once('.') {
        Some((label, rest)) => !label.is_empty() && rest == suffix,
        None => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};

    /// A self-signed certificate for `names` as (cert PEM, key PEM).
    pub(crate) fn self_signed(names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn loaded(names: &[&str]) -> LoadedCertificate {
        let (cert, key) = self_signed(names);
        pair_from_pem(
            cert.as_bytes(),
            key.as_bytes(),
            Path::new(names[0]),
            Path::new("key.pem"),
        )
        .unwrap()
    }

    #[test]
    fn a_pair_is_described_by_its_names_issuer_and_expiry() {
        let pair = loaded(&["Example.com", "www.example.com", "127.0.0.1"]);
        assert_eq!(
            pair.info.names,
            vec!["example.com", "www.example.com", "127.0.0.1"]
        );
        assert!(pair.info.issuer.contains("rcgen"), "{}", pair.info.issuer);
        assert!(pair.info.not_after > Utc::now());
        assert_eq!(pair.info.primary_name(), "example.com");
    }

    /// RSA and ECDSA keys in every PEM form: each fixture key (tests/fixtures/tls, made with
    /// openssl for these tests only) signs a certificate through its PKCS#8 form, and the pair is
    /// loaded with the key in the other form.
    #[test]
    fn rsa_and_ecdsa_keys_load_in_pkcs8_pkcs1_and_sec1_form() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
        let read = |name: &str| std::fs::read_to_string(fixtures.join(name)).unwrap();
        for (pkcs8, other, algorithm) in [
            ("rsa-pkcs8.key", "rsa-pkcs1.key", &rcgen::PKCS_RSA_SHA256),
            (
                "ec-pkcs8.key",
                "ec-sec1.key",
                &rcgen::PKCS_ECDSA_P256_SHA256,
            ),
        ] {
            let key = KeyPair::from_pkcs8_pem_and_sign_algo(&read(pkcs8), algorithm).unwrap();
            let cert = CertificateParams::new(vec!["k.test".to_string()])
                .unwrap()
                .self_signed(&key)
                .unwrap()
                .pem();
            for key_pem in [read(pkcs8), read(other)] {
                let pair = pair_from_pem(
                    cert.as_bytes(),
                    key_pem.as_bytes(),
                    Path::new("c"),
                    Path::new(other),
                );
                assert!(pair.is_ok(), "{other}: {pair:?}");
            }
        }
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_at_the_key() {
        let (cert, _) = self_signed(&["a.test"]);
        let (_, other_key) = self_signed(&["a.test"]);
        let error = pair_from_pem(
            cert.as_bytes(),
            other_key.as_bytes(),
            Path::new("a.pem"),
            Path::new("b.key"),
        )
        .unwrap_err();
        assert_eq!(error.field, "key");
        assert_eq!(
            error.reason,
            "b.key is not the private key of the certificate in a.pem"
        );
    }

    #[test]
    fn garbage_files_are_refused_at_the_right_field() {
        let (cert, key) = self_signed(&["a.test"]);
        let error =
            pair_from_pem(b"hello", key.as_bytes(), Path::new("c"), Path::new("k")).unwrap_err();
        assert_eq!(error, PairError::cert("no PEM certificate in c"));
        let error = pair_from_pem(
            cert.as_bytes(),
            cert.as_bytes(),
            Path::new("c"),
            Path::new("k"),
        )
        .unwrap_err();
        assert_eq!(
            error,
            PairError::key("no PEM private key (PKCS#8, PKCS#1 or SEC1) in k")
        );
        let error = load_pair(Path::new("/nonexistent/c.pem"), Path::new("k")).unwrap_err();
        assert_eq!(error.field, "cert");
        assert!(error.reason.starts_with("cannot read /nonexistent/c.pem"));
    }

    #[test]
    fn names_pick_exact_then_wildcard_then_the_first() {
        let set = CertificateSet::new(vec![
            loaded(&["default.test"]),
            loaded(&["*.example.com"]),
            loaded(&["api.example.com"]),
        ])
        .unwrap();
        let pick = |name: Option<&str>| set.select(name).info.primary_name().to_string();
        assert_eq!(pick(Some("api.example.com")), "api.example.com");
        assert_eq!(pick(Some("API.Example.com.")), "api.example.com");
        assert_eq!(pick(Some("www.example.com")), "*.example.com");
        assert_eq!(pick(Some("example.com")), "default.test");
        assert_eq!(pick(Some("a.b.example.com")), "default.test");
        assert_eq!(pick(None), "default.test");
    }

    #[test]
    fn equal_content_is_an_equal_pair() {
        let (cert, key) = self_signed(&["a.test"]);
        let load = || {
            pair_from_pem(
                cert.as_bytes(),
                key.as_bytes(),
                Path::new("c"),
                Path::new("k"),
            )
            .unwrap()
        };
        assert_eq!(load(), load());
        assert_ne!(load(), loaded(&["a.test"]));
    }

    #[test]
    fn expiry_warnings_start_two_weeks_ahead() {
        let info = CertificateInfo {
            names: vec!["a.test".into()],
            issuer: "CN=ca".into(),
            not_after: DateTime::from_timestamp(1_000 * 86_400, 0).unwrap(),
        };
        let day = |d: i64| DateTime::from_timestamp(d * 86_400, 0).unwrap();
        assert_eq!(info.expiry_warning(day(900)), None);
        assert_eq!(
            info.expiry_warning(day(990)).unwrap(),
            "certificate for a.test expires in 10 days (1972-09-27)"
        );
        assert_eq!(
            info.expiry_warning(day(1_001)).unwrap(),
            "certificate for a.test expired on 1972-09-27"
        );
        assert_eq!(info.days_left(day(1_001)), -1);
    }
}
