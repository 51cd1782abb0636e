//! What the user chose to look at — the tab, the selected route, the log's scroll, filter and
//! level, the paused request tail, the key help — and what each key does to it.

use crate::views::{LogLine, RequestRecord};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// The screens, in the order of their keys `1`–`5`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tab {
    #[default]
    Overview,
    Routes,
    Models,
    Logs,
    Requests,
}

impl Tab {
    /// Every tab, in key order.
    pub const ALL: [Tab; 5] = [
        Tab::Overview,
        Tab::Routes,
        Tab::Models,
        Tab::Logs,
        Tab::Requests,
    ];

    /// The tab's name.
    pub fn title(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Routes => "Routes",
            Tab::Models => "Models",
            Tab::Logs => "Logs",
            Tab::Requests => "Requests",
        }
    }

    fn index(self) -> usize {
        Tab::ALL.iter().position(|tab| *tab == self).unwrap_or(0)
    }

    fn next(self) -> Tab {
        Tab::ALL[(self.index() + 1) % Tab::ALL.len()]
    }

    fn previous(self) -> Tab {
        Tab::ALL[(self.index() + Tab::ALL.len() - 1) % Tab::ALL.len()]
    }
}

/// The least severe log level shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogLevel {
    #[default]
    Info,
    Warn,
    Error,
}

impl LogLevel {
    /// Whether a line at `level` (`ERROR`, `WARN`, `INFO`, …) is shown.
    pub fn shows(self, level: &str) -> bool {
        let rank = match level {
            "ERROR" => 2,
            "WARN" => 1,
            "INFO" => 0,
            _ => -1,
        };
        rank >= self as i32
    }

    /// `INFO+`, `WARN+`, `ERROR`.
    pub fn label(self) -> &'static str {
        match self {
            LogLevel::Info => "info and above",
            LogLevel::Warn => "warn and above",
            LogLevel::Error => "errors only",
        }
    }

    fn next(self) -> LogLevel {
        match self {
            LogLevel::Info => LogLevel::Warn,
            LogLevel::Warn => LogLevel::Error,
            LogLevel::Error => LogLevel::Info,
        }
    }
}

/// What a key asks of the loop beyond changing the view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `q`, `Esc`, Ctrl-C: quit (in process: shut the gateway down gracefully).
    Quit,
    /// `d`: hide the dashboard (the log goes to the terminal) or show it again.
    ToggleScreen,
}

/// The user's view of the dashboard.
#[derive(Clone, Debug, Default)]
pub struct View {
    pub tab: Tab,
    /// The key help is shown over the screen.
    pub help: bool,
    /// The selected route (Routes tab), by position.
    pub route: usize,
    /// Log lines scrolled back from the newest (0: following the newest).
    pub log_scroll: usize,
    /// Only log lines containing this (case-insensitive).
    pub log_filter: String,
    /// The filter is being typed (after `/`, until Enter or Esc).
    pub editing_filter: bool,
    pub log_level: LogLevel,
    /// The request tail as it was when `p` paused it, newest first.
    pub paused: Option<Vec<RequestRecord>>,
    /// The user asked to quit; the gateway is shutting down.
    pub quitting: bool,
}

/// Rows a page key (PgUp/PgDn) moves.
pub const PAGE: usize = 10;

