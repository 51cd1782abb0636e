//! The alerts firing now, and those pending: rule, severity, scope, the value against the
//! threshold, since when and for how long (counting live), and whether they are silenced.

use super::silences::{RuleSilenceControl, SilenceActions};
use super::values::{lasted, value_vs_threshold};
use crate::app::format;
use crate::views::{AlertState, AlertView, SilenceView};
use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// A severity as a coloured pill (`critical`, `warning`, `info`; any other word plain).
#[component]
pub fn SeverityPill(severity: String) -> impl IntoView {
    let class = match severity.as_str() {
        "critical" | "warning" | "info" => format!("pill severity-{severity}"),
        _ => "pill severity-other".to_string(),
    };
    view! { <span class=class>{severity}</span> }
}

/// "silenced until 14:03:27", when it is.
#[component]
pub fn SilencedMark(until: Option<DateTime<Utc>>) -> impl IntoView {
    until.map(|until| {
        view! {
            <span class="badge silenced" data-testid="silenced" title=format::date_time(until)>
                "silenced until " {format::clock(until)}
            </span>
        }
    })
}

/// The alerts in `state` (firing or pending), or a line saying there are none.
#[component]
pub fn ActiveAlerts(
    state: AlertState,
    alerts: Vec<AlertView>,
    silences: Vec<SilenceView>,
    now: Memo<DateTime<Utc>>,
    admin: bool,
    actions: SilenceActions,
) -> impl IntoView {
    let (title, none, testid) = match state {
        AlertState::Firing => ("Firing now", "Nothing is firing.", "firing-alerts"),
        _ => ("Pending", "Nothing is pending.", "pending-alerts"),
    };
    let heading_id = format!("{testid}-heading");
    let region_label = heading_id.clone();
    let class = if state == AlertState::Firing && !alerts.is_empty() {
        "panel alerts-firing"
    } else {
        "panel"
    };
    let body = if alerts.is_empty() {
        view! { <p class="muted small" data-testid=format!("no-{testid}")>{none}</p> }.into_any()
    } else {
        let rows = alerts
            .into_iter()
            .map(|alert| {
                let since = alert.since;
                let control = admin.then(|| {
                    view! {
                        <td class="needs-js">
                            <RuleSilenceControl rule=alert.rule.clone() silences=silences.clone() actions />
                        </td>
                    }
                });
                view! {
                    <tr
                        data-testid=format!("{}-alert", state.as_str())
                        data-rule=alert.rule.clone()
                        data-silenced=alert.silenced_until.is_some().to_string()
                    >
                        <th scope="row" class="mono">{alert.rule.clone()}</th>
                        <td><SeverityPill severity=alert.severity.clone() /></td>
                        <td class="mono small">{alert.scope.clone()}</td>
                        <td class="num" data-testid="alert-value">{value_vs_threshold(&alert)}</td>
                        <td title=since.map(format::date_time).unwrap_or_default()>
                            {since.map(format::clock).unwrap_or_else(|| "—".to_string())}
                        </td>
                        <td class="num" data-testid="alert-for">
                            {move || since.map_or_else(|| "—".to_string(), |since| lasted(since, now.get()))}
                        </td>
                        <td><SilencedMark until=alert.silenced_until /></td>
                        {control}
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="table-wrap" tabindex="0" role="region" aria-labelledby=region_label>
                <table data-testid=testid>
                    <thead>
                        <tr>
                            <th scope="col">"Rule"</th>
                            <th scope="col">"Severity"</th>
                            <th scope="col">"Scope"</th>
                            <th scope="col" class="num">"Value vs threshold"</th>
                            <th scope="col">"Since"</th>
                            <th scope="col" class="num">"For"</th>
                            <th scope="col">"Silenced"</th>
                            {admin.then(|| view! { <th scope="col" class="needs-js">"Silence"</th> })}
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <section class=class aria-labelledby=heading_id.clone()>
            <header class="panel-header"><h2 id=heading_id.clone()>{title}</h2></header>
            {body}
        </section>
    }
}
