//! The relay's heads through the `http` crate's types, as Gatewatch's pipeline holds them: parsed
//! into `Method`, `Uri`, `StatusCode` and a `HeaderMap`, rewritten with map operations, written
//! back out from the map.

use crate::{new_request_id, push_header};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Uri};
use std::io::{self, ErrorKind};

static HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

fn invalid<E>(_: E) -> io::Error {
    ErrorKind::InvalidData.into()
}

fn header_map(headers: &[httparse::Header]) -> io::Result<HeaderMap> {
    let mut map = HeaderMap::with_capacity(headers.len() + 6);
    for header in headers {
        map.append(
            HeaderName::from_bytes(header.name.as_bytes()).map_err(invalid)?,
            HeaderValue::from_bytes(header.value).map_err(invalid)?,
        );
    }
    Ok(map)
}

fn remove_hop_by_hop(map: &mut HeaderMap) {
    let present: Vec<usize> = map
        .keys()
        .filter_map(|name| HOP_BY_HOP.iter().position(|hop| hop == name))
        .collect();
    for index in present {
        map.remove(&HOP_BY_HOP[index]);
    }
}

fn content_length(map: &HeaderMap) -> usize {
    map.get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.trim().parse().ok())
        .unwrap_or(0)
}

fn write_headers(out: &mut Vec<u8>, map: &HeaderMap) {
    for (name, value) in map {
        push_header(out, name.as_str().as_bytes(), value.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// As [`crate::rewrite_request`], through the `http` types.
pub fn rewrite_request(
    request: &httparse::Request,
    out: &mut Vec<u8>,
    client_ip: &str,
) -> io::Result<(usize, Vec<u8>)> {
    let method = Method::from_bytes(request.method.unwrap_or("GET").as_bytes()).map_err(invalid)?;
    let uri: Uri = request.path.unwrap_or("/").parse().map_err(invalid)?;
    let mut map = header_map(request.headers)?;
    let body_len = content_length(&map);
    let original_host = map.get(header::HOST).cloned();
    remove_hop_by_hop(&mut map);
    let request_id = match map.get(&X_REQUEST_ID) {
        Some(id) => id.clone(),
        None => HeaderValue::from_bytes(&new_request_id()).map_err(invalid)?,
    };
    let forwarded_for = match map.get(&X_FORWARDED_FOR) {
        Some(before) => format!("{}, {client_ip}", before.to_str().unwrap_or("")),
        None => client_ip.to_string(),
    };
    map.insert(
        X_FORWARDED_FOR.clone(),
        HeaderValue::from_str(&forwarded_for).map_err(invalid)?,
    );
    map.entry(&X_FORWARDED_PROTO)
        .or_insert_with(|| HeaderValue::from_static("http"));
    if let Some(host) = original_host {
        map.entry(&X_FORWARDED_HOST).or_insert(host);
    }
    map.insert(X_REQUEST_ID.clone(), request_id.clone());
    map.insert(header::HOST, HeaderValue::from_static("127.0.0.1"));

    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    let target = uri.path_and_query().map_or("/", |target| target.as_str());
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    write_headers(out, &map);
    Ok((body_len, request_id.as_bytes().to_vec()))
}

/// As [`crate::rewrite_response`], through the `http` types.
pub fn rewrite_response(
    response: &httparse::Response,
    out: &mut Vec<u8>,
    request_id: &[u8],
) -> io::Result<usize> {
    let status = StatusCode::from_u16(response.code.unwrap_or(502)).map_err(invalid)?;
    let mut map = header_map(response.headers)?;
    let body_len = content_length(&map);
    remove_hop_by_hop(&mut map);
    map.insert(
        X_REQUEST_ID.clone(),
        HeaderValue::from_bytes(request_id).map_err(invalid)?,
    );

    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    write_headers(out, &map);
    Ok(body_len)
}
