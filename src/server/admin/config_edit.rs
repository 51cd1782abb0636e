//! Edits to `config.json` from the dashboard: checked like any reload, written atomically and
//! durably ([`durable`]: same mode and owner, through a symlink) with the previous content kept
//! as a version in `<config>.versions/` (as private as the file), then applied at once. At most
//! [`MAX_VERSIONS`] versions are kept.

pub mod durable;

use crate::diff::diff_lines;
use crate::server::admin::audit::{AuditLog, NewEntry};
use crate::server::admin::auth::credentials::{hex, sha256};
use crate::server::config::{self, Config, ConfigDiff, ConfigError};
use crate::server::gateway::SharedGateway;
use crate::server::gateway::config_reload::{self, Trigger};
use crate::views::{
    ConfigApplied, ConfigCheck, ConfigDocument, ConfigFieldError, ConfigVersion, Role,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use std::collections::HashMap;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Versions kept; the oldest go first.
pub const MAX_VERSIONS: usize = 50;
/// Largest config accepted from the dashboard.
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;
/// How version files are named: the time the replaced content was saved.
const VERSION_FORMAT: &str = "%Y%m%dT%H%M%S%.3fZ";

/// One edit at a time writes the file.
static WRITING: Mutex<()> = Mutex::new(());

/// Where the versions of the config at `path` are kept.
pub fn versions_dir(path: &Path) -> PathBuf {
    let name = path.file_name().map_or_else(
        || "config.json".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    path.with_file_name(format!("{name}.versions"))
}

/// The file as it is on disk, with its versions, each with its author from `audit` (a version
/// is known by its content, so one written by hand has none).
pub fn document(path: &Path, running: &str, audit: &AuditLog) -> io::Result<ConfigDocument> {
    let text = std::fs::read_to_string(path)?;
    let mut versions = versions(path);
    let version_ids: Vec<Option<String>> = versions
        .iter()
        .map(|version| {
            std::fs::read(versions_dir(path).join(&version.id))
                .ok()
                .map(|content| version_id(&content))
        })
        .collect();
    let current = version_id(text.as_bytes());
    let mut wanted: Vec<String> = version_ids.iter().flatten().cloned().collect();
    wanted.push(current.clone());
    // The page still shows the file when the audit log cannot be read; only the authors go.
    let authors = audit.authors(&wanted).unwrap_or_else(|error| {
        tracing::warn!(%error, "cannot read config authors from the audit log");
        HashMap::new()
    });
    for (version, id) in versions.iter_mut().zip(&version_ids) {
        version.author = id.as_ref().and_then(|id| authors.get(id)).cloned();
    }
    Ok(ConfigDocument {
        path: path.display().to_string(),
        author: authors.get(&current).cloned(),
        text,
        running: running.to_string(),
        versions,
    })
}

/// Saved versions, newest first.
pub fn versions(path: &Path) -> Vec<ConfigVersion> {
    let Ok(entries) = std::fs::read_dir(versions_dir(path)) else {
        return Vec::new();
    };
    let mut versions: Vec<ConfigVersion> = entries
        .flatten()
        .filter_map(|entry| {
            let id = entry.file_name().to_string_lossy().into_owned();
            let stamp = id.strip_suffix(".json")?;
            let saved_at = NaiveDateTime::parse_from_str(stamp.split('-').next()?, VERSION_FORMAT)
                .ok()?
                .and_utc();
            Some(ConfigVersion {
                id,
                saved_at,
                bytes: entry.metadata().ok()?.len(),
                author: None,
            })
        })
        .collect();
    versions.sort_by(|a, b| b.id.cmp(&a.id));
    versions
}

/// The content of version `id` (a file name from [`versions`]; anything else is refused).
pub fn read_version(path: &Path, id: &str) -> io::Result<String> {
    let plain = !id.is_empty()
        && id.ends_with(".json")
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && !id.starts_with('.');
    if !plain {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no config version {id:?}"),
        ));
    }
    std::fs::read_to_string(versions_dir(path).join(id))
}

