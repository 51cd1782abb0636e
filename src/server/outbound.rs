//! Outbound HTTP(S) the gateway makes on its own behalf — not the proxy's data plane (that is
//! `proxy/upstream`), but `gatewatch top` reading a gateway's admin API and alert notifications
//! posted to webhooks, Slack and Alertmanager.
//!
//! An [`Endpoint`] is an `http://` or `https://` URL taken apart once: where to connect, the
//! `Host` header, and the rustls client config for `https://` — one given (e.g. `--ca-file`), or
//! by default the system's roots, built once per process on first use (an `https://` endpoint on
//! a machine without roots fails at [`connect`], with a reason, not when it is configured).
//!
//! [`connect`] opens one connection (TCP, then TLS); [`post`] sends one HTTP/1.1 POST over a
//! connection of its own and returns the answer's status. Every step of [`post`] runs within its
//! deadline, at most 64 KiB of the answer is read, and the connection is then dropped.
//!
//! Error strings name the endpoint's `host:port` and the step that failed, never a header value
//! or the URL's path and query: those carry secrets (bearer tokens, Slack's webhook keys).

use crate::server::config::{FieldErrors, validate_upstream_tls};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Uri;
use hyper::header::{HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

/// The most of an answer's body [`post`] reads before dropping the connection.
pub const MAX_ANSWER: usize = 64 << 10;

/// Headers [`post`] sets itself; a caller's header of one of these names is ignored.
const FRAMING_HEADERS: [&str; 4] = ["host", "content-length", "transfer-encoding", "connection"];

/// An `http://` or `https://` URL, ready to connect to.
#[derive(Clone)]
pub struct Endpoint {
    tls: bool,
    /// Without IPv6 brackets (what is resolved and, for TLS, the server name).
    host: String,
    port: u16,
    /// `host[:port]` as written: the `Host` header.
    authority: String,
    /// `/` when the URL has no path.
    path_and_query: String,
    /// The client config for `https://`; `None`: the system's roots.
    client_config: Option<Arc<ClientConfig>>,
}

/// Shows the scheme and authority only: the path may hold a secret.
impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("origin", &self.origin())
            .field("custom_tls", &self.client_config.is_some())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Takes `url` apart. The error never repeats the URL (it may hold a secret).
    pub fn parse(url: &str) -> Result<Self, String> {
        let uri: Uri = url
            .parse()
            .map_err(|_| "not a valid absolute http(s) URL".to_string())?;
        Self::from_uri(&uri)
    }

    /// Takes `uri` apart: it must be absolute, `http` or `https`, with a host and without
    /// credentials (`user:password@`).
    pub fn from_uri(uri: &Uri) -> Result<Self, String> {
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err("not an http:// or https:// URL".to_string()),
        };
        let authority = uri
            .authority()
            .filter(|authority| !authority.host().is_empty())
            .ok_or_else(|| "the URL has no host".to_string())?;
        if authority.as_str().contains('@') {
            return Err("credentials are not accepted in the URL".to_string());
        }
        let path_and_query = uri
            .path_and_query()
            .map(|path| path.as_str())
            .filter(|path| !path.is_empty())
            .unwrap_or("/");
        Ok(Self {
            tls,
            host: authority.host().trim_matches(['[', ']']).to_string(),
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            authority: authority.as_str().to_string(),
            path_and_query: path_and_query.to_string(),
            client_config: None,
        })
    }

    /// The same endpoint, verified with `config` instead of the system's roots (for `https://`).
    pub fn with_client_config(mut self, config: Arc<ClientConfig>) -> Self {
        self.client_config = Some(config);
        self
    }

    /// Over TLS (`https://`).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The host, without IPv6 brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host[:port]` as written in the URL (the `Host` header).
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The URL's path and query (`/` when it has none). May hold a secret: never log it.
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }

    /// `scheme://authority`: what may be logged of the URL.
    pub fn origin(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.authority)
    }

    /// The client config `https://` connections use.
    fn client_config(&self) -> Result<Arc<ClientConfig>, String> {
        match &self.client_config {
            Some(config) => Ok(config.clone()),
            None => system_client_config(),
        }
    }
}

