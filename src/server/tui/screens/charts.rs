//! The charts over the last 15 minutes: requests/s and error-rate sparklines (several seconds
//! to a bar when the series is longer than the area is wide) and the p50/p95/p99 latency chart.

use super::{Context, block};
use crate::server::tui::format;
use crate::server::tui::model::SERIES_SECONDS;
use crate::views::SeriesPoint;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Sparkline};

/// The series in at most `bars` buckets of whole seconds, oldest first: per bucket the
/// requests and errors summed and the seconds counted.
fn buckets(series: &[&SeriesPoint], bars: usize) -> Vec<(u64, u64, u64)> {
    if bars == 0 || series.is_empty() {
        return Vec::new();
    }
    let per_bar = series.len().div_ceil(bars);
    series
        .chunks(per_bar)
        .map(|chunk| {
            chunk
                .iter()
                .fold((0, 0, 0), |(requests, errors, secs), point| {
                    (requests + point.requests, errors + point.errors, secs + 1)
                })
        })
        .collect()
}

/// Requests per second as a sparkline over the whole series.
pub fn requests(frame: &mut Frame, area: Rect, context: &Context) {
    let palette = context.palette;
    let series: Vec<&SeriesPoint> = context.model.series.iter().collect();
    let title = format!(
        "Requests/s {} · peak {} · 15 min",
        format::rate(context.model.rps()),
        format::rate(series.iter().map(|point| point.requests).max().unwrap_or(0) as f64)
    );
    let block = block(title, palette);
    let bars = block.inner(area).width as usize;
    let data: Vec<u64> = buckets(&series, bars)
        .into_iter()
        .map(|(requests, _, secs)| requests / secs.max(1))
        .collect();
    frame.render_widget(
        Sparkline::default()
            .data(data)
            .style(palette.accent())
            .block(block),
        area,
    );
}

/// The error rate as a sparkline over the whole series (in tenths of a percent, so a bar is
/// drawn for any error at all).
pub fn error_rate(frame: &mut Frame, area: Rect, context: &Context) {
    let palette = context.palette;
    let series: Vec<&SeriesPoint> = context.model.series.iter().collect();
    let rate = context.model.error_rate();
    let block = block(
        format!("Error rate {} · 15 min", format::percent(rate)),
        palette,
    );
    let bars = block.inner(area).width as usize;
    let data: Vec<u64> = buckets(&series, bars)
        .into_iter()
        .map(|(requests, errors, _)| {
            if requests == 0 {
                0
            } else {
                (errors * 1_000).div_ceil(requests)
            }
        })
        .collect();
    frame.render_widget(
        Sparkline::default()
            .data(data)
            .style(palette.error_rate(rate.max(0.05)))
            .block(block),
        area,
    );
}

/// p50, p95 and p99 latency (milliseconds) over the last 15 minutes.
pub fn latency(frame: &mut Frame, area: Rect, context: &Context) {
    let palette = context.palette;
    let series = &context.model.series;
    let newest = series.back().map(|point| point.at);
    let point = |pick: fn(&SeriesPoint) -> u64| -> Vec<(f64, f64)> {
        let Some(newest) = newest else {
            return Vec::new();
        };
        series
            .iter()
            .filter(|point| point.requests > 0)
            .map(|point| {
                let ago = (newest - point.at).num_seconds() as f64;
                (-ago, pick(point) as f64 / 1e3)
            })
            .collect()
    };
    let p50 = point(|p| p.p50_us);
    let p95 = point(|p| p.p95_us);
    let p99 = point(|p| p.p99_us);
    let top_ms = p99
        .iter()
        .chain(&p95)
        .map(|(_, ms)| *ms)
        .fold(1.0_f64, f64::max)
        * 1.1;
    let last = series.back().filter(|point| point.requests > 0);
    let title = match last {
        Some(point) => format!(
            "Latency p50 {} · p95 {} · p99 {} · 15 min",
            format::latency(point.p50_us),
            format::latency(point.p95_us),
            format::latency(point.p99_us)
        ),
        None => "Latency p50 · p95 · p99 · 15 min".to_string(),
    };
    let datasets = vec![
        Dataset::default()
            .name("p50")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(palette.good())
            .data(&p50),
        Dataset::default()
            .name("p95")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(palette.second())
            .data(&p95),
        Dataset::default()
            .name("p99")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(palette.warn())
            .data(&p99),
    ];
    let span = SERIES_SECONDS as f64;
    let chart = Chart::new(datasets)
        .block(block(title, palette))
        .x_axis(
            Axis::default()
                .bounds([-span, 0.0])
                .labels(vec![
                    Span::styled("-15m", palette.dim()),
                    Span::styled("-7m30s", palette.dim()),
                    Span::styled("now", palette.dim()),
                ])
                .style(palette.dim()),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top_ms])
                .labels(vec![
                    Line::from("0"),
                    Line::from(format::latency((top_ms * 500.0) as u64)),
                    Line::from(format::latency((top_ms * 1e3) as u64)),
                ])
                .style(palette.dim()),
        );
    frame.render_widget(chart, area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::tui::model::testing::point;

    #[test]
    fn a_long_series_is_bucketed_to_the_width() {
        let series: Vec<SeriesPoint> = (0..900).map(|s| point(s, 10, 1)).collect();
        let refs: Vec<&SeriesPoint> = series.iter().collect();
        let bars = buckets(&refs, 100);
        // 9 seconds a bar: the whole 15 minutes in 100 bars.
        assert_eq!(bars.len(), 100);
        assert_eq!(bars[0], (90, 9, 9));
        let short = buckets(&refs[..50], 100);
        assert_eq!(short.len(), 50);
        assert!(buckets(&refs, 0).is_empty());
    }
}
