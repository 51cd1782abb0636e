//! The config page's form: each route's name, path, strategy and targets as fields, with the
//! last check's validation errors shown at the field they name. Every edit rewrites the config
//! text (see [`crate::config_form`]), so Check, the diff and Apply work on what the form shows.

use crate::config_form::{
    ConfigForm, RouteField, STRATEGIES, TargetField, route_field_path, target_field_paths,
};
use crate::views::ConfigFieldError;
use leptos::prelude::*;

/// The form over `form`; edits are written to `text`.
#[component]
pub fn ConfigFormEditor(
    form: RwSignal<ConfigForm>,
    text: RwSignal<String>,
    errors: Signal<Vec<ConfigFieldError>>,
) -> impl IntoView {
    let edit = Editor { form, text };
    view! {
        <div class="config-form" data-testid="config-form">
            <For
                each=move || form.with(|f| f.routes.iter().map(|r| r.key).collect::<Vec<_>>())
                key=|route| *route
                let:route
            >
                <RouteFields route edit errors />
            </For>
            {move || form.with(|f| f.routes.is_empty()).then(|| view! {
                <p class="muted">"No routes yet: add one, give it a path and a target, then Check and Apply."</p>
            })}
            <button type="button" class="button" data-testid="add-route" on:click=move |_| edit.apply(ConfigForm::add_route)>
                "+ Add route"
            </button>
        </div>
    }
    .into_any()
}

/// Applies an edit to the form and writes the resulting config text.
#[derive(Clone, Copy)]
struct Editor {
    form: RwSignal<ConfigForm>,
    text: RwSignal<String>,
}

impl Editor {
    fn apply(self, change: impl FnOnce(&mut ConfigForm)) {
        self.form.update(change);
        self.text.set(self.form.with_untracked(ConfigForm::to_text));
    }
}

/// The reasons of `errors` whose path is one of `paths`.
fn reasons_at(errors: &[ConfigFieldError], paths: &[String]) -> Vec<String> {
    errors
        .iter()
        .filter(|e| paths.contains(&e.path))
        .map(|e| e.reason.clone())
        .collect()
}

#[component]
fn RouteFields(route: u64, edit: Editor, errors: Signal<Vec<ConfigFieldError>>) -> impl IntoView {
    let form = edit.form;
    let index = move || form.with(|f| f.route_index(route)).unwrap_or(0);
    let read = move |field: RouteField| form.with(|f| f.route_field(route, field).to_string());
    let field_errors = move |field: RouteField| {
        Signal::derive(move || errors.with(|e| reasons_at(e, &[route_field_path(index(), field)])))
    };
    // Errors about the route as a whole (`routes[1]`, `routes[1].targets`, …) not at a field.
    let route_errors = Signal::derive(move || {
        let i = index();
        let own = [format!("routes[{i}]"), format!("routes[{i}].targets")];
        errors.with(|e| reasons_at(e, &own))
    });
    let set = move |field: RouteField| {
        move |value: String| edit.apply(|f| f.set_route_field(route, field, value))
    };
    let title = move || {
        let name = read(RouteField::Name);
        if name.is_empty() {
            "New route".to_string()
        } else {
            format!("Route {name}")
        }
    };
    let target_keys = move || form.with(|f| f.target_keys(route));
    view! {
        <fieldset class="route-form" data-testid="form-route" data-index=index>
            <legend>{title}</legend>
            <div class="form-row">
                <TextField label="Name" testid="route-name" value=Signal::derive(move || read(RouteField::Name))
                    errors=field_errors(RouteField::Name) on_input=set(RouteField::Name) />
                <TextField label="Path" testid="route-path" placeholder="/api/*" value=Signal::derive(move || read(RouteField::Path))
                    errors=field_errors(RouteField::Path) on_input=set(RouteField::Path) />
                <label class="field">
                    <span>"Strategy"</span>
                    <select
                        data-testid="route-strategy"
                        prop:value=move || read(RouteField::Strategy)
                        on:change=move |ev| set(RouteField::Strategy)(event_target_value(&ev))
                    >
                        <option value="">"round robin (default)"</option>
                        {STRATEGIES.iter().skip(1).map(|s| view! { <option value=*s>{s.replace('_', " ")}</option> }).collect_view()}
                    </select>
                    <FieldErrors errors=field_errors(RouteField::Strategy) />
                </label>
            </div>
            <table class="targets-form">
                <thead><tr><th scope="col">"Target URL"</th><th scope="col">"Weight"</th><th scope="col"><span class="visually-hidden">"Remove"</span></th></tr></thead>
                <tbody>
                    <For each=target_keys key=|target| *target let:target>
                        <TargetFields route target edit errors />
                    </For>
                </tbody>
            </table>
            <FieldErrors errors=route_errors />
            <div class="actions">
                <button type="button" class="button" data-testid="add-target" on:click=move |_| edit.apply(|f| f.add_target(route))>
                    "+ Add target"
                </button>
                <button type="button" class="button danger" data-testid="remove-route" on:click=move |_| edit.apply(|f| f.remove_route(route))>
                    "Remove route"
                </button>
            </div>
        </fieldset>
    }
    .into_any()
}

