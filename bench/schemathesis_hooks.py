"""Schemathesis hooks for bench/schemathesis.sh: every operation is called as its callers call it.

Run as a script (`python3 schemathesis_hooks.py setup URL STATE`) it creates the fixtures through
the API and writes them to STATE (JSON): an admin, a business and a second ("victim") business,
eligible testers, API tokens, an OAuth access token, launched and draft studies, sessions in each
status (active, paused, completed, analyzed, confirmed) with their test tokens, and findings.

Loaded by schemathesis (`SCHEMATHESIS_HOOKS=schemathesis_hooks`, `FUZZ_STATE=STATE`), its
`before_call` hook picks the credentials of each call from the operation's `security`
requirement in the document (jwt: the business, tester or admin the route is for; token: an API
token with the scope it needs; testToken: the session's own test token; oauth: an OAuth bearer;
cron: the cron secret; the Telegram and Stripe webhooks: their secret and a valid signature),
and puts real ids into path parameters (and the ids a body names) most of the time, keeping ids
that an earlier response returned (the stateful phase's links). Calls that would spend the
fixtures (sign-out, account deletion, token revocation, a tester's consent, profile or quiz,
an admin suspending an organization or tester, closing or declining a study) get disposable or
dedicated identities, so the run keeps reaching the handlers until its end.
"""

import hashlib
import hmac
import json
import os
import random
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

