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
/// otherwise the site root is `LEPTOS_SITE_ROOT` if set, or the first built site found. (Only
/// cargo-leptos sets `LEPTOS_SITE_ADDR` when it runs the server; `LEPTOS_OUTPUT_NAME` is also
/// set for every cargo command by `.cargo/config.toml`.)
pub fn leptos_options(dashboard_addr: SocketAddr) -> LeptosOptions {
    if std::env::var_os("LEPTOS_SITE_ADDR").is_some()
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
/// (`<target>/server-release/gatewatch` → `<target>/site`).
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

/// The response header naming the build of the site's files, on every `/pkg/` response. The
/// browser's WASM loader (`public/wasm-fetch.js`) compares it with the build its page came from:
/// a page's code is loaded lazily, and code of a newer build must not be mixed into a page of
/// an older one (after an upgrade, a tab still open reloads instead).
pub const SITE_BUILD_HEADER: &str = "x-gatewatch-site";

/// Identifies the built site under `site_root`: the size and modification time of its main WASM
/// module, which every build rewrites. `none` when there is no built site.
pub fn site_build(site_root: &Path) -> String {
    let Ok(metadata) = std::fs::metadata(main_module(site_root)) else {
        return "none".to_owned();
    };
    let modified = metadata
        .modified()
        .ok()
        .and_then(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_nanos());
    format!("{:x}-{modified:x}", metadata.len())
}

/// Whether `root` holds a built site.
pub fn is_built_site(root: &Path) -> bool {
    main_module(root).is_file()
}

/// The site's main WASM module under `root`.
fn main_module(root: &Path) -> PathBuf {
    root.join(SITE_PKG_DIR).join(format!("{OUTPUT_NAME}.wasm"))
}
