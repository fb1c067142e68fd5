#!/usr/bin/env bash
# Load test of the HTTP edge: /healthz (no auth, no limiter, no store) against an
# authenticated, rate-limited GET /api/me (JWT verify + session lookup + user read), in one
# run on one server, so the ratio is meaningful on a noisy machine.
#
# Needs wrk (Debian: apt-get install wrk). Usage: bench/load.sh [duration_s] [connections] [threads]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNS=${2:-64}
THREADS=${3:-2}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }

cargo build --release -q -p openscouter-server
BIN=target/release/openscouter
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

# Limits high enough that the limiter runs on every request but never rejects.
DATABASE_URL="sqlite://$WORK/db.sqlite" OPENSCOUTER_DATA_DIR="$WORK" RUST_LOG=warn \
OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED=100000000 OPENSCOUTER_RATE_LIMIT_FREE=100000000 \
  "$BIN" serve --listen 127.0.0.1:0 > "$WORK/out" 2> "$WORK/err" &
PID=$!
for _ in $(seq 50); do grep -q listening "$WORK/out" 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*' "$WORK/out")

TOKEN=$(curl -sf -X POST "$URL/api/auth/signup" -H 'content-type: application/json' \
  -d '{"email":"load@example.com","password":"load-test-password","fullName":"Load","role":"business","organizationName":"Load Inc"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["accessToken"])')

run() { # name, wrk args...
  local name=$1; shift
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$@" > "$WORK/$name.txt"
  local rps p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/$name.txt")
  p99=$(awk '$1=="99%" {print $2}' "$WORK/$name.txt")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$WORK/$name.txt"); non2xx=${non2xx:-0}
  printf '%-10s %12s req/s   p99 %8s   non-2xx %s\n' "$name" "$rps" "$p99" "$non2xx"
  echo "$rps" > "$WORK/$name.rps"
}

echo "wrk -t$THREADS -c$CONNS -d${DURATION}s, release build, SQLite, $(nproc) cores"
run healthz "$URL/healthz"
run me -H "Authorization: Bearer $TOKEN" "$URL/api/me"
python3 - "$WORK/healthz.rps" "$WORK/me.rps" <<'PY'
import sys
h = float(open(sys.argv[1]).read()); m = float(open(sys.argv[2]).read())
print(f"ratio /api/me : /healthz = {m / h:.2f}  (target >= 0.67)")
PY
echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$PID/status)"
