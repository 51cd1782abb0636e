//! `/api/stats` from the rollups: a period, its series and the period before it, read from one
//! row per bucket (the `All` or `Route` scope), never from the request rows.
//!
//! Sources: 5m and 1h read minute rollups (one per point); 24h reads minute rollups and adds them
//! up into 5-minute points; 7d reads hour rollups (one per point). Percentiles come from merging
//! the buckets' latency histograms, so they carry the histogram's 1 % relative error.

use super::rollup::{Grain, Rollup};
use super::schema::Scope;
use crate::views::{PeriodStats, SeriesPoint, StatsPeriod, StatsSummary};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

/// The rollup grain a period is read from.
pub fn grain(period: StatsPeriod) -> Grain {
    match period {
        StatsPeriod::FiveMinutes | StatsPeriod::Hour | StatsPeriod::Day => Grain::Minute,
        StatsPeriod::Week => Grain::Hour,
    }
}

/// The end of the period ending at `now`: `now` rounded up to the period's bucket grid (Unix
/// seconds).
pub fn period_end(period: StatsPeriod, now: DateTime<Utc>) -> i64 {
    let bucket = period.bucket_secs();
    let secs = now.timestamp();
    let on_grid = secs.rem_euclid(bucket) == 0 && now.timestamp_subsec_nanos() == 0;
    let start = secs.div_euclid(bucket) * bucket;
    if on_grid { start } else { start + bucket }
}

/// Stats for `period` ending at `now`, for `route` or all traffic.
pub fn period_stats(
    conn: &Connection,
    period: StatsPeriod,
    route: Option<&str>,
    now: DateTime<Utc>,
) -> rusqlite::Result<PeriodStats> {
    let bucket_secs = period.bucket_secs();
    let points = (period.secs() / bucket_secs) as usize;
    let until = period_end(period, now);
    let from = until - period.secs();
    let previous_from = from - period.secs();

    // Points 0..points are the previous period, points..2*points the current one.
    let mut series: Vec<Point> = (0..2 * points).map(|_| Point::default()).collect();
    let (scope, route_key) = match route {
        Some(route) => (Scope::Route, route),
        None => (Scope::All, ""),
    };
    let grain = grain(period);
    let mut select = conn.prepare_cached(grain.select_range_sql())?;
    let mut rows = select.query(params![scope as i64, route_key, previous_from, until])?;
    while let Some(row) = rows.next()? {
        let bucket: i64 = row.get(0)?;
        let index = ((bucket - previous_from) / bucket_secs) as usize;
        // The query's range keeps `index` in bounds; stay safe against odd rows all the same.
        if let Some(point) = series.get_mut(index) {
            point.add(Rollup::read(row, 1)?);
        }
    }

    let current = series.split_off(points);
    let previous = series;
    let at = |start: i64, i: usize| {
        DateTime::from_timestamp(start + i as i64 * bucket_secs, 0).unwrap_or_default()
    };
    Ok(PeriodStats {
        period,
        route: route.map(str::to_owned),
        from: DateTime::from_timestamp(from, 0).unwrap_or_default(),
        until: DateTime::from_timestamp(until, 0).unwrap_or_default(),
        bucket_secs,
        current: summarise(&current, period),
        previous: summarise(&previous, period),
        series: current
            .iter()
            .enumerate()
            .map(|(i, p)| p.view(at(from, i)))
            .collect(),
        previous_series: previous
            .iter()
            .enumerate()
            .map(|(i, p)| p.view(at(previous_from, i)))
            .collect(),
    })
}

/// One point of a series while it is being added up.
#[derive(Default)]
struct Point(Option<Rollup>);

impl Point {
    fn add(&mut self, rollup: Rollup) {
        match &mut self.0 {
            Some(sum) => sum.merge(&rollup),
            None => self.0 = Some(rollup),
        }
    }

    fn view(&self, at: DateTime<Utc>) -> SeriesPoint {
        let Some(rollup) = &self.0 else {
            return SeriesPoint {
                at,
                ..SeriesPoint::default()
            };
        };
        let p = rollup.latency.percentiles();
        SeriesPoint {
            at,
            requests: rollup.requests,
            errors: rollup.errors,
            p50_us: p.p50_us,
            p95_us: p.p95_us,
            p99_us: p.p99_us,
            sample: None,
        }
    }
}

