//! `config.json`: read the file into a raw [`FileConfig`], then validate it into a [`Config`];
//! what changes between two of them is a [`ConfigDiff`].
//!
//! Every error names the JSON path of the offending field and the reason, e.g.
//! `dashboard.listen: not a socket address …`. Unknown fields are errors.

mod alerts;
mod auth;
mod compression;
mod demo;
mod diff;
mod limits;
mod recording;
mod route;
mod schema;
mod static_dir;
mod tls;
mod upstream_tls;

pub use alerts::*;
pub use auth::*;
pub use compression::*;
pub use demo::*;
pub use diff::ConfigDiff;
pub use limits::*;
pub use recording::*;
pub use route::*;
pub use schema::{SCHEMA_ID, config_schema, config_schema_text};
pub use static_dir::*;
pub use tls::*;
pub use upstream_tls::{
    FileUpstreamTls, UpstreamTlsConfig, crypto_provider, validate_upstream_tls, warn_unverified,
};

use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Default proxy listen address.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";
/// Default dashboard (and admin API) listen address.
pub const DEFAULT_DASHBOARD_LISTEN: &str = "127.0.0.1:3000";
/// Default bound on browsers (and other clients) subscribed to `/api/live` at once.
pub const DEFAULT_MAX_LIVE_CLIENTS: usize = 64;

/// The validated configuration the gateway runs on.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Where the proxy accepts traffic.
    pub listen: SocketAddr,
    /// The dashboard's settings.
    pub dashboard: DashboardConfig,
    /// Routes, in file order (ties in specificity go to the earlier one).
    pub routes: Vec<RouteConfig>,
    /// Static directories served by the proxy listener.
    pub static_dirs: Vec<StaticConfig>,
    /// Whether requests are recorded.
    pub metrics: MetricsConfig,
    /// The request history database.
    pub history: HistoryConfig,
    /// The built-in demo (upstreams and traffic generator); `None`: no demo.
    pub demo: Option<DemoConfig>,
    /// Who may use the admin plane.
    pub auth: AuthConfig,
    /// How long the audit log is kept.
    pub audit: AuditConfig,
    /// The proxy's HTTPS listener; `None`: plain HTTP only.
    pub tls: Option<TlsConfig>,
    /// What the proxy listener allows a client.
    pub limits: Limits,
    /// Whose forwarding headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// Runs of `/` in request paths are merged into one before routing.
    pub merge_slashes: bool,
    /// Alert rules and their notifiers.
    pub alerts: AlertsConfig,
    /// The text this config was read from (the dashboard shows the running config from it).
    pub source: Arc<str>,
}

/// Settings of the dashboard listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashboardConfig {
    /// Where the dashboard, its API and `/metrics` are served.
    pub listen: SocketAddr,
    /// A network-reachable dashboard without accounts is allowed (and warned about).
    pub allow_unauthenticated: bool,
    /// Most clients subscribed to `/api/live` at once.
    pub max_live_clients: usize,
    /// Serve the dashboard over HTTPS with these certificates; `None`: plain HTTP.
    pub tls: Option<TlsServing>,
}