/// A client config trusting the system's roots, built once per process (through the same
/// validation as an `https://` target's `upstream_tls`, so the roots are read once for both).
fn system_client_config() -> Result<Arc<ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut errors = FieldErrors::default();
            validate_upstream_tls(None, true, "tls", Path::new("."), &mut errors)
                .map(|tls| tls.client)
                .ok_or_else(|| {
                    "no system root certificates found to verify https:// with \
                     (install ca-certificates)"
                        .to_string()
                })
        })
        .clone()
}

/// A byte stream to an endpoint, plain or TLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Connects to `endpoint` (TCP, then TLS for `https://`). Not bounded in time: callers put
/// their deadline around it.
pub async fn connect(endpoint: &Endpoint) -> Result<Box<dyn Stream>, String> {
    let tcp = tokio::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|error| format!("cannot connect to {}: {error}", endpoint.authority))?;
    let _ = tcp.set_nodelay(true);
    if !endpoint.tls {
        return Ok(Box::new(tcp));
    }
    let config = endpoint.client_config()?;
    let name = ServerName::try_from(endpoint.host.clone())
        .map_err(|error| format!("{}: not a server name ({error})", endpoint.host))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|error| format!("TLS with {}: {error}", endpoint.authority))?;
    Ok(Box::new(stream))
}

/// POSTs `body` to `path_and_query` on `endpoint` over a new HTTP/1.1 connection, with `Host`,
/// `Content-Type: content_type`, `Content-Length` and `headers` (lower-case names; a value given
/// for `host`, `content-length`, `transfer-encoding` or `connection` is ignored, one for
/// `content-type` or `user-agent` replaces Gatewatch's).
///
/// Returns the answer's status, whatever it is. Connecting, the TLS handshake, sending and
/// waiting for the answer's head all happen within `deadline`, or fail; then up to
/// [`MAX_ANSWER`] bytes of the body are read in what remains of it (a body that is slow, broken
/// or longer does not change the outcome: the status came), and the connection is dropped.
///
/// Errors name the endpoint's `host:port` and the step, never a header value or the path.
pub async fn post(
    endpoint: &Endpoint,
    path_and_query: &str,
    headers: &[(String, String)],
    content_type: &str,
    body: Bytes,
    deadline: Duration,
) -> Result<u16, String> {
    let request = build_post(endpoint, path_and_query, headers, content_type, body)?;
    let until = Instant::now() + deadline;
    let within = |step: &str| {
        format!(
            "{step} {} took longer than {}",
            endpoint.authority,
            describe(deadline)
        )
    };
    let stream = tokio::time::timeout_at(until, connect(endpoint))
        .await
        .map_err(|_| within("connecting to"))??;
    let (mut sender, connection) = tokio::time::timeout_at(
        until,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| within("connecting to"))?
    .map_err(|error| format!("HTTP with {}: {error}", endpoint.authority))?;
    // The connection is driven here, beside the exchange, so that dropping this future (or
    // returning) closes it: nothing is left running.
    let exchange = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| format!("no answer from {}: {error}", endpoint.authority))?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut read = 0;
        while read < MAX_ANSWER {
            match tokio::time::timeout_at(until, body.frame()).await {
                Ok(Some(Ok(frame))) => read += frame.data_ref().map_or(0, Bytes::len),
                // The end, a broken body or the deadline: the status stands.
                _ => break,
            }
        }
        Ok::<_, String>(status)
    };
    let exchange = tokio::time::timeout_at(until, exchange);
    tokio::pin!(exchange, connection);
    let outcome = tokio::select! {
        outcome = &mut exchange => outcome,
        // The connection ended (closed, or broken): the exchange has its answer or its error.
        _ = &mut connection => exchange.await,
    };
    outcome.map_err(|_| within("waiting for an answer from"))?
}

