//! HTTP/1.1 on raw sockets, for tests that must send bytes an HTTP client would not (dot
//! segments, broken framing, half a head) or watch exactly when the gateway closes.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads what arrives onto `into`; 0 at the end (or on an error: a reset ends it too).
pub async fn read_more(stream: &mut TcpStream, into: &mut Vec<u8>) -> usize {
    let mut chunk = [0u8; 16 * 1024];
    let read = stream.read(&mut chunk).await.unwrap_or(0);
    into.extend_from_slice(&chunk[..read]);
    read
}

/// Reads until the peer closes the connection (EOF or reset); fails if it is still open after
/// `within`, with what had arrived. Returns what arrived.
pub async fn read_to_close(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut received = Vec::new();
    let closed = tokio::time::timeout(within, async {
        while read_more(stream, &mut received).await > 0 {}
    })
    .await;
    assert!(
        closed.is_ok(),
        "the connection is still open after {within:?}; received {:?}",
        String::from_utf8_lossy(&received)
    );
    received
}

/// Where `needle` first starts in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Sends `head` (a whole request head, asking to close) on a new connection; returns the
/// status, the head as text and the body (de-chunked).
pub async fn raw_request(addr: SocketAddr, head: &str) -> (u16, String, String) {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    socket.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut socket, Duration::from_secs(5)).await;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole head");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, head.to_string(), body)
}

/// The data of a whole chunked body.
pub fn dechunk(mut chunked: &str) -> String {
    let mut body = String::new();
    while let Some((size, rest)) = chunked.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        body.push_str(&rest[..size]);
        chunked = &rest[size + 2..];
    }
    body
}
