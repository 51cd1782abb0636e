//! The one point type of every traffic series: a second of the live series (`/api/metrics`, the
//! live tick) and a bucket of a history period (`/api/stats`) alike, and what the dashboard's
//! charts draw from either.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One slot of a traffic series: the requests that finished in it and their latency.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Start of the slot (a second, or a bucket of the period's `bucket_secs`).
    pub at: DateTime<Utc>,
    /// Requests that finished in the slot.
    pub requests: u64,
    /// Those of them with an error kind.
    pub errors: u64,
    /// Latency percentiles of those requests, in microseconds (0 without requests).
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    /// What the live series also records of each second; `None` for a history bucket (the
    /// rollups keep traffic only). Its fields sit beside the others in the JSON, and are absent
    /// when it is `None`.
    #[serde(flatten)]
    pub sample: Option<SecondSample>,
}

/// What the live series records of a second besides its requests: the bytes moved, and the
/// gauges and the process's resources as they were when the second closed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondSample {
    /// Bytes received from clients and sent to them by the second's requests.
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Client connections open, and WebSockets tunnelled, when the second closed.
    pub active_connections: u64,
    pub open_websockets: u64,
    /// The gateway process's CPU use, in percent of one core.
    pub process_cpu_percent: f32,
    /// The gateway process's resident memory.
    pub process_memory_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::testing::at;
    use serde_json::json;

    #[test]
    fn a_live_second_is_one_flat_json_object() {
        let point = SeriesPoint {
            at: at(60),
            requests: 4,
            errors: 1,
            p50_us: 100,
            p95_us: 200,
            p99_us: 300,
            sample: Some(SecondSample {
                bytes_in: 10,
                bytes_out: 20,
                active_connections: 2,
                open_websockets: 1,
                process_cpu_percent: 1.5,
                process_memory_bytes: 4096,
            }),
        };
        let json = serde_json::to_value(&point).unwrap();
        assert_eq!(
            json,
            json!({
                "at": "2026-01-01T12:01:00Z",
                "requests": 4, "errors": 1, "p50_us": 100, "p95_us": 200, "p99_us": 300,
                "bytes_in": 10, "bytes_out": 20, "active_connections": 2, "open_websockets": 1,
                "process_cpu_percent": 1.5, "process_memory_bytes": 4096,
            })
        );
        assert_eq!(serde_json::from_value::<SeriesPoint>(json).unwrap(), point);
    }

    #[test]
    fn a_live_second_round_trips_through_the_live_socket() {
        // The live event is internally tagged: its payload is read through serde's buffered
        // content, a different path from a plain struct's.
        let point = SeriesPoint {
            at: at(1),
            requests: 1,
            sample: Some(SecondSample {
                process_cpu_percent: 0.25,
                ..SecondSample::default()
            }),
            ..SeriesPoint::default()
        };
        let event = crate::views::LiveEvent::Metrics(crate::views::MetricsTick {
            point,
            uptime_secs: 1,
            requests_total: 1,
            errors_total: 0,
            errors_by_kind: Default::default(),
            in_flight_requests: 0,
        });
        let text = serde_json::to_string(&event).unwrap();
        assert_eq!(
            serde_json::from_str::<crate::views::LiveEvent>(&text).unwrap(),
            event
        );
    }

    #[test]
    fn a_history_bucket_has_the_traffic_fields_only() {
        let point = SeriesPoint {
            at: at(120),
            requests: 7,
            errors: 0,
            p50_us: 1,
            p95_us: 2,
            p99_us: 3,
            sample: None,
        };
        let json = serde_json::to_value(&point).unwrap();
        assert_eq!(
            json,
            json!({
                "at": "2026-01-01T12:02:00Z",
                "requests": 7, "errors": 0, "p50_us": 1, "p95_us": 2, "p99_us": 3,
            })
        );
        assert_eq!(serde_json::from_value::<SeriesPoint>(json).unwrap(), point);
    }
}
