//! One notifier's delivery: its settings (swapped in place by a config reload), its counts, the
//! task that empties its queue, and one notification's attempts.
//!
//! A notification is tried up to 1 + `retries` times, each attempt bounded by `timeout`
//! ([`outbound::post`]). A 2xx answer delivers it; a connect or TLS error, a timeout, a 5xx or a
//! 429 is tried again after a backoff (the base, 1 s, doubling per attempt, at most 30 s); any
//! other answer (a 4xx, a redirect) gives up at once — sending the same body again would get
//! the same answer. Each attempt reads the notifier's settings afresh, so a reload that fixes
//! a URL applies to the next attempt.
//!
//! Failures are logged (`warn` when given up, `debug` for an attempt retried) with the notifier,
//! the rule and the reason, and where: the URL's scheme and `host:port` only — never its path
//! or query (Slack's carries the webhook's key) nor a header value.

use super::payload;
use crate::server::config::NotifierConfig;
use crate::server::outbound::{self, Endpoint};
use crate::views::{AlertChange, NotificationOutcome, NotifierView};
use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What a notifier's attempts read: its settings, taken apart once per config. (No `Debug`:
/// it holds header values.)
pub struct Settings {
    pub config: NotifierConfig,
    /// Where to connect; an error (reason) for a URL that cannot be used.
    endpoint: Result<Endpoint, String>,
}

impl Settings {
    pub fn new(config: NotifierConfig) -> Self {
        let endpoint = Endpoint::parse(&config.url);
        Self { config, endpoint }
    }

    /// Where it posts, as may be logged: `scheme://host:port`, never the path or query.
    fn origin(&self) -> String {
        match &self.endpoint {
            Ok(endpoint) => endpoint.origin(),
            Err(_) => "(unusable URL)".to_string(),
        }
    }
}

/// What a notifier has done since it was configured.
#[derive(Debug, Default)]
struct Counts {
    delivered: u64,
    failed: u64,
    dropped: u64,
    last_error: Option<String>,
    last_delivered_at: Option<DateTime<Utc>>,
    /// Its queue was full at the last `send` (a drop is logged once per run of drops).
    overflowing: bool,
}

/// One notifier as its task, `send` and the views share it.
pub struct Channel {
    name: String,
    settings: Mutex<Arc<Settings>>,
    counts: Mutex<Counts>,
    /// Bumped after every count changes (for whoever waits on outcomes: the tests).
    changed: watch::Sender<u64>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; if something did, the data is still whole.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why one attempt did not deliver, and whether another may.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Delivered,
    Retry(String),
    GiveUp(String),
}

/// Judges one attempt's result.
fn judge(result: &Result<u16, String>) -> Verdict {
    match *result {
        Ok(200..=299) => Verdict::Delivered,
        Ok(status @ (429 | 500..=599)) => Verdict::Retry(answered(status)),
        Ok(status @ 300..=399) => {
            Verdict::GiveUp(format!("{} (redirects are not followed)", answered(status)))
        }
        Ok(status) => Verdict::GiveUp(answered(status)),
        Err(ref reason) => Verdict::Retry(reason.clone()),
    }
}

/// `answered 503 Service Unavailable`.
fn answered(status: u16) -> String {
    let reason = hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("");
    format!("answered {status} {reason}").trim_end().to_string()
}

/// The wait after failed attempt `attempt` (1 and on): `base` doubling, at most [`MAX_BACKOFF`].
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    base.saturating_mul(1 << doublings).min(MAX_BACKOFF)
}

impl Channel {
    pub fn new(config: NotifierConfig, changed: watch::Sender<u64>) -> Self {
        Self {
            name: config.name.clone(),
            settings: Mutex::new(Arc::new(Settings::new(config))),
            counts: Mutex::new(Counts::default()),
            changed,
        }
    }

    /// The notifier's name (the same in every settings it is given).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The settings in force.
    pub fn settings(&self) -> Arc<Settings> {
        lock(&self.settings).clone()
    }

    /// Puts new settings in force (from the next attempt on).
    pub fn replace(&self, config: NotifierConfig) {
        *lock(&self.settings) = Arc::new(Settings::new(config));
    }

    /// The notifier and its counts.
    pub fn view(&self) -> NotifierView {
        let kind = self.settings().config.kind.as_str().to_string();
        let counts = lock(&self.counts);
        NotifierView {
            name: self.name.clone(),
            kind,
            delivered: counts.delivered,
            failed: counts.failed,
            dropped: counts.dropped,
            last_error: counts.last_error.clone(),
            last_delivered_at: counts.last_delivered_at,
        }
    }

