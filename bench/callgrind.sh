#!/usr/bin/env bash
# User-space instructions per proxied request under callgrind: deterministic, unlike wall-clock
# numbers on a shared box. Each instance proxies to the nginx backend (2-byte body) on its own,
# under `valgrind --tool=callgrind`; the counters are zeroed once it answers, wrk loads it, and
# every thread's instructions are divided by the requests served. Kernel work is not counted.
# Under valgrind a proxy serves ~1 500 requests/s, so once-a-second work weighs a little more
# per request than at full speed.
#
# Usage: bench/callgrind.sh NAME=BINARY[:CONFIG_MEMBERS] | NAME=nginx[:FILE] ...
#   as bench/compare.sh: CONFIG_MEMBERS go first in Gatewatch's config.json; FILE is an nginx
#   config of bench/conf/nginx-proxy.conf's form (the default), run as one process.
#   e.g. bench/callgrind.sh off=target/server-release/gatewatch:'"metrics": {"enabled": false},' nginx=nginx
#   C=10 connections, D=20 seconds each; KEEP=DIR copies the callgrind files there (for
#   callgrind_annotate).
# Output: "NAME requests=N instructions=I per_request=P" per instance.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" callgrind
[ "$#" -ge 1 ] || { echo "name at least one instance" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind missing: apt-get install valgrind" >&2; exit 1; }
C=${C:-10}
D=${D:-20}
PORT=8401

nginx -p "$WORK" -c "$WORK/nginx-backend.conf" & PIDS+=($!)
wait_for http://127.0.0.1:9001/

for spec in "$@"; do
  name=${spec%%=*}
  rest=${spec#*=}
  binary=${rest%%:*}
  members=""
  [ "$rest" = "$binary" ] || members=${rest#*:}
  if [ "$binary" = nginx ]; then
    { echo "master_process off;"
      sed -e "s|@DIR@|$WORK|g" -e "s|worker_processes auto;|worker_processes 1;|" \
        -e "s|127.0.0.1:8081|127.0.0.1:$PORT|" -e "s|/proxy.pid|/$name.pid|" \
        "${members:-$ROOT/bench/conf/nginx-proxy.conf}"; } > "$WORK/$name.conf"
    command=(nginx -p "$WORK" -c "$WORK/$name.conf")
  else
    case "$members" in *'"history"'*) ;; *) members="$members \"history\": {\"path\": \"$name.db\"},";; esac
    gatewatch_config "$WORK/$name.json" "$PORT" $((PORT + 1)) "$members"
    command=("$binary" --config "$WORK/$name.json")
  fi
  GATEWATCH_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.cg" "${command[@]}" \
    > "$WORK/logs/$name.out" 2>&1 & pid=$!
  PIDS+=("$pid")
  # Valgrind starts slowly: up to a minute.
  for _ in $(seq 600); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/index.txt" && break; sleep 0.1; done
  curl -fs -o /dev/null "http://127.0.0.1:$PORT/index.txt" || { echo "$name does not answer" >&2; exit 1; }
  callgrind_control -z "$pid" > /dev/null 2>&1
  requests=$(wrk -t1 -c"$C" -d"${D}s" "http://127.0.0.1:$PORT/index.txt" | awk '/requests in/ { print $1 }')
  callgrind_control -d "$pid" > /dev/null 2>&1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # The dump taken after wrk holds the measured phase; the one at exit, what came after.
  instructions=$(grep -h '^totals:' "$WORK/$name".cg* | awk '{ print $2 }' | sort -n | tail -1)
  [ -z "${KEEP:-}" ] || { mkdir -p "$KEEP"; cp "$WORK/$name".cg* "$KEEP/"; }
  echo "$name requests=$requests instructions=$instructions per_request=$((instructions / requests))"
done
