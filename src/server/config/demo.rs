//! `demo`: the built-in demo — in-process upstreams and a traffic generator that make a fresh
//! install show a living dashboard. Absent: nothing demo runs.

use super::FieldErrors;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;

/// Requests per second the traffic generator sends when `demo.traffic` leaves it out.
pub const DEFAULT_DEMO_REQUESTS_PER_SECOND: f64 = 10.0;
/// The highest rate the traffic generator accepts.
pub const MAX_DEMO_REQUESTS_PER_SECOND: f64 = 1_000.0;
/// The lowest `demo.traffic.requests_per_second`: one request every 100 s.
pub const MIN_DEMO_REQUESTS_PER_SECOND: f64 = 0.01;

/// `demo` as written.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct FileDemo {
    /// Demo upstreams started in-process, each on its own address; point routes at them as at
    /// any upstream. Default: none.
    #[serde(default)]
    #[schemars(extend("default" = []))]
    pub upstreams: Vec<FileDemoUpstream>,
    /// The traffic generator: catalog, order and chat-completion requests (plus the odd 404 and
    /// small burst) sent to the proxy's own listener with User-Agent gatewatch-demo-traffic, at
    /// most 32 at once. Default: off (leave out).
    pub traffic: Option<FileDemoTraffic>,
}

// `demo.upstreams[]` as written.
/// A demo upstream.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "demoUpstream")]
pub struct FileDemoUpstream {
    /// Unique, non-empty name (used in the log).
    #[schemars(regex(pattern = r"\S"))]
    pub name: String,
    /// Address it listens on, IP:port; must differ from the other demo upstreams', listen and
    /// dashboard.listen. If it cannot be bound, the error is logged and the gateway runs without
    /// it.
    #[schemars(extend("examples" = ["127.0.0.1:9101"]))]
    pub listen: String,
    /// How it behaves. Each kind answers GET /health with 200 while up.
    pub kind: DemoKind,
}

/// `demo.traffic` as written.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct FileDemoTraffic {
    /// Requests sent per second (0.01 to 1000; fractions allowed). Default 10.
    #[schemars(
        range(min = MIN_DEMO_REQUESTS_PER_SECOND, max = MAX_DEMO_REQUESTS_PER_SECOND),
        extend("default" = DEFAULT_DEMO_REQUESTS_PER_SECOND)
    )]
    pub requests_per_second: Option<f64>,
}

/// How a demo upstream behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum DemoKind {
    /// A fast JSON API: GET and POST on any path, answered within a few ms, 0.5 % 500s.
    Api,
    /// A slow, unreliable JSON API: 20-400 ms with a long tail, 8 % 500s, and it refuses
    /// connections for 20 s every 2 minutes, starting a minute in.
    Flaky,
    /// An OpenAI-compatible API: POST /v1/chat/completions, plain or streamed, with token usage;
    /// GET /v1/models.
    Llm,
}

impl DemoKind {
    /// The name used in `config.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Flaky => "flaky",
            Self::Llm => "llm",
        }
    }
}

/// The validated `demo` section.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoConfig {
    /// In-process upstreams, each on its own address.
    pub upstreams: Vec<DemoUpstreamConfig>,
    /// The traffic generator; `None`: no generated traffic.
    pub traffic: Option<DemoTrafficConfig>,
}

impl DemoConfig {
    /// Whether anything demo runs (an empty section starts nothing).
    pub fn is_active(&self) -> bool {
        !self.upstreams.is_empty() || self.traffic.is_some()
    }
}

/// One demo upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoUpstreamConfig {
    /// Its name in the logs.
    pub name: String,
    /// Where it listens.
    pub listen: SocketAddr,
    /// How it behaves.
    pub kind: DemoKind,
}

/// The demo traffic generator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DemoTrafficConfig {
    /// Requests sent through the proxy per second (above 0, at most 1000).
    pub requests_per_second: f64,
}

