//! The command line: `gatewatch [--config PATH] [--dashboard]` runs the gateway (with the
//! terminal dashboard in front); `gatewatch top` attaches the terminal dashboard to a running
//! gateway; `gatewatch check PATH` validates a config file; `gatewatch schema` prints the config's JSON Schema;
//! `gatewatch hash-password` and `gatewatch new-token NAME` make the secrets `auth` keeps only as
//! hashes.

use crate::server::config;
use crate::server::runtime::{self, DRAIN_TIMEOUT};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A reverse proxy / API gateway with a live monitoring dashboard built in.
#[derive(Debug, Parser)]
#[command(name = "gatewatch", version, about)]
pub struct Cli {
    /// The config file to run on.
    #[arg(long, short, value_name = "PATH", default_value = "config.json")]
    pub config: PathBuf,
    /// Run with the terminal dashboard in front (the log goes to its log panel; `d` hides it,
    /// `q` quits). Needs a terminal.
    #[arg(long)]
    pub dashboard: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a config file; exits non-zero and prints every error if it is invalid.
    Check {
        /// The config file to validate (certificate files are read, matched to their keys and
        /// their expiry checked: within 14 days or past is a warning).
        path: PathBuf,
    },
    /// Print the JSON Schema of config.json (what config.schema.json holds).
    Schema,
    /// Print an argon2id hash of a password for `auth.users[].password_hash` (reads the
    /// password from the terminal without echo, or the first line of stdin when it is not one).
    HashPassword,
    /// Print a new random API token once, and the `auth.tokens` entry that accepts it.
    NewToken {
        /// The token's name (shown in the audit log).
        name: String,
    },
    /// The terminal dashboard, attached to a running gateway's admin API (locally or over the
    /// network); reconnects when the connection is lost.
    Top {
        /// The gateway's dashboard URL (http:// or https://).
        #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:3000")]
        url: String,
        /// A bearer token (`gatewatch new-token`) for a dashboard with accounts; the
        /// environment keeps it out of the process list.
        #[arg(
            long,
            value_name = "TOKEN",
            env = "GATEWATCH_TOKEN",
            hide_env_values = true
        )]
        token: Option<String>,
        /// PEM file of the CA that signs the dashboard's certificate, trusted instead of the
        /// system's roots.
        #[arg(long, value_name = "PATH")]
        ca_file: Option<PathBuf>,
    },
}

/// Runs the command line; the process exit code is the result.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Check { path }) => check(&path),
        Some(Command::Schema) => schema(),
        Some(Command::HashPassword) => hash_password(),
        Some(Command::NewToken { name }) => new_token(&name),
        Some(Command::Top {
            url,
            token,
            ca_file,
        }) => top(&url, token, ca_file.as_deref()).await,
        None => run(cli.config, cli.dashboard).await,
    }
}

/// The message and exit status for a terminal dashboard asked for without a terminal.
fn needs_terminal(what: &str) -> Option<ExitCode> {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        return None;
    }
    eprintln!(
        "gatewatch: {what} draws a terminal dashboard, and stdout is not a terminal; run it \
         in a terminal (or without it: the gateway logs to stdout and serves its dashboard over \
         HTTP)"
    );
    Some(ExitCode::from(2))
}

async fn top(url: &str, token: Option<String>, ca_file: Option<&Path>) -> ExitCode {
    if let Some(code) = needs_terminal("gatewatch top") {
        return code;
    }
    match crate::server::tui::attached::Attach::new(url, token, ca_file) {
        Ok(attach) => crate::server::tui::attached::run(attach).await,
        Err(error) => {
            eprintln!("gatewatch top: {error}");
            ExitCode::from(2)
        }
    }
}

fn check(path: &Path) -> ExitCode {
    match config::load(path) {
        Ok(config) => {
            let https = config
                .tls
                .as_ref()
                .map(|tls| format!(", HTTPS on {}", tls.listen))
                .unwrap_or_default();
            println!(
                "{}: valid (proxy on {}{https}, dashboard on {})",
                path.display(),
                config.listen,
                config.dashboard.listen
            );
            for warning in certificate_warnings(&config, chrono::Utc::now()) {
                println!("  warning: {warning}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{}: invalid config", path.display());
            for line in error.to_string().lines() {
                eprintln!("  {line}");
            }
            ExitCode::FAILURE
        }
    }
}

/// `gatewatch check`'s warnings about certificates that expire within 14 days or have expired.
fn certificate_warnings(
    config: &config::Config,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<String> {
    let proxy = config.tls.iter().map(|tls| ("tls", &tls.serving));
    let dashboard = config
        .dashboard
        .tls
        .iter()
        .map(|serving| ("dashboard.tls", serving));
    proxy
        .chain(dashboard)
        .flat_map(|(at, serving)| {
            serving
                .certificates
                .entries()
                .iter()
                .enumerate()
                .filter_map(move |(index, entry)| {
                    let warning = entry.info.expiry_warning(now)?;
                    Some(format!("{at}.certificates[{index}].cert: {warning}"))
                })
        })
        .collect()
}

fn schema() -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(config::config_schema_text().as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gatewatch: cannot write the schema: {error}");
            ExitCode::FAILURE
        }
    }
}

