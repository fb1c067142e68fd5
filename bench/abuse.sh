#!/usr/bin/env bash
# Unauthenticated ways to hurt the server (issue #10), against a release build on loopback:
# an idle-connection flood, slow-loris, 128 parallel failed sign-ins and a random-method
# flood. During each it probes /healthz on fresh connections and samples the server's RSS;
# it prints the peak RSS, the /healthz p50/p99 and failures per attack, and the /metrics
# size before and after. Bounded: fixed counts, about two minutes, killed at five.
#
#   bench/abuse.sh [idle_connections=4000] [slowloris_connections=1000]
#   ABUSE_BIN=/path/to/openscouter bench/abuse.sh    # another build (e.g. before a change)
#   ABUSE_SECONDS=2 ABUSE_REQUESTS=200 bench/abuse.sh 50 20   # smoke: every attack for 2 s
#
# Targets: RSS < 200 MiB throughout, /healthz answering in every attack, /metrics not growing.
set -euo pipefail
cd "$(dirname "$0")/.."

IDLE=${1:-4000}
LORIS=${2:-1000}
BIN="${ABUSE_BIN:-${CARGO_TARGET_DIR:-target}/release/openscouter}"

# The client holds thousands of sockets.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

[ -n "${ABUSE_BIN:-}" ] || cargo build --release -q -p openscouter-server --bin openscouter
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
# Rate limits out of the way: the point is what the server does when they are not enough.
env DATABASE_URL="sqlite://$WORK/db.sqlite" OPENSCOUTER_DATA_DIR="$WORK" RUST_LOG=warn \
  OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED=100000000 OPENSCOUTER_RATE_LIMIT_FREE=100000000 \
  "$BIN" serve --listen 127.0.0.1:0 > "$WORK/out" 2> "$WORK/err" &
PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/out" 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*' "$WORK/out")
[ -n "$URL" ] || { echo "server did not start:" >&2; cat "$WORK/err" >&2; exit 1; }
case "$URL" in http://127.0.0.1:*) ;; *) echo "not loopback: $URL" >&2; exit 1 ;; esac
echo "server pid $PID at $URL; $(nproc) CPUs; $IDLE idle / $LORIS slow-loris connections"

timeout 300 python3 - "$URL" "$PID" "$IDLE" "$LORIS" "$WORK/err" <<'EOF'
import asyncio, json, random, string, sys, threading, time

URL, PID, IDLE, LORIS, ERR = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
# Smoke mode (bench/smoke.sh): every timed attack lasts ABUSE_SECONDS, the method flood sends
# ABUSE_REQUESTS requests.
import os
SECS = float(os.environ.get("ABUSE_SECONDS") or 0)
REQUESTS = int(os.environ.get("ABUSE_REQUESTS") or 5000)
HOST, PORT = URL[len("http://"):].rsplit(":", 1)
PORT = int(PORT)


def status_kib(field):
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Rss(threading.Thread):
    """Samples the server's RSS every 50 ms; `peak` since the last `reset`."""
    def __init__(self):
        super().__init__(daemon=True)
        self.peak = 0
        self.stopped = False

    def reset(self):
        self.peak = status_kib("VmRSS")

    def run(self):
        while not self.stopped:
            try:
                self.peak = max(self.peak, status_kib("VmRSS"))
            except OSError:
                return
            time.sleep(0.05)


async def exchange(raw, timeout=10.0):
    """One request on a fresh connection (`Connection: close`): (status, body bytes)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, PORT), timeout)
    try:
        writer.write(raw)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(-1), timeout)
    finally:
        writer.close()
    status = int(data[9:12]) if data[:5] == b"HTTP/" else 0
    return status, data.split(b"\r\n\r\n", 1)[-1]


def request(method, path, body=None):
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    if body is None:
        return (head + "\r\n").encode()
    data = json.dumps(body).encode()
    return (head + f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data


def probe(stop, out):
    """/healthz every 100 ms on a fresh connection, from its own thread with blocking sockets
    (so the attack's event loop does not delay it); latencies in ms, failures counted."""
    import socket
    while not stop.is_set():
        t = time.perf_counter()
        try:
            with socket.create_connection((HOST, PORT), timeout=5) as s:
                s.sendall(request("GET", "/healthz"))
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
            if data[9:12] == b"200":
                out["ms"].append((time.perf_counter() - t) * 1000)
            else:
                out["failed"] += 1
        except OSError:
            out["failed"] += 1
        stop.wait(0.1)


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


async def metrics_size():
    """(bytes, series) of /metrics."""
    status, body = await exchange(request("GET", "/metrics"))
    assert status == 200, status
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    return len(body), series


RESULTS = []


async def attack(name, coro, rss):
    rss.reset()
    stop, seen = threading.Event(), {"ms": [], "failed": 0}
    prober = threading.Thread(target=probe, args=(stop, seen), daemon=True)
    prober.start()
    t = time.perf_counter()
    detail = await coro
    took = time.perf_counter() - t
    stop.set()
    prober.join()
    await asyncio.sleep(2)  # let the server settle, then read what stayed
    row = {"attack": name, "secs": round(took, 1), "peak_rss_mib": round(rss.peak / 1024, 1),
           "rss_after_mib": round(status_kib("VmRSS") / 1024, 1),
           "healthz_ok": len(seen["ms"]), "healthz_failed": seen["failed"],
           "healthz_p50_ms": round(pct(seen["ms"], 50), 1), "healthz_p99_ms": round(pct(seen["ms"], 99), 1),
           "detail": detail}
    RESULTS.append(row)
    print(json.dumps(row), flush=True)


async def idle_flood(n, hold=15.0):
    """`n` connections: a third send nothing, the rest half a request; held `hold` seconds."""
    closed, opened, failed = [0], [0], [0]

    async def one(i):
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, PORT), 5)
        except Exception:
            failed[0] += 1
            return
        opened[0] += 1
        if i % 3:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        try:
            await asyncio.wait_for(reader.read(-1), hold)
            closed[0] += 1
        except Exception:
            pass
        finally:
            writer.close()

    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(one(i)))
        if i % 200 == 199:
            await asyncio.sleep(0.05)
    await asyncio.gather(*tasks)
    return {"opened": opened[0], "connect_failed": failed[0], "closed_by_server": closed[0]}


