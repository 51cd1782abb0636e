//! `auth` and `audit`: who may use the admin plane (accounts with argon2id password hashes, API
//! tokens kept as SHA-256 hashes, roles), which hosts and origins it answers, how long sessions
//! last, and how long the audit log is kept. No secret is ever in the file in plain text.

use super::FieldErrors;
use crate::views::Role;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

/// How long a session lasts when `auth.session_ttl_s` is not given (12 hours).
pub const DEFAULT_SESSION_TTL_S: u64 = 43_200;
/// The longest session accepted (30 days).
pub const MAX_SESSION_TTL_S: u64 = 30 * 86_400;
/// How long audit entries are kept when `audit.retention_days` is not given.
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 365;
/// The longest audit retention accepted.
pub const MAX_AUDIT_RETENTION_DAYS: u32 = 3_650;
/// How a token hash starts in the file.
pub const TOKEN_HASH_PREFIX: &str = "sha256:";

// The raw types' `///` docs are the schema's descriptions, written for whoever edits config.json.

/// Who may use the dashboard and its API.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct FileAuth {
    /// Accounts that sign in on /login with a password. Default: none.
    #[serde(default)]
    #[schemars(extend("default" = []))]
    pub users: Vec<FileUser>,
    /// Tokens for scripts and Prometheus, sent as Authorization: Bearer <token>. Default: none.
    #[serde(default)]
    #[schemars(extend("default" = []))]
    pub tokens: Vec<FileToken>,
    /// How long a sign-in lasts, in seconds (1 to 2592000). Default 43200 (12 hours).
    #[schemars(range(min = 1, max = MAX_SESSION_TTL_S), extend("default" = DEFAULT_SESSION_TTL_S))]
    pub session_ttl_s: Option<u64>,
    /// Host names the dashboard answers besides its listen address and localhost, as browsers
    /// send them in Host: "gw.example.com" (any port) or "gw.example.com:8443". Other hosts get
    /// 421 (protection against DNS rebinding). Default: none.
    #[serde(default)]
    #[schemars(extend("default" = [], "examples" = [["gw.example.com"]]))]
    pub allowed_hosts: Vec<String>,
    /// Origins whose state-changing requests are accepted besides the dashboard's own
    /// (scheme://host[:port]), e.g. a TLS proxy in front of it. Default: none.
    #[serde(default)]
    #[schemars(extend("default" = [], "examples" = [["https://gw.example.com"]]))]
    pub allowed_origins: Vec<String>,
}

/// An account.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileUser {
    /// Unique user name: 1 to 64 letters, digits, '-', '_', '.', '@'.
    #[schemars(regex(pattern = r"^[A-Za-z0-9._@-]{1,64}$"))]
    pub name: String,
    /// The argon2id PHC string of the password, as `gatewatch hash-password` prints it (never
    /// the password itself).
    #[schemars(regex(pattern = r"^\$argon2id\$"), extend("examples" = ["$argon2id$v=19$m=19456,t=2,p=1$…$…"]))]
    pub password_hash: String,
    /// viewer: reads everything; admin: also checks, applies and rolls back the config.
    pub role: Role,
}

/// An API token.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileToken {
    /// Unique token name (shown in the audit log): 1 to 64 letters, digits, '-', '_', '.', '@'.
    #[schemars(regex(pattern = r"^[A-Za-z0-9._@-]{1,64}$"))]
    pub name: String,
    /// "sha256:" and the lowercase hex SHA-256 of the token, as `gatewatch new-token NAME`
    /// prints it (never the token itself).
    #[schemars(regex(pattern = r"^sha256:[0-9a-f]{64}$"))]
    pub token_hash: String,
    /// viewer: reads everything; admin: also checks, applies and rolls back the config.
    pub role: Role,
}

/// The audit log.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct FileAudit {
    /// Days audit entries are kept before they are deleted (1 to 3650). Default 365.
    #[schemars(range(min = 1, max = MAX_AUDIT_RETENTION_DAYS), extend("default" = DEFAULT_AUDIT_RETENTION_DAYS))]
    pub retention_days: Option<u32>,
}

/// Who may use the admin plane.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// Accounts that sign in with a password.
    pub users: Vec<UserAccount>,
    /// Tokens for `Authorization: Bearer` (scripts, Prometheus).
    pub tokens: Vec<ApiToken>,
    /// How long a session lasts after sign-in.
    pub session_ttl: Duration,
    /// Extra `Host` values the dashboard answers (lower case, with port if given).
    pub allowed_hosts: Vec<String>,
    /// Extra origins whose state-changing requests are accepted (`scheme://host[:port]`).
    pub allowed_origins: Vec<String>,
}

impl AuthConfig {
    /// Whether anyone must sign in: there is at least one user or token.
    pub fn has_accounts(&self) -> bool {
        !self.users.is_empty() || !self.tokens.is_empty()
    }