/// Validates `demo`; `taken` are the gateway's own listen addresses (`(path, address)`), which a
/// demo upstream must not reuse.
pub fn validate_demo(
    file: Option<FileDemo>,
    taken: &[(&str, SocketAddr)],
    errors: &mut FieldErrors,
) -> Option<DemoConfig> {
    let file = file?;
    let mut first_with_name: HashMap<&str, usize> = HashMap::new();
    let mut first_with_listen: HashMap<SocketAddr, usize> = HashMap::new();
    let mut upstreams = Vec::with_capacity(file.upstreams.len());
    for (index, upstream) in file.upstreams.iter().enumerate() {
        let at = format!("demo.upstreams[{index}]");
        if upstream.name.trim().is_empty() {
            errors.push(format!("{at}.name"), "must not be empty");
        } else if let Some(first) = first_with_name.get(upstream.name.as_str()) {
            errors.push(
                format!("{at}.name"),
                format!(
                    "duplicate demo upstream name {:?} (also demo.upstreams[{first}])",
                    upstream.name
                ),
            );
        } else {
            first_with_name.insert(&upstream.name, index);
        }
        let Ok(listen) = upstream.listen.parse::<SocketAddr>() else {
            errors.push(
                format!("{at}.listen"),
                format!(
                    "not a socket address: {:?} (expected IP:port, e.g. \"127.0.0.1:9101\")",
                    upstream.listen
                ),
            );
            continue;
        };
        // Port 0 binds a fresh port each time: it never clashes.
        if listen.port() != 0 {
            if let Some(first) = first_with_listen.get(&listen) {
                errors.push(
                    format!("{at}.listen"),
                    format!("{listen} is already used by demo.upstreams[{first}]"),
                );
            } else if let Some((path, _)) = taken.iter().find(|(_, addr)| *addr == listen) {
                errors.push(
                    format!("{at}.listen"),
                    format!("{listen} is already used by {path}"),
                );
            } else {
                first_with_listen.insert(listen, index);
            }
        }
        upstreams.push(DemoUpstreamConfig {
            name: upstream.name.clone(),
            listen,
            kind: upstream.kind,
        });
    }
    let traffic = file.traffic.map(|traffic| {
        let rps = traffic
            .requests_per_second
            .unwrap_or(DEFAULT_DEMO_REQUESTS_PER_SECOND);
        if !(MIN_DEMO_REQUESTS_PER_SECOND..=MAX_DEMO_REQUESTS_PER_SECOND).contains(&rps) {
            errors.push(
                "demo.traffic.requests_per_second",
                format!(
                    "must be a number from {MIN_DEMO_REQUESTS_PER_SECOND} to {MAX_DEMO_REQUESTS_PER_SECOND}, got {rps:?}"
                ),
            );
        }
        DemoTrafficConfig {
            requests_per_second: rps,
        }
    });
    Some(DemoConfig { upstreams, traffic })
}

#[cfg(test)]
mod tests {
    use crate::server::config::tests::errors_of;
    use crate::server::config::{DemoKind, parse};

    #[test]
    fn absent_means_no_demo() {
        assert_eq!(parse("{}").unwrap().demo, None);
    }

