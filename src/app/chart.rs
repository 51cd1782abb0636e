//! Small SVG charts of our own: lines over time, with the value range and time range labelled,
//! optional click-through columns (each opens the requests of its time slice) and optional
//! markers at moments in time (when an alert began firing): vertical lines drawn as one more
//! polyline, with a legend entry counting them — the same elements as the lines, so marking
//! costs the WASM client next to nothing.

use crate::app::format;
use chrono::{DateTime, Utc};
use leptos::prelude::*;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 150.0;

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub name: &'static str,
    /// CSS class giving its colour (`line-1` … `line-4`, `line-bad`, `line-previous`).
    pub class: &'static str,
    pub values: Vec<f64>,
}

/// A clickable slice of the chart's time axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Slice {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub href: String,
}

/// What a chart draws: points in time (oldest first) and the lines' values at them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChartData {
    pub times: Vec<DateTime<Utc>>,
    pub lines: Vec<Line>,
    pub slices: Vec<Slice>,
}

/// A line chart. `unit` formats the axis value.
#[component]
pub fn LineChart(
    /// Heading above the chart.
    title: &'static str,
    /// For tests and links: `data-testid`.
    testid: &'static str,
    #[prop(into)] data: Signal<ChartData>,
    /// Formats a value for the axis label.
    unit: fn(f64) -> String,
    /// Moments to mark, oldest first; those outside the chart's time range are left out.
    #[prop(optional, into)]
    markers: Option<Signal<Vec<DateTime<Utc>>>>,
) -> impl IntoView {
    let max = Memo::new(move |_| {
        data.with(|d| {
            d.lines
                .iter()
                .flat_map(|l| l.values.iter().copied())
                .fold(0.0_f64, f64::max)
        })
    });
    // The markers in range: the points of their polyline, and how many.
    let marked = Memo::new(move |_| {
        let markers = markers?;
        data.with(|d| {
            let (first, last) = (d.times.first()?, d.times.last()?);
            markers.with(|times| marker_points(times, *first, *last))
        })
    });
    let polylines = move || {
        data.with(|d| {
            let n = d.times.len();
            let top = nice_ceiling(max.get());
            let lines = d.lines.iter().map(|line| {
                (
                    format!("chart-line {}", line.class),
                    points(&line.values, n, top),
                )
            });
            let marks = marked
                .get()
                .map(|(points, _)| ("chart-markers".to_string(), points));
            lines
                .chain(marks)
                .map(|(class, points)| {
                    view! {
                        <polyline class=class points=points vector-effect="non-scaling-stroke" />
                    }
                })
                .collect_view()
        })
    };
    let slices = move || {
        data.with(|d| {
            let (Some(first), Some(last)) = (d.times.first(), d.times.last()) else {
                return Vec::new();
            };
            let span = (*last - *first).num_milliseconds().max(1) as f64;
            d.slices
                .iter()
                .map(|slice| {
                    let x = ((slice.from - *first).num_milliseconds() as f64 / span * WIDTH)
                        .clamp(0.0, WIDTH);
                    let end = ((slice.until - *first).num_milliseconds() as f64 / span * WIDTH)
                        .clamp(0.0, WIDTH);
                    let label = format!(
                        "Requests from {} to {}",
                        format::clock(slice.from),
                        format::clock(slice.until)
                    );
                    // In a <g>, so the view macro makes an SVG <a>: one made on its own would be
                    // an HTML element, which a browser does not draw inside an <svg> (slices made
                    // after hydration, e.g. for a new minute, would not show).
                    view! {
                        <g>
                            <a href=slice.href.clone() class="chart-slice">
                                <rect x=x y="0" width=(end - x).max(1.0) height=HEIGHT>
                                    <title>{label}</title>
                                </rect>
                            </a>
                        </g>
                    }
                })
                .collect::<Vec<_>>()
        })
    };
    let legend = move || {
        data.with(|d| {
            let lines = d.lines.iter().map(|line| {
                let last = line.values.last().copied().unwrap_or(0.0);
                (format!("legend-item {}", line.class), line.name, unit(last))
            });
            let marks = marked.get().map(|(_, n)| {
                (
                    "legend-item line-markers".to_string(),
                    "alerts fired",
                    n.to_string(),
                )
            });
            lines
                .chain(marks)
                .map(|(class, name, value)| {
                    view! {
                        <li class=class>
                            <span class="legend-swatch" aria-hidden="true"></span>
                            {name} " " <strong>{value}</strong>
                        </li>
                    }
                })
                .collect_view()
        })
    };
    let range = move || {
        data.with(|d| match (d.times.first(), d.times.last()) {
            (Some(first), Some(last)) => (format::clock(*first), format::clock(*last)),
            _ => (String::new(), String::new()),
        })
    };
    let empty = move || data.with(|d| d.times.len() < 2);

    view! {
        <figure class="chart" data-testid=testid>
            <figcaption class="chart-title">{title}</figcaption>
            <div class="chart-body">
                <span class="chart-max">{move || unit(nice_ceiling(max.get()))}</span>
                <svg
                    class="chart-svg"
                    viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                    preserveAspectRatio="none"
                    role="group"
                    aria-label=title
                >
                    <line class="chart-grid" x1="0" y1=HEIGHT / 2.0 x2=WIDTH y2=HEIGHT / 2.0 />
                    {polylines}
                    {slices}
                </svg>
                <Show when=empty>
                    <p class="chart-empty">"Not enough data yet: the chart fills as traffic arrives."</p>
                </Show>
                <div class="chart-times">
                    <span>{move || range().0}</span>
                    <span>{move || range().1}</span>
                </div>
            </div>
            <ul class="chart-legend">{legend}</ul>
        </figure>
    }
}

