//! `GET /api/requests` (filtered, paged, exportable as CSV or JSON) and
//! `GET /api/requests/{id}`.
//!
//! Recent requests come from the in-memory ring; older ones from the history database. A page
//! takes what it can from the ring, then continues in the history below the ring's oldest `seq`,
//! so no request is listed twice and paging with `cursor` walks back through everything stored.

use super::ApiError;
use super::params::Params;
use super::stats::history_unavailable;
use crate::request_filter::{MAX_LIMIT, RequestQuery, StatusFilter};
use crate::server::admin::AppState;
use crate::server::gateway::Gateway;
use crate::views::{ExchangedHeaders, RequestDetail, RequestPage, RequestRecord};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;

/// Most rows one export returns.
pub const MAX_EXPORT: usize = 50_000;
/// Rows an export returns when no limit is given.
pub const DEFAULT_EXPORT: usize = 10_000;
/// Longest filter value accepted.
pub const MAX_FILTER_LEN: usize = 2_048;

const PARAMETERS: [&str; 12] = [
    "limit", "cursor", "since", "until", "status", "method", "route", "target", "client", "path",
    "model", "format",
];

/// How the answer is shaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A [`RequestPage`] (the default).
    Page,
    /// A download: a JSON array of every matching request, up to the limit.
    Json,
    /// A download: CSV with a header row.
    Csv,
}

pub async fn list(
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let (format, query) = parse_query(pairs)?;
    let page = read_page(&state.gateway, query).await?;
    Ok(match format {
        Format::Page => Json(page).into_response(),
        Format::Json => download(
            "application/json",
            "json",
            serde_json::to_vec(&page.requests).unwrap_or_default(),
            page.next_cursor,
        ),
        Format::Csv => download(
            "text/csv; charset=utf-8",
            "csv",
            to_csv(&page.requests).into_bytes(),
            page.next_cursor,
        ),
    })
}

/// The page the dashboard shows for a query string's pairs (the same parameters as
/// `/api/requests`; `format` is accepted and ignored).
pub async fn page(
    gateway: &Gateway,
    pairs: Vec<(String, String)>,
) -> Result<RequestPage, ApiError> {
    let params = Params::new(pairs, &PARAMETERS)?;
    let query = query(&params, MAX_LIMIT, crate::request_filter::DEFAULT_LIMIT)?;
    read_page(gateway, query).await
}

/// What `/api/requests`' query string asks for, checked strictly: the answer's format, and the
/// query with its limit (up to [`MAX_LIMIT`] for a page, [`MAX_EXPORT`] for a download) and
/// cursor. A problem is a 400 naming the parameter.
pub fn parse_query(pairs: Vec<(String, String)>) -> Result<(Format, RequestQuery), ApiError> {
    let params = Params::new(pairs, &PARAMETERS)?;
    let format = match params.choice("format", &["json", "csv"])? {
        None => Format::Page,
        Some("csv") => Format::Csv,
        Some(_) => Format::Json,
    };
    let (max, default) = match format {
        Format::Page => (MAX_LIMIT, crate::request_filter::DEFAULT_LIMIT),
        Format::Json | Format::Csv => (MAX_EXPORT, DEFAULT_EXPORT),
    };
    Ok((format, query(&params, max, default)?))
}

/// The query of `params`: the filters, the limit (at most `max`, default `default`: the total
/// wanted, possibly more than one page) and the cursor.
fn query(params: &Params, max: usize, default: usize) -> Result<RequestQuery, ApiError> {
    let limit = params
        .number("limit", 1, max as u64)?
        .map_or(default, |n| n as usize);
    let mut query = filter(params)?;
    query.limit = limit;
    query.before = params.number("cursor", 0, u64::MAX)?;
    Ok(query)
}

/// Reads up to `query.limit` matching requests, newest first.
async fn read_page(gateway: &Gateway, mut query: RequestQuery) -> Result<RequestPage, ApiError> {
    let limit = query.limit;
    // Pages of at most `MAX_LIMIT`, until `limit` rows or the end.
    let mut rows: Vec<RequestRecord> = Vec::new();
    loop {
        query.limit = (limit - rows.len()).min(MAX_LIMIT);
        let page = fetch(gateway, &query).await?;
        let full = page.len() == query.limit;
        rows.extend(page);
        if !full || rows.len() == limit {
            break;
        }
        query.before = rows.last().map(|r| r.seq);
    }
    let next_cursor = (rows.len() == limit)
        .then(|| rows.last().map(|r| r.seq))
        .flatten();
    Ok(RequestPage {
        requests: rows,
        next_cursor,
    })
}

