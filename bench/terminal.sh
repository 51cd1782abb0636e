#!/usr/bin/env bash
# What the terminal dashboard costs, in one run:
#   1. proxy throughput with `--dashboard` on vs off: two gateways on the same config, one run
#      plainly and one with the terminal dashboard in front (in a 200x50 tmux pane, Overview
#      shown, redrawn every 250 ms under the load it shows); wrk c=50 against each in turn,
#      interleaved rounds (which goes first alternates), medians, ratio; the CPU the tmux server
#      spent drawing the pane meanwhile;
#   2. the dashboard's own CPU at 4 fps with 50 routes and 20 models under traffic: `gatewatch
#      top` attached to a gateway (its process's user+system time) and the in-process
#      dashboard's thread (`gatewatch-tui`'s time), each over SECONDS on the Overview and the
#      Routes tab, in percent of one core.
#
# Usage: bench/terminal.sh   (ROUNDS=5 DURATION=10 SECONDS_CPU=30; BUILD=0 uses the binary built)
# Output: Markdown on stdout and in bench/results/terminal-<UTC date and time>.md
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" terminal
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
SECONDS_CPU=${SECONDS_CPU:-30}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
command -v tmux >/dev/null || { echo "tmux is needed (scripts/setup.sh installs it)" >&2; exit 1; }

exec 9>/tmp/gatewatch-bench.lock
flock -n 9 || { echo "waiting for /tmp/gatewatch-bench.lock (another benchmark is running)…" >&2; flock 9; }

if [ "${BUILD:-1}" = 1 ]; then
  echo "building the gatewatch release binary…" >&2
  cargo build --profile server-release --features ssr --bin gatewatch -q
fi

TMUX_SOCKET="gatewatch-bench-$$"
tmux_() { tmux -L "$TMUX_SOCKET" -f /dev/null "$@"; }
trap 'tmux_ kill-server 2>/dev/null || true; bench_cleanup' EXIT

