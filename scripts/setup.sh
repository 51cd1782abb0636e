#!/usr/bin/env bash
# Installs everything Gatewatch needs to build, run and test on Debian 12 (bookworm).
# Idempotent: each step checks first and is a quick no-op when its tool is already present.
# See docs in README.md ("Toolchain") for why the WASM build uses Debian's Rust with -Zbuild-std.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CARGO_LEPTOS_VERSION=0.3.11
APT_PACKAGES=(rustc-web cargo-web rust-web-src rustfmt-web rust-web-clippy lld-22
  chromium nginx wrk valgrind curl brotli pkg-config ca-certificates)

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian's Rust, its std source for -Zbuild-std, wasm-ld, Chromium, and the benchmark peers.
install_apt_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt: installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # nginx is only a benchmark peer: it must not hold port 80 as a service.
  if command -v systemctl >/dev/null 2>&1; then as_root systemctl disable --now nginx >/dev/null 2>&1 || true; fi
}

# Installs with Debian's toolchain (1.96): cargo-leptos's locked dependencies need it.
debian_cargo_install() {
  RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc /usr/bin/cargo install "$@"
}

install_cargo_leptos() {
  if cargo-leptos --version 2>/dev/null | grep -qF "$CARGO_LEPTOS_VERSION"; then return; fi
  log "cargo install cargo-leptos $CARGO_LEPTOS_VERSION (no_downloads; takes a while once)"
  # Lighter optimisation than the crate's fat-LTO release profile: it only drives cargo.
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    debian_cargo_install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
}

# wasm-bindgen-cli must equal the wasm-bindgen version locked in Cargo.lock.
install_wasm_bindgen() {
  local version
  version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' "$ROOT/Cargo.lock")
  [ -n "$version" ] || { log "no wasm-bindgen in Cargo.lock"; exit 1; }
  if wasm-bindgen --version 2>/dev/null | grep -qF " $version"; then return; fi
  log "cargo install wasm-bindgen-cli $version"
  # Not --locked: its lockfile pins a webpki-roots version this registry does not serve.
  debian_cargo_install wasm-bindgen-cli --version "$version" --force
}

# Playwright (driving Debian's Chromium) and binaryen's wasm-opt (Debian's binaryen 108 breaks hydration).
install_node_packages() {
  local dir="$ROOT/end2end"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
    ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.gatewatch-lock"; then
    log "npm ci in end2end/"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$dir/node_modules/.gatewatch-lock"
  fi
}

install_apt_packages
export PATH="$HOME/.cargo/bin:$PATH"
install_cargo_leptos
if [ -f "$ROOT/Cargo.lock" ]; then install_wasm_bindgen; fi
if [ -f "$ROOT/end2end/package-lock.json" ]; then install_node_packages; fi
