//! HTTP/1.1 as the upstream connection speaks it: the request head written in one buffer, the
//! response head parsed with `httparse`, and how the response body is framed (RFC 9112 §6):
//! no body, a length, chunks (decoded by [`ChunkedDecoder`]), or until the upstream closes.
//!
//! Every input is bounded: a response head over [`MAX_HEAD`] bytes or [`MAX_HEADERS`] fields, a
//! chunk-size line or trailer section over [`MAX_LINE`] bytes, is a [`WireError`].
//!
//! Framing rules for an upstream response, strict where two readings of the same bytes could
//! differ (each refusal is a [`WireError`]: the client gets a 502 and the connection is closed):
//! - `Transfer-Encoding` decides when present: it must be `chunked`, listed once and alone, as
//!   nginx requires (`gzip` alone, or `chunked, gzip`, is refused: the body's end could only be
//!   guessed; `gzip, chunked` too: the client would get gzip bytes with nothing saying so, since
//!   transfer codings end at this hop and only `Content-Encoding` travels on). With
//!   a `Content-Length` as well, the chunks frame the body, the `Content-Length` is dropped and
//!   the connection is not reused (RFC 9112 §6.3: such a message may be an attempt at
//!   smuggling), as it is not after a `Transfer-Encoding` in an HTTP/1.0 answer (§6.1).
//! - `Content-Length` must be one decimal number: a second value, equal or not, in one field
//!   or two, is refused (as nginx does).
//! - A chunk size has at most 15 hex digits (no overflow, whatever arrives); a longer or
//!   malformed one breaks the body off (the client sees an aborted body).
//! - Obsolete line folding (a field line starting with a space or tab), a space between a
//!   field name and its colon, and control characters in a value are refused, as `httparse`
//!   does by default.
//! - A bare LF ends a line as CRLF does (RFC 9112 §2.2 lets a recipient accept it; `httparse`
//!   does, deliberately): the gateway is the only reader of these bytes and writes a head of its
//!   own to the client, so no second parser can disagree about where a line ends. A CR anywhere
//!   but before an LF is refused.

use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, Response, StatusCode, Version};
use bytes::{BufMut, Bytes, BytesMut};

/// Largest response head accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most response header fields accepted.
pub const MAX_HEADERS: usize = 100;
/// Largest chunk-size line, and largest trailer section, accepted.
pub const MAX_LINE: usize = 4 * 1024;

/// An upstream message that breaks HTTP/1.1 or the bounds above.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("response head: {0}")]
    Head(httparse::Error),
    #[error("response head over {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("invalid status code")]
    Status,
    #[error("invalid header field")]
    Field,
    #[error("invalid or repeated content-length")]
    ContentLength,
    #[error("transfer-encoding other than chunked alone")]
    TransferCoding,
    #[error("invalid chunk size line")]
    ChunkSize,
    #[error("chunk not followed by CRLF")]
    ChunkEnd,
    #[error("trailer section over {MAX_LINE} bytes")]
    Trailers,
}

/// How a request body is framed on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestFraming {
    /// No body and no length header (a GET, say).
    None,
    /// `content-length: n`.
    Length(u64),
    /// `transfer-encoding: chunked` (a streamed body of unknown length).
    Chunked,
}

/// The request head as bytes: request line in origin form, the headers as they are (except
/// framing headers, which `framing` decides), then the framing header.
pub fn encode_request_head(parts: &Parts, framing: RequestFraming) -> Bytes {
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let fields: usize = parts
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    let mut head =
        BytesMut::with_capacity(parts.method.as_str().len() + target.len() + fields + 64);
    head.put_slice(parts.method.as_str().as_bytes());
    head.put_u8(b' ');
    head.put_slice(target.as_bytes());
    head.put_slice(b" HTTP/1.1\r\n");
    for (name, value) in &parts.headers {
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            continue;
        }
        head.put_slice(name.as_str().as_bytes());
        head.put_slice(b": ");
        head.put_slice(value.as_bytes());
        head.put_slice(b"\r\n");
    }
    match framing {
        RequestFraming::None => {}
        RequestFraming::Length(length) => {
            head.put_slice(b"content-length: ");
            head.put_slice(itoa::Buffer::new().format(length).as_bytes());
            head.put_slice(b"\r\n");
        }
        RequestFraming::Chunked => head.put_slice(b"transfer-encoding: chunked\r\n"),
    }
    head.put_slice(b"\r\n");
    head.freeze()
}

