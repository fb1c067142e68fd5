#!/usr/bin/env bash
# The study runs by itself (api.md §11): time from the last tester's confirmation to the study
# report (Agent 3 for that session, then Agent 4 over the study), on a 5-tester study whose
# sessions each hold 2,000 events, through one server with its in-process worker. Nobody calls
# an agent: testers ingest, complete and confirm; the script polls GET /api/reports/job/:id.
# Runs on SQLite, then on PostgreSQL when BENCH_POSTGRES_URL names a server it may create
# databases on (e.g. postgres://postgres@127.0.0.1:5432/postgres).
# Usage: bench/flow.sh [testers=5] [runs=3]    (BIN=target/debug/openscouter to skip the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
TESTERS=${1:-5}
RUNS=${2:-3}
# A study seats 3 to 100 testers (api.md, `targeting.testerCount`).
[ "$TESTERS" -ge 3 ] && [ "$TESTERS" -le 100 ] || { echo "testers must be 3-100" >&2; exit 2; }
BIN=${BIN:-target/release/openscouter}
[ "$BIN" = target/release/openscouter ] && cargo build --release -q -p openscouter-server --bin openscouter
WORK=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }; rm -rf "$WORK"; }
trap cleanup EXIT

serve() { # $1: DATABASE_URL
  : > "$WORK/out"
  env DATABASE_URL="$1" OPENSCOUTER_DATA_DIR="$WORK" RUST_LOG=warn \
    OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED=100000000 OPENSCOUTER_RATE_LIMIT_FREE=100000000 \
    OPENSCOUTER_RATE_LIMIT_INGEST=1000000000 \
    "$BIN" serve --listen 127.0.0.1:0 > "$WORK/out" 2> "$WORK/err" &
  PID=$!
  for _ in $(seq 200); do grep -q listening "$WORK/out" 2>/dev/null && break; sleep 0.1; done
  URL=$(grep -o 'http://[0-9.:]*' "$WORK/out")
  [ -n "$URL" ] || { echo "server did not start:" >&2; cat "$WORK/err" >&2; exit 1; }
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }

measure() { # $1: label
  python3 - "$URL" "$TESTERS" "$RUNS" "$1" <<'PY'
import sys, time, datetime, statistics
sys.path.insert(0, "bench")
from benchlib import Api, launched_study, tester_session
url, testers, runs, label = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
api = Api(url)
call = api.call
times = []
for run in range(runs):
    ba, job = launched_study(api, f"Flow bench {run}", tester_count=testers, email=f"b{run}@x.io")
    t0 = datetime.datetime.now(datetime.timezone.utc)
    ts = lambda ms: (t0 + datetime.timedelta(milliseconds=ms)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    sessions = []
    for n in range(testers):
        sid, token, auth = tester_session(api, job, run * 100 + n, with_auth=True)
        items = [{"eventType": "click", "targetSelector": "#pay" if i % 50 < 4 else f"#el{i % 40}",
                  "url": "https://x.io/checkout", "timestamp": ts(i * 150)} for i in range(2000)]
        for c in range(0, len(items), 1000):
            call("POST", "/api/data/events", {"sessionId": sid, "batch": items[c:c + 1000]}, "Token " + token)
        call("POST", f"/api/sessions/{sid}/complete", {}, "Token " + token)
        sessions.append((sid, auth))
    # Agent 2 runs by itself after each completion; wait until every tester may confirm.
    for sid, auth in sessions:
        while call("GET", f"/api/sessions/{sid}", auth=auth)["status"] != "analyzed":
            time.sleep(0.005)
    for i, (sid, auth) in enumerate(sessions):
        decisions = [{"findingId": f["findingId"], "decision": "confirm"}
                     for f in call("GET", f"/api/sessions/{sid}/findings", auth=auth)]
        if i == len(sessions) - 1:
            start = time.perf_counter()
        assert call("POST", f"/api/sessions/{sid}/confirm", {"decisions": decisions}, auth)["status"] == "confirmed"
    while True:
        try:
            call("GET", f"/api/reports/job/{job}", auth=ba)
            break
        except Exception:
            time.sleep(0.005)
    times.append((time.perf_counter() - start) * 1000)
print(f"{label}: last confirmation -> study report of a {testers}-tester study in "
      f"{statistics.median(times):.0f} ms median (runs: {', '.join(f'{t:.0f}' for t in times)} ms)")
PY
}

serve "sqlite://$WORK/db.sqlite"
measure SQLite
stop
if [ -n "${BENCH_POSTGRES_URL:-}" ]; then
  DB="flow_bench_$$"
  psql "$BENCH_POSTGRES_URL" -qc "CREATE DATABASE $DB" >/dev/null
  serve "${BENCH_POSTGRES_URL%/*}/$DB"
  measure PostgreSQL
  stop
  psql "$BENCH_POSTGRES_URL" -qc "DROP DATABASE $DB" >/dev/null
fi
