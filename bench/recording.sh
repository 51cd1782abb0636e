#!/usr/bin/env bash
# What recording costs, and whether it stays bounded, in one run:
#   1. throughput with recording on (metrics + SQLite history + header capture, the default),
#      on without header capture (`metrics.capture_headers: false`), metrics only
#      (`history.enabled: false`) and off (`metrics.enabled: false`): four Gatewatch processes
#      proxying to the same nginx backend, interleaved rounds, median;
#   2. a soak of SOAK_REQUESTS (default 5 000 000) requests through the recording instance,
#      sampling its RSS and the history writer's progress after every SOAK_CHUNK seconds.
#
# Usage: bench/recording.sh   (ROUNDS=3 DURATION=10 LAT_DURATION=5 SOAK_REQUESTS=5000000;
#        BUILD=0 uses the binary already built, e.g. by `cargo leptos build --release`)
# Output: Markdown on stdout and in bench/results/recording-<UTC date and time>.md
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" recording
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
LAT_DURATION=${LAT_DURATION:-5}
SOAK_REQUESTS=${SOAK_REQUESTS:-5000000}
SOAK_CHUNK=${SOAK_CHUNK:-15}

if [ "${BUILD:-1}" = 1 ]; then
  echo "building the gatewatch release binary…" >&2
  cargo build --profile server-release --features ssr --bin gatewatch -q
fi

gatewatch_config "$WORK/on.json" 8082 3982 '"history": {"path": "on.db"},'
gatewatch_config "$WORK/nohdr.json" 8085 3985 '"history": {"path": "nohdr.db"}, "metrics": {"capture_headers": false},'
gatewatch_config "$WORK/mem.json" 8084 3984 '"history": {"enabled": false},'
gatewatch_config "$WORK/off.json" 8083 3983 '"metrics": {"enabled": false},'

nginx -p "$WORK" -c "$WORK/nginx-backend.conf" & PIDS+=($!)
declare -A PID
for name in on nohdr mem off; do
  GATEWATCH_LOG=warn "$GATEWATCH_BIN" --config "$WORK/$name.json" > "$WORK/logs/$name.out" 2>&1 & PID[$name]=$!; PIDS+=($!)
done
ON_PID=${PID[on]}

declare -A BASE=([on]=http://127.0.0.1:8082 [nohdr]=http://127.0.0.1:8085 [mem]=http://127.0.0.1:8084 [off]=http://127.0.0.1:8083)
wait_for http://127.0.0.1:9001/
for name in on nohdr mem off; do wait_for "${BASE[$name]}/index.txt"; done
check_alive
[ "$(curl -fs http://127.0.0.1:9001/index.txt)" = ok ] || { echo "the backend does not serve index.txt" >&2; exit 1; }

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$ON_PID/status"; }
# A field of the recording instance's JSON API: api <path> <python expression on `j`>
api() { curl -fs "http://127.0.0.1:3982$1" | python3 -c "import json,sys; j=json.load(sys.stdin); print($2)"; }

declare -A RESULT CPU
CASES=("50 $DURATION" "1 $LAT_DURATION")
for round in $(seq "$ROUNDS"); do
  for case in "${CASES[@]}"; do
    read -r conns secs <<< "$case"
    # The order rotates each round, so no instance always runs right after another's load.
    names=(on nohdr mem off)
    shift_by=$(( (round - 1) % ${#names[@]} ))
    for name in "${names[@]:shift_by}" "${names[@]:0:shift_by}"; do
      echo "round $round: recording $name, c=$conns" >&2
      before=$(cpu_ticks "${PID[$name]}")
      RESULT["$name|$conns|$round"]=$(run_wrk "${BASE[$name]}/index.txt" "$conns" "$secs")
      # Gatewatch's own CPU per request served: independent of what wrk and nginx get.
      CPU["$name|$conns|$round"]=$(awk -v t="$(( $(cpu_ticks "${PID[$name]}") - before ))" -v hz="$HZ" \
        -v rps="$(echo "${RESULT["$name|$conns|$round"]}" | cut -d' ' -f1)" -v s="$secs" \
        'BEGIN { printf "%.1f", t / hz / (rps * s) * 1e6 }')
    done
  done
done
field() { for round in $(seq "$ROUNDS"); do echo "${RESULT["$1|$2|$round"]}" | cut -d' ' -f"$3"; done | median; }
cpu() { for round in $(seq "$ROUNDS"); do echo "${CPU["$1|$2|$round"]}"; done | median; }

OUT="$ROOT/bench/results/recording-$(date -u +%Y-%m-%dT%H%M).md"
mkdir -p "$ROOT/bench/results"
{
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, wrk -t1, ${ROUNDS} rounds (median), c=50 for ${DURATION}s, c=1 for ${LAT_DURATION}s, 2-byte body."
  echo
  echo "| c | on rps | on, no headers rps | metrics only rps | off rps | **on / off** | on, no headers / off | metrics only / off | p50 on / mem / off (µs) | p99 on / mem / off (µs) |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for case in "${CASES[@]}"; do
    read -r conns _ <<< "$case"
    on=$(field on "$conns" 1); nohdr=$(field nohdr "$conns" 1); mem=$(field mem "$conns" 1); off=$(field off "$conns" 1)
    ratio=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.2f", a / b }')
    nohdr_ratio=$(awk -v a="$nohdr" -v b="$off" 'BEGIN { printf "%.2f", a / b }')
    mem_ratio=$(awk -v a="$mem" -v b="$off" 'BEGIN { printf "%.2f", a / b }')
    echo "| $conns | $on | $nohdr | $mem | $off | **${ratio}×** | ${nohdr_ratio}× | ${mem_ratio}× | $(field on "$conns" 2) / $(field mem "$conns" 2) / $(field off "$conns" 2) | $(field on "$conns" 3) / $(field mem "$conns" 3) / $(field off "$conns" 3) |"
  done
  echo
  echo "Gatewatch's CPU time per request (user + system, µs; median of the rounds):"
  echo
  echo "| c | on | on, no headers | metrics only | off | **on / off** | metrics only / off |"
  echo "|---|---|---|---|---|---|---|"
  for case in "${CASES[@]}"; do
    read -r conns _ <<< "$case"
    on=$(cpu on "$conns"); off=$(cpu off "$conns"); mem=$(cpu mem "$conns")
    echo "| $conns | $on | $(cpu nohdr "$conns") | $mem | $off | **$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.2f", a / b }')×** | $(awk -v a="$mem" -v b="$off" 'BEGIN { printf "%.2f", a / b }')× |"
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
