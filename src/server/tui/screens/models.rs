//! LLM traffic: the token summary (Overview) and the Models tab — tokens in and out, in total
//! and per second, and per model its requests, tokens, latency and time to first token.

use super::table::{self, Column};
use super::{Context, block, pack};
use crate::server::tui::format;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Paragraph;

/// `tokens in … out …` with their rates, packed to `width`.
fn token_lines(context: &Context, width: u16) -> Vec<ratatui::text::Line<'static>> {
    let palette = context.palette;
    let tokens = context.model.tokens();
    pack(
        vec![
            (
                "tokens in".to_string(),
                format!(
                    "{} ({}/s)",
                    format::count(tokens.input),
                    format::rate(tokens.input_per_sec)
                ),
                palette.accent(),
            ),
            (
                "out".to_string(),
                format!(
                    "{} ({}/s)",
                    format::count(tokens.output),
                    format::rate(tokens.output_per_sec)
                ),
                palette.second(),
            ),
            (
                "models".to_string(),
                context.model.models.len().to_string(),
                palette.text(),
            ),
        ],
        width,
        palette,
    )
}

/// The LLM summary line in a box (nothing without LLM traffic).
pub fn summary(frame: &mut Frame, area: Rect, context: &Context) {
    if context.model.models.is_empty() || area.height == 0 {
        return;
    }
    let block = block("LLM", context.palette);
    let lines = token_lines(context, block.inner(area).width);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The Models tab.
pub fn draw(frame: &mut Frame, area: Rect, context: &Context) {
    let palette = context.palette;
    let models = &context.model.models;
    if models.is_empty() {
        table::empty(
            frame,
            area,
            block("Models", palette),
            "no LLM traffic yet: requests to OpenAI-compatible or Anthropic APIs through the \
             proxy show here, per model",
            palette,
        );
        return;
    }
    let lines = token_lines(context, area.width);
    let [totals, table_area] =
        Layout::vertical([Constraint::Length(lines.len() as u16), Constraint::Fill(1)]).areas(area);
    frame.render_widget(Paragraph::new(lines), totals);
    let columns = [
        // A model name narrows only when longer than most (versions tell models apart).
        Column::name(
            "model",
            models.iter().map(|m| m.model.clone()).collect(),
            0,
            24,
        ),
        Column::figure(
            "requests",
            models.iter().map(|m| format::count(m.requests)).collect(),
            0,
        ),
        Column::figure(
            "streamed",
            models
                .iter()
                .map(|m| format::count(m.streamed_requests))
                .collect(),
            4,
        ),
        Column::figure(
            "errors",
            models.iter().map(|m| format::count(m.errors)).collect(),
            2,
        ),
        Column::figure(
            "tokens in",
            models
                .iter()
                .map(|m| format::count(m.input_tokens))
                .collect(),
            0,
        ),
        Column::figure(
            "tokens out",
            models
                .iter()
                .map(|m| format::count(m.output_tokens))
                .collect(),
            0,
        ),
        Column::figure(
            "out tok/s",
            models
                .iter()
                .map(|m| format::rate(m.output_tokens_per_sec))
                .collect(),
            2,
        ),
        Column::figure(
            "p50",
            models
                .iter()
                .map(|m| format::latency(m.latency.p50_us))
                .collect(),
            3,
        ),
        Column::figure(
            "p95",
            models
                .iter()
                .map(|m| format::latency(m.latency.p95_us))
                .collect(),
            1,
        ),
        Column::figure(
            "TTFT p50",
            models
                .iter()
                .map(|m| format::latency(m.first_token.p50_us))
                .collect(),
            1,
        ),
        Column::figure(
            "TTFT p95",
            models
                .iter()
                .map(|m| format::latency(m.first_token.p95_us))
                .collect(),
            3,
        ),
    ];
    table::draw(
        frame,
        table_area,
        block(format!("Models {}", models.len()), palette),
        &columns,
        &[],
        None,
        palette,
    );
}
