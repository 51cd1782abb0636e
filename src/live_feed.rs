//! The browser's end of the live event socket: one WebSocket to [`LIVE_SOCKET_PATH`], opened only
//! once the page is hydrated, exposed to components as signals through a context ([`LiveFeed`]).
//!
//! - Events are buffered as they arrive and applied to the signals at most once per
//!   [`FLUSH_INTERVAL`] (at once when the last flush is older), so a widget re-renders at most 4
//!   times a second however busy the gateway is, and a quiet gateway's events show immediately.
//! - Routes and models arrive whole once a second; a target transition arriving in between
//!   patches the routes at once ([`patch_target_state`]), so the health grid never waits for
//!   the next tick.
//! - Everything kept is bounded ([`window`]): a tab left open for hours holds the same amount.
//! - Each time the socket opens, the newest requests are read once ([`LiveFeed::catch_up`]):
//!   those that finished between the page's render and the subscription would otherwise be
//!   missing from the live log.
//! - When the socket closes it reconnects with exponential backoff ([`reconnect_delay`]); while it
//!   is down, [`LiveFeed::poll`] ticks every [`POLL_INTERVAL`] and pages re-read their data.
//! - Alert state changes are kept newest first ([`LIVE_ALERT_CHANGES`]), and the number of alerts
//!   firing after the newest change or tick ([`LiveFeed::alerts_firing`]) feeds the navigation's
//!   badge.

pub mod window;

use crate::views::{
    AlertChange, ConfigReload, LiveEvent, LogLine, MetricsTick, ModelView, RequestRecord,
    RouteView, SeriesPoint, TargetTransition, UptimeTick,
};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use std::collections::VecDeque;
use std::time::Duration;
use window::{merge_newest, push_newest, push_oldest_first};

/// Path of the live event WebSocket on the dashboard address.
pub const LIVE_SOCKET_PATH: &str = "/api/live";
/// Longest wait between two reconnection attempts.
pub const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(10);
/// How often buffered events reach the signals.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(250);
/// How often pages re-read their data while the socket is down.
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// Seconds of the per-second series kept (15 minutes).
pub const SERIES_SECONDS: usize = 900;
/// Live requests kept, newest first.
pub const LIVE_REQUESTS: usize = 200;
/// Live log lines kept, newest first.
pub const LIVE_LOG_LINES: usize = 500;
/// Target transitions kept, newest first.
pub const LIVE_TRANSITIONS: usize = 100;
/// Alert state changes kept, newest first.
pub const LIVE_ALERT_CHANGES: usize = 100;

/// State of the browser's connection to the live socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// Not connected yet (also what the server renders: no socket exists there).
    Connecting,
    /// Events are flowing.
    Live,
    /// The socket closed; a new attempt is scheduled and pages poll meanwhile.
    Reconnecting,
}

impl ConnectionState {
    /// Short label for the status indicator.
    pub fn label(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Reconnecting => "reconnecting",
        }
    }
}

