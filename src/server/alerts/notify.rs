//! Notifications: each notifier of `alerts.notifiers` has a bounded queue
//! ([`QUEUE_CAPACITY`]) and a task of its own that delivers what is queued, one at a time, with
//! a timeout per attempt and retries with backoff. The alert engine only ever queues
//! ([`Notifications::send`] never waits): a notifier that hangs or fails delays nothing but its
//! own queue, and when that queue is full a notification is dropped and counted.
//!
//! - [`payload`]: the body each kind is sent (`webhook`, `slack`, `alertmanager`), documented
//!   there;
//! - `delivery`: attempts, retries, backoff, counts and logs of one notifier.
//!
//! On a config reload ([`Notifications::configure`]) a new notifier starts its task; a removed
//! one stops at once, whatever it had queued or was sending dropped; an unchanged one keeps its
//! queue and counts; a changed one too — its queue and counts stay, and what is queued (and the
//! retries of a notification under way) goes out with the new settings, so a reload that fixes
//! a notifier's URL delivers what waited for it.
//!
//! Every outcome is counted per notifier ([`Notifications::views`]): delivered, failed (given up
//! after its attempts), dropped (queue full), the newest failure's reason and the last delivery.
//! Test notifications ([`Notifications::test`]) are counted like the others.

mod delivery;
pub mod payload;

use crate::server::config::{NotifierConfig, NotifierKind};
use crate::views::{AlertChange, AlertState, NotificationOutcome, NotifierView};
use chrono::Utc;
use delivery::Channel;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// Notifications each notifier holds waiting at most; more are dropped (and counted).
pub const QUEUE_CAPACITY: usize = 256;

/// The wait after a notification's first failed attempt; it doubles per attempt, to 30 s.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);

/// The rule a test notification is sent for.
pub const TEST_RULE: &str = "gatewatch-test";

/// The notifiers in force, each with its queue and task.
pub struct Notifications {
    dashboard_url: Arc<str>,
    backoff_base: Duration,
    /// In config order.
    notifiers: Mutex<Vec<Notifier>>,
    /// Bumped after every outcome or drop counted.
    changed: watch::Sender<u64>,
}

/// One notifier: what its task shares, its queue, and how to stop the task.
struct Notifier {
    channel: Arc<Channel>,
    queue: mpsc::Sender<AlertChange>,
    stop: CancellationToken,
}

impl Drop for Notifications {
    fn drop(&mut self) {
        for notifier in self.lock().iter() {
            notifier.stop.cancel();
        }
    }
}

impl Notifications {
    /// `dashboard_url`: the dashboard's base URL for links (`http://127.0.0.1:3000`); the alerts
    /// page is `{dashboard_url}/alerts`. No notifier until [`Self::configure`].
    pub fn new(dashboard_url: String) -> Self {
        Self::with_backoff_base(dashboard_url, BACKOFF_BASE)
    }

