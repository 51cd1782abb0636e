//! The name of every series `/metrics` exports, each with its kind and `# HELP` text: the one
//! place a metric is named, so the exporter, its tests and the README cannot drift apart.

/// How a family is exposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One metric family: its name, kind and help text.
#[derive(Clone, Copy, Debug)]
pub struct Family {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

macro_rules! families {
    ($($constant:ident = $name:literal, $kind:ident, $help:literal;)*) => {
        $(
            #[doc = $help]
            pub const $constant: &str = $name;
        )*
        /// Every family, in the order they are documented.
        pub const FAMILIES: &[Family] = &[
            $(Family { name: $constant, kind: Kind::$kind, help: $help },)*
        ];
    };
}

families! {
    REQUESTS_TOTAL = "gatewatch_requests_total", Counter,
        "Proxied requests by route, target and status class.";
    REQUEST_ERRORS_TOTAL = "gatewatch_request_errors_total", Counter,
        "Requests that did not get an ordinary upstream answer, by route and error kind.";
    REQUEST_DURATION_SECONDS = "gatewatch_request_duration_seconds", Histogram,
        "Time from a request's arrival to the end of its response, by route.";
    UPSTREAM_RESPONSE_SECONDS = "gatewatch_upstream_response_seconds", Histogram,
        "Time until the upstream's response headers, by route and target.";
    REQUEST_BYTES_TOTAL = "gatewatch_request_bytes_total", Counter,
        "Request body bytes received from clients, by route.";
    RESPONSE_BYTES_TOTAL = "gatewatch_response_bytes_total", Counter,
        "Response body bytes sent to clients, by route.";
    LLM_REQUESTS_TOTAL = "gatewatch_llm_requests_total", Counter,
        "LLM API requests whose model was read from the answer, by model.";
    LLM_TOKENS_TOTAL = "gatewatch_llm_tokens_total", Counter,
        "LLM tokens by model and direction (input or output).";
    LLM_TIME_TO_FIRST_TOKEN_SECONDS = "gatewatch_llm_time_to_first_token_seconds", Histogram,
        "Time from a streamed LLM request's arrival to its first content, by model.";
    WEBSOCKET_SESSIONS_TOTAL = "gatewatch_websocket_sessions_total", Counter,
        "Finished WebSocket sessions, by route.";
    ACTIVE_CONNECTIONS = "gatewatch_active_connections", Gauge,
        "Client connections open on the proxy listener.";
    CONNECTIONS_REJECTED_TOTAL = "gatewatch_connections_rejected_total", Counter,
        "Client connections the proxy listeners closed at once because limits.max_connections were open.";
    OPEN_WEBSOCKETS = "gatewatch_open_websockets", Gauge,
        "WebSocket tunnels open now.";
    UPTIME_SECONDS = "gatewatch_uptime_seconds", Gauge,
        "Seconds since the gateway started.";
    EVENTS_DROPPED = "gatewatch_events_dropped", Gauge,
        "Request events dropped because the recorder's queue was full, since start.";
    PROXY_WORKER_RESTARTS_TOTAL = "gatewatch_proxy_worker_restarts_total", Counter,
        "Proxy worker threads started again after a panic cut their connections, since start.";
    HISTORY_ROWS_DROPPED = "gatewatch_history_rows_dropped", Gauge,
        "Requests the history could not store (disk full, file locked), since start.";
    HISTORY_HEALTHY = "gatewatch_history_healthy", Gauge,
        "1 while the history's writes succeed, 0 while they fail.";
    PROCESS_CPU_PERCENT = "gatewatch_process_cpu_percent", Gauge,
        "CPU used by the gateway process, in percent of one core.";
    PROCESS_RESIDENT_MEMORY_BYTES = "gatewatch_process_resident_memory_bytes", Gauge,
        "Resident memory of the gateway process.";
    HOST_CPU_PERCENT = "gatewatch_host_cpu_percent", Gauge,
        "CPU used on the host, in percent of all cores.";
    HOST_MEMORY_USED_BYTES = "gatewatch_host_memory_used_bytes", Gauge,
        "Memory used on the host.";
    TARGET_HEALTHY = "gatewatch_target_healthy", Gauge,
        "1 while a target is in rotation, 0 while health checks keep it out, by route and target.";
    TARGET_IN_FLIGHT = "gatewatch_target_in_flight", Gauge,
        "Requests a target is serving now, by route and target.";
    TARGET_BREAKER_STATE = "gatewatch_target_breaker_state", Gauge,
        "A target's circuit breaker: 0 closed, 1 half open, 2 open; by route and target.";
    TLS_HANDSHAKE_ERRORS_TOTAL = "gatewatch_tls_handshake_errors_total", Counter,
        "Failed TLS handshakes on the HTTPS listeners, by kind.";
    TLS_CERTIFICATE_EXPIRY_TIMESTAMP_SECONDS = "gatewatch_tls_certificate_expiry_timestamp_seconds", Gauge,
        "When each served certificate expires (Unix seconds), by its first name.";
    ALERTS_FIRING = "gatewatch_alerts_firing", Gauge,
        "1 while an alert rule fires, else 0; by rule and severity.";
    ALERT_EVALUATION_SECONDS = "gatewatch_alert_evaluation_seconds", Gauge,
        "How long the newest evaluation of every alert rule took.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_prefixed_and_counters_end_in_total() {
        let mut names: Vec<&str> = FAMILIES.iter().map(|family| family.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FAMILIES.len(), "a name is used twice");
        for family in FAMILIES {
            assert!(family.name.starts_with("gatewatch_"), "{}", family.name);
            assert!(!family.help.is_empty(), "{}", family.name);
            if family.kind == Kind::Counter {
                assert!(family.name.ends_with("_total"), "{}", family.name);
            }
        }
    }
}