// The file as written, before validation. Its docs (and those of the types it holds) are the
// descriptions of config.schema.json: they speak to the person editing config.json.
/// config.json for the gatewatch reverse proxy and dashboard. Unknown fields are errors.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Gatewatch configuration")]
pub struct FileConfig {
    /// Editor hint: where this schema is, e.g. "./config.schema.json". Ignored by gatewatch.
    #[serde(rename = "$schema")]
    pub schema: Option<String>,
    /// Address the proxy accepts traffic on, IP:port. Default "0.0.0.0:8080". A change takes
    /// effect when gatewatch restarts.
    #[schemars(extend("default" = DEFAULT_LISTEN, "examples" = ["0.0.0.0:8080", "[::]:8080"]))]
    pub listen: Option<String>,
    /// The monitoring dashboard, its API, its live socket and /metrics.
    pub dashboard: Option<FileDashboard>,
    /// Proxied routes. A request goes to the most specific matching route (exact path, then
    /// longest prefix, then "*"); ties go to the earlier route. Default: none.
    #[serde(default)]
    #[schemars(extend("default" = []))]
    pub routes: Vec<FileRoute>,
    /// Directories of files served by the proxy listener. Default: none.
    #[serde(default, rename = "static")]
    #[schemars(extend("default" = []))]
    pub static_dirs: Vec<FileStatic>,
    /// Recording of proxied requests (metrics, /metrics, the live request log and the history).
    pub metrics: Option<FileMetrics>,
    /// The request history: every finished request and per-minute / per-hour rollups in a
    /// SQLite file that survives restarts. Changes take effect when gatewatch restarts.
    pub history: Option<FileHistory>,
    /// The built-in demo: in-process upstreams and a traffic generator sending requests through
    /// the proxy, so a fresh install shows a living dashboard. Leave it out (and the routes
    /// pointing at its upstreams) for no demo at all. A reload applies changes: a removed
    /// section stops the demo, a changed one restarts it on its new settings.
    pub demo: Option<FileDemo>,
    /// Who may use the dashboard and its API: accounts, API tokens and their roles, and the
    /// hosts and origins the dashboard answers. Without users or tokens everyone who reaches the
    /// dashboard is the local admin, which is only allowed on a loopback address (see
    /// dashboard.allow_unauthenticated).
    pub auth: Option<FileAuth>,
    /// The audit log of sign-ins and admin changes (kept in the history's SQLite file).
    pub audit: Option<FileAudit>,
    /// HTTPS on the proxy: a listener of its own beside listen, with certificates chosen by SNI,
    /// HTTP/2 and HTTP/1.1 by ALPN, and optionally plain requests redirected to it. Certificates
    /// reload when their files change (or on SIGHUP); a broken one is rejected like a bad config.
    pub tls: Option<FileTls>,
    /// What the proxy allows a client: connections, time to send headers and bodies, idle
    /// time, header size, WebSockets. Every value has a safe default.
    pub limits: Option<FileLimits>,
    /// Load balancers or CDNs in front of the gateway, as CIDRs or addresses ("10.0.0.0/8",
    /// "::1"). Only requests arriving from one of them keep their X-Forwarded-For/-Proto/-Host,
    /// Forwarded and X-Real-IP headers, and the client is then the right-most address in the
    /// X-Forwarded-For chain that is not trusted. From anyone else those headers are dropped and
    /// replaced by what this hop knows. Default: none.
    #[serde(default)]
    #[schemars(extend("default" = [], "examples" = [["10.0.0.0/8", "::1"]]))]
    pub trusted_proxies: Vec<String>,
    /// Merge runs of "/" in request paths into one before routing and forwarding ("/api//x" is
    /// "/api/x"). Paths are always normalised otherwise: "." and ".." segments resolved (a ".."
    /// above the root is refused with 400), percent-encoded unreserved characters decoded, "%2F"
    /// kept encoded. Default true.
    #[schemars(extend("default" = true))]
    pub merge_slashes: Option<bool>,
    /// Alerts: threshold rules over the live metrics (error rate, latency, targets down, …),
    /// evaluated every second, with notifications when one fires and when it resolves.
    /// Reloads apply changes; an alert whose rule is unchanged keeps its state.
    pub alerts: Option<FileAlerts>,
}

/// `dashboard` as written.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct FileDashboard {
    /// Address of the dashboard, its API and live socket, IP:port; must differ from listen.
    /// Default "127.0.0.1:3000". A change takes effect when gatewatch restarts.
    #[schemars(extend("default" = DEFAULT_DASHBOARD_LISTEN, "examples" = ["127.0.0.1:3000"]))]
    pub listen: Option<String>,
    /// Allow a dashboard on a non-loopback address without accounts (anyone who can reach it
    /// can change the gateway); gatewatch warns at start and every page shows a banner.
    /// Default false: such a config is refused.
    #[schemars(extend("default" = false))]
    pub allow_unauthenticated: Option<bool>,
    /// Most clients (browsers, `gatewatch top`) subscribed to the live socket /api/live at once
    /// (1 to 10000); the next gets 503. Default 64.
    #[schemars(range(min = 1, max = 10_000), extend("default" = DEFAULT_MAX_LIVE_CLIENTS))]
    pub max_live_clients: Option<usize>,
    /// Serve the dashboard, its API and live socket over HTTPS (only) on dashboard.listen.
    pub tls: Option<FileDashboardTls>,
}

/// One problem in the config, at a JSON path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// JSON path of the field, e.g. `dashboard.listen` (`(root)` for the document itself).
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

