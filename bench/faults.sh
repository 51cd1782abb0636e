#!/usr/bin/env bash
# Fault injection over real processes on loopback: the release binary in front of nginx upstreams
# (one process each, so one SIGKILL is the whole server) and misbehaving peers and clients from
# bench/faults.py. One row per scenario, each with what was sent, what failed, what was lost,
# the pass rule and the measured result:
#   kill       SIGKILL one of three upstreams under load
#   restart    start it again
#   reset      an upstream resets the connection (RST) after half the Content-Length
#   drip       an upstream drips its body one byte a second, then stalls
#   idle       5 000 idle keep-alive connections: throughput against the same load without them
#   slowloris  1 000 clients sending a request head a byte a second, under load
#   config     a corrupt config.json written under load, then a valid one
#   disk       the history's file system (a small tmpfs) full under load, then freed
#   sigterm    SIGTERM under load: every complete response is in the history after restart
#   sigkill    SIGKILL under load: the history is intact and misses at most the last batch
#   soak       SOAK_SECONDS at half the top rate: resident memory and open files stay flat
#
# Usage: bench/faults.sh      (all scenarios, a 1 h soak; BUILD=0 uses the binary already built,
#                              GATEWATCH_BIN=… another binary)
#        SCENARIOS="kill restart reset" bench/faults.sh
#        SOAK_SECONDS=120 LOAD_SECONDS=5 BUILD=0 bench/faults.sh
# Output: a Markdown table on stdout and in bench/results/faults-<UTC date and time>.md; the exit
# status is non-zero if a scenario failed.
# Ports: upstreams 127.0.0.1:9401-9403 and 9410, gateways 8401-8404, dashboards 3501-3504.
# Needs root for the disk scenario's tmpfs (the row is SKIPPED where mounting is not allowed).
CALLER_BIN=${GATEWATCH_BIN:-}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" faults
GATEWATCH_BIN=${CALLER_BIN:-$GATEWATCH_BIN}
ALL_SCENARIOS="kill restart reset drip idle slowloris config disk sigterm sigkill soak"
SCENARIOS=${SCENARIOS:-$ALL_SCENARIOS}
SOAK_SECONDS=${SOAK_SECONDS:-3600}
SAMPLE_SECONDS=${SAMPLE_SECONDS:-10}
LOAD_SECONDS=${LOAD_SECONDS:-10}     # each wrk run of the throughput comparisons and the top rate
WRK_CONNS=${WRK_CONNS:-50}
HEALTH_INTERVAL_MS=${HEALTH_INTERVAL_MS:-2000}
HEALTHY_THRESHOLD=${HEALTHY_THRESHOLD:-2}
HEADER_TIMEOUT_MS=${HEADER_TIMEOUT_MS:-3000}
BODY_TIMEOUT_MS=${BODY_TIMEOUT_MS:-2000}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-5000}
SLOWLORIS_CLIENTS=${SLOWLORIS_CLIENTS:-1000}
SLOWLORIS_SLACK_MS=${SLOWLORIS_SLACK_MS:-500}
DISK_MB=${DISK_MB:-16}
FD_SLACK=${FD_SLACK:-16}
PY="$ROOT/bench/faults.py"

for s in $SCENARIOS; do
  case " $ALL_SCENARIOS " in *" $s "*) ;; *) echo "unknown scenario: $s (known: $ALL_SCENARIOS)" >&2; exit 2 ;; esac
done
selected() { case " $SCENARIOS " in *" $1 "*) return 0 ;; esac; return 1; }

# Another benchmark on this machine takes the same lock: one load at a time.
exec 9>/tmp/gatewatch-bench.lock
flock -n 9 || { echo "waiting for /tmp/gatewatch-bench.lock (another benchmark is running)…" >&2; flock 9; }
ulimit -Sn 20000 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"

if [ "${BUILD:-1}" = 1 ]; then
  echo "building the gatewatch release binary…" >&2
  cargo build --profile server-release --features ssr --bin gatewatch -q
fi
[ -x "$GATEWATCH_BIN" ] || { echo "no gatewatch binary at $GATEWATCH_BIN" >&2; exit 1; }

for port in 9401 9402 9403 9410 8401 8402 8403 8404 3501 3502 3503 3504; do
  if ss -Htln "sport = :$port" | grep -q .; then echo "port $port is in use" >&2; exit 1; fi
done

MNT="$WORK/tmpfs"
# Every process started, also by the scenarios' subshells, is listed in run/pids and stopped on
# exit; the tmpfs is unmounted.
track() { echo "$1" >> "$WORK/run/pids"; }
faults_cleanup() {
  local status=$? pid
  trap - INT TERM
  if [ -f "$WORK/run/pids" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$WORK/run/pids"
    for _ in $(seq 100); do
      alive=0
      while read -r pid; do kill -0 "$pid" 2>/dev/null && alive=1; done < "$WORK/run/pids"
      [ "$alive" = 0 ] && break
      sleep 0.1
    done
    while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done < "$WORK/run/pids"
  fi
  if mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT" || umount -l "$MNT" || true; fi
  # FAULTS_KEEP=DIR keeps the work directory (logs, configs, per-request records) there.
  if [ -n "${FAULTS_KEEP:-}" ]; then rm -rf "$FAULTS_KEEP"; cp -r "$WORK" "$FAULTS_KEEP"; fi
  if [ "$status" = 0 ]; then bench_cleanup; else (exit "$status") || bench_cleanup; fi
}
trap faults_cleanup EXIT
# The scenario running (a subshell in the background, so that a signal is handled at once).
SCENARIO_PID=
interrupted() {
  [ -z "$SCENARIO_PID" ] || kill -TERM "$SCENARIO_PID" 2>/dev/null || true
  exit 130
}
trap interrupted INT TERM

now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }
# jget FILE FIELD: a field of the JSON object in FILE (dotted path).
jget() { python3 "$PY" get "$2" < "$1"; }
# poll SECONDS CMD...: CMD every 50 ms until it succeeds; fails after SECONDS.
poll() {
  local end
  end=$(($(date +%s%N) + $1 * 1000000000))
  shift
  until "$@"; do
    [ "$(date +%s%N)" -lt "$end" ] || return 1
    sleep 0.05
  done
}
alive() { kill -0 "$1" 2>/dev/null; }
answers() { curl -s -o /dev/null --max-time 2 "$1"; }
ROWS="$WORK/rows.tsv"
: > "$ROWS"
# row SCENARIO SENT FAILED LOST RULE RESULT
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$ROWS"; echo "$1: $6" >&2; }
verdict() { if [ "$1" = 1 ]; then echo PASS; else echo FAIL; fi; }
# check EXPR...: 1 if the awk condition holds, else 0 (e.g. check "$a <= 1000").
check() { awk "BEGIN { exit !($*) }" && echo 1 || echo 0; }

