//! Models: LLM traffic per model (requests, tokens in/out, tokens/s, latency, time to first
//! token) and which targets served which model; kept current by the models pushed each second.

use crate::api::traffic::get_models;
use crate::app::format;
use crate::app::live_routes::keyed_item;
use crate::app::page_data::PageData;
use crate::app::resource::page_resource;
use crate::app::widgets::EmptyState;
use crate::live_feed::use_live_feed;
use crate::views::ModelView;
use leptos::prelude::*;
use std::collections::BTreeSet;

#[component]
pub fn ModelsPage() -> impl IntoView {
    let live = use_live_feed();
    let models = page_resource(move || live.poll.get(), |_| get_models());
    view! {
        <section class="page">
            <header class="page-header"><h1>"Models"</h1></header>
            <PageData data=models failed="Could not read the models" let:models>
                <LiveModels rendered=models />
            </PageData>
        </section>
    }
}

/// The models as read, replaced by each push while the live socket is up.
#[component]
fn LiveModels(rendered: Vec<ModelView>) -> impl IntoView {
    let live = use_live_feed();
    let mounted = crate::live_feed::mounted();
    let models = Memo::new(move |_| {
        mounted
            .get()
            .then(|| live.models.get())
            .flatten()
            .unwrap_or_else(|| rendered.clone())
    });
    view! {
        <Show
            when=move || models.with(|list| !list.is_empty())
            fallback=|| view! {
                <EmptyState title="No LLM traffic yet">
                    <p>"Mark a route that fronts an OpenAI-compatible or Anthropic API with "
                    <code>"\"llm\": true"</code> " in " <code>"config.json"</code>
                    "; its models and token use show up here as requests pass."</p>
                </EmptyState>
            }
        >
            <ModelTables models />
        </Show>
    }
}

#[component]
fn ModelTables(models: Memo<Vec<ModelView>>) -> impl IntoView {
    let matrix = move || {
        let models = models.get();
        let targets: BTreeSet<String> = models
            .iter()
            .flat_map(|m| m.targets.keys().cloned())
            .collect();
        let head = targets
            .iter()
            .map(|t| view! { <th scope="col" class="num mono">{t.clone()}</th> })
            .collect_view();
        let rows = models
            .iter()
            .map(|m| {
                let cells = targets
                    .iter()
                    .map(|t| view! { <td class="num">{m.targets.get(t).map_or("—".to_string(), |n| format::count(*n))}</td> })
                    .collect_view();
                view! { <tr><th scope="row" class="mono">{m.model.clone()}</th>{cells}</tr> }
            })
            .collect_view();
        view! {
            <thead><tr><th scope="col">"Model"</th>{head}</tr></thead>
            <tbody>{rows}</tbody>
        }
    };
    view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label="Models">
            <table data-testid="models-table">
                <thead>
                    <tr>
                        <th scope="col">"Model"</th>
                        <th scope="col" class="num">"Requests"</th>
                        <th scope="col" class="num">"Streamed"</th>
                        <th scope="col" class="num">"Errors"</th>
                        <th scope="col" class="num">"Tokens in"</th>
                        <th scope="col" class="num">"Tokens out"</th>
                        <th scope="col" class="num">"Tokens/s out"</th>
                        <th scope="col" class="num">"Latency p50 / p95"</th>
                        <th scope="col" class="num">"First token p50 / p95"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || models.get() key=|m| m.model.clone() let(model)>
                        <ModelRow model=live_model(models, model) />
                    </For>
                </tbody>
            </table>
        </div>
        <section class="panel">
            <header class="panel-header"><h2>"Requests by model and target"</h2></header>
            <div class="table-wrap" tabindex="0" role="region" aria-label="Requests by model and target">
                <table data-testid="model-matrix">{matrix}</table>
            </div>
        </section>
    }
}

/// Model `fallback.model` in `models`, like [`keyed_item`].
fn live_model(models: Memo<Vec<ModelView>>, fallback: ModelView) -> Memo<ModelView> {
    keyed_item(
        move |is| models.with(|list| list.iter().find(|m| is(m)).cloned()),
        fallback,
        |m| m.model.clone(),
    )
}

#[component]
fn ModelRow(model: Memo<ModelView>) -> impl IntoView {
    let name = model.with_untracked(|m| m.model.clone());
    let href = format!(
        "/requests?model={}",
        crate::app::query_string::encode(&name)
    );
    let cells = move || {
        let m = model.get();
        view! {
            <td class="num" data-testid="model-requests">{format::count(m.requests)}</td>
            <td class="num">{format::count(m.streamed_requests)}</td>
            <td class="num">{format::count(m.errors)}</td>
            <td class="num" data-testid="tokens-in">{format::count(m.input_tokens)}</td>
            <td class="num" data-testid="tokens-out">{format::count(m.output_tokens)}</td>
            <td class="num">{format!("{:.1}", m.output_tokens_per_sec)}</td>
            <td class="num">{format!("{} / {}", format::latency(m.latency.p50_us), format::latency(m.latency.p95_us))}</td>
            <td class="num">{if m.streamed_requests == 0 { "—".to_string() } else { format!("{} / {}", format::latency(m.first_token.p50_us), format::latency(m.first_token.p95_us)) }}</td>
        }
    };
    view! {
        <tr data-testid="model-row" data-model=name.clone()>
            <th scope="row" class="mono"><a href=href>{name.clone()}</a></th>
            {cells}
        </tr>
    }
}
