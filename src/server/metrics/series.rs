//! The live per-second series: the last [`SERIES_SECONDS`] seconds of traffic, gauges and
//! resources. Requests count toward the second in which they finished; percentiles are computed
//! when the second closes, so only one histogram is ever open.

use crate::server::records::histogram::LatencyHistogram;
use crate::views::{RequestRecord, SecondSample, SeriesPoint, SystemStats};
use chrono::{DateTime, Utc};
use std::collections::VecDeque;

/// Seconds kept: 15 minutes.
pub const SERIES_SECONDS: usize = 900;

/// Gauges sampled when a second closes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gauges {
    pub active_connections: u64,
    pub open_websockets: u64,
}

/// The series and the second being filled.
#[derive(Debug, Default)]
pub struct Series {
    points: VecDeque<SeriesPoint>,
    requests: u64,
    errors: u64,
    bytes_in: u64,
    bytes_out: u64,
    latency: LatencyHistogram,
}

impl Series {
    /// Counts a request finished in the current second.
    pub fn add(&mut self, record: &RequestRecord) {
        self.requests += 1;
        self.errors += u64::from(record.error.is_some());
        self.bytes_in += record.bytes_in;
        self.bytes_out += record.bytes_out;
        self.latency.record(record.latency_us);
    }

    /// Closes the current second as the point starting `at`, and starts the next.
    pub fn close_second(
        &mut self,
        at: DateTime<Utc>,
        gauges: Gauges,
        system: &SystemStats,
    ) -> SeriesPoint {
        let percentiles = self.latency.percentiles();
        let point = SeriesPoint {
            at,
            requests: std::mem::take(&mut self.requests),
            errors: std::mem::take(&mut self.errors),
            p50_us: percentiles.p50_us,
            p95_us: percentiles.p95_us,
            p99_us: percentiles.p99_us,
            sample: Some(SecondSample {
                bytes_in: std::mem::take(&mut self.bytes_in),
                bytes_out: std::mem::take(&mut self.bytes_out),
                active_connections: gauges.active_connections,
                open_websockets: gauges.open_websockets,
                process_cpu_percent: system.process_cpu_percent,
                process_memory_bytes: system.process_memory_bytes,
            }),
        };
        self.latency.clear();
        if self.points.len() == SERIES_SECONDS {
            self.points.pop_front();
        }
        self.points.push_back(point.clone());
        point
    }

    /// The closed seconds, oldest first.
    pub fn points(&self) -> Vec<SeriesPoint> {
        self.points.iter().cloned().collect()
    }

    /// Requests per second and error share over the last `seconds` closed seconds.
    pub fn recent_rates(&self, seconds: usize) -> (f64, f64) {
        let recent = self.points.iter().rev().take(seconds);
        let (count, requests, errors) = recent.fold((0u64, 0u64, 0u64), |(n, r, e), p| {
            (n + 1, r + p.requests, e + p.errors)
        });
        if count == 0 {
            return (0.0, 0.0);
        }
        let rps = requests as f64 / count as f64;
        let error_rate = if requests == 0 {
            0.0
        } else {
            errors as f64 / requests as f64
        };
        (rps, error_rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(latency_us: u64, error: bool) -> RequestRecord {
        RequestRecord {
            seq: 0,
            request_id: Default::default(),
            at: Utc::now(),
            method: "GET".into(),
            path: "/".into(),
            route: None,
            target: None,
            status: if error { 502 } else { 200 },
            latency_us,
            upstream_us: None,
            bytes_in: 1,
            bytes_out: 2,
            client: "::1".into(),
            user_agent: None,
            error: error.then(|| "connect".into()),
            attempts: 1,
            llm: None,
        }
    }

    #[test]
    fn each_second_gets_its_own_counts_and_percentiles() {
        let mut series = Series::default();
        for latency in 1..=100 {
            series.add(&record(latency * 10, latency > 90));
        }
        let first = series.close_second(Utc::now(), Gauges::default(), &SystemStats::default());
        assert_eq!((first.requests, first.errors), (100, 10));
        assert!(first.p50_us.abs_diff(500) <= 5, "{first:?}");
        assert!(first.p99_us.abs_diff(990) <= 10, "{first:?}");
        let sample = first.sample.expect("a live second has its sample");
        assert_eq!((sample.bytes_in, sample.bytes_out), (100, 200));
        let empty = series.close_second(Utc::now(), Gauges::default(), &SystemStats::default());
        assert_eq!(
            (empty.requests, empty.p99_us),
            (0, 0),
            "reset after closing"
        );
        let (rps, error_rate) = series.recent_rates(10);
        assert_eq!(rps, 50.0);
        assert_eq!(error_rate, 0.1);
    }

    #[test]
    fn keeps_fifteen_minutes() {
        let mut series = Series::default();
        for _ in 0..SERIES_SECONDS + 10 {
            series.add(&record(5, false));
            series.close_second(Utc::now(), Gauges::default(), &SystemStats::default());
        }
        assert_eq!(series.points().len(), SERIES_SECONDS);
    }
}
