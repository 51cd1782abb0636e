//! The overview's per-second series: the one the server rendered, continued by the seconds pushed
//! since, and the traffic of its last few seconds that the cards show.

use crate::live_feed::{SERIES_SECONDS, mounted, use_live_feed};
use crate::views::SeriesPoint;
use leptos::prelude::*;

/// The rendered series, continued by the seconds pushed since it was rendered (oldest first);
/// just the rendered one until the page is on screen.
pub fn live_series(rendered: Vec<SeriesPoint>) -> Memo<Vec<SeriesPoint>> {
    let live = use_live_feed();
    let mounted = mounted();
    Memo::new(move |_| {
        if !mounted.get() {
            return rendered.clone();
        }
        live.series
            .with(|pushed| continue_series(&rendered, pushed, SERIES_SECONDS))
    })
}

/// `rendered` up to the first `pushed` second, then `pushed`, keeping the newest `max` seconds.
pub fn continue_series<'a>(
    rendered: &[SeriesPoint],
    pushed: impl IntoIterator<Item = &'a SeriesPoint>,
    max: usize,
) -> Vec<SeriesPoint> {
    let mut pushed = pushed.into_iter().peekable();
    let first_pushed = pushed.peek().map(|p| p.at);
    let mut merged: Vec<SeriesPoint> = rendered
        .iter()
        .filter(|p| first_pushed.is_none_or(|first| p.at < first))
        .cloned()
        .collect();
    merged.extend(pushed.cloned());
    let excess = merged.len().saturating_sub(max);
    merged.drain(..excess);
    merged
}

/// Request count, error share and request-weighted percentiles over a few seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RecentTraffic {
    /// Requests in the seconds looked at.
    pub requests: u64,
    /// Requests per second, over every second looked at (quiet ones too).
    pub rps: f64,
    /// Share of the requests that failed (0–1; 0 without requests).
    pub error_rate: f64,
    /// Percentiles in microseconds, each second's weighted by its requests.
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
}

impl RecentTraffic {
    /// Seconds to look back.
    pub const SECONDS: usize = 10;

    /// The last [`Self::SECONDS`] points of `series`.
    pub fn of_last(series: &[SeriesPoint]) -> Self {
        Self::of(&series[series.len().saturating_sub(Self::SECONDS)..])
    }

    /// The traffic of `points`, one second each.
    pub fn of(points: &[SeriesPoint]) -> Self {
        let requests: u64 = points.iter().map(|p| p.requests).sum();
        let errors: u64 = points.iter().map(|p| p.errors).sum();
        let weighted = |f: fn(&SeriesPoint) -> u64| {
            if requests == 0 {
                return 0;
            }
            let sum: u128 = points
                .iter()
                .map(|p| f(p) as u128 * p.requests as u128)
                .sum();
            (sum / requests as u128) as u64
        };
        Self {
            requests,
            rps: if points.is_empty() {
                0.0
            } else {
                requests as f64 / points.len() as f64
            },
            error_rate: if requests == 0 {
                0.0
            } else {
                errors as f64 / requests as f64
            },
            p50_us: weighted(|p| p.p50_us),
            p95_us: weighted(|p| p.p95_us),
            p99_us: weighted(|p| p.p99_us),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn point(secs: i64, requests: u64, errors: u64, p50_us: u64) -> SeriesPoint {
        SeriesPoint {
            at: DateTime::from_timestamp(secs, 0).unwrap(),
            requests,
            errors,
            p50_us,
            p95_us: p50_us + 1,
            p99_us: p50_us + 2,
            sample: None,
        }
    }

    fn seconds(points: &[SeriesPoint]) -> Vec<i64> {
        points.iter().map(|p| p.at.timestamp()).collect()
    }

    #[test]
    fn nothing_pushed_keeps_the_rendered_series() {
        let rendered = [point(1, 1, 0, 0), point(2, 1, 0, 0)];
        assert_eq!(continue_series(&rendered, &[], 900), rendered);
    }

    #[test]
    fn pushed_seconds_replace_the_rendered_ones_from_the_first_pushed_on() {
        let rendered = [point(1, 1, 0, 0), point(2, 1, 0, 0), point(3, 1, 0, 0)];
        // Second 3 was still open when the page was rendered: the pushed one is complete.
        let pushed = [point(3, 5, 0, 0), point(4, 6, 0, 0)];
        let merged = continue_series(&rendered, &pushed, 900);
        assert_eq!(seconds(&merged), [1, 2, 3, 4]);
        assert_eq!(merged[2].requests, 5);
    }

    #[test]
    fn a_gap_between_rendered_and_pushed_stays_a_gap() {
        let rendered = [point(1, 1, 0, 0)];
        let pushed = [point(5, 1, 0, 0)];
        assert_eq!(seconds(&continue_series(&rendered, &pushed, 900)), [1, 5]);
    }

    #[test]
    fn only_the_newest_seconds_are_kept() {
        let rendered = [point(1, 1, 0, 0), point(2, 1, 0, 0)];
        let pushed = [point(3, 1, 0, 0), point(4, 1, 0, 0)];
        assert_eq!(seconds(&continue_series(&rendered, &pushed, 3)), [2, 3, 4]);
        assert!(continue_series(&rendered, &pushed, 0).is_empty());
    }

    #[test]
    fn no_seconds_is_no_traffic() {
        assert_eq!(RecentTraffic::of(&[]), RecentTraffic::default());
    }

    #[test]
    fn quiet_seconds_count_toward_the_rate_but_not_the_percentiles() {
        let recent = RecentTraffic::of(&[point(1, 0, 0, 0), point(2, 4, 1, 100)]);
        assert_eq!(
            recent,
            RecentTraffic {
                requests: 4,
                rps: 2.0,
                error_rate: 0.25,
                p50_us: 100,
                p95_us: 101,
                p99_us: 102,
            }
        );
    }

    #[test]
    fn percentiles_are_weighted_by_requests() {
        let recent = RecentTraffic::of(&[point(1, 1, 0, 100), point(2, 3, 0, 200)]);
        assert_eq!(
            (recent.p50_us, recent.p95_us, recent.p99_us),
            (175, 176, 177)
        );
    }

    #[test]
    fn the_cards_look_at_the_last_ten_seconds() {
        let series: Vec<_> = (0..15).map(|s| point(s, s as u64, 0, 0)).collect();
        // Seconds 5..15: 5 + 6 + … + 14 = 95 requests.
        assert_eq!(RecentTraffic::of_last(&series).requests, 95);
        assert_eq!(RecentTraffic::of_last(&series[..3]).requests, 3);
    }
}