# --- servers ------------------------------------------------------------------------------------

# upstream N: nginx as one process (master_process off) on 127.0.0.1:940N, serving www/ with an
# x-upstream header naming its port.
upstream_conf() {
  local port=$1
  cat > "$WORK/up$port.conf" <<NGINX
master_process off;
daemon off;
worker_processes 1;
pid $WORK/run/up$port.nginx.pid;
error_log $WORK/logs/up$port.err warn;
events { worker_connections 16384; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    tcp_nodelay on;
    client_body_temp_path $WORK/run/up${port}_body;
    proxy_temp_path $WORK/run/up${port}_proxy;
    fastcgi_temp_path $WORK/run/up${port}_fcgi;
    uwsgi_temp_path $WORK/run/up${port}_uwsgi;
    scgi_temp_path $WORK/run/up${port}_scgi;
    server {
        listen 127.0.0.1:$port backlog=4096;
        root $WORK/www;
        add_header x-upstream $port always;
        location = /slow.bin { limit_rate 16k; }
    }
}
NGINX
}
start_upstream() {
  nginx -p "$WORK" -c "$WORK/up$1.conf" 9>&- > "$WORK/logs/up$1.out" 2>&1 &
  echo $! > "$WORK/run/up$1.pid"
  track $!
  poll 10 answers "http://127.0.0.1:$1/index.txt" || { echo "upstream $1 did not start" >&2; return 1; }
}

# gateway_config NAME PORT DASHBOARD_PORT HISTORY_PATH [EXTRA_MEMBERS] [ROUTE_EXTRA]: the three
# nginx upstreams behind one catch-all route "main".
gateway_config() {
  cat > "$WORK/$1.json" <<JSON
{
  ${5:-}
  "listen": "127.0.0.1:$2",
  "dashboard": {"listen": "127.0.0.1:$3"},
  "history": {"path": "$4"},
  "routes": [
    {"name": "reset", "path": "/reset", "targets": ["http://127.0.0.1:9410"]},
    {"name": "drip", "path": "/drip", "targets": ["http://127.0.0.1:9410"]},
    {"name": "main", "path": "*", ${6:-}
     "targets": ["http://127.0.0.1:9401", "http://127.0.0.1:9402", "http://127.0.0.1:9403"]}
  ]
}
JSON
}
# start_gateway NAME PORT DASHBOARD_PORT: the binary on $WORK/NAME.json, until it answers on both
# listeners (20 s at most). Its pid is in run/NAME.pid, its output in logs/NAME.out.
start_gateway() {
  local pid
  GATEWATCH_LOG=warn "$GATEWATCH_BIN" --config "$WORK/$1.json" 9>&- >> "$WORK/logs/$1.out" 2>&1 &
  pid=$!
  echo "$pid" > "$WORK/run/$1.pid"
  track "$pid"
  for _ in $(seq 400); do
    alive "$pid" || { echo "gateway $1 exited at start: $(tail -n 5 "$WORK/logs/$1.out")" >&2; return 1; }
    curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$3/metrics" && answers "http://127.0.0.1:$2/" && return 0
    sleep 0.05
  done
  echo "gateway $1 did not answer within 20 s" >&2
  return 1
}
# stop_gateway NAME SIGNAL: signals it and waits (20 s at most) for it to exit; its exit status
# in GW_STATUS ("none": it had to be killed). Only for a gateway started by the calling shell.
stop_gateway() {
  local pid
  pid=$(cat "$WORK/run/$1.pid")
  kill -"$2" "$pid"
  if poll 20 eval "! alive $pid"; then
    GW_STATUS=0
    wait "$pid" || GW_STATUS=$?
  else
    kill -KILL "$pid"
    GW_STATUS=none
  fi
}
# The gateway most scenarios use: limits set for the timeouts under test, idle connections kept
# (keepalive_idle_timeout_ms 600000), active health checks on the three upstreams.
MAIN_LIMITS="\"limits\": {\"header_read_timeout_ms\": $HEADER_TIMEOUT_MS, \"upstream_body_timeout_ms\": $BODY_TIMEOUT_MS, \"keepalive_idle_timeout_ms\": 600000},"
MAIN_HEALTH="\"health_check\": {\"path\": \"/index.txt\", \"interval_ms\": $HEALTH_INTERVAL_MS, \"timeout_ms\": $((HEALTH_INTERVAL_MS / 2)), \"healthy_threshold\": $HEALTHY_THRESHOLD, \"unhealthy_threshold\": 3},"
ensure_main() {
  [ -f "$WORK/run/main.pid" ] && alive "$(cat "$WORK/run/main.pid")" && return 0
  gateway_config main 8401 3501 "$WORK/main.db" "$MAIN_LIMITS" "$MAIN_HEALTH"
  start_gateway main 8401 3501
}
metric() { # PORT SERIES → value (empty when absent)
  curl -fs --max-time 2 "http://127.0.0.1:$1/metrics" | awk -v s="$2" '{ v = $NF; $NF = ""; sub(/ $/, ""); if ($0 == s) print v }'
}
# history_backlog DASHBOARD_PORT: requests counted but not yet written to the history file
# (gatewatch_requests_total minus /api/health's rows_written): they wait in memory.
history_backlog() {
  local total written
  total=$(curl -fs --max-time 5 "http://127.0.0.1:$1/metrics" | awk '/^gatewatch_requests_total\{/ { s += $NF } END { printf "%d", s }')
  written=$(curl -fs --max-time 5 "http://127.0.0.1:$1/api/health" | python3 "$PY" get history.rows_written)
  echo $((total - ${written:-0}))
}
healthy_series() { echo "gatewatch_target_healthy{route=\"main\",target=\"http://127.0.0.1:$1\"}"; }

