//! Request smuggling, sent on raw sockets: each vector is refused (400) or normalised, and none
//! desynchronises the kept-alive upstream connection. The upstream is a strict HTTP/1.1 parser
//! that logs every request it reads (head and body, framed as it understands them); each test
//! primes the gateway's pool with one request, sends the attack on the same client connection,
//! then a normal request on a new client connection, and asserts that the upstream saw exactly
//! the requests the gateway answered, all on the connection the priming request opened (unless
//! the attack broke it off, when the follow-up must arrive on a fresh one).

use crate::support::*;
use gatewatch::server::proxy::workers;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(5);

/// One request as the upstream read it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    /// Which upstream connection it came on (0 for the first accepted).
    connection: usize,
    /// `METHOD target`, or `unparseable: …` for bytes that are no request.
    line: String,
    body: String,
    /// The body ended as its framing said (not cut by the connection closing).
    complete: bool,
}

fn seen(connection: usize, line: &str, body: &str) -> Seen {
    Seen {
        connection,
        line: line.to_string(),
        body: body.to_string(),
        complete: true,
    }
}

/// An upstream that parses requests strictly and answers each with what it read.
struct LoggingUpstream {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl LoggingUpstream {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(AtomicUsize::new(0));
        let logged = log.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let connection = accepted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, connection, logged.clone()));
            }
        });
        Self { addr, log }
    }

    fn log(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }
}

/// Reads more bytes into `buffer`; false once the peer has closed.
async fn fill(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 8192];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(read) => {
            buffer.extend_from_slice(&chunk[..read]);
            true
        }
    }
}

/// Takes a CRLF-terminated line off `buffer` (reading as needed); `Err` on a bare LF, `Ok(None)`
/// once the peer has closed.
async fn line(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<Option<Vec<u8>>, ()> {
    loop {
        if let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            if end == 0 || buffer[end - 1] != b'\r' {
                return Err(());
            }
            let line = buffer.drain(..=end).collect::<Vec<u8>>();
            return Ok(Some(line[..line.len() - 2].to_vec()));
        }
        if !fill(stream, buffer).await {
            return Ok(None);
        }
    }
}

/// A body as read: its bytes, and whether it ended as framed (false: the connection closed).
type Body = (Vec<u8>, bool);