    /// The user named `name`.
    pub fn user(&self, name: &str) -> Option<&UserAccount> {
        self.users.iter().find(|user| user.name == name)
    }
}

/// An account that signs in with a password.
#[derive(Clone, PartialEq, Eq)]
pub struct UserAccount {
    pub name: String,
    /// The argon2id PHC string (checked to parse).
    pub password_hash: String,
    pub role: Role,
}

impl fmt::Debug for UserAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserAccount")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A token for `Authorization: Bearer`, known by the SHA-256 of its text.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub name: String,
    pub sha256: [u8; 32],
    pub role: Role,
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiToken")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// How long the audit log is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditConfig {
    pub retention: Duration,
}

/// Validates `auth` (`None`: no accounts, only the loopback hosts and the dashboard's origin).
pub fn validate_auth(file: Option<FileAuth>, errors: &mut FieldErrors) -> AuthConfig {
    let file = file.unwrap_or_default();
    let mut names = HashSet::new();
    let users = file
        .users
        .into_iter()
        .enumerate()
        .filter_map(|(index, user)| {
            let at = format!("auth.users[{index}]");
            check_name(&user.name, &at, &mut names, errors);
            match check_password_hash(&user.password_hash) {
                Ok(()) => Some(UserAccount {
                    name: user.name,
                    password_hash: user.password_hash,
                    role: user.role,
                }),
                Err(reason) => {
                    errors.push(format!("{at}.password_hash"), reason);
                    None
                }
            }
        })
        .collect();
    let mut token_names = HashSet::new();
    let tokens = file
        .tokens
        .into_iter()
        .enumerate()
        .filter_map(|(index, token)| {
            let at = format!("auth.tokens[{index}]");
            check_name(&token.name, &at, &mut token_names, errors);
            match parse_token_hash(&token.token_hash) {
                Ok(sha256) => Some(ApiToken {
                    name: token.name,
                    sha256,
                    role: token.role,
                }),
                Err(reason) => {
                    errors.push(format!("{at}.token_hash"), reason);
                    None
                }
            }
        })
        .collect();
    let ttl = file.session_ttl_s.unwrap_or(DEFAULT_SESSION_TTL_S);
    if !(1..=MAX_SESSION_TTL_S).contains(&ttl) {
        errors.push(
            "auth.session_ttl_s",
            format!("must be from 1 to {MAX_SESSION_TTL_S} seconds, got {ttl}"),
        );
    }
    let allowed_hosts = file
        .allowed_hosts
        .iter()
        .enumerate()
        .filter_map(|(index, host)| {
            normalize_host(host)
                .map_err(|reason| errors.push(format!("auth.allowed_hosts[{index}]"), reason))
                .ok()
        })
        .collect();
    let allowed_origins = file
        .allowed_origins
        .iter()
        .enumerate()
        .filter_map(|(index, origin)| {
            normalize_origin(origin)
                .map_err(|reason| errors.push(format!("auth.allowed_origins[{index}]"), reason))
                .ok()
        })
        .collect();
    AuthConfig {
        users,
        tokens,
        session_ttl: Duration::from_secs(ttl),
        allowed_hosts,
        allowed_origins,
    }
}

/// Validates `audit`.
pub fn validate_audit(file: Option<FileAudit>, errors: &mut FieldErrors) -> AuditConfig {
    let days = file
        .unwrap_or_default()
        .retention_days
        .unwrap_or(DEFAULT_AUDIT_RETENTION_DAYS);
    if !(1..=MAX_AUDIT_RETENTION_DAYS).contains(&days) {
        errors.push(
            "audit.retention_days",
            format!("must be between 1 and {MAX_AUDIT_RETENTION_DAYS} days, got {days}"),
        );
    }
    AuditConfig {
        retention: Duration::from_secs(u64::from(days) * 86_400),
    }
}

/// Whether `name` may name a user or a token: 1 to 64 letters, digits, '-', '_', '.' or '@'.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
}

fn check_name(name: &str, at: &str, seen: &mut HashSet<String>, errors: &mut FieldErrors) {
    if !is_plain_name(name) {
        errors.push(
            format!("{at}.name"),
            "must be 1 to 64 characters: letters, digits, '-', '_', '.', '@'",
        );
    } else if !seen.insert(name.to_string()) {
        errors.push(format!("{at}.name"), format!("duplicate name {name:?}"));
    }
}

/// Whether `phc` is an argon2id PHC string with its parameters, salt and hash.
pub fn check_password_hash(phc: &str) -> Result<(), String> {
    const HOW: &str = "make one with `gatewatch hash-password`";
    let parsed = argon2::PasswordHash::new(phc)
        .map_err(|_| format!("not a PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash); {HOW}"))?;
    if parsed.algorithm != argon2::ARGON2ID_IDENT {
        return Err(format!(
            "must be an argon2id hash, not {}; {HOW}",
            parsed.algorithm
        ));
    }
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(format!("has no salt or no hash; {HOW}"));
    }
    argon2::Params::try_from(&parsed)
        .map_err(|error| format!("argon2 parameters: {error}; {HOW}"))?;
    Ok(())
}

