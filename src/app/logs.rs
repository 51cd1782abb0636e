//! Logs: the gateway's own log lines, newest first, live, filtered by level and text.

use crate::api::logs::get_logs;
use crate::app::format;
use crate::app::page_data::PageData;
use crate::app::query_string::{use_query_string, use_query_value};
use crate::app::resource::page_resource;
use crate::live_feed::use_live_feed;
use crate::views::{LogLine, LogPage};
use leptos::prelude::*;

#[component]
pub fn LogsPage() -> impl IntoView {
    let live = use_live_feed();
    let query = use_query_string();
    let page = page_resource(
        move || (query.get(), live.poll.get()),
        |(query, _)| get_logs(query),
    );
    let level = use_query_value("level");
    let search = use_query_value("search");
    let options = [
        ("info", "Info and above"),
        ("warn", "Warnings and errors"),
        ("error", "Errors only"),
    ]
    .into_iter()
    .map(|(value, label)| {
        let selected = level.get_untracked().as_deref().unwrap_or("info") == value;
        view! { <option value=value selected=selected>{label}</option> }
    })
    .collect_view();
    view! {
        <section class="page">
            <header class="page-header"><h1>"Logs"</h1></header>
            <form class="filters" method="get" action="/logs" role="search">
                <label class="field" for="log-level">
                    <span>"Level"</span>
                    <select
                        id="log-level"
                        name="level"
                        data-testid="log-level"
                        prop:value=move || level.get().unwrap_or_else(|| "info".to_string())
                    >
                        {options}
                    </select>
                </label>
                <label class="field" for="log-search">
                    <span>"Search"</span>
                    <input
                        id="log-search"
                        name="search"
                        type="search"
                        value=search.get_untracked().unwrap_or_default()
                        prop:value=move || search.get().unwrap_or_default()
                        placeholder="text in the message or module"
                        data-testid="log-search"
                    />
                </label>
                <div class="filter-actions">
                    <button type="submit" class="button primary">"Apply"</button>
                    <a class="button" href="/logs">"Clear"</a>
                </div>
            </form>
            <PageData data=page failed="Could not read the log" let:page>
                <LogList page level=level.get_untracked() search=search.get_untracked() />
            </PageData>
        </section>
    }
}

/// Severity rank: higher is more severe.
fn rank(level: &str) -> u8 {
    match level.to_ascii_uppercase().as_str() {
        "ERROR" => 3,
        "WARN" => 2,
        "INFO" => 1,
        _ => 0,
    }
}

#[component]
fn LogList(page: LogPage, level: Option<String>, search: Option<String>) -> impl IntoView {
    let live = use_live_feed();
    let min_rank = rank(level.as_deref().unwrap_or("info"));
    let needle = search.map(|s| s.to_lowercase());
    // `None`: nothing rendered, every pushed line is new (a `seq` of 0 is a real line).
    let newest = page.lines.first().map(|l| l.seq);
    let mounted = crate::live_feed::mounted();
    let pushed = move || {
        if !mounted.get() {
            return Vec::new();
        }
        live.logs.with(|lines| {
            lines
                .iter()
                .filter(|l| {
                    newest.is_none_or(|newest| l.seq > newest) && rank(&l.level) >= min_rank
                })
                .filter(|l| {
                    needle.as_deref().is_none_or(|n| {
                        l.message.to_lowercase().contains(n) || l.target.to_lowercase().contains(n)
                    })
                })
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let empty = page.lines.is_empty();
    let pushed_empty = {
        let pushed = pushed.clone();
        move || pushed().is_empty()
    };
    view! {
        <ol class="log" data-testid="log-lines">
            <For each=pushed key=|l| l.seq let:line>
                <LogRow line />
            </For>
            {page.lines.into_iter().map(|line| view! { <LogRow line /> }).collect_view()}
        </ol>
        {move || (empty && pushed_empty()).then(|| view! { <p class="muted">"No log lines match. Lines at info level and above appear here as the gateway writes them."</p> })}
    }
}

#[component]
fn LogRow(line: LogLine) -> impl IntoView {
    view! {
        <li class=format!("log-line level-{}", line.level.to_lowercase()) data-testid="log-line">
            <time class="mono">{format::clock(line.at)}</time>
            <span class="log-level">{line.level.clone()}</span>
            <span class="log-target mono">{line.target.clone()}</span>
            <span class="log-message">{line.message.clone()}</span>
        </li>
    }
}
