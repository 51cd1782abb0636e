//! Plain serde view types shared by the server and the WASM client.
//!
//! Server internals (atomics, `Instant`s, channels) never appear here; the server converts its
//! state into these types, and the client only ever sees these.

mod alerts;
mod auth;
mod config;
mod history;
mod metrics;
mod requests;
mod series;
mod stats;
#[cfg(test)]
pub mod testing;
mod tls;

pub use alerts::{
    AlertChange, AlertHistoryPage, AlertStart, AlertState, AlertView, AlertsSnapshot, NewSilence,
    NotificationOutcome, NotifierView, SilenceView,
};
pub use auth::{AuditEntry, AuditPage, Role, SessionView};
pub use config::{ConfigApplied, ConfigCheck, ConfigDocument, ConfigFieldError, ConfigVersion};
pub use history::HistoryStatus;
pub use metrics::{
    GatewayHealth, LatencyPercentiles, LogLine, LogPage, MetricsSnapshot, MetricsTick, ModelView,
    RequestBatch, RequestPage, RouteHealth, RouteView, SystemStats, TargetTransition, TargetView,
    TrafficStats,
};
pub use requests::{
    ExchangedHeaders, HeaderLine, LlmUsage, RequestDetail, RequestRecord, status_class,
};
pub use series::{SecondSample, SeriesPoint};
pub use stats::{PeriodStats, StatsPeriod, StatsSummary, StatusClasses};
pub use tls::{CertificateView, EXPIRING_SOON_DAYS, Expiry};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What the dashboard shows about the running gateway process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayStatus {
    /// The `gatewatch` version.
    pub version: String,
    /// When this process started.
    pub started_at: DateTime<Utc>,
    /// Seconds since start, as of `generated_at`.
    pub uptime_secs: u64,
    /// When the server produced this snapshot.
    pub generated_at: DateTime<Utc>,
    /// The address the proxy listens on.
    pub proxy_listen: String,
    /// The address the dashboard listens on.
    pub dashboard_listen: String,
    /// The config file this process runs on.
    pub config_path: String,
    /// Number of configured routes.
    pub route_count: usize,
    /// Requests the proxy has finished since start.
    pub requests_total: u64,
    /// The outcome of the last config reload, if there was one.
    pub last_reload: Option<ConfigReload>,
    /// Whether the built-in demo runs: the config in force has a `demo` section with upstreams
    /// or traffic (a reload that removes it stops the demo).
    pub demo: bool,
}

/// Everything the overview page shows, in one answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OverviewData {
    pub status: GatewayStatus,
    pub metrics: MetricsSnapshot,
    pub routes: Vec<RouteView>,
    pub health: GatewayHealth,
    /// Where alerts began firing, from the alert history's newest firing changes (the
    /// request-rate chart marks them); empty when the history cannot be read.
    pub alert_starts: Vec<AlertStart>,
}

/// The outcome of one attempt to reload `config.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigReload {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What set it off: `"file change"`, `"SIGHUP"` or `"dashboard edit"`.
    pub trigger: String,
    /// Whether the new config is now in force (otherwise the previous one keeps serving).
    pub applied: bool,
    /// Why it was rejected: one line per field error (`routes[0].path: …`).
    pub errors: Vec<String>,
    /// Things applied only partly (e.g. listen addresses, which need a restart).
    pub warnings: Vec<String>,
    /// What the applied config changed, one line per kind (`routes added: api`, `settings
    /// changed: demo`); empty for a rejected one or one that changed nothing.
    #[serde(default)]
    pub changes: Vec<String>,
}

/// One message pushed to browsers over the live WebSocket (`/api/live`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// Sent once a second: the gateway is alive, and for how long.
    Tick(UptimeTick),
    /// `config.json` was reloaded, or a reload was rejected.
    ConfigReload(ConfigReload),
    /// Sent once a second: the second that just ended and running totals.
    Metrics(MetricsTick),
    /// Requests that finished since the last batch.
    Requests(RequestBatch),
    /// A target changed health or breaker state.
    Transition(TargetTransition),
    /// A new line in the gateway's own log.
    Log(LogLine),
    /// Sent once a second: every route and target with its live state and traffic.
    Routes(RoutesTick),
    /// Sent once a second while there is LLM traffic: every model's traffic.
    Models(ModelsTick),
    /// An alert changed state (pending, firing, resolved, back to inactive).
    Alert(AlertChange),
}

impl LiveEvent {
    /// Reads one pushed message: its `type`, then the message again as that type's payload
    /// (which ignores the `type` field). The same as the derived decoder, but each payload is
    /// read by the decoder the pages' own reads of that type use, so the WASM client carries
    /// one decoder per type instead of two (the derived one buffers the message first).
    pub fn from_json(json: &[u8]) -> serde_json::Result<Self> {
        #[derive(Deserialize)]
        struct Tag {
            #[serde(rename = "type")]
            kind: String,
        }
        fn payload<'a, T: Deserialize<'a>>(json: &'a [u8]) -> serde_json::Result<T> {
            serde_json::from_slice(json)
        }
        let Tag { kind } = serde_json::from_slice(json)?;
        Ok(match kind.as_str() {
            "tick" => Self::Tick(payload(json)?),
            "config_reload" => Self::ConfigReload(payload(json)?),
            "metrics" => Self::Metrics(payload(json)?),
            "requests" => Self::Requests(payload(json)?),
            "transition" => Self::Transition(payload(json)?),
            "log" => Self::Log(payload(json)?),
            "routes" => Self::Routes(payload(json)?),
            "models" => Self::Models(payload(json)?),
            "alert" => Self::Alert(payload(json)?),
            other => {
                return Err(serde::de::Error::unknown_variant(
                    other,
                    &[
                        "tick",
                        "config_reload",
                        "metrics",
                        "requests",
                        "transition",
                        "log",
                        "routes",
                        "models",
                        "alert",
                    ],
                ));
            }
        })
    }
}

