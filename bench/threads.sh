#!/usr/bin/env bash
# Where a Gatewatch instance spends its CPU, per thread, in microseconds per proxied request: the
# proxy workers (forwarding, plus what recording does on the request's path), the runtime that
# runs the recorder (aggregates, histograms, Prometheus, ring, live batches) and the history
# writer. Read from /proc/PID/task/*/stat around one wrk run at full speed, so per-batch work
# is weighed at its real rate (callgrind.sh runs ~20x slower and overweighs it).
#
# Usage: bench/threads.sh BINARY [CONFIG_MEMBERS]   (as compare.sh's; C=50 connections, D=10 s)
#   e.g. bench/threads.sh target/server-release/gatewatch '"metrics": {"enabled": false},'
# Output: requests served, then "THREAD-NAME µs/request" per thread name, and the total.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" threads
BINARY=${1:?usage: bench/threads.sh BINARY [CONFIG_MEMBERS]}
MEMBERS=${2:-}
C=${C:-50}
D=${D:-10}

nginx -p "$WORK" -c "$WORK/nginx-backend.conf" & PIDS+=($!)
case "$MEMBERS" in *'"history"'*) ;; *) MEMBERS="$MEMBERS \"history\": {\"path\": \"gw.db\"},";; esac
gatewatch_config "$WORK/gw.json" 8501 8502 "$MEMBERS"
GATEWATCH_LOG=warn "$BINARY" --config "$WORK/gw.json" > "$WORK/logs/gw.out" 2>&1 & pid=$!; PIDS+=($pid)
wait_for http://127.0.0.1:9001/
wait_for http://127.0.0.1:8501/index.txt
check_alive
wrk -t1 -c"$C" -d3s http://127.0.0.1:8501/index.txt > /dev/null # warm-up

# "name ticks" per thread name (threads of one name summed).
per_thread() {
  for task in /proc/"$pid"/task/*; do
    echo "$(tr ' ' _ < "$task/comm") $(awk '{ print $14 + $15 }' "$task/stat")"
  done | awk '{ t[$1] += $2 } END { for (n in t) print n, t[n] }' | sort
}
per_thread > "$WORK/before"
requests=$(wrk -t1 -c"$C" -d"${D}s" http://127.0.0.1:8501/index.txt | awk '/requests in/ { print $1 }')
per_thread > "$WORK/after"
echo "requests $requests"
join "$WORK/before" "$WORK/after" | awk -v n="$requests" -v hz="$(getconf CLK_TCK)" '
  { d = $3 - $2; total += d; if (d > 0) printf "%-20s %6.2f µs/request\n", $1, d / hz * 1e6 / n }
  END { printf "%-20s %6.2f µs/request\n", "total", total / hz * 1e6 / n }'
