//! Config: the running config shown readably ([`super::running_config`]); the file editable in a
//! form (routes and targets, see [`super::config_form`]) or as JSON — checked (errors at their
//! field and JSON path, a diff against the file) before it is applied; applying writes the file
//! atomically and hot-reloads it. Rolling back to an earlier version loads it into the editor and
//! checks it, so its diff is reviewed before it is applied.

use crate::api::audit::get_audit;
use crate::api::config::{ApplyConfig, CheckConfig, GetConfigVersion, get_config};
use crate::app::config_form::ConfigFormEditor;
use crate::app::format;
use crate::app::page_data::PageData;
use crate::app::resource::{BytesJson, page_resource};
use crate::app::running_config::RunningConfig;
use crate::app::session::use_session;
use crate::app::widgets::ErrorNote;
use crate::config_form::ConfigForm;
use crate::diff::DiffLine;
use crate::views::{
    AuditEntry, AuditPage, ConfigApplied, ConfigDocument, ConfigFieldError, SessionView,
};
use leptos::prelude::*;

#[component]
pub fn ConfigPage() -> impl IntoView {
    let apply = ServerAction::<ApplyConfig>::new();
    // Re-read the file after every apply (a rollback is an apply of a reviewed version).
    let document = page_resource(move || apply.version().get(), |_| get_config());
    let session = use_session();
    // Made here, outside the page's data boundary (see `overview::charts::PeriodReading`); read
    // only for admins (a viewer's read is refused, and not shown).
    let audit_entries = page_resource(
        move || apply.version().get(),
        |_| get_audit(String::from("limit=20")),
    );
    view! {
        <section class="page">
            <header class="page-header"><h1>"Config"</h1></header>
            <PageData data=session failed="Could not read who is signed in" let:session>
                <PageData data=document failed="Could not read the config" let:document>
                    {
                        let audit = session.can_write().then(|| view! { <AuditLog entries=audit_entries /> });
                        view! { <ConfigEditor document apply session=session.clone() /> {audit} }
                    }
                </PageData>
            </PageData>
        </section>
    }
}

