//! The floor: how little user-space CPU a Tokio HTTP/1.1 relay can spend per request on this
//! box, measured by `bench/floor.sh` beside nginx and Gatewatch. Not product code and not a
//! proxy anyone should run: `Content-Length` bodies only, one target, no routing, no recording.
//!
//! It does the header work Gatewatch and the nginx peer do — hop-by-hop headers dropped,
//! `X-Forwarded-For/Proto/Host` added, `X-Request-Id` propagated or made and returned — with
//! one current-thread runtime per core (as Gatewatch's workers), `SO_REUSEPORT` listeners, one
//! kept-alive upstream connection per client connection, heads parsed with `httparse` and
//! written from one buffer per message (one `write` per message, as nginx).
//!
//! With `typed` as a third argument, the heads go through the `http` crate's types (`Method`,
//! `Uri`, `HeaderMap`, `StatusCode`) and the header work is done on a `HeaderMap`, as in
//! Gatewatch's pipeline: what a hot path keeping those types would cost.
//!
//! Usage: `relay-floor LISTEN UPSTREAM [typed]`, e.g. `relay-floor 127.0.0.1:8600 127.0.0.1:9001`.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

mod typed;

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];
const MAX_HEADERS: usize = 64;

static REQUEST_IDS: AtomicU64 = AtomicU64::new(0);

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = || {
        io::Error::new(
            ErrorKind::InvalidInput,
            "usage: relay-floor LISTEN UPSTREAM",
        )
    };
    let listen: SocketAddr = args
        .next()
        .ok_or_else(usage)?
        .parse()
        .map_err(|_| usage())?;
    let upstream: SocketAddr = args
        .next()
        .ok_or_else(usage)?
        .parse()
        .map_err(|_| usage())?;
    let typed = match args.next().as_deref() {
        None => false,
        Some("typed") => true,
        Some(_) => return Err(usage()),
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers: Vec<_> = (0..cores)
        .map(|_| std::thread::spawn(move || serve_on_this_thread(listen, upstream, typed)))
        .collect();
    for worker in workers {
        worker
            .join()
            .map_err(|_| io::Error::other("worker panicked"))??;
    }
    Ok(())
}

fn serve_on_this_thread(listen: SocketAddr, upstream: SocketAddr, typed: bool) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async move {
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseport(true)?;
        socket.bind(listen)?;
        let listener = socket.listen(1024)?;
        loop {
            let (client, peer) = listener.accept().await?;
            client.set_nodelay(true)?;
            tokio::spawn(async move {
                let _ = relay(client, peer, upstream, typed).await;
            });
        }
    })
}

/// Relays the client's requests one by one until either side closes.
async fn relay(
    mut client: TcpStream,
    peer: SocketAddr,
    target: SocketAddr,
    typed: bool,
) -> io::Result<()> {
    let mut upstream: Option<TcpStream> = None;
    let mut from_client = Vec::with_capacity(8192);
    let mut from_upstream = Vec::with_capacity(32 * 1024);
    let mut out = Vec::with_capacity(32 * 1024);
    let client_ip = peer.ip().to_string();
    loop {
        let request = read_request(&mut client, &mut from_client, &mut out, &client_ip, typed);
        let Some((head_len, body_len, request_id)) = request.await? else {
            return Ok(());
        };
        if !append_body(&mut client, &mut from_client, head_len, body_len, &mut out).await? {
            return Ok(());
        }
        from_client.drain(..head_len + body_len);

        if upstream.is_none() {
            let stream = TcpStream::connect(target).await?;
            stream.set_nodelay(true)?;
            upstream = Some(stream);
        }
        let Some(connection) = upstream.as_mut() else {
            return Ok(());
        };
        connection.write_all(&out).await?;
        from_upstream.clear();
        let response = read_response(connection, &mut from_upstream, &mut out, &request_id, typed);
        let Some((head_len, body_len)) = response.await? else {
            return Ok(());
        };
        if !append_body(connection, &mut from_upstream, head_len, body_len, &mut out).await? {
            return Ok(());
        }
        client.write_all(&out).await?;
    }
}

/// Reads until `buffer` holds the message's body (after a head of `head_len` bytes) and appends
/// the body to `out`; `false` when the peer closed first.
async fn append_body(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    head_len: usize,
    body_len: usize,
    out: &mut Vec<u8>,
) -> io::Result<bool> {
    while buffer.len() < head_len + body_len {
        if stream.read_buf(buffer).await? == 0 {
            return Ok(false);
        }
    }
    out.extend_from_slice(&buffer[head_len..head_len + body_len]);
    Ok(true)
}