# wrk_load URL SECONDS [WRK_ARGS...] → "rps errors" (errors: socket errors and non-2xx/3xx)
wrk_load() {
  wrk -t1 -c"$WRK_CONNS" -d"$2s" "${@:3}" "$1" 9>&- | awk '
    /^Requests\/sec/ { rps = $2 }
    /Socket errors/ { gsub(/,/, ""); errors += $4 + $6 + $8 + $10 }
    /Non-2xx/ { errors += $NF }
    END { printf "%d %d\n", rps, errors }'
}

# start_load NAME PORT ARGS...: faults.py load in the background (records in NAME-load.tsv, its
# summary in NAME-load.json); waits for its first ARGS' --ready-after responses (NAME.ready).
start_load() {
  local name=$1 port=$2
  shift 2
  rm -f "$WORK/$name.ready"
  python3 "$PY" load --port "$port" --out "$WORK/$name-load.tsv" --ready "$WORK/$name.ready" --id-prefix "$name" "$@" \
    9>&- > "$WORK/$name-load.json" 2> "$WORK/logs/$name-load.out" &
  echo $! > "$WORK/run/$name-load.pid"
  track $!
  poll 30 test -f "$WORK/$name.ready" || { echo "load $name did not get going" >&2; return 1; }
}
# stop_load NAME: stops it (SIGTERM) and waits for its summary (15 s at most).
stop_load() {
  local pid
  pid=$(cat "$WORK/run/$1-load.pid")
  kill -TERM "$pid" 2>/dev/null || true
  wait_load "$1"
}
wait_load() {
  local pid
  pid=$(cat "$WORK/run/$1-load.pid")
  poll 15 eval "! alive $pid" || { kill -KILL "$pid"; echo "load $1 did not stop" >&2; return 1; }
  wait "$pid" || true
  [ -s "$WORK/$1-load.json" ]
}

# --- scenarios ----------------------------------------------------------------------------------

sc_kill_restart() {
  ensure_main
  local down=9403 target series dash=http://127.0.0.1:3501 kill_at out_at out_ms=never gw_out gw_out_ms=never why
  target=http://127.0.0.1:$down
  series=$(healthy_series "$down")
  start_load kill 8401 --conns 18 --slow-path /slow.bin --slow-conns 6 --ready-after 2000
  kill_at=$(now)
  kill -KILL "$(cat "$WORK/run/up$down.pid")"
  # What a scraper sees (the /metrics gauges are refreshed once a second) …
  out_at=$(python3 "$PY" wait-metric --url "$dash/metrics" --series "$series" --value 0 --timeout 15 | python3 "$PY" get at)
  [ -n "$out_at" ] && out_ms=$(ms "$kill_at" "$out_at")
  # … and when the gateway took it out (its own timestamp of the transition, /api/routes).
  python3 "$PY" transition --dash "$dash" --target "$target" --to unhealthy --after "$kill_at" > "$WORK/kill-transition.json" || true
  gw_out=$(jget "$WORK/kill-transition.json" at)
  why=$(jget "$WORK/kill-transition.json" reason | tr -d '|' | cut -c1-80)
  [ -n "$gw_out" ] && gw_out_ms=$(ms "$kill_at" "$gw_out")
  sleep 1 # a second of load with the upstream out of rotation
  local restart_at back_at back_ms=never gw_back gw_back_ms=never
  if selected restart; then
    restart_at=$(now)
    start_upstream "$down"
    back_at=$(python3 "$PY" wait-metric --url "$dash/metrics" --series "$series" --value 1 --timeout 20 | python3 "$PY" get at)
    [ -n "$back_at" ] && back_ms=$(ms "$restart_at" "$back_at")
    python3 "$PY" transition --dash "$dash" --target "$target" --to healthy --after "$restart_at" > "$WORK/restart-transition.json" || true
    gw_back=$(jget "$WORK/restart-transition.json" at)
    [ -n "$gw_back" ] && gw_back_ms=$(ms "$restart_at" "$gw_back")
    sleep 1 # a second of load with it back
  fi
  stop_load kill
  python3 "$PY" analyse-kill --records "$WORK/kill-load.tsv" --kill-at "$kill_at" --dash "$dash" --target "$target" \
    > "$WORK/kill-analysis.json"
  local a="$WORK/kill-analysis.json" sent failed in_flight after before on_down ok=0
  sent=$(jget "$a" sent); failed=$(jget "$a" failed); in_flight=$(jget "$a" failed_in_flight)
  after=$(jget "$a" failed_sent_after_kill); before=$(jget "$a" failed_before_kill)
  on_down=$(jget "$a" failed_on_killed)
  [ "$out_ms" != never ] && [ "$failed" = "$in_flight" ] && [ "$after" = 0 ] && [ "$before" = 0 ] \
    && [ "$on_down" = "$failed" ] && [ "$(check "$out_ms <= $HEALTH_INTERVAL_MS")" = 1 ] && ok=1
  if selected kill; then
    row "kill one of three upstreams under load" \
      "$sent GETs from 18 keep-alive clients (faults.py load; 12 ask for 2 B, 6 for 64 KiB served at 16 KB/s) over 3 nginx upstreams (round robin, retries 1); upstream :$down SIGKILLed mid-run with $(jget "$a" in_flight_at_kill) requests in flight (to all three)" \
      "$failed ($in_flight in flight at the kill, $on_down recorded against :$down, $after sent after the kill; client errors: $(jget "$a" errors | tr -d '[]"' | sed 's/^$/none/'))" \
      "the responses to the failed requests" \
      "the only failed requests are those in flight to :$down at the kill; /metrics shows gatewatch_target_healthy 0 for it within one health interval ($HEALTH_INTERVAL_MS ms)" \
      "$(verdict $ok): /metrics shows 0 after ${out_ms} ms (the gateway took it out after ${gw_out_ms} ms: ${why:-?}); $failed failed, $after of them sent after the kill"
  fi
  if selected restart; then
    python3 "$PY" analyse-restart --records "$WORK/kill-load.tsv" --from-at "$restart_at" --back-at "${gw_back:-$restart_at}" \
      --upstream "$down" > "$WORK/restart-analysis.json"
    local r="$WORK/restart-analysis.json" limit rfailed rserved
    limit=$((HEALTHY_THRESHOLD * HEALTH_INTERVAL_MS + 250))
    rfailed=$(jget "$r" failed); rserved=$(jget "$r" served_by_restarted)
    ok=0
    [ "$gw_back_ms" != never ] && [ "$back_ms" != never ] && [ "$rfailed" = 0 ] && [ "$rserved" -gt 0 ] \
      && [ "$gw_back_ms" -le "$limit" ] && [ "$back_ms" -le $((limit + 1000)) ] && ok=1
    row "restart it" \
      "$(jget "$r" sent) GETs from the same clients while :$down starts again (the same nginx config) and rejoins" \
      "$rfailed" "none" \
      "back in rotation within healthy_threshold × interval = $((HEALTHY_THRESHOLD * HEALTH_INTERVAL_MS)) ms of the restart (+250 ms for the probes' own time and timer jitter; /metrics, refreshed every second, up to 1 s later); 0 failed; it serves again" \
      "$(verdict $ok): healthy again ${gw_back_ms} ms after the restart (/metrics: ${back_ms} ms); $rfailed failed; $rserved requests answered by :$down after"
  else
    # Leave the three upstreams up for the scenarios after.
    start_upstream "$down"
    python3 "$PY" wait-metric --url "$dash/metrics" --series "$series" --value 1 --timeout 20 > /dev/null
  fi
}

