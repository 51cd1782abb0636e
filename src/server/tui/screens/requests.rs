//! The Requests tab: the live tail of finished requests, newest first, coloured by status
//! class; `p` pauses it.

use super::table::{self, Column};
use super::{Context, block};
use crate::server::tui::format;
use crate::views::RequestRecord;
use ratatui::Frame;
use ratatui::layout::Rect;

/// Draws the request tail in `area`.
pub fn draw(frame: &mut Frame, area: Rect, context: &Context) {
    let palette = context.palette;
    let height = area.height.saturating_sub(3) as usize;
    let rows: Vec<&RequestRecord> = match &context.view.paused {
        Some(frozen) => frozen.iter().take(height).collect(),
        None => context.model.requests.iter().rev().take(height).collect(),
    };
    let mut title = if context.view.paused.is_some() {
        "Requests · paused (p resumes)".to_string()
    } else {
        "Requests · live (p pauses)".to_string()
    };
    if context.model.requests_omitted > 0 {
        title.push_str(&format!(
            " · {} not shown (busy)",
            format::count(context.model.requests_omitted)
        ));
    }
    if rows.is_empty() {
        table::empty(
            frame,
            area,
            block(title, palette),
            "no requests yet: they show here as they finish",
            palette,
        );
        return;
    }
    let columns = [
        Column::word(
            "time",
            rows.iter()
                .map(|r| {
                    r.at.with_timezone(&chrono::Local)
                        .format("%H:%M:%S")
                        .to_string()
                })
                .collect(),
            2,
        ),
        Column::figure(
            "status",
            rows.iter().map(|r| r.status.to_string()).collect(),
            0,
        ),
        Column::word(
            "method",
            rows.iter().map(|r| r.method.to_string()).collect(),
            1,
        ),
        Column::name(
            "route",
            rows.iter()
                .map(|r| r.route.as_deref().unwrap_or("-").to_string())
                .collect(),
            3,
            6,
        ),
        Column::name(
            "path",
            rows.iter().map(|r| r.path.to_string()).collect(),
            0,
            12,
        ),
        Column::figure(
            "latency",
            rows.iter().map(|r| format::latency(r.latency_us)).collect(),
            0,
        ),
        Column::name(
            "target",
            rows.iter()
                .map(|r| r.target.as_deref().unwrap_or("-").to_string())
                .collect(),
            4,
            12,
        ),
        Column::name(
            "error",
            rows.iter()
                .map(|r| r.error.as_deref().unwrap_or("").to_string())
                .collect(),
            2,
            8,
        ),
    ];
    let styles: Vec<_> = rows.iter().map(|r| palette.status(r.status)).collect();
    table::draw(
        frame,
        area,
        block(title, palette),
        &columns,
        &styles,
        None,
        palette,
    );
}
