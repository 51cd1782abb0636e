#!/usr/bin/env bash
# What recording costs, and whether it stays bounded, in one run:
#   1. throughput with recording on (metrics + SQLite history, the default), metrics only
#      (`history.enabled: false`) and off (`metrics.enabled: false`), three Gatewatch processes proxying to the same nginx backend,
#      interleaved rounds, median;
#   2. a soak of SOAK_REQUESTS (default 5 000 000) requests through the recording instance,
#      sampling its RSS and the history writer's progress after every SOAK_CHUNK seconds.
#
# Usage: bench/recording.sh   (ROUNDS=3 DURATION=10 LAT_DURATION=5 SOAK_REQUESTS=5000000)
# Output: Markdown on stdout and in bench/results/recording-<UTC date and time>.md
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$ROOT/scripts/env.sh"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
LAT_DURATION=${LAT_DURATION:-5}
SOAK_REQUESTS=${SOAK_REQUESTS:-5000000}
SOAK_CHUNK=${SOAK_CHUNK:-15}

command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }
command -v nginx >/dev/null || { echo "nginx missing: apt-get install nginx" >&2; exit 1; }

echo "building the gatewatch release binary…" >&2
cargo build --release --features ssr --bin gatewatch -q

WORK=$(mktemp -d /tmp/gatewatch-recording.XXXXXX)
mkdir -p "$WORK"/{run,logs,www}
# mktemp makes the directory private; nginx's workers run as another user and must read www/.
chmod 755 "$WORK"
printf 'ok' > "$WORK/www/index.txt"
sed "s|@DIR@|$WORK|g" "$ROOT/bench/conf/nginx-backend.conf" > "$WORK/nginx-backend.conf"
cat > "$WORK/on.json" <<JSON
{
  "listen": "127.0.0.1:8082",
  "dashboard": {"listen": "127.0.0.1:3982"},
  "history": {"path": "on.db"},
  "routes": [{"name": "bench", "path": "*", "targets": ["http://127.0.0.1:9001"]}]
}
JSON
cat > "$WORK/mem.json" <<JSON
{
  "listen": "127.0.0.1:8084",
  "dashboard": {"listen": "127.0.0.1:3984"},
  "history": {"enabled": false},
  "routes": [{"name": "bench", "path": "*", "targets": ["http://127.0.0.1:9001"]}]
}
JSON
cat > "$WORK/off.json" <<JSON
{
  "listen": "127.0.0.1:8083",
  "dashboard": {"listen": "127.0.0.1:3983"},
  "metrics": {"enabled": false},
  "routes": [{"name": "bench", "path": "*", "targets": ["http://127.0.0.1:9001"]}]
}
JSON

