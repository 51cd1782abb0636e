# Shared by the bench/*.sh scripts (sourced, not run): the environment, a private work directory
# with the nginx backend's files, starting and cleaning up servers, and wrk with its summary parsed.
# shellcheck shell=bash
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The setup installs the benchmarks' peers and tools too (nginx, wrk, valgrind).
export GATEWATCH_SETUP_BENCH=1
source "$ROOT/scripts/env.sh"

# A work directory named after the script ($1) with run/, logs/ and www/index.txt (2 bytes: "ok")
# and the backend's nginx config; removed, with every server in PIDS stopped, on exit. On failure
# the servers' logs (logs/*.out) are printed.
WORK=$(mktemp -d "/tmp/gatewatch-$1.XXXXXX")
mkdir -p "$WORK"/{run,logs,www}
# mktemp makes the directory private; nginx's workers run as another user and must read www/.
chmod 755 "$WORK"
printf 'ok' > "$WORK/www/index.txt"
sed "s|@DIR@|$WORK|g" "$ROOT/bench/conf/nginx-backend.conf" > "$WORK/nginx-backend.conf"

PIDS=()
bench_cleanup() {
  local status=$?
  [ "$status" -eq 0 ] || tail -n 20 "$WORK"/logs/*.out >&2 2>/dev/null || true
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap bench_cleanup EXIT

# gatewatch_config FILE LISTEN_PORT DASHBOARD_PORT [EXTRA_MEMBERS]: one catch-all route to the
# backend on 127.0.0.1:9001; EXTRA_MEMBERS (e.g. `"metrics": {"enabled": false},`) goes first.
gatewatch_config() {
  cat > "$1" <<JSON
{
  ${4:-}
  "listen": "127.0.0.1:$2",
  "dashboard": {"listen": "127.0.0.1:$3"},
  "routes": [{"name": "bench", "path": "*", "targets": ["http://127.0.0.1:9001"]}]
}
JSON
}

# Waits until URL answers (10 s at most).
wait_for() {
  for _ in $(seq 100); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "not answering: $1" >&2
  exit 1
}

# A server left over from another run would answer in place of ours: ours must be alive.
check_alive() {
  for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || { echo "a server did not start (port taken?)" >&2; exit 1; }; done
}

# run_wrk URL CONNECTIONS SECONDS [WRK_ARGS...] → "rps p50_us p99_us" (THREADS wrk threads,
# default 1; e.g. WRK_ARGS -H 'Accept-Encoding: gzip')
run_wrk() {
  wrk -t"${THREADS:-1}" -c"$2" -d"$3s" --latency "${@:4}" "$1" | awk '
    function us(v) { if (v ~ /us$/) { sub(/us$/, "", v); return v }
                     if (v ~ /ms$/) { sub(/ms$/, "", v); return v * 1000 }
                     if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000000 } return v }
    /^ +50%/ { p50 = us($2) } /^ +99%/ { p99 = us($2) } /^Requests\/sec/ { rps = $2 }
    END { printf "%d %d %d\n", rps, p50, p99 }'
}

# The median of the numbers on stdin, one per line.
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# User + system CPU ticks (HZ a second) of a process and its children (nginx's workers).
cpu_ticks() {
  local total=0 pid
  for pid in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
  done
  echo "$total"
}
HZ=$(getconf CLK_TCK)
