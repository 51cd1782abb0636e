//! Alerts: threshold rules over the live metrics, evaluated once a second off the proxy path,
//! with Prometheus-style states (inactive → pending → firing → resolved), silences, a history of
//! every state change in SQLite, and notifications when an alert fires and when it resolves.
//!
//! - [`window`]: the per-second request counts of the scopes rules watch (kept by the metrics
//!   engine, the one place requests are counted);
//! - [`lifecycle`]: one alert's state machine, with time passed in;
//! - [`evaluate`]: a rule's value from the engine's windows and the gateway's gauges;
//! - [`store`]: state changes and silences in the history's SQLite file;
//! - [`notify`]: per-notifier queues and delivery (webhook, Slack, Alertmanager) with retries;
//! - [`Alerts`] (here): the rules in force, their states and silences, and the 1 Hz evaluation.

pub mod evaluate;
pub mod lifecycle;
pub mod notify;
pub mod store;
pub mod window;

use crate::server::config::{AlertRule, AlertsConfig, NotifierKind};
use crate::server::metrics::engine::MetricsEngine;
use crate::views::{
    AlertChange, AlertState, AlertView, AlertsSnapshot, NewSilence, NotificationOutcome, RouteView,
    SilenceView, SystemStats,
};
use chrono::{DateTime, TimeDelta, Utc};
use evaluate::{ResourceSeconds, Sources};
use lifecycle::{Phase, Timing};
use notify::Notifications;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::time::Duration;
use store::AlertStore;

/// How often a firing alert is sent again to Alertmanager notifiers (which expire an alert not
/// heard of within their `resolve_timeout`, 5 minutes by default).
pub const ALERTMANAGER_RESEND: TimeDelta = TimeDelta::seconds(60);
/// The shortest and longest silence.
pub const SILENCE_RANGE_S: (u64, u64) = (60, 30 * 86_400);
/// State changes waiting to be stored, at most (beyond it they are logged and dropped).
const STORE_QUEUE: usize = 1_024;
/// How often old history is deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3_600);

/// One rule and where its alert is.
#[derive(Debug)]
struct Tracked {
    rule: AlertRule,
    phase: Phase,
    value: Option<f64>,
    /// Its firing was sent to its notifiers (not while silenced): its resolve will be too.
    notified: bool,
    /// When it was last sent to Alertmanager notifiers.
    resent_at: Option<DateTime<Utc>>,
}

impl Tracked {
    fn new(rule: AlertRule) -> Self {
        Self {
            rule,
            phase: Phase::Inactive,
            value: None,
            notified: false,
            resent_at: None,
        }
    }

