"""Soak driver (bench/soak.sh runs it): mixed traffic against one server for a duration,
sampling the server every 10 s into a CSV.

Usage: python3 bench/soak.py URL SERVER_PID DURATION_S OUT_CSV
Traffic, per operation chosen at random by the client threads:
  55 % ingestion   (100 events to one of the active sessions, its test token)
  20 % API reads   (GET /api/me, /api/jobs/:id, /api/sessions/:id/events?limit=20)
  15 % dashboard   (GET /app/studies/:id, the business's cookie)
  10 % list reads  (GET /api/jobs/:id/sessions)
and a lifecycle thread that, every SOAK_CYCLE_S (3) s, completes the session with the most
events, asks for its analysis and opens a new one for a new tester, so analyses, their
webhooks (session.completed, session.analyzed to a local receiver) and sign-ups run
throughout. First the capacity of that mix is measured for SOAK_CAPACITY_S (10) s with the
threads flat out; the soak then runs at SOAK_LOAD (0.5) of it, paced.
"""
import http.client
import http.server
import json
import os
import random
import statistics
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Api, launched_study, tester_session  # noqa: E402

URL, PID, DURATION, OUT = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
THREADS = int(os.environ.get("SOAK_THREADS", "6"))
CAPACITY_S = float(os.environ.get("SOAK_CAPACITY_S", "10"))
LOAD = float(os.environ.get("SOAK_LOAD", "0.5"))
CYCLE_S = float(os.environ.get("SOAK_CYCLE_S", "3"))
SAMPLE_S = float(os.environ.get("SOAK_SAMPLE_S", "10"))
SESSIONS = int(os.environ.get("SOAK_SESSIONS", "12"))
U = urllib.parse.urlparse(URL)


class Receiver(http.server.BaseHTTPRequestHandler):
    """The webhook receiver: counts signed deliveries, answers 204."""
    count = 0
    lock = threading.Lock()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.headers.get("webhook-signature"):
            with Receiver.lock:
                Receiver.count += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.lat = []
        self.ok = self.err = 0
        self.errors = {}
        self.analyses = 0
        self.by_op = {}

    def record(self, seconds, good, what, op=None):
        with self.lock:
            self.lat.append(seconds)
            if op:
                self.by_op.setdefault(op, []).append(seconds)
            if good:
                self.ok += 1
            else:
                self.err += 1
                self.errors[what] = self.errors.get(what, 0) + 1

    def take(self):
        with self.lock:
            lat, ok, err, by_op = self.lat, self.ok, self.err, self.by_op
            self.lat, self.ok, self.err, self.by_op = [], 0, 0, {}
            return lat, ok, err, by_op


STATS = Stats()


