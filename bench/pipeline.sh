#!/usr/bin/env bash
# Agent 2 through the real server (release build, SQLite, one worker):
#  1. latency from POST /api/sessions/:id/analyze to status `analyzed` for sessions of
#     20,000 events + 900 facial + 100 voice items;
#  2. jobs/s one worker sustains on a queue of small sessions (200 events each).
# Needs python3. Usage: bench/pipeline.sh [big_sessions=3] [small_sessions=60]
set -euo pipefail
cd "$(dirname "$0")/.."
BIG=${1:-3}
SMALL=${2:-60}
. bench/common.sh
start_server OPENSCOUTER_WORKERS=1

python3 - "$URL" "$BIG" "$SMALL" <<'PY'
import sys, time, datetime, statistics
sys.path.insert(0, "bench")
from benchlib import Api, launched_study, tester_session
url, big, small = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
api = Api(url)
call = api.call
ba, job = launched_study(api, "Pipeline bench")
t0 = datetime.datetime.now(datetime.timezone.utc)
ts = lambda ms: (t0 + datetime.timedelta(milliseconds=ms)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
n = 0
def session(events, facial=0, voice=0):
    global n
    n += 1
    sid, token = tester_session(api, job, n, facial=True, voice=True)
    s = {"id": sid}
    tt = "Token " + token
    step = 50  # 20,000 events over ~17 minutes
    items = []
    kinds = ["click", "click", "scroll", "input", "focus", "blur", "navigation", "click"]
    for i in range(events):
        k = kinds[i % len(kinds)]
        it = {"eventType": k, "targetSelector": f"#el{i % 40}", "timestamp": ts(i * step), "url": f"https://x.io/p{(i // 500) % 7}"}
        if k == "scroll": it["scrollY"] = (i * 37) % 3000
        if k == "input": it["inputLength"] = (i * 7) % 20
        if k == "click" and i % 97 < 4: it["targetSelector"] = "#pay"
        items.append(it)
    for c in range(0, len(items), 1000):
        call("POST", "/api/data/events", {"sessionId": s["id"], "batch": items[c:c + 1000]}, tt)
    if facial:
        emo = ["neutral", "confused", "happy", "sad", "engaged"]
        call("POST", "/api/data/facial", {"sessionId": s["id"], "batch": [{"timestamp": ts(i * 1100), "emotion": emo[i % 5], "confidence": 0.7, "faceDetected": i % 11 != 0} for i in range(facial)]}, tt)
    if voice:
        call("POST", "/api/data/voice", {"sessionId": s["id"], "batch": [{"timestamp": ts(i * 9000), "durationMs": 3000, "transcript": "where is the pay button, this is confusing" if i % 3 == 0 else "ok next step", "confidence": 0.9} for i in range(voice)]}, tt)
    call("POST", f"/api/sessions/{s['id']}/complete", {}, tt)
    return s["id"]
def wait_analyzed(ids):
    pending = set(ids)
    while pending:
        for sid in list(pending):
            if call("GET", f"/api/sessions/{sid}", auth=ba)["status"] == "analyzed":
                pending.discard(sid)
        time.sleep(0.002)
latencies = []
for _ in range(big):
    sid = session(20000, 900, 100)
    start = time.perf_counter()
    call("POST", f"/api/sessions/{sid}/analyze", {}, ba)
    wait_analyzed([sid])
    latencies.append((time.perf_counter() - start) * 1000)
print(f"20,000-event sessions: POST analyze -> analyzed in {statistics.median(latencies):.0f} ms median "
      f"(runs: {', '.join(f'{l:.0f}' for l in latencies)} ms)")
ids = [session(200) for _ in range(small)]
start = time.perf_counter()
for sid in ids:
    call("POST", f"/api/sessions/{sid}/analyze", {}, ba)
wait_analyzed(ids)
secs = time.perf_counter() - start
print(f"one worker: {small} analyses of 200-event sessions in {secs:.2f} s = {small / secs:.1f} jobs/s")
PY
