#!/usr/bin/env bash
# Load test of the HTTP edge: /healthz (no auth, no limiter, no store) against an
# authenticated, rate-limited GET /api/me (JWT verify + session lookup + user read), in one
# run on one server, so the ratio is meaningful on a noisy machine.
#
# Needs wrk (Debian: apt-get install wrk). Usage: bench/load.sh [duration_s] [connections] [threads]
# PERF=/tmp/load records a perf profile of the server during each route's run (/tmp/load.me, …).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNS=${2:-64}
THREADS=${3:-2}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }

. bench/common.sh
start_server

TOKEN=$(curl -sf -X POST "$URL/api/auth/signup" -H 'content-type: application/json' \
  -d '{"email":"load@example.com","password":"load-test-password","fullName":"Load","role":"business","organizationName":"Load Inc"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["accessToken"])')

run() { # name, wrk args...
  local name=$1; shift
  # PERF=/path/prefix records a profile of the server during each run (<prefix>.<name>).
  [ -n "${PERF:-}" ] && (perf record -F 499 --call-graph dwarf,16384 -p "$PID" -o "$PERF.$name" -- sleep $((DURATION - 1)) >/dev/null 2>&1 &)
  # Server CPU (user + system ticks) over the run: per request, a figure that other load on
  # the machine disturbs far less than throughput does.
  local t0 t1
  t0=$(awk '{print $14 + $15}' /proc/$PID/stat)
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$@" > "$WORK/$name.txt"
  t1=$(awk '{print $14 + $15}' /proc/$PID/stat)
  local rps p99 non2xx reqs cpu_us
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/$name.txt")
  p99=$(awk '$1=="99%" {print $2}' "$WORK/$name.txt")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$WORK/$name.txt"); non2xx=${non2xx:-0}
  reqs=$(awk '/requests in/ {print $1}' "$WORK/$name.txt")
  cpu_us=$(python3 -c "import os; print(f'{($t1 - $t0) * 1e6 / os.sysconf(\"SC_CLK_TCK\") / $reqs:.1f}')")
  printf '%-10s %12s req/s   p99 %8s   non-2xx %s   server CPU %s µs/request\n' "$name" "$rps" "$p99" "$non2xx" "$cpu_us"
  echo "$rps" > "$WORK/$name.rps"
}

echo "wrk -t$THREADS -c$CONNS -d${DURATION}s, release build, SQLite, $(nproc) cores"
run healthz "$URL/healthz"
run me -H "Authorization: Bearer $TOKEN" "$URL/api/me"
python3 - "$WORK/healthz.rps" "$WORK/me.rps" <<'PY'
import sys
h = float(open(sys.argv[1]).read()); m = float(open(sys.argv[2]).read())
print(f"ratio /api/me : /healthz = {m / h:.2f}  (issue #29 goal >= 0.85)")
PY
echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$PID/status)"
