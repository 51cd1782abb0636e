//! The light/dark theme switch. The page follows `prefers-color-scheme` until the user picks a
//! theme; the pick is remembered in `localStorage` and applied before first paint by
//! `public/theme-init.js`.

use leptos::prelude::*;

/// `localStorage` key holding the picked theme.
pub const THEME_STORAGE_KEY: &str = "gatewatch-theme";

/// A button that flips between the light and the dark theme (works once hydrated).
#[component]
pub fn ThemeToggle() -> impl IntoView {
    // Unknown until the browser tells: the server cannot see the user's preference.
    let dark = RwSignal::new(None::<bool>);
    Effect::new(move |_| dark.set(browser::current_is_dark()));

    let flip = move |_| {
        let next = !dark.get_untracked().unwrap_or(false);
        browser::apply(next);
        dark.set(Some(next));
    };
    let label = move || match dark.get() {
        Some(true) => "Switch to light theme",
        _ => "Switch to dark theme",
    };

    view! {
        <button
            type="button"
            class="icon-button needs-js"
            data-testid="theme-toggle"
            aria-label=label
            title=label
            on:click=flip
        >
            <span aria-hidden="true">"◐"</span>
        </button>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    //! Reads and writes the theme on `<html data-theme>`.

    use super::THEME_STORAGE_KEY;

    pub fn current_is_dark() -> Option<bool> {
        let window = web_sys::window()?;
        let root = window.document()?.document_element()?;
        match root.get_attribute("data-theme").as_deref() {
            Some("dark") => Some(true),
            Some("light") => Some(false),
            _ => window
                .match_media("(prefers-color-scheme: dark)")
                .ok()
                .flatten()
                .map(|query| query.matches()),
        }
    }

    pub fn apply(dark: bool) {
        let theme = if dark { "dark" } else { "light" };
        let Some(window) = web_sys::window() else {
            return;
        };
        if let Some(root) = window.document().and_then(|d| d.document_element()) {
            let _ = root.set_attribute("data-theme", theme);
        }
        if let Ok(Some(storage)) = window.local_storage() {
            let _ = storage.set_item(THEME_STORAGE_KEY, theme);
        }
    }
}

#[cfg(not(feature = "hydrate"))]
mod browser {
    //! On the server there is no browser: the theme is unknown and nothing is applied.

    pub fn current_is_dark() -> Option<bool> {
        None
    }

    pub fn apply(_dark: bool) {}
}