#[component]
fn ConfigEditor(
    document: ConfigDocument,
    apply: ServerAction<ApplyConfig>,
    session: SessionView,
) -> impl IntoView {
    // A viewer sees everything, changes nothing (the server refuses them too).
    let read_only = !session.can_write();
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
    // Rolling back starts as a review: the version's text goes into the editor and is checked,
    // so its diff against the file shows before Apply.
    let review = ServerAction::<GetConfigVersion>::new();
    let reviewing = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(Ok(version_text)) = review.value().get() {
            mode.set(EditMode::Json);
            text.set(version_text.clone());
            checked_text.set(Some(version_text.clone()));
            check.dispatch(CheckConfig { text: version_text });
        }
    });
    let versions = document.versions.clone();
    view! {
        <section class="panel">
            <header class="panel-header">
                <h2>"Running config"</h2>
                <span class="muted mono small">{document.path.clone()}</span>
                <span class="muted small" data-testid="config-author">{format!("file {}", author_label(document.author.as_deref()))}</span>
            </header>
            {(document.running != document.text).then(|| view! {
                <p class="banner banner-warn" role="status" data-testid="config-file-differs">
                    "The file on disk differs from the config in force (its last change was rejected, or is being applied). "
                    "The gateway runs on the config shown here; the editor below holds the file."
                </p>
            })}
            <RunningConfig text=document.running.clone() />
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
            {read_only.then(|| view! {
                <p class="banner banner-info" role="note" data-testid="config-read-only">
                    {format!(
                        "Signed in as {} with the {} role: you may read the config but not check, apply or roll it back; an admin may.",
                        session.name.clone().unwrap_or_default(),
                        session.role.as_str(),
                    )}
                </p>
            })}
            {move || form_problem.get().map(|problem| view! {
                <p class="field-error" role="alert" data-testid="form-problem">{format!("The form cannot show this text ({problem}); fix it as JSON first.")}</p>
            })}
            {move || match mode.get() {
                EditMode::Form => view! { <ConfigFormEditor form text errors=check_errors /> }.into_any(),
                EditMode::Json => json_editor().into_any(),
            }}
            <div class="actions needs-js">
                <button type="button" class="button" data-testid="config-check" disabled=read_only on:click=on_check>"Check"</button>
                <button type="button" class="button primary" data-testid="config-apply" disabled=move || read_only || !can_apply() on:click=on_apply>"Apply"</button>
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
            {move || if apply.pending().get() {
                view! { <p class="muted" role="status" data-testid="applying">"Applying…"</p> }.into_any()
            } else {
                apply.value().get().map(|result| view! { <Outcome result /> }).into_any()
            }}
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
                                    " · " <span data-testid="config-version-author">{author_label(version.author.as_deref())}</span>
                                    <button type="button" class="button needs-js" data-testid="config-review-version" disabled=read_only on:click=move |_| {
                                        reviewing.set(Some(id.clone()));
                                        review.dispatch(GetConfigVersion { id: id.clone() });
                                    }>"Review rollback"</button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {move || match review.value().get() {
                Some(Ok(_)) => reviewing.get().map(|id| view! {
                    <p class="banner banner-info" role="status" data-testid="config-reviewing">
                        {format!("Version {id} is in the editor above, checked against the file: review the diff, then Apply to roll back.")}
                    </p>
                }).into_any(),
                Some(Err(error)) => view! { <ErrorNote what="Could not read that version" error=error.to_string() /> }.into_any(),
                None => ().into_any(),
            }}
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
fn Diff(
    lines: Vec<DiffLine>,
    /// The element's test id.
    #[prop(default = "config-diff")]
    testid: &'static str,
) -> impl IntoView {
    let changed = lines.iter().any(|l| !matches!(l, DiffLine::Same(_)));
    if !changed {
        return view! { <p class="muted" data-testid=testid>"No changes against the file."</p> }
            .into_any();
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
    view! { <pre class="diff mono" data-testid=testid>{rows}</pre> }.into_any()
}

/// The audit log's newest entries (admins only): who changed what and when, each with its diff.
#[component]
fn AuditLog(entries: Resource<Result<AuditPage, ServerFnError>, BytesJson>) -> impl IntoView {
    view! {
        <section class="panel" data-testid="audit">
            <header class="panel-header"><h2>"Audit"</h2><span class="muted small">"Sign-ins and config changes, newest first"</span></header>
            <PageData data=entries failed="Could not read the audit log" let:page>
                {if page.entries.is_empty() {
                    view! { <p class="muted">"Nothing audited yet."</p> }.into_any()
                } else {
                    view! {
                        <ul class="audit-entries">
                            {page.entries.into_iter().map(|entry| view! { <AuditRow entry /> }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </PageData>
        </section>
    }
}

#[component]
fn AuditRow(entry: AuditEntry) -> impl IntoView {
    let role = entry
        .role
        .map(|role| format!(" ({})", role.as_str()))
        .unwrap_or_default();
    let diff = (!entry.diff.is_empty()).then(|| {
        view! {
            <details>
                <summary data-testid="audit-diff-toggle">"Diff"</summary>
                <Diff lines=entry.diff.clone() testid="audit-diff" />
            </details>
        }
    });
    view! {
        <li data-testid="audit-entry" data-outcome=entry.outcome.clone()>
            <span class="mono small">{format::date_time(entry.at)}</span>
            " · " <strong>{entry.actor.clone()}</strong> {role} " · " {entry.client.clone()}
            " · " <code>{entry.action.clone()}</code> " · " {entry.outcome.clone()}
            {entry.summary.iter().map(|line| view! { <div class="small">{line.clone()}</div> }).collect_view()}
            {diff}
        </li>
    }
}

/// Who wrote a config text: through the dashboard or the API by a named caller, or by hand.
fn author_label(author: Option<&str>) -> String {
    author.map_or_else(
        || String::from("edited by hand"),
        |name| format!("written by {name}"),
    )
}