/// One chunk of a chunked request body: size line, data, CRLF.
pub fn encode_chunk(data: &[u8]) -> Bytes {
    let mut chunk = BytesMut::with_capacity(data.len() + 20);
    let mut size = [0u8; 16];
    let digits = hex(data.len() as u64, &mut size);
    chunk.put_slice(digits);
    chunk.put_slice(b"\r\n");
    chunk.put_slice(data);
    chunk.put_slice(b"\r\n");
    chunk.freeze()
}

/// The end of a chunked body: the last chunk and an empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

fn hex(mut value: u64, out: &mut [u8; 16]) -> &[u8] {
    let mut start = out.len();
    loop {
        start -= 1;
        out[start] = b"0123456789abcdef"[(value & 0xf) as usize];
        value >>= 4;
        if value == 0 {
            return &out[start..];
        }
    }
}

/// How a response body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body: HEAD requests, 204, 304.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the upstream closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Debug)]
pub struct ResponseHead {
    /// Status, headers (version HTTP/1.1: the client's side sets its own).
    pub response: Response<()>,
    pub framing: ResponseFraming,
    /// The upstream lets the connection carry another exchange after this one.
    pub keep_alive: bool,
}

/// Where one field lies in the head: name and value as byte ranges.
#[derive(Clone, Copy, Default)]
struct FieldSpan {
    name: (usize, usize),
    value: (usize, usize),
}

/// Parses a response head at the start of `buffer` and takes it off the buffer: `None` while
/// incomplete. `method` is the request's (a HEAD's answer has no body whatever its headers say).
/// Header values share the head's bytes instead of copying each.
pub fn parse_response_head(
    buffer: &mut BytesMut,
    method: &Method,
) -> Result<Option<ResponseHead>, WireError> {
    let mut spans = [FieldSpan::default(); MAX_HEADERS];
    let (length, status, http10, count) = {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut fields);
        let length = match parsed.parse(buffer) {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) if buffer.len() >= MAX_HEAD => {
                return Err(WireError::HeadTooLarge);
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(error) => return Err(WireError::Head(error)),
        };
        let status = parsed
            .code
            .and_then(|code| StatusCode::from_u16(code).ok())
            .ok_or(WireError::Status)?;
        let base = buffer.as_ptr() as usize;
        let span = |bytes: &[u8]| {
            let start = bytes.as_ptr() as usize - base;
            (start, start + bytes.len())
        };
        for (field, slot) in parsed.headers.iter().zip(spans.iter_mut()) {
            *slot = FieldSpan {
                name: span(field.name.as_bytes()),
                value: span(field.value),
            };
        }
        (
            length,
            status,
            parsed.version == Some(0),
            parsed.headers.len(),
        )
    };
    let head = buffer.split_to(length).freeze();
    let mut headers = HeaderMap::with_capacity(count);
    let mut codings = Codings::default();
    let mut content_length: Option<u64> = None;
    let mut close = false;
    let mut keep_alive_token = false;
    for span in &spans[..count] {
        let name = HeaderName::from_bytes(&head[span.name.0..span.name.1])
            .map_err(|_| WireError::Field)?;
        let value = HeaderValue::from_maybe_shared(head.slice(span.value.0..span.value.1))
            .map_err(|_| WireError::Field)?;
        let text = value.as_bytes();
        if name == header::TRANSFER_ENCODING {
            codings.add(text);
        } else if name == header::CONTENT_LENGTH {
            let length = parse_decimal(text.trim_ascii()).ok_or(WireError::ContentLength)?;
            if content_length.replace(length).is_some() {
                return Err(WireError::ContentLength);
            }
        } else if name == header::CONNECTION {
            for token in list_items(text) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
        headers.append(name, value);
    }
    let mut suspect = false;
    let framing = if method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        ResponseFraming::Empty
    } else if codings.seen {
        if !codings.chunked_only() {
            return Err(WireError::TransferCoding);
        }
        if content_length.is_some() {
            headers.remove(header::CONTENT_LENGTH);
            suspect = true;
        }
        suspect |= http10;
        ResponseFraming::Chunked
    } else if let Some(length) = content_length {
        ResponseFraming::Length(length)
    } else {
        ResponseFraming::UntilClose
    };
    let keep_alive = framing != ResponseFraming::UntilClose
        && !suspect
        && !close
        && (!http10 || keep_alive_token);
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = Version::HTTP_11;
    *response.headers_mut() = headers;
    Ok(Some(ResponseHead {
        response,
        framing,
        keep_alive,
    }))
}