/// Live data pushed by the server, as signals. Lists are newest first unless said otherwise.
#[derive(Clone, Copy)]
pub struct LiveFeed {
    /// The socket's state.
    pub state: RwSignal<ConnectionState>,
    /// The newest uptime tick, if one arrived.
    pub last_tick: RwSignal<Option<UptimeTick>>,
    /// The newest metrics tick.
    pub metrics: RwSignal<Option<MetricsTick>>,
    /// Seconds received since the page loaded, oldest first (at most [`SERIES_SECONDS`]).
    pub series: RwSignal<VecDeque<SeriesPoint>>,
    /// Finished requests received since the page loaded (at most [`LIVE_REQUESTS`]).
    pub requests: RwSignal<VecDeque<RequestRecord>>,
    /// Requests the server finished but left out of its batches (traffic was high).
    pub requests_omitted: RwSignal<u64>,
    /// Health and breaker transitions (at most [`LIVE_TRANSITIONS`]).
    pub transitions: RwSignal<VecDeque<TargetTransition>>,
    /// The gateway's log lines (at most [`LIVE_LOG_LINES`]).
    pub logs: RwSignal<VecDeque<LogLine>>,
    /// The newest config reload outcome pushed.
    pub last_reload: RwSignal<Option<ConfigReload>>,
    /// Routes and targets as last pushed (patched by later transitions); `None` until the first
    /// push and while disconnected, when pages show what they read themselves.
    pub routes: RwSignal<Option<Vec<RouteView>>>,
    /// Models as last pushed; `None` like [`LiveFeed::routes`].
    pub models: RwSignal<Option<Vec<ModelView>>>,
    /// Alert state changes (at most [`LIVE_ALERT_CHANGES`]).
    pub alerts: RwSignal<VecDeque<AlertChange>>,
    /// How many alerts fire, as of the newest change pushed or count read
    /// ([`LiveFeed::note_firing`]); `None` until one is.
    pub alerts_firing: RwSignal<Option<FiringCount>>,
    /// Ticks every [`POLL_INTERVAL`] while the socket is down: pages depending on it re-read.
    pub poll: RwSignal<u64>,
}

/// How many alerts were firing, as of when: the newer of two counts (one read with a page, one
/// pushed with a change) is the one to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FiringCount {
    pub at: DateTime<Utc>,
    pub count: usize,
}

impl FiringCount {
    /// The count after `changes` (oldest first): the newest change's `firing_now`.
    pub fn after(changes: &[AlertChange]) -> Option<Self> {
        changes.last().map(|change| Self {
            at: change.at,
            count: change.firing_now,
        })
    }

    /// The newer of `a` and `b` (`b` when they are as old: a push describes the state after it).
    pub fn newest(a: Option<Self>, b: Option<Self>) -> Option<Self> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if a.at > b.at { a } else { b }),
            (a, b) => b.or(a),
        }
    }
}

impl LiveFeed {
    /// Creates the feed, provides it as context, and (in the browser) opens the socket.
    pub fn provide() -> Self {
        let feed = Self {
            state: RwSignal::new(ConnectionState::Connecting),
            last_tick: RwSignal::new(None),
            metrics: RwSignal::new(None),
            series: RwSignal::new(VecDeque::new()),
            requests: RwSignal::new(VecDeque::new()),
            requests_omitted: RwSignal::new(0),
            transitions: RwSignal::new(VecDeque::new()),
            logs: RwSignal::new(VecDeque::new()),
            last_reload: RwSignal::new(None),
            routes: RwSignal::new(None),
            models: RwSignal::new(None),
            alerts: RwSignal::new(VecDeque::new()),
            alerts_firing: RwSignal::new(None),
            poll: RwSignal::new(0),
        };
        provide_context(feed);
        // Effects run only in the browser, after hydration.
        Effect::new(move |_| {
            #[cfg(feature = "hydrate")]
            socket::start(feed);
        });
        feed
    }

    /// Adds requests read from the server when the socket opened (newest first): those that
    /// finished while the page loaded, after it was rendered and before the socket subscribed.
    pub fn catch_up(&self, requests: Vec<RequestRecord>) {
        self.requests
            .update(|list| merge_newest(list, requests, LIVE_REQUESTS, |r| r.seq));
    }

    /// Notes a count of firing alerts read by a page; kept if newer than the one known.
    pub fn note_firing(&self, read: FiringCount) {
        let newest = FiringCount::newest(self.alerts_firing.get_untracked(), Some(read));
        if newest != self.alerts_firing.get_untracked() {
            self.alerts_firing.set(newest);
        }
    }

