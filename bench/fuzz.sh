#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/) under libFuzzer for FUZZ_SECONDS (default 600)
# each, from the committed corpus (fuzz/corpus/<target>/), and reports per target the inputs run,
# executions per second, coverage (libFuzzer's final `cov` and `ft`) and crashes: a Markdown
# table printed and written to bench/results/fuzz-<UTC>.md. Exits non-zero if a target crashed;
# the input is in fuzz/artifacts/<target>/ (replay: `cargo fuzz run -s none <target> <file>`).
#
# Coverage-guided, without a sanitizer (`-s none`: Debian's rustc ships no ASan runtime), with
# debug assertions and overflow checks on, so a panic, a broken invariant (server::fuzz) or an
# overflow is the crash. New inputs go to a scratch corpus; FUZZ_MERGE=1 merges those that add
# coverage into the committed one. FUZZ_TARGETS="chunked config" runs only those. FUZZ_BUILD=0
# runs the instrumented binaries already built (the build is long: every dependency again),
# whatever the sources have become since; the report names the commit they were built from.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The setup installs cargo-fuzz too (only this script needs it).
export GATEWATCH_SETUP_FUZZ=1
source "$ROOT/scripts/env.sh"
# -Z flags for the instrumented build on Debian's stable rustc (as for the WASM build).
export RUSTC_BOOTSTRAP=1
FUZZ_SECONDS=${FUZZ_SECONDS:-600}
# The instrumented build is a second build of every dependency: kept beside the others.
FUZZ_TARGET_DIR=${FUZZ_TARGET_DIR:-$CARGO_TARGET_DIR/fuzz}
FUZZ_FLAGS=(-s none --debug-assertions --target-dir "$FUZZ_TARGET_DIR")
read -r -a targets <<<"${FUZZ_TARGETS:-$(cargo fuzz list | tr '\n' ' ')}"

TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
FUZZ_BIN="$FUZZ_TARGET_DIR/$TRIPLE/release"
if [ "${FUZZ_BUILD:-1}" = 1 ]; then
  cargo fuzz build "${FUZZ_FLAGS[@]}"
  git -C "$ROOT" rev-parse --short HEAD >"$FUZZ_BIN/.built-from"
  git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock fuzz || echo "+changes" >>"$FUZZ_BIN/.built-from"
fi
built_from=$(tr '\n' ' ' <"$FUZZ_BIN/.built-from" 2>/dev/null || echo "unknown")

WORK=$(mktemp -d /tmp/gatewatch-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
stamp=$(date -u +%Y-%m-%dT%H%M)
report="$ROOT/bench/results/fuzz-$stamp.md"
crashed=0
{
  echo "# Fuzzing: $FUZZ_SECONDS s per target ($stamp UTC)"
  echo
  echo "libFuzzer through cargo-fuzz, \`-s none\`, debug assertions on, from the committed corpus;"
  echo "binaries built from commit $built_from; $(nproc) cores, shared. cov/ft: libFuzzer's coverage"
  echo "counters at the end of the run."
  echo
  echo "| target | seconds | runs | execs/s | cov | ft | corpus (start → end) | crashes |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
} >"$WORK/table.md"
for target in "${targets[@]}"; do
  log="$WORK/$target.log"
  mkdir -p "$WORK/corpus-$target" "fuzz/artifacts/$target"
  before=$(find "fuzz/artifacts/$target" -type f | wc -l)
  echo "fuzzing $target for $FUZZ_SECONDS s" >&2
  status=0
  # The binary itself, as `cargo fuzz run` would start it (which would rebuild first).
  "$FUZZ_BIN/$target" -artifact_prefix="fuzz/artifacts/$target/" \
    -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "$WORK/corpus-$target" "fuzz/corpus/$target" >"$log" 2>&1 || status=$?
  crashes=$(($(find "fuzz/artifacts/$target" -type f | wc -l) - before))
  if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi
  if [ "$crashes" -ne 0 ]; then
    crashed=1
    tail -n 40 "$log" >&2
  fi
  stat() { sed -nE "s/^stat::$1: *([0-9]+).*/\1/p" "$log" | tail -n 1; }
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  field() { sed -nE "s/.* $1: ([0-9]+).*/\1/p" <<<"$last"; }
  start=$(find "fuzz/corpus/$target" -type f | wc -l)
  end=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$last")
  echo "| $target | $FUZZ_SECONDS | $(stat number_of_executed_units) | $(stat average_exec_per_sec) | $(field cov) | $(field ft) | $start → ${end:-?} | $crashes |" \
    >>"$WORK/table.md"
  if [ "${FUZZ_MERGE:-0}" = 1 ] && [ "$crashes" -eq 0 ]; then
    "$FUZZ_BIN/$target" -merge=1 "fuzz/corpus/$target" "$WORK/corpus-$target" >>"$log" 2>&1
  fi
done
mkdir -p "$ROOT/bench/results"
cp "$WORK/table.md" "$report"
cat "$report"
echo "(written to ${report#"$ROOT"/})" >&2
exit "$crashed"
