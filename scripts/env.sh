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

# The WASM client's release build, skipped when nothing it is built from changed since the site
# in target/site was built: the files of the lib outside the server-only `src/server` subtree,
# style/, public/, the manifests and cargo settings, and the toolchain. A one-line change to the
# server then costs no client build (~95 s of wasm-opt and compression otherwise).
client_inputs_digest() {
  {
    find src style public -type f ! -path 'src/server/*' ! -path 'src/server.rs' ! -name 'main.rs' -print0 \
      | sort -z | xargs -0 sha256sum
    sha256sum Cargo.toml Cargo.lock .cargo/config.toml rust-toolchain.toml
    rustc -V
    cargo leptos --version
  } | sha256sum | cut -d' ' -f1
}
build_client_if_changed() {
  local stamp=target/site/.client-inputs digest
  digest=$(client_inputs_digest)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ] && [ -f target/site/pkg/gatewatch.wasm ]; then
    echo "The WASM client's inputs are unchanged since target/site was built: not rebuilt."
    return
  fi
  rm -f "$stamp"
  build_release --frontend-only
  echo "$digest" >"$stamp"
}
