//! A private CA for the tests (root → intermediate → leaves, ECDSA P-256), the files a config
//! names, and clients that trust the root: rustls (with hyper) and curl.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A root and an intermediate CA; leaves are signed by the intermediate and served with it.
pub struct TestCa {
    root: CertifiedIssuer<'static, KeyPair>,
    intermediate: CertifiedIssuer<'static, KeyPair>,
}

/// An issued leaf: its chain (leaf, intermediate) and key as PEM, and the leaf's DER.
pub struct Leaf {
    pub chain_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

impl TestCa {
    pub fn new() -> Self {
        let root = CertifiedIssuer::self_signed(
            ca_params("Gatewatch Test Root"),
            KeyPair::generate().unwrap(),
        )
        .unwrap();
        let intermediate = CertifiedIssuer::signed_by(
            ca_params("Gatewatch Test Intermediate"),
            KeyPair::generate().unwrap(),
            &root,
        )
        .unwrap();
        Self { root, intermediate }
    }

    /// The root certificate as PEM (what clients trust).
    pub fn root_pem(&self) -> String {
        self.root.pem()
    }

    /// A leaf for `names` (DNS names or IP addresses), valid for a year.
    pub fn issue(&self, names: &[&str]) -> Leaf {
        self.issue_for_days(names, 365)
    }

    /// A leaf for `names` that expires in `days` (negative: expired that long ago).
    pub fn issue_for_days(&self, names: &[&str], days: i64) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let (year, month, date) = ymd(days.min(0) - 30);
        params.not_before = rcgen::date_time_ymd(year, month, date);
        let (year, month, date) = ymd(days);
        params.not_after = rcgen::date_time_ymd(year, month, date);
        let cert = params.signed_by(&key, &self.intermediate).unwrap();
        Leaf {
            chain_pem: format!("{}{}", cert.pem(), self.intermediate.pem()),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }

    /// A rustls client trusting the root, offering `alpn`.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.root.der().clone()).unwrap();
        let mut config = rustls::ClientConfig::builder_with_provider(
            gatewatch::server::config::crypto_provider(),
        )
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }

    /// A verified TLS connection to `addr` asking for `name` (SNI; an IP address sends none).
    pub async fn connect(
        &self,
        addr: SocketAddr,
        name: &str,
        alpn: &[&[u8]],
    ) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let connector = tokio_rustls::TlsConnector::from(self.client_config(alpn));
        let server_name = ServerName::try_from(name.to_string()).unwrap();
        connector
            .connect(server_name, tcp)
            .await
            .unwrap_or_else(|error| panic!("TLS to {addr} as {name}: {error}"))
    }
}

/// The date (UTC) `days` from today (negative: ago), as rcgen takes it. The certificate is valid
/// until that midnight, so `days` whole days from now rounded down.
fn ymd(days: i64) -> (i32, u8, u8) {
    use chrono::Datelike;
    let at = chrono::Utc::now() + chrono::Duration::days(days);
    (at.year(), at.month() as u8, at.day() as u8)
}

/// The leaf certificate a TLS connection was given.
pub fn served(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// The ALPN protocol a connection negotiated.
pub fn alpn(stream: &TlsStream<TcpStream>) -> Option<Vec<u8>> {
    stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec)
}

/// Writes a leaf's chain and key into `dir` as `{stem}.pem` and `{stem}.key`; returns the paths.
pub fn write_pair(dir: &Path, stem: &str, leaf: &Leaf) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{stem}.pem")),
        dir.join(format!("{stem}.key")),
    );
    replace_file(&cert, &leaf.chain_pem);
    replace_file(&key, &leaf.key_pem);
    (cert, key)
}

/// Replaces `path` the way deploy tools do: a new file renamed over the old one.
pub fn replace_file(path: &Path, content: &str) {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, content).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

/// `{"cert": …, "key": …}` for a config.
pub fn entry(pair: &(PathBuf, PathBuf)) -> serde_json::Value {
    serde_json::json!({"cert": pair.0, "key": pair.1})
}

/// An HTTP/1.1 connection over `stream`.
pub async fn http1(
    stream: TlsStream<TcpStream>,
) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

/// An HTTP/2 connection over `stream` (negotiated by ALPN).
pub async fn http2(
    stream: TlsStream<TcpStream>,
) -> hyper::client::conn::http2::SendRequest<Full<Bytes>> {
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    sender
}

/// GET `path` with `Host: host` over an HTTP/1.1 connection: status, headers and body text.
pub async fn get1(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: &str,
    path: &str,
) -> (hyper::http::response::Parts, String) {
    sender.ready().await.unwrap();
    let request = Request::get(path)
        .header("host", host)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (parts, String::from_utf8_lossy(&body).into_owned())
}

/// Runs curl with `args`, trusting the CA's root (written to `dir`); returns its stdout, or
/// panics with its stderr. On the blocking pool: the gateway under test shares this runtime.
pub async fn curl(ca: &TestCa, dir: &Path, args: &[&str]) -> String {
    let root = dir.join("root.pem");
    std::fs::write(&root, ca.root_pem()).unwrap();
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    tokio::task::spawn_blocking(move || run_curl(&root, &args))
        .await
        .unwrap()
}

fn run_curl(root: &Path, args: &[String]) -> String {
    let output = std::process::Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--noproxy",
            "*",
            "--max-time",
            "10",
            "--cacert",
        ])
        .arg(root)
        .args(args)
        .output()
        .expect("curl runs (scripts/setup.sh installs it)");
    assert!(
        output.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}
