#!/usr/bin/env bash
# Ingestion benchmark: N concurrent clients (one session each) posting event batches to a
# release build on SQLite; durable events/s (counted in the database afterwards), p50/p99,
# and the server's peak RSS. In the same run, the ceiling: the same rows inserted straight
# through the store (same schema, indexes, pragmas; one transaction per batch; no HTTP).
#
# Needs wrk (apt-get install wrk) and python3. Usage:
#   bench/ingest.sh [batch=1000] [clients=4] [duration_s=10]
set -euo pipefail
cd "$(dirname "$0")/.."
BATCH=${1:-1000}
CLIENTS=${2:-4}
DURATION=${3:-10}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }

. bench/common.sh
# The ceiling example lives next to the server binary (target/{release,debug}/examples).
CEILING=$(dirname "$BIN")/examples/ingest_ceiling
[ "$BIN" = target/release/openscouter ] && cargo build --release -q -p openscouter-server --example ingest_ceiling
start_server

# One business, one launched study, CLIENTS testers each with a consenting session; each
# client's session id and test token go to a file the Lua script reads.
python3 - "$URL" "$WORK" "$CLIENTS" "$BATCH" <<'PY'
import sys, datetime
sys.path.insert(0, "bench")
from benchlib import Api, launched_study, tester_session
url, work, clients, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
api = Api(url)
ba, job = launched_study(api, "Bench study")
now = datetime.datetime.now(datetime.timezone.utc)
sessions = []
for c in range(clients):
    sid, token = tester_session(api, job, c)
    open(f"{work}/session{c + 1}", "w").write(sid)
    open(f"{work}/token{c + 1}", "w").write(token)
    sessions.append(sid)
open(f"{work}/sessions", "w").write("\n".join(sessions))
# Item timestamps start an hour before now (allowed: up to 24 h before the session start)
# and advance 1 ms per item across requests, as a real session's stream does.
open(f"{work}/t0", "w").write(str(int(now.timestamp() * 1000) - 3_600_000))
open(f"{work}/biz", "w").write(ba)
PY

cat > "$WORK/post.lua" <<LUA
-- Each request carries a fresh batch whose timestamps continue where the last one ended.
local counter = 1
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
local n = $BATCH
local item = '{"eventType":"click","targetSelector":"#checkout > button.pay-%d","timestamp":%d,"x":412.5,"y":318.0,'
  .. '"viewport":{"width":1280,"height":800},"url":"https://shop.example.com/checkout","targetText":"Pay now","hoverMs":120}'
local sid, headers, next_ts
function init(args)
  local f = io.open("$WORK/session" .. id); sid = f:read("*l"); f:close()
  local t = io.open("$WORK/token" .. id); local token = t:read("*l"); t:close()
  local z = io.open("$WORK/t0"); next_ts = tonumber(z:read("*l")); z:close()
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Token " .. token}
end
function request()
  local parts = {}
  for i = 1, n do
    parts[i] = string.format(item, i % 17, next_ts + i)
  end
  next_ts = next_ts + n
  local body = '{"sessionId":"' .. sid .. '","batch":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format("POST", "/api/data/events", headers, body)
end
LUA

[ -n "${PERF:-}" ] && (perf record -F 1000 -g -p $PID -o "$PERF" -- sleep $((DURATION - 2)) >/dev/null 2>&1 &)
# CPU seconds (user + system) of the server and of the load generator, which share the cores.
cpu_of() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }
# Per thread: time on a core and time waiting for one (/proc/<tid>/schedstat, nanoseconds).
threads_of() { for t in /proc/"$1"/task/*; do echo "${t##*/} $(cat "$t/comm") $(cut -d' ' -f1,2 "$t/schedstat")"; done 2>/dev/null; }
CPU0=$(cpu_of "$PID")
threads_of "$PID" > "$WORK/threads0"
START=$(date +%s.%N)
TIMER=(); [ -x /usr/bin/time ] && TIMER=(/usr/bin/time -f '%U %S' -o "$WORK/wrk.cpu") || echo "? ?" > "$WORK/wrk.cpu"
"${TIMER[@]}" wrk -t"$CLIENTS" -c"$CLIENTS" -d"${DURATION}s" --latency -s "$WORK/post.lua" "$URL/api/data/events" > "$WORK/wrk.txt"
END=$(date +%s.%N)
CPU1=$(cpu_of "$PID")
threads_of "$PID" > "$WORK/threads1"
awk -v s0="$CPU0" -v s1="$CPU1" -v a="$START" -v b="$END" -v n="$(nproc)" \
  '{w = ($1 == "?") ? "?" : sprintf("%.1f s", $1 + $2); printf "CPU: server %.1f s, load generator (wrk) %s, over %.1f s on %d cores\n", s1 - s0, w, b - a, n}' "$WORK/wrk.cpu"
# The threads busy over 5 % of the run: the SQLite writer (the busiest sqlx thread) waiting
# neither for a core nor for work would be saturated (decision 234).
awk -v d="$(awk -v a="$START" -v b="$END" 'BEGIN {print (b - a) * 1e9}')" '
  NR == FNR {run[$1] = $3; wait[$1] = $4; next}
  ($1 in run) && ($3 - run[$1]) / d > 0.05 {
    printf "thread %s %s: on a core %.0f %%, waiting for one %.0f %%\n", $1, $2, 100 * ($3 - run[$1]) / d, 100 * ($4 - wait[$1]) / d
  }' "$WORK/threads0" "$WORK/threads1"
RSS=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)

python3 - "$URL" "$WORK" "$START" "$END" "$BATCH" "$CLIENTS" "$RSS" <<'PY'
import json, sys, urllib.request, re
url, work, start, end, batch, clients, rss = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
ba = open(f"{work}/biz").read().strip()
total = 0
for s in open(f"{work}/sessions").read().split():
    req = urllib.request.Request(f"{url}/api/sessions/{s}/events?limit=1", headers={"authorization": ba})
    total += json.load(urllib.request.urlopen(req))["metadata"]["total"]
w = open(f"{work}/wrk.txt").read()
lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", w, re.M))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", w)
secs = end - start
print(f"batch {batch}, {clients} clients, {secs:.1f} s: {total} events durable = {total / secs:,.0f} events/s;"
      f" p50 {lat.get('50')} p99 {lat.get('99')}; non-2xx {non2xx.group(1) if non2xx else 0}; server peak RSS {rss / 1024:.0f} MiB")
open(f"{work}/http.rate", "w").write(str(total / secs))
open(f"{work}/http.rows", "w").write(str(total))
PY
# Two ceilings, same rows through the store without HTTP (advancing timestamps, like the
# clients): 200,000 rows into a fresh database, and as many rows as the HTTP run stored
# (both then fill the database alike).
ROWS=$(cat "$WORK/http.rows")
# (Not `tee /dev/stderr`: that reopens the caller's log file and truncates it.)
ceiling() { local out; out=$("$CEILING" "$1" "$BATCH" "$2"); echo "$out" >&2; sed -E 's/.*= ([0-9.]+) rows\/s.*/\1/' <<< "$out"; }
FRESH=$(ceiling "$WORK/ceiling1.sqlite" $(( ${CEILING_ROWS:-200000} / BATCH )))
SAME=$(ceiling "$WORK/ceiling2.sqlite" $(( (ROWS + BATCH - 1) / BATCH )))
python3 -c "h=float(open('$WORK/http.rate').read()); print(f'HTTP / ceiling: {h/$FRESH:.2f} vs the fresh-database ceiling, {h/$SAME:.2f} vs the same-rows ceiling (issue #29 goal: >= 0.70 and >= 150,000 events/s)')"
