//! Models: LLM traffic per model (requests, tokens in/out, tokens/s, latency, time to first
//! token) and which targets served which model.

use crate::api::traffic::get_models;
use crate::app::format;
use crate::app::resource::page_resource;
use crate::app::widgets::{EmptyState, ErrorNote, loading};
use crate::live::use_live_feed;
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
            <Transition fallback=loading>
                {move || Suspend::new(async move {
                    match models.await {
                        Ok(models) if models.is_empty() => view! {
                            <EmptyState title="No LLM traffic yet">
                                <p>"Mark a route that fronts an OpenAI-compatible or Anthropic API with "
                                <code>"\"llm\": true"</code> " in " <code>"config.json"</code>
                                "; its models and token use show up here as requests pass."</p>
                            </EmptyState>
                        }.into_any(),
                        Ok(models) => view! { <ModelTables models /> }.into_any(),
                        Err(error) => view! { <ErrorNote what="Could not read the models" error=error.to_string() /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ModelTables(models: Vec<ModelView>) -> impl IntoView {
    let targets: BTreeSet<String> = models
        .iter()
        .flat_map(|m| m.targets.keys().cloned())
        .collect();
    let matrix_head = targets
        .iter()
        .map(|t| view! { <th scope="col" class="num mono">{t.clone()}</th> })
        .collect_view();
    let matrix_rows = models
        .iter()
        .map(|m| {
            let cells = targets
                .iter()
                .map(|t| view! { <td class="num">{m.targets.get(t).map_or("—".to_string(), |n| format::count(*n))}</td> })
                .collect_view();
            view! { <tr><th scope="row" class="mono">{m.model.clone()}</th>{cells}</tr> }
        })
        .collect_view();
    let rows = models
        .iter()
        .map(|m| {
            let href = format!("/requests?model={}", crate::app::query::encode(&m.model));
            view! {
                <tr data-testid="model-row" data-model=m.model.clone()>
                    <th scope="row" class="mono"><a href=href>{m.model.clone()}</a></th>
                    <td class="num">{format::count(m.requests)}</td>
                    <td class="num">{format::count(m.streamed_requests)}</td>
                    <td class="num">{format::count(m.errors)}</td>
                    <td class="num" data-testid="tokens-in">{format::count(m.input_tokens)}</td>
                    <td class="num" data-testid="tokens-out">{format::count(m.output_tokens)}</td>
                    <td class="num">{format!("{:.1}", m.output_tokens_per_sec)}</td>
                    <td class="num">{format!("{} / {}", format::latency(m.latency.p50_us), format::latency(m.latency.p95_us))}</td>
                    <td class="num">{if m.streamed_requests == 0 { "—".to_string() } else { format!("{} / {}", format::latency(m.first_token.p50_us), format::latency(m.first_token.p95_us)) }}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
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
                <tbody>{rows}</tbody>
            </table>
        </div>
        <section class="panel">
            <header class="panel-header"><h2>"Requests by model and target"</h2></header>
            <div class="table-wrap">
                <table data-testid="model-matrix">
                    <thead><tr><th scope="col">"Model"</th>{matrix_head}</tr></thead>
                    <tbody>{matrix_rows}</tbody>
                </table>
            </div>
        </section>
    }
}