async def slowloris(n, secs=20.0):
    """`n` connections sending one header line a second, never finishing the head."""
    answered, closed = {}, [0]

    async def one(i):
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, PORT), 5)
        except Exception:
            return
        deadline = time.monotonic() + secs
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            while time.monotonic() < deadline:
                try:
                    data = await asyncio.wait_for(reader.read(-1), 1.0)
                    status = data[9:12].decode() if data else "closed"
                    answered[status] = answered.get(status, 0) + 1
                    closed[0] += 1
                    return
                except asyncio.TimeoutError:
                    writer.write(f"X-{i}: {random.randint(0, 9)}\r\n".encode())
        except Exception:
            closed[0] += 1
        finally:
            writer.close()

    await asyncio.gather(*(one(i) for i in range(n)))
    return {"connections": n, "closed_by_server": closed[0], "answers": answered}


async def signins(parallel=128, secs=15.0):
    """`parallel` clients failing to sign in, back to back, for `secs`."""
    await exchange(request("POST", "/api/auth/signup", {"email": "victim@x.io", "password": "correct horse battery",
                                                        "fullName": "V", "role": "tester"}))
    counts = {}
    deadline = time.monotonic() + secs

    async def client(i):
        while time.monotonic() < deadline:
            email = "victim@x.io" if i % 2 else f"nobody{i}@x.io"
            try:
                status, _ = await exchange(request("POST", "/api/auth/signin", {"email": email, "password": f"guess {random.random()}"}), 30)
            except Exception:
                status = "error"
            counts[status] = counts.get(status, 0) + 1

    await asyncio.gather(*(client(i) for i in range(parallel)))
    return {"parallel": parallel, "statuses": {str(k): v for k, v in sorted(counts.items(), key=str)}}


async def methods(n=5000, parallel=32):
    """`n` requests with made-up method names on /healthz (after a few, so that the one
    `other` series exists before the first measure)."""
    for _ in range(5):
        await exchange(request("".join(random.choices(string.ascii_uppercase, k=12)), "/healthz"))
    before = await metrics_size()
    counts, left = {}, [n]

    async def client():
        while left[0] > 0:
            left[0] -= 1
            name = "".join(random.choices(string.ascii_uppercase, k=12))
            try:
                status, _ = await exchange(request(name, "/healthz"))
            except Exception:
                status = "error"
            counts[status] = counts.get(status, 0) + 1

    await asyncio.gather(*(client() for _ in range(parallel)))
    after = await metrics_size()
    return {"requests": n, "statuses": {str(k): v for k, v in counts.items()},
            "metrics_before": {"bytes": before[0], "series": before[1]},
            "metrics_after": {"bytes": after[0], "series": after[1]}}


async def main():
    rss = Rss()
    rss.reset()
    rss.start()
    start_rss = status_kib("VmRSS")
    for _ in range(20):  # warm every route the probes and attacks touch
        await exchange(request("GET", "/healthz"))
    metrics_start = await metrics_size()
    await attack("idle-connection flood", idle_flood(IDLE, hold=SECS or 15.0), rss)
    await attack("slow-loris", slowloris(LORIS, secs=SECS or 20.0), rss)
    await attack("128 parallel failed sign-ins", signins(secs=SECS or 15.0), rss)
    await attack("random-method flood", methods(n=REQUESTS), rss)
    metrics_end = await metrics_size()
    rss.stopped = True
    with open(ERR) as f:
        saturation_lines = sum("connection limit reached" in line for line in f)
    print()
    print(f"{'attack':<30} {'peak RSS':>9} {'RSS after':>9} {'/healthz p50':>12} {'p99':>8} {'ok/failed':>10}")
    for r in RESULTS:
        print(f"{r['attack']:<30} {r['peak_rss_mib']:>6} MiB {r['rss_after_mib']:>6} MiB "
              f"{r['healthz_p50_ms']:>9} ms {r['healthz_p99_ms']:>5} ms {r['healthz_ok']:>5}/{r['healthz_failed']}")
    print(f"RSS at start {start_rss / 1024:.1f} MiB; peak over the run (VmHWM) {status_kib('VmHWM') / 1024:.1f} MiB")
    flood = RESULTS[-1]["detail"]
    print(f"/metrics before the attacks {metrics_start[0]} bytes / {metrics_start[1]} series, after {metrics_end[0]} / {metrics_end[1]} "
          f"(new routes and statuses seen once); across the {flood['requests']} random-method requests "
          f"{flood['metrics_before']['bytes']} / {flood['metrics_before']['series']} -> {flood['metrics_after']['bytes']} / {flood['metrics_after']['series']}")
    print(f"'connection limit reached' log lines: {saturation_lines}")
    worst = max(r["peak_rss_mib"] for r in RESULTS)
    ok = (worst < 200 and all(r["healthz_ok"] > 0 for r in RESULTS)
          and flood["metrics_after"]["series"] == flood["metrics_before"]["series"])
    print("targets (RSS < 200 MiB, /healthz answering, /metrics series constant):", "met" if ok else "MISSED")


asyncio.run(main())
EOF