/// The payload of [`LiveEvent::Routes`] (a struct: an internally tagged enum cannot carry a bare
/// list).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoutesTick {
    /// As `/api/routes` answers, without transitions (each came as [`LiveEvent::Transition`]).
    pub routes: Vec<RouteView>,
}

/// The payload of [`LiveEvent::Models`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelsTick {
    /// As `/api/models` answers.
    pub models: Vec<ModelView>,
}

/// The payload of [`LiveEvent::Tick`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UptimeTick {
    /// Seconds since the gateway started.
    pub uptime_secs: u64,
    /// Server time of the tick.
    pub at: DateTime<Utc>,
    /// Alerts firing at `at` (the navigation's badge: a page whose socket was down catches up
    /// within a second).
    #[serde(default)]
    pub alerts_firing: usize,
}

/// Formats a duration in seconds the way operators read it: `3d 4h`, `2h 5m`, `4m 09s`, `12s`.
pub fn format_uptime(secs: u64) -> String {
    let (days, hours, minutes, seconds) = (
        secs / 86_400,
        secs % 86_400 / 3_600,
        secs % 3_600 / 60,
        secs % 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, _) => format!("{minutes}m {seconds:02}s"),
        (0, _, _) => format!("{hours}h {minutes:02}m"),
        _ => format!("{days}d {hours}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_is_formatted_with_the_two_largest_units() {
        assert_eq!(format_uptime(0), "0s");
        assert_eq!(format_uptime(59), "59s");
        assert_eq!(format_uptime(60), "1m 00s");
        assert_eq!(format_uptime(249), "4m 09s");
        assert_eq!(format_uptime(3_600 * 2 + 5 * 60 + 7), "2h 05m");
        assert_eq!(format_uptime(86_400 * 3 + 3_600 * 4 + 1), "3d 4h");
    }

    #[test]
    fn live_events_are_tagged_json() {
        let event = LiveEvent::Tick(UptimeTick {
            uptime_secs: 5,
            at: DateTime::from_timestamp(0, 0).unwrap(),
            alerts_firing: 0,
        });
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "tick");
        assert_eq!(json["uptime_secs"], 5);
        let back: LiveEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn the_clients_decoder_reads_what_the_derived_one_reads() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let events = [
            LiveEvent::Tick(UptimeTick {
                uptime_secs: 5,
                at,
                alerts_firing: 2,
            }),
            LiveEvent::ConfigReload(ConfigReload {
                at,
                trigger: "SIGHUP".into(),
                applied: false,
                errors: vec!["routes[0].path: must start with /".into()],
                warnings: Vec::new(),
                changes: Vec::new(),
            }),
            LiveEvent::Metrics(MetricsTick {
                point: SeriesPoint::default(),
                uptime_secs: 9,
                requests_total: 40,
                errors_total: 1,
                errors_by_kind: [("timeout".to_string(), 1)].into(),
                in_flight_requests: 3,
            }),
            LiveEvent::Requests(RequestBatch {
                requests: Vec::new(),
                omitted: 4,
            }),
            LiveEvent::Transition(TargetTransition {
                at,
                route: "api".into(),
                target: "http://127.0.0.1:9001".into(),
                kind: "health".into(),
                from: "healthy".into(),
                to: "unhealthy".into(),
                reason: Some("connection refused".into()),
            }),
            LiveEvent::Log(LogLine {
                seq: 7,
                at,
                level: "WARN".into(),
                target: "gatewatch".into(),
                message: "a \"quoted\" type".into(),
            }),
            LiveEvent::Routes(RoutesTick { routes: Vec::new() }),
            LiveEvent::Models(ModelsTick { models: Vec::new() }),
            LiveEvent::Alert(AlertChange {
                rule: "errors".into(),
                state: AlertState::Firing,
                at,
                started_at: Some(at),
                firing_now: 1,
                ..AlertChange::default()
            }),
        ];
        for event in events {
            let text = serde_json::to_string(&event).unwrap();
            let derived: LiveEvent = serde_json::from_str(&text).unwrap();
            assert_eq!(LiveEvent::from_json(text.as_bytes()).unwrap(), derived);
            assert_eq!(derived, event);
        }
        let unknown = LiveEvent::from_json(br#"{"type":"weather","sunny":true}"#).unwrap_err();
        assert!(
            unknown.to_string().contains("unknown variant `weather`"),
            "{unknown}"
        );
        assert!(LiveEvent::from_json(br#"{"uptime_secs":1}"#).is_err());
    }

    #[test]
    fn list_events_round_trip() {
        // An internally tagged enum cannot serialize a variant holding a bare list: these fail
        // at run time, not at compile time, so each is tried here.
        for event in [
            LiveEvent::Routes(RoutesTick { routes: Vec::new() }),
            LiveEvent::Models(ModelsTick { models: Vec::new() }),
        ] {
            let text = serde_json::to_string(&event).unwrap();
            let back: LiveEvent = serde_json::from_str(&text).unwrap();
            assert_eq!(back, event);
        }
    }
}
