//! Aggregated traffic over a period (`/api/stats`), with the period before it for comparison.

use super::series::SeriesPoint;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The periods `/api/stats` and the dashboard's range picker offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StatsPeriod {
    #[serde(rename = "5m")]
    FiveMinutes,
    #[serde(rename = "1h")]
    Hour,
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
}

impl StatsPeriod {
    pub const ALL: [Self; 4] = [Self::FiveMinutes, Self::Hour, Self::Day, Self::Week];

    /// The name used in URLs: `5m`, `1h`, `24h`, `7d`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FiveMinutes => "5m",
            Self::Hour => "1h",
            Self::Day => "24h",
            Self::Week => "7d",
        }
    }

    /// Parses [`Self::as_str`] output.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// Length in seconds.
    pub fn secs(self) -> i64 {
        match self {
            Self::FiveMinutes => 300,
            Self::Hour => 3_600,
            Self::Day => 86_400,
            Self::Week => 7 * 86_400,
        }
    }

    /// Width of one point of the period's series, in seconds (so each period has 60–300 points).
    pub fn bucket_secs(self) -> i64 {
        match self {
            Self::FiveMinutes | Self::Hour => 60,
            Self::Day => 300,
            Self::Week => 3_600,
        }
    }
}

/// `/api/stats`: one period, its series, and the previous period of the same length.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeriodStats {
    pub period: StatsPeriod,
    /// Only this route's traffic (`None`: all traffic).
    pub route: Option<String>,
    /// The period covered: `[from, until)`.
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Width of each point in `series`.
    pub bucket_secs: i64,
    pub current: StatsSummary,
    /// The period of the same length just before `from`.
    pub previous: StatsSummary,
    /// The current period, oldest point first; buckets without traffic are included as zeros.
    /// No point has a [`SecondSample`](super::SecondSample).
    pub series: Vec<SeriesPoint>,
    /// The previous period on the same bucket grid (point `i` is `period` earlier than
    /// `series[i]`).
    pub previous_series: Vec<SeriesPoint>,
}

/// Totals and latency percentiles of some traffic.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsSummary {
    pub requests: u64,
    /// Requests with an error kind (5xx, 4xx, refused, …).
    pub errors: u64,
    /// `errors / requests` (0 when there were no requests).
    pub error_rate: f64,
    /// Requests per second over the whole period.
    pub rps: f64,
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Requests by status class.
    pub status: StatusClasses,
}

/// Request counts by status class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusClasses {
    #[serde(rename = "1xx")]
    pub informational: u64,
    #[serde(rename = "2xx")]
    pub success: u64,
    #[serde(rename = "3xx")]
    pub redirection: u64,
    #[serde(rename = "4xx")]
    pub client_error: u64,
    #[serde(rename = "5xx")]
    pub server_error: u64,
}

impl StatusClasses {
    /// Counts one response with `status`.
    pub fn count(&mut self, status: u16) {
        match status / 100 {
            1 => self.informational += 1,
            2 => self.success += 1,
            3 => self.redirection += 1,
            4 => self.client_error += 1,
            _ => self.server_error += 1,
        }
    }

    /// Adds `other`'s counts.
    pub fn add(&mut self, other: &Self) {
        self.informational += other.informational;
        self.success += other.success;
        self.redirection += other.redirection;
        self.client_error += other.client_error;
        self.server_error += other.server_error;
    }
}