impl View {
    /// Applies `key` to the view; `tail` is the request tail, newest last (what `p` freezes).
    pub fn on_key<'a>(
        &mut self,
        key: KeyEvent,
        tail: impl DoubleEndedIterator<Item = &'a RequestRecord>,
    ) -> Option<Command> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Some(Command::Quit);
        }
        if self.editing_filter {
            match key.code {
                KeyCode::Enter => self.editing_filter = false,
                KeyCode::Esc => {
                    self.editing_filter = false;
                    self.log_filter.clear();
                }
                KeyCode::Backspace => {
                    self.log_filter.pop();
                }
                KeyCode::Char(c) if self.log_filter.chars().count() < 64 => {
                    self.log_filter.push(c);
                    self.log_scroll = 0;
                }
                _ => {}
            }
            return None;
        }
        if self.help {
            // Any key closes the help; the quitting keys still quit.
            self.help = false;
            return matches!(key.code, KeyCode::Char('q')).then_some(Command::Quit);
        }
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => return Some(Command::Quit),
            KeyCode::Char('d') => return Some(Command::ToggleScreen),
            KeyCode::Char('?') | KeyCode::Char('h') => self.help = true,
            KeyCode::Char(c @ '1'..='5') => {
                self.tab = Tab::ALL[usize::from(c as u8 - b'1')];
            }
            KeyCode::Tab => self.tab = self.tab.next(),
            KeyCode::BackTab => self.tab = self.tab.previous(),
            KeyCode::Char('/') => {
                self.tab = Tab::Logs;
                self.editing_filter = true;
            }
            KeyCode::Char('l') => self.log_level = self.log_level.next(),
            KeyCode::Char('p') => {
                self.paused = match self.paused {
                    Some(_) => None,
                    None => Some(tail.rev().take(200).cloned().collect()),
                };
            }
            KeyCode::Up => self.scroll(1, true),
            KeyCode::Down => self.scroll(1, false),
            KeyCode::PageUp => self.scroll(PAGE, true),
            KeyCode::PageDown => self.scroll(PAGE, false),
            KeyCode::Home => self.scroll(usize::MAX, true),
            KeyCode::End => self.scroll(usize::MAX, false),
            _ => {}
        }
        None
    }

    /// ↑/↓ move the selected route on the Routes tab and scroll the log elsewhere (back in
    /// time is "up").
    fn scroll(&mut self, by: usize, up: bool) {
        match (self.tab, up) {
            (Tab::Routes, true) => self.route = self.route.saturating_sub(by),
            (Tab::Routes, false) => self.route = self.route.saturating_add(by),
            (_, true) => self.log_scroll = self.log_scroll.saturating_add(by),
            (_, false) => self.log_scroll = self.log_scroll.saturating_sub(by),
        }
    }

    /// The log lines shown, oldest first: at the chosen level, matching the filter.
    pub fn visible_logs<'a>(
        &self,
        logs: impl DoubleEndedIterator<Item = &'a LogLine>,
    ) -> Vec<&'a LogLine> {
        let filter = self.log_filter.to_lowercase();
        logs.filter(|line| self.log_level.shows(&line.level))
            .filter(|line| {
                filter.is_empty()
                    || line.message.to_lowercase().contains(&filter)
                    || line.target.to_lowercase().contains(&filter)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::tui::model::testing::request;

    fn press(view: &mut View, code: KeyCode) -> Option<Command> {
        view.on_key(KeyEvent::from(code), std::iter::empty())
    }

    #[test]
    fn number_keys_and_tab_switch_screens() {
        let mut view = View::default();
        press(&mut view, KeyCode::Char('3'));
        assert_eq!(view.tab, Tab::Models);
        press(&mut view, KeyCode::Tab);
        assert_eq!(view.tab, Tab::Logs);
        press(&mut view, KeyCode::Tab);
        press(&mut view, KeyCode::Tab);
        assert_eq!(view.tab, Tab::Overview);
        press(&mut view, KeyCode::BackTab);
        assert_eq!(view.tab, Tab::Requests);
    }

    #[test]
    fn quitting_and_toggling_are_commands() {
        let mut view = View::default();
        assert_eq!(press(&mut view, KeyCode::Char('q')), Some(Command::Quit));
        assert_eq!(press(&mut view, KeyCode::Esc), Some(Command::Quit));
        assert_eq!(
            press(&mut view, KeyCode::Char('d')),
            Some(Command::ToggleScreen)
        );
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(view.on_key(ctrl_c, std::iter::empty()), Some(Command::Quit));
    }

    #[test]
    fn slash_types_a_filter_until_enter_and_esc_clears_it() {
        let mut view = View::default();
        press(&mut view, KeyCode::Char('/'));
        assert_eq!(view.tab, Tab::Logs);
        for c in "Reload".chars() {
            // Typed letters are the filter's, not keys: `d` and `q` included.
            assert_eq!(press(&mut view, KeyCode::Char(c)), None);
        }
        press(&mut view, KeyCode::Enter);
        assert_eq!(view.log_filter, "Reload");
        assert!(!view.editing_filter);
        let line = |message: &str, level: &str| LogLine {
            seq: 0,
            at: crate::views::testing::at(0),
            level: level.to_string(),
            target: "gatewatch".to_string(),
            message: message.to_string(),
        };
        let lines = [line("config reloaded", "INFO"), line("target down", "WARN")];
        assert_eq!(view.visible_logs(lines.iter()).len(), 1);
        press(&mut view, KeyCode::Char('/'));
        press(&mut view, KeyCode::Esc);
        assert_eq!(view.log_filter, "");
        press(&mut view, KeyCode::Char('l'));
        assert_eq!(view.log_level, LogLevel::Warn);
        let shown = view.visible_logs(lines.iter());
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].message, "target down");
    }

    #[test]
    fn p_freezes_the_tail_newest_first() {
        let mut view = View::default();
        let tail = [request(1, 200, "api"), request(2, 500, "api")];
        view.on_key(KeyEvent::from(KeyCode::Char('p')), tail.iter());
        let frozen = view.paused.as_ref().unwrap();
        assert_eq!(frozen.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![2, 1]);
        view.on_key(KeyEvent::from(KeyCode::Char('p')), tail.iter());
        assert!(view.paused.is_none());
    }

    #[test]
    fn the_help_closes_on_any_key() {
        let mut view = View::default();
        press(&mut view, KeyCode::Char('?'));
        assert!(view.help);
        assert_eq!(press(&mut view, KeyCode::Char('2')), None);
        assert!(!view.help);
        assert_eq!(view.tab, Tab::Overview);
    }
}
