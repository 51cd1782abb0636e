//! The timeline's range (`?range=`, the last day when not given): links, like the overview's
//! range picker, so each range is bookmarkable and works without JavaScript.

use crate::app::query_string::{href, use_query_value};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// How far back the timeline reaches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlertRange {
    Hour,
    #[default]
    Day,
    Week,
    Month,
}

impl AlertRange {
    /// Every range, shortest first.
    pub const ALL: [Self; 4] = [Self::Hour, Self::Day, Self::Week, Self::Month];

    /// The range `?range=` names; the default for anything else.
    pub fn parse(value: Option<&str>) -> Self {
        Self::ALL
            .into_iter()
            .find(|range| Some(range.as_str()) == value)
            .unwrap_or_default()
    }

    /// As written in the query string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "1h",
            Self::Day => "24h",
            Self::Week => "7d",
            Self::Month => "30d",
        }
    }

    /// As the picker labels it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Hour => "1 h",
            Self::Day => "24 h",
            Self::Week => "7 d",
            Self::Month => "30 d",
        }
    }

    pub fn seconds(self) -> i64 {
        match self {
            Self::Hour => 3_600,
            Self::Day => 86_400,
            Self::Week => 7 * 86_400,
            Self::Month => 30 * 86_400,
        }
    }
}

/// The range the page shows (reactive).
pub fn use_alert_range() -> Memo<AlertRange> {
    let range = use_query_value("range");
    Memo::new(move |_| AlertRange::parse(range.get().as_deref()))
}

/// Links to each range; the default one keeps the URL bare.
#[component]
pub fn AlertRangePicker() -> impl IntoView {
    let query = use_query_map();
    let current = use_alert_range();
    let links = AlertRange::ALL
        .into_iter()
        .map(|range| {
            let value = (range != AlertRange::default()).then(|| range.as_str().to_string());
            let link = move || query.with(|q| href("/alerts", q, &[("range", value.clone())]));
            let active = move || current.get() == range;
            view! {
                <a
                    href=link
                    class="segment"
                    class:active=active
                    aria-current=move || active().then_some("true")
                >
                    {range.label()}
                </a>
            }
        })
        .collect_view();
    view! {
        <nav class="range-picker" aria-label="Timeline range" data-testid="alert-range">
            <div class="segments">{links}</div>
        </nav>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_round_trip_and_default_to_a_day() {
        for range in AlertRange::ALL {
            assert_eq!(AlertRange::parse(Some(range.as_str())), range);
        }
        assert_eq!(AlertRange::parse(None), AlertRange::Day);
        assert_eq!(AlertRange::parse(Some("2y")), AlertRange::Day);
    }
}