/// Validates `text` as the config at `path` and diffs it against the file on disk.
pub fn check(path: &Path, text: &str) -> ConfigCheck {
    let current = std::fs::read_to_string(path).unwrap_or_default();
    ConfigCheck {
        errors: validate(path, text).err().unwrap_or_default(),
        diff: diff_lines(&current, text),
    }
}

/// `text` validated as the config at `path`, or every problem with it.
fn validate(path: &Path, text: &str) -> Result<Config, Vec<ConfigFieldError>> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(vec![ConfigFieldError {
            path: "(root)".into(),
            reason: format!("larger than {MAX_CONFIG_BYTES} bytes"),
        }]);
    }
    config::parse_file_content(path, text.as_bytes().to_vec()).map_err(|error| match error {
        ConfigError::Invalid(errors) => errors
            .into_iter()
            .map(|e| ConfigFieldError {
                path: e.path,
                reason: e.reason,
            })
            .collect(),
        error => vec![ConfigFieldError {
            path: "(root)".into(),
            reason: error.to_string(),
        }],
    })
}

/// Replaces the file at `path` with `text`: the old content is saved as a version, the new one
/// written to a temporary file beside it and renamed over it. Returns the version's id.
pub fn write(path: &Path, text: &str, now: DateTime<Utc>) -> io::Result<Option<String>> {
    let _writing = WRITING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let saved = match std::fs::read(path) {
        Ok(previous) => Some(save_version(path, &previous, now)?),
        Err(error) if error.kind() == io::ErrorKind::NotFound => None,
        Err(error) => return Err(error),
    };
    durable::replace(path, text.as_bytes())?;
    prune(path);
    Ok(saved)
}

fn save_version(path: &Path, content: &[u8], now: DateTime<Utc>) -> io::Result<String> {
    let dir = versions_dir(path);
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
    }
    let stamp = now.format(VERSION_FORMAT).to_string();
    let mut id = format!("{stamp}.json");
    let mut n = 1;
    while dir.join(&id).exists() {
        n += 1;
        id = format!("{stamp}-{n}.json");
    }
    durable::create(&dir.join(&id), content, durable::FileAccess::of(path)?)?;
    Ok(id)
}

fn prune(path: &Path) {
    let dir = versions_dir(path);
    for old in versions(path).into_iter().skip(MAX_VERSIONS) {
        let _ = std::fs::remove_file(dir.join(old.id));
    }
}

/// Who asks for a config change, as the audit log records them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The user or token name, `local` without accounts.
    pub name: String,
    pub role: Option<Role>,
    /// The client's IP address.
    pub client: String,
}

/// What kind of change an edit is (its audit action).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// An edit from the Config page (or the API).
    Apply,
    /// Making a kept version the config again.
    Rollback,
}

impl Change {
    fn action(self) -> &'static str {
        match self {
            Self::Apply => "config.apply",
            Self::Rollback => "config.rollback",
        }
    }
}

/// A config text's version id: the first 16 hex digits of its SHA-256.
pub fn version_id(text: &[u8]) -> String {
    hex(&sha256(text)[..8])
}

/// Checks `text`, writes it if valid — in one transaction with its audit entry, so a change that
/// cannot be audited is refused — and applies the config it parsed to at once (the file watcher
/// then finds the file already in force and does not parse it again). Invalid text changes
/// nothing and is audited as rejected.
pub async fn apply(
    gateway: &SharedGateway,
    audit: &Arc<AuditLog>,
    actor: Actor,
    change: Change,
    text: String,
) -> io::Result<ConfigApplied> {
    let path = gateway.config_path().to_path_buf();
    let running = gateway.config();
    let audit = audit.clone();
    let written = tokio::task::spawn_blocking(move || {
        let on_disk = std::fs::read(&path).unwrap_or_default();
        let mut entry = NewEntry {
            actor: actor.name,
            role: actor.role,
            client: actor.client,
            action: change.action().into(),
            version_before: Some(version_id(&on_disk)),
            version_after: Some(version_id(text.as_bytes())),
            diff: diff_lines(&String::from_utf8_lossy(&on_disk), &text),
            ..NewEntry::default()
        };
        let config =
            match validate(&path, &text).and_then(|config| confine(config, &running, &path)) {
                Ok(config) => config,
                Err(errors) => {
                    entry.outcome = "rejected".into();
                    entry.summary = errors
                        .iter()
                        .map(|e| format!("{}: {}", e.path, e.reason))
                        .collect();
                    if let Err(error) = audit.record(&entry) {
                        tracing::error!(%error, "cannot write the audit log");
                    }
                    return Ok(Err(errors));
                }
            };
        entry.outcome = "ok".into();
        entry.summary = ConfigDiff::between(&running, &config).summary();
        audit
            .record_with(&entry, || {
                write(&path, &text, Utc::now()).map_err(|error| error.to_string())
            })
            .map(|(_, saved)| Ok((config, saved)))
            .map_err(|error| io::Error::other(format!("not applied: {error}")))
    })
    .await
    .map_err(io::Error::other)??;
    match written {
        Err(errors) => Ok(ConfigApplied {
            errors,
            reload: None,
            saved_previous_as: None,
        }),
        Ok((config, saved)) => {
            let reload = config_reload::apply(gateway, Trigger::Dashboard, Ok(config));
            Ok(ConfigApplied {
                errors: Vec::new(),
                reload,
                saved_previous_as: saved,
            })
        }
    }
}

