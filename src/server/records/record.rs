//! Turning the proxy's [`RequestEvent`] into the [`RequestRecord`] every consumer shares (the
//! event's free-text fields are already cut to a bound, so no client can make a record large),
//! at the time precision the history keeps ([`truncate_to_micros`]).

use crate::server::proxy::event::RequestEvent;
use crate::server::proxy::headers::ip_text;
use crate::views::RequestRecord;
use chrono::{DateTime, Utc};
use compact_str::CompactString;
use std::sync::Arc;

/// Longest method kept: standard ones have at most 7 letters, but a client may send an
/// extension method as long as its request line.
pub const MAX_METHOD_LEN: usize = 32;

/// A finished request's record as the recorder hands it on: one allocation shared by the
/// recent ring, the history batch and the live batch, so none of them copies its strings.
pub type SharedRecord = Arc<RequestRecord>;

/// The record of `event`, number `seq` in the request log.
pub fn request_record(event: &RequestEvent, seq: u64) -> RequestRecord {
    RequestRecord {
        seq,
        request_id: event.request_id.clone(),
        // Whole microseconds, as the history stores it, so a record reads the same from memory
        // and from disk.
        at: truncate_to_micros(event.started_at),
        // A method is ASCII (token characters): any cut is at a character boundary.
        method: {
            let method = event.method.as_str();
            CompactString::new(method.get(..MAX_METHOD_LEN).unwrap_or(method))
        },
        path: event.path.clone(),
        route: event.route.clone(),
        target: event.target.clone(),
        status: event.status.as_u16(),
        latency_us: micros(event.latency),
        upstream_us: event.upstream_latency.map(micros),
        bytes_in: event.bytes_in,
        bytes_out: event.bytes_out,
        client: ip_text(event.client),
        user_agent: event.user_agent.clone(),
        error: event
            .error
            .map(|kind| CompactString::const_new(kind.as_str())),
        attempts: event.attempts,
        llm: event.llm.clone(),
    }
}

/// `at` cut to whole microseconds: the precision of a record's time, which the history stores
/// exactly, so a record reads the same from memory and from disk.
pub fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

fn micros(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}
