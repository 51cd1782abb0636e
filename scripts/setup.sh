#!/usr/bin/env bash
# Installs everything Gatewatch needs to build, run and test on Debian 12 (bookworm).
# Idempotent: each step checks first and is a quick no-op when its tool is already present.
# See docs in README.md ("Toolchain") for why the WASM build uses Debian's Rust with -Zbuild-std.
# With GATEWATCH_SETUP_BENCH=1 (bench/lib.sh sets it) it also installs the benchmarks' peers and
# tools (nginx, wrk, valgrind), which building, running and testing do not need; with
# GATEWATCH_SETUP_FUZZ=1 (bench/fuzz.sh sets it), cargo-fuzz.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CARGO_LEPTOS_VERSION=0.3.11
CARGO_FUZZ_VERSION=0.13.2
# tmux: the terminal dashboard's end-to-end tests run it in a real terminal.
APT_PACKAGES=(rustc-web cargo-web rust-web-src rustfmt-web rust-web-clippy lld-22 tmux
  chromium curl openssl brotli pkg-config ca-certificates)
BENCH_PACKAGES=(nginx wrk valgrind)
# Playwright 1.65 needs Node.js 20 or later; Debian 12's own nodejs is 18.
NODE_MAJOR_MIN=20
# Where a newer Node.js is installed from the npm registry when the machine's is missing or old
# (scripts/env.sh puts its bin/ on PATH).
NODE_PREFIX="$HOME/.cache/gatewatch/node"

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian's packages given as arguments, those not installed yet.
install_apt_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt: installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# The benchmarks' peers and tools; nginx is only a peer: it must not hold port 80 as a service.
install_bench_packages() {
  install_apt_packages "${BENCH_PACKAGES[@]}"
  if command -v systemctl >/dev/null 2>&1; then as_root systemctl disable --now nginx >/dev/null 2>&1 || true; fi
}

# The major version of the Node.js at $1, or nothing.
node_major() { "$1" --version 2>/dev/null | sed -nE 's/^v([0-9]+)\..*/\1/p'; }

# Node.js >= NODE_MAJOR_MIN with npm: the machine's if it is new enough, else the npm registry's
# `node` package (fetched with Debian's npm) under NODE_PREFIX.
ensure_node() {
  local major
  major=$(node_major node)
  if [ -n "$major" ] && [ "$major" -ge "$NODE_MAJOR_MIN" ] && command -v npm >/dev/null; then return; fi
  major=$(node_major "$NODE_PREFIX/bin/node")
  if [ -n "$major" ] && [ "$major" -ge "$NODE_MAJOR_MIN" ]; then return; fi
  log "Node.js >= $NODE_MAJOR_MIN not found (found: $(node --version 2>/dev/null || echo none)): installing node@22 from the npm registry into $NODE_PREFIX"
  command -v npm >/dev/null || install_apt_packages nodejs npm
  mkdir -p "$NODE_PREFIX"
  npm install --global --prefix "$NODE_PREFIX" --no-audit --no-fund --loglevel=error node@22 npm@11
  major=$(node_major "$NODE_PREFIX/bin/node")
  if [ -z "$major" ] || [ "$major" -lt "$NODE_MAJOR_MIN" ]; then
    log "could not install Node.js >= $NODE_MAJOR_MIN: install it (e.g. from nodejs.org or NodeSource) and run this again"
    exit 1
  fi
}

# Installs with Debian's toolchain (1.96): cargo-leptos's locked dependencies need it. Lighter
# optimisation than the tools' own release profiles (fat LTO for some): they only drive the build,
# and this way they build in a fraction of the time.
debian_cargo_install() {
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc /usr/bin/cargo install "$@"
}

install_cargo_leptos() {
  if cargo-leptos --version 2>/dev/null | grep -qF "$CARGO_LEPTOS_VERSION"; then return; fi
  log "cargo install cargo-leptos $CARGO_LEPTOS_VERSION (no_downloads; takes a while once)"
  debian_cargo_install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
}

# The fuzz targets' driver (bench/fuzz.sh only; the tests replay the corpus without it).
install_cargo_fuzz() {
  if cargo-fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then return; fi
  log "cargo install cargo-fuzz $CARGO_FUZZ_VERSION"
  debian_cargo_install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
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

install_apt_packages "${APT_PACKAGES[@]}"
if [ "${GATEWATCH_SETUP_BENCH:-0}" = 1 ]; then install_bench_packages; fi
ensure_node
export PATH="$HOME/.cargo/bin:$NODE_PREFIX/bin:$PATH"
install_cargo_leptos
if [ -f "$ROOT/Cargo.lock" ]; then install_wasm_bindgen; fi
if [ "${GATEWATCH_SETUP_FUZZ:-0}" = 1 ]; then install_cargo_fuzz; fi
if [ -f "$ROOT/end2end/package-lock.json" ]; then install_node_packages; fi