/// The 32 bytes of a `sha256:` + 64 lowercase hex digits token hash.
pub fn parse_token_hash(text: &str) -> Result<[u8; 32], String> {
    let bad = || {
        format!(
            "must be \"{TOKEN_HASH_PREFIX}\" followed by 64 lowercase hex digits (the SHA-256 of the \
             token); make one with `gatewatch new-token NAME`"
        )
    };
    let hex = text.strip_prefix(TOKEN_HASH_PREFIX).ok_or_else(bad)?;
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(bad());
    }
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let digit = |c: u8| {
            if c.is_ascii_digit() {
                c - b'0'
            } else {
                c - b'a' + 10
            }
        };
        *byte = digit(pair[0]) << 4 | digit(pair[1]);
    }
    Ok(bytes)
}

/// A `Host` value as compared: lower case, `host` or `host:port`.
fn normalize_host(host: &str) -> Result<String, String> {
    let host = host.trim().to_ascii_lowercase();
    let valid = !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '[' | ']'));
    if valid {
        Ok(host)
    } else {
        Err(format!(
            "not a host name (e.g. \"gw.example.com\" or \"gw.example.com:3000\"): {host:?}"
        ))
    }
}

/// An origin as compared: `scheme://host[:port]`, lower case, no path.
fn normalize_origin(origin: &str) -> Result<String, String> {
    let origin = origin.trim().to_ascii_lowercase();
    let host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    match host {
        Some(host) if normalize_host(host).is_ok() && !host.contains('/') => Ok(origin),
        _ => Err(format!(
            "not an origin (scheme://host[:port], e.g. \"https://gw.example.com\"): {origin:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A well-formed argon2id PHC string (validation parses it; it verifies no password).
    pub const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$5zLg3Vv3ioVJyKxT2F2mScD4YHc8P8Xq6u6kdY4XcTw";

    fn validated(json: &str) -> (AuthConfig, Vec<String>) {
        let file: FileAuth = serde_json::from_str(json).unwrap();
        let mut errors = FieldErrors::default();
        let auth = validate_auth(Some(file), &mut errors);
        (auth, errors.0.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn users_tokens_and_lists_are_read() {
        let token = format!("sha256:{}", "ab".repeat(32));
        let (auth, errors) = validated(&format!(
            r#"{{"users": [{{"name": "alice", "password_hash": "{HASH}", "role": "admin"}}],
                "tokens": [{{"name": "prometheus", "token_hash": "{token}", "role": "viewer"}}],
                "allowed_hosts": ["GW.Example.com"], "allowed_origins": ["https://gw.example.com"]}}"#
        ));
        assert!(errors.is_empty(), "{errors:?}");
        assert!(auth.has_accounts());
        assert_eq!(auth.user("alice").unwrap().role, Role::Admin);
        assert_eq!(auth.tokens[0].sha256, [0xab; 32]);
        assert_eq!(auth.allowed_hosts, ["gw.example.com"]);
        assert_eq!(auth.session_ttl, Duration::from_secs(DEFAULT_SESSION_TTL_S));
        assert!(
            !format!("{auth:?}").contains("argon2id"),
            "hashes stay out of Debug"
        );
    }

    #[test]
    fn malformed_hashes_and_names_name_their_field() {
        let (_, errors) = validated(
            r#"{"users": [{"name": "a", "password_hash": "hunter2", "role": "admin"},
                          {"name": "a", "password_hash": "$argon2i$v=19$m=16,t=2,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "role": "viewer"}],
                "tokens": [{"name": "t", "token_hash": "sha256:ABC", "role": "viewer"}],
                "session_ttl_s": 0, "allowed_origins": ["gw.example.com"]}"#,
        );
        assert_eq!(errors.len(), 6, "{errors:?}");
        assert!(
            errors[0].starts_with("auth.users[0].password_hash: not a PHC string"),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with("auth.users[1].name: duplicate name"),
            "{errors:?}"
        );
        assert!(
            errors[2].starts_with("auth.users[1].password_hash: must be an argon2id hash"),
            "{errors:?}"
        );
        assert!(
            errors[3].starts_with("auth.tokens[0].token_hash: must be \"sha256:\""),
            "{errors:?}"
        );
        assert!(
            errors[4].starts_with("auth.session_ttl_s: must be from 1 "),
            "{errors:?}"
        );
        assert!(
            errors[5].starts_with("auth.allowed_origins[0]: not an origin"),
            "{errors:?}"
        );
    }
}