# recorded ID → the gateway's record of the request (JSON in $WORK/ID.record), 5 s at most.
recorded() { poll 5 curl -fs -o "$WORK/$1.record" "http://127.0.0.1:3501/api/requests/$1"; }

sc_reset() {
  ensure_main
  local f="$WORK/reset.fetch" id=reset-1 len=1000000 ok=0 error status bytes_out counted
  python3 "$PY" fetch --port 8401 --path "/reset?len=$len" --id "$id" --timeout 30 > "$f"
  recorded "$id" || true
  error=$(jget "$WORK/$id.record" error 2>/dev/null || true)
  status=$(jget "$WORK/$id.record" status 2>/dev/null || true)
  bytes_out=$(jget "$WORK/$id.record" bytes_out 2>/dev/null || true)
  counted=$(metric 3501 "gatewatch_request_errors_total{route=\"reset\",kind=\"${error:-none}\"}")
  local got end elapsed
  got=$(jget "$f" body_bytes); end=$(jget "$f" end); elapsed=$(jget "$f" elapsed_ms)
  [ "$(jget "$f" whole)" = False ] && [ "$got" -lt "$len" ] && [ "$end" != timeout ] \
    && [ "$(check "$elapsed < 1000")" = 1 ] && [ -n "$error" ] && [ "${counted:-0}" -ge 1 ] && ok=1
  row "upstream resets mid-body" \
    "1 GET; the upstream (faults.py peer) sends 200 with Content-Length $len, $((len / 2)) bytes, then RST" \
    "1 (the client's body ends at $got of $len bytes: $end)" \
    "$((len - got)) body bytes" \
    "the client sees the body cut (not whole, connection closed) within 1 s, well before upstream_body_timeout_ms; recorded with an error kind and counted in gatewatch_request_errors_total" \
    "$(verdict $ok): cut after ${elapsed} ms at $got B; recorded status ${status:-?}, error ${error:-none}, $bytes_out B out; counter ${counted:-absent}"
}

sc_drip() {
  ensure_main
  local f="$WORK/drip.fetch" id=drip-1 ok=0 error got since slack=250
  python3 "$PY" fetch --port 8401 --path "/drip?len=10&bytes=3&every=1" --id "$id" --timeout 30 > "$f"
  recorded "$id" || true
  error=$(jget "$WORK/$id.record" error 2>/dev/null || true)
  got=$(jget "$f" body_bytes); since=$(jget "$f" since_last_byte_ms)
  [ "$got" = 3 ] && [ "$(jget "$f" whole)" = False ] && [ "$(jget "$f" end)" != timeout ] \
    && [ "$(check "$since >= $BODY_TIMEOUT_MS && $since <= $BODY_TIMEOUT_MS + $slack")" = 1 ] \
    && [ "$error" = upstream_body_timeout ] && ok=1
  row "upstream drips one byte a second" \
    "1 GET; the upstream sends Content-Length 10, then one byte a second for 3 s, then nothing (connection held open)" \
    "1 (the body ends at $got of 10 bytes)" \
    "$((10 - got)) body bytes never sent by the upstream" \
    "each dripped byte reaches the client (gaps of 1 s < upstream_body_timeout_ms $BODY_TIMEOUT_MS); the response is cut $BODY_TIMEOUT_MS–$((BODY_TIMEOUT_MS + slack)) ms after the last byte; recorded as upstream_body_timeout" \
    "$(verdict $ok): $got B delivered, cut ${since} ms after the last byte ($(jget "$f" elapsed_ms) ms in all); recorded error ${error:-none}"
}

