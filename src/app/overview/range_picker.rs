//! The overview's time range: live (the last 15 minutes) or a period from the history, and the
//! switch that overlays the previous period — links that set `?range=` and `?compare=`, so each
//! view is bookmarkable and works without JavaScript.

use crate::app::query_string::{href, use_query_value};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Live (15 minutes) or a period from the history, and the comparison switch.
#[component]
pub fn RangePicker() -> impl IntoView {
    let query = use_query_map();
    let range = use_query_value("range");
    let compare = use_query_value("compare");
    let choices = [
        ("Live 15 m", None),
        ("1 h", Some("1h")),
        ("24 h", Some("24h")),
        ("7 d", Some("7d")),
    ];
    let links = choices
        .into_iter()
        .map(|(label, value)| {
            let link =
                move || query.with(|q| href("/", q, &[("range", value.map(str::to_string))]));
            let current = move || range.get().as_deref() == value;
            view! {
                <a
                    href=link
                    class="segment"
                    class:active=current
                    aria-current=move || current().then_some("true")
                >
                    {label}
                </a>
            }
        })
        .collect_view();
    let compare_link = move || {
        let next = if compare.get().is_some() {
            None
        } else {
            Some("1".to_string())
        };
        query.with(|q| href("/", q, &[("compare", next)]))
    };
    view! {
        <nav class="range-picker" aria-label="Time range" data-testid="range-picker">
            <div class="segments">{links}</div>
            <Show when=move || range.get().is_some()>
                <a href=compare_link class="segment" class:active=move || compare.get().is_some() data-testid="compare-toggle">
                    {move || if compare.get().is_some() { "✓ Compare with previous" } else { "Compare with previous" }}
                </a>
            </Show>
        </nav>
    }
}
