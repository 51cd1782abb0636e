//! Putting a new config in force. [`apply`] is the one way in: the file watcher, SIGHUP and the
//! dashboard's edits each parse the text once and hand over the result. A valid config is
//! applied atomically; an invalid one is rejected — logged, kept for the dashboard — while the old
//! one keeps serving.
//!
//! [`watch`] polls `config.json` for changes (robust against editors that replace the file) and
//! reloads on SIGHUP. Content equal to the running config's own text (the dashboard just wrote
//! and applied it) is not parsed again. Changed certificate files reload the config too
//! ([`tls::reload`](crate::server::tls::reload) watches them, [`reload_file`]).

use crate::server::config::{self, Config, ConfigError};
use crate::server::gateway::SharedGateway;
use crate::views::ConfigReload;
use std::time::Duration;
use tokio::time::MissedTickBehavior;

/// How often the config file is looked at.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Watches the gateway's config file and SIGHUP until shutdown.
pub async fn watch(gateway: SharedGateway) {
    let path = gateway.config_path().to_path_buf();
    // No baseline: the first poll reads the file and reloads only if its config differs from the
    // one in force (the file may have changed between start-up and this task's first look).
    let mut last_seen: Option<Vec<u8>> = None;
    let mut poll = tokio::time::interval(POLL_INTERVAL);
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|error| tracing::warn!(%error, "SIGHUP reloads unavailable"))
        .ok();
    let stop = gateway.shutdown_token().clone();
    loop {
        let sighup = async {
            match hangup.as_mut() {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = sighup => {
                let content = tokio::fs::read(&path).await;
                last_seen = content.as_ref().ok().cloned();
                apply(&gateway, Trigger::Signal, parse(&gateway, content).await);
            }
            _ = poll.tick() => {
                // A file being replaced may briefly be missing: only content that reads counts.
                if let Ok(content) = tokio::fs::read(&path).await
                    && last_seen.as_ref() != Some(&content)
                {
                    last_seen = Some(content.clone());
                    if content != gateway.config().source.as_bytes() {
                        apply(&gateway, Trigger::FileChange, parse(&gateway, Ok(content)).await);
                    }
                }
            }
        }
    }
}

/// What asked for a reload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The file's content changed: an identical config is not re-applied.
    FileChange,
    /// SIGHUP: the operator asked, so the result is always applied and reported.
    Signal,
    /// An edit applied from the dashboard's config page (always applied and reported).
    Dashboard,
    /// A certificate or key file changed: applied when the certificates differ.
    CertificateChange,
}

impl Trigger {
    /// How reports name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FileChange => "file change",
            Self::Signal => "SIGHUP",
            Self::Dashboard => "dashboard edit",
            Self::CertificateChange => "certificate change",
        }
    }
}

/// Reads the config file again, and applies it (or reports why not).
pub async fn reload_file(gateway: &SharedGateway, trigger: Trigger) -> Option<ConfigReload> {
    let content = tokio::fs::read(gateway.config_path()).await;
    apply(gateway, trigger, parse(gateway, content).await)
}

/// Parses the config file's `content` (as just read, or the read's error) off the async runtime:
/// validation looks at the file system (static directories).
pub async fn parse(
    gateway: &SharedGateway,
    content: std::io::Result<Vec<u8>>,
) -> Result<Config, ConfigError> {
    let path = gateway.config_path().to_path_buf();
    let parsed = tokio::task::spawn_blocking(move || match content {
        Ok(content) => config::parse_file_content(&path, content),
        Err(source) => Err(ConfigError::Read { path, source }),
    })
    .await;
    parsed.unwrap_or_else(|error| {
        Err(ConfigError::Invalid(vec![config::FieldError {
            path: "(root)".into(),
            reason: format!("validation did not finish: {error}"),
        }]))
    })
}

/// Applies a parsed config, or reports why it could not be used; the report is also kept for the
/// dashboard and published live. A file change that parses to the config in force changes
/// nothing and reports nothing.
pub fn apply(
    gateway: &SharedGateway,
    trigger: Trigger,
    parsed: Result<Config, ConfigError>,
) -> Option<ConfigReload> {
    match parsed {
        Ok(config)
            if matches!(trigger, Trigger::FileChange | Trigger::CertificateChange)
                && *gateway.config() == config =>
        {
            tracing::debug!("config file rewritten without changes");
            None
        }
        Ok(config) => {
            config::warn_unverified(&config.routes);
            Some(gateway.apply_config(config, trigger.as_str()))
        }
        Err(error) => {
            let errors = error.to_string().lines().map(str::to_string).collect();
            Some(gateway.reject_config(errors, trigger.as_str()))
        }
    }
}
