#!/usr/bin/env bash
# HTTPS in and out, and response compression, against nginx in one run (same box, same
# certificate: ECDSA P-256 from a private CA, made here with openssl):
#   tls        — TLS termination with keep-alive, 2 B and 16 KiB bodies (wrk over TLS, c=50)
#   handshake  — a new TLS connection per request (`Connection: close`), 2 B body, c=50
#   https-up   — plain HTTP in, https to the backend with keep-alive (certificate verified)
#   gzip       — a 64 KiB JSON response gzip-compressed by the proxy (c=50): CPU per response
# Gatewatch runs with recording on (the defaults), nginx as bench/conf/nginx-tls.conf. Each case
# runs ROUNDS times, alternating the two; the median is reported, with each proxy's CPU time per
# response (user + system, from /proc).
#
# Usage: bench/tls.sh   (ROUNDS=3 DURATION=10; BUILD=0 uses the binary already built;
#                        GZIP_LEVEL=6, the level Gatewatch compresses gzip at: nginx is set to it)
# Output: a Markdown table on stdout and in bench/results/tls-<UTC date and time>.md
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" tls
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
GZIP_LEVEL=${GZIP_LEVEL:-6}

echo "building the gatewatch release binary…" >&2
if [ "${BUILD:-1}" = 1 ]; then
  cargo build --profile server-release --features ssr --bin gatewatch -q
fi

# A private CA and a server certificate for localhost and 127.0.0.1, both ECDSA P-256.
CERTS="$WORK/certs"
mkdir -p "$CERTS"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=bench CA" \
  -keyout "$CERTS/ca.key" -out "$CERTS/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$CERTS/server.key" -out "$CERTS/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$CERTS/san.ext"
openssl x509 -req -in "$CERTS/server.csr" -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca.key" -CAcreateserial \
  -days 2 -extfile "$CERTS/san.ext" -out "$CERTS/server.pem" 2>/dev/null
chmod 644 "$CERTS"/*

head -c 16384 /dev/zero | tr '\0' 'x' > "$WORK/www/16k"
# Just under 64 KiB of JSON shaped like an API's list response.
python3 - "$WORK/www/64k.json" <<'PY'
import json, random, sys
random.seed(7)
words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
items = []
while True:
    items.append({"id": len(items), "name": " ".join(random.choices(words, k=3)),
                  "score": round(random.random() * 1000, 3), "active": random.random() < 0.5,
                  "tags": random.sample(words, 2)})
    if len(json.dumps({"items": items})) > 65536:
        items.pop()
        break
open(sys.argv[1], "w").write(json.dumps({"items": items}))
PY
for conf in nginx-backend-tls nginx-tls; do
  sed -e "s|@DIR@|$WORK|g" -e "s|@GZIP_LEVEL@|$GZIP_LEVEL|g" "$ROOT/bench/conf/$conf.conf" > "$WORK/$conf.conf"
done
route() { # name target [extra route members]
  printf '{"name": "%s", "path": "*", "targets": ["%s"]%s}' "$1" "$2" "${3:-}"
}
cat > "$WORK/gw-tls.json" <<JSON
{
  "listen": "127.0.0.1:8182",
  "tls": {"listen": "127.0.0.1:8543",
          "certificates": [{"cert": "$CERTS/server.pem", "key": "$CERTS/server.key"}]},
  "dashboard": {"listen": "127.0.0.1:3984"},
  "routes": [$(route bench http://127.0.0.1:9001)]
}
JSON
cat > "$WORK/gw-up.json" <<JSON
{
  "listen": "127.0.0.1:8183",
  "dashboard": {"listen": "127.0.0.1:3985"},
  "routes": [$(route bench https://127.0.0.1:9443 ", \"upstream_tls\": {\"ca_file\": \"$CERTS/ca.pem\"}")]
}
JSON
cat > "$WORK/gw-gzip.json" <<JSON
{
  "listen": "127.0.0.1:8184",
  "dashboard": {"listen": "127.0.0.1:3986"},
  "routes": [$(route bench http://127.0.0.1:9001 ', "compression": {"algorithms": ["gzip"], "min_bytes": 1024}')]
}
JSON

nginx -p "$WORK" -c "$WORK/nginx-backend.conf" & PIDS+=($!)
nginx -p "$WORK" -c "$WORK/nginx-backend-tls.conf" & PIDS+=($!)
nginx -p "$WORK" -c "$WORK/nginx-tls.conf" & PIDS+=($!)
NGINX_PID=$!
declare -A GW_PID
for name in tls up gzip; do
  GATEWATCH_LOG=warn "$GATEWATCH_BIN" --config "$WORK/gw-$name.json" > "$WORK/logs/gw-$name.out" 2>&1 & PIDS+=($!)
  GW_PID[$name]=$!
done

# case → nginx URL, gatewatch URL, gatewatch instance, and a request header wrk adds. (wrk takes
# `-H "Name: value"` only with the space: without it the header is silently not sent.)
declare -A NGINX_URL GW_URL GW_OF HEADER
CASES=(tls-2B tls-16KiB handshake https-up-2B https-up-16KiB gzip-64KiB)
NGINX_URL[tls-2B]=https://127.0.0.1:8444/index.txt;   GW_URL[tls-2B]=https://127.0.0.1:8543/index.txt;   GW_OF[tls-2B]=tls
NGINX_URL[tls-16KiB]=https://127.0.0.1:8444/16k;      GW_URL[tls-16KiB]=https://127.0.0.1:8543/16k;      GW_OF[tls-16KiB]=tls
NGINX_URL[handshake]=https://127.0.0.1:8444/index.txt; GW_URL[handshake]=https://127.0.0.1:8543/index.txt; GW_OF[handshake]=tls
HEADER[handshake]="Connection: close"
NGINX_URL[https-up-2B]=http://127.0.0.1:8085/index.txt; GW_URL[https-up-2B]=http://127.0.0.1:8183/index.txt; GW_OF[https-up-2B]=up
NGINX_URL[https-up-16KiB]=http://127.0.0.1:8085/16k;  GW_URL[https-up-16KiB]=http://127.0.0.1:8183/16k;  GW_OF[https-up-16KiB]=up
NGINX_URL[gzip-64KiB]=http://127.0.0.1:8086/64k.json; GW_URL[gzip-64KiB]=http://127.0.0.1:8184/64k.json; GW_OF[gzip-64KiB]=gzip
HEADER[gzip-64KiB]="Accept-Encoding: gzip"

curl_ca() { curl -fsS --cacert "$CERTS/ca.pem" "$@"; }
for url in http://127.0.0.1:9001/index.txt https://127.0.0.1:9443/index.txt https://127.0.0.1:8444/index.txt \
  http://127.0.0.1:8085/index.txt http://127.0.0.1:8182/index.txt https://127.0.0.1:8543/index.txt \
  http://127.0.0.1:8183/index.txt http://127.0.0.1:8184/index.txt; do
  for _ in $(seq 100); do curl_ca -o /dev/null "$url" 2>/dev/null && break; sleep 0.1; done
  curl_ca -o /dev/null "$url" || { echo "not answering: $url" >&2; exit 1; }
done
check_alive
# Both sides do the work measured: the right bodies, over verified TLS, and gzip really applied.
for c in "${CASES[@]}"; do
  for url in "${NGINX_URL[$c]}" "${GW_URL[$c]}"; do
    want=$(curl -fsS "http://127.0.0.1:9001/${url#*://*/}" | wc -c)
    got=$(curl_ca --compressed "$url" | wc -c)
    [ "$got" = "$want" ] || { echo "$url: $got bytes, the backend's body is $want" >&2; exit 1; }
  done
