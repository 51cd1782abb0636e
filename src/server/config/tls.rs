//! `tls` (the proxy's HTTPS listener) and `dashboard.tls` (the dashboard over HTTPS): the
//! certificate files are read and checked while the config is validated, so an unreadable,
//! unparsable or mismatched pair is a field error like any other and a reload carrying one is
//! rejected while the old certificates keep serving.

use super::{FieldErrors, socket_addr};
use crate::server::tls::certificates::{self, CertificateSet};
use schemars::JsonSchema;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;

/// Default HTTPS listen address of the proxy.
pub const DEFAULT_TLS_LISTEN: &str = "0.0.0.0:8443";

/// `tls` as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct FileTls {
    /// Address of the proxy's HTTPS listener, IP:port, beside the plain HTTP one (listen). Must
    /// differ from listen and dashboard.listen. Default "0.0.0.0:8443". A change takes effect
    /// when gatewatch restarts.
    #[schemars(extend("default" = DEFAULT_TLS_LISTEN, "examples" = ["0.0.0.0:8443", "[::]:443"]))]
    pub listen: Option<String>,
    /// Certificate chains and their keys (at least one). A client gets the one whose names
    /// (subject alternative names, wildcards included) match the name it asks for (SNI); no
    /// name or no match gets the first. Files changed on disk are reloaded.
    #[serde(default)]
    pub certificates: Vec<FileCertificate>,
    /// Answer every request on the plain listener (listen) with a 308 redirect to the same
    /// host, path and query over HTTPS. Default false.
    #[schemars(extend("default" = false))]
    pub redirect_http: Option<bool>,
    /// Oldest TLS version accepted: "1.2" or "1.3". Default "1.2".
    #[schemars(extend("default" = "1.2"), regex(pattern = r"^1\.[23]$"))]
    pub min_version: Option<String>,
}

/// `dashboard.tls` as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct FileDashboardTls {
    /// Certificate chains and their keys (at least one), chosen by SNI as for tls.certificates.
    /// With them the dashboard, its API and live socket are served over HTTPS only (and the
    /// session cookie is Secure). Files changed on disk are reloaded; adding or removing
    /// dashboard.tls takes effect when gatewatch restarts.
    #[serde(default)]
    pub certificates: Vec<FileCertificate>,
    /// Oldest TLS version accepted: "1.2" or "1.3". Default "1.2".
    #[schemars(extend("default" = "1.2"), regex(pattern = r"^1\.[23]$"))]
    pub min_version: Option<String>,
}

/// One certificate as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "certificate")]
pub struct FileCertificate {
    /// PEM file of the certificate chain, the server's certificate first (relative to the config
    /// file's directory unless absolute).
    #[schemars(extend("examples" = ["certs/example.pem"]))]
    pub cert: String,
    /// PEM file of its private key: RSA or ECDSA, PKCS#8, PKCS#1 or SEC1 (relative to the config
    /// file's directory unless absolute).
    #[schemars(extend("examples" = ["certs/example.key"]))]
    pub key: String,
}

/// The oldest TLS version a listener accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2 and 1.3.
    #[default]
    V1_2,
    /// TLS 1.3 only.
    V1_3,
}

/// What a TLS listener serves: its certificates and oldest version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsServing {
    pub certificates: CertificateSet,
    pub min_version: TlsVersion,
}

/// The proxy's validated `tls`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// Where HTTPS is accepted.
    pub listen: SocketAddr,
    /// Plain requests are redirected to HTTPS.
    pub redirect_http: bool,
    pub serving: TlsServing,
}

/// Validates `tls`; `base` is the config file's directory.
pub fn validate_tls(
    file: Option<FileTls>,
    base: &Path,
    errors: &mut FieldErrors,
) -> Option<TlsConfig> {
    let file = file?;
    let redirect_http = file.redirect_http.unwrap_or(false);
    if redirect_http && file.certificates.is_empty() {
        errors.push(
            "tls.redirect_http",
            "needs tls.certificates: there is no HTTPS listener to redirect to",
        );
    }
    let listen = socket_addr(
        file.listen.as_deref(),
        DEFAULT_TLS_LISTEN,
        "tls.listen",
        errors,
    );
    let serving = serving(
        file.certificates,
        file.min_version.as_deref(),
        "tls",
        base,
        errors,
    );
    Some(TlsConfig {
        listen: listen?,
        redirect_http,
        serving: serving?,
    })
}

/// Validates `dashboard.tls`; `base` is the config file's directory.
pub fn validate_dashboard_tls(
    file: Option<FileDashboardTls>,
    base: &Path,
    errors: &mut FieldErrors,
) -> Option<TlsServing> {
    let file = file?;
    serving(
        file.certificates,
        file.min_version.as_deref(),
        "dashboard.tls",
        base,
        errors,
    )
}

