//! Alerts: what fires now (rule, scope, value against threshold, for how long), what is
//! pending, what is silenced; every rule with its current value and state; a timeline of the
//! alerts of the chosen range (`?range=`); silences, which admins create and end here; the
//! notifiers' deliveries. Rendered with the page's read and read again whenever an alert
//! changes state later (pushed as an `alert` event), so the page is current without a reload.
//!
//! Its parts: [`range`] in the header; [`active`] (firing and pending), [`timeline`] (drawing
//! [`episodes`]), [`rule_table`], [`silences`] (the admin controls too) and [`notifiers`] below;
//! numbers written by [`values`]. The navigation's badge is [`nav_badge`].
//!
//! The page is read again (never patched) when it is older than what the live feed knows: an
//! alert change pushed after its read.

mod active;
mod episodes;
pub mod nav_badge;
mod notifiers;
mod range;
mod rule_table;
mod silences;
mod timeline;
mod values;

use crate::api::alerts::{get_alert_history, get_alerts};
use crate::app::page_data::PageData;
use crate::app::resource::page_resource;
use crate::app::session::use_session;
use crate::app::widgets::{EmptyState, ErrorNote};
use crate::live_feed::{FiringCount, mounted, use_live_feed};
use crate::views::{AlertHistoryPage, AlertState, AlertsSnapshot};
use active::ActiveAlerts;
use chrono::{DateTime, TimeDelta, Utc};
use leptos::prelude::*;
use notifiers::Notifiers;
use range::{AlertRange, AlertRangePicker, use_alert_range};
use rule_table::RuleTable;
use serde::{Deserialize, Serialize};
use silences::{SilenceActions, Silences};
use timeline::Timeline;

/// Most history entries the timeline reads for its range.
const HISTORY_LIMIT: usize = 1_000;

/// What the page reads: the rules' state now and the changes within the range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct AlertsReading {
    snapshot: AlertsSnapshot,
    /// The changes since `since`, newest first; an error note if they could not be read (the
    /// rest of the page still shows).
    history: Result<AlertHistoryPage, String>,
    range: AlertRange,
    /// The start of the range, by the server's clock.
    since: Option<DateTime<Utc>>,
}

async fn read_alerts(range: AlertRange) -> Result<AlertsReading, ServerFnError> {
    let snapshot = get_alerts().await?;
    let since = snapshot
        .generated_at
        .map(|now| now - TimeDelta::seconds(range.seconds()));
    let query = match since {
        Some(since) => format!("since={}&limit={HISTORY_LIMIT}", since.timestamp()),
        None => format!("limit={HISTORY_LIMIT}"),
    };
    let history = get_alert_history(query)
        .await
        .map_err(|error| error.to_string());
    Ok(AlertsReading {
        snapshot,
        history,
        range,
        since,
    })
}

#[component]
pub fn AlertsPage() -> impl IntoView {
    let live = use_live_feed();
    let range = use_alert_range();
    let actions = SilenceActions::for_page();
    // Bumped once the page is on screen whenever what it shows is older than an alert change
    // known since: it then reads states, values and the timeline again, together.
    let stale = RwSignal::new(0u64);
    let reading = page_resource(
        move || (range.get(), live.poll.get(), stale.get(), actions.version()),
        |(range, ..)| read_alerts(range),
    );
    let session = use_session();
    view! {
        <section class="page">
            <header class="page-header">
                <h1>"Alerts"</h1>
                <AlertRangePicker />
            </header>
            <PageData data=session failed="Could not read who is signed in" let:session>
                <PageData data=reading failed="Could not read the alerts" let:reading>
                    <AlertsBody reading admin=session.can_write() actions stale />
                </PageData>
            </PageData>
        </section>
    }
}

/// The time durations are counted to: the page's read until it is on screen, then the newer of
/// that and the uptime ticks pushed every second.
fn clock(rendered: DateTime<Utc>) -> Memo<DateTime<Utc>> {
    let live = use_live_feed();
    let mounted = mounted();
    Memo::new(move |_| {
        let tick = mounted
            .get()
            .then(|| live.last_tick.get().map(|tick| tick.at))
            .flatten();
        tick.map_or(rendered, |tick| tick.max(rendered))
    })
}

