#!/usr/bin/env bash
# What alert rules cost, in one run: two gateways on the same config, one with 200 alert rules
# (every request metric over the route, a target and the gateway, windows from 1 minute to an
# hour, and the gauge metrics) and one with none; wrk c=50 against each in turn, interleaved
# rounds (which goes first alternates), medians, ratio. Meanwhile the 200-rule gateway's own
# measure of each 1 Hz evaluation (`evaluation_us` in /api/alerts) is sampled every second:
# median and maximum, under load.
#
# Usage: bench/alerts.sh   (ROUNDS=5 DURATION=10; BUILD=0 uses the binary built; BENCH_BIN=path
#        runs another build, e.g. the tests' quick-release binary, with BUILD=0)
# Output: Markdown on stdout and in bench/results/alerts-<UTC date and time>.md
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" alerts
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
GATEWATCH_BIN=${BENCH_BIN:-$GATEWATCH_BIN}

exec 9>/tmp/gatewatch-bench.lock
flock -n 9 || { echo "waiting for /tmp/gatewatch-bench.lock (another benchmark is running)…" >&2; flock 9; }

if [ "${BUILD:-1}" = 1 ]; then
  echo "building the gatewatch release binary…" >&2
  cargo build --profile server-release --features ssr --bin gatewatch -q
fi
trap bench_cleanup EXIT

nginx -p "$WORK" -c "$WORK/nginx-backend.conf" & PIDS+=($!)

# 200 rules: 8 request metrics × 3 scopes × 4 windows (96), targets_down / breaker_open over 3
# scopes (6), the 4 gateway gauges, and the rest spread over the request metrics again with
# for_s and severities varied. Thresholds no traffic here reaches: nothing fires, every rule is
# evaluated every second.
rules=""
n=0
add_rule() { rules+="${rules:+,}{\"name\": \"rule-$n\", $1}"; n=$((n + 1)); }
scopes=('' '"route": "bench", ' '"target": "http://127.0.0.1:9001", ')
request_metrics=(error_rate availability latency_p50_ms latency_p95_ms latency_p99_ms requests_per_second rate_limited_per_second tokens_per_minute)
for metric in "${request_metrics[@]}"; do
  for scope in "${scopes[@]}"; do
    [ "$metric" = tokens_per_minute ] && [[ "$scope" == *target* ]] && continue
    for window in 60 300 900 3600; do
      comparison='"above": 1e12'
      [ "$metric" = availability ] && comparison='"below": -1'
      add_rule "${scope}\"metric\": \"$metric\", $comparison, \"window_s\": $window"
    done
  done
done
for metric in targets_down breaker_open; do
  for scope in "${scopes[@]}"; do add_rule "${scope}\"metric\": \"$metric\", \"above\": 1000"; done
done
for metric in cpu_percent memory_percent history_dropped certificate_expiry_days; do
  add_rule "\"metric\": \"$metric\", \"above\": 1e12"
done
i=0
while [ "$n" -lt 200 ]; do
  metric=${request_metrics[$((i % 7))]}
  scope=${scopes[$((i % 3))]}
  comparison='"above": 1e12'
  [ "$metric" = availability ] && comparison='"below": -1'
  add_rule "${scope}\"metric\": \"$metric\", $comparison, \"window_s\": $((30 + i)), \"for_s\": $((i % 60)), \"severity\": \"s$((i % 3))\""
  i=$((i + 1))
done

gatewatch_config "$WORK/none.json" 8095 3995 '"history": {"enabled": false},'
gatewatch_config "$WORK/rules.json" 8096 3996 "\"history\": {\"enabled\": false}, \"alerts\": {\"rules\": [$rules]},"
"$GATEWATCH_BIN" check "$WORK/rules.json" >/dev/null
GATEWATCH_LOG=warn "$GATEWATCH_BIN" --config "$WORK/none.json" > "$WORK/logs/none.out" 2>&1 & PIDS+=($!)
GATEWATCH_LOG=warn "$GATEWATCH_BIN" --config "$WORK/rules.json" > "$WORK/logs/rules.out" 2>&1 & PIDS+=($!)
wait_for http://127.0.0.1:8095/index.txt
wait_for http://127.0.0.1:8096/index.txt
check_alive
# A field of the 200-rule gateway's /api/alerts (a Python expression over `d`).
alerts_field() {
  curl -fs http://127.0.0.1:3996/api/alerts | python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"
}
rule_count=$(alerts_field 'len(d["alerts"])')
[ "$rule_count" = 200 ] || { echo "the gateway has $rule_count rules, not 200" >&2; exit 1; }

# The evaluation time, sampled each second while the 200-rule gateway is under load.
sample_evaluations() {
  while true; do
    alerts_field 'd["evaluation_us"]' >> "$WORK/evaluation_us"
    sleep 1
  done
}
none=() rules_rps=()
run_rules() {
  sample_evaluations & local sampler=$!
  rules_rps+=("$(run_wrk http://127.0.0.1:8096/index.txt 50 "$DURATION" | cut -d' ' -f1)")
  kill "$sampler"; wait "$sampler" 2>/dev/null || true
}
for round in $(seq "$ROUNDS"); do
  echo "round $round/$ROUNDS…" >&2
  if [ $((round % 2)) = 1 ]; then
    none+=("$(run_wrk http://127.0.0.1:8095/index.txt 50 "$DURATION" | cut -d' ' -f1)")
    run_rules
  else
    run_rules
    none+=("$(run_wrk http://127.0.0.1:8095/index.txt 50 "$DURATION" | cut -d' ' -f1)")
  fi
done
check_alive
none_median=$(printf '%s\n' "${none[@]}" | median)
rules_median=$(printf '%s\n' "${rules_rps[@]}" | median)
samples=$(wc -l < "$WORK/evaluation_us")
evaluation_median=$(median < "$WORK/evaluation_us")
evaluation_max=$(sort -n "$WORK/evaluation_us" | tail -1)
idle=$(alerts_field 'd["evaluation_us"]')

OUT="$ROOT/bench/results/alerts-$(date -u +%Y-%m-%dT%H%M).md"
mkdir -p "$ROOT/bench/results"
{
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average before: $LOAD_BEFORE."
  echo "gatewatch $("$GATEWATCH_BIN" --version | cut -d' ' -f2) ($GATEWATCH_BIN), history off in both gateways."
  echo
  echo "**Proxy throughput, 200 alert rules vs none** (wrk -c50 ${DURATION}s against each in turn, $ROUNDS interleaved rounds, 2-byte body from nginx):"
  echo
  echo "| gateway | rounds (rps) | median rps |"
  echo "|---|---|---:|"
  echo "| no rules | ${none[*]} | $none_median |"
  echo "| 200 rules | ${rules_rps[*]} | $rules_median |"
  echo
  awk -v r="$rules_median" -v n="$none_median" 'BEGIN { printf "Ratio 200 rules / none: **%.3f**\n", r / n }'
  echo
  echo "**One evaluation of the 200 rules** (the gateway's own measure, sampled each second under load, $samples samples): median $evaluation_median µs, max $evaluation_max µs; after the load: $idle µs."
} | tee "$OUT"
