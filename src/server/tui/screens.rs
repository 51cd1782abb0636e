//! Drawing the dashboard: a header (uptime, config state, the key figures, CPU and memory), the
//! chosen tab, and a status line; the key help over it on `?`.
//!
//! Three layouts by terminal width ([`Width`]): under 80 columns the essentials stacked, 80–159
//! columns side by side in pairs, 160 and more everything at once. Any size draws, down to a
//! single cell: every area is split with constraints, never computed by subtraction.

pub mod charts;
pub mod header;
pub mod help;
pub mod logs;
pub mod models;
pub mod overview;
pub mod requests;
pub mod routes;
pub mod table;

use super::model::Model;
use super::palette::Palette;
use super::view::{Tab, View};
use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

/// The terminal's width class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Width {
    /// Under 80 columns: the essentials, stacked.
    Narrow,
    /// 80–159 columns.
    Medium,
    /// 160 columns and more: everything side by side.
    Wide,
}

impl Width {
    /// The class of a terminal `columns` wide.
    pub fn of(columns: u16) -> Self {
        match columns {
            0..80 => Width::Narrow,
            80..160 => Width::Medium,
            _ => Width::Wide,
        }
    }
}

/// Everything a screen draws with.
pub struct Context<'a> {
    pub model: &'a Model,
    pub view: &'a View,
    pub palette: Palette,
    pub width: Width,
    /// The wall clock (for "3s ago").
    pub now: DateTime<Utc>,
    /// `d` hides the dashboard (in process only).
    pub can_hide: bool,
}

/// Draws the whole dashboard into `frame`.
pub fn draw(frame: &mut Frame, context: &Context) {
    let area = frame.area();
    let header_lines = header::lines(context, area.width);
    let [header_area, body, status] = Layout::vertical([
        Constraint::Length(header_lines.len() as u16 + 1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw(frame, header_area, header_lines, context);
    match context.view.tab {
        Tab::Overview => overview::draw(frame, body, context),
        Tab::Routes => routes::draw(frame, body, context),
        Tab::Models => models::draw(frame, body, context),
        Tab::Logs => logs::draw(frame, body, context, context.view.log_scroll),
        Tab::Requests => requests::draw(frame, body, context),
    }
    frame.render_widget(status_line(context), status);
    if context.view.help {
        help::draw(frame, area, context);
    }
}

/// The bottom line: what is going on (connection, pause, filter being typed, shutting down) and
/// the keys that matter.
fn status_line(context: &Context) -> Paragraph<'static> {
    let palette = context.palette;
    let view = context.view;
    let mut spans: Vec<Span> = Vec::new();
    if view.quitting {
        spans.push(Span::styled(
            "shutting down: draining in-flight requests… ",
            palette.warn(),
        ));
    } else if view.editing_filter {
        spans.push(Span::styled("filter: ", palette.heading()));
        spans.push(Span::raw(view.log_filter.clone()));
        spans.push(Span::styled("▏ Enter keeps, Esc clears ", palette.dim()));
    } else {
        match &context.model.link {
            super::model::Link::Live => {}
            super::model::Link::Connecting { attempt, reason } => {
                let reason = reason
                    .as_deref()
                    .map(|reason| format!(": {reason}"))
                    .unwrap_or_default();
                spans.push(Span::styled(
                    format!("connection lost{reason}; reconnecting (attempt {attempt}) "),
                    palette.bad(),
                ));
            }
        }
        if view.paused.is_some() {
            spans.push(Span::styled("request tail paused (p) ", palette.warn()));
        }
    }
    let hide = if context.can_hide { " d hide ·" } else { "" };
    spans.push(Span::styled(
        format!("? keys ·{hide} q quit"),
        palette.dim(),
    ));
    Paragraph::new(Line::from(spans))
}

/// A bordered block titled `title`.
pub fn block(title: impl Into<String>, palette: Palette) -> Block<'static> {
    Block::bordered()
        .border_style(palette.dim())
        .title(Span::styled(
            format!(" {} ", title.into()),
            palette.heading(),
        ))
}

/// `label value` pairs packed into as few lines of `width` columns as they fit in, a pair
/// never split across lines.
pub fn pack(
    pairs: Vec<(String, String, Style)>,
    width: u16,
    palette: Palette,
) -> Vec<Line<'static>> {
    let width = usize::from(width);
    let mut lines: Vec<Line> = Vec::new();
    let mut line: Vec<Span> = Vec::new();
    let mut used = 0;
    for (label, value, style) in pairs {
        let len = label.chars().count() + 1 + value.chars().count();
        let gap = if line.is_empty() { 0 } else { 3 };
        if !line.is_empty() && used + gap + len > width {
            lines.push(Line::from(std::mem::take(&mut line)));
            used = 0;
        }
        if !line.is_empty() {
            line.push(Span::raw("   "));
            used += 3;
        }
        line.push(Span::styled(format!("{label} "), palette.dim()));
        line.push(Span::styled(value, style));
        used += len;
    }
    if !line.is_empty() {
        lines.push(Line::from(line));
    }
    lines
}