    /// Applies a batch of events, touching each signal at most once.
    pub fn apply(&self, events: Vec<LiveEvent>) {
        let mut batch = Batch::default();
        for event in events {
            match event {
                LiveEvent::Tick(tick) => batch.tick = Some(tick),
                LiveEvent::Metrics(tick) => {
                    batch.points.push(tick.point.clone());
                    batch.metrics = Some(tick);
                }
                LiveEvent::Requests(requests) => {
                    batch.omitted += requests.omitted;
                    batch.requests.extend(requests.requests);
                }
                LiveEvent::Transition(transition) => {
                    // In arrival order: a transition after the newest routes push patches it.
                    let routes = batch
                        .routes
                        .get_or_insert_with(|| self.routes.get_untracked());
                    if let Some(routes) = routes {
                        patch_target_state(routes, &transition);
                    }
                    batch.transitions.push(transition);
                }
                LiveEvent::Log(line) => batch.logs.push(line),
                LiveEvent::ConfigReload(reload) => batch.reload = Some(reload),
                LiveEvent::Routes(tick) => batch.routes = Some(Some(tick.routes)),
                LiveEvent::Models(tick) => batch.models = Some(tick.models),
                LiveEvent::Alert(change) => batch.alerts.push(change),
            }
        }
        if let Some(routes) = batch.routes {
            self.routes.set(routes);
        }
        if let Some(models) = batch.models {
            self.models.set(Some(models));
        }
        if let Some(tick) = batch.tick {
            self.note_firing(FiringCount {
                at: tick.at,
                count: tick.alerts_firing,
            });
            self.last_tick.set(Some(tick));
        }
        if let Some(metrics) = batch.metrics {
            self.metrics.set(Some(metrics));
            self.series
                .update(|series| push_oldest_first(series, batch.points, SERIES_SECONDS));
        }
        if !batch.requests.is_empty() || batch.omitted > 0 {
            self.requests
                .update(|list| push_newest(list, batch.requests, LIVE_REQUESTS));
            if batch.omitted > 0 {
                self.requests_omitted.update(|n| *n += batch.omitted);
            }
        }
        if !batch.transitions.is_empty() {
            self.transitions
                .update(|list| push_newest(list, batch.transitions, LIVE_TRANSITIONS));
        }
        if !batch.logs.is_empty() {
            self.logs
                .update(|list| push_newest(list, batch.logs, LIVE_LOG_LINES));
        }
        if let Some(reload) = batch.reload {
            self.last_reload.set(Some(reload));
        }
        if !batch.alerts.is_empty() {
            let firing = FiringCount::after(&batch.alerts);
            self.alerts_firing
                .update(|current| *current = FiringCount::newest(*current, firing));
            self.alerts
                .update(|list| push_newest(list, batch.alerts, LIVE_ALERT_CHANGES));
        }
    }
}

/// One flush's events, grouped by the signal they go to (each list oldest first).
#[derive(Default)]
struct Batch {
    tick: Option<UptimeTick>,
    metrics: Option<MetricsTick>,
    points: Vec<SeriesPoint>,
    requests: Vec<RequestRecord>,
    omitted: u64,
    transitions: Vec<TargetTransition>,
    logs: Vec<LogLine>,
    reload: Option<ConfigReload>,
    /// The routes to show after this batch, if it changes them.
    routes: Option<Option<Vec<RouteView>>>,
    models: Option<Vec<ModelView>>,
    alerts: Vec<AlertChange>,
}

/// Applies a health or breaker transition to the target it names, and recomputes whether its
/// route has any target left in rotation.
pub fn patch_target_state(routes: &mut [RouteView], transition: &TargetTransition) {
    let Some(route) = routes.iter_mut().find(|r| r.name == transition.route) else {
        return;
    };
    let Some(target) = route
        .targets
        .iter_mut()
        .find(|t| t.url == transition.target)
    else {
        return;
    };
    match transition.kind.as_str() {
        "health" => target.healthy = transition.to == "healthy",
        "breaker" => target.breaker = transition.to.clone(),
        _ => return,
    }
    route.all_targets_down = !route.targets.is_empty()
        && route
            .targets
            .iter()
            .all(|t| !t.healthy || t.breaker == "open");
}

