//! The requests page: a live log of finished requests (newest first, coloured by status class,
//! pausable), filters kept in the query string, paging back through the history, export of the
//! current filter, and a detail view per request.

use crate::api::requests::{get_request, get_requests};
use crate::app::format;
use crate::app::page_data::PageData;
use crate::app::query_string::{encode, use_query_string};
use crate::app::resource::page_resource;
use crate::app::widgets::{EmptyState, StatusBadge};
use crate::live_feed::use_live_feed;
use crate::request_filter::RequestQuery;
use crate::views::{ExchangedHeaders, HeaderLine, RequestDetail, RequestPage, RequestRecord};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

/// The filters the page offers: query parameter, label, placeholder.
const FILTERS: [(&str, &str, &str); 9] = [
    ("status", "Status", "5xx or 404"),
    ("method", "Method", "GET"),
    ("route", "Route", "route name"),
    ("target", "Target", "http://10.0.0.5:8080"),
    ("client", "Client IP", "203.0.113.7"),
    ("path", "Path contains", "/api/"),
    ("model", "Model", "gpt-4o-mini"),
    ("since", "Since", "2026-11-25T10:00:00Z"),
    ("until", "Until", "2026-11-25T11:00:00Z"),
];

#[component]
pub fn RequestsPage() -> impl IntoView {
    let live = use_live_feed();
    let query = use_query_string();
    let page = page_resource(
        move || (query.get(), live.poll.get()),
        |(query, _)| get_requests(query),
    );
    // Paused: what had arrived live when Pause was pressed; newer requests wait.
    let paused = RwSignal::new(None::<PausedAt>);
    let toggle_pause = move |_| {
        let newest = live
            .requests
            .with_untracked(|list| list.front().map(|r| r.seq));
        paused.update(|p| {
            *p = if p.is_some() {
                None
            } else {
                Some(PausedAt(newest))
            }
        });
    };
    let export = move |format: &str| {
        let filters = filter_query(&query.get());
        if filters.is_empty() {
            format!("/api/requests?format={format}")
        } else {
            format!("/api/requests?format={format}&{filters}")
        }
    };

    view! {
        <section class="page">
            <header class="page-header">
                <h1>"Requests"</h1>
                <div class="actions">
                    <button
                        type="button"
                        class="button needs-js"
                        data-testid="pause"
                        aria-pressed=move || paused.with(Option::is_some).to_string()
                        on:click=toggle_pause
                    >
                        {move || if paused.with(Option::is_some) { "Resume" } else { "Pause" }}
                    </button>
                    <a class="button" href=move || export("csv") data-testid="export-csv" title=EXPORT_NOTE download>"Export CSV"</a>
                    <a class="button" href=move || export("json") data-testid="export-json" title=EXPORT_NOTE download>"Export JSON"</a>
                </div>
            </header>
            <FilterForm />
            <PageData data=page failed="Could not read requests" let:page>
                <RequestTable page paused />
            </PageData>
        </section>
    }
}

/// What an export holds, said where the export links are.
const EXPORT_NOTE: &str = "The newest 10 000 requests matching the filters (add limit= up to 50 000, \
or narrow the time range, for more)";

/// The query string without paging: what an export or a live match should use.
fn filter_query(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("cursor="))
        .collect::<Vec<_>>()
        .join("&")
}

/// A plain GET form: it works without JavaScript and its result is a bookmarkable URL.
#[component]
fn FilterForm() -> impl IntoView {
    let query = use_query_map();
    let fields = FILTERS
        .into_iter()
        .map(|(name, label, placeholder)| {
            let value = query.with_untracked(|q| q.get(name).unwrap_or_default());
            let id = format!("filter-{name}");
            let label_for = id.clone();
            view! {
                <label class="field" for=label_for>
                    <span>{label}</span>
                    // `value` for the server's render; the property follows the URL, so "Clear" or
                    // a link to other filters empties or changes the fields without a reload.
                    <input
                        id=id
                        name=name
                        type="text"
                        value=value
                        prop:value=move || query.with(|q| q.get(name).unwrap_or_default())
                        placeholder=placeholder
                        data-testid=format!("filter-{name}")
                    />
                </label>
            }
        })
        .collect_view();
    view! {
        <form class="filters" method="get" action="/requests" role="search" data-testid="filters">
            {fields}
            <div class="filter-actions">
                <button type="submit" class="button primary">"Apply"</button>
                <a class="button" href="/requests">"Clear"</a>
            </div>
        </form>
    }
}

/// Where the live list was paused: the `seq` of the newest live request then (`None`: none had
/// arrived yet, so every live request waits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PausedAt(Option<u64>);

impl PausedAt {
    /// Whether request `seq` had arrived when the list was paused.
    fn holds(self, seq: u64) -> bool {
        self.0.is_some_and(|newest| seq <= newest)
    }
}