/// Field errors collected while validating.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// Records that the field at `path` is wrong because of `reason`.
    pub fn push(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.0.push(FieldError {
            path: path.into(),
            reason: reason.into(),
        });
    }

    /// How many errors so far.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each error as `path: reason`.
    pub fn messages(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is readable but not valid: each error names its field.
    #[error("{}", format_errors(.0))]
    Invalid(Vec<FieldError>),
}

impl ConfigError {
    /// The field errors, if this is a validation failure.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::Invalid(errors) => errors,
            Self::Read { .. } => &[],
        }
    }

    /// The field errors as `path: reason` lines (what `gatewatch check` prints).
    pub fn field_lines(&self) -> Vec<String> {
        self.field_errors()
            .iter()
            .map(ToString::to_string)
            .collect()
    }
}

fn format_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads and validates the config file at `path` (relative paths inside resolve beside it).
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let content = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_file_content(path, content)
}

/// Validates `content`, already read from the config file at `path` (relative paths inside
/// resolve beside it).
pub fn parse_file_content(path: &Path, content: Vec<u8>) -> Result<Config, ConfigError> {
    let text = String::from_utf8(content).map_err(|_| ConfigError::Read {
        path: path.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ),
    })?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parse_in(&text, base)
}

/// Parses and validates config text; relative paths resolve against the working directory.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_in(text, Path::new("."))
}

/// Parses and validates config text; relative paths resolve against `base`.
pub fn parse_in(text: &str, base: &Path) -> Result<Config, ConfigError> {
    let file = parse_file(text).map_err(|error| ConfigError::Invalid(vec![error]))?;
    let config = validate(file, base).map_err(ConfigError::Invalid)?;
    Ok(Config {
        source: Arc::from(text),
        ..config
    })
}

fn parse_file(text: &str) -> Result<FileConfig, FieldError> {
    // serde would also accept a JSON array for a struct; a config is always an object.
    let first = text.trim_start().chars().next();
    if first.is_some_and(|c| c != '{') {
        return Err(FieldError {
            path: "(root)".into(),
            reason: "expected a JSON object `{ … }`".into(),
        });
    }
    let deserializer = &mut serde_json::Deserializer::from_str(text);
    let file: FileConfig = serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = match error.path().to_string() {
            // `""`: an unknown field named "" at the top level.
            root if root == "." || root == "?" || root.is_empty() => "(root)".to_string(),
            path => path,
        };
        FieldError {
            path,
            reason: json_reason(error.inner()),
        }
    })?;
    Ok(file)
}

/// serde_json's message with its " at line L column C" suffix rewritten readably.
fn json_reason(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let message = message.strip_suffix(&suffix).unwrap_or(&message);
    format!(
        "{message} (line {}, column {})",
        error.line(),
        error.column()
    )
}