/// False while the calling component is rendered on the server or hydrated, true once it is on
/// the page. Live data must wait for it: pushed events that land while a page is still being
/// hydrated (the socket opens as soon as the shell is) would make the component build other
/// elements than the server's HTML has, and hydration would fail.
pub fn mounted() -> Signal<bool> {
    let mounted = RwSignal::new(false);
    // Effects run only in the browser, after the component that created them is hydrated.
    Effect::new(move |_| mounted.set(true));
    mounted.into()
}

/// The [`LiveFeed`] provided by the app shell.
pub fn use_live_feed() -> LiveFeed {
    expect_context::<LiveFeed>()
}

/// How long buffered events wait when the last flush was `since_last_flush_ms` ago: until a
/// whole [`FLUSH_INTERVAL`] has passed since it (rounded up, so flushes are never closer).
pub fn flush_delay(since_last_flush_ms: f64) -> Duration {
    let wait = (FLUSH_INTERVAL.as_secs_f64() * 1_000.0 - since_last_flush_ms).max(0.0);
    Duration::from_millis(wait.ceil() as u64)
}

/// Delay before reconnection attempt `attempt` (0-based): 500 ms doubling up to
/// [`MAX_RECONNECT_DELAY`].
pub fn reconnect_delay(attempt: u32) -> Duration {
    let millis = 500u64.saturating_mul(1u64 << attempt.min(16));
    Duration::from_millis(millis).min(MAX_RECONNECT_DELAY)
}