done
declare -A GZ_BYTES
for url in "${NGINX_URL[gzip-64KiB]}" "${GW_URL[gzip-64KiB]}"; do
  curl -fsS -D - -o "$WORK/gz" -H 'Accept-Encoding: gzip' "$url" | grep -qi '^content-encoding: gzip' \
    || { echo "$url is not gzip-compressed" >&2; exit 1; }
  GZ_BYTES[${url%%/64k.json}]=$(wc -c < "$WORK/gz")
done

declare -A RESULT CPU
for round in $(seq "$ROUNDS"); do
  for c in "${CASES[@]}"; do
    # Alternate who goes first, so neither always runs right after the other's load.
    order=(nginx gatewatch)
    [ $((round % 2)) = 0 ] && order=(gatewatch nginx)
    for who in "${order[@]}"; do
      if [ "$who" = nginx ]; then url=${NGINX_URL[$c]}; pid=$NGINX_PID; else url=${GW_URL[$c]}; pid=${GW_PID[${GW_OF[$c]}]}; fi
      echo "round $round: $c $who" >&2
      before=$(cpu_ticks "$pid")
      RESULT["$c|$who|$round"]=$(run_wrk "$url" 50 "$DURATION" ${HEADER[$c]:+-H "${HEADER[$c]}"})
      CPU["$c|$who|$round"]=$(awk -v t="$(( $(cpu_ticks "$pid") - before ))" -v hz="$HZ" \
        -v r="$(echo "${RESULT["$c|$who|$round"]}" | cut -d' ' -f1)" -v s="$DURATION" \
        'BEGIN { printf "%.1f", t / hz * 1e6 / (r * s) }')
    done
  done
done

field() { # case who column(1=rps 2=p50 3=p99) → median over rounds
  for round in $(seq "$ROUNDS"); do echo "${RESULT["$1|$2|$round"]}" | cut -d' ' -f"$3"; done | median
}
cpu() { for round in $(seq "$ROUNDS"); do echo "${CPU["$1|$2|$round"]}"; done | median; }

OUT="$ROOT/bench/results/tls-$(date -u +%Y-%m-%dT%H%M).md"
mkdir -p "$ROOT/bench/results"
{
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, wrk -t${THREADS:-1} c=50, ${ROUNDS} rounds (median) of ${DURATION}s."
  echo "nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') ($(openssl version | cut -d' ' -f1-2)), workers auto;" \
    "gatewatch $("$GATEWATCH_BIN" --version | cut -d' ' -f2) (rustls), recording on. ECDSA P-256 certificate;" \
    "gzip level $GZIP_LEVEL on both (64 KiB JSON → nginx ${GZ_BYTES[http://127.0.0.1:8086]} B, gatewatch ${GZ_BYTES[http://127.0.0.1:8184]} B)."
  echo
  echo "| case | nginx rps | gatewatch rps | gatewatch / nginx | p99 nginx / gatewatch (µs) | CPU per response nginx / gatewatch (µs) | CPU gatewatch / nginx |"
  echo "|---|---|---|---|---|---|---|"
  for c in "${CASES[@]}"; do
    n=$(field "$c" nginx 1); g=$(field "$c" gatewatch 1)
    nc=$(cpu "$c" nginx); gc=$(cpu "$c" gatewatch)
    echo "| $c | $n | $g | **$(awk -v g="$g" -v n="$n" 'BEGIN { printf "%.2f", g / n }')×** |" \
      "$(field "$c" nginx 3) / $(field "$c" gatewatch 3) | $nc / $gc |" \
      "$(awk -v g="$gc" -v n="$nc" 'BEGIN { printf "%.2f", g / n }')× |"
  done
} | tee "$OUT"
echo "written to ${OUT#"$ROOT"/}" >&2
