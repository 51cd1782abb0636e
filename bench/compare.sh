#!/usr/bin/env bash
# Two or more Gatewatch builds or configs side by side, on a box too noisy for one run each:
# every instance proxies to the same nginx backend, and wrk loads them in turn, round after
# round, so a slow minute of the host hits them all alike. Prints each round and the mean.
#
# Usage: bench/compare.sh ROUNDS NAME=BINARY[:CONFIG_MEMBERS] ...
#   BINARY `nginx` runs the peer reverse proxy (bench/conf/nginx-proxy.conf) as an instance;
#   `nginx:FILE` runs another nginx config of the same form (@DIR@, port 8081, proxy.pid).
#   e.g. bench/compare.sh 6 off=/tmp/old:'"metrics": {"enabled": false},' \
#          old=/tmp/old:'"history": {"enabled": false},' new=/tmp/new:'"history": {"enabled": false},'
#   CONFIG_MEMBERS go first in the instance's config.json (same form as gatewatch_config's).
#   C=50 connections, D=5 seconds per round.
# Output: per round "NAME rps CPU-µs-per-request p50-µs p99-µs", then the means.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" compare
ROUNDS=${1:?usage: bench/compare.sh ROUNDS NAME=BINARY[:CONFIG_MEMBERS] ...}
shift
[ "$#" -ge 1 ] || { echo "name at least one instance" >&2; exit 1; }
C=${C:-50}
D=${D:-5}

nginx -p "$WORK" -c "$WORK/nginx-backend.conf" & PIDS+=($!)
declare -A PID PORT
NAMES=()
port=8300
for spec in "$@"; do
  name=${spec%%=*}
  rest=${spec#*=}
  binary=${rest%%:*}
  members=""
  [ "$rest" = "$binary" ] || members=${rest#*:}
  port=$((port + 1))
  PORT[$name]=$port
  NAMES+=("$name")
  if [ "$binary" = nginx ]; then
    # After the colon: another nginx config of the same form (default: the peer proxy's).
    sed -e "s|@DIR@|$WORK|g" -e "s|127.0.0.1:8081|127.0.0.1:$port|" -e "s|/proxy.pid|/$name.pid|" \
      "${members:-$ROOT/bench/conf/nginx-proxy.conf}" > "$WORK/$name.conf"
    nginx -p "$WORK" -c "$WORK/$name.conf" & PID[$name]=$!; PIDS+=($!)
    continue
  fi
  # Each instance keeps its own history file in the work directory, unless it configures one.
  case "$members" in *'"history"'*) ;; *) members="$members \"history\": {\"path\": \"$name.db\"},";; esac
  gatewatch_config "$WORK/$name.json" "$port" $((port + 1000)) "$members"
  GATEWATCH_LOG=warn "$binary" --config "$WORK/$name.json" > "$WORK/logs/$name.out" 2>&1 & PID[$name]=$!; PIDS+=($!)
done
wait_for http://127.0.0.1:9001/
for name in "${NAMES[@]}"; do wait_for "http://127.0.0.1:${PORT[$name]}/index.txt"; done
check_alive

declare -A SUM
for round in $(seq "$ROUNDS"); do
  for name in "${NAMES[@]}"; do
    before=$(cpu_ticks "${PID[$name]}")
    read -r rps p50 p99 <<< "$(run_wrk "http://127.0.0.1:${PORT[$name]}/index.txt" "$C" "$D")"
    cpu=$(awk -v t="$(( $(cpu_ticks "${PID[$name]}") - before ))" -v hz="$HZ" -v rps="$rps" -v s="$D" \
      'BEGIN { printf "%.1f", t / hz / (rps * s) * 1e6 }')
    echo "round $round  $name  $rps rps  $cpu µs CPU/request  p50 $p50 µs  p99 $p99 µs"
    SUM[$name]="${SUM[$name]:-} $rps,$cpu"
  done
done
echo
for name in "${NAMES[@]}"; do
  echo "${SUM[$name]}" | tr ' ' '\n' | awk -F, -v n="$name" 'NF == 2 { r += $1; c += $2; k++ }
    END { printf "mean  %s  %.0f rps  %.1f µs CPU/request\n", n, r / k, c / k }'
done
