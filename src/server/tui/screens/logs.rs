//! The gateway's own log: the Logs tab, and the log panel of the wide Overview. Lines at the
//! chosen level and matching the filter, the newest at the bottom, scrolled back with ↑/↓ and
//! PgUp/PgDn.

use super::{Context, block};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Draws the log in `area`, scrolled `scroll` lines back from the newest.
pub fn draw(frame: &mut Frame, area: Rect, context: &Context, scroll: usize) {
    let palette = context.palette;
    let view = context.view;
    let lines = view.visible_logs(context.model.logs.iter());
    let mut title = format!("Log · {}", view.log_level.label());
    if !view.log_filter.is_empty() {
        title.push_str(&format!(" · matching \"{}\"", view.log_filter));
    }
    if scroll > 0 {
        title.push_str(&format!(" · {scroll} back"));
    }
    let block = block(title, palette);
    let height = block.inner(area).height as usize;
    let scroll = scroll.min(lines.len().saturating_sub(height));
    let end = lines.len() - scroll;
    let start = end.saturating_sub(height);
    let text: Vec<Line> = lines[start..end]
        .iter()
        .map(|line| {
            Line::from(vec![
                Span::styled(
                    line.at
                        .with_timezone(&chrono::Local)
                        .format("%H:%M:%S ")
                        .to_string(),
                    palette.dim(),
                ),
                Span::styled(format!("{:<5} ", line.level), palette.level(&line.level)),
                Span::raw(line.message.replace('\n', " ⏎ ")),
            ])
        })
        .collect();
    let text = if text.is_empty() {
        vec![Line::from(Span::styled(
            if view.log_filter.is_empty() {
                "no log lines at this level (l changes it)"
            } else {
                "no log lines match (/ changes the filter)"
            },
            palette.dim(),
        ))]
    } else {
        text
    };
    frame.render_widget(Paragraph::new(text).block(block), area);
}
