//! Hot reload: `config.json` is polled for changes (robust against editors that replace the file)
//! and SIGHUP forces a reload. A valid new config is applied atomically; an invalid one is
//! rejected — logged, kept for the dashboard — while the old one keeps serving.

use crate::server::config;
use crate::server::state::SharedGateway;
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
                reload(&gateway, Trigger::Signal, content).await;
            }
            _ = poll.tick() => {
                // A file being replaced may briefly be missing: only content that reads counts.
                if let Ok(content) = tokio::fs::read(&path).await
                    && last_seen.as_ref() != Some(&content)
                {
                    last_seen = Some(content.clone());
                    reload(&gateway, Trigger::FileChange, Ok(content)).await;
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
}

impl Trigger {
    /// How reports name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FileChange => "file change",
            Self::Signal => "SIGHUP",
            Self::Dashboard => "dashboard edit",
        }
    }
}

/// Validates the config file's `content` (as just read), then applies or rejects it.
pub async fn reload(
    gateway: &SharedGateway,
    trigger: Trigger,
    content: std::io::Result<Vec<u8>>,
) -> Option<ConfigReload> {
    let path = gateway.config_path().to_path_buf();
    // Validation looks at the file system (static directories): keep it off the runtime threads.
    let loaded = tokio::task::spawn_blocking(move || match content {
        Ok(content) => config::parse_file_content(&path, content),
        Err(source) => Err(config::ConfigError::Read { path, source }),
    })
    .await;
    match loaded {
        Ok(Ok(config)) if trigger == Trigger::FileChange && *gateway.config() == config => {
            tracing::debug!("config file rewritten without changes");
            None
        }
        Ok(Ok(config)) => Some(gateway.apply_config(config, trigger.as_str())),
        Ok(Err(error)) => {
            let errors = error.to_string().lines().map(str::to_string).collect();
            Some(gateway.reject_config(errors, trigger.as_str()))
        }
        Err(error) => {
            tracing::error!(%error, "config reload task failed");
            None
        }
    }
}
