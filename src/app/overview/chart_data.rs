//! The overview's three charts as data: pure functions from a traffic series to what
//! [`LineChart`](crate::app::chart::LineChart) draws — requests per second, latency percentiles
//! and error rate — with clickable slices that open the request log for their time. A live
//! series gets one slice per minute; a history period one per bucket, and optionally the
//! previous period overlaid point for point on the same bucket grid.

use crate::app::chart::{ChartData, Line, Slice};
use crate::app::query_string::encode;
use crate::views::{PeriodStats, SeriesPoint};
use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Utc};

/// What each of the three charts draws.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ThreeCharts {
    /// Requests per second.
    pub rps: ChartData,
    /// p50, p95 and p99 in milliseconds.
    pub latency: ChartData,
    /// Errors in percent of requests.
    pub errors: ChartData,
}

/// The charts of the live series, one point a second.
pub fn live_chart_data(points: &[SeriesPoint]) -> ThreeCharts {
    let times: Vec<_> = points.iter().map(|p| p.at).collect();
    let slices = minute_slices(&times);
    three_charts(times, points, 1.0, slices)
}

/// The charts of a history period, with the previous period's requests per second, p95 and
/// error rate as a fourth line each when `with_previous`.
pub fn period_chart_data(stats: &PeriodStats, with_previous: bool) -> ThreeCharts {
    let bucket = stats.bucket_secs.max(1) as f64;
    let times: Vec<_> = stats.series.iter().map(|p| p.at).collect();
    let slices = stats
        .series
        .iter()
        .map(|p| {
            let until = p.at + TimeDelta::seconds(stats.bucket_secs);
            Slice {
                from: p.at,
                until,
                href: requests_href(p.at, until),
            }
        })
        .collect();
    let mut charts = three_charts(times, &stats.series, bucket, slices);
    if with_previous {
        let previous = &stats.previous_series;
        charts.rps.lines.push(Line {
            name: "previous period",
            class: "line-previous",
            values: per_second(previous, bucket),
        });
        charts.latency.lines.push(Line {
            name: "p95, previous period",
            class: "line-previous",
            values: millis(previous, |p| p.p95_us),
        });
        charts.errors.lines.push(Line {
            name: "previous period",
            class: "line-previous",
            values: error_percent(previous),
        });
    }
    charts
}

/// One slice per calendar minute from the first time to the last, each cut to the times shown
/// but opening the request log for its whole minute.
fn minute_slices(times: &[DateTime<Utc>]) -> Vec<Slice> {
    let mut slices = Vec::new();
    if let (Some(first), Some(last)) = (times.first(), times.last()) {
        let mut start = first
            .duration_trunc(TimeDelta::minutes(1))
            .unwrap_or(*first);
        while start <= *last {
            let end = start + TimeDelta::minutes(1);
            slices.push(Slice {
                from: start.max(*first),
                until: end.min(*last),
                href: requests_href(start, end),
            });
            start = end;
        }
    }
    slices
}

/// The three charts of a series whose points each cover `secs` seconds; `slices` make each of
/// them clickable.
fn three_charts(
    times: Vec<DateTime<Utc>>,
    points: &[SeriesPoint],
    secs: f64,
    slices: Vec<Slice>,
) -> ThreeCharts {
    ThreeCharts {
        rps: ChartData {
            times: times.clone(),
            lines: vec![Line {
                name: "requests/s",
                class: "line-1",
                values: per_second(points, secs),
            }],
            slices: slices.clone(),
        },
        latency: ChartData {
            times: times.clone(),
            lines: vec![
                Line {
                    name: "p50",
                    class: "line-1",
                    values: millis(points, |p| p.p50_us),
                },
                Line {
                    name: "p95",
                    class: "line-2",
                    values: millis(points, |p| p.p95_us),
                },
                Line {
                    name: "p99",
                    class: "line-3",
                    values: millis(points, |p| p.p99_us),
                },
            ],
            slices: slices.clone(),
        },
        errors: ChartData {
            times,
            lines: vec![Line {
                name: "errors",
                class: "line-bad",
                values: error_percent(points),
            }],
            slices,
        },
    }
}

/// Requests per second, each point covering `secs` seconds.
fn per_second(points: &[SeriesPoint], secs: f64) -> Vec<f64> {
    points.iter().map(|p| p.requests as f64 / secs).collect()
}

