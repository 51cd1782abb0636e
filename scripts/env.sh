# Sourced by scripts/run.sh and scripts/test.sh: runs the setup, then sets the paths the build uses.
# shellcheck shell=bash
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
# cargo-installed tools (cargo-leptos, wasm-bindgen), binaryen's wasm-opt from npm, and the
# Node.js setup.sh installed when the machine's was missing or too old.
export PATH="$HOME/.cargo/bin:$ROOT/end2end/node_modules/.bin:$PATH"
if [ -x "$HOME/.cache/gatewatch/node/bin/node" ]; then export PATH="$HOME/.cache/gatewatch/node/bin:$PATH"; fi
# Build artefacts live outside the clone so fresh clones on the same machine reuse them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatewatch/target}"
export GATEWATCH_BIN="$CARGO_TARGET_DIR/server-release/gatewatch"
cd "$ROOT"
# The release build of server and WASM client: the client split into lazily loaded chunks, one
# per dashboard page (--split, see src/app/pages.rs), and every site file stored brotli- and
# gzip-compressed beside the original (--precompress), which the dashboard serves to browsers
# that accept them.
build_release() { cargo leptos build --release --split --precompress "$@"; }
