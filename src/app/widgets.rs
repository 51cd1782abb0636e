//! Small building blocks shared by the pages: stat cards, status badges, empty states, errors.

use leptos::prelude::*;

/// A number with a label and an optional note.
#[component]
pub fn StatCard(
    label: &'static str,
    testid: &'static str,
    #[prop(into)] value: Signal<String>,
    #[prop(into, optional)] note: Option<Signal<String>>,
    /// `ok`, `warn` or `bad` tint, if any.
    #[prop(into, optional)]
    tone: Option<Signal<&'static str>>,
    /// A smaller value, for cards showing several numbers.
    #[prop(optional)]
    compact: bool,
) -> impl IntoView {
    let value_class = if compact {
        "card-value compact"
    } else {
        "card-value"
    };
    let class = move || match tone.map(|t| t.get()) {
        Some(tone) if !tone.is_empty() => format!("card stat tone-{tone}"),
        _ => "card stat".to_string(),
    };
    view! {
        <article class=class>
            <h2 class="card-label">{label}</h2>
            <p class=value_class data-testid=testid>{move || value.get()}</p>
            {note.map(|note| view! { <p class="card-note">{move || note.get()}</p> })}
        </article>
    }
}

/// A status code coloured by class.
#[component]
pub fn StatusBadge(status: u16) -> impl IntoView {
    let class = format!("status status-{}", crate::views::status_class(status));
    view! { <span class=class>{status}</span> }
}

/// What to show when there is nothing yet, and what to do about it.
#[component]
pub fn EmptyState(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="empty" data-testid="empty-state">
            <p class="empty-title">{title}</p>
            <div class="empty-body">{children()}</div>
        </div>
    }
}

/// A failed read, said plainly.
#[component]
pub fn ErrorNote(what: &'static str, error: String) -> impl IntoView {
    view! {
        <p class="error" role="alert" data-testid="load-error">
            {what} ": " {error}
        </p>
    }
}

/// The usual fallback while a page's data loads after navigation (never on first paint: the
/// server renders pages with their data).
pub fn loading() -> impl IntoView {
    view! { <p class="muted">"Loading…"</p> }
}
