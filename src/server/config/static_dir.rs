//! `static[]`: directories served under a path, optionally with a single-page-app fallback file.

use super::route::{PathPattern, parse_path_pattern};
use super::{FieldErrors, schema};
use schemars::JsonSchema;
use serde::Deserialize;
use std::path::{Path, PathBuf};

// A static directory as written.
/// A directory of files served under a path.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "static")]
pub struct FileStatic {
    /// Where the files are served: "/assets/*" ("/assets" is the same) or "*" (every path).
    #[schemars(with = "schema::PathPattern")]
    pub path: String,
    /// The directory to serve, relative to the config file's directory unless absolute; must
    /// exist. Requests never leave it.
    #[schemars(extend("examples" = ["public"]))]
    pub dir: String,
    /// A file inside dir served for paths matching no file (single-page apps); a relative name
    /// without "." or ".." segments, and it must exist. Default: none (404).
    #[schemars(
        regex(pattern = r"^(?!\.\.?(/|$))(?!.*/\.\.(/|$))[^/]"),
        extend("examples" = ["index.html"])
    )]
    pub spa_fallback: Option<String>,
}

/// A validated static directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticConfig {
    pub path: PathPattern,
    pub dir: PathBuf,
    pub spa_fallback: Option<PathBuf>,
}

/// Validates `static[index]`; `base` is the config file's directory.
pub fn validate_static(
    file: FileStatic,
    at: &str,
    base: &Path,
    errors: &mut FieldErrors,
) -> Option<StaticConfig> {
    let before = errors.len();
    let path = match parse_path_pattern(&file.path) {
        Ok(PathPattern::Exact(path)) => {
            Some(PathPattern::Prefix(path.trim_end_matches('/').to_string()))
        }
        Ok(pattern) => Some(pattern),
        Err(reason) => {
            errors.push(format!("{at}.path"), reason);
            None
        }
    };
    let dir = base.join(&file.dir);
    if !dir.is_dir() {
        errors.push(
            format!("{at}.dir"),
            format!("not a directory: {}", dir.display()),
        );
    }
    let spa_fallback = file.spa_fallback.map(|name| {
        let fallback = dir.join(&name);
        if Path::new(&name)
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            errors.push(
                format!("{at}.spa_fallback"),
                "must be a file name inside dir",
            );
        } else if !fallback.is_file() {
            errors.push(
                format!("{at}.spa_fallback"),
                format!("not a file: {}", fallback.display()),
            );
        }
        fallback
    });
    if errors.len() > before {
        return None;
    }
    Some(StaticConfig {
        path: path?,
        dir,
        spa_fallback,
    })
}
