//! Silences: the ones in force, and — for admins, with JavaScript — silencing a rule (from its
//! row) or every rule of a route for a chosen duration, and ending a silence. A silenced alert
//! is still evaluated and shown (marked); it sends nothing. Viewers see the same page without
//! the controls (the server refuses them anyway).

use crate::api::alerts::{CreateSilence, EndSilence};
use crate::app::format;
use crate::views::{AlertView, NewSilence, SilenceView};
use leptos::prelude::*;
use std::collections::BTreeSet;

/// The durations offered, in seconds, with their labels.
const DURATIONS: [(u64, &str); 5] = [
    (900, "15 min"),
    (3_600, "1 h"),
    (4 * 3_600, "4 h"),
    (86_400, "24 h"),
    (7 * 86_400, "7 d"),
];

/// The duration selected when the page shows.
const DEFAULT_DURATION_S: u64 = 3_600;

/// The page's two silence actions; the page reads again after each.
#[derive(Clone, Copy)]
pub struct SilenceActions {
    silence: ServerAction<CreateSilence>,
    unsilence: ServerAction<EndSilence>,
}

impl SilenceActions {
    /// The page's actions (made outside its data boundary, so they outlive re-reads).
    pub fn for_page() -> Self {
        Self {
            silence: ServerAction::new(),
            unsilence: ServerAction::new(),
        }
    }

    /// Changes each time an action finishes (reactive).
    pub fn version(self) -> (usize, usize) {
        (self.silence.version().get(), self.unsilence.version().get())
    }

    /// Whether one is under way (reactive).
    fn pending(self) -> bool {
        self.silence.pending().get() || self.unsilence.pending().get()
    }

    /// The last failure, while the action that failed has not succeeded since (reactive).
    pub fn error(self) -> Option<String> {
        let failed = |value: Option<Result<_, ServerFnError>>| value.and_then(Result::err);
        failed(self.silence.value().get().map(|r| r.map(|_| ())))
            .or_else(|| failed(self.unsilence.value().get()))
            .map(|error| error.to_string())
    }

    fn silence(self, rule: Option<String>, route: Option<String>, duration_s: u64) {
        self.silence.dispatch(CreateSilence {
            silence: NewSilence {
                rule,
                route,
                duration_s,
                comment: None,
            },
        });
    }

    fn end(self, ids: &[u64]) {
        for &id in ids {
            self.unsilence.dispatch(EndSilence { id });
        }
    }
}

/// A duration picker (its value in a signal).
#[component]
fn DurationSelect(duration: RwSignal<u64>, label: String) -> impl IntoView {
    let options = DURATIONS
        .into_iter()
        .map(|(seconds, text)| {
            view! { <option value=seconds.to_string() selected=seconds == DEFAULT_DURATION_S>{text}</option> }
        })
        .collect_view();
    view! {
        <select
            class="select small"
            aria-label=label
            data-testid="silence-duration"
            on:change=move |ev| {
                if let Ok(seconds) = event_target_value(&ev).parse() {
                    duration.set(seconds);
                }
            }
        >
            {options}
        </select>
    }
}

/// A rule's control: "Unsilence" while a silence of the rule itself is in force (one of its
/// route is ended in the silences list), else a duration and "Silence".
#[component]
pub fn RuleSilenceControl(
    rule: String,
    silences: Vec<SilenceView>,
    actions: SilenceActions,
) -> impl IntoView {
    let own: Vec<u64> = silences
        .iter()
        .filter(|s| s.rule.as_deref() == Some(rule.as_str()))
        .map(|s| s.id)
        .collect();
    if !own.is_empty() {
        return view! {
            <button
                type="button"
                class="button small"
                data-testid="unsilence"
                disabled=move || actions.pending()
                on:click=move |_| actions.end(&own)
            >
                "Unsilence"
            </button>
        }
        .into_any();
    }
    let duration = RwSignal::new(DEFAULT_DURATION_S);
    let label = format!("Silence {rule} for");
    view! {
        <span class="silence-control">
            <DurationSelect duration label />
            <button
                type="button"
                class="button small"
                data-testid="silence-rule"
                disabled=move || actions.pending()
                on:click=move |_| actions.silence(Some(rule.clone()), None, duration.get_untracked())
            >
                "Silence"
            </button>
        </span>
    }
    .into_any()
}

/// What a silence covers: `rule api-errors`, `route api`.
fn silenced_what(silence: &SilenceView) -> String {
    match (&silence.rule, &silence.route) {
        (Some(rule), _) => format!("rule {rule}"),
        (None, Some(route)) => format!("route {route} (every rule)"),
        (None, None) => "—".to_string(),
    }
}

/// The silences in force, and (for admins) silencing a route.
#[component]
pub fn Silences(
    silences: Vec<SilenceView>,
    alerts: Vec<AlertView>,
    admin: bool,
    actions: SilenceActions,
) -> impl IntoView {
    let routes: BTreeSet<String> = alerts.iter().filter_map(|a| a.route.clone()).collect();
    let list = if silences.is_empty() {
        view! { <p class="muted small" data-testid="no-silences">"No silence is in force."</p> }
            .into_any()
    } else {
        let rows = silences
            .into_iter()
            .map(|silence| {
                let id = silence.id;
                let end = admin.then(|| {
                    view! {
                        <td class="needs-js">
                            <button
                                type="button"
                                class="button small"
                                data-testid="end-silence"
                                disabled=move || actions.pending()
                                on:click=move |_| actions.end(&[id])
                            >
                                "End"
                            </button>
                        </td>
                    }
                });
                view! {
                    <tr data-testid="silence" data-id=id.to_string()>
                        <th scope="row" class="mono">{silenced_what(&silence)}</th>
                        <td>{format::date_time(silence.until)}</td>
                        <td>{silence.created_by.clone()}</td>
                        <td class="small">{silence.comment.clone()}</td>
                        {end}
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="table-wrap" tabindex="0" role="region" aria-label="Silences in force">
                <table>
                    <thead>
                        <tr>
                            <th scope="col">"Silenced"</th>
                            <th scope="col">"Until"</th>
                            <th scope="col">"By"</th>
                            <th scope="col">"Comment"</th>
                            {admin.then(|| view! { <th scope="col" class="needs-js"><span class="visually-hidden">"Actions"</span></th> })}
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    let route_form = (admin && !routes.is_empty()).then(|| {
        let route = RwSignal::new(routes.iter().next().cloned().unwrap_or_default());
        let duration = RwSignal::new(DEFAULT_DURATION_S);
        let options = routes
            .iter()
            .map(|name| view! { <option value=name.clone()>{name.clone()}</option> })
            .collect_view();
        view! {
            <div class="actions needs-js silence-route">
                <span class="small muted">"Silence every rule of route"</span>
                <select
                    class="select small"
                    aria-label="Route to silence"
                    data-testid="silence-route-name"
                    on:change=move |ev| route.set(event_target_value(&ev))
                >
                    {options}
                </select>
                <DurationSelect duration label="Silence the route for".to_string() />
                <button
                    type="button"
                    class="button small"
                    data-testid="silence-route"
                    disabled=move || actions.pending()
                    on:click=move |_| actions.silence(None, Some(route.get_untracked()), duration.get_untracked())
                >
                    "Silence route"
                </button>
            </div>
        }
    });
    view! {
        <section class="panel" aria-labelledby="silences-heading">
            <header class="panel-header"><h2 id="silences-heading">"Silences"</h2></header>
            {list}
            {route_form}
        </section>
    }
}