/// Validates a raw config: every problem is reported, each at its JSON path.
pub fn validate(file: FileConfig, base: &Path) -> Result<Config, Vec<FieldError>> {
    let mut errors = FieldErrors::default();
    let dashboard = file.dashboard.unwrap_or_default();
    let listen = socket_addr(
        file.listen.as_deref(),
        DEFAULT_LISTEN,
        "listen",
        &mut errors,
    );
    let dashboard_listen = socket_addr(
        dashboard.listen.as_deref(),
        DEFAULT_DASHBOARD_LISTEN,
        "dashboard.listen",
        &mut errors,
    );
    if let (Some(proxy), Some(dash)) = (listen, dashboard_listen)
        && proxy == dash
        && proxy.port() != 0
    {
        errors.push(
            "dashboard.listen",
            format!("must differ from listen (both are {proxy})"),
        );
    }

    let mut first_with_name: HashMap<String, usize> = HashMap::new();
    let mut routes = Vec::with_capacity(file.routes.len());
    for (index, route) in file.routes.into_iter().enumerate() {
        let at = format!("routes[{index}]");
        if let Some(first) = first_with_name.get(&route.name) {
            errors.push(
                format!("{at}.name"),
                format!(
                    "duplicate route name {:?} (also routes[{first}])",
                    route.name
                ),
            );
        } else {
            first_with_name.insert(route.name.clone(), index);
        }
        if let Some(route) = validate_route(route, &at, base, &mut errors) {
            routes.push(route);
        }
    }
    let static_dirs: Vec<_> = file
        .static_dirs
        .into_iter()
        .enumerate()
        .filter_map(|(index, dir)| {
            validate_static(dir, &format!("static[{index}]"), base, &mut errors)
        })
        .collect();
    let metrics = validate_metrics(file.metrics);
    let history = validate_history(file.history, base, &mut errors);
    let tls = validate_tls(file.tls, base, &mut errors);
    let dashboard_tls = validate_dashboard_tls(dashboard.tls, base, &mut errors);
    if let Some(tls) = &tls
        && tls.listen.port() != 0
        && [listen, dashboard_listen].contains(&Some(tls.listen))
    {
        errors.push(
            "tls.listen",
            format!(
                "must differ from listen and dashboard.listen ({})",
                tls.listen
            ),
        );
    }
    let taken: Vec<_> = [
        ("listen", listen),
        ("dashboard.listen", dashboard_listen),
        ("tls.listen", tls.as_ref().map(|tls| tls.listen)),
    ]
    .into_iter()
    .filter_map(|(path, addr)| Some((path, addr?)))
    .collect();
    let demo = validate_demo(file.demo, &taken, &mut errors);
    let auth = validate_auth(file.auth, &mut errors);
    let audit = validate_audit(file.audit, &mut errors);
    let limits = validate_limits(file.limits, &mut errors);
    let trusted_proxies = validate_trusted_proxies(file.trusted_proxies, &mut errors);
    let alerts = validate_alerts(file.alerts, &routes, &mut errors);
    let allow_unauthenticated = dashboard.allow_unauthenticated.unwrap_or(false);
    if let Some(addr) = dashboard_listen
        && !addr.ip().is_loopback()
        && !auth.has_accounts()
        && !allow_unauthenticated
    {
        errors.push(
            "dashboard.listen",
            format!(
                "{addr} is reachable from the network; configure auth or set \
                 dashboard.allow_unauthenticated: true"
            ),
        );
    }
    let max_live_clients = dashboard
        .max_live_clients
        .unwrap_or(DEFAULT_MAX_LIVE_CLIENTS);
    if !(1..=10_000).contains(&max_live_clients) {
        errors.push(
            "dashboard.max_live_clients",
            format!("must be from 1 to 10000, got {max_live_clients}"),
        );
    }

    match (listen, dashboard_listen) {
        (Some(listen), Some(dashboard_listen)) if errors.is_empty() => Ok(Config {
            listen,
            dashboard: DashboardConfig {
                listen: dashboard_listen,
                allow_unauthenticated,
                max_live_clients,
                tls: dashboard_tls,
            },
            routes,
            static_dirs,
            metrics,
            history,
            demo,
            auth,
            audit,
            tls,
            limits,
            trusted_proxies,
            merge_slashes: file.merge_slashes.unwrap_or(true),
            alerts,
            source: Arc::from(""),
        }),
        _ => Err(errors.0),
    }
}