/// `config` if none of its static directories leads outside the config file's directory tree,
/// unless the config in force already serves that directory (an admin who wrote it into the file
/// by hand keeps that power; an edit through the dashboard or the API cannot widen it).
fn confine(
    config: Config,
    running: &Config,
    config_path: &Path,
) -> Result<Config, Vec<ConfigFieldError>> {
    let root = config_path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .canonicalize()
        .ok();
    let granted: Vec<PathBuf> = running
        .static_dirs
        .iter()
        .filter_map(|dir| dir.dir.canonicalize().ok())
        .collect();
    let errors: Vec<ConfigFieldError> = config
        .static_dirs
        .iter()
        .enumerate()
        .filter_map(|(index, dir)| {
            let resolved = dir.dir.canonicalize().ok()?;
            let inside = root.as_ref().is_some_and(|root| resolved.starts_with(root));
            (!inside && !granted.contains(&resolved)).then(|| ConfigFieldError {
                path: format!("static[{index}].dir"),
                reason: format!(
                    "{} is outside the config file's directory; only an edit of the file itself may serve it",
                    resolved.display()
                ),
            })
        })
        .collect();
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_as_private_as_the_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "{\"listen\": \"127.0.0.1:1\"}").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let saved = write(&path, "{}", Utc::now()).unwrap().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&versions_dir(&path).join(saved)), 0o600);
    }

    #[test]
    fn writing_keeps_the_previous_content_as_a_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "{\"listen\": \"127.0.0.1:1\"}").unwrap();
        let now = Utc::now();
        let saved = write(&path, "{}", now).unwrap().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}");
        assert_eq!(
            read_version(&path, &saved).unwrap(),
            "{\"listen\": \"127.0.0.1:1\"}"
        );
        // Two edits within the same millisecond keep both versions.
        let again = write(&path, "{ }", now).unwrap().unwrap();
        assert_ne!(again, saved);
        let listed: Vec<String> = versions(&path).into_iter().map(|v| v.id).collect();
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert!(listed.contains(&saved) && listed.contains(&again));
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn versions_are_bounded_and_ids_cannot_escape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "{}").unwrap();
        let start = Utc::now();
        for i in 0..(MAX_VERSIONS + 5) {
            write(&path, "{}", start + chrono::TimeDelta::seconds(i as i64)).unwrap();
        }
        assert_eq!(versions(&path).len(), MAX_VERSIONS);
        for bad in ["../config.json", "", ".hidden.json", "a/b.json", "x.txt"] {
            assert!(read_version(&path, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn checks_name_the_field_and_diff_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "{\n}\n").unwrap();
        let bad = r#"{"routes": [{"name": "a", "path": "/*", "targets": ["nope"]}]}"#;
        let check = check(&path, bad);
        assert_eq!(check.errors.len(), 1, "{:?}", check.errors);
        assert_eq!(check.errors[0].path, "routes[0].targets[0]");
        assert!(!check.diff.is_empty());
        assert!(super::check(&path, "{\n}\n").errors.is_empty());
    }
}