/// `GET /api/requests/{id}`: the newest request with this `X-Request-Id`.
pub async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RequestDetailJson>, ApiError> {
    let RequestDetail { record, headers } = find(&state.gateway, id).await?;
    Ok(Json(RequestDetailJson { record, headers }))
}

/// `/api/requests/{id}`'s answer: the record's fields with `headers` beside them.
#[derive(serde::Serialize)]
pub struct RequestDetailJson {
    #[serde(flatten)]
    record: RequestRecord,
    headers: Option<ExchangedHeaders>,
}

/// The newest request with this `X-Request-Id` (from the ring, else from the history) with its
/// headers while they are kept.
pub async fn find(gateway: &Gateway, id: String) -> Result<RequestDetail, ApiError> {
    let record = find_record(gateway, id).await?;
    Ok(RequestDetail {
        headers: gateway.metrics().request_headers(record.seq),
        record,
    })
}

/// The newest request with this `X-Request-Id`: from the ring, else from the history.
async fn find_record(gateway: &Gateway, id: String) -> Result<RequestRecord, ApiError> {
    if id.len() > MAX_FILTER_LEN {
        return Err(ApiError::bad_parameter("id", "too long"));
    }
    if let Some(record) = gateway.metrics().recent_request(&id) {
        return Ok(record);
    }
    let not_found = || ApiError::not_found(format!("no request with id {id:?}"));
    let Some(history) = gateway.history().cloned() else {
        return Err(not_found());
    };
    let wanted = id.clone();
    match tokio::task::spawn_blocking(move || history.request_by_id(&wanted)).await {
        Ok(Ok(Some(record))) => Ok(record),
        Ok(Ok(None)) => Err(not_found()),
        Ok(Err(error)) => {
            tracing::warn!(%error, "reading a request from the history failed");
            Err(ApiError::unavailable(format!(
                "history read failed: {error}"
            )))
        }
        Err(_) => Err(ApiError::unavailable("history read failed")),
    }
}

/// The filters of `params` (everything but paging and format).
fn filter(params: &Params) -> Result<RequestQuery, ApiError> {
    let status = match params.text("status") {
        None => None,
        Some(text) => Some(StatusFilter::parse(text).ok_or_else(|| {
            ApiError::bad_parameter(
                "status",
                format!("expected a status code (404) or class (5xx), got {text:?}"),
            )
        })?),
    };
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match params.string(name) {
            Some(value) if value.len() > MAX_FILTER_LEN => Err(ApiError::bad_parameter(
                name,
                format!("longer than {MAX_FILTER_LEN} bytes"),
            )),
            value => Ok(value),
        }
    };
    let since = params.time("since")?;
    let until = params.time("until")?;
    if let (Some(since), Some(until)) = (since, until)
        && since >= until
    {
        return Err(ApiError::bad_parameter("until", "must be later than since"));
    }
    Ok(RequestQuery {
        since,
        until,
        status,
        method: text("method")?.map(|m| m.to_ascii_uppercase()),
        route: text("route")?,
        target: text("target")?,
        client: text("client")?,
        path: text("path")?,
        model: text("model")?,
        ..RequestQuery::default()
    })
}

/// One page: from the ring first, then from the history below the ring's oldest request.
async fn fetch(gateway: &Gateway, query: &RequestQuery) -> Result<Vec<RequestRecord>, ApiError> {
    let (mut rows, oldest_in_ring) = gateway.metrics().recent_requests(query);
    if rows.len() == query.limit {
        return Ok(rows);
    }
    let Some(history) = gateway.history().cloned() else {
        return Ok(rows);
    };
    // The history holds everything the ring does and more; only read what the ring lacks.
    let before = match (query.before, oldest_in_ring) {
        (Some(cursor), Some(oldest)) => Some(cursor.min(oldest)),
        (cursor, oldest) => cursor.or(oldest),
    };
    let older = RequestQuery {
        before,
        limit: query.limit - rows.len(),
        ..query.clone()
    };
    match tokio::task::spawn_blocking(move || history.requests(&older)).await {
        Ok(Ok(older)) => {
            rows.extend(older);
            Ok(rows)
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "reading requests from the history failed");
            if rows.is_empty() {
                Err(ApiError::unavailable(format!(
                    "history read failed: {error}"
                )))
            } else {
                Ok(rows)
            }
        }
        Err(_) => Err(ApiError::unavailable(history_unavailable(gateway))),
    }
}