fn socket_addr(
    value: Option<&str>,
    default: &str,
    path: &str,
    errors: &mut FieldErrors,
) -> Option<SocketAddr> {
    let text = value.unwrap_or(default);
    text.parse()
        .map_err(|_| {
            errors.push(
                path,
                format!("not a socket address: {text:?} (expected IP:port, e.g. \"0.0.0.0:8080\" or \"[::1]:8080\")"),
            )
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field errors of an invalid config text, as `path: reason` lines.
    pub(super) fn errors_of(text: &str) -> Vec<String> {
        match parse(text) {
            Ok(config) => panic!("expected errors, got {config:?}"),
            Err(error) => error.field_lines(),
        }
    }

    #[test]
    fn empty_object_takes_the_defaults() {
        let config = parse("{}").unwrap();
        assert_eq!(config.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(
            config.dashboard.listen,
            DEFAULT_DASHBOARD_LISTEN.parse().unwrap()
        );
    }

    #[test]
    fn addresses_are_read() {
        let config = parse(
            r#"{"$schema": "./config.schema.json", "listen": "127.0.0.1:9000",
                "dashboard": {"listen": "[::1]:9001"}}"#,
        )
        .unwrap();
        assert_eq!(config.listen, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(config.dashboard.listen, "[::1]:9001".parse().unwrap());
    }

    #[test]
    fn unknown_fields_are_rejected_with_their_path() {
        let errors = errors_of(r#"{"dashboard": {"listen": "127.0.0.1:1", "port": 3}}"#);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("dashboard.port: unknown field `port`, expected one of `listen`"),
            "{errors:?}"
        );
        let errors = errors_of(r#"{"lisen": "1.2.3.4:5"}"#);
        assert!(
            errors[0].starts_with("lisen: unknown field `lisen`"),
            "{errors:?}"
        );
        let errors = errors_of("[]");
        assert_eq!(errors, vec!["(root): expected a JSON object `{ … }`"]);
    }

    #[test]
    fn wrong_types_name_the_field() {
        let errors = errors_of(r#"{"dashboard": {"listen": 3000}}"#);
        assert!(
            errors[0].starts_with("dashboard.listen: invalid type: integer `3000`"),
            "{errors:?}"
        );
    }

    #[test]
    fn bad_addresses_are_all_reported() {
        let errors = errors_of(r#"{"listen": "localhost", "dashboard": {"listen": "x:1"}}"#);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("listen: not a socket address: \"localhost\""));
        assert!(errors[1].starts_with("dashboard.listen: not a socket address: \"x:1\""));
    }

    #[test]
    fn proxy_and_dashboard_must_not_share_an_address() {
        let errors =
            errors_of(r#"{"listen": "127.0.0.1:3000", "dashboard": {"listen": "127.0.0.1:3000"}}"#);
        assert_eq!(
            errors,
            vec!["dashboard.listen: must differ from listen (both are 127.0.0.1:3000)"]
        );
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let errors = errors_of("{\n  \"listen\": \"127.0.0.1:1\",\n}");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("(line 3, column 1)"), "{errors:?}");
    }

    #[test]
    fn route_errors_name_the_json_path() {
        let errors = errors_of(
            r#"{"routes": [
                {"name": "a", "path": "/a/*", "targets": ["http://127.0.0.1:1"]},
                {"name": "a", "path": "api", "targets": ["http://127.0.0.1:2"], "strategy": "fastest"},
                {"name": "c", "path": "*", "targets": [{"url": "localhost:80", "weight": 0}],
                 "health_check": {"path": "health", "interval_ms": 10}}
            ]}"#,
        );
        assert_eq!(
            errors.len(),
            1,
            "unknown enum values stop parsing: {errors:?}"
        );
        assert!(
            errors[0].starts_with("routes[1].strategy: unknown variant `fastest`"),
            "{errors:?}"
        );

        let errors = errors_of(
            r#"{"routes": [
                {"name": "a", "path": "/a/*", "targets": ["http://127.0.0.1:1"]},
                {"name": "a", "path": "api", "targets": ["http://127.0.0.1:2"]},
                {"name": "c", "path": "*", "targets": [{"url": "localhost:80", "weight": 0}],
                 "health_check": {"path": "health", "interval_ms": 10}, "retries": 11}
            ]}"#,
        );
        assert_eq!(
            errors,
            vec![
                "routes[1].name: duplicate route name \"a\" (also routes[0])",
                "routes[1].path: must start with '/' or be \"*\", got \"api\"",
                "routes[2].targets[0].weight: must be a whole number from 1 to 1000",
                "routes[2].retries: must be at most 10",
                "routes[2].health_check.path: must start with '/', got \"health\"",
                "routes[2].health_check.interval_ms: must be from 100 to 3600000 milliseconds",
                "routes[2].health_check.timeout_ms: must not exceed interval_ms",
            ]
        );
        let errors = errors_of(
            r#"{"routes": [{"name": "x", "path": "*", "targets": [{"url": "ftp://h"}]}]}"#,
        );
        assert_eq!(
            errors,
            vec!["routes[0].targets[0].url: not an absolute http(s) URL: \"ftp://h\""]
        );
    }

    #[test]
    fn static_dirs_must_exist() {
        let errors = errors_of(
            r#"{"static": [{"path": "/s/*", "dir": "/nonexistent/site", "spa_fallback": "../x"}]}"#,
        );
        assert_eq!(
            errors[0],
            "static[0].dir: not a directory: /nonexistent/site"
        );
        assert_eq!(
            errors[1],
            "static[0].spa_fallback: must be a file name inside dir"
        );
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let error = load(Path::new("/nonexistent/gatewatch.json")).unwrap_err();
        assert!(matches!(error, ConfigError::Read { .. }));
        assert!(
            error
                .to_string()
                .starts_with("cannot read /nonexistent/gatewatch.json")
        );
    }
}
