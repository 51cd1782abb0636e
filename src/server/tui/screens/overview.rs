//! The Overview tab: the charts, errors by kind, the routes at a glance, the LLM summary and
//! (when there is room) the log — stacked, in pairs or all side by side by [`Width`].

use super::table::{self, Column};
use super::{Context, Width, block, charts, logs, models, pack, routes};
use crate::server::tui::format;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Paragraph;

/// Draws the Overview tab in `area`.
pub fn draw(frame: &mut Frame, area: Rect, context: &Context) {
    match context.width {
        Width::Narrow => {
            let error_lines = pack(
                error_pairs(context),
                area.width.saturating_sub(2),
                context.palette,
            );
            let [requests, errors_area, routes_area] = Layout::vertical([
                Constraint::Length(5),
                Constraint::Length(error_lines.len().clamp(1, 4) as u16 + 2),
                Constraint::Fill(1),
            ])
            .areas(area);
            charts::requests(frame, requests, context);
            errors(frame, errors_area, context);
            routes::summary(frame, routes_area, context);
        }
        Width::Medium => {
            let tables = context
                .model
                .routes
                .len()
                .max(context.model.errors_by_kind.len())
                .clamp(1, 9) as u16
                + 3;
            let [sparklines, latency, llm, bottom] = Layout::vertical([
                Constraint::Length(6),
                Constraint::Fill(1),
                Constraint::Length(llm_height(context)),
                Constraint::Length(tables),
            ])
            .areas(area);
            let [requests, error_rate] =
                Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)]).areas(sparklines);
            charts::requests(frame, requests, context);
            charts::error_rate(frame, error_rate, context);
            charts::latency(frame, latency, context);
            models::summary(frame, llm, context);
            let [errors_area, routes_area] =
                Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)])
                    .areas(bottom);
            errors(frame, errors_area, context);
            routes::summary(frame, routes_area, context);
        }
        Width::Wide => {
            let [left, right] =
                Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                    .areas(area);
            let [requests, error_rate, latency] = Layout::vertical([
                Constraint::Length(8),
                Constraint::Length(6),
                Constraint::Fill(1),
            ])
            .areas(left);
            charts::requests(frame, requests, context);
            charts::error_rate(frame, error_rate, context);
            charts::latency(frame, latency, context);
            let [errors_area, routes_area, llm, log] = Layout::vertical([
                Constraint::Length(errors_height(context)),
                Constraint::Max(context.model.routes.len().max(1) as u16 + 3),
                Constraint::Length(llm_height(context)),
                Constraint::Fill(1),
            ])
            .areas(right);
            errors(frame, errors_area, context);
            routes::summary(frame, routes_area, context);
            models::summary(frame, llm, context);
            logs::draw(frame, log, context, 0);
        }
    }
}

/// Rows for the errors table: a heading, a row per kind (at most eight), the borders.
fn errors_height(context: &Context) -> u16 {
    let kinds = context.model.errors_by_kind.len().clamp(1, 8) as u16;
    kinds + 3
}

/// Rows for the LLM summary: none without LLM traffic.
fn llm_height(context: &Context) -> u16 {
    if context.model.models.is_empty() {
        0
    } else {
        3
    }
}

/// Each error kind with its count and rate, for packing onto lines.
fn error_pairs(context: &Context) -> Vec<(String, String, ratatui::style::Style)> {
    context
        .model
        .error_kinds()
        .into_iter()
        .map(|kind| {
            (
                kind.kind,
                format!(
                    "{} ({}/s)",
                    format::count(kind.total),
                    format::rate(kind.per_sec)
                ),
                context.palette.bad(),
            )
        })
        .collect()
}

/// Errors by kind: how many so far and how many a second lately.
pub fn errors(frame: &mut Frame, area: Rect, context: &Context) {
    let palette = context.palette;
    let kinds = context.model.error_kinds();
    let title = format!("Errors {}", format::count(context.model.errors_total));
    if kinds.is_empty() {
        table::empty(frame, area, block(title, palette), "no errors", palette);
        return;
    }
    if context.width == Width::Narrow {
        // Stacked: kind, count and rate packed on as few lines as fit.
        let block = block(title, palette);
        let inner = block.inner(area);
        frame.render_widget(
            Paragraph::new(pack(error_pairs(context), inner.width, palette)).block(block),
            area,
        );
        return;
    }
    let columns = [
        Column::name("kind", kinds.iter().map(|k| k.kind.clone()).collect(), 0, 8),
        Column::figure(
            "total",
            kinds.iter().map(|k| format::count(k.total)).collect(),
            0,
        ),
        Column::figure(
            "/s",
            kinds.iter().map(|k| format::rate(k.per_sec)).collect(),
            1,
        ),
    ];
    let styles = vec![palette.bad(); kinds.len()];
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