/// The items of a comma-separated header value, trimmed of spaces.
fn list_items(value: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(<[u8]>::trim_ascii)
}

/// The transfer codings of a response, over all its `Transfer-Encoding` fields in order.
#[derive(Clone, Copy, Debug, Default)]
struct Codings {
    /// A `Transfer-Encoding` field was there (even an empty one).
    seen: bool,
    /// The last coding so far is `chunked`.
    chunked_last: bool,
    /// A coding followed `chunked` (chunked twice, or something applied after it).
    after_chunked: bool,
    /// A coding other than `chunked` was applied (`gzip`, `deflate`, an unknown one).
    other: bool,
}

impl Codings {
    fn add(&mut self, value: &[u8]) {
        self.seen = true;
        for coding in list_items(value).filter(|coding| !coding.is_empty()) {
            self.after_chunked |= self.chunked_last;
            self.chunked_last = coding.eq_ignore_ascii_case(b"chunked");
            self.other |= !self.chunked_last;
        }
    }

    /// Whether `chunked` is the one coding, applied once.
    fn chunked_only(self) -> bool {
        self.chunked_last && !self.after_chunked && !self.other
    }
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |value, &digit| {
        digit
            .is_ascii_digit()
            .then(|| value * 10 + u64::from(digit - b'0'))
    })
}

/// What [`ChunkedDecoder::decode`] found in the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Body bytes.
    Data(Bytes),
    /// The buffer ends mid-message: read more.
    NeedMore,
    /// The last chunk and the trailers have been read.
    End,
}

/// Decodes a chunked body as its bytes arrive. Chunk extensions and trailers are read and
/// dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChunkedDecoder {
    /// Expecting a chunk-size line.
    #[default]
    Size,
    /// Inside a chunk, with this much left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines until an empty one; bytes of trailers seen.
    Trailers(usize),
    /// The body has ended.
    Done,
}

impl ChunkedDecoder {
    /// Takes what it can from the front of `buffer`.
    pub fn decode(&mut self, buffer: &mut BytesMut) -> Result<Decoded, WireError> {
        loop {
            match *self {
                Self::Size => {
                    let Some(line) = take_line(buffer, MAX_LINE, WireError::ChunkSize)? else {
                        return Ok(Decoded::NeedMore);
                    };
                    let size = parse_chunk_size(&line).ok_or(WireError::ChunkSize)?;
                    *self = if size == 0 {
                        Self::Trailers(0)
                    } else {
                        Self::Data(size)
                    };
                }
                Self::Data(mut left) => {
                    if buffer.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    let data = take_at_most(buffer, &mut left);
                    *self = if left == 0 {
                        Self::DataEnd
                    } else {
                        Self::Data(left)
                    };
                    return Ok(Decoded::Data(data));
                }
                Self::DataEnd => {
                    let end = match buffer.first() {
                        None => return Ok(Decoded::NeedMore),
                        Some(b'\n') => 1,
                        Some(b'\r') if buffer.len() < 2 => return Ok(Decoded::NeedMore),
                        Some(b'\r') if buffer[1] == b'\n' => 2,
                        Some(_) => return Err(WireError::ChunkEnd),
                    };
                    let _ = buffer.split_to(end);
                    *self = Self::Size;
                }
                Self::Trailers(seen) => {
                    let Some(line) = take_line(buffer, MAX_LINE - seen, WireError::Trailers)?
                    else {
                        return Ok(Decoded::NeedMore);
                    };
                    *self = if line_content(&line) == Some(b"") {
                        Self::Done
                    } else {
                        Self::Trailers(seen + line.len())
                    };
                }
                Self::Done => return Ok(Decoded::End),
            }
        }
    }
}

/// Splits up to `left` bytes off the front of `buffer` (a body's rest), counting them off `left`.
pub fn take_at_most(buffer: &mut BytesMut, left: &mut u64) -> Bytes {
    let take = usize::try_from(*left)
        .unwrap_or(usize::MAX)
        .min(buffer.len());
    *left -= take as u64;
    buffer.split_to(take).freeze()
}

/// Splits a line (through its `\n`) off the front of `buffer`; `None` until one is there.
fn take_line(
    buffer: &mut BytesMut,
    limit: usize,
    too_long: WireError,
) -> Result<Option<BytesMut>, WireError> {
    match buffer.iter().take(limit).position(|&b| b == b'\n') {
        Some(end) => Ok(Some(buffer.split_to(end + 1))),
        None if buffer.len() >= limit => Err(too_long),
        None => Ok(None),
    }
}