/// Reads a chunked body strictly (CRLF after each line and each chunk).
async fn chunked_body(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<Body, ()> {
    let mut body = Vec::new();
    loop {
        let Some(size_line) = line(stream, buffer).await? else {
            return Ok((body, false));
        };
        let size = std::str::from_utf8(&size_line).map_err(|_| ())?;
        let size = size.split(';').next().unwrap_or("");
        let size = u64::from_str_radix(size, 16).map_err(|_| ())?;
        if size == 0 {
            // Trailers until an empty line.
            loop {
                match line(stream, buffer).await? {
                    None => return Ok((body, false)),
                    Some(trailer) if trailer.is_empty() => return Ok((body, true)),
                    Some(_) => {}
                }
            }
        }
        let size = usize::try_from(size).map_err(|_| ())? + 2;
        while buffer.len() < size {
            if !fill(stream, buffer).await {
                body.extend_from_slice(buffer);
                return Ok((body, false));
            }
        }
        if &buffer[size - 2..size] != b"\r\n" {
            return Err(());
        }
        body.extend_from_slice(&buffer[..size - 2]);
        buffer.drain(..size);
    }
}

/// Reads a body of `length` bytes.
async fn sized_body(stream: &mut TcpStream, buffer: &mut Vec<u8>, length: usize) -> Body {
    while buffer.len() < length {
        if !fill(stream, buffer).await {
            return (std::mem::take(buffer), false);
        }
    }
    (buffer.drain(..length).collect(), true)
}

/// Reads one request off the connection: its line and its body, `Ok(None)` once the peer
/// closed between requests, `Err` with the reason for bytes that are no request.
async fn request(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> Result<Option<(String, Body)>, String> {
    let (line, codings, lengths) = loop {
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut fields);
        match request.parse(buffer) {
            Ok(httparse::Status::Complete(end)) => {
                let values = |name: &str| {
                    request
                        .headers
                        .iter()
                        .filter(|field| field.name.eq_ignore_ascii_case(name))
                        .map(|field| String::from_utf8_lossy(field.value).to_string())
                        .collect::<Vec<_>>()
                };
                let (codings, lengths) = (values("transfer-encoding"), values("content-length"));
                let line = format!(
                    "{} {}",
                    request.method.unwrap_or(""),
                    request.path.unwrap_or("")
                );
                buffer.drain(..end);
                break (line, codings, lengths);
            }
            Ok(httparse::Status::Partial) => {
                if !fill(stream, buffer).await {
                    return if buffer.is_empty() {
                        Ok(None)
                    } else {
                        Err(format!("cut off: {:?}", String::from_utf8_lossy(buffer)))
                    };
                }
            }
            Err(error) => {
                return Err(format!("{error}: {:?}", String::from_utf8_lossy(buffer)));
            }
        }
    };
    let body = match (codings.as_slice(), lengths.as_slice()) {
        ([], []) => (Vec::new(), true),
        ([coding], []) if coding.eq_ignore_ascii_case("chunked") => chunked_body(stream, buffer)
            .await
            .map_err(|()| format!("{line}: a malformed chunked body"))?,
        ([], [length]) => {
            let length = length
                .parse()
                .map_err(|_| format!("{line}: content-length {length:?}"))?;
            sized_body(stream, buffer, length).await
        }
        _ => return Err(format!("{line}: framed by {codings:?} and {lengths:?}")),
    };
    Ok(Some((line, body)))
}

/// Serves one connection: reads requests in turn, logging each, and answers each `200` with
/// its request line and body length; bytes that are no request are logged and end it.
async fn serve(mut stream: TcpStream, connection: usize, log: Arc<Mutex<Vec<Seen>>>) {
    let mut buffer = Vec::new();
    loop {
        let entry = match request(&mut stream, &mut buffer).await {
            Ok(None) => return,
            Ok(Some((line, (body, complete)))) => Seen {
                connection,
                line,
                body: String::from_utf8_lossy(&body).to_string(),
                complete,
            },
            Err(reason) => Seen {
                connection,
                line: format!("unparseable: {reason}"),
                body: String::new(),
                complete: false,
            },
        };
        let answer = format!("{} ({} body bytes)", entry.line, entry.body.len());
        let ends = !entry.complete;
        log.lock().unwrap().push(entry);
        if ends {
            return;
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// A response as the client read it.
#[derive(Debug)]
struct Response {
    status: u16,
    body: String,
}

/// Reads one response (its body sized by `content-length`, or read to the close); `None` if the
/// connection closed before a head.
async fn read_response(stream: &mut TcpStream) -> Option<Response> {
    let mut buffer = Vec::new();
    tokio::time::timeout(WAIT, async {
        let (status, length, end) = loop {
            let mut fields = [httparse::EMPTY_HEADER; 64];
            let mut response = httparse::Response::new(&mut fields);
            if let httparse::Status::Complete(end) = response.parse(&buffer).expect("a response") {
                let length = response
                    .headers
                    .iter()
                    .find(|field| field.name.eq_ignore_ascii_case("content-length"))
                    .map(|field| std::str::from_utf8(field.value).unwrap().parse().unwrap());
                break (response.code.unwrap(), length, end);
            }
            if !fill(stream, &mut buffer).await {
                return None;
            }
        };
        buffer.drain(..end);
        match length {
            Some(length) => {
                while buffer.len() < length {
                    assert!(fill(stream, &mut buffer).await, "a response cut short");
                }
            }
            None => while fill(stream, &mut buffer).await {},
        }
        Some(Response {
            status,
            body: String::from_utf8_lossy(&buffer).to_string(),
        })
    })
    .await
    .expect("the gateway answered in time")
}

/// Waits for the gateway to close `stream`, reading and dropping whatever comes before.
async fn assert_closed(stream: &mut TcpStream) {
    let mut ignored = Vec::new();
    tokio::time::timeout(WAIT, async { while fill(stream, &mut ignored).await {} })
        .await
        .expect("the gateway closed the client connection");
}

/// The gateway, its upstream, and the client connection the pool was primed on.
struct Scene {
    upstream: LoggingUpstream,
    gateway: TestGateway,
    attacker: TcpStream,
    /// Client connections that keep every other worker busier than the attacker's, so that a
    /// new connection is served by the attacker's worker and draws on its share of the pool.
    _fillers: Vec<TcpStream>,
}

const PRIME: &[u8] = b"GET /prime HTTP/1.1\r\nhost: smuggling.test\r\n\r\n";
const FOLLOW_UP: &[u8] = b"GET /follow-up HTTP/1.1\r\nhost: smuggling.test\r\n\r\n";

impl Scene {
    /// A gateway with one route to one logging upstream, and one request through it on a new
    /// client connection, whose upstream connection now waits in the pool.
    async fn primed() -> Self {
        let upstream = LoggingUpstream::start().await;
        let gateway = TestGateway::start(json!({"routes": [
            {"name": "one", "path": "*", "targets": [format!("http://{}", upstream.addr)],
             "timeout_ms": 1000},
        ]}))
        .await;
        let mut attacker = TcpStream::connect(gateway.running.proxy_addr)
            .await
            .unwrap();
        attacker.write_all(PRIME).await.unwrap();
        let primed = read_response(&mut attacker).await.unwrap();
        assert_eq!(primed.body, "GET /prime (0 body bytes)");
        // The attacker's connection went to the first worker (every worker was idle); these go
        // to the others, one each.
        let mut fillers = Vec::new();
        for _ in 1..workers::worker_count() {
            fillers.push(
                TcpStream::connect(gateway.running.proxy_addr)
                    .await
                    .unwrap(),
            );
        }
        Self {
            upstream,
            gateway,
            attacker,
            _fillers: fillers,
        }
    }

    /// Sends `attack` on the primed connection and reads the gateway's answer (`None`: it
    /// closed the connection without one).
    async fn attack(&mut self, attack: &[u8]) -> Option<Response> {
        self.attacker.write_all(attack).await.unwrap();
        read_response(&mut self.attacker).await
    }

    /// Sends a normal request on a new client connection, checks its answer, and returns the
    /// requests the upstream read, in order.
    async fn follow_up(self) -> Vec<Seen> {
        drop(self.attacker);
        let mut client = TcpStream::connect(self.gateway.running.proxy_addr)
            .await
            .unwrap();
        client.write_all(FOLLOW_UP).await.unwrap();
        let answer = read_response(&mut client).await.unwrap();
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (200, "GET /follow-up (0 body bytes)"),
            "the follow-up gets its own answer"
        );
        let log = self.upstream.log();
        assert!(self.gateway.stop(WAIT).await);
        log
    }
}

/// The upstream log when the attack never reached the upstream: the priming request and the
/// follow-up, on one kept-alive connection.
fn untouched() -> Vec<Seen> {
    vec![seen(0, "GET /prime", ""), seen(0, "GET /follow-up", "")]
}

/// The upstream log when the attack was forwarded as one request with `body`.
fn forwarded(line: &str, body: &str) -> Vec<Seen> {
    vec![
        seen(0, "GET /prime", ""),
        seen(0, line, body),
        seen(0, "GET /follow-up", ""),
    ]
}

/// A request the upstream would read as a second one if the attack's body were misframed.
const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nhost: smuggling.test\r\n\r\n";

/// A chunked body carrying [`SMUGGLED`] as its data.
fn chunked_smuggled() -> String {
    format!("{:x}\r\n{SMUGGLED}\r\n0\r\n\r\n", SMUGGLED.len())
}

/// Sends `attack` and asserts the gateway refused it with 400 and the upstream never saw it.
async fn assert_refused(attack: &[u8]) {
    let mut scene = Scene::primed().await;
    let answer = scene.attack(attack).await;
    assert_eq!(answer.map(|answer| answer.status), Some(400));
    assert_closed(&mut scene.attacker).await;
    // The upstream read nothing of the attack, so no connection of its can be out of step:
    // which pooled connection the follow-up took does not matter here (it depends on which
    // worker the new client connection went to).
    let without_connections = |log: Vec<Seen>| {
        log.into_iter()
            .map(|seen| (seen.line, seen.body, seen.complete))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        without_connections(scene.follow_up().await),
        without_connections(untouched())
    );
}

/// Sends an attack carrying both framings whose chunked body is [`SMUGGLED`], and asserts the
/// gateway went by the chunks (the upstream read the smuggled request as the body, not as a
/// request), and closed the client connection after answering (RFC 9112 §6.3), so that a
/// proxy in front that went by the length cannot have its next request read from the rest.
async fn assert_framed_by_chunks(framing_headers: &str) {
    let mut scene = Scene::primed().await;
    let attack = format!(
        "POST /attack HTTP/1.1\r\nhost: smuggling.test\r\n{framing_headers}\r\n\r\n{}",
        chunked_smuggled()
    );
    let answer = scene.attack(attack.as_bytes()).await.unwrap();
    assert_eq!(
        (answer.status, answer.body),
        (200, format!("POST /attack ({} body bytes)", SMUGGLED.len()))
    );
    assert_closed(&mut scene.attacker).await;
    assert_eq!(scene.follow_up().await, forwarded("POST /attack", SMUGGLED));
}

#[tokio::test]
async fn cl_te_goes_by_the_chunks_and_closes() {
    // A front end going by the length would pass "0\r\n\r\nGET /smuggled …" on as one body.
    let mut scene = Scene::primed().await;
    let attack = format!(
        "POST /attack HTTP/1.1\r\nhost: smuggling.test\r\ncontent-length: {}\r\n\
         transfer-encoding: chunked\r\n\r\n0\r\n\r\n{SMUGGLED}",
        5 + SMUGGLED.len()
    );
    let answer = scene.attack(attack.as_bytes()).await.unwrap();
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "POST /attack (0 body bytes)")
    );
    assert_closed(&mut scene.attacker).await;
    assert_eq!(scene.follow_up().await, forwarded("POST /attack", ""));
}

#[tokio::test]
async fn te_cl_goes_by_the_chunks_and_closes() {
    // A front end going by the length would stop after the chunk-size line.
    assert_framed_by_chunks("transfer-encoding: chunked\r\ncontent-length: 4").await;
}

#[tokio::test]
async fn te_te_xchunked_is_refused() {
    assert_refused(
        format!(
            "POST /attack HTTP/1.1\r\nhost: smuggling.test\r\ncontent-length: 4\r\n\
             transfer-encoding: xchunked\r\n\r\n{}",
            chunked_smuggled()
        )
        .as_bytes(),
    )
    .await;
}

#[tokio::test]
async fn te_te_leading_space_is_chunked() {
    assert_framed_by_chunks("content-length: 4\r\ntransfer-encoding:  chunked").await;
}

#[tokio::test]
async fn te_te_trailing_tab_is_chunked() {
    assert_framed_by_chunks("content-length: 4\r\ntransfer-encoding: chunked\t").await;
}

#[tokio::test]
async fn te_te_duplicated_lines_are_chunked_once() {
    assert_framed_by_chunks(
        "content-length: 4\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked",
    )
    .await;
}

#[tokio::test]
async fn te_te_chunked_then_identity_is_refused() {
    assert_refused(
        format!(
            "POST /attack HTTP/1.1\r\nhost: smuggling.test\r\ncontent-length: 4\r\n\
             transfer-encoding: chunked, identity\r\n\r\n{}",
            chunked_smuggled()
        )
        .as_bytes(),
    )
    .await;
}

#[tokio::test]
async fn te_te_chunked_line_then_identity_line_is_refused() {
    assert_refused(
        format!(
            "POST /attack HTTP/1.1\r\nhost: smuggling.test\r\ncontent-length: 4\r\n\
             transfer-encoding: chunked\r\ntransfer-encoding: identity\r\n\r\n{}",
            chunked_smuggled()
        )
        .as_bytes(),
    )
    .await;
}

#[tokio::test]
async fn duplicate_content_length_with_one_value_is_one_length() {
    let mut scene = Scene::primed().await;
    let answer = scene
        .attack(
            b"POST /attack HTTP/1.1\r\nhost: smuggling.test\r\ncontent-length: 5\r\n\
              content-length: 5\r\n\r\nhello",
        )
        .await
        .unwrap();
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "POST /attack (5 body bytes)")
    );
    assert_eq!(scene.follow_up().await, forwarded("POST /attack", "hello"));
}