/// Errors in percent of requests (0 without requests).
fn error_percent(points: &[SeriesPoint]) -> Vec<f64> {
    points
        .iter()
        .map(|p| {
            if p.requests == 0 {
                0.0
            } else {
                p.errors as f64 * 100.0 / p.requests as f64
            }
        })
        .collect()
}

/// A latency field in milliseconds.
fn millis(points: &[SeriesPoint], field: fn(&SeriesPoint) -> u64) -> Vec<f64> {
    points.iter().map(|p| field(p) as f64 / 1000.0).collect()
}

/// The request log from `from` until `until`.
fn requests_href(from: DateTime<Utc>, until: DateTime<Utc>) -> String {
    format!(
        "/requests?since={}&until={}",
        encode(&from.to_rfc3339_opts(SecondsFormat::Secs, true)),
        encode(&until.to_rfc3339_opts(SecondsFormat::Secs, true))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::testing::at;
    use crate::views::{StatsPeriod, StatsSummary};

    fn point(secs: i64, requests: u64, errors: u64, p50_us: u64) -> SeriesPoint {
        SeriesPoint {
            at: at(secs),
            requests,
            errors,
            p50_us,
            p95_us: p50_us * 2,
            p99_us: p50_us * 3,
            sample: None,
        }
    }

    fn values(data: &ChartData) -> Vec<Vec<f64>> {
        data.lines.iter().map(|l| l.values.clone()).collect()
    }

    fn names(data: &ChartData) -> Vec<(&str, &str)> {
        data.lines.iter().map(|l| (l.name, l.class)).collect()
    }

    fn period(series: Vec<SeriesPoint>, previous_series: Vec<SeriesPoint>) -> PeriodStats {
        PeriodStats {
            period: StatsPeriod::Hour,
            route: None,
            from: at(0),
            until: at(3_600),
            bucket_secs: 60,
            current: StatsSummary::default(),
            previous: StatsSummary::default(),
            series,
            previous_series,
        }
    }

    #[test]
    fn requests_hrefs_encode_both_ends_to_the_second() {
        assert_eq!(
            requests_href(at(0), at(60)),
            "/requests?since=2026-01-01T12%3A00%3A00Z&until=2026-01-01T12%3A01%3A00Z"
        );
    }

    #[test]
    fn an_empty_live_series_has_every_line_and_nothing_in_them() {
        let charts = live_chart_data(&[]);
        for data in [&charts.rps, &charts.latency, &charts.errors] {
            assert!(data.times.is_empty());
            assert!(data.slices.is_empty());
            assert!(data.lines.iter().all(|l| l.values.is_empty()));
        }
        assert_eq!(names(&charts.rps), [("requests/s", "line-1")]);
        assert_eq!(
            names(&charts.latency),
            [("p50", "line-1"), ("p95", "line-2"), ("p99", "line-3")]
        );
        assert_eq!(names(&charts.errors), [("errors", "line-bad")]);
    }

    #[test]
    fn live_values_are_per_second_in_milliseconds_and_percent() {
        let charts = live_chart_data(&[point(0, 4, 1, 1_500), point(1, 10, 0, 250)]);
        assert_eq!(charts.rps.times, [at(0), at(1)]);
        assert_eq!(values(&charts.rps), [[4.0, 10.0]]);
        assert_eq!(
            values(&charts.latency),
            [[1.5, 0.25], [3.0, 0.5], [4.5, 0.75]]
        );
        assert_eq!(values(&charts.errors), [[25.0, 0.0]]);
    }

    #[test]
    fn seconds_without_requests_are_zero_not_gaps() {
        let charts = live_chart_data(&[point(0, 0, 0, 0), point(1, 0, 0, 0), point(2, 2, 2, 0)]);
        assert_eq!(values(&charts.rps), [[0.0, 0.0, 2.0]]);
        assert_eq!(values(&charts.errors), [[0.0, 0.0, 100.0]]);
        assert_eq!(values(&charts.latency)[0], [0.0, 0.0, 0.0]);
    }

    #[test]
    fn one_live_point_makes_one_slice_of_no_width() {
        let charts = live_chart_data(&[point(30, 1, 0, 100)]);
        assert_eq!(
            charts.rps.slices,
            [Slice {
                from: at(30),
                until: at(30),
                href: requests_href(at(0), at(60)),
            }]
        );
    }

    #[test]
    fn live_slices_are_calendar_minutes_cut_to_the_series() {
        let points: Vec<_> = (58..=121).map(|s| point(s, 1, 0, 100)).collect();
        let charts = live_chart_data(&points);
        let slices: Vec<_> = charts
            .rps
            .slices
            .iter()
            .map(|s| (s.from, s.until, s.href.clone()))
            .collect();
        assert_eq!(
            slices,
            [
                (at(58), at(60), requests_href(at(0), at(60))),
                (at(60), at(120), requests_href(at(60), at(120))),
                (at(120), at(121), requests_href(at(120), at(180))),
            ]
        );
        assert_eq!(charts.latency.slices, charts.rps.slices);
        assert_eq!(charts.errors.slices, charts.rps.slices);
    }

    #[test]
    fn period_values_are_per_second_of_each_bucket() {
        let stats = period(vec![point(0, 120, 6, 2_000), point(60, 0, 0, 0)], vec![]);
        let charts = period_chart_data(&stats, false);
        assert_eq!(charts.rps.times, [at(0), at(60)]);
        assert_eq!(values(&charts.rps), [[2.0, 0.0]]);
        assert_eq!(values(&charts.errors), [[5.0, 0.0]]);
        assert_eq!(
            values(&charts.latency),
            [[2.0, 0.0], [4.0, 0.0], [6.0, 0.0]]
        );
    }

    #[test]
    fn period_slices_are_the_buckets() {
        let stats = period(vec![point(0, 1, 0, 0), point(60, 1, 0, 0)], vec![]);
        let charts = period_chart_data(&stats, false);
        assert_eq!(
            charts.errors.slices,
            [
                Slice {
                    from: at(0),
                    until: at(60),
                    href: requests_href(at(0), at(60)),
                },
                Slice {
                    from: at(60),
                    until: at(120),
                    href: requests_href(at(60), at(120)),
                },
            ]
        );
    }

    #[test]
    fn a_zero_bucket_width_divides_by_one() {
        let mut stats = period(vec![point(0, 3, 0, 0)], vec![]);
        stats.bucket_secs = 0;
        let charts = period_chart_data(&stats, false);
        assert_eq!(values(&charts.rps), [[3.0]]);
        assert_eq!(charts.rps.slices[0].until, at(0));
    }

    #[test]
    fn the_previous_period_is_a_fourth_line_point_for_point() {
        let stats = period(
            vec![point(0, 60, 0, 1_000), point(60, 120, 0, 1_000)],
            vec![point(-3_600, 180, 45, 500), point(-3_540, 0, 0, 0)],
        );
        let charts = period_chart_data(&stats, true);
        assert_eq!(
            names(&charts.rps),
            [
                ("requests/s", "line-1"),
                ("previous period", "line-previous")
            ]
        );
        assert_eq!(values(&charts.rps), [[1.0, 2.0], [3.0, 0.0]]);
        assert_eq!(
            names(&charts.latency),
            [
                ("p50", "line-1"),
                ("p95", "line-2"),
                ("p99", "line-3"),
                ("p95, previous period", "line-previous"),
            ]
        );
        assert_eq!(values(&charts.latency)[3], [1.0, 0.0]);
        assert_eq!(
            names(&charts.errors),
            [("errors", "line-bad"), ("previous period", "line-previous")]
        );
        assert_eq!(values(&charts.errors)[1], [25.0, 0.0]);
        // The overlay is drawn on the current period's times and slices.
        assert_eq!(charts.rps.times, [at(0), at(60)]);
        assert_eq!(charts.rps.slices.len(), 2);
    }

    #[test]
    fn without_comparison_the_previous_period_is_not_drawn() {
        let stats = period(vec![point(0, 1, 0, 0)], vec![point(-3_600, 9, 9, 9)]);
        let charts = period_chart_data(&stats, false);
        assert_eq!(charts.rps.lines.len(), 1);
        assert_eq!(charts.latency.lines.len(), 3);
        assert_eq!(charts.errors.lines.len(), 1);
    }
}
