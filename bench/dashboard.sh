#!/usr/bin/env bash
# What the dashboard costs and how fast it is, in one run:
#   1. server render time of every page (curl, 20 runs each, median and p95), with traffic recorded;
#   2. the WASM client's size: what each page's first load fetches (main module + that page's
#      lazily loaded chunks), brotli;
#   3. proxy throughput with 20 live dashboards' sockets open vs none (wrk c=50, interleaved
#      rounds, median; the sockets are opened by examples/live_clients.rs and read everything);
#   4. request-to-browser latency in a real Chromium (Playwright, 100 requests, p50/p95/max).
#
# Usage: bench/dashboard.sh   (ROUNDS=3 DURATION=10)
# Output: Markdown on stdout and in bench/results/dashboard-<UTC date and time>.md
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" dashboard
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}

echo "building the release site and binary…" >&2
build_release >/dev/null 2>&1
cargo build --release --features ssr --example live_clients -q

gatewatch_config "$WORK/config.json" 8085 3985

nginx -p "$WORK" -c "$WORK/nginx-backend.conf" & PIDS+=($!)
(cd "$ROOT" && GATEWATCH_LOG=warn exec "$GATEWATCH_BIN" --config "$WORK/config.json") > "$WORK/logs/gatewatch.out" 2>&1 & PIDS+=($!)
wait_for http://127.0.0.1:8085/index.txt
check_alive
[ "$(curl -fs http://127.0.0.1:8085/index.txt)" = ok ] || { echo "the backend does not answer" >&2; exit 1; }

rps_of() { run_wrk "$@" | cut -d" " -f1; }
quantile() { sort -n | awk -v q="$1" '{ v[NR] = $1 } END { i = int(q * NR + 0.999); if (i < 1) i = 1; print v[i] }'; }

# Some traffic first, so the pages have data to render.
run_wrk http://127.0.0.1:8085/index.txt 10 3 > /dev/null
ID=$(curl -fsi http://127.0.0.1:8085/index.txt | awk 'tolower($1) == "x-request-id:" { gsub(/\r/, "", $2); print $2 }')

OUT="$ROOT/bench/results/dashboard-$(date -u +%Y-%m-%dT%H%M).md"
mkdir -p "$ROOT/bench/results"
{
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores."
  echo
  echo "Server render time (curl total time, 20 runs per page after a warm-up, $(curl -fs http://127.0.0.1:3985/api/metrics | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["requests"])') requests recorded):"
  echo
  echo "| page | median ms | p95 ms | bytes |"
  echo "|---|---|---|---|"
  for page in / /requests /routes /models /logs /config "/requests/$ID" "/?range=24h"; do
    curl -fs -o /dev/null "http://127.0.0.1:3985$page"
    times=$(for _ in $(seq 20); do curl -fs -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:3985$page"; done)
    size=$(curl -fs "http://127.0.0.1:3985$page" | wc -c)
    echo "| \`$page\` | $(echo "$times" | median | awk '{ printf "%.1f", $1 * 1000 }') | $(echo "$times" | quantile 0.95 | awk '{ printf "%.1f", $1 * 1000 }') | $size |"
  done
  echo
  pkg="$ROOT/target/site/pkg"
  echo "WASM client, split per page (\`--split\`); what a page's first load fetches: the main module"
  echo "and that page's chunks (\`__wasm_split_manifest.json\`), brotli -q 11 as served (\`--precompress\`):"
  echo
  python3 - "$pkg" <<'PY'
import json, os, subprocess, sys
pkg = sys.argv[1]
def brotli(name):
    return len(subprocess.run(["brotli", "-q", "11", "-c", os.path.join(pkg, name)], capture_output=True, check=True).stdout)
main = brotli("gatewatch.wasm")
files = [f for f in os.listdir(pkg) if f.endswith(".wasm")]
print("| page chunk | page's chunks (brotli B) | **first load: main + page (brotli B)** |")
print("|---|---|---|")
for name, chunks in sorted(json.load(open(os.path.join(pkg, "__wasm_split_manifest.json"))).items()):
    page = sum(brotli(c + ".wasm") for c in chunks)
    print(f"| `{name.strip('_').rsplit('_', 1)[0]}` | {page} | **{main + page}** |")
print()
print(f"Main module {main} B brotli ({os.path.getsize(os.path.join(pkg, 'gatewatch.wasm'))} B raw); "
      f"all {len(files)} WASM files together {sum(brotli(f) for f in files)} B brotli.")
PY
  echo
  declare -A RPS
  for round in $(seq "$ROUNDS"); do
    echo "round $round: no dashboards" >&2
    RPS["none|$round"]=$(rps_of http://127.0.0.1:8085/index.txt 50 "$DURATION")
    "$CARGO_TARGET_DIR/release/examples/live_clients" ws://127.0.0.1:3985/api/live 20 > "$WORK/logs/clients.out" 2>&1 & CLIENTS=$!
    for _ in $(seq 50); do grep -q connected "$WORK/logs/clients.out" && break; sleep 0.1; done
    echo "round $round: 20 dashboards" >&2
    RPS["twenty|$round"]=$(rps_of http://127.0.0.1:8085/index.txt 50 "$DURATION")
    kill "$CLIENTS"; wait "$CLIENTS" 2>/dev/null || true
  done
  none=$(for r in $(seq "$ROUNDS"); do echo "${RPS["none|$r"]}"; done | median)
  twenty=$(for r in $(seq "$ROUNDS"); do echo "${RPS["twenty|$r"]}"; done | median)
  echo "Proxy throughput, wrk -t1 -c50 ${DURATION}s, 2-byte body, median of $ROUNDS interleaved rounds:"
  echo
  echo "| live dashboards | rps | ratio |"
  echo "|---|---|---|"
  echo "| 0 | $none | 1.00× |"
  echo "| 20 | $twenty | **$(awk -v a="$twenty" -v b="$none" 'BEGIN { printf "%.2f", a / b }')×** |"
  echo
  latency=$(cd "$ROOT/end2end" && BENCH=1 npx playwright test bench 2>&1 | sed -n 's/^BENCH //p')
  echo "Request-to-browser latency (Chromium, Playwright, e2e config, 100 sequential requests): \`$latency\`"
} | tee "$OUT"
echo "written to ${OUT#"$ROOT"/}" >&2
