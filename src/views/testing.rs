//! Test helpers for the view types and the code that draws them (shared by the client's and the
//! server's tests; the server's generated traffic is in `server::records::testing`).

use super::{AlertChange, AlertState};
use chrono::{DateTime, Utc};

/// 2026-01-01 12:00:00 UTC: the time tests count from.
pub const START: i64 = 1_767_268_800;

/// [`START`] plus `secs` seconds.
pub fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(START + secs, 0).expect("a time within chrono's range")
}

/// Alert `api-errors` (route api's error rate 0.12, above 0.05; critical) beginning to fire at
/// `at`, the only one firing.
pub fn firing_change(at: DateTime<Utc>) -> AlertChange {
    AlertChange {
        id: 7,
        rule: "api-errors".into(),
        metric: "error_rate".into(),
        scope: "route api".into(),
        route: Some("api".into()),
        severity: "critical".into(),
        state: AlertState::Firing,
        comparison: "above".into(),
        threshold: 0.05,
        value: Some(0.12),
        at,
        started_at: Some(at),
        silenced: false,
        firing_now: 1,
    }
}