/// A file download named after the time it was taken.
/// A file download. When the limit cut it short, `X-Next-Cursor` says where the next export
/// (`cursor=`) starts, so a truncated export is never mistaken for all matching requests.
fn download(
    content_type: &'static str,
    extension: &str,
    body: Vec<u8>,
    next_cursor: Option<u64>,
) -> Response {
    let name = format!(
        "attachment; filename=\"gatewatch-requests-{}.{extension}\"",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    );
    let mut response = (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        body,
    )
        .into_response();
    if let Some(cursor) = next_cursor {
        response
            .headers_mut()
            .insert("x-next-cursor", header::HeaderValue::from(cursor));
    }
    response
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 21] = [
    "seq",
    "request_id",
    "at",
    "method",
    "path",
    "route",
    "target",
    "status",
    "latency_us",
    "upstream_us",
    "bytes_in",
    "bytes_out",
    "client",
    "user_agent",
    "error",
    "attempts",
    "model",
    "input_tokens",
    "output_tokens",
    "streamed",
    "first_token_us",
];

/// `rows` as CSV (RFC 4180) with a header row.
pub fn to_csv(rows: &[RequestRecord]) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    for r in rows {
        let number = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
        let llm = r.llm.as_ref();
        let cells = [
            r.seq.to_string(),
            text_cell(&r.request_id),
            r.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            text_cell(&r.method),
            text_cell(&r.path),
            r.route.as_deref().map(text_cell).unwrap_or_default(),
            r.target.as_deref().map(text_cell).unwrap_or_default(),
            r.status.to_string(),
            r.latency_us.to_string(),
            number(r.upstream_us),
            r.bytes_in.to_string(),
            r.bytes_out.to_string(),
            text_cell(&r.client),
            r.user_agent.as_deref().map(text_cell).unwrap_or_default(),
            r.error.as_deref().map(text_cell).unwrap_or_default(),
            r.attempts.to_string(),
            llm.map(|l| text_cell(&l.model)).unwrap_or_default(),
            number(llm.and_then(|l| l.input_tokens)),
            number(llm.and_then(|l| l.output_tokens)),
            llm.map(|l| l.streamed.to_string()).unwrap_or_default(),
            number(llm.and_then(|l| l.first_token_us)),
        ];
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{cell}");
        }
        out.push_str("\r\n");
    }
    out
}

/// A text cell: quoted when it holds a separator, quote or line break; a leading `=`, `+`, `-`
/// or `@` is escaped with `'` so spreadsheets do not run it as a formula.
fn text_cell(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if guarded.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::LlmUsage;

    fn record() -> RequestRecord {
        RequestRecord {
            seq: 7,
            request_id: "r-1".into(),
            at: chrono::DateTime::from_timestamp(1_700_000_000, 5_000).unwrap(),
            method: "POST".into(),
            path: "/v1/chat,completions".into(),
            route: Some("llm".into()),
            target: None,
            status: 200,
            latency_us: 1_500,
            upstream_us: Some(900),
            bytes_in: 10,
            bytes_out: 20,
            client: "127.0.0.1".into(),
            user_agent: Some("say \"hi\"\nthere".into()),
            error: None,
            attempts: 1,
            llm: Some(LlmUsage {
                model: "=cmd".into(),
                input_tokens: Some(3),
                output_tokens: None,
                streamed: true,
                first_token_us: Some(400),
            }),
        }
    }

    #[test]
    fn csv_quotes_separators_and_defuses_formulas() {
        let csv = to_csv(&[record()]);
        let mut lines = csv.split("\r\n");
        assert_eq!(lines.next().unwrap(), CSV_COLUMNS.join(","));
        let row = lines.next().unwrap();
        assert_eq!(
            row,
            "7,r-1,2023-11-14T22:13:20.000005Z,POST,\"/v1/chat,completions\",llm,,200,1500,900,\
             10,20,127.0.0.1,\"say \"\"hi\"\"\nthere\",,1,'=cmd,3,,true,400"
        );
    }

    #[test]
    fn every_row_has_every_column() {
        let mut bare = record();
        bare.llm = None;
        bare.user_agent = None;
        bare.path = "/plain".into();
        let csv = to_csv(&[bare]);
        let row = csv.split("\r\n").nth(1).unwrap();
        assert_eq!(row.split(',').count(), CSV_COLUMNS.len());
    }
}