#[cfg(test)]
pub mod testing {
    //! Drawing into ratatui's `TestBackend` and reading the result back as text.

    use super::*;
    use crate::server::tui::model::Model;
    use crate::server::tui::view::View;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    /// Draws `model` as `view` at `width` × `height` and returns the screen's lines.
    pub fn render(model: &Model, view: &View, width: u16, height: u16) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal
            .draw(|frame| {
                draw(
                    frame,
                    &Context {
                        model,
                        view,
                        palette: Palette::new(true),
                        width: Width::of(width),
                        now: crate::views::testing::at(120),
                        can_hide: true,
                    },
                );
            })
            .unwrap();
        let buffer = terminal.backend().buffer().clone();
        (0..height)
            .map(|y| {
                (0..width)
                    .map(|x| buffer[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect()
    }

    /// Whether `figure` appears on the screen whole: not preceded or followed by another digit,
    /// `.` or `%` that would make it part of a longer (or a cut) number.
    pub fn shows_whole(screen: &[String], figure: &str) -> bool {
        screen.iter().any(|line| {
            line.match_indices(figure).any(|(at, _)| {
                let before = line[..at].chars().next_back();
                let after = line[at + figure.len()..].chars().next();
                let joins = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit() || c == '.');
                !joins(before) && !joins(after)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::server::tui::model::testing::busy;

    const SIZES: [(u16, u16); 3] = [(60, 20), (100, 30), (200, 50)];

    fn view(tab: Tab) -> View {
        View {
            tab,
            ..View::default()
        }
    }

    #[test]
    fn width_classes() {
        assert_eq!(Width::of(79), Width::Narrow);
        assert_eq!(Width::of(80), Width::Medium);
        assert_eq!(Width::of(159), Width::Medium);
        assert_eq!(Width::of(160), Width::Wide);
    }

    #[test]
    fn the_overview_shows_the_key_figures_at_every_size() {
        let model = busy(&["api", "checkout"], &["gpt-4o"]);
        for (width, height) in SIZES {
            let screen = render(&model, &view(Tab::Overview), width, height);
            let text = screen.join("\n");
            for figure in ["1234", "100000"] {
                assert!(
                    shows_whole(&screen, figure),
                    "{figure} at {width}x{height}:\n{text}"
                );
            }
            // The error share of the last ten seconds: 12 of 1234.
            assert!(shows_whole(&screen, "0.97%"), "{width}x{height}:\n{text}");
            assert!(text.contains("api"), "{width}x{height}:\n{text}");
            assert!(text.contains("timeout"), "{width}x{height}:\n{text}");
            assert!(text.contains("up 1m01s"), "{width}x{height}:\n{text}");
        }
        // Wide enough: every route and the LLM summary.
        let screen = render(&model, &view(Tab::Overview), 200, 50);
        let text = screen.join("\n");
        assert!(text.contains("checkout"), "{text}");
        assert!(text.contains("tokens"), "{text}");
    }

    #[test]
    fn the_header_shows_the_firing_alerts_as_they_change() {
        use crate::views::{AlertChange, AlertState, LiveEvent};
        let mut model = busy(&["api"], &[]);
        let change = |rule: &str, state| {
            LiveEvent::Alert(AlertChange {
                rule: rule.into(),
                state,
                ..AlertChange::default()
            })
        };
        let text = render(&model, &view(Tab::Overview), 100, 30).join("\n");
        assert!(text.contains("alerts none"), "{text}");
        model.apply(change("api-errors", AlertState::Pending));
        model.apply(change("api-errors", AlertState::Firing));
        model.apply(change("backend-down", AlertState::Firing));
        for (width, height) in SIZES {
            let text = render(&model, &view(Tab::Overview), width, height).join("\n");
            assert!(
                text.contains("2 FIRING api-errors, backend-down"),
                "{width}x{height}:\n{text}"
            );
        }
        model.apply(change("api-errors", AlertState::Resolved));
        let text = render(&model, &view(Tab::Overview), 100, 30).join("\n");
        assert!(text.contains("1 FIRING backend-down"), "{text}");
    }

    #[test]
    fn the_routes_tab_shows_every_route_and_the_selected_routes_targets() {
        let model = busy(&["api", "checkout", "search"], &[]);
        for (width, height) in SIZES {
            let screen = render(&model, &view(Tab::Routes), width, height);
            let text = screen.join("\n");
            for name in ["api", "checkout", "search"] {
                assert!(text.contains(name), "{name} at {width}x{height}:\n{text}");
            }
            // Request counts of the routes, whole.
            for figure in ["10000", "11111", "12222"] {
                assert!(
                    shows_whole(&screen, figure) || width < 100,
                    "{figure} at {width}x{height}:\n{text}"
                );
            }
            assert!(shows_whole(&screen, "42.5"), "{width}x{height}:\n{text}");
            assert!(text.contains("127.0.0.1:9002"), "{width}x{height}:\n{text}");
            assert!(text.contains("down"), "{width}x{height}:\n{text}");
            assert!(text.contains("open"), "{width}x{height}:\n{text}");
        }
    }

    #[test]
    fn the_models_tab_shows_every_model_with_tokens() {
        let model = busy(&["llm"], &["gpt-4o", "claude-sonnet-4", "llama-3.1-70b"]);
        for (width, height) in SIZES {
            let screen = render(&model, &view(Tab::Models), width, height);
            let text = screen.join("\n");
            for name in ["gpt-4o", "claude-sonnet-4", "llama-3.1-70b"] {
                assert!(text.contains(name), "{name} at {width}x{height}:\n{text}");
            }
            // gpt-4o: 300 requests, 30000 input tokens, 12000 output tokens.
            for figure in ["300", "30000", "12000"] {
                assert!(
                    shows_whole(&screen, figure),
                    "{figure} at {width}x{height}:\n{text}"
                );
            }
        }
    }

    #[test]
    fn the_logs_and_requests_tabs_show_their_lines() {
        let model = busy(&["api"], &[]);
        for (width, height) in SIZES {
            let screen = render(&model, &view(Tab::Logs), width, height);
            let text = screen.join("\n");
            assert!(text.contains("config applied"), "{width}x{height}:\n{text}");
            let screen = render(&model, &view(Tab::Requests), width, height);
            let text = screen.join("\n");
            for figure in ["200", "404", "502"] {
                assert!(
                    shows_whole(&screen, figure),
                    "{figure} at {width}x{height}:\n{text}"
                );
            }
            assert!(text.contains("/api/items/3"), "{width}x{height}:\n{text}");
        }
    }

    #[test]
    fn the_help_lists_the_keys() {
        let model = busy(&["api"], &[]);
        let help = View {
            help: true,
            ..View::default()
        };
        let text = render(&model, &help, 100, 30).join("\n");
        for key in ["1-5", "Tab", "PgUp", "/", "p", "q"] {
            assert!(text.contains(key), "{key}:\n{text}");
        }
    }

    #[test]
    fn tiny_terminals_never_panic() {
        let model = busy(&["api", "checkout"], &["gpt-4o"]);
        for tab in Tab::ALL {
            for (width, height) in [(20, 10), (1, 1), (0, 0), (10, 3), (79, 5), (300, 4)] {
                let mut view = view(tab);
                render(&model, &view, width, height);
                view.help = true;
                render(&model, &view, width, height);
            }
        }
        // An empty model too (attached, nothing loaded yet).
        let empty = Model::new(
            "attached".to_string(),
            crate::server::tui::model::Link::Connecting {
                attempt: 3,
                reason: Some("connection refused".to_string()),
            },
        );
        for tab in Tab::ALL {
            for (width, height) in [(20, 10), (100, 30)] {
                let text = render(&empty, &view(tab), width, height).join("\n");
                if width == 100 {
                    assert!(text.contains("connection lost"), "{text}");
                }
            }
        }
    }

    #[test]
    fn no_colour_draws_without_colours() {
        let model = busy(&["api"], &["gpt-4o"]);
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 30)).unwrap();
        terminal
            .draw(|frame| {
                draw(
                    frame,
                    &Context {
                        model: &model,
                        view: &View::default(),
                        palette: Palette::new(false),
                        width: Width::Medium,
                        now: crate::views::testing::at(120),
                        can_hide: false,
                    },
                )
            })
            .unwrap();
        let buffer = terminal.backend().buffer();
        assert!(buffer.content.iter().all(|cell| {
            cell.fg == ratatui::style::Color::Reset && cell.bg == ratatui::style::Color::Reset
        }));
    }
}
