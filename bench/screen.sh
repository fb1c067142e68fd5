#!/usr/bin/env bash
# Screen-recording ingestion (api.md §5.1): a long synthetic rrweb recording (page visits built
# from the committed real rrweb fixture: Meta, a full snapshot padded with 200 KB of inlined
# CSS, its typing and clicks, plus mouse-move and mutation traffic) posted gzip-compressed in
# chunks to a release build on SQLite. Prints MB/s of rrweb JSON through POST /api/data/screen
# (masking, derivation, storage) and the server's peak RSS; then, in the same run and on the
# same chunk files, the plain cost (parse + serialize + gzip) and the server's processing
# without HTTP or the store (examples/recording_ceiling.rs), each with its peak RSS.
#
# Needs python3. Usage:
#   bench/screen.sh [MB=60] [chunk_MB=5]        # bench/smoke.sh runs: bench/screen.sh 1 0.25
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-60}
CHUNK_MB=${2:-5}

. bench/common.sh
CEILING=$(dirname "$BIN")/examples/recording_ceiling
if [ "$BIN" = target/release/openscouter ]; then
  cargo build --release -q -p openscouter-server --example recording_ceiling
fi
start_server

python3 - "$URL" "$WORK" "$MB" "$CHUNK_MB" "$PID" <<'PY'
import copy, gzip, json, sys, time, urllib.request
sys.path.insert(0, "bench")
from benchlib import Api, eligible_tester
url, work, mb, chunk_mb, pid = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
api = Api(url)
biz = api.call("POST", "/api/auth/signup", {"email": "b@x.io", "password": "bench-password", "fullName": "B", "role": "business"})
auth = "Bearer " + biz["accessToken"]
job = api.call("POST", "/api/jobs", {
    "title": "Screen bench", "description": "d", "prototypeUrl": "https://x.io", "prototypeType": "url",
    "tasks": [{"title": "t", "description": "d", "successCriteria": "s", "order": 1}],
    "targeting": {"countries": ["GB"], "testerCount": 10}, "ndCategories": ["adhd"],
    "compensation": {"currency": "GBP", "amount": 10, "type": "flat"},
    "settings": {"recordScreen": True}}, auth)["jobId"]
api.call("POST", f"/api/jobs/{job}/launch", {}, auth)
tauth, uid = eligible_tester(api, 1)
api.call("POST", f"/api/jobs/{job}/accept", {}, tauth)
s = api.call("POST", "/api/sessions", {"jobId": job, "testerId": uid}, tauth)
sid, tt = s["sessionId"], "Token " + s["testToken"]
api.call("POST", f"/api/sessions/{sid}/consent",
         {"version": "v1", "streams": {"events": True, "screenshots": True}}, tt)

fixture = json.load(open("crates/server/tests/browser/fixtures/rrweb/dead-submit.rrweb.json"))
base = fixture[0]["timestamp"]
css = "".join(f".c{i} {{ margin: {i % 7}px; color: #{i % 4096:03x}; }}\n" for i in range(6000))[:200_000]
t0 = int(time.time() * 1000) - 23 * 3_600_000  # within the 24 h before the session start
limit, chunk_limit = int(mb * 1e6), int(chunk_mb * 1e6)
events, size, chunks, clock, visit, total = [], 0, [], t0, 0, 0

def flush():
    global events, size
    if events:
        name = f"{work}/chunk{len(chunks):04d}.json"
        with open(name, "w") as f:
            json.dump({"sessionId": sid, "chunkId": f"c{len(chunks)}", "events": events}, f, separators=(",", ":"))
        chunks.append(name)
    events, size = [], 0

def add(e):
    global size, total
    n = len(json.dumps(e, separators=(",", ":")))
    events.append(e); size += n; total += n
    if size >= chunk_limit:
        flush()

while total < limit:
    visit += 1
    for e in fixture:
        e = copy.deepcopy(e)
        e["timestamp"] = clock + (e["timestamp"] - base)
        if e["type"] == 2:
            body = e["data"]["node"]["childNodes"][-1]["childNodes"][0]
            body["childNodes"].insert(0, {"type": 2, "tagName": "style", "attributes": {}, "id": 9000,
                                          "childNodes": [{"type": 3, "id": 9001, "textContent": css, "isStyle": True}]})
        add(e)
        if e["type"] == 3:
            for k in range(3):  # mouse moves between the recorded interactions
                add({"type": 3, "timestamp": e["timestamp"] + 10 * k, "data": {"source": 1, "positions": [
                    {"x": 100 + k, "y": 200 + k, "id": 44, "timeOffset": -j * 10} for j in range(10)]}})
            add({"type": 3, "timestamp": e["timestamp"] + 40, "data": {"source": 0, "texts": [], "attributes": [
                {"id": 44, "attributes": {"class": f"btn btn-pay v{visit}"}}], "removes": [],
                "adds": [{"parentId": 3, "nextId": None, "node": {"type": 3, "id": 100000 + total % 100000, "textContent": "Still loading…"}}]}})
    clock += fixture[-1]["timestamp"] - base + 1000
flush()

sent = 0
start = time.time()
for name in chunks:
    raw = open(name, "rb").read()
    sent += len(raw)
    req = urllib.request.Request(f"{url}/api/data/screen", method="POST", data=gzip.compress(raw, 6))
    req.add_header("content-type", "application/json"); req.add_header("content-encoding", "gzip")
    req.add_header("authorization", tt)
    out = json.load(urllib.request.urlopen(req))["data"]
    assert out["accepted"] > 0, out
secs = time.time() - start
rss = int([l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM")][0])
rec = api.call("GET", f"/api/sessions/{sid}", auth=auth)["recording"]
evs = json.load(urllib.request.urlopen(urllib.request.Request(f"{url}/api/sessions/{sid}/events?limit=1", headers={"authorization": auth})))
print(f"POST /api/data/screen: {sent / 1e6:.1f} MB of rrweb JSON in {len(chunks)} gzip chunks, {secs:.2f} s = {sent / 1e6 / secs:.1f} MB/s;"
      f" {rec['events']} events, {rec['storedBytes'] / 1e6:.1f} MB stored, {evs['metadata']['total']} events derived,"
      f" replayable {rec['replayable']}; server peak RSS {rss // 1024} MiB")
PY
"$CEILING" "$WORK"/chunk*.json