    /// Queues `change` if `queue` has room; counts (and logs, once per run of drops) a drop.
    pub fn enqueue(&self, queue: &mpsc::Sender<AlertChange>, change: &AlertChange) {
        match queue.try_send(change.clone()) {
            Ok(()) => lock(&self.counts).overflowing = false,
            Err(mpsc::error::TrySendError::Full(_)) => {
                let first = {
                    let mut counts = lock(&self.counts);
                    counts.dropped += 1;
                    !std::mem::replace(&mut counts.overflowing, true)
                };
                if first {
                    tracing::warn!(
                        notifier = %self.name,
                        rule = %change.rule,
                        "notifier {:?}: its queue is full ({} waiting): notifications dropped \
                         until it drains",
                        self.name,
                        queue.max_capacity()
                    );
                }
                self.changed.send_modify(|count| *count += 1);
            }
            // Stopped: the notifier is being removed.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Sends `change` until delivered, given up on, or out of attempts; counts and logs it.
    pub async fn deliver(
        &self,
        change: &AlertChange,
        test: bool,
        dashboard_url: &str,
        backoff_base: Duration,
    ) -> NotificationOutcome {
        let mut outcome = NotificationOutcome {
            notifier: self.name.clone(),
            ..NotificationOutcome::default()
        };
        loop {
            let settings = self.settings();
            outcome.attempts += 1;
            let result = attempt(&settings, change, test, dashboard_url).await;
            outcome.status = result.as_ref().ok().copied();
            let reason = match judge(&result) {
                Verdict::Delivered => {
                    outcome.delivered = true;
                    outcome.error = None;
                    self.count(|counts| {
                        counts.delivered += 1;
                        counts.last_delivered_at = Some(Utc::now());
                    });
                    if outcome.attempts > 1 {
                        tracing::info!(
                            notifier = %self.name,
                            rule = %change.rule,
                            "notifier {:?}: {} for {:?} delivered at attempt {}",
                            self.name,
                            change.state.as_str(),
                            change.rule,
                            outcome.attempts
                        );
                    }
                    return outcome;
                }
                Verdict::Retry(reason) if outcome.attempts <= settings.config.retries => {
                    let wait = backoff(backoff_base, outcome.attempts);
                    tracing::debug!(
                        notifier = %self.name,
                        rule = %change.rule,
                        "notifier {:?} ({}): attempt {} for {:?} failed: {reason}; again in {:?}",
                        self.name,
                        settings.origin(),
                        outcome.attempts,
                        change.rule,
                        wait
                    );
                    self.count(|counts| counts.last_error = Some(reason));
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Verdict::Retry(reason) | Verdict::GiveUp(reason) => reason,
            };
            tracing::warn!(
                notifier = %self.name,
                rule = %change.rule,
                attempts = outcome.attempts,
                "notifier {:?} ({}): {} for {:?} not delivered after {} attempt{}: {reason}",
                self.name,
                settings.origin(),
                change.state.as_str(),
                change.rule,
                outcome.attempts,
                if outcome.attempts == 1 { "" } else { "s" }
            );
            self.count(|counts| {
                counts.failed += 1;
                counts.last_error = Some(reason.clone());
            });
            outcome.error = Some(reason);
            return outcome;
        }
    }

    fn count(&self, update: impl FnOnce(&mut Counts)) {
        update(&mut lock(&self.counts));
        self.changed.send_modify(|count| *count += 1);
    }
}

/// One attempt: the body and path of the notifier's kind, posted within its timeout.
async fn attempt(
    settings: &Settings,
    change: &AlertChange,
    test: bool,
    dashboard_url: &str,
) -> Result<u16, String> {
    let endpoint = settings.endpoint.as_ref().map_err(Clone::clone)?;
    let kind = settings.config.kind;
    outbound::post(
        endpoint,
        &payload::path(kind, endpoint.path_and_query()),
        &settings.config.headers,
        payload::CONTENT_TYPE,
        payload::body(kind, change, dashboard_url, test),
        settings.config.timeout,
    )
    .await
}

/// A notifier's task: delivers what is queued, one at a time, until `stop` (mid-delivery too)
/// or until every sender is gone.
pub async fn run(
    channel: Arc<Channel>,
    mut queue: mpsc::Receiver<AlertChange>,
    stop: CancellationToken,
    dashboard_url: Arc<str>,
    backoff_base: Duration,
) {
    loop {
        let change = tokio::select! {
            () = stop.cancelled() => return,
            change = queue.recv() => match change {
                Some(change) => change,
                None => return,
            },
        };
        tokio::select! {
            () = stop.cancelled() => return,
            _ = channel.deliver(&change, false, &dashboard_url, backoff_base) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_judged_as_delivered_retried_or_given_up() {
        assert_eq!(judge(&Ok(200)), Verdict::Delivered);
        assert_eq!(judge(&Ok(204)), Verdict::Delivered);
        assert_eq!(
            judge(&Ok(503)),
            Verdict::Retry("answered 503 Service Unavailable".into())
        );
        assert_eq!(
            judge(&Ok(429)),
            Verdict::Retry("answered 429 Too Many Requests".into())
        );
        assert_eq!(
            judge(&Ok(400)),
            Verdict::GiveUp("answered 400 Bad Request".into())
        );
        assert_eq!(
            judge(&Ok(404)),
            Verdict::GiveUp("answered 404 Not Found".into())
        );
        assert_eq!(
            judge(&Ok(301)),
            Verdict::GiveUp("answered 301 Moved Permanently (redirects are not followed)".into())
        );
        assert_eq!(judge(&Ok(599)), Verdict::Retry("answered 599".into()));
        assert_eq!(
            judge(&Err("cannot connect to h:1: refused".into())),
            Verdict::Retry("cannot connect to h:1: refused".into())
        );
    }

    #[test]
    fn backoff_doubles_from_its_base_to_thirty_seconds() {
        let second = Duration::from_secs(1);
        let waits: Vec<u64> = (1..=8).map(|a| backoff(second, a).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff(second, 1_000), MAX_BACKOFF);
        assert_eq!(
            backoff(Duration::from_millis(10), 3),
            Duration::from_millis(40)
        );
    }
}
