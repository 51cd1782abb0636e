//! The receiving end of the proxy's event queue: feeds every event to the metrics engine (the
//! one place requests are counted), hands request records to the history writer, and publishes
//! live events — finished requests in batches, a metrics tick each second, target transitions.
//!
//! It drains the queue in batches every [`BATCH_INTERVAL`] instead of waiting on it: the proxy's
//! push then never has a waiting task to wake, so recording costs the hot path one non-blocking
//! queue push and no cross-thread wake-up.

use crate::server::alerts;
use crate::server::gateway::snapshot;
use crate::server::gateway::{Gateway, SharedGateway};
use crate::server::metrics::prometheus::GaugeValues;
use crate::server::metrics::series::Gauges;
use crate::server::metrics::system::SystemSampler;
use crate::server::proxy::event::{EventQueue, ProxyEvent, RequestEvent};
use crate::server::records::record::SharedRecord;
use crate::views::{LiveEvent, MetricsTick, RequestBatch, RequestRecord};
use chrono::{DurationRound, TimeDelta, Utc};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// How often queued events are taken: the most a finished request waits before it is counted.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(20);
/// How often finished requests are published to live subscribers (at most).
pub const LIVE_BATCH_INTERVAL: Duration = Duration::from_millis(100);
/// Most requests in one live batch (the newest are kept, the rest counted as omitted).
pub const LIVE_BATCH_MAX: usize = 100;
/// How often records are handed to the history writer.
pub const HISTORY_BATCH_INTERVAL: Duration = Duration::from_millis(250);

/// Consumes proxy events until the queue closes or `stop` is cancelled (the runtime cancels it
/// once in-flight requests have drained, so their events are counted too).
pub async fn run(mut events: EventQueue, gateway: SharedGateway, stop: CancellationToken) {
    let mut drain = tokio::time::interval(BATCH_INTERVAL);
    drain.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut seconds = tokio::time::interval_at(next_whole_second(), Duration::from_secs(1));
    seconds.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut sampler = SystemSampler::default();
    let mut outbox = Outbox::default();
    let mut drained = Drained::default();
    loop {
        let stopping = tokio::select! {
            _ = drain.tick() => false,
            _ = seconds.tick() => {
                close_second(&gateway, &mut sampler);
                false
            }
            _ = stop.cancelled() => true,
        };
        let open = drain_queue(&mut events, &gateway, &mut outbox, &mut drained);
        if stopping || !open {
            // The last batch waits for room in the writer's queue rather than being dropped:
            // every request that finished is in the history after a graceful shutdown.
            outbox.publish_live(&gateway, true);
            let last = std::mem::take(&mut outbox.history);
            if let Some(history) = gateway.history().cloned()
                && !last.is_empty()
            {
                let _ = tokio::task::spawn_blocking(move || history.submit_blocking(last)).await;
            }
            gateway.release_written_history();
            return;
        }
        outbox.publish_live(&gateway, false);
        outbox.submit_history(&gateway);
        gateway.release_written_history();
    }
}

/// The events of one drain, in buffers kept from drain to drain: a fresh buffer for a few
/// hundred events is a large allocation, which the allocator served from newly mapped memory,
/// page faults included, 50 times a second.
#[derive(Default)]
struct Drained {
    requests: Vec<RequestEvent>,
    others: Vec<ProxyEvent>,
}

/// Request events whose buffer is kept between drains (a larger burst's is given back).
const KEPT_DRAIN_CAPACITY: usize = 4_096;

/// Takes everything queued; returns false once the queue is closed.
fn drain_queue(
    events: &mut EventQueue,
    gateway: &Gateway,
    outbox: &mut Outbox,
    drained: &mut Drained,
) -> bool {
    let Drained { requests, others } = drained;
    // Moved a thread's share at a time (the buffer grows at most once per share).
    events.take_requests(requests);
    let open = loop {
        match events.try_recv_other() {
            Ok(event) => others.push(event),
            Err(mpsc::error::TryRecvError::Empty) => break true,
            Err(mpsc::error::TryRecvError::Disconnected) => break false,
        }
    };
    let metrics = gateway.metrics();
    if !requests.is_empty() {
        outbox.add(
            metrics.record_requests(requests),
            gateway.has_live_subscribers(),
        );
        // Moving each event on costs a copy of it; skipped when nobody subscribed.
        if gateway.has_proxy_event_subscribers() {
            for event in requests.drain(..) {
                gateway.publish_proxy_event(ProxyEvent::Request(event));
            }
        }
        requests.clear();
        requests.shrink_to(KEPT_DRAIN_CAPACITY);
    }
    for event in others.drain(..) {
        match &event {
            ProxyEvent::WebSocket(session) => metrics.record_websocket(session),
            ProxyEvent::Transition(transition) => {
                metrics.record_transition(transition.clone());
                gateway.publish(LiveEvent::Transition(transition.clone()));
            }
            ProxyEvent::Request(_) => {}
        }
        gateway.publish_proxy_event(event);
    }
    open
}