/// The request [`post`] sends; header errors name the header, never its value.
fn build_post(
    endpoint: &Endpoint,
    path_and_query: &str,
    headers: &[(String, String)],
    content_type: &str,
    body: Bytes,
) -> Result<hyper::Request<Full<Bytes>>, String> {
    let path = if path_and_query.is_empty() {
        "/"
    } else {
        path_and_query
    };
    let mut request = hyper::Request::post(path)
        .header(hyper::header::HOST, &endpoint.authority)
        .header(
            hyper::header::USER_AGENT,
            concat!("gatewatch/", env!("CARGO_PKG_VERSION")),
        )
        .header(hyper::header::CONTENT_TYPE, content_type)
        .body(Full::new(body))
        .map_err(|_| "the request's path or content type is not valid".to_string())?;
    for (name, value) in headers {
        if FRAMING_HEADERS
            .iter()
            .any(|framing| name.eq_ignore_ascii_case(framing))
        {
            continue;
        }
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("header {name:?}: not a valid name"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("header {name}: not a valid value"))?;
        request.headers_mut().insert(header, value);
    }
    Ok(request)
}

/// `250 ms`, `5 s`, `1.5 s`.
fn describe(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1_000 {
        format!("{millis} ms")
    } else if millis.is_multiple_of(1_000) {
        format!("{} s", millis / 1_000)
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::crypto_provider;
    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    /// What a test server received: method, path, headers and body.
    #[derive(Debug)]
    struct Received {
        method: String,
        path: String,
        headers: hyper::HeaderMap,
        body: Bytes,
    }

    /// A client config that trusts no certificate at all.
    fn no_roots_client_config() -> Arc<ClientConfig> {
        Arc::new(
            ClientConfig::builder_with_provider(crypto_provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        )
    }

    /// An HTTP/1.1 server on 127.0.0.1:0 (TLS with `tls`) answering every request with `status`
    /// and `answer` bytes of body; each request is reported on the channel.
    async fn server(
        status: u16,
        answer: usize,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> (u16, mpsc::UnboundedReceiver<Received>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (report, received) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let report = report.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: hyper::Request<Incoming>| {
                        let report = report.clone();
                        async move {
                            let (head, body) = request.into_parts();
                            let body = body.collect().await.unwrap().to_bytes();
                            let _ = report.send(Received {
                                method: head.method.to_string(),
                                path: head.uri.to_string(),
                                headers: head.headers,
                                body,
                            });
                            let response = hyper::Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::from(vec![b'x'; answer])))
                                .unwrap();
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let http = hyper::server::conn::http1::Builder::new();
                    match tls {
                        None => {
                            let _ = http.serve_connection(TokioIo::new(tcp), service).await;
                        }
                        Some(config) => {
                            let acceptor = tokio_rustls::TlsAcceptor::from(config);
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                let _ = http.serve_connection(TokioIo::new(stream), service).await;
                            }
                        }
                    }
                });
            }
        });
        (port, received)
    }

    #[test]
    fn urls_are_taken_apart_without_echoing_them() {
        let endpoint =
            Endpoint::parse("https://hooks.example.com/services/T0/B0/SECRET?x=1").unwrap();
        assert!(endpoint.is_tls());
        assert_eq!(
            (endpoint.host(), endpoint.port(), endpoint.authority()),
            ("hooks.example.com", 443, "hooks.example.com")
        );
        assert_eq!(endpoint.path_and_query(), "/services/T0/B0/SECRET?x=1");
        assert_eq!(endpoint.origin(), "https://hooks.example.com");
        assert!(!format!("{endpoint:?}").contains("SECRET"));

        let endpoint = Endpoint::parse("http://[::1]:9093").unwrap();
        assert_eq!((endpoint.host(), endpoint.port()), ("::1", 9093));
        assert_eq!(endpoint.authority(), "[::1]:9093");
        assert_eq!(endpoint.path_and_query(), "/");

        for bad in [
            "ftp://example.com/SECRET",
            "/relative/SECRET",
            "http://user:SECRET@example.com/",
            "not a url SECRET",
        ] {
            let error = Endpoint::parse(bad).unwrap_err();
            assert!(!error.contains("SECRET"), "{bad}: {error}");
        }
    }

    #[tokio::test]
    async fn a_post_sends_host_type_headers_and_body_and_returns_the_status() {
        let (port, mut received) = server(202, 10, None).await;
        let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{port}/hook?k=v")).unwrap();
        let headers = vec![
            ("authorization".to_string(), "Bearer s3cret".to_string()),
            ("content-length".to_string(), "999".to_string()),
            ("host".to_string(), "elsewhere".to_string()),
        ];
        let status = post(
            &endpoint,
            endpoint.path_and_query(),
            &headers,
            "application/json",
            Bytes::from_static(b"{\"a\":1}"),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(status, 202);
        let request = received.recv().await.unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/hook?k=v");
        assert_eq!(request.body.as_ref(), b"{\"a\":1}");
        let header = |name: &str| request.headers[name].to_str().unwrap().to_string();
        assert_eq!(header("host"), format!("127.0.0.1:{port}"));
        assert_eq!(header("content-type"), "application/json");
        assert_eq!(header("content-length"), "7");
        assert_eq!(header("authorization"), "Bearer s3cret");
        assert!(header("user-agent").starts_with("gatewatch/"));
    }

    #[tokio::test]
    async fn a_long_answer_is_read_in_part_and_its_status_kept() {
        let (port, _received) = server(500, 1 << 20, None).await;
        let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let status = post(
            &endpoint,
            "/",
            &[],
            "text/plain",
            Bytes::new(),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(status, 500);
    }

    #[tokio::test]
    async fn every_step_is_bounded_by_the_deadline() {
        // Accepts and reads, never answers.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (accepted, mut connections) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let (mut tcp, _) = listener.accept().await.unwrap();
                let _ = accepted.send(());
                tokio::spawn(async move {
                    let mut buffer = [0u8; 1024];
                    while tcp.read(&mut buffer).await.is_ok_and(|n| n > 0) {}
                });
            }
        });
        let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{port}/SECRET")).unwrap();
        let headers = [("authorization".to_string(), "Bearer s3cret".to_string())];
        let error = post(
            &endpoint,
            endpoint.path_and_query(),
            &headers,
            "application/json",
            Bytes::new(),
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
        connections.recv().await.unwrap();
        assert_eq!(
            error,
            format!("waiting for an answer from 127.0.0.1:{port} took longer than 200 ms")
        );

        // A TLS endpoint whose server never starts the handshake.
        let endpoint = Endpoint::parse(&format!("https://localhost:{port}/"))
            .unwrap()
            .with_client_config(no_roots_client_config());
        let error = post(
            &endpoint,
            "/",
            &[],
            "text/plain",
            Bytes::new(),
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
        assert!(error.starts_with("connecting to localhost:"), "{error}");
    }

    #[tokio::test]
    async fn failures_name_the_step_never_a_header_value() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{port}/SECRET")).unwrap();
        let error = post(
            &endpoint,
            endpoint.path_and_query(),
            &[],
            "application/json",
            Bytes::new(),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(
            error.starts_with(&format!("cannot connect to 127.0.0.1:{port}:")),
            "{error}"
        );

        let headers = [("x-token".to_string(), "s3cret\nvalue".to_string())];
        let error = post(
            &endpoint,
            "/",
            &headers,
            "text/plain",
            Bytes::new(),
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert_eq!(error, "header x-token: not a valid value");
    }

    #[tokio::test]
    async fn https_is_verified_with_the_config_given() {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let server_config = rustls::ServerConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .unwrap();
        let (port, mut received) = server(204, 0, Some(Arc::new(server_config))).await;

        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der().clone()).unwrap();
        let trusting = ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let url = format!("https://localhost:{port}/alerts");
        let endpoint = Endpoint::parse(&url)
            .unwrap()
            .with_client_config(Arc::new(trusting));
        let status = post(
            &endpoint,
            "/alerts",
            &[],
            "text/plain",
            Bytes::from("hi"),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(status, 204);
        assert_eq!(received.recv().await.unwrap().body.as_ref(), b"hi");

        let untrusting = Endpoint::parse(&url)
            .unwrap()
            .with_client_config(no_roots_client_config());
        let error = post(
            &untrusting,
            "/alerts",
            &[],
            "text/plain",
            Bytes::new(),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(
            error.starts_with(&format!("TLS with localhost:{port}:")),
            "{error}"
        );
    }
}