#[component]
fn RequestTable(page: RequestPage, paused: RwSignal<Option<PausedAt>>) -> impl IntoView {
    let live = use_live_feed();
    let query = use_query_map();
    // The filters and the page's cursor: an older page (`cursor`) is no place for live rows.
    let filter = query.with_untracked(|q| {
        RequestQuery::from_pairs(
            FILTERS
                .iter()
                .map(|(name, _, _)| *name)
                .chain(["cursor"])
                .filter_map(|name| Some((name, q.get_str(name)?))),
        )
    });
    // Live requests join the list only on the newest page of an open-ended view.
    let follows_live = filter.before.is_none() && filter.until.is_none();
    // `None`: nothing was rendered, so every live request is new (the first request's `seq` is 0,
    // so no number can stand for "nothing").
    let newest_rendered = page.requests.first().map(|r| r.seq);
    let mounted = crate::live_feed::mounted();
    let matching_live = Memo::new(move |_| {
        if !follows_live || !mounted.get() {
            return Vec::new();
        }
        live.requests.with(|list| {
            list.iter()
                .filter(|r| {
                    newest_rendered.is_none_or(|newest| r.seq > newest) && filter.matches(r)
                })
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    // While paused the list stays as it was; newer requests are only counted.
    let shown_live = move || match paused.get() {
        Some(at) => matching_live.with(|list| {
            list.iter()
                .filter(|r| at.holds(r.seq))
                .cloned()
                .collect::<Vec<_>>()
        }),
        None => matching_live.get(),
    };
    let waiting = move || {
        paused
            .get()
            .map(|at| matching_live.with(|list| list.iter().filter(|r| !at.holds(r.seq)).count()))
    };
    // Requests the server left out of its live batches before this list was rendered are in it.
    let omitted_before = live.requests_omitted.get_untracked();
    let rendered = page.requests.clone();
    let empty = rendered.is_empty();
    let older = page.next_cursor.map(|cursor| {
        let base = query.with_untracked(|q| {
            crate::app::query_string::href("/requests", q, &[("cursor", Some(cursor.to_string()))])
        });
        view! { <a class="button" href=base data-testid="older">"Older requests →"</a> }
    });

    view! {
        <p class="muted small" role="status" data-testid="live-note">
            {move || match waiting() {
                Some(n) => format!("Paused · {n} new request{} waiting", if n == 1 { "" } else { "s" }),
                None if follows_live => "Newest first · new requests appear as they finish".to_string(),
                None => "Newest first".to_string(),
            }}
            {move || {
                let omitted = live.requests_omitted.get().saturating_sub(omitted_before);
                (follows_live && mounted.get() && omitted > 0).then(|| view! {
                    <span data-testid="live-omitted">
                        {format!(" · {} finished too fast to list live (traffic is high); all are in the history — reload to see them", format::count(omitted))}
                    </span>
                })
            }}
        </p>
        <div class="table-wrap">
            <table class="requests" data-testid="requests-table">
                <thead>
                    <tr>
                        <th scope="col">"Time (UTC)"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Method"</th>
                        <th scope="col">"Path"</th>
                        <th scope="col">"Route → target"</th>
                        <th scope="col" class="num">"Latency"</th>
                        <th scope="col" class="num">"Size"</th>
                        <th scope="col">"Client"</th>
                        <th scope="col">"Model · tokens"</th>
                        <th scope="col">"Error"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=shown_live key=|r| r.seq let:record>
                        <RequestRow record />
                    </For>
                    {rendered.into_iter().map(|record| view! { <RequestRow record /> }).collect_view()}
                </tbody>
            </table>
        </div>
        {(empty && !follows_live).then(|| view! {
            <EmptyState title="No requests match">
                <p>"Widen the filters or the time range, or " <a href="/requests">"clear them"</a> "."</p>
            </EmptyState>
        })}
        {move || (empty && follows_live && matching_live.with(Vec::is_empty)).then(|| view! {
            <p class="muted" data-testid="no-requests">
                "No requests yet. Send one through the proxy (e.g. " <code>"curl http://<proxy address>/"</code>
                ") and it appears here within a second."
            </p>
        })}
        <div class="pager">{older}</div>
    }
}

#[component]
fn RequestRow(record: RequestRecord) -> impl IntoView {
    let class = format!("row-{}", record.status_class());
    let href = format!("/requests/{}", encode(&record.request_id));
    let route = match (&record.route, &record.target) {
        (Some(route), Some(target)) => format!("{route} → {target}"),
        (Some(route), None) => route.to_string(),
        _ => "—".to_string(),
    };
    let model = record.llm.as_ref().map_or(String::new(), |llm| {
        format!(
            "{} · {} in / {} out",
            llm.model,
            llm.input_tokens.map_or("?".into(), |n| n.to_string()),
            llm.output_tokens.map_or("?".into(), |n| n.to_string())
        )
    });
    view! {
        <tr class=class data-testid="request-row" data-request-id=record.request_id.to_string() data-status=record.status>
            <td class="mono"><a href=href>{format::clock(record.at)}</a></td>
            <td><StatusBadge status=record.status /></td>
            <td class="mono">{record.method.to_string()}</td>
            <td class="mono path" title=record.path.to_string()>{record.path.to_string()}</td>
            <td class="small">{route}</td>
            <td class="num">{format::latency(record.latency_us)}</td>
            <td class="num">{format::bytes(record.bytes_out)}</td>
            <td class="mono small">{record.client.to_string()}</td>
            <td class="small">{model}</td>
            <td class="small">{record.error.as_deref().unwrap_or_default().to_string()}</td>
        </tr>
    }
}

/// One request in full.
#[component]
pub fn RequestDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let record = page_resource(move || id.get(), get_request);
    view! {
        <section class="page">
            <header class="page-header">
                <h1>"Request"</h1>
                <a class="button" href="/requests">"← All requests"</a>
            </header>
            <PageData data=record failed="Request not found" let:detail>
                <RequestDetail detail />
            </PageData>
        </section>
    }
}

#[component]
fn RequestDetail(detail: RequestDetail) -> impl IntoView {
    let RequestDetail { record, headers } = detail;
    let fact =
        |label: &'static str, value: String| view! { <div><dt>{label}</dt><dd>{value}</dd></div> };
    let optional_latency = |us: Option<u64>| us.map_or("—".to_string(), format::latency);
    let llm = record.llm.clone().map(|llm| {
        view! {
            <section class="panel">
                <header class="panel-header"><h2>"LLM"</h2></header>
                <dl class="facts">
                    {fact("Model", llm.model.clone())}
                    {fact("Input tokens", llm.input_tokens.map_or("not reported".into(), |n| n.to_string()))}
                    {fact("Output tokens", llm.output_tokens.map_or("not reported".into(), |n| n.to_string()))}
                    {fact("Streamed", if llm.streamed { "yes".into() } else { "no".into() })}
                    {fact("Time to first token", optional_latency(llm.first_token_us))}
                </dl>
            </section>
        }
    });
    view! {
        <div class="detail" data-testid="request-detail">
            <p class="detail-line">
                <StatusBadge status=record.status />
                " " <span class="mono">{record.method.to_string()} " " {record.path.to_string()}</span>
            </p>
            <section class="panel">
                <header class="panel-header"><h2>"Timings"</h2></header>
                <dl class="facts">
                    {fact("Arrived", format::date_time_millis(record.at))}
                    {fact("Total latency", format::latency(record.latency_us))}
                    {fact("Upstream, time to first byte", optional_latency(record.upstream_us))}
                    {fact("Attempts", record.attempts.to_string())}
                </dl>
            </section>
            <section class="panel">
                <header class="panel-header"><h2>"Routing"</h2></header>
                <dl class="facts">
                    {fact("Request id", record.request_id.to_string())}
                    {fact("Route", record.route.as_deref().unwrap_or("no route matched").to_string())}
                    {fact("Target", record.target.as_deref().unwrap_or("—").to_string())}
                    {fact("Error kind", record.error.as_deref().unwrap_or("none").to_string())}
                    {fact("Client", record.client.to_string())}
                    {fact("User agent", record.user_agent.as_deref().unwrap_or("—").to_string())}
                    {fact("Bytes in / out", format!("{} / {}", format::bytes(record.bytes_in), format::bytes(record.bytes_out)))}
                </dl>
            </section>
            {llm}
            <HeaderPanels headers />
        </div>
    }
}

/// The request's and the response's headers, or why they are not shown.
#[component]
fn HeaderPanels(headers: Option<ExchangedHeaders>) -> impl IntoView {
    let Some(headers) = headers else {
        return view! {
            <section class="panel" data-testid="headers-missing">
                <header class="panel-header"><h2>"Headers"</h2></header>
                <p class="muted">
                    "Headers are kept in memory for the newest requests only, and this one is older "
                    "(or header capture is off: " <code>"metrics.capture_headers"</code> ")."
                </p>
            </section>
        }
        .into_any();
    };
    let (request_omitted, response_omitted) = headers.omitted;
    view! {
        <HeaderTable title="Request headers (from the client)" lines=headers.request omitted=request_omitted testid="request-headers" />
        <HeaderTable title="Response headers (to the client)" lines=headers.response omitted=response_omitted testid="response-headers" />
    }
    .into_any()
}

#[component]
fn HeaderTable(
    title: &'static str,
    lines: Vec<HeaderLine>,
    omitted: u32,
    testid: &'static str,
) -> impl IntoView {
    view! {
        <section class="panel" data-testid=testid>
            <header class="panel-header"><h2>{title}</h2></header>
            <table class="headers">
                <tbody>
                    {lines.into_iter().map(|line| view! {
                        <tr>
                            <th scope="row" class="mono">{line.name}</th>
                            <td class="mono">
                                {line.value}
                                {line.redacted.then(|| view! { " " <span class="badge" title="Secrets are never shown">"secret"</span> })}
                            </td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            {(omitted > 0).then(|| view! { <p class="muted small">{format!("{omitted} more not kept")}</p> })}
        </section>
    }
}
