"""Fault runs against the real binary (driven by bench/faults.sh): a private PostgreSQL
restarted while testers stream, a private Redis stopped under two API nodes, and a SQLite
volume that fills up. Prints what clients saw and exits non-zero when a promise is broken.

Usage: python3 bench/faults.py BIN WORKDIR [pg|redis|full ...]
Environment: FAULT_PG_DOWN_S (default 12: longer than the pool's 10 s acquire timeout, so
both "request waited and went through" and "request timed out with a 503" happen),
FAULT_CLIENTS (6), FAULT_BATCH (50).
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Api, launched_study, tester_session  # noqa: E402

BIN, WORK = sys.argv[1], sys.argv[2]
WANTED = sys.argv[3:] or ["pg", "redis", "full"]
FAILURES = []
OUTCOMES = []


def check(ok, what):
    OUTCOMES.append(("PASS" if ok else "FAIL", what))
    print(("  PASS " if ok else "  FAIL ") + what, flush=True)
    if not ok:
        FAILURES.append(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def as_user(cmd, user):
    """Runs `cmd` as `user` when we are root (initdb and postgres refuse to run as root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", user, "--"] + cmd
    return cmd


class Server:
    """One `openscouter serve` process; its stdout/stderr go to files in `WORK`."""

    def __init__(self, name, env):
        self.name = name
        self.err_path = f"{WORK}/{name}.err"
        out_path = f"{WORK}/{name}.out"
        full_env = dict(os.environ)
        full_env.update({
            "RUST_LOG": "info,tower_http=warn,sqlx=warn",
            "OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED": "100000",
            "OPENSCOUTER_RATE_LIMIT_FREE": "100000",
            "OPENSCOUTER_RATE_LIMIT_INGEST": "100000000",
            "OPENSCOUTER_DATA_DIR": f"{WORK}/{name}-data",
        })
        full_env.update(env)
        self.proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0"], env=full_env,
                                     stdout=open(out_path, "w"), stderr=open(self.err_path, "w"))
        for _ in range(300):
            m = re.search(r"http://[0-9.:]+", open(out_path).read())
            if m:
                self.url = m.group(0)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise SystemExit(f"{name} did not start:\n" + open(self.err_path).read()[-3000:])

    def log(self):
        return open(self.err_path, errors="replace").read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def request(url, method, path, body=None, auth=None, timeout=40):
    """One request on a fresh connection: (status, headers dict, parsed JSON or None).
    A connection failure is status 0."""
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    headers = {"content-type": "application/json"}
    if auth:
        headers["authorization"] = auth
    try:
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = c.getresponse()
        raw = r.read()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    except (OSError, http.client.HTTPException) as e:
        return 0, {"error": repr(e)}, None
    finally:
        c.close()


class Streamer(threading.Thread):
    """One tester's extension: posts batches of events with `clientId`s, retrying a batch
    (same ids) until it is acknowledged, honouring `Retry-After`. Keeps the ids of every
    acknowledged item and what each answer was."""

    def __init__(self, url, sid, token, n, batch, t0_ms):
        super().__init__(daemon=True)
        self.url, self.sid, self.auth, self.n, self.batch = url, sid, "Token " + token, n, batch
        self.next_ts = t0_ms
        self.seq = 0
        self.acked = set()
        self.statuses = {}
        self.bad = []  # (status, headers, body) of answers that break the promise
        self.refusals = []  # the first 503 bodies
        self.last_ok = 0.0
        self.stop = False
        self.pause = 0.02

    def run(self):
        pending = None
        while not self.stop:
            if pending is None:
                items = []
                for _ in range(self.batch):
                    self.seq += 1
                    self.next_ts += 1
                    items.append({"eventType": "click", "targetSelector": f"#b{self.seq % 13}",
                                  "timestamp": self.next_ts, "x": 10, "y": 20,
                                  "url": "https://shop.example.com/checkout",
                                  "clientId": f"c{self.n}-{self.seq}"})
                pending = items
            status, headers, data = request(self.url, "POST", "/api/data/events",
                                            {"sessionId": self.sid, "batch": pending}, self.auth)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 200:
                d = data["data"]
                if d["rejected"]:
                    self.bad.append((status, headers, {"rejections": d["rejections"][:2]}))
                refused = {r["index"] for r in d["rejections"]}
                self.acked.update(i["clientId"] for k, i in enumerate(pending) if k not in refused)
                self.last_ok = time.time()
                pending = None
                time.sleep(self.pause)
            elif status == 503:
                ra = headers.get("retry-after")
                if len(self.refusals) < 5:
                    self.refusals.append((ra, data))
                if ra is None or not (data and data.get("success") is False and data.get("error")):
                    self.bad.append((status, headers, data))
                time.sleep(min(float(ra or 1), 1.0))
            elif status == 0:
                time.sleep(0.1)  # the server never went away; counted, then retried
            else:
                self.bad.append((status, headers, data))
                time.sleep(0.2)


