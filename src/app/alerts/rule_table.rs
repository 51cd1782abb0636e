//! Every rule, in config order: what it watches and when it fires, its value at the last
//! evaluation, its state (and for how long), silences, where it sends.

use super::active::{SeverityPill, SilencedMark};
use super::silences::{RuleSilenceControl, SilenceActions};
use super::values::{condition, lasted, metric_value, timing};
use crate::views::{AlertState, AlertView, SilenceView};
use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// A state as a pill: `inactive`, `pending`, `firing`.
#[component]
pub fn StatePill(state: AlertState) -> impl IntoView {
    view! { <span class=format!("pill alert-{}", state.as_str())>{state.as_str()}</span> }
}

#[component]
pub fn RuleTable(
    alerts: Vec<AlertView>,
    silences: Vec<SilenceView>,
    now: Memo<DateTime<Utc>>,
    admin: bool,
    actions: SilenceActions,
) -> impl IntoView {
    let rows = alerts
        .into_iter()
        .map(|alert| {
            let since = alert.since.filter(|_| alert.state != AlertState::Inactive);
            let control = admin.then(|| {
                view! {
                    <td class="needs-js">
                        <RuleSilenceControl rule=alert.rule.clone() silences=silences.clone() actions />
                    </td>
                }
            });
            let notify = if alert.notify.is_empty() {
                "—".to_string()
            } else {
                alert.notify.join(", ")
            };
            view! {
                <tr data-testid="alert-rule" data-rule=alert.rule.clone() data-state=alert.state.as_str()>
                    <th scope="row" class="mono">{alert.rule.clone()}</th>
                    <td><SeverityPill severity=alert.severity.clone() /></td>
                    <td class="mono small">{alert.metric.clone()}</td>
                    <td class="mono small">{alert.scope.clone()}</td>
                    <td class="small">
                        {condition(&alert.metric, &alert.comparison, alert.threshold)}
                        <span class="muted">" · " {timing(&alert)}</span>
                    </td>
                    <td class="num" data-testid="rule-value">{metric_value(&alert.metric, alert.value)}</td>
                    <td data-testid="rule-state">
                        <StatePill state=alert.state />
                        {since.map(|since| view! {
                            <span class="muted small">" " {move || lasted(since, now.get())}</span>
                        })}
                        " " <SilencedMark until=alert.silenced_until />
                    </td>
                    <td class="small">{notify}</td>
                    {control}
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="panel" aria-labelledby="rules-heading">
            <header class="panel-header">
                <h2 id="rules-heading">"Rules"</h2>
                <span class="muted small">"evaluated every second"</span>
            </header>
            <div class="table-wrap" tabindex="0" role="region" aria-labelledby="rules-heading">
                <table data-testid="alert-rules">
                    <thead>
                        <tr>
                            <th scope="col">"Rule"</th>
                            <th scope="col">"Severity"</th>
                            <th scope="col">"Metric"</th>
                            <th scope="col">"Scope"</th>
                            <th scope="col">"Fires when"</th>
                            <th scope="col" class="num">"Value"</th>
                            <th scope="col">"State"</th>
                            <th scope="col">"Notifies"</th>
                            {admin.then(|| view! { <th scope="col" class="needs-js">"Silence"</th> })}
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
    }
}