/// Closes the second that just ended: samples gauges and resources, publishes the tick and
/// refreshes the Prometheus gauges.
fn close_second(gateway: &Gateway, sampler: &mut SystemSampler) {
    let now = Utc::now();
    let second = now.duration_trunc(TimeDelta::seconds(1)).unwrap_or(now) - TimeDelta::seconds(1);
    let activity = snapshot::activity(gateway);
    let system = sampler.sample();
    let metrics = gateway.metrics();
    let point = metrics.close_second(
        second,
        Gauges {
            active_connections: activity.active_connections,
            open_websockets: activity.open_websockets,
        },
        system.clone(),
    );
    let (requests_total, errors_total) = metrics.request_totals();
    gateway.publish(LiveEvent::Metrics(MetricsTick {
        point,
        uptime_secs: gateway.uptime_secs(),
        requests_total,
        errors_total,
        errors_by_kind: metrics.errors_by_kind(),
        in_flight_requests: activity.in_flight_requests,
    }));
    let history = gateway.history_status();
    let routes = snapshot::routes(gateway);
    if gateway.has_live_subscribers() {
        for event in snapshot::live_state(gateway, &routes) {
            gateway.publish(event);
        }
    }
    let certificates = gateway.tls().certificates(now);
    let alert_changes = gateway.alerts().evaluate(
        now,
        metrics,
        &alerts::Gauges {
            routes: &routes,
            system: &system,
            history_rows_dropped: history.as_ref().map_or(0, |h| h.rows_dropped),
            certificate_days: certificates
                .iter()
                .map(|certificate| (certificate.not_after - now).num_seconds() as f64 / 86_400.0)
                .reduce(f64::min),
        },
    );
    for change in alert_changes {
        gateway.publish(LiveEvent::Alert(change));
    }
    let targets: Vec<_> = routes.into_iter().flat_map(|route| route.targets).collect();
    metrics.prometheus().set_gauges(
        &GaugeValues {
            active_connections: activity.active_connections,
            connections_rejected: gateway
                .proxy()
                .core()
                .connections_rejected
                .load(std::sync::atomic::Ordering::Relaxed),
            open_websockets: activity.open_websockets,
            uptime_secs: gateway.uptime_secs(),
            events_dropped: gateway.proxy().core().events.dropped(),
            proxy_worker_restarts: crate::server::proxy::workers::restarts(),
            history_rows_dropped: history.as_ref().map_or(0, |h| h.rows_dropped),
            history_healthy: history.as_ref().is_none_or(|h| h.healthy),
            system,
            tls_handshake_errors: if gateway.listening().https.is_some()
                || gateway.listening().dashboard_tls
            {
                gateway.tls().handshake_errors.totals()
            } else {
                Vec::new()
            },
            alerts_firing: gateway.alerts().firing_by_rule(),
            alert_evaluation: gateway.alerts().evaluation_time(),
            certificate_expiry: certificates
                .into_iter()
                .map(|certificate| {
                    let name = certificate.names.first().cloned().unwrap_or_default();
                    (name, certificate.not_after.timestamp())
                })
                .collect(),
        },
        &targets,
    );
}

/// The start of the next wall-clock second, as a Tokio instant.
fn next_whole_second() -> Instant {
    let now = Utc::now();
    let into_second = now.timestamp_subsec_nanos();
    Instant::now() + Duration::from_nanos(u64::from(1_000_000_000 - into_second.min(999_999_999)))
}

/// Records waiting to be published live and written to the history.
#[derive(Default)]
struct Outbox {
    /// Shared until sent: only the newest [`LIVE_BATCH_MAX`] are copied, when a batch goes out.
    live: VecDeque<SharedRecord>,
    live_omitted: u64,
    live_sent: Option<Instant>,
    history: Vec<SharedRecord>,
    history_sent: Option<Instant>,
}

impl Outbox {
    /// Queues `records` for the history, and for live subscribers if there are any (with nobody
    /// watching, finished requests are not copied for them).
    fn add(&mut self, records: Vec<SharedRecord>, live: bool) {
        self.history.reserve(records.len());
        for record in records {
            if live {
                if self.live.len() == LIVE_BATCH_MAX {
                    self.live.pop_front();
                    self.live_omitted += 1;
                }
                self.live.push_back(record.clone());
            }
            self.history.push(record);
        }
    }

    /// Publishes the live batch if it is due (whatever is waiting when `flush`).
    fn publish_live(&mut self, gateway: &Gateway, flush: bool) {
        let due = flush
            || self
                .live_sent
                .is_none_or(|sent| sent.elapsed() >= LIVE_BATCH_INTERVAL);
        if !self.live.is_empty() && due {
            gateway.publish(LiveEvent::Requests(RequestBatch {
                requests: self
                    .live
                    .drain(..)
                    .map(|record| RequestRecord::clone(&record))
                    .collect(),
                omitted: std::mem::take(&mut self.live_omitted),
            }));
            self.live_sent = Some(Instant::now());
        }
    }

    /// Hands the history batch to the writer without waiting, if it is due.
    fn submit_history(&mut self, gateway: &Gateway) {
        let due = self
            .history_sent
            .is_none_or(|sent| sent.elapsed() >= HISTORY_BATCH_INTERVAL);
        if !self.history.is_empty() && due {
            // The next batch will be about as large: sized so it need not grow step by step.
            let next = Vec::with_capacity(self.history.len());
            gateway.record_history(std::mem::replace(&mut self.history, next));
            self.history_sent = Some(Instant::now());
        }
    }
}