def stored_total(url, biz, sid):
    status, _, data = request(url, "GET", f"/api/sessions/{sid}/events?limit=1", auth=biz)
    return data["metadata"]["total"] if status == 200 else None


def summarise(streamers):
    statuses = {}
    for s in streamers:
        for k, v in s.statuses.items():
            statuses[k] = statuses.get(k, 0) + v
    return ", ".join(f"{k or 'connection error'}: {v}" for k, v in sorted(statuses.items()))


def streaming_sessions(url, clients, batch, title):
    api = Api(url)
    biz, job = launched_study(api, title, tester_count=clients + 5)
    t0 = int(time.time() * 1000) - 3_600_000
    streamers = []
    for c in range(clients):
        sid, token = tester_session(api, job, c)
        streamers.append(Streamer(url, sid, token, c, batch, t0))
    return biz, streamers


def wait_all_ok_after(streamers, since, limit_s):
    deadline = time.time() + limit_s
    while time.time() < deadline:
        if all(s.last_ok > since for s in streamers):
            return max(s.last_ok for s in streamers) - since
        time.sleep(0.05)
    return None


def verify_stored(url, biz, streamers):
    lost = dup = 0
    for s in streamers:
        total = stored_total(url, biz, s.sid)
        if total is None:
            return None
        if total < len(s.acked):
            lost += len(s.acked) - total
        elif total > len(s.acked):
            dup += total - len(s.acked)
    return lost, dup


