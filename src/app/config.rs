//! Config: the running `config.json` shown readably and editable in a form (routes and targets,
//! see [`super::config_form`]) or as JSON — checked (errors at their field and JSON path, a diff
//! against the file) before it is applied; applying writes the file atomically and hot-reloads
//! it; earlier versions can be rolled back to.

use crate::api::config::{ApplyConfig, CheckConfig, RollbackConfig, get_config};
use crate::app::config_form::ConfigFormEditor;
use crate::app::format;
use crate::app::resource::page_resource;
use crate::app::widgets::{ErrorNote, loading};
use crate::config_form::ConfigForm;
use crate::diff::DiffLine;
use crate::views::{ConfigApplied, ConfigDocument, ConfigFieldError};
use leptos::prelude::*;

#[component]
pub fn ConfigPage() -> impl IntoView {
    let apply = ServerAction::<ApplyConfig>::new();
    let rollback = ServerAction::<RollbackConfig>::new();
    // Re-read the file after every apply or rollback.
    let document = page_resource(
        move || (apply.version().get(), rollback.version().get()),
        |_| get_config(),
    );
    view! {
        <section class="page">
            <header class="page-header"><h1>"Config"</h1></header>
            <Transition fallback=loading>
                {move || Suspend::new(async move {
                    match document.await {
                        Ok(document) => view! { <ConfigEditor document apply rollback /> }.into_any(),
                        Err(error) => view! { <ErrorNote what="Could not read the config" error=error.to_string() /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ConfigEditor(
    document: ConfigDocument,
    apply: ServerAction<ApplyConfig>,
    rollback: ServerAction<RollbackConfig>,
) -> impl IntoView {
    let check = ServerAction::<CheckConfig>::new();
    let text = RwSignal::new(document.text.clone());
    // A check describes the text it was made for; editing again makes it stale.
    let checked_text = RwSignal::new(None::<String>);
    let current_check = move || {
        check
            .value()
            .get()
            .filter(|_| checked_text.get().as_deref() == Some(text.get().as_str()))
    };
    let can_apply = move || matches!(current_check(), Some(Ok(c)) if c.errors.is_empty() && c.diff.iter().any(|l| !matches!(l, DiffLine::Same(_))));
    let on_check = move |_| {
        checked_text.set(Some(text.get_untracked()));
        check.dispatch(CheckConfig {
            text: text.get_untracked(),
        });
    };
    let on_apply = move |_| {
        apply.dispatch(ApplyConfig {
            text: text.get_untracked(),
        });
    };
    let check_errors = Signal::derive(move || match current_check() {
        Some(Ok(check)) => check.errors,
        _ => Vec::<ConfigFieldError>::new(),
    });
    // The form edits the same text; it is rebuilt from the text when switching back to it.
    let parsed = ConfigForm::parse(&document.text);
    let mode = RwSignal::new(if parsed.is_ok() {
        EditMode::Form
    } else {
        EditMode::Json
    });
    let form = RwSignal::new(parsed.unwrap_or_default());
    let form_problem = RwSignal::new(None::<String>);
    let show_form = move |_| match ConfigForm::parse(&text.get_untracked()) {
        Ok(parsed) => {
            form.set(parsed);
            form_problem.set(None);
            mode.set(EditMode::Form);
        }
        Err(problem) => form_problem.set(Some(problem)),
    };
    let initial = document.text.clone();
    let json_editor = move || {
        view! {
            <textarea
                id="config-text"
                class="config-text mono"
                spellcheck="false"
                rows="24"
                aria-label="config.json"
                data-testid="config-text"
                prop:value=move || text.get()
                on:input=move |ev| text.set(event_target_value(&ev))
            >
                {initial.clone()}
            </textarea>
        }
    };
    let versions = document.versions.clone();
    view! {
        <section class="panel">
            <header class="panel-header">
                <h2>"Routes"</h2>
                <span class="muted mono small">{document.path.clone()}</span>
            </header>
            <RouteSummary text=document.text.clone() />
        </section>
        <section class="panel">
            <header class="panel-header">
                <h2>"Edit"</h2>
                <div class="tabs needs-js" role="group" aria-label="Editor">
                    <button type="button" class="button small" data-testid="edit-form" aria-pressed=move || (mode.get() == EditMode::Form).to_string() on:click=show_form>"Form"</button>
                    <button type="button" class="button small" data-testid="edit-json" aria-pressed=move || (mode.get() == EditMode::Json).to_string() on:click=move |_| mode.set(EditMode::Json)>"JSON"</button>
                </div>
                <span class="muted small">"Check shows the errors and a diff; Apply writes the file (the previous version is kept) and reloads it."</span>
            </header>
            {move || form_problem.get().map(|problem| view! {
                <p class="field-error" role="alert" data-testid="form-problem">{format!("The form cannot show this text ({problem}); fix it as JSON first.")}</p>
            })}
            {move || match mode.get() {
                EditMode::Form => view! { <ConfigFormEditor form text errors=check_errors /> }.into_any(),
                EditMode::Json => json_editor().into_any(),
            }}
            <div class="actions needs-js">
                <button type="button" class="button" data-testid="config-check" on:click=on_check>"Check"</button>
                <button type="button" class="button primary" data-testid="config-apply" disabled=move || !can_apply() on:click=on_apply>"Apply"</button>
                <button type="button" class="button" on:click={
                    let original = document.text.clone();
                    move |_| {
                        text.set(original.clone());
                        form.set(ConfigForm::parse(&original).unwrap_or_default());
                    }
                }>"Discard edits"</button>
            </div>
            {move || current_check().map(|result| match result {
                Ok(check) if check.errors.is_empty() => view! {
                    <p class="ok-note" data-testid="config-valid">"Valid. Review the changes, then apply."</p>
                    <Diff lines=check.diff />
                }.into_any(),
                Ok(check) => view! {
                    <ul class="field-errors" data-testid="config-errors" role="alert">
                        {check.errors.into_iter().map(|e| view! {
                            <li data-testid="config-error"><code>{e.path}</code> ": " {e.reason}</li>
                        }).collect_view()}
                    </ul>
                }.into_any(),
                Err(error) => view! { <ErrorNote what="Could not check" error=error.to_string() /> }.into_any(),
            })}
            {move || apply.value().get().map(|result| view! { <Outcome result /> })}
        </section>
        <section class="panel">
            <header class="panel-header"><h2>"Versions"</h2></header>
            {if versions.is_empty() {
                view! { <p class="muted">"No earlier versions yet: each apply keeps the file it replaces here."</p> }.into_any()
            } else {
                view! {
                    <ul class="versions" data-testid="config-versions">
                        {versions.into_iter().map(|version| {
                            let id = version.id.clone();
                            view! {
                                <li data-testid="config-version">
                                    <span class="mono">{format::date_time(version.saved_at)}</span>
                                    " · " {format::bytes(version.bytes)}
                                    <button type="button" class="button needs-js" on:click=move |_| {
                                        rollback.dispatch(RollbackConfig { id: id.clone() });
                                    }>"Roll back to this"</button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {move || rollback.value().get().map(|result| view! { <Outcome result /> })}
        </section>
    }
}

/// Which editor shows the config text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EditMode {
    Form,
    Json,
}

/// What an apply or rollback did.
#[component]
fn Outcome(result: Result<ConfigApplied, ServerFnError>) -> impl IntoView {
    match result {
        Err(error) => view! { <ErrorNote what="Not applied" error=error.to_string() /> }.into_any(),
        Ok(outcome) if !outcome.errors.is_empty() => view! {
            <ul class="field-errors" data-testid="apply-result" data-applied="false" role="alert">
                {outcome.errors.into_iter().map(|e| view! { <li><code>{e.path}</code> ": " {e.reason}</li> }).collect_view()}
            </ul>
        }.into_any(),
        Ok(outcome) => {
            let applied = outcome.reload.as_ref().is_some_and(|r| r.applied);
            let warnings = outcome.reload.map(|r| r.warnings).unwrap_or_default();
            view! {
                <div class="banner banner-info" data-testid="apply-result" data-applied=applied.to_string() role="status">
                    {if applied { "Applied: the gateway now runs on the new config." } else { "Written, but the reload did not apply it." }}
                    {outcome.saved_previous_as.map(|id| format!(" The previous file is kept as {id}."))}
                    {warnings.into_iter().map(|w| view! { <p class="small">{w}</p> }).collect_view()}
                </div>
            }.into_any()
        }
    }
}

/// A diff, with unchanged runs folded.
#[component]
fn Diff(lines: Vec<DiffLine>) -> impl IntoView {
    let changed = lines.iter().any(|l| !matches!(l, DiffLine::Same(_)));
    if !changed {
        return view! { <p class="muted" data-testid="config-diff">"No changes against the file."</p> }.into_any();
    }
    // Keep 2 unchanged lines around each change.
    let near_change = |i: usize| {
        lines[i.saturating_sub(2)..(i + 3).min(lines.len())]
            .iter()
            .any(|l| !matches!(l, DiffLine::Same(_)))
    };
    let mut rows = Vec::new();
    let mut folded = false;
    for (i, line) in lines.iter().enumerate() {
        match line {
            DiffLine::Same(text) if near_change(i) => {
                folded = false;
                rows.push(view! { <div class="diff-same">"  " {text.clone()}</div> }.into_any());
            }
            DiffLine::Same(_) => {
                if !folded {
                    rows.push(view! { <div class="diff-fold">"  …"</div> }.into_any());
                }
                folded = true;
            }
            DiffLine::Removed(text) => {
                folded = false;
                rows.push(view! { <div class="diff-removed">"- " {text.clone()}</div> }.into_any());
            }
            DiffLine::Added(text) => {
                folded = false;
                rows.push(view! { <div class="diff-added">"+ " {text.clone()}</div> }.into_any());
            }
        }
    }
    view! { <pre class="diff mono" data-testid="config-diff">{rows}</pre> }.into_any()
}

/// The routes of a config text, readably (name, path, targets).
#[component]
fn RouteSummary(text: String) -> impl IntoView {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(text.as_bytes()).ok();
    let routes = parsed
        .as_ref()
        .and_then(|v| v.get("routes"))
        .and_then(|r| r.as_array())
        .cloned()
        .unwrap_or_default();
    if routes.is_empty() {
        return view! { <p class="muted">"No routes: add one below (" <code>"name"</code> ", " <code>"path"</code> ", " <code>"targets"</code> ")."</p> }.into_any();
    }
    let rows = routes
        .iter()
        .map(|route| {
            let field = |name: &str| route.get(name).and_then(|v| v.as_str()).unwrap_or("").to_string();
            let targets = route
                .get("targets")
                .and_then(|t| t.as_array())
                .map(|targets| {
                    targets
                        .iter()
                        .filter_map(|t| t.as_str().or_else(|| t.get("url")?.as_str()))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            view! {
                <tr>
                    <th scope="row" class="mono">{field("name")}</th>
                    <td class="mono">{field("path")}</td>
                    <td class="mono small">{targets}</td>
                    <td>{route.get("strategy").and_then(|s| s.as_str()).unwrap_or("round_robin").replace('_', " ")}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table data-testid="config-routes">
                <thead><tr><th scope="col">"Name"</th><th scope="col">"Path"</th><th scope="col">"Targets"</th><th scope="col">"Strategy"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
