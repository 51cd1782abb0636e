//! The header: the tabs and where the figures come from, then uptime, the config's state, requests/s,
//! error rate, connections, WebSockets and requests in flight, then CPU and memory as gauges.

use super::{Context, Width, pack};
use crate::server::tui::format;
use crate::server::tui::model::Link;
use crate::server::tui::view::Tab;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph};

/// The header's text lines for a terminal `width` columns wide (the gauges come below them).
pub fn lines(context: &Context, width: u16) -> Vec<Line<'static>> {
    let palette = context.palette;
    let model = context.model;
    let mut title = vec![
        Span::styled(
            "Gatewatch ",
            palette
                .accent()
                .add_modifier(ratatui::style::Modifier::BOLD),
        ),
        match &model.link {
            Link::Live => Span::styled("● live ", palette.good()),
            Link::Connecting { .. } => Span::styled("○ reconnecting ", palette.bad()),
        },
    ];
    if context.width >= Width::Medium {
        title.push(Span::styled(format!("{}  ", model.source), palette.dim()));
    }
    for (index, tab) in Tab::ALL.iter().enumerate() {
        let current = *tab == context.view.tab;
        if context.width == Width::Narrow && !current {
            continue;
        }
        let style = if current {
            palette
                .selected()
                .add_modifier(ratatui::style::Modifier::BOLD)
        } else {
            palette.text()
        };
        title.push(Span::styled(
            format!("{} {}", index + 1, tab.title()),
            style,
        ));
        title.push(Span::raw(" "));
    }
    let mut lines = vec![Line::from(title)];

    let (connections, websockets) = model.connections();
    let error_rate = model.error_rate();
    let config = match &model.last_reload {
        None => ("config".to_string(), "loaded".to_string(), palette.good()),
        Some(reload) if reload.applied => (
            "config".to_string(),
            format!("reloaded {}", reload.at.format("%H:%M:%S")),
            palette.good(),
        ),
        Some(reload) => (
            "config".to_string(),
            format!("REJECTED {}", reload.at.format("%H:%M:%S")),
            palette.bad(),
        ),
    };
    let pairs = vec![
        (
            "up".to_string(),
            format::duration(model.uptime_secs),
            palette.text(),
        ),
        config,
        (
            "req/s".to_string(),
            format::rate(model.rps()),
            palette.heading(),
        ),
        (
            "errors".to_string(),
            format::percent(error_rate),
            palette.error_rate(error_rate),
        ),
        (
            "conns".to_string(),
            format::count(connections),
            palette.text(),
        ),
        (
            "websockets".to_string(),
            format::count(websockets),
            palette.text(),
        ),
        (
            "in flight".to_string(),
            format::count(model.in_flight_requests),
            palette.text(),
        ),
        (
            "requests".to_string(),
            format::count(model.requests_total),
            palette.text(),
        ),
        alerts(model, palette),
    ];
    lines.extend(pack(pairs, width, palette));
    lines
}

/// The firing alerts: how many, and the first rules' names.
fn alerts(
    model: &crate::server::tui::model::Model,
    palette: crate::server::tui::palette::Palette,
) -> (String, String, ratatui::style::Style) {
    let firing = &model.firing_alerts;
    if firing.is_empty() {
        return ("alerts".to_string(), "none".to_string(), palette.good());
    }
    let mut names: Vec<&str> = firing.iter().map(String::as_str).take(3).collect();
    if firing.len() > names.len() {
        names.push("…");
    }
    (
        "alerts".to_string(),
        format!("{} FIRING {}", firing.len(), names.join(", ")),
        palette.bad(),
    )
}

/// Draws the header's `lines` and the CPU and memory gauges under them.
pub fn draw(frame: &mut Frame, area: Rect, lines: Vec<Line<'static>>, context: &Context) {
    let palette = context.palette;
    let model = context.model;
    let [text, gauges] = Layout::vertical([
        Constraint::Length(lines.len() as u16),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(lines), text);
    let cores = model.system.cpu_cores.max(1) as f64;
    let cpu = f64::from(model.system.process_cpu_percent);
    // The process's CPU in percent of one core; the gauge is full at all cores busy.
    let cpu_share = (cpu / (100.0 * cores)).clamp(0.0, 1.0);
    let memory_share = model.memory_share().clamp(0.0, 1.0);
    let [cpu_area, memory_area] = Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)])
        .spacing(2)
        .areas(gauges);
    let gauge = |label: String, ratio: f64| {
        LineGauge::default()
            .ratio(ratio)
            .label(label)
            .filled_style(palette.accent())
            .unfilled_style(palette.dim())
    };
    frame.render_widget(gauge(format!("CPU {:.1}%", cpu), cpu_share), cpu_area);
    frame.render_widget(
        gauge(
            format!(
                "MEM {} ({})",
                format::bytes(model.system.process_memory_bytes),
                format::percent(memory_share)
            ),
            memory_share,
        ),
        memory_area,
    );
}
