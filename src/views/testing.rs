//! Test helpers for the view types and the code that draws them (shared by the client's and the
//! server's tests; the server's generated traffic is in `server::records::testing`).

use chrono::{DateTime, Utc};

/// 2026-01-01 12:00:00 UTC: the time tests count from.
pub const START: i64 = 1_767_268_800;

/// [`START`] plus `secs` seconds.
pub fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(START + secs, 0).expect("a time within chrono's range")
}
