//! Who is signed in to the dashboard, as the pages and the API show it.

use serde::{Deserialize, Serialize};

/// What an account or token may do on the admin plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything: pages, API, live socket, exports, `/metrics`.
    Viewer,
    /// Also checks, applies and rolls back the config, and every other write.
    Admin,
}

impl Role {
    /// The name used in `config.json`, the API and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Admin => "admin",
        }
    }
}

/// The caller of a dashboard request, for the page's header and what it offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// Whether the dashboard has accounts (`auth` with users or tokens in the config).
    pub accounts: bool,
    /// The signed-in user or token (`None` without accounts: everyone is the local admin).
    pub name: Option<String>,
    /// What the caller may do.
    pub role: Role,
    /// `dashboard.allow_unauthenticated` is on: a network-reachable dashboard without accounts.
    pub unauthenticated_exposed: bool,
}

impl SessionView {
    /// A caller the page could not identify: shown as a viewer (the server decides anyway).
    pub fn read_only() -> Self {
        Self {
            accounts: true,
            name: None,
            role: Role::Viewer,
            unauthenticated_exposed: false,
        }
    }

    /// Whether the caller may change the gateway (apply a config, roll back, …).
    pub fn can_write(&self) -> bool {
        self.role == Role::Admin
    }
}

/// One entry of the audit log: who did what to the admin plane, when, and with what outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its place in the log (newer entries have larger ids).
    pub id: u64,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The user or token name, or `local` without accounts.
    pub actor: String,
    /// The actor's role then (`None` for a failed sign-in).
    pub role: Option<Role>,
    /// The client's IP address.
    pub client: String,
    /// `config.apply`, `config.rollback`, `login`, `logout`, …
    pub action: String,
    /// `ok`, `rejected` (an invalid config), `failed` (a wrong password), `error`.
    pub outcome: String,
    /// The config's version (a hash of its text) before and after a config change.
    pub version_before: Option<String>,
    pub version_after: Option<String>,
    /// What the change did (`routes added: api`), or why it was refused.
    pub summary: Vec<String>,
    /// The change as a line diff (config changes only).
    pub diff: Vec<crate::diff::DiffLine>,
}

/// A page of the audit log, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `cursor` for the next (older) page.
    pub next_cursor: Option<u64>,
}
