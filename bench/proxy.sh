#!/usr/bin/env bash
# Proxy throughput and added latency, side by side in one run:
#   direct  — wrk straight at the backend (the ceiling),
#   nginx   — Debian's nginx as an equivalent keep-alive reverse proxy,
#   gatewatch — the release binary, one catch-all route, recording on (the defaults),
#   gatewatch-off — the same with `"metrics": {"enabled": false}`: the proxy alone.
# Backend: nginx serving a 2-byte body (/) and a 16 KiB file (/16k).
# Each case runs ROUNDS times, interleaved across the four; the median is reported.
#
# Usage: bench/proxy.sh            (ROUNDS=3 DURATION=10 LAT_DURATION=5 by default;
#        BUILD=0 uses the binary already built, e.g. by `cargo leptos build --release`)
# Output: a Markdown table on stdout and in bench/results/proxy-<UTC date and time>.md
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" bench
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
LAT_DURATION=${LAT_DURATION:-5}
THREADS=${THREADS:-1}

echo "building the gatewatch release binary…" >&2
if [ "${BUILD:-1}" = 1 ]; then
  cargo build --profile server-release --features ssr --bin gatewatch -q
fi

head -c 16384 /dev/zero | tr '\0' 'x' > "$WORK/www/16k"
sed "s|@DIR@|$WORK|g" "$ROOT/bench/conf/nginx-proxy.conf" > "$WORK/nginx-proxy.conf"
gatewatch_config "$WORK/gatewatch.json" 8082 3982
gatewatch_config "$WORK/gatewatch-off.json" 8083 3983 '"metrics": {"enabled": false},'

nginx -p "$WORK" -c "$WORK/nginx-backend.conf" & PIDS+=($!)
nginx -p "$WORK" -c "$WORK/nginx-proxy.conf" & PIDS+=($!)
GATEWATCH_LOG=warn "$GATEWATCH_BIN" --config "$WORK/gatewatch.json" > "$WORK/logs/gatewatch.out" 2>&1 & PIDS+=($!)
GATEWATCH_LOG=warn "$GATEWATCH_BIN" --config "$WORK/gatewatch-off.json" > "$WORK/logs/gatewatch-off.out" 2>&1 & PIDS+=($!)

declare -A BASE=([direct]=http://127.0.0.1:9001 [nginx]=http://127.0.0.1:8081 [gatewatch]=http://127.0.0.1:8082
  [gatewatch-off]=http://127.0.0.1:8083)
NAMES=(direct nginx gatewatch gatewatch-off)
for name in "${NAMES[@]}"; do wait_for "${BASE[$name]}/"; done
check_alive
[ "$(curl -fs http://127.0.0.1:9001/index.txt)" = ok ] || { echo "the backend does not serve index.txt" >&2; exit 1; }
[ "$(curl -fs http://127.0.0.1:9001/16k | wc -c)" = 16384 ] || { echo "the backend does not serve 16k" >&2; exit 1; }
for port in 8082 8083; do
  [ "$(curl -fs "http://127.0.0.1:$port/")" = ok ] || { echo "gatewatch on $port does not proxy" >&2; exit 1; }
done

declare -A RESULT
CASES=("2B /index.txt 50 $DURATION" "16KiB /16k 50 $DURATION" "2B /index.txt 1 $LAT_DURATION" "16KiB /16k 1 $LAT_DURATION")
for round in $(seq "$ROUNDS"); do
  for case in "${CASES[@]}"; do
    read -r body path conns secs <<< "$case"
    for name in "${NAMES[@]}"; do
      echo "round $round: $name $body c=$conns" >&2
      RESULT["$name|$body|$conns|$round"]=$(run_wrk "${BASE[$name]}$path" "$conns" "$secs")
    done
  done
done

field() { # name body conns column(1=rps 2=p50 3=p99) → median over rounds
  for round in $(seq "$ROUNDS"); do echo "${RESULT["$1|$2|$3|$round"]}" | cut -d' ' -f"$4"; done | median
}

OUT="$ROOT/bench/results/proxy-$(date -u +%Y-%m-%dT%H%M).md"
mkdir -p "$ROOT/bench/results"
{
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, wrk -t$THREADS, ${ROUNDS} rounds (median), c=50 for ${DURATION}s, c=1 for ${LAT_DURATION}s."
  echo "nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), workers auto; gatewatch $("$GATEWATCH_BIN" --version | cut -d' ' -f2), default runtime threads."
  echo
  echo "gatewatch: recording on (the defaults); off: \`\"metrics\": {\"enabled\": false}\`, the proxy alone."
  echo
  echo "| body | c | direct rps | nginx rps | gatewatch rps | off rps | gatewatch / nginx | off / nginx | p50 direct / nginx / gatewatch / off (µs) | p99 direct / nginx / gatewatch / off (µs) | added p99 nginx / gatewatch / off (µs) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for case in "${CASES[@]}"; do
    read -r body _ conns _ <<< "$case"
    d=$(field direct "$body" "$conns" 1); n=$(field nginx "$body" "$conns" 1)
    g=$(field gatewatch "$body" "$conns" 1); o=$(field gatewatch-off "$body" "$conns" 1)
    dp50=$(field direct "$body" "$conns" 2); np50=$(field nginx "$body" "$conns" 2)
    gp50=$(field gatewatch "$body" "$conns" 2); op50=$(field gatewatch-off "$body" "$conns" 2)
    dp99=$(field direct "$body" "$conns" 3); np99=$(field nginx "$body" "$conns" 3)
    gp99=$(field gatewatch "$body" "$conns" 3); op99=$(field gatewatch-off "$body" "$conns" 3)
    ratio=$(awk -v g="$g" -v n="$n" 'BEGIN { printf "%.2f", g / n }')
    off_ratio=$(awk -v g="$o" -v n="$n" 'BEGIN { printf "%.2f", g / n }')
    echo "| $body | $conns | $d | $n | $g | $o | **${ratio}×** | **${off_ratio}×** | $dp50 / $np50 / $gp50 / $op50 | $dp99 / $np99 / $gp99 / $op99 | $((np99 - dp99)) / $((gp99 - dp99)) / $((op99 - dp99)) |"
  done
} | tee "$OUT"
echo "written to ${OUT#"$ROOT"/}" >&2
