//! The config page's data: the file as it is, checks of an edit, and saved versions.

use super::ConfigReload;
use crate::diff::DiffLine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `config.json` as it is on disk, with the versions kept from earlier edits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigDocument {
    pub path: String,
    /// The file's text.
    pub text: String,
    /// The text of the config in force, which differs from the file after a rejected reload
    /// (or a change the watcher has not applied yet).
    pub running: String,
    /// Newest first.
    pub versions: Vec<ConfigVersion>,
    /// Who wrote the file's current text through the dashboard or the API; `None` when it was
    /// written by hand.
    #[serde(default)]
    pub author: Option<String>,
}

/// A previous content of the config file, saved when an edit replaced it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigVersion {
    /// Name of the saved file (pass to rollback).
    pub id: String,
    pub saved_at: DateTime<Utc>,
    pub bytes: u64,
    /// Who wrote this content through the dashboard or the API (from the audit log); `None`
    /// for content written to the file by hand.
    #[serde(default)]
    pub author: Option<String>,
}

/// One validation problem at a JSON path (`routes[0].targets[1].url`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigFieldError {
    pub path: String,
    pub reason: String,
}

/// What checking an edited config found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigCheck {
    pub errors: Vec<ConfigFieldError>,
    /// The edit against the file on disk.
    pub diff: Vec<DiffLine>,
}

/// What applying an edit did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigApplied {
    /// Why it was not written (nothing changed on disk).
    pub errors: Vec<ConfigFieldError>,
    /// The reload that followed the write.
    pub reload: Option<ConfigReload>,
    /// The version the previous file was saved as.
    pub saved_previous_as: Option<String>,
}