/// Reads a request head into `buffer` and writes the upstream's version of it into `out` (by
/// [`rewrite_request`], or [`typed::rewrite_request`] if `typed`). Returns the head's length,
/// the body's and the request id; `None` when the client closed.
async fn read_request(
    client: &mut TcpStream,
    buffer: &mut Vec<u8>,
    out: &mut Vec<u8>,
    client_ip: &str,
    typed: bool,
) -> io::Result<Option<(usize, usize, Vec<u8>)>> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        if let httparse::Status::Complete(head_len) =
            request.parse(buffer).map_err(|_| ErrorKind::InvalidData)?
        {
            out.clear();
            let (body_len, request_id) = if typed {
                typed::rewrite_request(&request, out, client_ip)?
            } else {
                rewrite_request(&request, out, client_ip)
            };
            return Ok(Some((head_len, body_len, request_id)));
        }
        if client.read_buf(buffer).await? == 0 {
            return Ok(None);
        }
    }
}

/// Reads a response head into `buffer` and writes the client's version of it into `out` (by
/// [`rewrite_response`], or [`typed::rewrite_response`] if `typed`). Returns the head's length
/// and the body's; `None` when the upstream closed.
async fn read_response(
    upstream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    out: &mut Vec<u8>,
    request_id: &[u8],
    typed: bool,
) -> io::Result<Option<(usize, usize)>> {
    loop {
        if upstream.read_buf(buffer).await? == 0 {
            return Ok(None);
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head_len) =
            response.parse(buffer).map_err(|_| ErrorKind::InvalidData)?
        {
            out.clear();
            let body_len = if typed {
                typed::rewrite_response(&response, out, request_id)?
            } else {
                rewrite_response(&response, out, request_id)
            };
            return Ok(Some((head_len, body_len)));
        }
    }
}

/// Writes the upstream's version of `request` into `out`; returns the body's length and the
/// request id.
fn rewrite_request(
    request: &httparse::Request,
    out: &mut Vec<u8>,
    client_ip: &str,
) -> (usize, Vec<u8>) {
    out.extend_from_slice(request.method.unwrap_or("GET").as_bytes());
    out.push(b' ');
    out.extend_from_slice(request.path.unwrap_or("/").as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let (mut host, mut request_id, mut forwarded_for) = (&b""[..], None, None);
    for header in request.headers.iter() {
        let name = header.name;
        if HOP_BY_HOP.iter().any(|hop| name.eq_ignore_ascii_case(hop)) {
            continue;
        } else if name.eq_ignore_ascii_case("host") {
            host = header.value;
        } else if name.eq_ignore_ascii_case("x-request-id") {
            request_id = Some(header.value.to_vec());
        } else if name.eq_ignore_ascii_case("x-forwarded-for") {
            forwarded_for = Some(header.value);
        } else {
            push_header(out, name.as_bytes(), header.value);
        }
    }
    let request_id = request_id.unwrap_or_else(new_request_id);
    push_header(out, b"host", b"127.0.0.1");
    out.extend_from_slice(b"x-forwarded-for: ");
    if let Some(before) = forwarded_for {
        out.extend_from_slice(before);
        out.extend_from_slice(b", ");
    }
    out.extend_from_slice(client_ip.as_bytes());
    out.extend_from_slice(b"\r\n");
    push_header(out, b"x-forwarded-proto", b"http");
    push_header(out, b"x-forwarded-host", host);
    push_header(out, b"x-request-id", &request_id);
    out.extend_from_slice(b"\r\n");
    (content_length(request.headers), request_id)
}

/// Writes the client's version of `response` into `out`; returns the body's length.
fn rewrite_response(response: &httparse::Response, out: &mut Vec<u8>, request_id: &[u8]) -> usize {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(response.code.unwrap_or(502).to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(response.reason.unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for header in response.headers.iter() {
        if !HOP_BY_HOP
            .iter()
            .any(|hop| header.name.eq_ignore_ascii_case(hop))
        {
            push_header(out, header.name.as_bytes(), header.value);
        }
    }
    push_header(out, b"x-request-id", request_id);
    out.extend_from_slice(b"\r\n");
    content_length(response.headers)
}

/// A new request id: 16 hex digits of a per-process counter.
pub(crate) fn new_request_id() -> Vec<u8> {
    format!("{:016x}", REQUEST_IDS.fetch_add(1, Ordering::Relaxed)).into_bytes()
}

pub(crate) fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn content_length(headers: &[httparse::Header]) -> usize {
    headers
        .iter()
        .find(|header| header.name.eq_ignore_ascii_case("content-length"))
        .and_then(|header| std::str::from_utf8(header.value).ok()?.trim().parse().ok())
        .unwrap_or(0)
}
