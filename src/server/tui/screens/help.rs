//! The key help, drawn over the screen on `?`.

use super::{Context, block};
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

/// The keys and what they do.
fn keys(can_hide: bool) -> Vec<(&'static str, &'static str)> {
    let mut keys = vec![
        ("1-5, Tab", "Overview, Routes, Models, Logs, Requests"),
        ("↑/↓", "select a route; scroll the log"),
        ("PgUp/PgDn", "scroll the log a page"),
        ("/", "filter the log (Enter keeps, Esc clears)"),
        ("l", "log level: info+, warn+, errors"),
        ("p", "pause or resume the request tail"),
    ];
    if can_hide {
        keys.push((
            "d",
            "hide the dashboard (the log goes to the terminal); d again shows it",
        ));
        keys.push(("q, Esc, Ctrl-C", "quit: drain, flush the history, stop"));
    } else {
        keys.push(("q, Esc, Ctrl-C", "quit"));
    }
    keys.push(("?", "this help (any key closes it)"));
    keys
}

/// Draws the help centred over `area`.
pub fn draw(frame: &mut Frame, area: Rect, context: &Context) {
    let palette = context.palette;
    let keys = keys(context.can_hide);
    let lines: Vec<Line> = keys
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!("{key:>15}  "), palette.heading()),
                Span::raw(*what),
            ])
        })
        .collect();
    let [popup] = Layout::vertical([Constraint::Length(lines.len() as u16 + 2)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Max(90)])
        .flex(Flex::Center)
        .areas(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block("Keys", palette)),
        popup,
    );
}