#[tokio::test]
async fn duplicate_content_length_with_two_values_is_refused() {
    assert_refused(
        format!(
            "POST /attack HTTP/1.1\r\nhost: smuggling.test\r\ncontent-length: 0\r\n\
             content-length: {}\r\n\r\n{SMUGGLED}",
            SMUGGLED.len()
        )
        .as_bytes(),
    )
    .await;
}

#[tokio::test]
async fn content_length_with_a_plus_sign_is_refused() {
    assert_refused(
        b"POST /attack HTTP/1.1\r\nhost: smuggling.test\r\ncontent-length: +5\r\n\r\nhello",
    )
    .await;
}

#[tokio::test]
async fn negative_content_length_is_refused() {
    assert_refused(
        b"POST /attack HTTP/1.1\r\nhost: smuggling.test\r\ncontent-length: -1\r\n\r\nhello",
    )
    .await;
}

#[tokio::test]
async fn hexadecimal_content_length_is_refused() {
    assert_refused(
        b"POST /attack HTTP/1.1\r\nhost: smuggling.test\r\ncontent-length: 0x5\r\n\r\nhello",
    )
    .await;
}

/// Sends a chunked upload whose body hyper refuses part-way, and asserts the exchange failed
/// and its upstream connection was closed with the request unfinished, never reused: the
/// follow-up arrives on a fresh connection.
async fn assert_broken_body_discards_the_connection(body: &str) {
    let mut scene = Scene::primed().await;
    let attack = format!(
        "POST /attack HTTP/1.1\r\nhost: smuggling.test\r\ntransfer-encoding: chunked\r\n\r\n{body}"
    );
    let answer = scene.attack(attack.as_bytes()).await;
    assert!(
        answer.as_ref().is_none_or(|answer| answer.status >= 400),
        "{answer:?}"
    );
    let mut log = scene.follow_up().await;
    // The cut-off request is logged when the upstream sees its connection close, which may
    // come after the follow-up; each connection's requests are in order.
    log.sort_by_key(|seen| seen.connection);
    let cut_off = Seen {
        complete: false,
        ..seen(0, "POST /attack", "")
    };
    assert_eq!(
        log,
        [
            seen(0, "GET /prime", ""),
            cut_off,
            seen(1, "GET /follow-up", "")
        ]
    );
}