/// The totals of a period's points.
fn summarise(points: &[Point], period: StatsPeriod) -> StatsSummary {
    let mut total = Rollup::default();
    for rollup in points.iter().filter_map(|p| p.0.as_ref()) {
        total.merge(rollup);
    }
    let p = total.latency.percentiles();
    StatsSummary {
        requests: total.requests,
        errors: total.errors,
        error_rate: if total.requests == 0 {
            0.0
        } else {
            total.errors as f64 / total.requests as f64
        },
        rps: total.requests as f64 / period.secs() as f64,
        p50_us: p.p50_us,
        p95_us: p.p95_us,
        p99_us: p.p99_us,
        max_us: p.max_us,
        bytes_in: total.bytes_in,
        bytes_out: total.bytes_out,
        input_tokens: total.input_tokens,
        output_tokens: total.output_tokens,
        status: total.status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::history::testing::{self, at};
    use crate::server::records::histogram::LatencyHistogram;
    use crate::views::{RequestRecord, StatusClasses};
    use chrono::Duration;

    /// Sparse traffic over the last 15 days, dense traffic over the last 25 minutes, and a little
    /// after `now` (which no period may count).
    fn traffic(now: DateTime<Utc>) -> Vec<RequestRecord> {
        let mut records = testing::varied(
            1,
            0,
            3_000,
            now - Duration::days(15),
            Duration::seconds(431),
        );
        records.extend(testing::varied(
            2,
            3_000,
            5_000,
            now - Duration::minutes(25),
            Duration::milliseconds(300),
        ));
        records.extend(testing::varied(
            3,
            8_000,
            50,
            now + Duration::minutes(2),
            Duration::seconds(1),
        ));
        records
    }

    /// What the stats should say about `records` in `[from, until)`, computed from the records.
    fn direct(
        records: &[RequestRecord],
        route: Option<&str>,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        secs: i64,
    ) -> (StatsSummary, LatencyHistogram) {
        let mut summary = StatsSummary::default();
        let mut latency = LatencyHistogram::default();
        let selected = records
            .iter()
            .filter(|r| r.at >= from && r.at < until)
            .filter(|r| route.is_none_or(|route| r.route.as_deref() == Some(route)));
        for r in selected {
            summary.requests += 1;
            summary.errors += u64::from(r.error.is_some());
            summary.status.count(r.status);
            summary.bytes_in += r.bytes_in;
            summary.bytes_out += r.bytes_out;
            if let Some(llm) = &r.llm {
                summary.input_tokens += llm.input_tokens.unwrap_or(0);
                summary.output_tokens += llm.output_tokens.unwrap_or(0);
            }
            latency.record(r.latency_us);
        }
        let p = latency.percentiles();
        (
            summary.p50_us,
            summary.p95_us,
            summary.p99_us,
            summary.max_us,
        ) = (p.p50_us, p.p95_us, p.p99_us, p.max_us);
        summary.error_rate = if summary.requests == 0 {
            0.0
        } else {
            summary.errors as f64 / summary.requests as f64
        };
        summary.rps = summary.requests as f64 / secs as f64;
        (summary, latency)
    }

    fn check(stats: &PeriodStats, records: &[RequestRecord], route: Option<&str>) {
        let secs = stats.period.secs();
        let bucket = Duration::seconds(stats.bucket_secs);
        let points = (secs / stats.bucket_secs) as usize;
        assert_eq!(stats.until - stats.from, Duration::seconds(secs));
        assert_eq!(stats.series.len(), points);
        assert_eq!(stats.previous_series.len(), points);
        assert_eq!(stats.route.as_deref(), route);

        let (current, _) = direct(records, route, stats.from, stats.until, secs);
        assert_eq!(stats.current, current, "{:?} current", stats.period);
        let previous_from = stats.from - Duration::seconds(secs);
        let (previous, _) = direct(records, route, previous_from, stats.from, secs);
        assert_eq!(stats.previous, previous, "{:?} previous", stats.period);

        for (series, start) in [
            (&stats.series, stats.from),
            (&stats.previous_series, previous_from),
        ] {
            for (i, point) in series.iter().enumerate() {
                let from = start + bucket * i as i32;
                assert_eq!(point.at, from, "{:?} point {i}", stats.period);
                let (want, _) = direct(records, route, from, from + bucket, 1);
                assert_eq!(
                    (
                        point.requests,
                        point.errors,
                        point.p50_us,
                        point.p95_us,
                        point.p99_us
                    ),
                    (
                        want.requests,
                        want.errors,
                        want.p50_us,
                        want.p95_us,
                        want.p99_us
                    ),
                    "{:?} point {i} at {from}",
                    stats.period
                );
            }
        }
    }

    #[test]
    fn every_period_equals_what_the_records_say() {
        let dir = tempfile::tempdir().unwrap();
        let (history, writer) = testing::open(dir.path());
        let now = at("2025-03-08T12:34:56.789Z");
        let records = traffic(now);
        for chunk in records.chunks(700) {
            history.submit(chunk.to_vec());
        }
        assert!(history.flush_blocking());

        for period in StatsPeriod::ALL {
            for route in [None, Some("llm"), Some("api"), Some("nope")] {
                let stats = history.stats(period, route, now).unwrap();
                check(&stats, &records, route);
            }
        }

        // The data really covers what is being checked: tokens, every status class, zero buckets.
        let day = history.stats(StatsPeriod::Day, None, now).unwrap();
        assert!(day.current.input_tokens > 0 && day.current.output_tokens > 0);
        let StatusClasses {
            informational,
            success,
            redirection,
            client_error,
            server_error,
        } = day.current.status;
        assert!(
            [
                informational,
                success,
                redirection,
                client_error,
                server_error
            ]
            .iter()
            .all(|&n| n > 0)
        );
        assert!(day.series.iter().any(|p| p.requests == 0));
        assert!(day.previous.requests > 0);
        let routed = history.stats(StatsPeriod::Week, Some("llm"), now).unwrap();
        assert!(
            routed.current.requests > 0
                && routed.current.requests
                    < history
                        .stats(StatsPeriod::Week, None, now)
                        .unwrap()
                        .current
                        .requests
        );
        writer.shutdown();
    }

    #[test]
    fn the_period_ends_at_now_rounded_up_to_the_bucket_grid() {
        let now = at("2025-03-08T12:34:56.789Z");
        let end = |period| DateTime::from_timestamp(period_end(period, now), 0).unwrap();
        assert_eq!(end(StatsPeriod::FiveMinutes), at("2025-03-08T12:35:00Z"));
        assert_eq!(end(StatsPeriod::Hour), at("2025-03-08T12:35:00Z"));
        assert_eq!(end(StatsPeriod::Day), at("2025-03-08T12:35:00Z"));
        assert_eq!(end(StatsPeriod::Week), at("2025-03-08T13:00:00Z"));
        // On the grid already: unchanged; a nanosecond past it: the next bucket.
        let on_grid = at("2025-03-08T12:35:00Z");
        assert_eq!(period_end(StatsPeriod::Day, on_grid), on_grid.timestamp());
        let past = on_grid + Duration::nanoseconds(1);
        assert_eq!(
            period_end(StatsPeriod::Day, past),
            on_grid.timestamp() + 300
        );
    }

    #[test]
    fn an_empty_history_gives_zeros_on_the_full_grid() {
        let dir = tempfile::tempdir().unwrap();
        let (history, writer) = testing::open(dir.path());
        let now = at("2025-03-08T12:00:00Z");
        let stats = history.stats(StatsPeriod::Week, None, now).unwrap();
        assert_eq!(stats.until, now);
        assert_eq!(stats.series.len(), 168);
        assert_eq!(stats.previous_series[0].at, now - Duration::days(14));
        assert_eq!(stats.current, StatsSummary::default());
        assert!(
            stats
                .series
                .iter()
                .all(|p| p.requests == 0 && p.p99_us == 0)
        );
        writer.shutdown();
    }
}
