#!/usr/bin/env bash
# Stripe webhook events through the real server (release build, SQLite): N signed events
# (a mix of payout.paid, account.updated and payout.failed for accounts the server does not
# know, so no outbound Stripe call is made) posted by C client processes over keep-alive
# connections. Prints
#  1. acknowledged events/s: verified, rate-checked, stored once by id, queued, 200;
#  2. handled events/s: from the first request until a worker has marked every event
#     processed (read from the database file);
# plus the replay rate (the same events again: acknowledged, nothing queued).
# Needs python3. Usage: bench/stripe_webhooks.sh [events=5000] [clients=4] [workers=2]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000}
CLIENTS=${2:-4}
WORKERS=${3:-2}
SECRET=whsec_bench_secret
. bench/common.sh
# The API base is never called for these events; the tier is raised so nothing is refused.
start_server OPENSCOUTER_WORKERS="$WORKERS" OPENSCOUTER_STRIPE_SECRET_KEY=sk_bench \
  OPENSCOUTER_STRIPE_WEBHOOK_SECRET="$SECRET" OPENSCOUTER_STRIPE_API_BASE=http://127.0.0.1:9 \
  OPENSCOUTER_RATE_LIMIT_WEBHOOK=100000000

python3 - "$URL" "$N" "$CLIENTS" "$SECRET" "$WORK/db.sqlite" <<'PY'
import hashlib, hmac, http.client, json, multiprocessing as mp, sqlite3, sys, time, urllib.parse
url, n, clients, secret, db = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].encode(), sys.argv[5]
host = urllib.parse.urlparse(url)

def event(i):
    kind = ("payout.paid", "account.updated", "payout.failed")[i % 3]
    obj = {"id": f"acct_bench_{i}", "payouts_enabled": True, "charges_enabled": True, "details_submitted": True} \
        if kind == "account.updated" else \
        {"id": f"po_bench_{i}", "amount": 1500, "currency": "usd", "status": kind.split(".")[1]}
    return json.dumps({"id": f"evt_bench_{i}", "type": kind, "created": 1710590400 + i, "data": {"object": obj}}).encode()

def post_all(args):
    lo, hi = args
    conn = http.client.HTTPConnection(host.hostname, host.port)
    bad = 0
    for i in range(lo, hi):
        body = event(i)
        t = str(int(time.time()))
        sig = hmac.new(secret, t.encode() + b"." + body, hashlib.sha256).hexdigest()
        conn.request("POST", "/api/webhooks/stripe", body, {"stripe-signature": f"t={t},v1={sig}", "content-type": "application/json"})
        r = conn.getresponse()
        r.read()
        bad += r.status != 200
    return bad

def run():
    chunks = [(k * n // clients, (k + 1) * n // clients) for k in range(clients)]
    with mp.Pool(clients) as pool:
        start = time.perf_counter()
        bad = sum(pool.map(post_all, chunks))
        return time.perf_counter() - start, bad

def processed():
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return c.execute("SELECT COUNT(*) FROM stripe_events WHERE processed_at IS NOT NULL").fetchone()[0]
    finally:
        c.close()

start = time.perf_counter()
acked, bad = run()
while processed() < n:
    time.sleep(0.01)
handled = time.perf_counter() - start
print(f"{n} signed Stripe events, {clients} clients, SQLite: acknowledged {n / acked:.0f} events/s "
      f"({bad} non-200); handled (stored, queued, processed by the workers) {n / handled:.0f} events/s")
replay, bad = run()
print(f"replayed: {n / replay:.0f} events/s acknowledged ({bad} non-200), nothing queued again "
      f"(processed: {processed()})")
PY
