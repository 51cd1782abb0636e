//! The metrics engine: the one place finished requests, WebSocket sessions and target transitions
//! are counted. The recorder task feeds it in batches; API handlers read snapshots. Its lock is
//! held only for in-memory updates and copies, never across an await, and never by the proxy.

use super::aggregate::Aggregates;
use super::header_log::HeaderLog;
use super::prometheus::PrometheusMetrics;
use super::recent::RecentRequests;
use super::series::{Gauges, Series};
use crate::request_filter::RequestQuery;
use crate::server::alerts::window::RequestWindows;
use crate::server::config::AlertsConfig;
use crate::server::proxy::event::{RequestEvent, WebSocketEvent};
use crate::server::records::record::{SharedRecord, request_record};
use crate::views::{
    ExchangedHeaders, ModelView, RequestRecord, SeriesPoint, SystemStats, TargetTransition,
    TrafficStats,
};
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Most transitions kept (across all targets).
pub const MAX_TRANSITIONS: usize = 1_000;

/// Everything counted so far.
#[derive(Debug, Default)]
struct EngineState {
    next_seq: u64,
    aggregates: Aggregates,
    series: Series,
    recent: RecentRequests,
    headers: HeaderLog,
    transitions: VecDeque<TargetTransition>,
    websocket_sessions: u64,
    system: SystemStats,
    /// The recent seconds of the scopes alert rules watch.
    alert_windows: RequestWindows,
}

/// See the module docs.
pub struct MetricsEngine {
    state: Mutex<EngineState>,
    prometheus: PrometheusMetrics,
}

/// Totals and rates for `/api/metrics`.
#[derive(Clone, Debug)]
pub struct EngineSnapshot {
    pub totals: TrafficStats,
    pub rps: f64,
    pub error_rate: f64,
    pub series: Vec<SeriesPoint>,
    pub system: SystemStats,
    pub websocket_sessions: u64,
}

impl MetricsEngine {
    /// An engine numbering requests from `first_seq` (one past the history's newest).
    pub fn new(first_seq: u64) -> Self {
        Self {
            state: Mutex::new(EngineState {
                next_seq: first_seq,
                system: super::system::host(),
                ..EngineState::default()
            }),
            prometheus: PrometheusMetrics::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, EngineState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts finished requests; returns their records (numbered) for the history and live view.
    /// The events' captured headers are moved into the engine (kept for the newest requests).
    pub fn record_requests(&self, events: &mut [RequestEvent]) -> Vec<SharedRecord> {
        let records = {
            let mut state = self.state();
            let mut records = Vec::with_capacity(events.len());
            for event in events.iter_mut() {
                let record = SharedRecord::new(request_record(event, state.next_seq));
                if let Some(headers) = event.headers.take() {
                    state.headers.push(record.seq, headers);
                }
                state.next_seq += 1;
                state.series.add(&record);
                state.recent.push(record.clone());
                records.push(record);
            }
            state.aggregates.add_all(&records);
            state.alert_windows.add_all(&records);
            records
        };
        self.prometheus.record_requests(&records);
        records
    }

    /// Counts a finished WebSocket session.
    pub fn record_websocket(&self, event: &WebSocketEvent) {
        self.state().websocket_sessions += 1;
        self.prometheus.record_websocket(&event.route);
    }

    /// Keeps a target's transition among the recent ones.
    pub fn record_transition(&self, transition: TargetTransition) {
        let mut state = self.state();
        if state.transitions.len() == MAX_TRANSITIONS {
            state.transitions.pop_front();
        }
        state.transitions.push_back(transition);
    }

    /// Closes the second starting `at` with these gauges and resources.
    pub fn close_second(
        &self,
        at: DateTime<Utc>,
        gauges: Gauges,
        system: SystemStats,
    ) -> SeriesPoint {
        let mut state = self.state();
        let point = state.series.close_second(at, gauges, &system);
        state.aggregates.close_second();
        state.alert_windows.close_second();
        state.system = system;
        point
    }

    /// Keeps the recent seconds of the scopes `alerts`' rules take from requests, each for its
    /// longest window.
    pub fn watch_alerts(&self, alerts: &AlertsConfig) {
        let scopes: Vec<_> = alerts
            .rules
            .iter()
            .filter(|rule| rule.metric.from_requests())
            .map(|rule| (rule.scope.clone(), rule.window_s))
            .collect();
        self.state().alert_windows.watch(&scopes);
    }

    /// Runs `read` over the alert windows (the engine's lock held meanwhile: keep it short).
    pub fn with_alert_windows<T>(&self, read: impl FnOnce(&RequestWindows) -> T) -> T {
        read(&self.state().alert_windows)
    }

    /// Totals, recent rates and the per-second series.
    pub fn snapshot(&self) -> EngineSnapshot {
        let state = self.state();
        let (rps, error_rate) = state.series.recent_rates(10);
        EngineSnapshot {
            totals: state.aggregates.total.view(),
            rps,
            error_rate,
            series: state.series.points(),
            system: state.system.clone(),
            websocket_sessions: state.websocket_sessions,
        }
    }

    /// Requests and errors so far.
    pub fn request_totals(&self) -> (u64, u64) {
        let state = self.state();
        (
            state.aggregates.total.requests,
            state.aggregates.total.errors,
        )
    }

    /// Errors so far by kind.
    pub fn errors_by_kind(&self) -> std::collections::BTreeMap<String, u64> {
        self.state().aggregates.total.errors_by_kind.clone()
    }

    /// The traffic of route `name` so far.
    pub fn route_traffic(&self, name: &str) -> TrafficStats {
        let state = self.state();
        state
            .aggregates
            .routes
            .get(name)
            .map(|t| t.view())
            .unwrap_or_default()
    }

    /// The traffic of `target` on `route` so far.
    pub fn target_traffic(&self, route: &str, target: &str) -> TrafficStats {
        let state = self.state();
        state
            .aggregates
            .target(route, target)
            .map(|t| t.view())
            .unwrap_or_default()
    }

    /// The newest transitions of `target` on `route`, newest first, at most `limit`.
    pub fn transitions_of(&self, route: &str, target: &str, limit: usize) -> Vec<TargetTransition> {
        let state = self.state();
        state
            .transitions
            .iter()
            .rev()
            .filter(|t| t.route == route && t.target == target)
            .take(limit)
            .cloned()
            .collect()
    }

    /// Every model seen, by name.
    pub fn models(&self) -> Vec<ModelView> {
        self.state().aggregates.model_views()
    }

    /// Recent requests passing `query`, and the oldest `seq` the ring holds (older requests are
    /// only in the history).
    pub fn recent_requests(&self, query: &RequestQuery) -> (Vec<RequestRecord>, Option<u64>) {
        let state = self.state();
        (state.recent.query(query), state.recent.oldest_seq())
    }

    /// The newest recent request with this id.
    pub fn recent_request(&self, request_id: &str) -> Option<RequestRecord> {
        self.state().recent.by_id(request_id)
    }

    /// The headers of request `seq`, while they are kept (only the newest requests').
    pub fn request_headers(&self, seq: u64) -> Option<ExchangedHeaders> {
        let captured = self.state().headers.get(seq).cloned();
        // Turned into text (and redacted) outside the lock.
        captured.map(|captured| captured.exchanged())
    }

    /// The Prometheus side.
    pub fn prometheus(&self) -> &PrometheusMetrics {
        &self.prometheus
    }
}