/// The polyline of vertical lines at the `times` within `first`..=`last`, and their number
/// (`None` without any): each line is drawn from below the chart to its top and back, so the
/// stretches between them run outside the drawing, where the SVG clips them.
fn marker_points(
    times: &[DateTime<Utc>],
    first: DateTime<Utc>,
    last: DateTime<Utc>,
) -> Option<(String, usize)> {
    let span = (last - first).num_milliseconds().max(1) as f64;
    let below = HEIGHT + 10.0;
    let mut xs: Vec<f64> = times
        .iter()
        .filter(|t| **t >= first && **t <= last)
        .map(|t| ((*t - first).num_milliseconds() as f64 / span * WIDTH).clamp(0.0, WIDTH))
        .collect();
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let points = xs
        .iter()
        .map(|x| format!("{x:.1},{below} {x:.1},0 {x:.1},{below}"))
        .collect::<Vec<_>>()
        .join(" ");
    Some((points, xs.len()))
}

/// The SVG `points` of `values` spread over `n` slots, scaled to `top`.
fn points(values: &[f64], n: usize, top: f64) -> String {
    let step = if n > 1 { WIDTH / (n - 1) as f64 } else { 0.0 };
    let mut out = String::with_capacity(values.len() * 12);
    for (i, value) in values.iter().enumerate() {
        let y = HEIGHT - (value / top).clamp(0.0, 1.0) * (HEIGHT - 4.0) - 2.0;
        out.push_str(&format!("{:.1},{:.1} ", i as f64 * step, y));
    }
    out
}

/// A round number at or above `max` for the top of the axis (1, 2 or 5 × 10ⁿ).
pub fn nice_ceiling(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|f| f * magnitude)
        .find(|v| *v >= max)
        .unwrap_or(10.0 * magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(0.7), 1.0);
        assert_eq!(nice_ceiling(1.5), 2.0);
        assert_eq!(nice_ceiling(37.0), 50.0);
        assert_eq!(nice_ceiling(501.0), 1000.0);
    }

    #[test]
    fn markers_outside_the_time_range_are_left_out() {
        use crate::views::testing::at;
        let times = [at(90), at(-1), at(0), at(101), at(25)];
        assert_eq!(
            marker_points(&times, at(0), at(100)),
            Some((
                "0.0,160 0.0,0 0.0,160 150.0,160 150.0,0 150.0,160 540.0,160 540.0,0 540.0,160"
                    .to_string(),
                3
            ))
        );
        assert_eq!(marker_points(&times, at(200), at(300)), None);
        assert_eq!(
            marker_points(&[at(5)], at(5), at(5)).map(|m| m.1),
            Some(1),
            "a single point"
        );
    }

    #[test]
    fn points_span_the_width_and_stay_inside() {
        let p = points(&[0.0, 5.0, 10.0], 3, 10.0);
        assert_eq!(p.trim(), "0.0,148.0 300.0,75.0 600.0,2.0");
    }
}
