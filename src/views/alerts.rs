//! Alerts as the API, the live socket and the pages see them: each rule's current state and
//! value, silences, notifiers' delivery counts, and the state changes kept in the history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where an alert is in its life, as in Prometheus.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The condition is false (or there is no data).
    #[default]
    Inactive,
    /// The condition is true, for less than the rule's `for_s` so far.
    Pending,
    /// The condition has been true for `for_s`: notifications went out.
    Firing,
    /// A firing alert whose condition has been false for `resolve_for_s` (a change only; the
    /// rule is inactive again afterwards).
    Resolved,
}

impl AlertState {
    /// The lowercase name (`firing`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inactive => "inactive",
            Self::Pending => "pending",
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }
}

/// One rule and how it stands now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    /// The rule's name (unique).
    pub rule: String,
    /// What it watches (`error_rate`, `latency_p95_ms`, …).
    pub metric: String,
    /// Over what: `gateway`, `route api`, `target http://10.0.0.5:9000`, `model gpt-4o`.
    pub scope: String,
    /// The route named by the scope, if any (silences by route match it).
    pub route: Option<String>,
    /// `critical`, `warning`, `info` or any word the rule gives.
    pub severity: String,
    /// `above` or `below`.
    pub comparison: String,
    pub threshold: f64,
    /// The metric's value at the last evaluation; `None`: no data (e.g. no requests in the
    /// window for a ratio), which never fires.
    pub value: Option<f64>,
    /// `inactive`, `pending` or `firing`.
    pub state: AlertState,
    /// Since when it has been pending or firing.
    pub since: Option<DateTime<Utc>>,
    pub for_s: u64,
    pub resolve_for_s: u64,
    pub window_s: u64,
    /// Notifiers it sends to.
    pub notify: Vec<String>,
    /// Silenced until then (still evaluated and shown, nothing sent).
    pub silenced_until: Option<DateTime<Utc>>,
}

/// A silence: a rule, or every rule of a route, sends nothing until `until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceView {
    pub id: u64,
    /// The rule silenced, or `None` when `route` is.
    pub rule: Option<String>,
    /// Every rule scoped to this route (its targets included) is silenced.
    pub route: Option<String>,
    pub created_at: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Who created it.
    pub created_by: String,
    pub comment: String,
}

/// `POST /api/alerts/silences`: what to silence and for how long.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    /// A rule's name; exactly one of `rule` and `route`.
    #[serde(default)]
    pub rule: Option<String>,
    /// A route's name: every rule scoped to it.
    #[serde(default)]
    pub route: Option<String>,
    /// How long, in seconds (60 s to 30 days).
    pub duration_s: u64,
    #[serde(default)]
    pub comment: Option<String>,
}

/// A notifier and how its deliveries went since start.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifierView {
    pub name: String,
    /// `webhook`, `slack` or `alertmanager`.
    pub kind: String,
    /// Notifications delivered (a 2xx answer).
    pub delivered: u64,
    /// Notifications given up on after every retry.
    pub failed: u64,
    /// Notifications dropped because its queue was full.
    pub dropped: u64,
    /// The newest failure's reason (an attempt's, even when a retry then succeeded).
    pub last_error: Option<String>,
    pub last_delivered_at: Option<DateTime<Utc>>,
}

/// `GET /api/alerts`: every rule with its state, the silences in force, the notifiers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertsSnapshot {
    pub generated_at: Option<DateTime<Utc>>,
    /// Every rule, in config order.
    pub alerts: Vec<AlertView>,
    pub silences: Vec<SilenceView>,
    pub notifiers: Vec<NotifierView>,
    /// How long the newest evaluation of every rule took, in microseconds.
    #[serde(default)]
    pub evaluation_us: u64,
}

impl AlertsSnapshot {
    /// Alerts firing now (silenced ones included).
    pub fn firing(&self) -> usize {
        self.alerts
            .iter()
            .filter(|alert| alert.state == AlertState::Firing)
            .count()
    }
}

/// Where an alert began firing: what the overview's request-rate chart marks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertStart {
    pub rule: String,
    pub at: DateTime<Utc>,
}

impl AlertStart {
    /// The start a firing change reports; none for any other change.
    pub fn of(change: &AlertChange) -> Option<Self> {
        (change.state == AlertState::Firing).then(|| Self {
            rule: change.rule.clone(),
            at: change.started_at.unwrap_or(change.at),
        })
    }
}

/// One state change of an alert: pushed live as it happens (`type: "alert"`), stored in the
/// history, and the substance of every notification.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertChange {
    /// Its id in the history (0 as pushed live: it is stored just after).
    pub id: u64,
    pub rule: String,
    pub metric: String,
    pub scope: String,
    pub route: Option<String>,
    pub severity: String,
    /// The state entered: `pending`, `firing`, `resolved`, or `inactive` (a pending alert whose
    /// condition went false before `for_s`).
    pub state: AlertState,
    pub comparison: String,
    pub threshold: f64,
    /// The value that caused the change.
    pub value: Option<f64>,
    /// When the change happened.
    pub at: DateTime<Utc>,
    /// When the alert began firing (for `firing` and `resolved`).
    pub started_at: Option<DateTime<Utc>>,
    /// Silenced when it changed: nothing was sent.
    pub silenced: bool,
    /// Alerts firing after this change (the nav badge's count).
    pub firing_now: usize,
}

/// `GET /api/alerts/history`: state changes, newest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertHistoryPage {
    pub entries: Vec<AlertChange>,
    /// Pass as `cursor` for the next (older) page; `None` at the end.
    pub next_cursor: Option<u64>,
}

/// `POST /api/alerts/test?notifier=NAME`: how the test notification went.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationOutcome {
    pub notifier: String,
    pub delivered: bool,
    /// Attempts made (retries included).
    pub attempts: u32,
    /// The last answer's status, if one came.
    pub status: Option<u16>,
    /// Why it failed (the last attempt's reason).
    pub error: Option<String>,
}