sc_idle() {
  ensure_main
  local url=http://127.0.0.1:8401/index.txt base with base_err with_err idle_pid active ok=0 ratio
  read -r base base_err <<< "$(wrk_load "$url" "$LOAD_SECONDS")"
  rm -f "$WORK/idle.ready"
  python3 "$PY" idle --port 8401 --n "$IDLE_CONNECTIONS" --ready "$WORK/idle.ready" 9>&- > "$WORK/idle.json" 2> "$WORK/logs/idle.out" &
  idle_pid=$!
  track "$idle_pid"
  poll 60 test -f "$WORK/idle.ready" || { echo "idle connections not opened" >&2; return 1; }
  read -r with with_err <<< "$(wrk_load "$url" "$LOAD_SECONDS")"
  active=$(metric 3501 gatewatch_active_connections)
  kill -TERM "$idle_pid"
  poll 15 eval "! alive $idle_pid"
  wait "$idle_pid" || true
  local opened closed after after_err
  opened=$(jget "$WORK/idle.json" opened); closed=$(jget "$WORK/idle.json" closed_by_server)
  read -r after after_err <<< "$(wrk_load "$url" "$LOAD_SECONDS")"
  ratio=$(awk -v a="$with" -v b="$base" -v c="$after" 'BEGIN { printf "%.2f", a / ((b + c) / 2) }')
  [ "$opened" = "$IDLE_CONNECTIONS" ] && [ "$closed" = 0 ] && [ "$((base_err + with_err + after_err))" = 0 ] \
    && [ "$(check "$ratio >= 0.9")" = 1 ] && ok=1
  row "$IDLE_CONNECTIONS idle connections + load" \
    "wrk -c$WRK_CONNS ${LOAD_SECONDS} s without, with $opened keep-alive connections that made one request and sit idle (keepalive_idle_timeout_ms 600000), and without again" \
    "$((base_err + with_err + after_err)) wrk errors; $closed idle connections closed by the gateway" \
    "none" \
    "throughput with the idle connections ≥ 0.9× the mean of the runs without (before and after); 0 errors; every idle connection stays open" \
    "$(verdict $ok): $with rps with / $base and $after rps without = **${ratio}×**; gatewatch_active_connections $active during the load"
}

sc_slowloris() {
  ensure_main
  local url=http://127.0.0.1:8401/index.txt base with base_err with_err pid ok=0 ratio s="$WORK/slowloris.json"
  read -r base base_err <<< "$(wrk_load "$url" "$LOAD_SECONDS")"
  rm -f "$WORK/slowloris.ready"
  python3 "$PY" slowloris --port 8401 --n "$SLOWLORIS_CLIENTS" --interval 1 --duration $((LOAD_SECONDS + 3)) \
    --timeout-ms "$HEADER_TIMEOUT_MS" --slack-ms "$SLOWLORIS_SLACK_MS" --ready "$WORK/slowloris.ready" \
    9>&- > "$s" 2> "$WORK/logs/slowloris.out" &
  pid=$!
  track "$pid"
  poll 30 test -f "$WORK/slowloris.ready" || { echo "slowloris clients did not connect" >&2; return 1; }
  read -r with with_err <<< "$(wrk_load "$url" "$LOAD_SECONDS")"
  poll $((HEADER_TIMEOUT_MS / 1000 + 30)) eval "! alive $pid" || { echo "slowloris clients did not finish" >&2; return 1; }
  wait "$pid" || true
  local after after_err
  read -r after after_err <<< "$(wrk_load "$url" "$LOAD_SECONDS")"
  ratio=$(awk -v a="$with" -v b="$base" -v c="$after" 'BEGIN { printf "%.2f", a / ((b + c) / 2) }')
  local cycles late early never
  cycles=$(jget "$s" cycles); late=$(jget "$s" late); early=$(jget "$s" early); never=$(jget "$s" never_cut)
  [ "$cycles" -ge "$SLOWLORIS_CLIENTS" ] && [ "$late" = 0 ] && [ "$early" = 0 ] && [ "$never" = 0 ] \
    && [ "$((base_err + with_err + after_err))" = 0 ] && [ "$(check "$ratio >= 0.9")" = 1 ] && ok=1
  row "$SLOWLORIS_CLIENTS slowloris clients + load" \
    "wrk -c$WRK_CONNS ${LOAD_SECONDS} s without, with $SLOWLORIS_CLIENTS clients each sending a request head one byte a second and reconnecting when cut ($cycles connections in all), and without again" \
    "$((base_err + with_err + after_err)) wrk errors; $early cut early, $late cut late, $never never cut" \
    "none" \
    "every slowloris connection cut at header_read_timeout_ms $HEADER_TIMEOUT_MS (−20/+$SLOWLORIS_SLACK_MS ms, timed from the connect call); throughput with them ≥ 0.9× the mean of the runs without (before and after); 0 errors" \
    "$(verdict $ok): cut after min $(jget "$s" min_ms) / p50 $(jget "$s" p50_ms) / p99 $(jget "$s" p99_ms) / max $(jget "$s" max_ms) ms (answers $(jget "$s" answers)); $with rps with / $base and $after rps without = **${ratio}×**"
}