    #[test]
    fn upstreams_and_traffic_are_read() {
        let config = parse(
            r#"{"demo": {
                "upstreams": [
                    {"name": "catalog-1", "listen": "127.0.0.1:9101", "kind": "api"},
                    {"name": "orders", "listen": "127.0.0.1:9103", "kind": "flaky"},
                    {"name": "llm", "listen": "[::1]:9104", "kind": "llm"}
                ],
                "traffic": {"requests_per_second": 12}
            }}"#,
        )
        .unwrap();
        let demo = config.demo.unwrap();
        assert!(demo.is_active());
        let kinds: Vec<_> = demo.upstreams.iter().map(|u| u.kind).collect();
        assert_eq!(kinds, [DemoKind::Api, DemoKind::Flaky, DemoKind::Llm]);
        assert_eq!(demo.upstreams[2].listen, "[::1]:9104".parse().unwrap());
        assert_eq!(demo.traffic.unwrap().requests_per_second, 12.0);
    }

    #[test]
    fn defaults_fill_an_empty_traffic_section() {
        let demo = parse(r#"{"demo": {"traffic": {}}}"#).unwrap().demo.unwrap();
        assert!(demo.upstreams.is_empty());
        assert_eq!(
            demo.traffic.unwrap().requests_per_second,
            super::DEFAULT_DEMO_REQUESTS_PER_SECOND
        );
        assert!(demo.is_active());

        let demo = parse(r#"{"demo": {"upstreams": []}}"#)
            .unwrap()
            .demo
            .unwrap();
        assert_eq!(demo.traffic, None);
        assert!(!demo.is_active(), "an empty section starts nothing");
    }

    #[test]
    fn errors_name_the_json_path() {
        let errors = errors_of(
            r#"{"listen": "127.0.0.1:8080", "demo": {
                "upstreams": [
                    {"name": "a", "listen": "127.0.0.1:9101", "kind": "api"},
                    {"name": "b", "listen": "localhost:9102", "kind": "api"},
                    {"name": "a", "listen": "127.0.0.1:9101", "kind": "llm"},
                    {"name": " ", "listen": "127.0.0.1:8080", "kind": "flaky"},
                    {"name": "e", "listen": "127.0.0.1:0", "kind": "api"},
                    {"name": "f", "listen": "127.0.0.1:0", "kind": "api"}
                ],
                "traffic": {"requests_per_second": 0}
            }}"#,
        );
        assert_eq!(
            errors,
            vec![
                "demo.upstreams[1].listen: not a socket address: \"localhost:9102\" (expected IP:port, e.g. \"127.0.0.1:9101\")",
                "demo.upstreams[2].name: duplicate demo upstream name \"a\" (also demo.upstreams[0])",
                "demo.upstreams[2].listen: 127.0.0.1:9101 is already used by demo.upstreams[0]",
                "demo.upstreams[3].name: must not be empty",
                "demo.upstreams[3].listen: 127.0.0.1:8080 is already used by listen",
                "demo.traffic.requests_per_second: must be a number from 0.01 to 1000, got 0.0",
            ]
        );
        let errors = errors_of(r#"{"demo": {"traffic": {"requests_per_second": 1000.5}}}"#);
        assert_eq!(
            errors,
            vec![
                "demo.traffic.requests_per_second: must be a number from 0.01 to 1000, got 1000.5"
            ]
        );
        // Would overflow the interval between two demo requests.
        let errors = errors_of(r#"{"demo": {"traffic": {"requests_per_second": 1e-30}}}"#);
        assert_eq!(
            errors,
            vec!["demo.traffic.requests_per_second: must be a number from 0.01 to 1000, got 1e-30"]
        );
    }

    #[test]
    fn unknown_kinds_and_fields_are_rejected() {
        let errors = errors_of(
            r#"{"demo": {"upstreams": [{"name": "a", "listen": "127.0.0.1:1", "kind": "grpc"}]}}"#,
        );
        assert!(
            errors[0].starts_with(
                "demo.upstreams[0].kind: unknown variant `grpc`, expected one of `api`, `flaky`, `llm`"
            ),
            "{errors:?}"
        );
        let errors = errors_of(r#"{"demo": {"traffic": {"rps": 5}}}"#);
        assert!(
            errors[0].starts_with("demo.traffic.rps: unknown field `rps`"),
            "{errors:?}"
        );
        let errors = errors_of(r#"{"demo": {"upstreams": [{"name": "a", "kind": "api"}]}}"#);
        assert!(
            errors[0].starts_with("demo.upstreams[0]: missing field `listen`"),
            "{errors:?}"
        );
    }
}