#[component]
fn TargetFields(
    route: u64,
    target: u64,
    edit: Editor,
    errors: Signal<Vec<ConfigFieldError>>,
) -> impl IntoView {
    let form = edit.form;
    let read =
        move |field: TargetField| form.with(|f| f.target_field(route, target, field).to_string());
    let field_errors = move |field: TargetField| {
        Signal::derive(move || {
            let Some((r, t)) = form.with(|f| f.target_index(route, target)) else {
                return Vec::new();
            };
            errors.with(|e| reasons_at(e, &target_field_paths(r, t, field)))
        })
    };
    let set = move |field: TargetField| {
        move |value: String| edit.apply(|f| f.set_target_field(route, target, field, value))
    };
    view! {
        <tr data-testid="form-target">
            <td>
                <TextField label="URL" hide_label=true testid="target-url" placeholder="http://127.0.0.1:9000"
                    value=Signal::derive(move || read(TargetField::Url))
                    errors=field_errors(TargetField::Url) on_input=set(TargetField::Url) />
            </td>
            <td class="weight">
                <TextField label="Weight" hide_label=true testid="target-weight" placeholder="1"
                    value=Signal::derive(move || read(TargetField::Weight))
                    errors=field_errors(TargetField::Weight) on_input=set(TargetField::Weight) />
            </td>
            <td>
                <button type="button" class="button small" data-testid="remove-target" aria-label="Remove this target"
                    on:click=move |_| edit.apply(|f| f.remove_target(route, target))>"✕"</button>
            </td>
        </tr>
    }
    .into_any()
}

/// A labelled text input with its validation errors underneath.
#[component]
fn TextField(
    label: &'static str,
    testid: &'static str,
    value: Signal<String>,
    errors: Signal<Vec<String>>,
    on_input: impl Fn(String) + 'static,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] hide_label: bool,
) -> impl IntoView {
    view! {
        <label class="field">
            <span class=if hide_label { "visually-hidden" } else { "" }>{label}</span>
            <input
                type="text"
                class="mono"
                spellcheck="false"
                placeholder=placeholder
                data-testid=testid
                aria-invalid=move || (!errors.with(Vec::is_empty)).to_string()
                prop:value=move || value.get()
                on:input=move |ev| on_input(event_target_value(&ev))
            />
            <FieldErrors errors />
        </label>
    }
    .into_any()
}

#[component]
fn FieldErrors(errors: Signal<Vec<String>>) -> impl IntoView {
    move || {
        errors.with(|errors| {
            errors
                .iter()
                .map(|reason| view! { <span class="field-error" data-testid="field-error" role="alert">{reason.clone()}</span> })
                .collect_view()
        })
    }
}
