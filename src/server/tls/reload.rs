//! Certificate files are watched: every [`POLL_INTERVAL`], the size, modification time and
//! inode of each `cert` and `key` file of the config in force are compared with the last look
//! (no per-connection I/O; one small task). A change reloads the config as a whole
//! ([`config_reload::reload_file`]): the new pair is loaded and checked while the config is
//! validated, so a broken replacement is rejected like a bad config (the old certificate keeps
//! serving, the error shows on the dashboard and in `/api/health`) and a good one is served to
//! new connections while open ones keep theirs. SIGHUP reloads the config, and so the
//! certificates, too.

use crate::server::config::Config;
use crate::server::gateway::SharedGateway;
use crate::server::gateway::config_reload::{self, Trigger};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use tokio::time::MissedTickBehavior;

/// How often the certificate files are looked at.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// What a look at a file sees: `None` when it cannot be read.
type Stamp = Option<(u64, SystemTime, u64)>;

/// The certificate and key files `config` serves.
pub fn watched_files(config: &Config) -> Vec<PathBuf> {
    let sets = config
        .tls
        .iter()
        .map(|tls| &tls.serving)
        .chain(config.dashboard.tls.iter());
    sets.flat_map(|serving| serving.certificates.entries())
        .flat_map(|entry| [entry.cert_path.clone(), entry.key_path.clone()])
        .collect()
}

fn stamp(path: &PathBuf) -> Stamp {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.len(), metadata.modified().ok()?, metadata.ino()))
}

/// The files' stamps now.
fn stamps_now(files: Vec<PathBuf>) -> HashMap<PathBuf, Stamp> {
    files
        .into_iter()
        .map(|path| {
            let stamp = stamp(&path);
            (path, stamp)
        })
        .collect()
}

/// [`stamps_now`] off the async runtime's threads (file system I/O).
async fn stamps(files: Vec<PathBuf>) -> HashMap<PathBuf, Stamp> {
    tokio::task::spawn_blocking(move || stamps_now(files))
        .await
        .unwrap_or_default()
}

/// Whether a file seen before looks different now (files first seen now are taken as they are:
/// the config that named them has just loaded them).
fn changed(before: &HashMap<PathBuf, Stamp>, now: &HashMap<PathBuf, Stamp>) -> bool {
    now.iter()
        .any(|(path, stamp)| before.get(path).is_some_and(|seen| seen != stamp))
}

/// Watches the certificate files until shutdown; a change reloads the config. The files are
/// first looked at when this is called (at start, a few `stat`s), not when the returned task
/// first runs: a change in between is a change.
pub fn watch(gateway: SharedGateway) -> impl Future<Output = ()> + Send {
    let seen = stamps_now(watched_files(&gateway.config()));
    poll_for_changes(gateway, seen)
}

async fn poll_for_changes(gateway: SharedGateway, mut seen: HashMap<PathBuf, Stamp>) {
    let stop = gateway.shutdown_token().clone();
    let mut poll = tokio::time::interval(POLL_INTERVAL);
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = poll.tick() => {}
        }
        let files = watched_files(&gateway.config());
        if files.is_empty() {
            seen.clear();
            continue;
        }
        let now = stamps(files).await;
        let reload = changed(&seen, &now);
        seen = now;
        if reload {
            tracing::info!("certificate files changed: reloading");
            // The stamps taken before the reload read the files are the baseline: a file
            // changed again meanwhile is seen at the next look.
            config_reload::reload_file(&gateway, Trigger::CertificateChange).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_seen_before_count_as_changed() {
        let at = SystemTime::UNIX_EPOCH;
        let before = HashMap::from([(PathBuf::from("a"), Some((1, at, 1)))]);
        let same = before.clone();
        assert!(!changed(&before, &same));
        let new_file = HashMap::from([
            (PathBuf::from("a"), Some((1, at, 1))),
            (PathBuf::from("b"), Some((5, at, 2))),
        ]);
        assert!(!changed(&before, &new_file));
        let grown = HashMap::from([(PathBuf::from("a"), Some((2, at, 1)))]);
        assert!(changed(&before, &grown));
        let gone = HashMap::from([(PathBuf::from("a"), None)]);
        assert!(changed(&before, &gone));
    }
}