PASSWORD = "correct horse battery"
CRON_SECRET = os.environ.get("OPENSCOUTER_CRON_SECRET", "")
WEBHOOK_SECRET = os.environ.get("OPENSCOUTER_WEBHOOK_SECRET", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("OPENSCOUTER_STRIPE_WEBHOOK_SECRET", "")
REDIRECT = "http://127.0.0.1:9/callback"
QUIZ = {"q_001": "b", "q_002": "c", "q_003": "a", "q_004": "d", "q_005": "b",
        "q_006": "a", "q_007": "c", "q_008": "b", "q_009": "d", "q_010": "b"}
# The hooks' own randomness: schemathesis seeds and watches the `random` module.
RNG = random.SystemRandom()
# Share of generated path ids replaced by real ones (the rest exercise "absent").
REAL_ID_SHARE = 0.85


# --- plain HTTP (standard library only)

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def call(url, method, path, body=None, auth=None, form=None, headers=None):
    """`(status, parsed JSON or text, headers)` of one request."""
    h = dict(headers or {})
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form, doseq=True).encode()
        h["content-type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        h["content-type"] = "application/json"
    if auth:
        h["authorization"] = auth
    req = urllib.request.Request(url + path, data=data, headers=h, method=method)
    try:
        res = OPENER.open(req, timeout=60)
        status, raw, hdrs = res.status, res.read(), res.headers
    except urllib.error.HTTPError as e:
        status, raw, hdrs = e.code, e.read(), e.headers
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return status, parsed, hdrs


def ok(url, method, path, body=None, auth=None, **kw):
    status, parsed, _ = call(url, method, path, body, auth, **kw)
    if status >= 300:
        raise SystemExit(f"setup: {method} {path} answered {status}: {parsed}")
    return parsed["data"] if isinstance(parsed, dict) and "data" in parsed else parsed


def bearer(token):
    return f"Bearer {token}"


def signup(url, role, tag):
    # os.urandom, not random: schemathesis seeds `random` per test, which would repeat emails.
    email = f"{role}-{tag}-{os.urandom(6).hex()}@fuzz.example.com"
    body = {"email": email, "password": PASSWORD, "fullName": f"Fuzz {role}", "role": role}
    if role == "business":
        body["organizationName"] = f"Fuzz {tag}"
    data = ok(url, "POST", "/api/auth/signup", body)
    return {"email": email, "userId": data["user"]["userId"],
            "organizationId": data["user"].get("organizationId"), "auth": bearer(data["accessToken"])}


# --- a fake Stripe API (checkout, Connect, transfers, payouts), so billing routes and paid
# launches work without the network

def fake_stripe(port_file):
    import http.server
    counter = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self, status, value):
            raw = json.dumps(value).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self):
            if self.path.startswith("/v1/transfers"):
                return self._answer(200, {"object": "list", "data": [], "has_more": False})
            self._answer(404, {"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}})

        def do_POST(self):
            n = self.headers.get("content-length")
            form = dict(urllib.parse.parse_qsl(self.rfile.read(int(n or 0)).decode()))
            f = form.get
            counter[0] += 1
            i = counter[0]
            num = lambda k: int(f(k) or 0) if (f(k) or "0").isdigit() else 0
            if self.path == "/v1/checkout/sessions":
                total = sum(num(f"line_items[{j}][quantity]") * num(f"line_items[{j}][price_data][unit_amount]")
                            for j in (0, 1))
                return self._answer(200, {"id": f"cs_fuzz_{i}", "object": "checkout.session",
                                          "url": f"https://checkout.stripe.test/c/pay/cs_fuzz_{i}",
                                          "amount_total": total, "currency": f("line_items[0][price_data][currency]"),
                                          "client_reference_id": f("client_reference_id"),
                                          "metadata": {"jobId": f("metadata[jobId]")}, "payment_status": "unpaid"})
            if self.path == "/v1/accounts":
                return self._answer(200, {"id": f"acct_fuzz_{i}", "object": "account", "type": "express",
                                          "payouts_enabled": False, "charges_enabled": False,
                                          "details_submitted": False})
            if self.path == "/v1/account_links":
                return self._answer(200, {"object": "account_link", "expires_at": 1_800_000_000,
                                          "url": f"https://connect.stripe.test/setup/e/{f('account')}"})
            if self.path == "/v1/transfers":
                return self._answer(200, {"id": f"tr_fuzz_{i}", "object": "transfer", "amount": num("amount"),
                                          "currency": f("currency"), "destination": f("destination"),
                                          "transfer_group": f("transfer_group"), "metadata": {}})
            if self.path == "/v1/payouts":
                return self._answer(200, {"id": f"po_fuzz_{i}", "object": "payout", "amount": num("amount"),
                                          "currency": f("currency"), "status": "pending"})
            self._answer(404, {"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}})

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file, "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


def stripe_event(url, kind, obj):
    payload = json.dumps({"id": f"evt_fuzz_{os.urandom(8).hex()}", "object": "event", "type": kind,
                          "created": int(time.time()), "data": {"object": obj}})
    ts = int(time.time())
    mac = hmac.new(STRIPE_WEBHOOK_SECRET.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(url + "/api/webhooks/stripe", data=payload.encode(), method="POST",
                                 headers={"content-type": "application/json", "stripe-signature": f"t={ts},v1={mac}"})
    with OPENER.open(req, timeout=60) as res:
        assert res.status == 200, res.status


def paid_launch(url, biz, job):
    c = ok(url, "POST", "/api/billing/checkout", {"jobId": job}, biz["auth"])
    stripe_event(url, "checkout.session.completed", {
        "id": c["checkoutSessionId"], "object": "checkout.session", "client_reference_id": job,
        "metadata": {"jobId": job}, "payment_status": "paid", "status": "complete",
        "amount_total": c["amountTotal"], "currency": c["currency"].lower()})
    # Payment launches the study by itself (api.md §11, launchOnPayment defaults to true): wait
    # for the worker to open it.
    for _ in range(300):
        status, data, _ = call(url, "GET", f"/api/jobs/{job}", None, biz["auth"])
        study = data.get("data") if isinstance(data, dict) else None
        if status == 200 and isinstance(study, dict) and study.get("status") not in (None, "draft"):
            return
        time.sleep(0.1)
    raise SystemExit(f"setup: study {job} was not launched after payment: {data}")


# --- setup

STUDY = {
    "title": "Checkout usability", "description": "Find where checkout blocks people.",
    "prototypeUrl": "https://shop.example.com", "prototypeType": "url",
    "tasks": [
        {"title": "Find a product", "description": "Search for socks", "successCriteria": "Product page open", "order": 1},
        {"title": "Pay", "description": "Buy the socks", "successCriteria": "Confirmation shown", "order": 2},
    ],
    "targeting": {"countries": ["GB"], "languages": ["en"], "devices": ["desktop"], "testerCount": 50},
    "ndCategories": ["adhd", "dyslexia"],
    "compensation": {"currency": "GBP", "amount": 25.5, "type": "flat"},
}
PROFILE = {"ndCategories": ["dyslexia"], "devices": ["desktop", "mobile"], "country": "GB", "languages": ["en", "fr"],
           "birthYear": 1990, "timezone": "Europe/London", "available": True}


def eligible_tester(url, tag):
    t = signup(url, "tester", tag)
    ok(url, "POST", "/api/testers/me/consent", {"version": "v1.1", "specialCategory": True}, t["auth"])
    quiz = ok(url, "GET", "/api/quiz", auth=t["auth"])
    res = ok(url, "POST", "/api/quiz/attempts", {"quizId": quiz["quizId"], "answers": QUIZ}, t["auth"])
    assert res["passed"], res
    ok(url, "PUT", "/api/testers/me/profile", PROFILE, t["auth"])
    return t


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{int(ms % 1000):03d}Z"


def start_session(url, tester, job):
    ok(url, "POST", f"/api/jobs/{job}/accept", {}, tester["auth"])
    s = ok(url, "POST", "/api/sessions", {"jobId": job, "testerId": tester["userId"]}, tester["auth"])
    sid, tt = s["sessionId"], f"Token {s['testToken']}"
    consent = {"version": "v1", "streams": {"events": True, "facial": True, "voice": True, "screenshots": False}}
    ok(url, "POST", f"/api/sessions/{sid}/consent", consent, tt)
    return sid, tt


def broken_checkout(url, sid, tt, task):
    now = int(time.time() * 1000)
    batch = [{"clientId": "nav", "eventType": "navigation", "targetSelector": "",
              "url": "https://shop.example.com/checkout", "timestamp": iso(now - 9000), "taskId": task}]
    for i in range(6):
        batch.append({"clientId": f"c{i}", "eventType": "click", "targetSelector": "#pay",
                      "url": "https://shop.example.com/checkout", "timestamp": iso(now - 8000 + i * 200),
                      "taskId": task, "x": 100, "y": 200})
    ok(url, "POST", "/api/data/events", {"sessionId": sid, "batch": batch}, tt)
    ok(url, "POST", f"/api/sessions/{sid}/complete", {}, tt)


def oauth_token(url, who):
    client = ok(url, "POST", "/api/oauth/register", {"client_name": "Fuzz agent", "redirect_uris": [REDIRECT]})
    client_id = client["client_id"]
    verifier = f"v{os.urandom(32).hex()}"
    import base64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    req = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "st4te",
           "code_challenge": challenge, "code_challenge_method": "S256", "scope": "read draft"}
    status, page, hdrs = call(url, "POST", "/api/oauth/authorize",
                              form={**req, "step": "signin", "email": who["email"], "password": PASSWORD})
    assert status == 200, (status, page)
    cookie = next(c.split(";")[0] for c in hdrs.get_all("set-cookie") if c.startswith("osc_oauth="))
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    status, _, hdrs = call(url, "POST", "/api/oauth/authorize",
                           form={"step": "consent", "csrf": csrf, "decision": "allow", "scope": ["read", "draft"]},
                           headers={"cookie": cookie})
    assert status == 303, status
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(hdrs["location"]).query)["code"][0]
    status, tok, _ = call(url, "POST", "/api/oauth/token", form={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "client_id": client_id, "code_verifier": verifier})
    assert status == 200, (status, tok)
    return client_id, bearer(tok["access_token"])


def setup(url, admin_email, state_path):
    st = {"url": url}
    status, data, _ = call(url, "POST", "/api/auth/signin", {"email": admin_email, "password": PASSWORD})
    assert status == 200, (status, data)
    st["admin"] = {"email": admin_email, "userId": data["data"]["user"]["userId"],
                   "auth": bearer(data["data"]["accessToken"])}
    biz = st["business"] = signup(url, "business", "main")
    st["victimBusiness"] = signup(url, "business", "victim")
    st["businessToken"] = "Token " + ok(url, "POST", "/api/tokens",
                                        {"name": "fuzz", "scopes": ["read", "write", "ingest"]}, biz["auth"])["token"]
    st["adminToken"] = "Token " + ok(url, "POST", "/api/tokens",
                                     {"name": "fuzz", "scopes": ["read", "write", "admin"]},
                                     st["admin"]["auth"])["token"]
    st["oauthClient"], st["oauth"] = oauth_token(url, biz)
    jobs = []
    for _ in range(3):
        study = ok(url, "POST", "/api/jobs", STUDY, biz["auth"])
        paid_launch(url, biz, study["jobId"])
        jobs.append(study["jobId"])
    st["jobs"] = jobs
    st["tasks"] = [t.get("taskId") or t.get("id") for t in study["tasks"]]
    st["closableJobs"] = [ok(url, "POST", "/api/jobs", STUDY, biz["auth"])["jobId"] for _ in range(2)]
    testers = [eligible_tester(url, f"t{i}") for i in range(8)]
    st["testers"] = testers
    st["victimTester"] = eligible_tester(url, "victim")
    sessions = {}
    job = jobs[0]
    task = st["tasks"][0]
    for status_name, tester in zip(["active", "paused", "completed", "analyzed", "confirmed"], testers):
        sid, tt = start_session(url, tester, job)
        sessions[sid] = {"status": status_name, "token": tt, "tester": tester["auth"], "job": job}
        if status_name == "paused":
            ok(url, "POST", f"/api/sessions/{sid}/pause", {}, tt)
        if status_name in ("completed", "analyzed", "confirmed"):
            broken_checkout(url, sid, tt, task)
        if status_name in ("analyzed", "confirmed"):
            ok(url, "POST", f"/api/sessions/{sid}/analyze", {}, biz["auth"])
    findings = []
    for sid, s in sessions.items():
        if s["status"] not in ("analyzed", "confirmed"):
            continue
        for _ in range(600):
            if ok(url, "GET", f"/api/sessions/{sid}", auth=biz["auth"])["status"] == "analyzed":
                break
            time.sleep(0.1)
        else:
            raise SystemExit(f"setup: session {sid} was not analysed in 60 s")
        found = ok(url, "GET", f"/api/sessions/{sid}/findings", auth=biz["auth"])
        findings += [f["findingId"] for f in found]
        if s["status"] == "confirmed":
            decisions = [{"findingId": f["findingId"], "decision": "confirm"} for f in found]
            ok(url, "POST", f"/api/sessions/{sid}/confirm", {"decisions": decisions}, s["tester"])
    st["sessions"] = sessions
    # Every tester has accepted every study, so POST /api/sessions can succeed during the run.
    for t in testers:
        for j in jobs:
            call(url, "POST", f"/api/jobs/{j}/accept", {}, t["auth"])
    st["findings"] = findings
    # Endpoints must resolve to a public address; without DNS the pool stays empty (404s).
    status, data, _ = call(url, "POST", "/api/webhook-endpoints",
                           {"url": "https://hooks.example.com/fuzz", "events": ["session.analyzed"]}, biz["auth"])
    st["endpoints"] = [data["data"]["webhookEndpointId"]] if status == 200 else []
    with open(state_path, "w") as f:
        json.dump(st, f, indent=1)
    print(f"setup: {len(jobs)} launched studies, {len(sessions)} sessions "
          f"({', '.join(s['status'] for s in sessions.values())}), {len(findings)} findings")


# --- the hooks

if __name__ != "__main__":
    import schemathesis

    ST = json.load(open(os.environ["FUZZ_STATE"]))
    URL = ST["url"]
    LOCK = threading.Lock()
    KNOWN = set()  # every id a response returned: links carry these, so they stay
    SESSIONS = dict(ST["sessions"])  # session id -> {token, tester, job}
    ID_KEYS = re.compile(r"^(id|[a-zA-Z]*Id)$")
    STATS = {}  # "METHOD path" -> {status: count}

    def _report():
        lines = []
        total = sum(sum(c.values()) for c in STATS.values())
        reached = [op for op, c in STATS.items() if any(s not in (401, 403) for s in c)]
        only = sorted(op for op in STATS if op not in reached)
        lines.append(f"requests sent: {total}; operations called: {len(STATS)}; "
                     f"reached their handler (a status other than 401/403): {len(reached)}")
        for op in sorted(STATS):
            lines.append(f"  {op}: " + ", ".join(f"{s}×{n}" for s, n in sorted(STATS[op].items())))
        if only:
            lines.append("only 401/403: " + ", ".join(only))
        with open(os.environ["FUZZ_STATE"] + ".stats", "w") as f:
            f.write("\n".join(lines) + "\n")

    import atexit
    atexit.register(_report)

    def _collect(value):
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, str) and ID_KEYS.match(k):
                    KNOWN.add(v)
                else:
                    _collect(v)
        elif isinstance(value, list):
            for v in value:
                _collect(v)

    def _pool(path, method):
        """Real ids for the `{id}` of `path`."""
        if path.startswith("/api/jobs/{id}/close"):
            return ST["closableJobs"]
        if path.startswith("/api/jobs/") or path.startswith("/api/reports/job/"):
            return ST["jobs"] + ST["closableJobs"]
        if path.startswith("/api/sessions/"):
            return list(SESSIONS)
        if path.startswith("/api/webhook-endpoints/"):
            return ST["endpoints"]
        if path.startswith("/api/admin/organizations/"):
            return [ST["victimBusiness"]["organizationId"]]
        if path.startswith("/api/admin/testers/"):
            return [ST["victimTester"]["userId"]]
        if path.startswith("/api/tokens/"):
            token = _post(ST["business"]["auth"], "/api/tokens", {"name": "spent", "scopes": ["read"]})
            return [token["tokenId"]] if token else []
        return []

    def _post(auth, path, body):
        status, data, _ = call(URL, "POST", path, body, auth)
        return data.get("data") if status < 300 and isinstance(data, dict) else None

    def _disposable(role):
        return signup(URL, role, "spent")["auth"]

    ADMIN_PATHS = ("/api/admin/", "/api/billing/payout", "/api/telegram/job-notify")
    # Tester routes; the ones that spend the tester's standing go to the dedicated victim.
    TESTER_PATHS = ("/api/testers/me/", "/api/quiz", "/api/billing/connect")
    VICTIM = (("PUT", "/api/testers/me/profile"), ("POST", "/api/testers/me/consent"),
              ("DELETE", "/api/testers/me/consent"), ("POST", "/api/quiz/attempts"),
              ("POST", "/api/jobs/{id}/decline"))

    def _jwt(path, method, sid, testtoken):
        if path.startswith(ADMIN_PATHS):
            return ST["admin"]["auth"]
        if (method, path) in VICTIM:
            return ST["victimTester"]["auth"]
        if path.startswith(TESTER_PATHS) or path == "/api/jobs/{id}/accept":
            return RNG.choice(ST["testers"])["auth"]
        if sid and (path.endswith("/confirm") or testtoken):
            return SESSIONS.get(sid, {}).get("tester") or RNG.choice(ST["testers"])["auth"]
        return ST["business"]["auth"]

    def _schemes(op):
        security = op.definition.raw.get("security")
        if security is None:
            security = op.schema.raw_schema.get("security", [])
        return [name for req in security for name in req] , security

    PAIRS_USED = {(ST["testers"][i]["userId"], ST["jobs"][0]) for i in range(len(ST["sessions"]))}

    def _stateful(case):
        meta = getattr(case, "meta", None) or getattr(case, "_meta", None)
        return "stateful" in str(getattr(getattr(meta, "phase", None), "name", "")).lower()

    def _valid_body(case, path, method):
        """A valid body for the chains' first steps (often in the stateful phase, so its links
        lead somewhere; sometimes elsewhere), or None."""
        share = 0.7 if _stateful(case) or path == "/api/mcp" else 0.15
        if RNG.random() >= share:
            return None
        if (method, path) == ("POST", "/api/jobs"):
            return dict(STUDY)
        if (method, path) == ("POST", "/api/mcp"):
            # A real client's opening message: generated objects are rarely JSON-RPC, so without
            # this the endpoint answers only 400/401 and schemathesis counts it as never reached.
            return {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                    "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                               "clientInfo": {"name": "schemathesis", "version": "4"}}}
        if (method, path) == ("POST", "/api/sessions"):
            with LOCK:
                free = [(t, j) for t in ST["testers"] for j in ST["jobs"] if (t["userId"], j) not in PAIRS_USED]
                if not free:
                    return None
                tester, job = RNG.choice(free)
                PAIRS_USED.add((tester["userId"], job))
            return {"jobId": job, "testerId": tester["userId"], "_auth": tester["auth"]}
        return None

    def _mcp_session(auth):
        """The `Mcp-Session-Id` of a fresh MCP session opened with `auth`, or None."""
        body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "schemathesis", "version": "4"}}}
        status, _, hdrs = call(URL, "POST", "/api/mcp", body, auth,
                               headers={"accept": "application/json, text/event-stream"})
        return hdrs.get("mcp-session-id") if status == 200 else None

    @schemathesis.hook
    def before_call(context, case, kwargs):
        op = case.operation
        path, method = op.path, op.method.upper()
        schemes, security = _schemes(op)
        headers = dict(case.headers or {})
        params = case.path_parameters
        sid = None
        if params and "id" in params:
            current = str(params["id"])
            with LOCK:
                known = current in KNOWN
            if not known and RNG.random() < REAL_ID_SHARE:
                pool = _pool(path, method)
                if pool:
                    params["id"] = RNG.choice(pool)
            if path.startswith("/api/sessions/"):
                sid = str(params["id"])
        valid = _valid_body(case, path, method)
        if valid is not None:
            tester_auth = valid.pop("_auth", None)
            if tester_auth:
                headers["Authorization"] = tester_auth
            case.body = valid
        body = case.body if isinstance(case.body, dict) else None
        if path == "/api/sessions" and method == "POST" and valid is None:
            # A tester starts their own session (the body names them).
            tester = RNG.choice(ST["testers"])
            headers["Authorization"] = tester["auth"]
            if body is not None and RNG.random() < REAL_ID_SHARE:
                body["testerId"] = tester["userId"]
        if body is not None and isinstance(body.get("sessionId"), str) and body["sessionId"] in SESSIONS:
            sid = body["sessionId"]  # a link's (or a real) session: kept
        elif body is not None and valid is None and RNG.random() < REAL_ID_SHARE:
            if "jobId" in body:
                body["jobId"] = RNG.choice(ST["jobs"])
            if "sessionId" in body:
                body["sessionId"] = sid = RNG.choice(list(SESSIONS))
            if "findingId" in body and ST["findings"]:
                body["findingId"] = RNG.choice(ST["findings"])
            if isinstance(body.get("decisions"), list):
                for d in body["decisions"]:
                    if isinstance(d, dict) and ST["findings"]:
                        d["findingId"] = RNG.choice(ST["findings"])
        auth = None
        if (method, path) in (("POST", "/api/auth/signout"), ("DELETE", "/api/me")):
            auth = _disposable(RNG.choice(["business", "tester"]))
        elif "cron" in schemes:
            auth = f"Bearer {CRON_SECRET}"
        elif "oauth" in schemes:
            auth = ST["oauth"] if RNG.random() < 0.6 else ST["businessToken"]
        elif "testToken" in schemes and (path.startswith("/api/data/") or RNG.random() < 0.6):
            if sid is None or sid not in SESSIONS:
                sid = RNG.choice(list(SESSIONS))
                if body is not None and "sessionId" in body:
                    body["sessionId"] = sid
                if params and "id" in params:
                    params["id"] = sid
            auth = SESSIONS[sid]["token"]
        elif "jwt" in schemes:
            auth = _jwt(path, method, sid, "testToken" in schemes)
            if "token" in schemes and RNG.random() < 0.4:
                scopes = [s for req in security for s in req.get("token", [])]
                auth = ST["adminToken"] if "admin" in scopes else ST["businessToken"]
        elif "token" in schemes:
            auth = ST["businessToken"]
        if path == "/api/telegram/webhook":
            headers["X-Telegram-Bot-Api-Secret-Token"] = WEBHOOK_SECRET
        if path == "/api/webhooks/stripe":
            payload = json.dumps(case.body if isinstance(case.body, (dict, list)) else {}, separators=(",", ":"))
            ts = int(time.time())
            mac = hmac.new(STRIPE_WEBHOOK_SECRET.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
            headers["Stripe-Signature"] = f"t={ts},v1={mac}"
            headers["Content-Type"] = "application/json"
            kwargs["data"] = payload.encode()
        if auth and (method, path) == ("DELETE", "/api/mcp") and RNG.random() < 0.7:
            # A real session to end: a generated Mcp-Session-Id names none, so without this the
            # operation answers only 400/404 (and, in a phase that sends few cases, looks unreached).
            sid_header = _mcp_session(auth)
            if sid_header:
                headers = {k: v for k, v in headers.items() if k.lower() != "mcp-session-id"}
                headers["Mcp-Session-Id"] = sid_header
        if auth and not (path == "/api/sessions" and method == "POST"):
            # One Authorization header: a generated lower-case one must not travel beside ours
            # (the HTTP client merges them case-insensitively, and either may win).
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            headers["Authorization"] = auth
        case.headers = headers

    @schemathesis.hook
    def after_call(context, case, response):
        if case.method.upper() != case.operation.method.upper():
            return  # schemathesis's probes of undocumented methods
        with LOCK:
            counts = STATS.setdefault(f"{case.method.upper()} {case.operation.path}", {})
            counts[response.status_code] = counts.get(response.status_code, 0) + 1
        try:
            data = json.loads(response.content)
        except (ValueError, TypeError):
            return
        with LOCK:
            _collect(data)
            if case.operation.path == "/api/sessions" and case.method.upper() == "POST" and response.status_code < 300:
                d = data.get("data") or {}
                if d.get("sessionId") and d.get("testToken"):
                    SESSIONS[d["sessionId"]] = {"status": "created", "token": f"Token {d['testToken']}",
                                                "tester": (case.headers or {}).get("Authorization"),
                                                "job": d.get("jobId")}


if __name__ == "__main__":
    if sys.argv[1:2] == ["fake-stripe"]:
        fake_stripe(sys.argv[2])
    if sys.argv[1:2] == ["setup"]:
        setup(sys.argv[2], sys.argv[3], sys.argv[4])