/// A line without its LF and the CR before it, if any; `None` if it holds another CR.
fn line_content(line: &[u8]) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    (!line.contains(&b'\r')).then_some(line)
}

/// The hexadecimal size at the start of a chunk-size line, at most 15 digits (so it cannot
/// overflow), then optional spaces and `;extensions`.
fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let content = line_content(line)?;
    let size = content.split(|&b| b == b';').next()?.trim_ascii_end();
    if size.is_empty() || size.len() > 15 {
        return None;
    }
    size.iter().try_fold(0u64, |value, &digit| {
        let digit = (digit as char).to_digit(16)?;
        Some(value << 4 | u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn head(text: &str) -> Result<Option<ResponseHead>, WireError> {
        parse_response_head(&mut BytesMut::from(text), &Method::GET)
    }

    #[test]
    fn request_heads_carry_the_framing_they_are_given_and_no_other() {
        let (parts, ()) = Request::post("http://ignored/upload?x=1")
            .header("host", "backend:8080")
            .header("content-length", "999")
            .header("transfer-encoding", "chunked")
            .header("x-one", "1")
            .body(())
            .unwrap()
            .into_parts();
        let mut parts = parts;
        parts.uri = "/upload?x=1".parse().unwrap();
        assert_eq!(
            encode_request_head(&parts, RequestFraming::Length(12)),
            "POST /upload?x=1 HTTP/1.1\r\nhost: backend:8080\r\nx-one: 1\r\ncontent-length: 12\r\n\r\n"
        );
        assert_eq!(
            encode_request_head(&parts, RequestFraming::Chunked),
            "POST /upload?x=1 HTTP/1.1\r\nhost: backend:8080\r\nx-one: 1\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        parts.method = Method::GET;
        assert_eq!(
            encode_request_head(&parts, RequestFraming::None),
            "GET /upload?x=1 HTTP/1.1\r\nhost: backend:8080\r\nx-one: 1\r\n\r\n"
        );
    }

    #[test]
    fn chunks_are_sized_in_hex() {
        assert_eq!(
            encode_chunk(&[b'a'; 26]),
            format!("1a\r\n{}\r\n", "a".repeat(26))
        );
        assert_eq!(encode_chunk(b"x"), "1\r\nx\r\n");
    }

    #[test]
    fn response_heads_are_read_once_complete() {
        assert!(head("HTTP/1.1 200 OK\r\ncontent-le").unwrap().is_none());
        let mut buffer =
            BytesMut::from("HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-A: b\r\n\r\nhi");
        let parsed = parse_response_head(&mut buffer, &Method::GET)
            .unwrap()
            .unwrap();
        assert_eq!(parsed.response.status(), StatusCode::CREATED);
        assert_eq!(parsed.response.headers()["x-a"], "b");
        assert_eq!(parsed.framing, ResponseFraming::Length(2));
        assert_eq!(
            buffer, "hi",
            "the head is taken off the buffer, the body stays"
        );
        assert!(parsed.keep_alive);
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let framing = |text: &str| head(text).unwrap().unwrap().framing;
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\ncontent-length: 5\r\n\r\n"),
            ResponseFraming::Chunked
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\ntransfer-encoding:\r\ntransfer-encoding: chunked\r\n\r\n"),
            ResponseFraming::Chunked,
            "codings over several fields, empty ones ignored"
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\n\r\n"),
            ResponseFraming::UntilClose
        );
        assert_eq!(
            framing("HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n"),
            ResponseFraming::Empty
        );
        assert_eq!(
            framing("HTTP/1.1 304 Not Modified\r\n\r\n"),
            ResponseFraming::Empty
        );
        let answer_to_head = parse_response_head(
            &mut BytesMut::from("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"),
            &Method::HEAD,
        );
        assert_eq!(
            answer_to_head.unwrap().unwrap().framing,
            ResponseFraming::Empty
        );
        let head_with_codings = parse_response_head(
            &mut BytesMut::from("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n"),
            &Method::HEAD,
        );
        assert_eq!(
            head_with_codings.unwrap().unwrap().framing,
            ResponseFraming::Empty,
            "an answer without a body is not framed by its codings"
        );
    }

    #[test]
    fn chunked_framing_wins_over_a_length_which_is_dropped_and_the_connection_with_it() {
        for text in [
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 100\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 100\r\ntransfer-encoding: chunked\r\n\r\n",
        ] {
            let parsed = head(text).unwrap().unwrap();
            assert_eq!(parsed.framing, ResponseFraming::Chunked, "{text:?}");
            assert!(
                !parsed
                    .response
                    .headers()
                    .contains_key(header::CONTENT_LENGTH),
                "{text:?}"
            );
            assert!(!parsed.keep_alive, "{text:?}");
        }
        let old =
            head("HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ntransfer-encoding: chunked\r\n\r\n")
                .unwrap()
                .unwrap();
        assert_eq!(old.framing, ResponseFraming::Chunked);
        assert!(
            !old.keep_alive,
            "RFC 9112 §6.1: close after a faulty HTTP/1.0 framing"
        );
    }

    #[test]
    fn codings_other_than_one_chunked_are_refused() {
        for codings in [
            "transfer-encoding: gzip",
            "transfer-encoding: gzip, chunked",
            "transfer-encoding: gzip\r\ntransfer-encoding: chunked",
            "transfer-encoding: identity, chunked",
            "transfer-encoding: chunked, gzip",
            "transfer-encoding: chunked, identity",
            "transfer-encoding: chunked, chunked",
            "transfer-encoding: chunked\r\ntransfer-encoding: chunked",
            "transfer-encoding: chunked\r\ntransfer-encoding: gzip",
            "transfer-encoding: xchunked",
            "transfer-encoding: chunked;x=1",
            "transfer-encoding: ",
        ] {
            let text = format!("HTTP/1.1 200 OK\r\n{codings}\r\ncontent-length: 5\r\n\r\n");
            assert_eq!(
                head(&text).unwrap_err(),
                WireError::TransferCoding,
                "{codings:?}"
            );
        }
    }

    #[test]
    fn a_length_must_be_one_decimal_number() {
        for lengths in [
            "content-length: 5\r\ncontent-length: 6",
            "content-length: 5\r\ncontent-length: 5",
            "content-length: 7, 7",
            "content-length: -1",
            "content-length: +5",
            "content-length: 0x5",
            "content-length: 5 5",
            "content-length: ",
            "content-length: 99999999999999999999",
        ] {
            let text = format!("HTTP/1.1 200 OK\r\n{lengths}\r\n\r\n");
            assert_eq!(
                head(&text).unwrap_err(),
                WireError::ContentLength,
                "{lengths:?}"
            );
        }
    }

    #[test]
    fn bare_lf_ends_a_line_and_other_malformed_lines_are_refused() {
        let mut buffer = BytesMut::from("HTTP/1.1 200 OK\ncontent-length: 2\nx-a: b\n\nok");
        let parsed = parse_response_head(&mut buffer, &Method::GET)
            .unwrap()
            .unwrap();
        assert_eq!(parsed.framing, ResponseFraming::Length(2));
        assert_eq!(parsed.response.headers()["x-a"], "b");
        assert_eq!(buffer, "ok");
        for (what, text) in [
            (
                "obs-fold",
                "HTTP/1.1 200 OK\r\nx-a: 1\r\n folded\r\ncontent-length: 0\r\n\r\n",
            ),
            (
                "obs-fold, tab",
                "HTTP/1.1 200 OK\r\nx-a: 1\r\n\tfolded\r\n\r\n",
            ),
            (
                "space before colon",
                "HTTP/1.1 200 OK\r\ncontent-length : 0\r\n\r\n",
            ),
            ("NUL in a value", "HTTP/1.1 200 OK\r\nx-a: a\0b\r\n\r\n"),
            ("bare CR in a value", "HTTP/1.1 200 OK\r\nx-a: a\rb\r\n\r\n"),
            (
                "bare CR ending a line",
                "HTTP/1.1 200 OK\rcontent-length: 0\r\n\r\n",
            ),
        ] {
            assert!(head(text).is_err(), "{what}: {:?}", head(text));
        }
    }

    #[test]
    fn keep_alive_follows_version_and_connection() {
        let keep = |text: &str| head(text).unwrap().unwrap().keep_alive;
        assert!(!keep(
            "HTTP/1.1 200 OK\r\nconnection: Close\r\ncontent-length: 0\r\n\r\n"
        ));
        assert!(!keep("HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n"));
        assert!(keep(
            "HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n"
        ));
        assert!(
            !keep("HTTP/1.1 200 OK\r\n\r\n"),
            "a body until close ends the connection"
        );
    }

    #[test]
    fn broken_heads_are_errors() {
        assert_eq!(
            head("HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n").unwrap_err(),
            WireError::ContentLength
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n").unwrap_err(),
            WireError::ContentLength
        );
        assert!(matches!(
            head("HTTX/1.1 200 OK\r\n\r\n"),
            Err(WireError::Head(_))
        ));
        let endless = format!("HTTP/1.1 200 OK\r\nx: {}", "a".repeat(MAX_HEAD));
        assert_eq!(head(&endless).unwrap_err(), WireError::HeadTooLarge);
        let many: String = (0..=MAX_HEADERS).map(|i| format!("x-{i}: 1\r\n")).collect();
        assert_eq!(
            head(&format!("HTTP/1.1 200 OK\r\n{many}\r\n")).unwrap_err(),
            WireError::Head(httparse::Error::TooManyHeaders)
        );
    }

    /// Decodes `wire` fed in pieces of `step` bytes.
    fn decode_in_steps(wire: &[u8], step: usize) -> Result<(Vec<u8>, usize), WireError> {
        let mut decoder = ChunkedDecoder::default();
        let mut buffer = BytesMut::new();
        let mut body = Vec::new();
        for piece in wire.chunks(step) {
            buffer.extend_from_slice(piece);
            loop {
                match decoder.decode(&mut buffer)? {
                    Decoded::Data(data) => body.extend_from_slice(&data),
                    Decoded::NeedMore => break,
                    Decoded::End => return Ok((body, buffer.len())),
                }
            }
        }
        Err(WireError::ChunkSize)
    }

    #[test]
    fn chunked_bodies_decode_however_they_arrive() {
        let wire = b"5;name=value\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        for step in [1, 2, 3, 7, wire.len()] {
            let (body, left) = decode_in_steps(wire, step).unwrap();
            assert_eq!(body, b"helloabcdefghijklmnopqrstuvwxyz", "step {step}");
            if step == wire.len() {
                assert_eq!(left, 4, "the bytes after the body stay in the buffer");
            }
        }
    }

    #[test]
    fn chunk_lines_may_end_in_a_bare_lf_and_sizes_reach_fifteen_digits() {
        for step in [1, 4, 64] {
            let (body, _) = decode_in_steps(b"5 ;a=b\nhello\n3\r\nabc\n0\n\n", step).unwrap();
            assert_eq!(body, b"helloabc", "step {step}");
        }
        let mut decoder = ChunkedDecoder::default();
        let mut buffer = BytesMut::from("fffffffffffffff\r\nab");
        assert_eq!(
            decoder.decode(&mut buffer).unwrap(),
            Decoded::Data(Bytes::from("ab"))
        );
        assert_eq!(decoder, ChunkedDecoder::Data(0xfff_ffff_ffff_fffd));
    }

    #[test]
    fn broken_chunks_are_errors() {
        assert_eq!(
            decode_in_steps(b"zz\r\n", 4).unwrap_err(),
            WireError::ChunkSize
        );
        assert_eq!(
            decode_in_steps(b"2\r\nabXY0\r\n\r\n", 13).unwrap_err(),
            WireError::ChunkEnd
        );
        for overflow in [
            "10000000000000000\r\n",
            "ffffffffffffffff\r\n",
            "0000000000000000001\r\n",
        ] {
            assert_eq!(
                decode_in_steps(overflow.as_bytes(), 3).unwrap_err(),
                WireError::ChunkSize,
                "{overflow:?}"
            );
        }
        for malformed in [" 5\r\n", "5\rx\r\n", "5\r\r\n", "+5\r\n", "\r\n"] {
            assert_eq!(
                decode_in_steps(malformed.as_bytes(), 2).unwrap_err(),
                WireError::ChunkSize,
                "{malformed:?}"
            );
        }
        let long_line = vec![b'1'; MAX_LINE + 1];
        assert_eq!(
            decode_in_steps(&long_line, 512).unwrap_err(),
            WireError::ChunkSize
        );
        let mut endless_trailers = b"0\r\n".to_vec();
        endless_trailers.extend(std::iter::repeat_n(b"x: y\r\n".as_slice(), 1000).flatten());
        assert_eq!(
            decode_in_steps(&endless_trailers, 64).unwrap_err(),
            WireError::Trailers
        );
    }
}