fn hash_password() -> ExitCode {
    use crate::server::admin::auth::credentials;
    use std::io::IsTerminal;
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ");
        let again = rpassword::prompt_password("Password again: ");
        match (first, again) {
            (Ok(first), Ok(again)) if first == again => first,
            (Ok(_), Ok(_)) => {
                eprintln!("gatewatch: the passwords differ");
                return ExitCode::FAILURE;
            }
            (Err(error), _) | (_, Err(error)) => {
                eprintln!("gatewatch: cannot read the password: {error}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        let mut line = String::new();
        if let Err(error) = std::io::stdin().read_line(&mut line) {
            eprintln!("gatewatch: cannot read the password: {error}");
            return ExitCode::FAILURE;
        }
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    if password.is_empty() {
        eprintln!("gatewatch: the password is empty");
        return ExitCode::FAILURE;
    }
    match credentials::hash_password(&password) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("gatewatch: cannot hash the password: {error}");
            ExitCode::FAILURE
        }
    }
}

fn new_token(name: &str) -> ExitCode {
    use crate::server::admin::auth::credentials;
    if !crate::server::config::is_plain_name(name) {
        eprintln!("gatewatch: a token name is 1 to 64 letters, digits, '-', '_', '.' or '@'");
        return ExitCode::from(2);
    }
    let token = credentials::new_token();
    let entry = serde_json::json!({
        "name": name,
        "token_hash": credentials::token_hash(&token),
        "role": "viewer",
    });
    println!("token (shown once; send it as Authorization: Bearer <token>):");
    println!("  {token}");
    println!("add to auth.tokens in config.json (role viewer or admin):");
    println!("  {entry}");
    ExitCode::SUCCESS
}

async fn run(config_path: PathBuf, dashboard: bool) -> ExitCode {
    if dashboard && let Some(code) = needs_terminal("--dashboard") {
        return code;
    }
    if dashboard {
        crate::server::tui::terminal::hold_log();
    }
    init_tracing();
    let config = match config::load(&config_path) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{}: invalid config", config_path.display());
            for line in error.to_string().lines() {
                eprintln!("  {line}");
            }
            return ExitCode::FAILURE;
        }
    };
    let termination = runtime::TerminationSignal::install();
    let running = match runtime::start(config, config_path).await {
        Ok(running) => running,
        Err(error) => {
            eprintln!("gatewatch: {error}");
            return ExitCode::FAILURE;
        }
    };
    let dashboard_url = dashboard_url(
        running.dashboard_addr,
        running.gateway.listening().dashboard_tls,
    );
    if dashboard {
        tracing::info!(
            dashboard = %dashboard_url,
            proxy = %running.proxy_addr,
            https = ?running.https_addr,
            "Gatewatch {} is running",
            env!("CARGO_PKG_VERSION")
        );
        return if crate::server::tui::in_process::run(running, termination).await {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    println!("Gatewatch {} is running", env!("CARGO_PKG_VERSION"));
    println!("  dashboard: {dashboard_url}");
    println!("  proxy:     http://{}/", running.proxy_addr);
    if let Some(https) = running.https_addr {
        println!("  https:     https://{https}/");
    }
    termination.received().await;
    tracing::info!("shutting down: draining in-flight requests");
    if !running.shutdown(DRAIN_TIMEOUT).await {
        tracing::warn!("drain timed out after {DRAIN_TIMEOUT:?}; remaining work was cancelled");
    }
    ExitCode::SUCCESS
}

/// A URL a browser on this machine can open (an unspecified address becomes loopback).
fn dashboard_url(addr: std::net::SocketAddr, https: bool) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
        ip if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let scheme = if https { "https" } else { "http" };
    format!("{scheme}://{host}:{}/", addr.port())
}

/// Logs to stdout (filtered by `GATEWATCH_LOG`, default `info`; not while the terminal dashboard
/// is shown) and into the dashboard's log ring.
fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};
    let filter =
        EnvFilter::try_from_env("GATEWATCH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_writer(crate::server::tui::terminal::LogOutput)
                .with_filter(filter),
        )
        .with(crate::server::gateway::log_capture::ring_layer())
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn config_defaults_to_config_json() {
        let cli = Cli::try_parse_from(["gatewatch"]).unwrap();
        assert_eq!(cli.config, PathBuf::from("config.json"));
        assert!(cli.command.is_none());
    }

    #[test]
    fn check_takes_a_path() {
        let cli = Cli::try_parse_from(["gatewatch", "check", "other.json"]).unwrap();
        assert!(
            matches!(cli.command, Some(Command::Check { path }) if path == Path::new("other.json"))
        );
    }

    #[test]
    fn top_has_defaults_and_dashboard_is_a_flag() {
        let cli = Cli::try_parse_from(["gatewatch", "top"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Top { url, ca_file: None, .. }) if url == "http://127.0.0.1:3000"
        ));
        let cli = Cli::try_parse_from(["gatewatch", "--dashboard", "--config", "x.json"]).unwrap();
        assert!(cli.dashboard);
        assert_eq!(cli.config, PathBuf::from("x.json"));
    }

    #[test]
    fn schema_takes_no_arguments() {
        let cli = Cli::try_parse_from(["gatewatch", "schema"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Schema)));
        assert!(Cli::try_parse_from(["gatewatch", "schema", "extra"]).is_err());
    }

    #[test]
    fn dashboard_url_is_openable() {
        assert_eq!(
            dashboard_url("0.0.0.0:3000".parse().unwrap(), false),
            "http://127.0.0.1:3000/"
        );
        assert_eq!(
            dashboard_url("[::]:3000".parse().unwrap(), false),
            "http://[::1]:3000/"
        );
        assert_eq!(
            dashboard_url("[::1]:3000".parse().unwrap(), false),
            "http://[::1]:3000/"
        );
        assert_eq!(
            dashboard_url("10.0.0.1:80".parse().unwrap(), false),
            "http://10.0.0.1:80/"
        );
        assert_eq!(
            dashboard_url("127.0.0.1:3443".parse().unwrap(), true),
            "https://127.0.0.1:3443/"
        );
    }
}
