#!/usr/bin/env bash
# Builds Gatewatch (release: server + WASM client) and runs it on ./config.json.
# Extra arguments go to gatewatch, e.g. `scripts/run.sh --config other.json`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
build_release
exec "$GATEWATCH_BIN" "$@"