/// In the browser, once the page is on screen: gives the page's count of firing alerts to the
/// navigation's badge (the newer count wins there), and bumps `stale` whenever an alert change
/// newer than the page's read (of `read_at`) is pushed — pushed before the page was hydrated
/// too — or a newer uptime tick counts another number firing (a change made between the page's
/// read and the socket's subscription, which no push carries).
fn follow_the_feed(read_at: DateTime<Utc>, firing: usize, stale: RwSignal<u64>) {
    let live = use_live_feed();
    Effect::new(move |_| {
        live.note_firing(FiringCount {
            at: read_at,
            count: firing,
        });
    });
    Effect::new(move |_| {
        let pushed_since = live
            .alerts
            .with(|list| list.front().is_some_and(|change| change.at > read_at));
        if pushed_since {
            stale.update(|n| *n += 1);
        }
    });
    Effect::new(move |_| {
        let counted_otherwise = live.last_tick.with(|tick| {
            tick.as_ref()
                .is_some_and(|tick| tick.at > read_at && tick.alerts_firing != firing)
        });
        if counted_otherwise {
            stale.update(|n| *n += 1);
        }
    });
}

#[component]
fn AlertsBody(
    reading: AlertsReading,
    admin: bool,
    actions: SilenceActions,
    stale: RwSignal<u64>,
) -> impl IntoView {
    let AlertsReading {
        snapshot,
        history,
        range,
        since,
    } = reading;
    let read_at = snapshot.generated_at.unwrap_or_default();
    follow_the_feed(read_at, snapshot.firing(), stale);
    let now = clock(read_at);
    if snapshot.alerts.is_empty() {
        return view! {
            <EmptyState title="No alert rules">
                <p>"Add rules under " <code>"alerts.rules"</code> " in " <code>"config.json"</code>
                " (for example " <code>"{\"name\": \"api-errors\", \"metric\": \"error_rate\", \"route\": \"api\", \"above\": 0.05}"</code>
                "); a saved change is applied without a restart, and the rules show here with their values."</p>
            </EmptyState>
            <Notifiers notifiers=snapshot.notifiers />
        }
        .into_any();
    }
    let of_state = |state: AlertState| {
        snapshot
            .alerts
            .iter()
            .filter(|a| a.state == state)
            .cloned()
            .collect::<Vec<_>>()
    };
    let firing = of_state(AlertState::Firing);
    let pending = of_state(AlertState::Pending);
    let silenced = snapshot
        .alerts
        .iter()
        .filter(|a| a.silenced_until.is_some())
        .count();
    let (firing_count, pending_count) = (firing.len(), pending.len());
    view! {
        <SilenceError actions />
        <div class="cards">
            {count_card("Firing", "alerts-firing", firing_count, "bad")}
            {count_card("Pending", "alerts-pending", pending_count, "warn")}
            {count_card("Silenced", "alerts-silenced", silenced, "")}
            {count_card("Rules", "alerts-rules", snapshot.alerts.len(), "")}
        </div>
        <ActiveAlerts state=AlertState::Firing alerts=firing silences=snapshot.silences.clone() now admin actions />
        <ActiveAlerts state=AlertState::Pending alerts=pending silences=snapshot.silences.clone() now admin actions />
        <Timeline history range since now firing=snapshot.alerts.clone() />
        <RuleTable alerts=snapshot.alerts.clone() silences=snapshot.silences.clone() now admin actions />
        <Silences silences=snapshot.silences alerts=snapshot.alerts admin actions />
        <Notifiers notifiers=snapshot.notifiers />
    }
    .into_any()
}

/// A count as a card, tinted `tone` when not 0. Static (the page is read again on a change), so
/// plainer than [`StatCard`](crate::app::widgets::StatCard), whose live values it does not need.
fn count_card(
    label: &'static str,
    testid: &'static str,
    count: usize,
    tone: &'static str,
) -> impl IntoView {
    let class = if count > 0 && !tone.is_empty() {
        format!("card stat tone-{tone}")
    } else {
        "card stat".to_string()
    };
    view! {
        <article class=class>
            <h2 class="card-label">{label}</h2>
            <p class="card-value" data-testid=testid>{count}</p>
        </article>
    }
}

/// Why the last silence or unsilence failed (a viewer's attempt, a rule gone meanwhile).
#[component]
fn SilenceError(actions: SilenceActions) -> impl IntoView {
    move || {
        actions
            .error()
            .map(|error| view! { <ErrorNote what="Could not change the silence" error /> })
    }
}
