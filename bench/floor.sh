#!/usr/bin/env bash
# How far Gatewatch's hot path is from the floor: nginx (the peer), bench/floor (a minimal Tokio
# HTTP/1.1 relay doing the same header work, see its main.rs), the same relay with its heads
# going through the `http` crate's types ("typed") and Gatewatch with recording off and on, all proxying to one nginx backend, loaded by wrk in turn, round after round. Reports
# user and system CPU per request separately: the system part (loopback TCP, epoll) is the
# same for any proxy making the same system calls; the user part is what a design changes.
#
# Usage: bench/floor.sh [ROUNDS] [BINARY]   (default 5 rounds, the release build)
#   BODY=2B (default) or BODY=16KiB; C=50 connections; D=5 seconds per round.
# Output: per round "NAME rps user-µs sys-µs p99-µs" (µs of CPU per request), then the means
# and each mean's ratio to nginx's throughput; on stdout and in
# bench/results/floor-<UTC date and time>.md.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" floor
ROUNDS=${1:-5}
BINARY=${2:-$CARGO_TARGET_DIR/server-release/gatewatch}
C=${C:-50}
D=${D:-5}
case "${BODY:-2B}" in
  2B) URL_PATH=/index.txt ;;
  16KiB) URL_PATH=/16k; head -c 16384 /dev/zero | tr '\0' x > "$WORK/www/16k" ;;
  *) echo "BODY is 2B or 16KiB" >&2; exit 1 ;;
esac
[ -x "$BINARY" ] || { echo "no Gatewatch binary at $BINARY (cargo leptos build --release)" >&2; exit 1; }
cargo build --quiet --release --manifest-path "$ROOT/bench/floor/Cargo.toml"
FLOOR=$CARGO_TARGET_DIR/release/relay-floor

nginx -p "$WORK" -c "$WORK/nginx-backend.conf" & PIDS+=($!)
sed -e "s|@DIR@|$WORK|g" "$ROOT/bench/conf/nginx-proxy.conf" > "$WORK/proxy.conf"
nginx -p "$WORK" -c "$WORK/proxy.conf" & NGINX=$!; PIDS+=($!)
"$FLOOR" 127.0.0.1:8601 127.0.0.1:9001 > "$WORK/logs/floor.out" 2>&1 & FLOOR_PID=$!; PIDS+=($!)
"$FLOOR" 127.0.0.1:8604 127.0.0.1:9001 typed > "$WORK/logs/typed.out" 2>&1 & TYPED=$!; PIDS+=($!)
gatewatch_config "$WORK/off.json" 8602 8612 '"metrics": {"enabled": false},'
GATEWATCH_LOG=warn "$BINARY" --config "$WORK/off.json" > "$WORK/logs/off.out" 2>&1 & OFF=$!; PIDS+=($!)
gatewatch_config "$WORK/on.json" 8603 8613 '"history": {"path": "on.db"},'
GATEWATCH_LOG=warn "$BINARY" --config "$WORK/on.json" > "$WORK/logs/on.out" 2>&1 & ON=$!; PIDS+=($!)
INSTANCES=("nginx $NGINX 8081" "floor $FLOOR_PID 8601" "typed $TYPED 8604" "off $OFF 8602" "on $ON 8603")
wait_for http://127.0.0.1:9001/index.txt
for instance in "${INSTANCES[@]}"; do
  read -r _ _ port <<< "$instance"
  wait_for "http://127.0.0.1:$port$URL_PATH"
done
check_alive

# "user system" CPU ticks of a process and its children (nginx's workers).
ticks() {
  local user=0 system=0 pid u s
  for pid in "$1" $(pgrep -P "$1" || true); do
    read -r u s < <(awk '{ print $14, $15 }' "/proc/$pid/stat")
    user=$((user + u)); system=$((system + s))
  done
  echo "$user $system"
}
for round in $(seq "$ROUNDS"); do
  for instance in "${INSTANCES[@]}"; do
    read -r name pid port <<< "$instance"
    read -r user0 system0 <<< "$(ticks "$pid")"
    read -r rps _ p99 <<< "$(run_wrk "http://127.0.0.1:$port$URL_PATH" "$C" "$D")"
    read -r user1 system1 <<< "$(ticks "$pid")"
    awk -v n="$name" -v r="$rps" -v u=$((user1 - user0)) -v s=$((system1 - system0)) -v hz="$HZ" \
      -v d="$D" -v p99="$p99" -v round="$round" 'BEGIN {
        printf "round %d  %-5s %6d rps  user %4.1f  sys %4.1f µs/request  p99 %d µs\n",
          round, n, r, u / hz / (r * d) * 1e6, s / hz / (r * d) * 1e6, p99 }'
  done
done | tee "$WORK/rounds.txt"
echo
awk '{ rps[$3] += $4; user[$3] += $7; sys[$3] += $9; k[$3]++ }
  END { split("nginx floor typed off on", order, " ")
        for (i = 1; i <= 5; i++) { n = order[i]
          printf "mean  %-5s %6.0f rps  user %4.2f  sys %4.2f µs/request  %.3fx nginx\n",
            n, rps[n] / k[n], user[n] / k[n], sys[n] / k[n], rps[n] / rps["nginx"] } }' "$WORK/rounds.txt" \
  | tee "$WORK/means.txt"

OUT="$ROOT/bench/results/floor-$(date -u +%Y-%m-%dT%H%M).md"
mkdir -p "$ROOT/bench/results"
{
  echo "# bench/floor.sh $ROUNDS, BODY=${BODY:-2B}, C=$C, D=$D s; binary $BINARY ($(git -C "$ROOT" rev-parse --short HEAD))"
  echo '```'
  cat "$WORK/rounds.txt"
  echo
  cat "$WORK/means.txt"
  echo '```'
} > "$OUT"
echo "written to $OUT" >&2