#[tokio::test]
async fn an_overflowing_chunk_size_breaks_the_exchange_off() {
    assert_broken_body_discards_the_connection(&format!(
        "10000000000000005\r\nhello\r\n0\r\n\r\n{SMUGGLED}"
    ))
    .await;
}

#[tokio::test]
async fn bare_lf_line_endings_are_normalised() {
    let mut scene = Scene::primed().await;
    let answer = scene
        .attack(b"POST /attack HTTP/1.1\nhost: smuggling.test\ncontent-length: 5\n\nhello")
        .await
        .unwrap();
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "POST /attack (5 body bytes)")
    );
    assert_eq!(scene.follow_up().await, forwarded("POST /attack", "hello"));
}

#[tokio::test]
async fn bare_lf_in_chunk_lines_breaks_the_exchange_off() {
    assert_broken_body_discards_the_connection(&format!("5\nhello\n0\n\n{SMUGGLED}")).await;
}

#[tokio::test]
async fn obs_fold_is_refused() {
    assert_refused(
        b"POST /attack HTTP/1.1\r\nhost: smuggling.test\r\nx-folded: a\r\n content-length: 5\r\n\r\nhello",
    )
    .await;
}

#[tokio::test]
async fn obs_fold_with_a_tab_is_refused() {
    assert_refused(
        b"POST /attack HTTP/1.1\r\nhost: smuggling.test\r\nx-folded: a\r\n\tcontent-length: 5\r\n\r\nhello",
    )
    .await;
}