sc_config() {
  ensure_main
  local cfg="$WORK/main.json" good="$WORK/main.good.json" before corrupt_at rejected_at=never restored_at picked_at=never ok=0
  cp "$cfg" "$good"
  before=$(grep -c "config rejected" "$WORK/logs/main.out" || true)
  start_load config 8401 --conns 8 --ready-after 1000
  corrupt_at=$(now)
  # Half a file, written in place (as by an editor interrupted mid-save).
  head -c 120 "$good" > "$cfg"
  if poll 10 eval "[ \$(grep -c 'config rejected' '$WORK/logs/main.out') -gt $before ]"; then rejected_at=$(ms "$corrupt_at" "$(now)"); fi
  sleep 1 # a second of load on the rejected file
  # A valid config again, with a response header that shows it is in force.
  sed 's|"name": "main", "path": "\*",|"name": "main", "path": "*", "response_headers": {"set": {"x-config": "restored"}},|' "$good" > "$cfg.tmp"
  mv "$cfg.tmp" "$cfg"
  restored_at=$(now)
  if poll 10 eval "curl -fsi --max-time 2 http://127.0.0.1:8401/index.txt | grep -qi '^x-config: restored'"; then
    picked_at=$(ms "$restored_at" "$(now)")
  fi
  sleep 0.5
  stop_load config
  python3 "$PY" analyse-span --records "$WORK/config-load.tsv" --marker restored > "$WORK/config-all.json"
  python3 "$PY" analyse-span --records "$WORK/config-load.tsv" --from-at "$corrupt_at" --to-at "$restored_at" > "$WORK/config-bad.json"
  local sent failed bad marked logline
  sent=$(jget "$WORK/config-all.json" sent); failed=$(jget "$WORK/config-all.json" failed)
  marked=$(jget "$WORK/config-all.json" marked); bad=$(jget "$WORK/config-bad.json" sent)
  logline=$(grep -m1 -A1 "config rejected" "$WORK/logs/main.out" | sed 's/\x1b\[[0-9;]*m//g' | tr -s ' \n' ' ' | sed -E 's/^ *[0-9T:.Z-]+ +//; s/ +$//; s/[|]//g' | cut -c1-160)
  [ "$failed" = 0 ] && [ "$rejected_at" != never ] && [ "$picked_at" != never ] && [ "$marked" -gt 0 ] && [ "$bad" -gt 0 ] && ok=1
  row "corrupt config written under load" \
    "$sent GETs from 8 keep-alive clients; config.json overwritten in place with its first 120 bytes, then (1 s later) replaced by a valid config adding a response header" \
    "$failed" "none" \
    "0 failed requests; the rejection logged and the old config kept serving; the valid config in force within 10 s" \
    "$(verdict $ok): $failed failed; rejection logged after ${rejected_at} ms (\`$logline\`); $bad requests served on the old config meanwhile; the restored config in force after ${picked_at} ms ($marked responses carry its header)"
}

sc_disk() {
  mkdir -p "$MNT"
  if ! mount -t tmpfs -o "size=${DISK_MB}m" tmpfs "$MNT" 2> "$WORK/mount.err"; then
    row "history disk full" "—" "—" "—" "—" "SKIPPED: mount -t tmpfs not permitted ($(tr -d '\n|' < "$WORK/mount.err"))"
    return 0
  fi
  gateway_config disk 8402 3502 "$MNT/history.db"
  start_gateway disk 8402 3502
  local h=http://127.0.0.1:3502/api/health m=http://127.0.0.1:3502/metrics ok=0
  start_load disk 8402 --conns 8 --ready-after 1000
  python3 "$PY" wait-json --url "$h" --field history.rows_written --op gt --value 0 --timeout 10 > /dev/null
  # Fill the file system.
  dd if=/dev/zero of="$MNT/fill" bs=64k 2> /dev/null || true
  dd if=/dev/zero of="$MNT/fill2" bs=512 2> /dev/null || true
  local full_at failing_at=never dropped_at
  full_at=$(now)
  local failing
  failing=$(python3 "$PY" wait-metric --url "$m" --series gatewatch_history_healthy --value 0 --timeout 60 | python3 "$PY" get at)
  [ -n "$failing" ] && failing_at=$(ms "$full_at" "$failing")
  sleep 2 # two seconds of load on the full disk
  local dropped written_full
  dropped=$(metric 3502 gatewatch_history_rows_dropped)
  written_full=$(curl -fs "$h" | python3 "$PY" get history.rows_written)
  local backlog_full
  backlog_full=$(history_backlog 3502)
  # Free the space.
  rm -f "$MNT/fill" "$MNT/fill2"
  local freed_at recovered recovered_at=never written_rec resumed=no
  freed_at=$(now)
  recovered=$(python3 "$PY" wait-metric --url "$m" --series gatewatch_history_healthy --value 1 --timeout 60 | python3 "$PY" get at)
  if [ -n "$recovered" ]; then
    recovered_at=$(ms "$freed_at" "$recovered")
    written_rec=$(curl -fs "$h" | python3 "$PY" get history.rows_written)
    python3 "$PY" wait-json --url "$h" --field history.rows_written --op gt --value "$written_rec" --timeout 10 > /dev/null && resumed=yes
  fi
  curl -fs -o /dev/null -H 'x-request-id: disk-after-recovery' http://127.0.0.1:8402/index.txt
  stop_load disk
  local dropped_end sent failed
  dropped_end=$(metric 3502 gatewatch_history_rows_dropped)
  sent=$(jget "$WORK/disk-load.json" requests); failed=$(jget "$WORK/disk-load.json" failed)
  # After a restart (an empty in-memory ring) the request sent after recovery is read from the file.
  local status found=no
  stop_gateway disk TERM
  status=$GW_STATUS
  start_gateway disk 8402 3502
  curl -fs -o /dev/null "http://127.0.0.1:3502/api/requests/disk-after-recovery" && found=yes
  stop_gateway disk TERM
  [ "$failed" = 0 ] && [ "$failing_at" != never ] && [ "${dropped:-0}" -gt 0 ] && [ "$recovered_at" != never ] \
    && [ "$resumed" = yes ] && [ "$found" = yes ] && [ "$status" = 0 ] && ok=1
  row "history disk full" \
    "$sent GETs from 8 keep-alive clients; history on a ${DISK_MB} MB tmpfs filled with dd mid-run, freed 2 s after the history reported failing" \
    "$failed" \
    "$dropped_end history rows (gatewatch_history_rows_dropped; $dropped while full)" \
    "0 failed requests; gatewatch_history_healthy 0 and rows dropped counted while full; once freed, healthy 1 and rows_written (/api/health) growing again; a request sent after recovery is in the file after a restart" \
    "$(verdict $ok): healthy 0 after ${failing_at} ms full ($written_full rows written before); healthy 1 ${recovered_at} ms after freeing (history backlog then $backlog_full requests), writes resumed within 10 s: $resumed; request after recovery stored: $found; exit status on SIGTERM $status"
}