# --------------------------------------------------------------------------------------------
def private_postgres():
    """initdb + pg_ctl on a free port in a temp dir (CI's shared cluster is untouched)."""
    pg_bin = os.environ.get("PG_BIN") or next(
        (d for d in sorted(os.listdir("/usr/lib/postgresql"), reverse=True)), None)
    if pg_bin and not pg_bin.startswith("/"):
        pg_bin = f"/usr/lib/postgresql/{pg_bin}/bin"
    if not pg_bin or not os.path.exists(f"{pg_bin}/initdb"):
        return None, "PostgreSQL server binaries (initdb, pg_ctl) not found"
    d = f"{WORK}/pg"
    os.makedirs(d)
    if os.geteuid() == 0:
        shutil.chown(WORK, "postgres")
        shutil.chown(d, "postgres")
    subprocess.run(as_user([f"{pg_bin}/initdb", "-D", f"{d}/data", "-U", "postgres", "-A", "trust",
                            "--no-sync"], "postgres"), check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    opts = f"-p {port} -k {d} -c listen_addresses=127.0.0.1 -c max_connections=60"
    ctl = lambda *a: subprocess.run(as_user([f"{pg_bin}/pg_ctl", "-D", f"{d}/data", "-l", f"{d}/log", *a],
                                            "postgres"), check=True, stdout=subprocess.DEVNULL)
    ctl("-o", opts, "-w", "start")
    return (port, ctl, opts), None


def scenario_pg(pg):
    port, ctl, opts = pg
    print("\n== PostgreSQL restarted while testers stream", flush=True)
    clients = int(os.environ.get("FAULT_CLIENTS", "6"))
    batch = int(os.environ.get("FAULT_BATCH", "50"))
    down_s = float(os.environ.get("FAULT_PG_DOWN_S", "12"))
    srv = Server("pg-node", {"DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/postgres",
                             "OPENSCOUTER_DB_MAX_CONNECTIONS": "16"})
    try:
        biz, streamers = streaming_sessions(srv.url, clients, batch, "Faults PG")
        for s in streamers:
            s.start()
        time.sleep(3)
        t_stop = time.time()
        ctl("-m", "fast", "-w", "stop")
        print(f"  stopped PostgreSQL (pg_ctl stop -m fast, {time.time() - t_stop:.1f} s) for {down_s:.0f} s",
              flush=True)
        time.sleep(down_s / 2)
        st, hd, _ = request(srv.url, "GET", "/readyz", timeout=30)
        check(st == 503, f"/readyz while the database is down answers 503 (got {st})")
        time.sleep(down_s / 2)
        ctl("-o", opts, "-w", "start")
        t_up = time.time()
        print(f"  PostgreSQL accepting connections again (pg_ctl start -w returned)", flush=True)
        back = wait_all_ok_after(streamers, t_up, 30)
        time.sleep(2)
        for s in streamers:
            s.stop = True
        for s in streamers:
            s.join(60)
        print(f"  answers: {summarise(streamers)}", flush=True)
        bad = [b for s in streamers for b in s.bad]
        for b in bad[:5]:
            print(f"    unexpected: {b[0]} {json.dumps(b[2])[:300]}", flush=True)
        n503 = sum(s.statuses.get(503, 0) for s in streamers)
        check(not any(s.statuses.get(500) for s in streamers), "no 500 while the database restarted")
        check(not bad, f"every refusal was a 503 envelope with Retry-After ({n503} of them), nothing else")
        check(back is not None and back <= 5.0,
              f"every client acknowledged again within 5 s of the database's return "
              f"({'never' if back is None else f'{back:.2f} s'})")
        check(srv.proc.poll() is None, "the server was not restarted (same process throughout)")
        v = verify_stored(srv.url, biz, streamers)
        acked = sum(len(s.acked) for s in streamers)
        check(v == (0, 0), f"{acked} acknowledged items stored exactly once (lost, duplicated: {v})")
        log = srv.log()
        print(f"  server log: {log.count('store unavailable')} 'store unavailable' lines, "
              f"{log.count('internal error')} 'internal error' lines", flush=True)
    finally:
        srv.stop()


# --------------------------------------------------------------------------------------------
def metric(url, name, label):
    st, _, _ = 0, None, None
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and label in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def scenario_redis(pg):
    port, _, _ = pg
    print("\n== Redis stopped under two API nodes (PostgreSQL shared)", flush=True)
    if not shutil.which("redis-server"):
        check(False, "redis-server not found")
        return
    rport = free_port()
    rdir = f"{WORK}/redis"
    os.makedirs(rdir, exist_ok=True)
    start_redis = lambda: subprocess.Popen(
        ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", rdir], stdout=open(f"{rdir}/log", "a"), stderr=subprocess.STDOUT)
    redis = start_redis()
    time.sleep(0.3)
    subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-q", "-c",
                    "CREATE DATABASE redisfaults"], check=True)
    env = {"DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/redisfaults",
           "REDIS_URL": f"redis://127.0.0.1:{rport}", "OPENSCOUTER_RATE_LIMIT_FREE": "1000",
           "OPENSCOUTER_JWT_SECRET": "faults-two-nodes-share-this-secret-0123"}
    a = Server("node-a", env)
    b = Server("node-b", env)
    try:
        api = Api(a.url)
        api.call("POST", "/api/auth/signup", {"email": "r@x.io", "password": "redis-fault-password",
                                              "fullName": "R", "role": "business"})

        def signin():
            return "Bearer " + api.call("POST", "/api/auth/signin",
                                        {"email": "r@x.io", "password": "redis-fault-password"})["accessToken"]

        auth = signin()

        def remaining(node):
            st, h, _ = request(node.url, "GET", "/api/me", auth=auth)
            return st, int(h.get("x-ratelimit-remaining", -1))

        def drain_then_other(first, other, n):
            """`n` requests to `first`, then one to `other`: returns (statuses, remaining after
            the last on `first`, remaining on `other`). One bucket: `other` answers about one
            below `first`'s last. A bucket each: `other` still has the `n` that `first` spent.
            Refill (one token per 60 ms at 1000/min) moves either by a few, never by `n`."""
            seen = [remaining(first) for _ in range(n)] + [remaining(other)]
            return [st for st, _ in seen], seen[-2][1], seen[-1][1]

        def shared_limit():
            """One bucket across both nodes: after 12 requests on A, B answers one below A's
            last, give or take a few tokens of refill (a bucket each would leave B about 12
            above, or anywhere, if B's own bucket was drained otherwise)."""
            sts, last_a, on_b = drain_then_other(a, b, 12)
            return all(st == 200 for st in sts) and last_a - 2 <= on_b <= last_a + 5, [last_a, on_b]

        def revocation_delay(limit_s):
            """Signs a fresh session in, makes node B cache it, signs out on node A, and
            returns how long B kept accepting it (None: longer than `limit_s`)."""
            token = signin()
            assert request(b.url, "GET", "/api/me", auth=token)[0] == 200
            st, _, _ = request(a.url, "POST", "/api/auth/signout", {}, auth=token)
            assert st in (200, 204), st
            start = time.time()
            while time.time() - start < limit_s:
                if request(b.url, "GET", "/api/me", auth=token)[0] == 401:
                    return time.time() - start
                time.sleep(0.02)
            return None

        ok, rem = shared_limit()
        check(ok, f"Redis up: one limit across both nodes (remaining {rem})")
        d = revocation_delay(5)
        check(d is not None and d < 1, f"Redis up: a sign-out on A is refused on B after {d if d is None else f'{d * 1000:.0f} ms'}")

        redis.send_signal(signal.SIGKILL)
        redis.wait()
        t_down = time.time()
        print("  Redis killed (SIGKILL)", flush=True)
        statuses, slow = {}, 0
        for i in range(20):
            t = time.time()
            st, _ = remaining((a, b)[i % 2])
            if time.time() - t > 1.0:
                slow += 1
            statuses[st] = statuses.get(st, 0) + 1
        check(set(statuses) == {200}, f"Redis down: every request served ({statuses}), {slow} took over 1 s")
        sts, last_a, on_b = drain_then_other(a, b, 30)
        check(all(st == 200 for st in sts) and on_b >= last_a + 20,
              f"Redis down: limits fall back to each node's own bucket (after 30 on A: A {last_a}, B {on_b})")
        fa = metric(a.url, "redis_fallbacks_total", 'use="rate_limit"')
        check(fa > 0, f"Redis down: metric redis_fallbacks_total{{use=\"rate_limit\"}} = {fa:.0f} on node A")
        check("shared rate limiter unavailable" in a.log() and "shared rate limiter unavailable" in b.log(),
              "Redis down: both nodes logged 'shared rate limiter unavailable' (once a minute at most)")
        d = revocation_delay(8)
        check(d is not None and d <= 5.5,
              f"Redis down: a sign-out on A is refused on B after {d if d is None else f'{d:.2f} s'} "
              f"(identity cache TTL 5 s, decision 105)")
        fp = metric(a.url, "redis_fallbacks_total", 'use="invalidation_publish"')
        check(fp > 0, f"Redis down: metric redis_fallbacks_total{{use=\"invalidation_publish\"}} = {fp:.0f}")

        redis = start_redis()
        t_up = time.time()
        print(f"  Redis restarted after {t_up - t_down:.1f} s", flush=True)
        back = None
        while time.time() - t_up < 15:
            ok, rem = shared_limit()
            if ok:
                back = time.time() - t_up
                break
            time.sleep(0.2)
        check(back is not None and back < 5, f"Redis back: one limit across both nodes again after "
              f"{back if back is None else f'{back:.2f} s'} (remaining {rem})")
        check("shared rate limiter available again" in a.log(), "Redis back: logged 'shared rate limiter available again'")
        deadline = time.time() + 10
        while time.time() < deadline and "subscription restored" not in b.log():
            time.sleep(0.1)
        check("subscription restored" in b.log(), "Redis back: node B logged its invalidation subscription restored")
        d = revocation_delay(5)
        check(d is not None and d < 1, f"Redis back: a sign-out on A is refused on B after {d if d is None else f'{d * 1000:.0f} ms'}")
        for node in (a, b):
            check("internal error" not in node.log() and "panicked" not in node.log(),
                  f"{node.name}: no internal error or panic logged")
    finally:
        a.stop()
        b.stop()
        redis.kill()
        redis.wait()