/// Loads and checks the certificates of the section at `at`.
fn serving(
    files: Vec<FileCertificate>,
    min_version: Option<&str>,
    at: &str,
    base: &Path,
    errors: &mut FieldErrors,
) -> Option<TlsServing> {
    let min_version = match min_version {
        None | Some("1.2") => Some(TlsVersion::V1_2),
        Some("1.3") => Some(TlsVersion::V1_3),
        Some(other) => {
            errors.push(
                format!("{at}.min_version"),
                format!("must be \"1.2\" or \"1.3\", got {other:?}"),
            );
            None
        }
    };
    if files.is_empty() {
        errors.push(
            format!("{at}.certificates"),
            "at least one certificate is needed",
        );
    }
    let before = errors.len();
    let mut loaded = Vec::with_capacity(files.len());
    for (index, file) in files.into_iter().enumerate() {
        let field = format!("{at}.certificates[{index}]");
        let mut path = |name: &str, value: &str| {
            if value.trim().is_empty() {
                errors.push(format!("{field}.{name}"), "must not be empty");
                None
            } else {
                Some(base.join(value))
            }
        };
        let (Some(cert), Some(key)) = (path("cert", &file.cert), path("key", &file.key)) else {
            continue;
        };
        match certificates::load_pair(&cert, &key) {
            Ok(pair) => loaded.push(pair),
            Err(error) => errors.push(format!("{field}.{}", error.field), error.reason),
        }
    }
    if errors.len() != before {
        return None;
    }
    Some(TlsServing {
        certificates: CertificateSet::new(loaded)?,
        min_version: min_version?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::parse_in;
    use crate::server::tls::certificates::tests::self_signed;

    /// A directory holding a good pair (`a.pem`, `a.key`) and another certificate (`b.pem`).
    fn certs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed(&["a.test"]);
        let (other, _) = self_signed(&["b.test"]);
        std::fs::write(dir.path().join("a.pem"), cert).unwrap();
        std::fs::write(dir.path().join("a.key"), key).unwrap();
        std::fs::write(dir.path().join("b.pem"), other).unwrap();
        dir
    }

    fn errors_in(dir: &tempfile::TempDir, text: &str) -> Vec<String> {
        match parse_in(text, dir.path()) {
            Ok(_) => panic!("expected errors"),
            Err(error) => error.field_lines(),
        }
    }

    #[test]
    fn a_good_pair_is_loaded_relative_to_the_config() {
        let dir = certs();
        let config = parse_in(
            r#"{"tls": {"listen": "127.0.0.1:8443", "redirect_http": true, "min_version": "1.3",
                "certificates": [{"cert": "a.pem", "key": "a.key"}]},
                "dashboard": {"tls": {"certificates": [{"cert": "a.pem", "key": "a.key"}]}}}"#,
            dir.path(),
        )
        .unwrap();
        let tls = config.tls.unwrap();
        assert_eq!(tls.listen, "127.0.0.1:8443".parse().unwrap());
        assert!(tls.redirect_http);
        assert_eq!(tls.serving.min_version, super::TlsVersion::V1_3);
        let entry = &tls.serving.certificates.entries()[0];
        assert_eq!(entry.cert_path, dir.path().join("a.pem"));
        assert_eq!(entry.info.names, vec!["a.test"]);
        assert!(config.dashboard.tls.is_some());
    }

    #[test]
    fn bad_tls_settings_name_their_fields() {
        let dir = certs();
        let errors = errors_in(
            &dir,
            r#"{"tls": {"listen": "nope", "min_version": "1.1", "certificates": [
                {"cert": "missing.pem", "key": "a.key"},
                {"cert": "b.pem", "key": "a.key"},
                {"cert": "a.key", "key": "a.key"}]}}"#,
        );
        let missing = dir.path().join("missing.pem");
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(errors[0].starts_with("tls.listen: not a socket address"));
        assert_eq!(
            errors[1],
            "tls.min_version: must be \"1.2\" or \"1.3\", got \"1.1\""
        );
        assert!(
            errors[2].starts_with(&format!(
                "tls.certificates[0].cert: cannot read {}",
                missing.display()
            )),
            "{errors:?}"
        );
        assert!(
            errors[3].starts_with("tls.certificates[1].key: ")
                && errors[3].contains("is not the private key of the certificate in"),
            "{errors:?}"
        );
        assert!(
            errors[4].starts_with("tls.certificates[2].cert: no PEM certificate in"),
            "{errors:?}"
        );
    }

    #[test]
    fn redirect_without_certificates_is_refused() {
        let dir = certs();
        let errors = errors_in(&dir, r#"{"tls": {"redirect_http": true}}"#);
        assert_eq!(
            errors,
            vec![
                "tls.redirect_http: needs tls.certificates: there is no HTTPS listener to redirect to",
                "tls.certificates: at least one certificate is needed",
            ]
        );
        let errors = errors_in(&dir, r#"{"dashboard": {"tls": {"certificates": []}}}"#);
        assert_eq!(
            errors,
            vec!["dashboard.tls.certificates: at least one certificate is needed"]
        );
    }

    #[test]
    fn the_https_address_must_be_its_own() {
        let dir = certs();
        let errors = errors_in(
            &dir,
            r#"{"listen": "127.0.0.1:8080", "tls": {"listen": "127.0.0.1:8080",
                "certificates": [{"cert": "a.pem", "key": "a.key"}]}}"#,
        );
        assert_eq!(
            errors,
            vec!["tls.listen: must differ from listen and dashboard.listen (127.0.0.1:8080)"]
        );
    }
}