#[tokio::test]
async fn a_space_before_the_colon_is_refused() {
    assert_refused(
        b"POST /attack HTTP/1.1\r\nhost: smuggling.test\r\ncontent-length : 5\r\n\r\nhello",
    )
    .await;
}

#[tokio::test]
async fn nul_in_a_header_value_is_refused() {
    assert_refused(b"GET /attack HTTP/1.1\r\nhost: smuggling.test\r\nx-a: a\0b\r\n\r\n").await;
}

#[tokio::test]
async fn a_control_character_in_a_header_value_is_refused() {
    assert_refused(b"GET /attack HTTP/1.1\r\nhost: smuggling.test\r\nx-a: a\x01b\r\n\r\n").await;
}

#[tokio::test]
async fn a_bare_cr_in_a_header_value_is_refused() {
    assert_refused(b"GET /attack HTTP/1.1\r\nhost: smuggling.test\r\nx-a: a\rb\r\n\r\n").await;
}

#[tokio::test]
async fn transfer_encoding_in_http_1_0_is_refused() {
    assert_refused(
        format!(
            "POST /attack HTTP/1.0\r\nhost: smuggling.test\r\ntransfer-encoding: chunked\r\n\r\n{}",
            chunked_smuggled()
        )
        .as_bytes(),
    )
    .await;
}
