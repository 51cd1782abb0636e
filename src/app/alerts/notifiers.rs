//! The notifiers and how their deliveries went since the gateway started (failed and dropped
//! notifications are counted here, the reason of the newest failure shown).

use crate::app::format;
use crate::views::NotifierView;
use leptos::prelude::*;

#[component]
pub fn Notifiers(notifiers: Vec<NotifierView>) -> impl IntoView {
    (!notifiers.is_empty()).then(|| {
        let rows = notifiers
            .into_iter()
            .map(|n| {
                let trouble = n.failed > 0 || n.dropped > 0;
                view! {
                    <tr data-testid="notifier" data-notifier=n.name.clone()>
                        <th scope="row" class="mono">{n.name.clone()}</th>
                        <td>{n.kind.clone()}</td>
                        <td class="num">{format::count(n.delivered)}</td>
                        <td class="num" class:error=trouble>{format::count(n.failed)}</td>
                        <td class="num" class:error=trouble>{format::count(n.dropped)}</td>
                        <td>{n.last_delivered_at.map_or_else(|| "—".to_string(), format::date_time)}</td>
                        <td class="small wrap">{n.last_error.clone().unwrap_or_else(|| "—".to_string())}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <section class="panel" aria-labelledby="notifiers-heading">
                <header class="panel-header"><h2 id="notifiers-heading">"Notifiers"</h2></header>
                <div class="table-wrap" tabindex="0" role="region" aria-labelledby="notifiers-heading">
                    <table data-testid="notifiers">
                        <thead>
                            <tr>
                                <th scope="col">"Notifier"</th>
                                <th scope="col">"Kind"</th>
                                <th scope="col" class="num">"Delivered"</th>
                                <th scope="col" class="num">"Failed"</th>
                                <th scope="col" class="num">"Dropped"</th>
                                <th scope="col">"Last delivered"</th>
                                <th scope="col">"Last error"</th>
                            </tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            </section>
        }
    })
}