# crash_run NAME SIGNAL → NAME.json (load summary), NAME-exit (exit status), NAME-kill-at
crash_run() {
  local name=$1 sig=$2
  rm -f "$WORK/$name.db"*
  gateway_config "$name" 8403 3503 "$WORK/$name.db"
  start_gateway "$name" 8403 3503
  start_load "$name" 8403 --conns 8 --until-gone --ready-after 10000
  history_backlog 3503 > "$WORK/$name-backlog"
  now > "$WORK/$name-kill-at"
  stop_gateway "$name" "$sig"
  echo "$GW_STATUS" > "$WORK/$name-exit"
  wait_load "$name"
}
# crash_stored NAME: restarts the gateway on NAME's history and lists the ids stored.
crash_stored() {
  start_gateway "$1" 8403 3503
  python3 "$PY" ids --url http://127.0.0.1:3503 --out "$WORK/$1.ids" > "$WORK/$1-ids.json"
}

sc_sigterm() {
  local ok=0 status
  crash_run sigterm TERM
  status=$(cat "$WORK/sigterm-exit")
  crash_stored sigterm
  stop_gateway sigterm TERM
  python3 "$PY" analyse-crash --records "$WORK/sigterm-load.tsv" --ids "$WORK/sigterm.ids" > "$WORK/sigterm-analysis.json"
  local a="$WORK/sigterm-analysis.json" whole missing
  whole=$(jget "$a" whole); missing=$(jget "$a" missing)
  [ "$status" = 0 ] && [ "$missing" = 0 ] && [ "$whole" -gt 0 ] && ok=1
  row "SIGTERM under load" \
    "$(jget "$WORK/sigterm-load.json" requests) GETs from 8 keep-alive clients, each recording the X-Request-Id of every response it got whole; SIGTERM after 10 000" \
    "$(jget "$a" failed) (no response: written onto keep-alive connections as the shutdown closed them)" \
    "$missing of $whole complete responses missing from the history" \
    "exit status 0; every request with a complete response is in the history after a restart (/api/requests, paged)" \
    "$(verdict $ok): exit status $status; $whole complete, $(jget "$a" stored) stored, $missing missing; history backlog at the signal $(cat "$WORK/sigterm-backlog") requests"
}

sc_sigkill() {
  local ok=0 kill_at integrity started=no status=none
  crash_run sigkill KILL
  kill_at=$(cat "$WORK/sigkill-kill-at")
  integrity=$(python3 "$PY" integrity --db "$WORK/sigkill.db" | python3 "$PY" get integrity)
  if crash_stored sigkill; then
    started=yes
    stop_gateway sigkill TERM
    status=$GW_STATUS
  fi
  python3 "$PY" analyse-crash --records "$WORK/sigkill-load.tsv" --ids "$WORK/sigkill.ids" --kill-at "$kill_at" --at-risk-ms 300 \
    > "$WORK/sigkill-analysis.json"
  local a="$WORK/sigkill-analysis.json" whole missing older
  whole=$(jget "$a" whole); missing=$(jget "$a" missing); older=$(jget "$a" missing_older)
  [ "$integrity" = ok ] && [ "$started" = yes ] && [ "$status" = 0 ] && [ "$older" = 0 ] && [ "$whole" -gt 0 ] && ok=1
  row "SIGKILL under load" \
    "$(jget "$WORK/sigkill-load.json" requests) GETs from 8 keep-alive clients recording every X-Request-Id received whole; SIGKILL after 10 000" \
    "$(jget "$a" failed) (no complete response: cut by the kill)" \
    "$missing of $whole complete responses missing from the history ($(jget "$a" recent) completed in the last 300 ms)" \
    "PRAGMA integrity_check ok; the gateway starts on the file (and exits 0 on SIGTERM); only requests completed in the last 300 ms before the kill (one history batch, 20 + 250 + 30 ms) may be missing" \
    "$(verdict $ok): integrity $integrity; restarted: $started, exit status $status; $missing missing, the oldest completed $(jget "$a" oldest_missing_ms) ms before the kill; $older older than 300 ms; history backlog just before the kill $(cat "$WORK/sigkill-backlog") requests"
}