    /// As [`Self::new`], with `backoff_base` instead of [`BACKOFF_BASE`] (tests wait less).
    pub fn with_backoff_base(dashboard_url: String, backoff_base: Duration) -> Self {
        Self {
            dashboard_url: Arc::from(dashboard_url.trim_end_matches('/')),
            backoff_base,
            notifiers: Mutex::new(Vec::new()),
            changed: watch::Sender::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Notifier>> {
        // Nothing panics while holding it; if something did, the list is still whole.
        self.notifiers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts `notifiers` in force (at start and on every reload; inside a Tokio runtime): starts
    /// a task per new notifier, stops removed ones (what they had queued is dropped), and gives
    /// changed ones their new settings in place (their queue and counts stay; see the module
    /// docs). An unchanged notifier keeps its queue and counts.
    pub fn configure(&self, notifiers: &[NotifierConfig]) {
        let mut current = self.lock();
        let mut old = std::mem::take(&mut *current);
        for config in notifiers {
            let kept = old
                .iter()
                .position(|notifier| notifier.channel.name() == config.name);
            let notifier = match kept {
                Some(index) => {
                    let notifier = old.remove(index);
                    if notifier.channel.settings().config != *config {
                        notifier.channel.replace(config.clone());
                    }
                    notifier
                }
                None => self.start(config.clone()),
            };
            current.push(notifier);
        }
        for removed in old {
            tracing::debug!(
                notifier = %removed.channel.name(),
                "notifier removed: its queue is dropped"
            );
            removed.stop.cancel();
        }
    }

    /// A new notifier's queue and task.
    fn start(&self, config: NotifierConfig) -> Notifier {
        let channel = Arc::new(Channel::new(config, self.changed.clone()));
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let stop = CancellationToken::new();
        tokio::spawn(delivery::run(
            channel.clone(),
            receiver,
            stop.clone(),
            self.dashboard_url.clone(),
            self.backoff_base,
        ));
        Notifier {
            channel,
            queue,
            stop,
        }
    }

    /// Queues `change` for notifier `name` without waiting; when its queue is full, the change
    /// is dropped and counted. An unknown name is ignored.
    pub fn send(&self, name: &str, change: &AlertChange) {
        let notifiers = self.lock();
        if let Some(notifier) = notifiers
            .iter()
            .find(|notifier| notifier.channel.name() == name)
        {
            notifier.channel.enqueue(&notifier.queue, change);
        }
    }

    /// Sends a test notification through `name` now — beside its queue, not behind it: a firing
    /// alert of rule [`TEST_RULE`], severity `info`, marked as a test — and waits for the
    /// outcome, retries included. `None`: no notifier is named so.
    pub async fn test(&self, name: &str) -> Option<NotificationOutcome> {
        let channel = self.channel(name)?;
        let change = test_change();
        Some(
            channel
                .deliver(&change, true, &self.dashboard_url, self.backoff_base)
                .await,
        )
    }

    /// Each notifier with its counts, in config order.
    pub fn views(&self) -> Vec<NotifierView> {
        self.lock()
            .iter()
            .map(|notifier| notifier.channel.view())
            .collect()
    }

    /// The kind of notifier `name`.
    pub fn kind(&self, name: &str) -> Option<NotifierKind> {
        self.channel(name)
            .map(|channel| channel.settings().config.kind)
    }

    /// A receiver whose value changes after every delivery outcome, failed attempt or drop is
    /// counted (to wait for counts rather than poll them).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn channel(&self, name: &str) -> Option<Arc<Channel>> {
        self.lock()
            .iter()
            .find(|notifier| notifier.channel.name() == name)
            .map(|notifier| notifier.channel.clone())
    }
}

/// What a test notification says: rule [`TEST_RULE`] firing now, severity `info`.
fn test_change() -> AlertChange {
    let now = Utc::now();
    AlertChange {
        rule: TEST_RULE.to_string(),
        metric: "test".to_string(),
        scope: "gateway".to_string(),
        severity: "info".to_string(),
        state: AlertState::Firing,
        comparison: "above".to_string(),
        threshold: 0.0,
        value: Some(1.0),
        at: now,
        started_at: Some(now),
        ..AlertChange::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::testing::firing_change;
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use serde_json::Value;
    use std::collections::VecDeque;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// A request a test receiver got.
    #[derive(Debug)]
    struct Received {
        path: String,
        headers: hyper::HeaderMap,
        body: Value,
    }

    /// A webhook receiver on 127.0.0.1:0 answering with `statuses` in turn (then 200); every
    /// request is reported on the channel before it is answered.
    async fn receiver(statuses: &[u16]) -> (String, mpsc::UnboundedReceiver<Received>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let statuses = Arc::new(Mutex::new(VecDeque::from(statuses.to_vec())));
        let (report, received) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let (statuses, report) = (statuses.clone(), report.clone());
                let service = service_fn(move |request: hyper::Request<Incoming>| {
                    let (statuses, report) = (statuses.clone(), report.clone());
                    async move {
                        let (head, body) = request.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        let _ = report.send(Received {
                            path: head.uri.to_string(),
                            headers: head.headers,
                            body: serde_json::from_slice(&body).unwrap(),
                        });
                        let status = statuses.lock().unwrap().pop_front().unwrap_or(200);
                        let response = hyper::Response::builder()
                            .status(status)
                            .body(Full::new(Bytes::from_static(b"ok")))
                            .unwrap();
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service),
                );
            }
        });
        (url, received)
    }

    /// A receiver that accepts connections and reads them, never answering; each connection is
    /// reported.
    async fn silent_receiver() -> (String, mpsc::UnboundedReceiver<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (report, accepted) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let (mut tcp, _) = listener.accept().await.unwrap();
                let _ = report.send(());
                tokio::spawn(async move {
                    let mut buffer = [0u8; 4096];
                    while tcp.read(&mut buffer).await.is_ok_and(|n| n > 0) {}
                });
            }
        });
        (url, accepted)
    }

    fn notifier(name: &str, kind: NotifierKind, url: &str, retries: u32) -> NotifierConfig {
        NotifierConfig {
            name: name.to_string(),
            kind,
            url: url.to_string(),
            headers: vec![("authorization".to_string(), "Bearer s3cret".to_string())],
            timeout: Duration::from_secs(5),
            retries,
        }
    }

    fn notifications() -> Notifications {
        Notifications::with_backoff_base(
            "http://127.0.0.1:3000".to_string(),
            Duration::from_millis(5),
        )
    }

    fn firing() -> AlertChange {
        firing_change(Utc::now())
    }

    /// Waits until `done` holds for notifier `name`'s view, woken by each count change.
    async fn until(
        notifications: &Notifications,
        name: &str,
        done: impl Fn(&NotifierView) -> bool,
    ) -> NotifierView {
        let mut changed = notifications.subscribe();
        loop {
            let view = notifications
                .views()
                .into_iter()
                .find(|view| view.name == name)
                .unwrap();
            if done(&view) {
                return view;
            }
            changed.changed().await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_webhook_answering_500_then_200_is_delivered_at_the_second_attempt() {
        let (url, mut received) = receiver(&[500]).await;
        let notifications = notifications();
        notifications.configure(&[notifier(
            "ops",
            NotifierKind::Webhook,
            &format!("{url}/gw"),
            3,
        )]);
        notifications.send("ops", &firing());
        let view = until(&notifications, "ops", |view| view.delivered == 1).await;
        assert_eq!((view.failed, view.dropped), (0, 0));
        assert_eq!(
            view.last_error.as_deref(),
            Some("answered 500 Internal Server Error")
        );
        assert!(view.last_delivered_at.is_some());
        for _ in 0..2 {
            let request = received.recv().await.unwrap();
            assert_eq!(request.path, "/gw");
            assert_eq!(request.headers["authorization"], "Bearer s3cret");
            assert_eq!(request.headers["content-type"], "application/json");
            assert_eq!(request.body["rule"], "api-errors");
            assert_eq!(request.body["state"], "firing");
            assert_eq!(request.body["test"], false);
            assert_eq!(
                request.body["dashboard_url"],
                "http://127.0.0.1:3000/alerts"
            );
        }
        assert!(received.try_recv().is_err(), "two attempts only");
    }

    #[tokio::test]
    async fn a_4xx_is_given_up_on_at_once() {
        let (url, mut received) = receiver(&[400, 400]).await;
        let notifications = notifications();
        notifications.configure(&[notifier("ops", NotifierKind::Webhook, &url, 3)]);
        notifications.send("ops", &firing());
        let view = until(&notifications, "ops", |view| view.failed == 1).await;
        assert_eq!(view.delivered, 0);
        assert_eq!(view.last_error.as_deref(), Some("answered 400 Bad Request"));
        received.recv().await.unwrap();
        assert!(received.try_recv().is_err(), "one attempt only");
    }

    #[tokio::test]
    async fn an_endpoint_that_never_answers_is_cut_at_the_timeout_and_counted_failed() {
        let (url, mut accepted) = silent_receiver().await;
        let notifications = notifications();
        let mut config = notifier("slow", NotifierKind::Webhook, &url, 1);
        config.timeout = Duration::from_millis(150);
        notifications.configure(&[config]);
        let started = tokio::time::Instant::now();
        notifications.send("slow", &firing());
        let view = until(&notifications, "slow", |view| view.failed == 1).await;
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "two attempts of 150 ms"
        );
        let error = view.last_error.unwrap();
        assert!(
            error.starts_with("waiting for an answer from 127.0.0.1:")
                && error.ends_with("took longer than 150 ms"),
            "{error}"
        );
        for _ in 0..2 {
            accepted.recv().await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_hanging_notifier_delays_no_other() {
        let (slow_url, mut accepted) = silent_receiver().await;
        let (url, mut received) = receiver(&[]).await;
        let notifications = notifications();
        let mut slow = notifier("slow", NotifierKind::Webhook, &slow_url, 0);
        slow.timeout = Duration::from_secs(60);
        notifications.configure(&[slow, notifier("ops", NotifierKind::Webhook, &url, 0)]);
        notifications.send("slow", &firing());
        accepted.recv().await.unwrap();
        notifications.send("ops", &firing());
        until(&notifications, "ops", |view| view.delivered == 1).await;
        received.recv().await.unwrap();
        let views = notifications.views();
        assert_eq!(
            views
                .iter()
                .map(|view| view.name.as_str())
                .collect::<Vec<_>>(),
            ["slow", "ops"]
        );
        assert_eq!((views[0].delivered, views[0].failed), (0, 0));
    }

    /// In a current-thread runtime the notifier's task cannot run before the test awaits, so
    /// the queue fills exactly.
    #[tokio::test(flavor = "current_thread")]
    async fn a_full_queue_drops_and_counts() {
        let (url, _accepted) = silent_receiver().await;
        let notifications = notifications();
        notifications.configure(&[notifier("ops", NotifierKind::Webhook, &url, 0)]);
        for _ in 0..QUEUE_CAPACITY + 3 {
            notifications.send("ops", &firing());
        }
        notifications.send("nobody", &firing());
        let view = &notifications.views()[0];
        assert_eq!((view.dropped, view.delivered, view.failed), (3, 0, 0));
    }

    #[tokio::test]
    async fn test_reports_the_outcome_with_a_test_body() {
        let (url, mut received) = receiver(&[503]).await;
        let notifications = notifications();
        notifications.configure(&[
            notifier("ops", NotifierKind::Webhook, &url, 2),
            notifier("am", NotifierKind::Alertmanager, &url, 0),
        ]);
        assert_eq!(notifications.test("nobody").await, None);

        let outcome = notifications.test("ops").await.unwrap();
        assert_eq!(
            outcome,
            NotificationOutcome {
                notifier: "ops".into(),
                delivered: true,
                attempts: 2,
                status: Some(200),
                error: None,
            }
        );
        let request = received.recv().await.unwrap();
        assert_eq!(request.body["rule"], TEST_RULE);
        assert_eq!(request.body["severity"], "info");
        assert_eq!(request.body["state"], "firing");
        assert_eq!(request.body["test"], true);
        received.recv().await.unwrap();

        let outcome = notifications.test("am").await.unwrap();
        assert!(outcome.delivered, "{outcome:?}");
        let request = received.recv().await.unwrap();
        assert_eq!(request.path, "/api/v2/alerts");
        assert_eq!(request.body[0]["labels"]["alertname"], TEST_RULE);
        assert_eq!(request.body[0]["labels"]["test"], "true");

        // Nothing listens here any more: refused at every attempt.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        notifications.configure(&[notifier("ops", NotifierKind::Webhook, &closed, 1)]);
        let outcome = notifications.test("ops").await.unwrap();
        assert!(!outcome.delivered);
        assert_eq!((outcome.attempts, outcome.status), (2, None));
        let error = outcome.error.unwrap();
        assert!(error.starts_with("cannot connect to 127.0.0.1:"), "{error}");
        let view = &notifications.views()[0];
        assert_eq!((view.delivered, view.failed), (1, 1), "tests are counted");
    }

    #[tokio::test]
    async fn a_reload_starts_stops_and_updates_notifiers_in_place() {
        let (url, mut received) = receiver(&[]).await;
        let notifications = notifications();
        notifications.configure(&[
            notifier("ops", NotifierKind::Webhook, &url, 0),
            notifier("chat", NotifierKind::Slack, &url, 0),
        ]);
        assert_eq!(notifications.kind("chat"), Some(NotifierKind::Slack));
        notifications.send("ops", &firing());
        until(&notifications, "ops", |view| view.delivered == 1).await;
        received.recv().await.unwrap();

        // "ops" changes kind and path, "chat" goes, "am" comes.
        notifications.configure(&[
            notifier("am", NotifierKind::Alertmanager, &url, 0),
            notifier("ops", NotifierKind::Slack, &format!("{url}/services/x"), 0),
        ]);
        assert_eq!(notifications.kind("chat"), None);
        assert_eq!(notifications.kind("ops"), Some(NotifierKind::Slack));
        let names: Vec<String> = notifications.views().into_iter().map(|v| v.name).collect();
        assert_eq!(names, ["am", "ops"]);
        notifications.send("ops", &firing());
        let view = until(&notifications, "ops", |view| view.delivered == 2).await;
        assert_eq!(
            (view.kind.as_str(), view.failed),
            ("slack", 0),
            "counts kept"
        );
        let request = received.recv().await.unwrap();
        assert_eq!(request.path, "/services/x");
        assert!(
            request.body["text"]
                .as_str()
                .unwrap()
                .starts_with("[FIRING] api-errors")
        );
        notifications.send("chat", &firing());
        notifications.send("am", &firing());
        until(&notifications, "am", |view| view.delivered == 1).await;
        assert_eq!(received.recv().await.unwrap().path, "/api/v2/alerts");
    }

    /// Logs captured from this thread (a current-thread runtime runs every task on it).
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn failures_are_logged_without_the_url_path_or_header_values() {
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("gatewatch=debug")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let (url, _received) = receiver(&[500, 403]).await;
        let notifications = notifications();
        let url = format!("{url}/services/T000/B000/XSECRETX?token=QSECRETQ");
        notifications.configure(&[notifier("chat", NotifierKind::Slack, &url, 3)]);
        notifications.send("chat", &firing());
        let view = until(&notifications, "chat", |view| view.failed == 1).await;
        assert_eq!(view.last_error.as_deref(), Some("answered 403 Forbidden"));

        let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        assert!(logs.contains("WARN"), "{logs}");
        assert!(
            logs.contains("\"chat\"") && logs.contains("api-errors"),
            "{logs}"
        );
        assert!(
            logs.contains("answered 500") && logs.contains("answered 403"),
            "{logs}"
        );
        assert!(logs.contains("http://127.0.0.1:"), "{logs}");
        for secret in ["XSECRETX", "QSECRETQ", "s3cret", "/services"] {
            assert!(!logs.contains(secret), "{secret} in {logs}");
        }
    }
}
