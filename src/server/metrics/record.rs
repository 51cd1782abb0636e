//! Turning the proxy's [`RequestEvent`] into the [`RequestRecord`] every consumer shares, with
//! its free-text fields cut to a bound so no client can make a record large.

use crate::server::history::truncate_to_micros;
use crate::server::proxy::event::RequestEvent;
use crate::server::proxy::headers::ip_text;
use crate::views::RequestRecord;
use std::sync::Arc;

/// A finished request's record as the recorder hands it on: one allocation shared by the
/// recent ring, the history batch and the live batch, so none of them copies its strings.
pub type SharedRecord = Arc<RequestRecord>;

/// Longest path kept (in bytes, cut at a character boundary).
pub const MAX_PATH_LEN: usize = 2_048;
/// Longest user agent kept.
pub const MAX_USER_AGENT_LEN: usize = 512;
/// Longest request id kept.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The record of `event`, number `seq` in the request log.
pub fn request_record(event: &RequestEvent, seq: u64) -> RequestRecord {
    RequestRecord {
        seq,
        request_id: bounded(
            String::from_utf8_lossy(event.request_id.as_bytes()),
            MAX_REQUEST_ID_LEN,
        ),
        // Whole microseconds, as the history stores it, so a record reads the same from memory
        // and from disk.
        at: truncate_to_micros(event.started_at),
        method: event.method.as_str().to_string(),
        path: bounded(event.uri.path().into(), MAX_PATH_LEN),
        route: event.route.as_deref().map(str::to_string),
        target: event.target.as_deref().map(str::to_string),
        status: event.status.as_u16(),
        latency_us: micros(event.latency),
        upstream_us: event.upstream_latency.map(micros),
        bytes_in: event.bytes_in,
        bytes_out: event.bytes_out,
        client: ip_text(event.client),
        user_agent: event
            .user_agent
            .as_ref()
            .map(|ua| bounded(String::from_utf8_lossy(ua.as_bytes()), MAX_USER_AGENT_LEN)),
        error: event.error.map(|kind| kind.as_str().to_string()),
        attempts: event.attempts,
        llm: event.llm.clone(),
    }
}

fn micros(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// `text` cut to at most `max` bytes at a character boundary.
fn bounded(text: std::borrow::Cow<'_, str>, max: usize) -> String {
    if text.len() <= max {
        return text.into_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        let text = "é".repeat(10); // 20 bytes
        assert_eq!(bounded(text.as_str().into(), 5), "éé");
        assert_eq!(bounded("short".into(), 5), "short");
    }
}