sc_soak() {
  gateway_config soak 8404 3504 "$WORK/soak.db"
  start_gateway soak 8404 3504
  local url=http://127.0.0.1:8404/index.txt top top_err half pid wrk_pid start ok=0
  read -r top top_err <<< "$(wrk_load "$url" "$LOAD_SECONDS")"
  half=$((top / 2))
  # wrk has no rate option: its delay() hook paces the thread's requests to `half` a second.
  cat > "$WORK/pace.lua" <<LUA
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } pace_timespec;
int clock_gettime(int clk, pace_timespec *ts);
]]
local ts = ffi.new("pace_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local interval = 1000 / $half
local next_at = 0
function delay()
  local t = now_ms()
  if next_at < t then next_at = t end
  local wait = next_at - t
  next_at = next_at + interval
  return math.floor(wait)
end
LUA
  pid=$(cat "$WORK/run/soak.pid")
  wrk -t1 -c"$WRK_CONNS" -d"${SOAK_SECONDS}s" -s "$WORK/pace.lua" "$url" 9>&- > "$WORK/soak.wrk" 2>&1 &
  wrk_pid=$!
  track "$wrk_pid"
  start=$(date +%s)
  : > "$WORK/soak.samples"
  # Resident memory (KiB), open descriptors and the history's backlog (requests counted but not
  # yet written to the file: they wait in memory) every SAMPLE_SECONDS while wrk runs.
  while alive "$wrk_pid"; do
    echo "$(($(date +%s) - start)) $(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status") $(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l) $(history_backlog 3504)" \
      >> "$WORK/soak.samples"
    local next
    next=$(($(date +%s) + SAMPLE_SECONDS))
    while alive "$wrk_pid" && [ "$(date +%s)" -lt "$next" ]; do sleep 0.5; done
  done
  wait "$wrk_pid" || true
  local dropped
  dropped=$(metric 3504 gatewatch_history_rows_dropped)
  local rps errors requests
  rps=$(awk '/^Requests\/sec/ { printf "%d", $2 }' "$WORK/soak.wrk")
  requests=$(awk '/requests in/ { print $1 }' "$WORK/soak.wrk")
  errors=$(awk '/Socket errors/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 } /Non-2xx/ { e += $NF } END { print e + 0 }' "$WORK/soak.wrk")
  python3 "$PY" analyse-soak --samples "$WORK/soak.samples" --seconds "$SOAK_SECONDS" > "$WORK/soak-analysis.json"
  local s="$WORK/soak-analysis.json" ratio early late fds_early fds_late
  ratio=$(jget "$s" rss_ratio); early=$(jget "$s" rss_early_kib); late=$(jget "$s" rss_late_kib)
  fds_early=$(jget "$s" fds_early); fds_late=$(jget "$s" fds_late_max)
  [ -n "$ratio" ] && [ "$(check "$ratio <= 1.1")" = 1 ] && [ "$fds_late" -le $((fds_early + FD_SLACK)) ] \
    && [ "$errors" = 0 ] && ok=1
  local minutes
  minutes=$(awk -v s="$SOAK_SECONDS" 'BEGIN { printf "%g", s / 60 }')
  row "soak at half the top rate" \
    "${requests:-0} GETs in ${minutes} min from wrk -c$WRK_CONNS paced to $half rps (half of the top rate, $top rps by wrk -c$WRK_CONNS for ${LOAD_SECONDS} s); achieved $rps rps; VmRSS and /proc/PID/fd sampled every ${SAMPLE_SECONDS} s ($(jget "$s" samples) samples)" \
    "$errors wrk errors" "${dropped:-?} history rows (gatewatch_history_rows_dropped)" \
    "median VmRSS of the last 1/6 (minutes 50–60 of an hour) ≤ 1.1× the median of 5/60–15/60; open fds at most the early median + $FD_SLACK; 0 errors" \
    "$(verdict $ok): VmRSS ${early} → ${late} KiB (**${ratio}×**, max $(jget "$s" rss_max_kib)); fds ${fds_early} → max ${fds_late}; history backlog at most $(jget "$s" backlog_max) requests (VmRSS at that sample $(jget "$s" rss_at_backlog_max_kib) KiB)"
}

# --- run ----------------------------------------------------------------------------------------

# 64 KiB served at 16 KB/s: 4 s in flight.
head -c 65536 /dev/zero > "$WORK/www/slow.bin"
for port in 9401 9402 9403; do upstream_conf "$port"; start_upstream "$port"; done
python3 "$PY" peer --port 9410 9>&- > "$WORK/logs/peer.out" 2>&1 &
track $!
poll 10 answers http://127.0.0.1:9410/ || { echo "the peer did not start" >&2; exit 1; }

STARTED=$(date +%s)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# Each scenario in a subshell: a script error ends that scenario (its row says so), not the run;
# what it started is in run/pids, its state in files under $WORK.
run_scenario() {
  local fn=$1 status=0
  shift
  echo "== $*" >&2
  local before
  before=$(wc -l < "$ROWS")
  local t0=$SECONDS
  set +e
  (set -e; "$fn") &
  SCENARIO_PID=$!
  wait "$SCENARIO_PID"
  status=$?
  SCENARIO_PID=
  set -e
  echo "   ($((SECONDS - t0)) s)" >&2
  if [ "$status" != 0 ] || [ "$(wc -l < "$ROWS")" = "$before" ]; then
    local s
    for s in "$@"; do
      grep -q "^$s	" "$ROWS" || row "$s" "—" "—" "—" "—" "FAIL: the scenario stopped (exit status $status; see the log above)"
    done
  fi
}
if selected kill || selected restart; then
  names=()
  selected kill && names+=("kill one of three upstreams under load")
  selected restart && names+=("restart it")
  run_scenario sc_kill_restart "${names[@]}"
fi
selected reset && run_scenario sc_reset "upstream resets mid-body"
selected drip && run_scenario sc_drip "upstream drips one byte a second"
selected idle && run_scenario sc_idle "$IDLE_CONNECTIONS idle connections + load"
selected slowloris && run_scenario sc_slowloris "$SLOWLORIS_CLIENTS slowloris clients + load"
selected config && run_scenario sc_config "corrupt config written under load"
selected disk && run_scenario sc_disk "history disk full"
selected sigterm && run_scenario sc_sigterm "SIGTERM under load"
selected sigkill && run_scenario sc_sigkill "SIGKILL under load"
selected soak && run_scenario sc_soak "soak at half the top rate"
ELAPSED=$(($(date +%s) - STARTED))

OUT="$ROOT/bench/results/faults-$(date -u +%Y-%m-%dT%H%M).md"
mkdir -p "$ROOT/bench/results"
{
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, gatewatch $("$GATEWATCH_BIN" --version | cut -d' ' -f2), $((ELAPSED / 60)) min $((ELAPSED % 60)) s;" \
    "load average $LOAD_BEFORE before the run, $(cut -d' ' -f1-3 /proc/loadavg) after."
  echo "Upstreams: nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') as single processes serving 2 bytes, and bench/faults.py's peer."
  echo "Health checks every $HEALTH_INTERVAL_MS ms (healthy_threshold $HEALTHY_THRESHOLD, unhealthy_threshold 3);" \
    "header_read_timeout_ms $HEADER_TIMEOUT_MS; upstream_body_timeout_ms $BODY_TIMEOUT_MS; wrk -t1 -c$WRK_CONNS, ${LOAD_SECONDS} s a run; soak ${SOAK_SECONDS} s."
  echo
  echo "| scenario | what was sent | what failed | what was lost | pass rule | result |"
  echo "|---|---|---|---|---|---|"
  while IFS=$'\t' read -r scenario sent failed lost rule result; do
    echo "| $scenario | $sent | $failed | $lost | $rule | $result |"
  done < "$ROWS"
} | tee "$OUT"
echo "written to ${OUT#"$ROOT"/}" >&2
! grep -q $'\tFAIL' "$ROWS"
