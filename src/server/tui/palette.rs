//! The terminal dashboard's colours: the terminal's own named colours (green, yellow, red,
//! cyan, magenta), which every theme maps to something that reads on its background, dark or
//! light, plus bold, dim and reverse; never a fixed foreground or background. With `NO_COLOR`
//! set (<https://no-color.org>) no colour at all, the attributes only.

use ratatui::style::{Color, Modifier, Style};

/// What the screens colour with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Palette {
    colour: bool,
}

impl Palette {
    /// Colours unless `NO_COLOR` is set to anything non-empty.
    pub fn from_env() -> Self {
        let no_colour = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        Self { colour: !no_colour }
    }

    /// With or without colours.
    pub fn new(colour: bool) -> Self {
        Self { colour }
    }

    fn fg(self, colour: Color) -> Style {
        if self.colour {
            Style::new().fg(colour)
        } else {
            Style::new()
        }
    }

    /// Plain text.
    pub fn text(self) -> Style {
        Style::new()
    }

    /// Headings and the current tab.
    pub fn heading(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// Secondary text (labels, units, hints).
    pub fn dim(self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    /// The gateway's accent (titles, the selected row's marker, charts).
    pub fn accent(self) -> Style {
        self.fg(Color::Cyan)
    }

    /// Healthy, succeeded, live.
    pub fn good(self) -> Style {
        self.fg(Color::Green)
    }

    /// Worth a look (4xx, half-open breaker, reconnecting).
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow)
    }

    /// Wrong (5xx, errors, down, open breaker, connection lost), bold so it stands out without
    /// colour too.
    pub fn bad(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// A second series beside the accent (p95 in the latency chart, output tokens).
    pub fn second(self) -> Style {
        self.fg(Color::Magenta)
    }

    /// The selected row.
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// A status code's colour by class.
    pub fn status(self, status: u16) -> Style {
        match status {
            500.. => self.bad(),
            400..500 => self.warn(),
            300..400 => self.accent(),
            200..300 => self.good(),
            _ => self.dim(),
        }
    }

    /// A log level's colour.
    pub fn level(self, level: &str) -> Style {
        match level {
            "ERROR" => self.bad(),
            "WARN" => self.warn(),
            "INFO" => self.good(),
            _ => self.dim(),
        }
    }

    /// An error share's colour: fine below 1 %, a warning below 5 %, bad above.
    pub fn error_rate(self, share: f64) -> Style {
        if share >= 0.05 {
            self.bad()
        } else if share >= 0.01 {
            self.warn()
        } else {
            self.text()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_colour_keeps_the_attributes_only() {
        let plain = Palette::new(false);
        assert_eq!(plain.bad(), Style::new().add_modifier(Modifier::BOLD));
        assert_eq!(plain.good(), Style::new());
        assert_eq!(
            plain.selected(),
            Style::new().add_modifier(Modifier::REVERSED)
        );
        let coloured = Palette::new(true);
        assert_eq!(coloured.good().fg, Some(Color::Green));
    }

    #[test]
    fn only_named_colours_are_used() {
        // Named ANSI colours follow the terminal's theme; fixed RGB or white/black would not
        // read on one of dark or light backgrounds.
        let p = Palette::new(true);
        for style in [
            p.accent(),
            p.good(),
            p.warn(),
            p.bad(),
            p.second(),
            p.status(503),
            p.level("WARN"),
        ] {
            assert!(style.bg.is_none());
            assert!(matches!(
                style.fg,
                Some(Color::Cyan | Color::Green | Color::Yellow | Color::Red | Color::Magenta)
            ));
        }
    }
}