# --------------------------------------------------------------------------------------------
def scenario_full():
    print("\n== SQLite volume full", flush=True)
    vol = f"{WORK}/vol"
    os.makedirs(vol, exist_ok=True)
    size_mb = int(os.environ.get("FAULT_VOLUME_MB", "6"))
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", vol],
                                           stderr=subprocess.DEVNULL).returncode != 0:
        print("  SKIPPED: mounting a small tmpfs needs root (or CAP_SYS_ADMIN)", flush=True)
        OUTCOMES.append(("SKIP", "SQLite volume full (cannot mount a tmpfs here)"))
        return
    srv = None
    try:
        srv = Server("sqlite-node", {"DATABASE_URL": f"sqlite://{vol}/db.sqlite"})
        biz, streamers = streaming_sessions(srv.url, 2, 200, "Faults full")
        for s in streamers:
            s.pause = 0.0
            s.start()
        t0 = time.time()
        while time.time() - t0 < 120 and not any(s.statuses.get(503) for s in streamers):
            time.sleep(0.1)
        full_at = time.time()
        used = shutil.disk_usage(vol)
        print(f"  first 503 after {full_at - t0:.1f} s; volume {used.used / 2**20:.1f} of {used.total / 2**20:.1f} MiB used",
              flush=True)
        time.sleep(3)
        st, _, data = request(srv.url, "GET", f"/api/sessions/{streamers[0].sid}", auth=biz)
        check(st == 200, f"volume full: reads still served (GET a session: {st})")
        msgs = {b[2]["error"]["message"] if b[2] and isinstance(b[2].get("error"), dict) else str(b[2])
                for s in streamers for b in s.bad}
        ok_ra = all(not s.bad for s in streamers)
        sample = next((s.refusals[0] for s in streamers if s.refusals), (None, None))
        print(f"  a refused write: Retry-After {sample[0]}, body {json.dumps(sample[1])}", flush=True)
        subprocess.run(["mount", "-o", f"remount,size={size_mb * 16}m", vol], check=True)
        t_space = time.time()
        print(f"  volume grown to {size_mb * 16} MiB (mount -o remount)", flush=True)
        back = wait_all_ok_after(streamers, t_space, 30)
        time.sleep(2)
        for s in streamers:
            s.stop = True
        for s in streamers:
            s.join(60)
        print(f"  answers: {summarise(streamers)}", flush=True)
        check(not any(s.statuses.get(500) for s in streamers), "volume full: no 500")
        check(ok_ra and not any(s.bad for s in streamers),
              f"volume full: every refusal a 503 envelope with Retry-After {msgs or ''}")
        check("storage is full" in json.dumps(sample[1]).lower(),
              "volume full: the refusal says the storage is full")
        check(back is not None and back <= 5, f"writes resume after space returns "
              f"({'never' if back is None else f'{back:.2f} s'})")
        v = verify_stored(srv.url, biz, streamers)
        acked = sum(len(s.acked) for s in streamers)
        check(v == (0, 0), f"{acked} acknowledged items stored exactly once (lost, duplicated: {v})")
        check(srv.proc.poll() is None, "the server kept running throughout")
        srv.stop()
        import sqlite3
        db = sqlite3.connect(f"{vol}/db.sqlite")
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        on_disk = {sid: n for sid, n in db.execute("SELECT session_id, count(*) FROM events GROUP BY session_id")}
        disk_total = sum(on_disk.get(s.sid, 0) for s in streamers)
        check(disk_total == acked, f"after the server stopped the file holds {disk_total} of the {acked} acknowledged items")
        db.close()
        check(integrity == "ok", f"PRAGMA integrity_check after the run: {integrity}")
        log = srv.log()
        print(f"  server log: {log.count('store full')} 'store full' lines, "
              f"{log.count('internal error')} 'internal error' lines", flush=True)
    finally:
        if srv:
            srv.stop()
        subprocess.run(["umount", vol])


def main():
    pg, why = (None, None)
    if "pg" in WANTED or "redis" in WANTED:
        pg, why = private_postgres()
    try:
        if "pg" in WANTED:
            if pg:
                scenario_pg(pg)
            else:
                print(f"\n== PostgreSQL restart SKIPPED: {why}")
                OUTCOMES.append(("SKIP", f"PostgreSQL restart ({why})"))
        if "redis" in WANTED:
            if pg:
                scenario_redis(pg)
            else:
                OUTCOMES.append(("SKIP", f"Redis under two nodes ({why})"))
        if "full" in WANTED:
            scenario_full()
    finally:
        if pg:
            try:
                pg[1]("-m", "immediate", "stop")
            except subprocess.CalledProcessError:
                pass
    print("\n== outcome")
    for verdict, what in OUTCOMES:
        print(f"{verdict}  {what}")
    if FAILURES:
        print(f"{len(FAILURES)} promise(s) broken", flush=True)
        sys.exit(1)
    print("every fault promise held")


main()