# The gateway's threads' CPU ticks: the named thread's ($2) or the whole process's.
thread_ticks() {
  local pid=$1 name=$2 task
  for task in /proc/"$pid"/task/*; do
    if [ "$(cat "$task/comm")" = "$name" ]; then awk '{ print $14 + $15 }' "$task/stat"; return; fi
  done
  echo "no thread $name in $pid" >&2; exit 1
}

nginx -p "$WORK" -c "$WORK/nginx-backend.conf" & PIDS+=($!)

# --- 1. throughput, dashboard on vs off -------------------------------------------------------
gatewatch_config "$WORK/off.json" 8091 3991 '"history": {"enabled": false},'
gatewatch_config "$WORK/on.json" 8092 3992 '"history": {"enabled": false},'
GATEWATCH_LOG=warn "$GATEWATCH_BIN" --config "$WORK/off.json" > "$WORK/logs/off.out" 2>&1 & PIDS+=($!)
tmux_ new-session -d -s on -x 200 -y 50 \
  "GATEWATCH_LOG=warn exec $GATEWATCH_BIN --dashboard --config $WORK/on.json 2> $WORK/logs/on.err"
wait_for http://127.0.0.1:8091/index.txt
wait_for http://127.0.0.1:8092/index.txt
check_alive
ON_PID=$(tmux_ display-message -p -t on '#{pane_pid}')

TMUX_PID=$(tmux_ display-message -p '#{pid}')
off=() on=() tmux_ticks=0
run_on() {
  local before after rps
  # The tmux server alone (its children are the panes' programs: the gateway itself).
  before=$(awk '{ print $14 + $15 }' "/proc/$TMUX_PID/stat")
  rps=$(run_wrk http://127.0.0.1:8092/index.txt 50 "$DURATION" | cut -d' ' -f1)
  after=$(awk '{ print $14 + $15 }' "/proc/$TMUX_PID/stat")
  tmux_ticks=$((tmux_ticks + after - before))
  on+=("$rps")
}
for round in $(seq "$ROUNDS"); do
  echo "round $round/$ROUNDS…" >&2
  if [ $((round % 2)) = 1 ]; then
    off+=("$(run_wrk http://127.0.0.1:8091/index.txt 50 "$DURATION" | cut -d' ' -f1)")
    run_on
  else
    run_on
    off+=("$(run_wrk http://127.0.0.1:8091/index.txt 50 "$DURATION" | cut -d' ' -f1)")
  fi
done
off_median=$(printf '%s\n' "${off[@]}" | median)
on_median=$(printf '%s\n' "${on[@]}" | median)
# The pane must still show the dashboard (not a crash message).
tmux_ capture-pane -p -t on | grep -q "Gatewatch" || { echo "the dashboard is not on screen" >&2; tmux_ capture-pane -p -t on >&2; exit 1; }
tmux_ send-keys -t on q
for _ in $(seq 100); do kill -0 "$ON_PID" 2>/dev/null || break; sleep 0.1; done

# --- 2. the dashboard's CPU with 50 routes and 20 models -------------------------------------
mkdir -p "$WORK/www/llm"
routes=""
for i in $(seq -w 0 49); do
  mkdir -p "$WORK/www/r$i"; printf 'ok' > "$WORK/www/r$i/index.txt"
  routes+="{\"name\": \"route-$i\", \"path\": \"/r$i/*\", \"targets\": [\"http://127.0.0.1:9001\"]},"
done
for i in $(seq -w 0 19); do
  printf '{"id":"x","object":"chat.completion","model":"model-%s","choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}],"usage":{"prompt_tokens":%d,"completion_tokens":%d}}' \
    "$i" $((100 + 10#$i)) $((20 + 10#$i)) > "$WORK/www/llm/model-$i.json"
done
for port in 8093 8094; do
  dash=$((port - 8093 + 3993))
  cat > "$WORK/many-$port.json" <<JSON
{
  "listen": "127.0.0.1:$port",
  "dashboard": {"listen": "127.0.0.1:$dash"},
  "history": {"enabled": false},
  "routes": [$routes {"name": "llm", "path": "/llm/*", "llm": true, "targets": ["http://127.0.0.1:9001"]}]
}
JSON
done
# wrk cycles through every route and every model.
cat > "$WORK/paths.lua" <<'LUA'
local paths, n = {}, 0
for i = 0, 49 do paths[#paths + 1] = string.format("/r%02d/index.txt", i) end
for i = 0, 19 do paths[#paths + 1] = string.format("/llm/model-%02d.json", i) end
request = function()
  n = n % #paths + 1
  return wrk.format("GET", paths[n])
end
LUA

# 2a: `gatewatch top` attached to a gateway on 8093.
GATEWATCH_LOG=warn "$GATEWATCH_BIN" --config "$WORK/many-8093.json" > "$WORK/logs/many.out" 2>&1 & PIDS+=($!)
wait_for http://127.0.0.1:8093/r00/index.txt
# 2b: the in-process dashboard of a gateway on 8094.
tmux_ new-session -d -s inproc -x 200 -y 50 \
  "GATEWATCH_LOG=warn exec $GATEWATCH_BIN --dashboard --config $WORK/many-8094.json 2> $WORK/logs/inproc.err"
wait_for http://127.0.0.1:8094/r00/index.txt
INPROC_PID=$(tmux_ display-message -p -t inproc '#{pane_pid}')
tmux_ new-session -d -s top -x 200 -y 50 "exec $GATEWATCH_BIN top --url http://127.0.0.1:3993"
TOP_PID=$(tmux_ display-message -p -t top '#{pane_pid}')

# Traffic to both gateways for the whole measurement (c=2 each: load without saturating the box).
total=$((SECONDS_CPU * 2 + 10))
wrk -t1 -c2 -d"${total}s" -s "$WORK/paths.lua" http://127.0.0.1:8093 > "$WORK/logs/wrk-top.out" & WRK_PIDS=($!)
wrk -t1 -c2 -d"${total}s" -s "$WORK/paths.lua" http://127.0.0.1:8094 > "$WORK/logs/wrk-inproc.out" & WRK_PIDS+=($!)
sleep 5
for pane in top inproc; do
  tmux_ capture-pane -p -t "$pane" | grep -q "route-0" || { echo "$pane does not show the routes" >&2; tmux_ capture-pane -p -t "$pane" >&2; exit 1; }
done

measure() { # $1: tab key → "top% inproc%"
  tmux_ send-keys -t top "$1"; tmux_ send-keys -t inproc "$1"
  local top0 in0 top1 in1
  top0=$(cpu_ticks "$TOP_PID"); in0=$(thread_ticks "$INPROC_PID" gatewatch-tui)
  sleep "$SECONDS_CPU"
  top1=$(cpu_ticks "$TOP_PID"); in1=$(thread_ticks "$INPROC_PID" gatewatch-tui)
  awk -v a=$((top1 - top0)) -v b=$((in1 - in0)) -v hz="$HZ" -v s="$SECONDS_CPU" \
    'BEGIN { printf "%.2f %.2f\n", 100 * a / hz / s, 100 * b / hz / s }'
}
read -r top_overview inproc_overview < <(measure 1)
read -r top_routes inproc_routes < <(measure 2)
routes_listed=$(tmux_ capture-pane -p -t top | grep -c "route-" || true)
tmux_ send-keys -t top 3; sleep 1
models_listed=$(tmux_ capture-pane -p -t top | grep -c "model-" || true)
kill "${WRK_PIDS[@]}" 2>/dev/null || true
wait "${WRK_PIDS[@]}" 2>/dev/null || true

OUT="$ROOT/bench/results/terminal-$(date -u +%Y-%m-%dT%H%M).md"
mkdir -p "$ROOT/bench/results"
{
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average before: $LOAD_BEFORE."
  echo "gatewatch $("$GATEWATCH_BIN" --version | cut -d' ' -f2) ($GATEWATCH_BIN), history off in every gateway."
  echo
  echo "**Proxy throughput, --dashboard on vs off** (wrk -c50 ${DURATION}s against each in turn, $ROUNDS interleaved rounds, 2-byte body from nginx; the dashboard in a 200x50 tmux pane on the Overview):"
  echo
  echo "| gateway | rounds (rps) | median rps |"
  echo "|---|---|---:|"
  echo "| off | ${off[*]} | $off_median |"
  echo "| --dashboard | ${on[*]} | $on_median |"
  echo
  awk -v on="$on_median" -v off="$off_median" 'BEGIN { printf "Ratio on/off: **%.3f**\n", on / off }'
  echo
  awk -v t="$tmux_ticks" -v hz="$HZ" -v s=$((ROUNDS * DURATION)) \
    'BEGIN { printf "The tmux server drawing the pane during the --dashboard runs: %.1f %% of one core.\n", 100 * t / hz / s }'
  echo
  echo "**The dashboard's own CPU at 4 fps with 50 routes and 20 models** (wrk -c2 cycling through the 50 routes and 20 model answers against each gateway; ${SECONDS_CPU}s per tab; percent of one core; route rows on the Routes tab: $routes_listed, models on the Models tab: $models_listed):"
  echo
  echo "| tab | gatewatch top (process) | --dashboard (gatewatch-tui thread) |"
  echo "|---|---:|---:|"
  echo "| Overview | $top_overview % | $inproc_overview % |"
  echo "| Routes | $top_routes % | $inproc_routes % |"
} | tee "$OUT"