#[cfg(feature = "hydrate")]
mod socket;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::{TargetView, TrafficStats};
    use chrono::Utc;

    fn target(url: &str) -> TargetView {
        TargetView {
            route: "api".into(),
            url: url.into(),
            weight: 1,
            healthy: true,
            breaker: "closed".into(),
            in_flight: 0,
            consecutive_failures: 0,
            last_check: None,
            last_error: None,
            share: 0.0,
            traffic: TrafficStats::default(),
            transitions: Vec::new(),
        }
    }

    fn transition(target: &str, kind: &str, to: &str) -> TargetTransition {
        TargetTransition {
            at: Utc::now(),
            route: "api".into(),
            target: target.into(),
            kind: kind.into(),
            from: String::new(),
            to: to.into(),
            reason: None,
        }
    }

    fn change(second: i64, firing_now: usize) -> AlertChange {
        AlertChange {
            rule: "errors".into(),
            at: DateTime::from_timestamp(1_700_000_000 + second, 0).unwrap(),
            firing_now,
            ..AlertChange::default()
        }
    }

    #[test]
    fn the_firing_count_is_the_newest_changes_and_a_newer_read_wins() {
        assert_eq!(FiringCount::after(&[]), None);
        let pushed = FiringCount::after(&[change(1, 1), change(2, 3)]).unwrap();
        assert_eq!(pushed.count, 3, "the newest change's count");
        let read = |second, count| FiringCount {
            at: change(second, 0).at,
            count,
        };
        // A page read after the push describes a later state; one read before it, an earlier.
        assert_eq!(
            FiringCount::newest(Some(pushed), Some(read(5, 0))),
            Some(read(5, 0))
        );
        assert_eq!(
            FiringCount::newest(Some(read(1, 0)), Some(pushed)),
            Some(pushed)
        );
        assert_eq!(
            FiringCount::newest(Some(read(2, 0)), Some(pushed)),
            Some(pushed),
            "a tie: the push"
        );
        assert_eq!(FiringCount::newest(None, Some(pushed)), Some(pushed));
        assert_eq!(FiringCount::newest(Some(pushed), None), Some(pushed));
        assert_eq!(FiringCount::newest(None, None), None);
    }

    #[test]
    fn each_tick_carries_the_firing_count_so_a_reconnected_page_catches_up() {
        let owner = Owner::new();
        owner.set();
        let feed = LiveFeed::provide();
        let tick = |second, alerts_firing| {
            LiveEvent::Tick(UptimeTick {
                uptime_secs: 0,
                at: change(second, 0).at,
                alerts_firing,
            })
        };
        feed.apply(vec![LiveEvent::Alert(change(1, 2))]);
        assert_eq!(feed.alerts_firing.get_untracked().unwrap().count, 2);
        // The socket was down while both resolved: the next tick says so.
        feed.apply(vec![tick(9, 0)]);
        assert_eq!(feed.alerts_firing.get_untracked().unwrap().count, 0);
        // A change newer than the tick in the same batch wins.
        feed.apply(vec![tick(10, 0), LiveEvent::Alert(change(11, 1))]);
        assert_eq!(feed.alerts_firing.get_untracked().unwrap().count, 1);
    }

    #[test]
    fn transitions_patch_their_target_and_the_route_down_flag() {
        let mut routes = vec![RouteView {
            name: "api".into(),
            path: "/api/*".into(),
            strategy: "round_robin".into(),
            tls_unverified: false,
            traffic: TrafficStats::default(),
            targets: vec![target("http://a"), target("http://b")],
            all_targets_down: false,
        }];
        patch_target_state(&mut routes, &transition("http://a", "health", "unhealthy"));
        assert!(!routes[0].targets[0].healthy);
        assert!(!routes[0].all_targets_down, "b is still up");
        patch_target_state(&mut routes, &transition("http://b", "breaker", "open"));
        assert_eq!(routes[0].targets[1].breaker, "open");
        assert!(routes[0].all_targets_down);
        patch_target_state(&mut routes, &transition("http://a", "health", "healthy"));
        assert!(!routes[0].all_targets_down);
        // Unknown targets and routes change nothing.
        let before = routes.clone();
        patch_target_state(
            &mut routes,
            &transition("http://zzz", "health", "unhealthy"),
        );
        assert_eq!(routes, before);
    }

    #[test]
    fn flushes_are_at_least_a_flush_interval_apart() {
        assert_eq!(flush_delay(f64::INFINITY), Duration::ZERO, "quiet: at once");
        assert_eq!(flush_delay(300.0), Duration::ZERO);
        assert_eq!(flush_delay(0.0), FLUSH_INTERVAL);
        // Rounded up: 249.6 ms would let 5 flushes into one second.
        assert_eq!(flush_delay(0.4), Duration::from_millis(250));
        assert_eq!(flush_delay(100.0), Duration::from_millis(150));
        // At most 4 a second, whatever the arrival times: as the socket schedules them (a
        // flush is scheduled when an event arrives and none is pending).
        let (mut flushes, mut last, mut scheduled) = (Vec::new(), f64::NEG_INFINITY, None);
        let mut now = 0.0f64;
        while now < 10_000.0 {
            if let Some(at) = scheduled.filter(|at| now >= *at) {
                flushes.push(at);
                last = at;
                scheduled = None;
            }
            if scheduled.is_none() {
                scheduled = Some(now + flush_delay(now - last).as_secs_f64() * 1_000.0);
            }
            now += 7.3; // an event every 7.3 ms
        }
        assert!(flushes.len() >= 39, "{} flushes in 10 s", flushes.len());
        for start in &flushes {
            let in_second = flushes
                .iter()
                .filter(|t| **t >= *start && **t < start + 1_000.0)
                .count();
            assert!(
                in_second <= 4,
                "{in_second} flushes in the second from {start}"
            );
        }
    }

    #[test]
    fn reconnect_delay_doubles_then_caps() {
        assert_eq!(reconnect_delay(0), Duration::from_millis(500));
        assert_eq!(reconnect_delay(1), Duration::from_millis(1000));
        assert_eq!(reconnect_delay(3), Duration::from_millis(4000));
        assert_eq!(reconnect_delay(5), MAX_RECONNECT_DELAY);
        assert_eq!(reconnect_delay(u32::MAX), MAX_RECONNECT_DELAY);
    }
}