    fn change(&self, state: AlertState, at: DateTime<Utc>) -> AlertChange {
        let rule = &self.rule;
        AlertChange {
            id: 0,
            rule: rule.name.clone(),
            metric: rule.metric.as_str().to_string(),
            scope: rule.scope.label(),
            route: rule.scope.route().map(str::to_string),
            severity: rule.severity.clone(),
            state,
            comparison: rule.comparison.as_str().to_string(),
            threshold: rule.threshold,
            value: self.value,
            at,
            started_at: None,
            silenced: false,
            firing_now: 0,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    tracked: Vec<Tracked>,
    silences: Vec<SilenceView>,
    resources: ResourceSeconds,
}

impl State {
    fn silenced_until(&self, rule: &AlertRule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.silences
            .iter()
            .filter(|silence| silence.until > now)
            .filter(|silence| {
                silence.rule.as_deref() == Some(rule.name.as_str())
                    || (silence.route.is_some() && silence.route.as_deref() == rule.scope.route())
            })
            .map(|silence| silence.until)
            .max()
    }

    fn firing(&self) -> usize {
        self.tracked
            .iter()
            .filter(|tracked| matches!(tracked.phase, Phase::Firing { .. }))
            .count()
    }
}

/// The gauges an evaluation reads besides the requests (gathered by the recorder's 1 Hz tick).
pub struct Gauges<'a> {
    pub routes: &'a [RouteView],
    pub system: &'a SystemStats,
    pub history_rows_dropped: u64,
    /// Days until the soonest served certificate expires.
    pub certificate_days: Option<f64>,
}

/// See the module docs.
pub struct Alerts {
    state: Mutex<State>,
    store: Arc<AlertStore>,
    /// To the thread that stores changes (SQLite writes never run on the evaluating task).
    writes: mpsc::SyncSender<Vec<AlertChange>>,
    notifications: Arc<Notifications>,
    /// How long the newest evaluation took, in microseconds.
    evaluation_us: AtomicU64,
}

impl Alerts {
    /// The alerts of `config`, their history in the SQLite file at `store_path`; links in
    /// notifications point at `dashboard_url`. Nothing runs until [`Alerts::start`].
    pub fn new(config: &AlertsConfig, store_path: &Path, dashboard_url: String) -> Self {
        let store = Arc::new(AlertStore::new(store_path));
        let (writes, queued) = mpsc::sync_channel(STORE_QUEUE);
        let writer = store.clone();
        let retention = config.retention;
        let spawned = std::thread::Builder::new()
            .name("gatewatch-alert-store".into())
            .spawn(move || store_changes(&writer, &queued, retention));
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start the alert history's writer: alert changes are not stored");
        }
        Self {
            state: Mutex::new(State {
                tracked: config.rules.iter().cloned().map(Tracked::new).collect(),
                ..State::default()
            }),
            store,
            writes,
            notifications: Arc::new(Notifications::new(dashboard_url)),
            evaluation_us: AtomicU64::new(0),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the notifiers of `config` and picks up where the stored history left off: the
    /// silences in force, and alerts that were firing when the gateway stopped (they fire on,
    /// and resolve with a notification, if their rule still exists). Blocks on the store briefly.
    pub fn start(&self, config: &AlertsConfig) {
        self.notifications.configure(&config.notifiers);
        let now = Utc::now();
        let silences = self.store.active_silences(now);
        let open = self.store.open_episodes();
        let mut state = self.state();
        match silences {
            Ok(silences) => state.silences = silences,
            Err(error) => tracing::warn!(%error, "cannot read the alert silences"),
        }
        match open {
            Ok(open) => {
                for change in open {
                    let Some(tracked) = state.tracked.iter_mut().find(|tracked| {
                        tracked.rule.name == change.rule
                            && tracked.rule.scope.label() == change.scope
                            && tracked.rule.metric.as_str() == change.metric
                    }) else {
                        continue;
                    };
                    tracked.phase = Phase::Firing {
                        since: change.started_at.unwrap_or(change.at),
                        clear_since: None,
                    };
                    tracked.value = change.value;
                    tracked.notified = !change.silenced;
                }
            }
            Err(error) => tracing::warn!(%error, "cannot read the alerts firing at the last stop"),
        }
    }

    /// Puts new rules and notifiers in force. An alert whose rule is unchanged keeps its state;
    /// one whose rule changed starts over, and if it was firing its receivers are told it
    /// resolved (as for a rule removed). Returns those changes.
    pub fn apply(&self, config: &AlertsConfig) -> Vec<AlertChange> {
        self.notifications.configure(&config.notifiers);
        let now = to_micros(Utc::now());
        let mut state = self.state();
        let mut old = std::mem::take(&mut state.tracked);
        let mut tracked = Vec::with_capacity(config.rules.len());
        for rule in &config.rules {
            match old.iter().position(|kept| &kept.rule == rule) {
                Some(index) => tracked.push(old.swap_remove(index)),
                None => tracked.push(Tracked::new(rule.clone())),
            }
        }
        state.tracked = tracked;
        let mut changes = Vec::new();
        for gone in old {
            if let Phase::Firing { since, .. } = gone.phase {
                let mut change = gone.change(AlertState::Resolved, now);
                change.started_at = Some(since);
                change.value = None;
                if gone.notified {
                    self.notify(&gone.rule, &change);
                }
                changes.push(change);
            }
        }
        let firing = state.firing();
        drop(state);
        for change in &mut changes {
            change.firing_now = firing;
        }
        self.store_changes(&changes);
        changes
    }

    /// One evaluation at `now`: every rule's value, state changes, notifications due. Returns
    /// the changes (already queued for the history) for the live feed.
    pub fn evaluate(
        &self,
        now: DateTime<Utc>,
        metrics: &MetricsEngine,
        gauges: &Gauges<'_>,
    ) -> Vec<AlertChange> {
        let started = std::time::Instant::now();
        // The history keeps microseconds: what is pushed live reads the same as what is stored.
        let now = to_micros(now);
        let mut state = self.state();
        let memory_percent = if gauges.system.host_memory_total_bytes == 0 {
            0.0
        } else {
            gauges.system.host_memory_used_bytes as f64 * 100.0
                / gauges.system.host_memory_total_bytes as f64
        };
        state.resources.push(
            f64::from(gauges.system.process_cpu_percent),
            memory_percent,
            gauges.history_rows_dropped,
        );
        state.silences.retain(|silence| silence.until > now);
        let State {
            tracked, resources, ..
        } = &mut *state;
        metrics.with_alert_windows(|windows| {
            let sources = Sources {
                windows,
                routes: gauges.routes,
                resources,
                certificate_days: gauges.certificate_days,
            };
            for alert in tracked.iter_mut() {
                alert.value = evaluate::value(&alert.rule, &sources);
            }
        });
        let mut changes = Vec::new();
        for index in 0..state.tracked.len() {
            let silenced = state
                .silenced_until(&state.tracked[index].rule, now)
                .is_some();
            let alert = &mut state.tracked[index];
            let rule = &alert.rule;
            let holds = alert
                .value
                .is_some_and(|value| rule.comparison.holds(value, rule.threshold));
            let timing = Timing {
                for_s: rule.for_s,
                resolve_for_s: rule.resolve_for_s,
            };
            if let Some(step) = alert.phase.step(now, holds, timing) {
                let mut change = alert.change(step.entered, now);
                change.started_at = step.started_at;
                change.silenced = silenced;
                match step.entered {
                    AlertState::Firing if !silenced => {
                        alert.notified = true;
                        alert.resent_at = Some(now);
                        self.notify(&alert.rule, &change);
                    }
                    AlertState::Resolved if alert.notified => {
                        alert.notified = false;
                        self.notify(&alert.rule, &change);
                    }
                    // Pending, back to inactive, silenced: nothing is sent.
                    _ => {}
                }
                changes.push(change);
            } else if let Phase::Firing { since, .. } = alert.phase
                && !silenced
            {
                let mut firing = alert.change(AlertState::Firing, now);
                firing.started_at = Some(since);
                if !alert.notified {
                    // Its silence ended while it still fires.
                    alert.notified = true;
                    alert.resent_at = Some(now);
                    self.notify(&alert.rule, &firing);
                } else if alert
                    .resent_at
                    .is_none_or(|sent| now - sent >= ALERTMANAGER_RESEND)
                {
                    alert.resent_at = Some(now);
                    for name in &alert.rule.notify {
                        if self.notifications.kind(name) == Some(NotifierKind::Alertmanager) {
                            self.notifications.send(name, &firing);
                        }
                    }
                }
            }
        }
        let firing = state.firing();
        drop(state);
        for change in &mut changes {
            change.firing_now = firing;
        }
        self.store_changes(&changes);
        let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.evaluation_us.store(took, Ordering::Relaxed);
        changes
    }

    /// How long the newest evaluation took.
    pub fn evaluation_time(&self) -> Duration {
        Duration::from_micros(self.evaluation_us.load(Ordering::Relaxed))
    }

    fn notify(&self, rule: &AlertRule, change: &AlertChange) {
        for name in &rule.notify {
            self.notifications.send(name, change);
        }
    }

    fn store_changes(&self, changes: &[AlertChange]) {
        if changes.is_empty() {
            return;
        }
        if self.writes.try_send(changes.to_vec()).is_err() {
            tracing::warn!(
                changes = changes.len(),
                "alert history writer behind: state changes not stored"
            );
        }
    }

    /// Every rule with its state, the silences in force, the notifiers.
    pub fn snapshot(&self) -> AlertsSnapshot {
        let now = Utc::now();
        let state = self.state();
        let alerts = state
            .tracked
            .iter()
            .map(|tracked| {
                let rule = &tracked.rule;
                AlertView {
                    rule: rule.name.clone(),
                    metric: rule.metric.as_str().to_string(),
                    scope: rule.scope.label(),
                    route: rule.scope.route().map(str::to_string),
                    severity: rule.severity.clone(),
                    comparison: rule.comparison.as_str().to_string(),
                    threshold: rule.threshold,
                    value: tracked.value,
                    state: tracked.phase.state(),
                    since: tracked.phase.since(),
                    for_s: rule.for_s,
                    resolve_for_s: rule.resolve_for_s,
                    window_s: rule.window_s,
                    notify: rule.notify.clone(),
                    silenced_until: state.silenced_until(rule, now),
                }
            })
            .collect();
        let silences = state
            .silences
            .iter()
            .filter(|silence| silence.until > now)
            .cloned()
            .collect();
        drop(state);
        AlertsSnapshot {
            generated_at: Some(now),
            alerts,
            silences,
            notifiers: self.notifications.views(),
            evaluation_us: self.evaluation_us.load(Ordering::Relaxed),
        }
    }

    /// How many alerts fire now.
    pub fn firing_count(&self) -> usize {
        self.state()
            .tracked
            .iter()
            .filter(|tracked| matches!(tracked.phase, Phase::Firing { .. }))
            .count()
    }

    /// Firing alerts by rule and severity (all rules, firing or not), for `/metrics`.
    pub fn firing_by_rule(&self) -> Vec<(String, String, bool)> {
        self.state()
            .tracked
            .iter()
            .map(|tracked| {
                (
                    tracked.rule.name.clone(),
                    tracked.rule.severity.clone(),
                    matches!(tracked.phase, Phase::Firing { .. }),
                )
            })
            .collect()
    }

    /// Starts a silence of a rule or a route (checked by the caller to exist) by `by`, stored
    /// first. Blocks on the store: call from `spawn_blocking`.
    pub fn silence(&self, new: NewSilence, by: &str) -> Result<SilenceView, String> {
        let (min, max) = SILENCE_RANGE_S;
        if !(min..=max).contains(&new.duration_s) {
            return Err(format!(
                "duration_s: must be from {min} to {max} seconds, got {}",
                new.duration_s
            ));
        }
        let now = Utc::now();
        let mut silence = SilenceView {
            id: 0,
            rule: new.rule,
            route: new.route,
            created_at: now,
            until: now + TimeDelta::seconds(new.duration_s as i64),
            created_by: by.to_string(),
            comment: new.comment.unwrap_or_default(),
        };
        silence.id = self.store.add_silence(&silence)?;
        self.state().silences.push(silence.clone());
        Ok(silence)
    }

    /// Ends silence `id`; `Ok(None)` if none such is in force. Blocks on the store.
    pub fn end_silence(&self, id: u64) -> Result<Option<SilenceView>, String> {
        let now = Utc::now();
        let Some(silence) = self
            .state()
            .silences
            .iter()
            .find(|silence| silence.id == id && silence.until > now)
            .cloned()
        else {
            return Ok(None);
        };
        self.store.end_silence(id, now)?;
        self.state().silences.retain(|silence| silence.id != id);
        Ok(Some(silence))
    }

    /// The names of the rules, in order.
    pub fn rule_names(&self) -> Vec<String> {
        self.state()
            .tracked
            .iter()
            .map(|tracked| tracked.rule.name.clone())
            .collect()
    }

    /// The store of state changes (for the history API).
    pub fn store(&self) -> &Arc<AlertStore> {
        &self.store
    }

    /// Sends a test notification through notifier `name`; `None` if there is none such.
    pub async fn test(&self, name: &str) -> Option<NotificationOutcome> {
        self.notifications.test(name).await
    }
}

/// `at` to whole microseconds, the history's precision.
fn to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// The alert history's writer: stores each batch of changes, and deletes old ones every
/// [`PRUNE_EVERY`], until the engine is dropped.
fn store_changes(
    store: &AlertStore,
    queued: &mpsc::Receiver<Vec<AlertChange>>,
    retention: Duration,
) {
    let prune = || {
        if let Err(error) = store.prune(Utc::now(), retention) {
            tracing::warn!(%error, "cannot delete old alert history");
        }
    };
    prune();
    let mut pruned = std::time::Instant::now();
    loop {
        match queued.recv_timeout(PRUNE_EVERY) {
            Ok(changes) => {
                if let Err(error) = store.record(&changes) {
                    tracing::warn!(%error, changes = changes.len(), "alert state changes not stored");
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        if pruned.elapsed() >= PRUNE_EVERY {
            prune();
            pruned = std::time::Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::parse;
    use crate::server::metrics::series;

    fn config(rules: &str) -> AlertsConfig {
        parse(&format!(r#"{{"alerts": {{"rules": [{rules}]}}}}"#))
            .unwrap()
            .alerts
    }

    /// Closes one second of `engine` (with no requests) and evaluates at `second`.
    fn tick(alerts: &Alerts, engine: &MetricsEngine, second: i64) -> Vec<AlertChange> {
        let at = DateTime::from_timestamp(1_700_000_000 + second, 0).unwrap();
        engine.close_second(at, series::Gauges::default(), SystemStats::default());
        alerts.evaluate(
            at,
            engine,
            &Gauges {
                routes: &[],
                system: &SystemStats::default(),
                history_rows_dropped: 0,
                certificate_days: None,
            },
        )
    }

    const IDLE: &str = r#"{"name": "idle", "metric": "requests_per_second", "below": 1,
                           "window_s": 5, "for_s": 2, "severity": "critical"}"#;

    #[tokio::test]
    async fn rules_go_pending_then_fire_and_a_changed_rule_resolves() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(IDLE);
        let engine = MetricsEngine::new(0);
        engine.watch_alerts(&config);
        let alerts = Alerts::new(&config, &dir.path().join("h.db"), "http://gw".into());
        let pending = tick(&alerts, &engine, 0);
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].state, AlertState::Pending);
        assert_eq!(pending[0].value, Some(0.0));
        assert!(tick(&alerts, &engine, 1).is_empty());
        let fired = tick(&alerts, &engine, 2);
        assert_eq!(fired[0].state, AlertState::Firing);
        assert_eq!(
            (fired[0].firing_now, fired[0].scope.as_str()),
            (1, "gateway")
        );
        assert_eq!(alerts.snapshot().firing(), 1);

        // The same rule again: it fires on.
        assert!(alerts.apply(&config).is_empty());
        assert_eq!(alerts.snapshot().alerts[0].state, AlertState::Firing);
        // A changed rule starts over; its receivers hear the old one resolved.
        let changed = self::config(&IDLE.replace("\"below\": 1", "\"below\": 2"));
        let resolved = alerts.apply(&changed);
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].state, AlertState::Resolved);
        assert_eq!(resolved[0].started_at, fired[0].started_at);
        assert_eq!(resolved[0].firing_now, 0);
        assert_eq!(alerts.snapshot().alerts[0].state, AlertState::Inactive);
    }

    #[tokio::test]
    async fn a_silenced_alert_fires_marked_and_a_silence_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(&IDLE.replace("\"for_s\": 2", "\"for_s\": 0"));
        let engine = MetricsEngine::new(0);
        engine.watch_alerts(&config);
        let alerts = Alerts::new(&config, &dir.path().join("h.db"), "http://gw".into());
        let error = alerts
            .silence(
                NewSilence {
                    rule: Some("idle".into()),
                    duration_s: 5,
                    ..NewSilence::default()
                },
                "alice",
            )
            .unwrap_err();
        assert!(error.starts_with("duration_s"), "{error}");
        let silence = alerts
            .silence(
                NewSilence {
                    rule: Some("idle".into()),
                    duration_s: 3_600,
                    comment: Some("maintenance".into()),
                    ..NewSilence::default()
                },
                "alice",
            )
            .unwrap();
        // Evaluated at the real time: the silence runs from now.
        let now = Utc::now();
        engine.close_second(now, series::Gauges::default(), SystemStats::default());
        let changes = alerts.evaluate(
            now,
            &engine,
            &Gauges {
                routes: &[],
                system: &SystemStats::default(),
                history_rows_dropped: 0,
                certificate_days: None,
            },
        );
        assert_eq!(changes[0].state, AlertState::Firing);
        assert!(changes[0].silenced);
        let snapshot = alerts.snapshot();
        assert_eq!(snapshot.alerts[0].silenced_until, Some(silence.until));
        assert_eq!(snapshot.silences.len(), 1);
        assert_eq!(alerts.end_silence(silence.id).unwrap(), Some(silence));
        assert_eq!(alerts.end_silence(12_345).unwrap(), None);
        assert!(alerts.snapshot().alerts[0].silenced_until.is_none());
    }
}
