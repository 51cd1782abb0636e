//! Tables whose figures are never cut: each column is as wide as its widest cell, and when the
//! terminal is too narrow for all of them, name columns narrow first (clipped with `…`) and
//! then whole columns are left out, least important first.

use crate::server::tui::format::clip;
use crate::server::tui::palette::Palette;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Table, TableState};

/// One column: its heading, its cells, and how much it matters (0: always shown).
pub struct Column {
    pub heading: &'static str,
    pub cells: Vec<String>,
    /// Per-cell styles (empty: the row's style).
    pub styles: Vec<Style>,
    pub priority: u8,
    /// A name column may narrow down to this many columns, its cells clipped with `…`.
    pub clippable: Option<usize>,
    /// Figures are right-aligned.
    pub right: bool,
}

impl Column {
    /// A name column (left-aligned, may narrow down to `min`).
    pub fn name(heading: &'static str, cells: Vec<String>, priority: u8, min: usize) -> Self {
        Self {
            heading,
            cells,
            styles: Vec::new(),
            priority,
            clippable: Some(min),
            right: false,
        }
    }

    /// A text column kept whole (status words, methods).
    pub fn word(heading: &'static str, cells: Vec<String>, priority: u8) -> Self {
        Self {
            heading,
            cells,
            styles: Vec::new(),
            priority,
            clippable: None,
            right: false,
        }
    }

    /// A figure column (right-aligned, never cut).
    pub fn figure(heading: &'static str, cells: Vec<String>, priority: u8) -> Self {
        Self {
            heading,
            cells,
            styles: Vec::new(),
            priority,
            clippable: None,
            right: true,
        }
    }

    /// With a style per cell.
    pub fn styled(mut self, styles: Vec<Style>) -> Self {
        self.styles = styles;
        self
    }
}

/// Which columns fit in `width` (one space between columns) and how wide each is.
pub fn fit_columns(columns: &[Column], width: usize) -> Vec<Option<usize>> {
    let natural: Vec<usize> = columns
        .iter()
        .map(|column| {
            column
                .cells
                .iter()
                .map(|cell| cell.chars().count())
                .chain(std::iter::once(column.heading.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut shown: Vec<bool> = vec![true; columns.len()];
    loop {
        let visible = || (0..columns.len()).filter(|&i| shown[i]);
        let needed: usize =
            visible().map(|i| natural[i]).sum::<usize>() + visible().count().saturating_sub(1);
        let slack: usize = visible()
            .filter_map(|i| {
                columns[i]
                    .clippable
                    .map(|min| natural[i].saturating_sub(min))
            })
            .sum();
        if needed.saturating_sub(slack) <= width {
            let mut over = needed.saturating_sub(width);
            let mut widths: Vec<Option<usize>> = (0..columns.len())
                .map(|i| shown[i].then_some(natural[i]))
                .collect();
            for (column, width) in columns.iter().zip(widths.iter_mut()) {
                if let (Some(min), Some(width)) = (column.clippable, width.as_mut()) {
                    let take = over.min(width.saturating_sub(min));
                    *width -= take;
                    over -= take;
                }
            }
            return widths;
        }
        // Leave out the least important column still shown (the rightmost on a tie).
        let Some(drop) = visible()
            .filter(|&i| columns[i].priority > 0)
            .max_by_key(|&i| (columns[i].priority, i))
        else {
            // Only essential columns left: show them, names at their narrowest.
            return (0..columns.len())
                .map(|i| {
                    shown[i].then(|| {
                        columns[i]
                            .clippable
                            .map_or(natural[i], |min| min.min(natural[i]))
                    })
                })
                .collect();
        };
        shown[drop] = false;
    }
}

/// Draws `columns` as a table in `area` (inside `block`), the row `selected` highlighted,
/// `row_styles` per row (empty: plain). Rows beyond the area's height are not drawn; with a
/// selection, the table scrolls to keep it in view.
pub fn draw(
    frame: &mut Frame,
    area: Rect,
    block: Block,
    columns: &[Column],
    row_styles: &[Style],
    selected: Option<usize>,
    palette: Palette,
) {
    let inner_width = block.inner(area).width as usize;
    let widths = fit_columns(columns, inner_width);
    let shown: Vec<(&Column, usize)> = columns
        .iter()
        .zip(&widths)
        .filter_map(|(column, width)| width.map(|width| (column, width)))
        .collect();
    let rows_count = columns.first().map_or(0, |column| column.cells.len());
    let align = |text: String, width: usize, right: bool| -> Line<'static> {
        let text = clip(&text, width);
        if right {
            Line::from(text).right_aligned()
        } else {
            Line::from(text)
        }
    };
    let header = Row::new(shown.iter().map(|(column, width)| {
        Cell::from(align(column.heading.to_string(), *width, column.right))
    }))
    .style(palette.heading());
    let rows = (0..rows_count).map(|row| {
        let cells = shown.iter().map(|(column, width)| {
            let text = column.cells.get(row).cloned().unwrap_or_default();
            let cell = Cell::from(align(text, *width, column.right));
            match column.styles.get(row) {
                Some(style) => cell.style(*style),
                None => cell,
            }
        });
        Row::new(cells).style(row_styles.get(row).copied().unwrap_or_default())
    });
    let constraints: Vec<Constraint> = shown
        .iter()
        .map(|(_, width)| Constraint::Length(*width as u16))
        .collect();
    let table = Table::new(rows, constraints)
        .header(header)
        .column_spacing(1)
        .block(block)
        .row_highlight_style(palette.selected());
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut state);
}

/// A one-line message in place of an empty table.
pub fn empty(frame: &mut Frame, area: Rect, block: Block, message: &str, palette: Palette) {
    let paragraph = ratatui::widgets::Paragraph::new(Line::from(Span::styled(
        message.to_string(),
        palette.dim(),
    )))
    .wrap(ratatui::widgets::Wrap { trim: true })
    .block(block);
    frame.render_widget(paragraph, area);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(heading: &'static str, cell: &str, priority: u8) -> Column {
        Column::figure(heading, vec![cell.to_string()], priority)
    }

    #[test]
    fn columns_keep_their_full_width_and_the_least_important_go_first() {
        let columns = [
            Column::word("route", vec!["checkout".to_string()], 0),
            column("rps", "1234", 0),
            column("p99", "12.3ms", 2),
            column("p50", "1.25ms", 1),
        ];
        // Everything fits: each column as wide as its widest cell or heading.
        assert_eq!(
            fit_columns(&columns, 80),
            vec![Some(8), Some(4), Some(6), Some(6)]
        );
        // 8+1+4+1+6+1+6 = 27 > 20: p99 (priority 2) goes, p50 stays whole.
        assert_eq!(
            fit_columns(&columns, 20),
            vec![Some(8), Some(4), None, Some(6)]
        );
        assert_eq!(
            fit_columns(&columns, 13),
            vec![Some(8), Some(4), None, None]
        );
    }

    #[test]
    fn a_name_column_narrows_before_a_figure_is_dropped() {
        let columns = [
            Column::name("route", vec!["a-very-long-route-name".to_string()], 0, 6),
            column("rps", "1234", 1),
        ];
        // 22+1+4 = 27 > 20: the name narrows to 15 and the figure stays whole.
        assert_eq!(fit_columns(&columns, 20), vec![Some(15), Some(4)]);
        // Too narrow for both even with the name at its minimum: the figure goes, the name
        // takes what is left.
        assert_eq!(fit_columns(&columns, 8), vec![Some(8), None]);
    }
}
