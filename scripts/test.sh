#!/usr/bin/env bash
# Runs every test: cargo fmt --check, clippy on both builds (ssr; hydrate on wasm32) with
# -D warnings, the cargo tests, the WASM client's release build (beside them) and the
# Playwright end-to-end tests in Debian's Chromium.
#
# The tests run against the server binary `cargo test` links anyway, built with the
# `quick-release` profile (incremental, light optimisation: a change rebuilds in a minute or
# two), not the shipped fat-LTO build (`server-release`, a ~13 minute single-threaded link
# after every change), which scripts/run.sh and the benchmarks use.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

started=$SECONDS
step() {
  local name=$1
  shift
  printf '\n\033[1;34m==> %s\033[0m\n' "$name"
  local t=$SECONDS
  "$@"
  printf '\033[1;32m<== %s (%ss)\033[0m\n' "$name" $((SECONDS - t))
}

# The WASM client's release build runs beside the checks and cargo tests below: each of them
# has long single-threaded stretches (the crate's type checking, the client's LTO link) that
# leave a core idle. Its output is shown when Playwright needs it. Skipped when the client's
# inputs are unchanged (env.sh).
client_log=$(mktemp)
export -f build_client_if_changed client_inputs_digest build_release
setsid -w bash -c build_client_if_changed >"$client_log" 2>&1 &
client_build=$!
# A failing step ends the script: the client build (its own process group) ends with it.
trap 'kill -- -"$client_build" 2>/dev/null || true' EXIT
client_started=$SECONDS
wait_for_client() {
  local status=0
  wait "$client_build" || status=$?
  cat "$client_log"
  echo "(built beside the steps above: $((SECONDS - client_started))s from the start)"
  return "$status"
}

step "cargo fmt --check" cargo fmt --all --check
step "clippy: server (ssr)" cargo clippy --features ssr --all-targets -- -D warnings
step "clippy: client (hydrate, wasm32)" cargo clippy --lib --no-default-features --features hydrate \
  --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort -- -D warnings
step "cargo test" cargo test --profile quick-release --features ssr
# The binary `cargo test` linked for the integration tests; Playwright runs it too.
export GATEWATCH_BIN="$CARGO_TARGET_DIR/quick-release/gatewatch"
step "release build (WASM client)" wait_for_client
# Screenshots too: every page at three widths in both themes, hydrated without console errors
# (the images land in end2end/test-results/screenshots/ for a person to look at).
step "Playwright end-to-end (Chromium)" bash -c 'cd end2end && npx tsc -p . && SCREENSHOTS=1 npx playwright test'
printf '\nAll checks passed in %ss.\n' $((SECONDS - started))