PIDS=()
cleanup() {
  local status=$?
  [ "$status" -eq 0 ] || tail -n 20 "$WORK"/logs/*.out >&2 || true
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

nginx -p "$WORK" -c "$WORK/nginx-backend.conf" & PIDS+=($!)
GATEWATCH_LOG=warn "$GATEWATCH_BIN" --config "$WORK/on.json" > "$WORK/logs/on.out" 2>&1 & ON_PID=$!; PIDS+=($ON_PID)
GATEWATCH_LOG=warn "$GATEWATCH_BIN" --config "$WORK/mem.json" > "$WORK/logs/mem.out" 2>&1 & PIDS+=($!)
GATEWATCH_LOG=warn "$GATEWATCH_BIN" --config "$WORK/off.json" > "$WORK/logs/off.out" 2>&1 & PIDS+=($!)

wait_for() {
  for _ in $(seq 100); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "not answering: $1" >&2
  exit 1
}
declare -A BASE=([on]=http://127.0.0.1:8082 [mem]=http://127.0.0.1:8084 [off]=http://127.0.0.1:8083)
wait_for http://127.0.0.1:9001/
for name in on mem off; do wait_for "${BASE[$name]}/index.txt"; done
# A server left over from another run would answer in place of ours: ours must be alive.
for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || { echo "a server did not start (port taken?)" >&2; exit 1; }; done
[ "$(curl -fs http://127.0.0.1:9001/index.txt)" = ok ] || { echo "the backend does not serve index.txt" >&2; exit 1; }

run_wrk() { # url conns secs → "rps p50_us p99_us"
  wrk -t1 -c"$2" -d"$3s" --latency "$1" | awk '
    function us(v) { if (v ~ /us$/) { sub(/us$/, "", v); return v }
                     if (v ~ /ms$/) { sub(/ms$/, "", v); return v * 1000 }
                     if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000000 } return v }
    /^ +50%/ { p50 = us($2) } /^ +99%/ { p99 = us($2) } /^Requests\/sec/ { rps = $2 }
    END { printf "%d %d %d\n", rps, p50, p99 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$ON_PID/status"; }
# A field of the recording instance's JSON API: api <path> <python expression on `j`>
api() { curl -fs "http://127.0.0.1:3982$1" | python3 -c "import json,sys; j=json.load(sys.stdin); print($2)"; }

declare -A RESULT
CASES=("50 $DURATION" "1 $LAT_DURATION")
for round in $(seq "$ROUNDS"); do
  for case in "${CASES[@]}"; do
    read -r conns secs <<< "$case"
    for name in on mem off; do
      echo "round $round: recording $name, c=$conns" >&2
      RESULT["$name|$conns|$round"]=$(run_wrk "${BASE[$name]}/index.txt" "$conns" "$secs")
    done
  done
done
field() { for round in $(seq "$ROUNDS"); do echo "${RESULT["$1|$2|$round"]}" | cut -d' ' -f"$3"; done | median; }

OUT="$ROOT/bench/results/recording-$(date -u +%Y-%m-%dT%H%M).md"
mkdir -p "$ROOT/bench/results"
{
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, wrk -t1, ${ROUNDS} rounds (median), c=50 for ${DURATION}s, c=1 for ${LAT_DURATION}s, 2-byte body."
  echo
  echo "| c | on rps | metrics only rps | off rps | **on / off** | metrics only / off | p50 on / mem / off (µs) | p99 on / mem / off (µs) |"
  echo "|---|---|---|---|---|---|---|---|"
  for case in "${CASES[@]}"; do
    read -r conns _ <<< "$case"
    on=$(field on "$conns" 1); mem=$(field mem "$conns" 1); off=$(field off "$conns" 1)
    ratio=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.2f", a / b }')
    mem_ratio=$(awk -v a="$mem" -v b="$off" 'BEGIN { printf "%.2f", a / b }')
    echo "| $conns | $on | $mem | $off | **${ratio}×** | ${mem_ratio}× | $(field on "$conns" 2) / $(field mem "$conns" 2) / $(field off "$conns" 2) | $(field on "$conns" 3) / $(field mem "$conns" 3) / $(field off "$conns" 3) |"
  done
  echo
  echo "Soak: wrk -c50 in ${SOAK_CHUNK}s chunks through the recording instance until ${SOAK_REQUESTS} requests."
  echo
  echo "| requests recorded | RSS (MiB) | history rows written | history rows dropped | writer lag (rows) |"
  echo "|---|---|---|---|---|"
  total=0
  while [ "$total" -lt "$SOAK_REQUESTS" ]; do
    run_wrk "${BASE[on]}/index.txt" 50 "$SOAK_CHUNK" > /dev/null
    total=$(api /api/metrics "j['totals']['requests']")
    written=$(api /api/health "j['history']['rows_written']")
    dropped=$(api /api/health "j['history']['rows_dropped']")
    echo "| $total | $(awk -v k="$(rss_kib)" 'BEGIN { printf "%.1f", k / 1024 }') | $written | $dropped | $((total - written)) |"
  done
  # Let the writer finish (its lag reaches 0), then compare what is stored with what was served.
  for _ in $(seq 100); do
    [ "$(api /api/health "j['history']['rows_written']")" = "$(api /api/metrics "j['totals']['requests']")" ] && break
    sleep 0.1
  done
  echo
  echo "After the soak: $(api /api/metrics "j['totals']['requests']") requests recorded, $(api /api/health "j['history']['rows_written']") rows in the history, $(api /api/health "j['history']['rows_dropped']") dropped; database $(du -h "$WORK/on.db" | cut -f1) (+ WAL $(du -h "$WORK/on.db-wal" 2>/dev/null | cut -f1))."
  start=$(date +%s%N)
  api "/api/stats?period=1h" "j['current']['requests']" > /dev/null
  echo "\`/api/stats?period=1h\` over the soak's rows answered in $(( ($(date +%s%N) - start) / 1000000 )) ms (curl + python included)."
} | tee "$OUT"
echo "written to ${OUT#"$ROOT"/}" >&2
