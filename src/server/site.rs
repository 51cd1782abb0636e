//! Where the dashboard's built site (WASM, JS glue, CSS, assets) is, so `gatewatch` runs bare —
//! without cargo-leptos — from the project root or from its build directory.

use leptos::config::{Env, LeptosOptions, get_configuration};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The crate's output name: the site serves `pkg/gatewatch.{js,wasm,css}`.
pub const OUTPUT_NAME: &str = "gatewatch";
/// The site's package directory.
pub const SITE_PKG_DIR: &str = "pkg";

/// Leptos options for a dashboard on `dashboard_addr`.
///
/// Under `cargo leptos watch/serve` the `LEPTOS_*` variables it sets are honoured (live reload);
/// otherwise the site root is `LEPTOS_SITE_ROOT` if set, or the first built site found.
pub fn leptos_options(dashboard_addr: SocketAddr) -> LeptosOptions {
    if std::env::var_os("LEPTOS_OUTPUT_NAME").is_some()
        && let Ok(configuration) = get_configuration(None)
    {
        let mut options = configuration.leptos_options;
        options.site_addr = dashboard_addr;
        return options;
    }
    let site_root = std::env::var_os("LEPTOS_SITE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(find_site_root);
    LeptosOptions::builder()
        .output_name(OUTPUT_NAME)
        .site_root(site_root.to_string_lossy().as_ref())
        .site_pkg_dir(SITE_PKG_DIR)
        .site_addr(dashboard_addr)
        .env(Env::PROD)
        .build()
}

/// `target/site` under the working directory, else `site` beside the binary's build directory
/// (`<target>/release/gatewatch` → `<target>/site`).
fn find_site_root() -> PathBuf {
    let beside_binary = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(|target| target.join("site")));
    let candidates = [Some(PathBuf::from("target/site")), beside_binary];
    candidates
        .iter()
        .flatten()
        .find(|root| is_built_site(root))
        .cloned()
        .unwrap_or_else(|| {
            tracing::warn!(
                "no built dashboard site found (tried target/site and beside the binary); \
                 pages render but will not hydrate: run scripts/run.sh (or cargo leptos build --release)"
            );
            PathBuf::from("target/site")
        })
}

/// Whether `root` holds a built site.
pub fn is_built_site(root: &Path) -> bool {
    root.join(SITE_PKG_DIR)
        .join(format!("{OUTPUT_NAME}.wasm"))
        .is_file()
}