def p99_of(xs):
    """The 99th percentile of seconds `xs`, in ms."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * 0.99))] * 1000 if xs else 0.0
TOTAL_ERRORS = {}


class Client:
    """One keep-alive connection."""

    def __init__(self):
        self.c = None

    def call(self, method, path, body=None, headers=None, label=None):
        h = {"content-type": "application/json"} if body is not None else {}
        h.update(headers or {})
        data = json.dumps(body) if body is not None else None
        start = time.perf_counter()
        for attempt in (0, 1):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection(U.hostname, U.port, timeout=30)
                self.c.request(method, path, body=data, headers=h)
                r = self.c.getresponse()
                raw = r.read()
                if r.getheader("connection", "").lower() == "close":
                    self.c.close()
                    self.c = None
                good = 200 <= r.status < 300
                STATS.record(time.perf_counter() - start, good, f"{label or path} {r.status}", label)
                return r.status, raw
            except (OSError, http.client.HTTPException) as e:
                if self.c:
                    self.c.close()
                self.c = None
                if attempt == 1:  # a kept-alive connection the server closed is retried once
                    STATS.record(time.perf_counter() - start, False, f"{label or path} {type(e).__name__}")
                    return 0, b""


class World:
    """What the traffic needs: the business, the study, the active sessions."""

    def __init__(self, receiver_port):
        self.api = Api(URL)
        self.biz, self.job = launched_study(self.api, "Soak study", tester_count=100, email="soak@x.io")
        self.on_job = 0  # testers who joined `self.job` (a study takes at most 100)
        self.api.call("POST", "/api/webhook-endpoints",
                      {"url": f"http://127.0.0.1:{receiver_port}/hook",
                       "events": ["session.completed", "session.analyzed"]}, self.biz)
        self.cookie = "os_session=" + self.biz.split(" ", 1)[1]
        self.lock = threading.Lock()
        self.sessions = []  # [sid, token, next_ts, events]
        self.n = 0
        for _ in range(SESSIONS):
            self.add_session()

    def add_session(self):
        with self.lock:
            self.n += 1
            n = self.n
            self.on_job += 1
            if self.on_job > 95:
                self.job = new_study(self.api, self.biz, f"Soak study {n}")
                self.on_job = 1
            job = self.job
        sid, token = tester_session(self.api, job, n)
        # [id, auth, next timestamp, events sent, lock (one request at a time, as an extension
        # sends), closed (completed: no more ingestion)]
        s = [sid, "Token " + token, int(time.time() * 1000) - 3_600_000, 0, threading.Lock(), False]
        with self.lock:
            self.sessions.append(s)

    def pick(self):
        with self.lock:
            return random.choice(self.sessions)

    def retire(self):
        """The session with the most events leaves the pool (to be completed)."""
        with self.lock:
            if len(self.sessions) <= 1:
                return None
            s = max(self.sessions, key=lambda x: x[3])
            self.sessions.remove(s)
            return s


def new_study(api, biz, title):
    """Another launched study of the same business (a study seats at most 100 testers)."""
    job = api.call("POST", "/api/jobs", {
        "title": title, "description": "d", "prototypeUrl": "https://x.io", "prototypeType": "url",
        "tasks": [{"title": "t", "description": "d", "successCriteria": "s", "order": 1}],
        "targeting": {"countries": ["GB"], "testerCount": 100}, "ndCategories": ["adhd"],
        "compensation": {"currency": "GBP", "amount": 10, "type": "flat"}}, biz)["jobId"]
    api.call("POST", f"/api/jobs/{job}/launch", {}, biz)
    return job


def one_op(world, client):
    r = random.random()
    if r < 0.55:
        s = world.pick()
        with s[4]:
            if s[5]:
                return
            items = [{"eventType": ("click", "scroll", "input", "focus")[i % 4], "targetSelector": f"#el{i % 23}",
                      "timestamp": s[2] + i * 40, "url": "https://shop.example.com/p"} for i in range(100)]
            s[2] += 100 * 40
            s[3] += 100
            client.call("POST", "/api/data/events", {"sessionId": s[0], "batch": items}, {"authorization": s[1]},
                        label="ingest")
    elif r < 0.75:
        which = random.random()
        if which < 0.34:
            client.call("GET", "/api/me", headers={"authorization": world.biz}, label="me")
        elif which < 0.67:
            client.call("GET", f"/api/jobs/{world.job}", headers={"authorization": world.biz}, label="job")
        else:
            sid = world.pick()[0]
            client.call("GET", f"/api/sessions/{sid}/events?limit=20", headers={"authorization": world.biz},
                        label="events")
    elif r < 0.90:
        client.call("GET", f"/app/studies/{world.job}", headers={"cookie": world.cookie}, label="dashboard")
    else:
        client.call("GET", f"/api/jobs/{world.job}/sessions?limit=20", headers={"authorization": world.biz},
                    label="sessions")


def worker(world, stop, rate):
    """`rate`: operations/s for this thread (None: flat out)."""
    client = Client()
    next_at = time.perf_counter()
    while not stop.is_set():
        one_op(world, client)
        if rate:
            next_at += 1.0 / rate
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1:
                next_at = time.perf_counter()  # fell behind: do not burst to catch up


def lifecycle(world, stop):
    client = Client()
    while not stop.wait(CYCLE_S):
        s = world.retire()
        if s is None:
            continue
        with s[4]:
            s[5] = True
            st, _ = client.call("POST", f"/api/sessions/{s[0]}/complete", {}, {"authorization": s[1]},
                                label="complete")
        if st == 200:
            st, _ = client.call("POST", f"/api/sessions/{s[0]}/analyze", {}, {"authorization": world.biz},
                                label="analyze")
            if st in (200, 202):
                with STATS.lock:
                    STATS.analyses += 1
        try:
            world.add_session()
        except Exception as e:  # noqa: BLE001 (counted as an error of the run)
            STATS.record(0, False, f"new session {e}")


def proc_sample():
    rss = 0
    for line in open(f"/proc/{PID}/status"):
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    fds = len(os.listdir(f"/proc/{PID}/fd"))
    return rss, fds


def run_phase(world, seconds, rate_per_thread, sampler=None):
    stop = threading.Event()
    threads = [threading.Thread(target=worker, args=(world, stop, rate_per_thread), daemon=True)
               for _ in range(THREADS)]
    threads.append(threading.Thread(target=lifecycle, args=(world, stop), daemon=True))
    for t in threads:
        t.start()
    if sampler:
        sampler(seconds)
    else:
        time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(60)


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    world = World(srv.server_address[1])

    STATS.take()
    run_phase(world, CAPACITY_S, None)
    lat, ok, err, _ = STATS.take()
    capacity = (ok + err) / CAPACITY_S
    for k, v in STATS.errors.items():
        TOTAL_ERRORS[k] = TOTAL_ERRORS.get(k, 0) + v
    STATS.errors = {}
    target = capacity * LOAD
    print(f"capacity of the mix ({THREADS} client threads flat out, {CAPACITY_S:.0f} s): {capacity:.0f} req/s "
          f"(p99 {sorted(lat)[int(len(lat) * 0.99) - 1] * 1000 if lat else 0:.1f} ms, {err} errors); "
          f"soak at {LOAD:.0%}: {target:.0f} req/s for {DURATION:.0f} s", flush=True)

    rows = []
    op_p99 = []  # per sample: {operation: p99 ms}, to tell which operation moved
    out = open(OUT, "w")
    out.write("t_s,rss_mib,fds,requests_per_s,p50_ms,p99_ms,errors,analyses,webhooks\n")

    def sampler(seconds):
        start = time.time()
        t = 0.0
        while t < seconds - 1e-6:
            step = min(SAMPLE_S, seconds - t)
            time.sleep(max(0.0, start + t + step - time.time()))
            t += step
            lat, ok, err, by_op = STATS.take()
            op_p99.append({op: p99_of(xs) for op, xs in by_op.items()})
            rss, fds = proc_sample()
            lat.sort()
            p = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))] * 1000 if lat else 0.0
            row = (round(t), rss, fds, (ok + err) / step, p(0.5), p(0.99), err, STATS.analyses, Receiver.count)
            rows.append(row)
            out.write("%d,%.1f,%d,%.1f,%.2f,%.2f,%d,%d,%d\n" % row)
            out.flush()
            print("t=%4ds rss %6.1f MiB fds %4d %7.1f req/s p50 %6.2f ms p99 %7.2f ms errors %d analyses %d webhooks %d"
                  % row, flush=True)

    run_phase(world, DURATION, target / THREADS, sampler)
    out.close()
    for k, v in STATS.errors.items():
        TOTAL_ERRORS[k] = TOTAL_ERRORS.get(k, 0) + v
    time.sleep(2)
    # Verdicts: the second minute against the last (for short runs: the second window
    # against the last).
    per_min = max(1, int(round(60 / SAMPLE_S)))
    if len(rows) >= 3 * per_min:
        second, last = rows[per_min:2 * per_min], rows[-per_min:]
    else:
        second, last = rows[1:2] or rows[:1], rows[-1:]
    mean = lambda xs: statistics.mean(xs) if xs else 0.0
    rss2, rssl = mean([r[1] for r in second]), mean([r[1] for r in last])
    p992, p99l = mean([r[5] for r in second]), mean([r[5] for r in last])
    fd_first, fd_last = rows[0][2], rows[-1][2]
    errors = sum(r[6] for r in rows)
    print(f"errors: {errors} during the soak ({dict(STATS.errors) or 'none'}), "
          f"{sum(TOTAL_ERRORS.values()) - errors} in the capacity phase")
    print(f"RSS: second minute {rss2:.1f} MiB, last {rssl:.1f} MiB ({(rssl / rss2 - 1) * 100 if rss2 else 0:+.1f} %)")
    print(f"p99: second minute {p992:.2f} ms, last {p99l:.2f} ms ({(p99l / p992 - 1) * 100 if p992 else 0:+.1f} %)")
    ops = sorted({op for window in op_p99 for op in window})
    n2, nl = (per_min, len(rows) - per_min) if len(rows) >= 3 * per_min else (1, len(rows) - 1)
    by_op = []
    for op in ops:
        a = mean([w[op] for w in op_p99[n2:n2 + per_min] if op in w])
        b = mean([w[op] for w in op_p99[nl:] if op in w])
        by_op.append(f"{op} {a:.1f} → {b:.1f}")
    print("p99 by operation, second minute → last (ms): " + ", ".join(by_op))
    print(f"open fds: first sample {fd_first}, last {fd_last}, max {max(r[2] for r in rows)}")
    print(f"analyses requested {STATS.analyses}, webhook deliveries received {Receiver.count}")
    goals = [errors == 0, rss2 == 0 or abs(rssl / rss2 - 1) <= 0.10,
             p992 == 0 or p99l / p992 <= 1.10, fd_last <= fd_first + 4]
    print("goals (0 errors; RSS and p99 within 10 %; no fd growth): "
          + ("met" if all(goals) else "NOT met " + str(goals)))


main()
