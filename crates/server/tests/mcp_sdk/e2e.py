"""End to end with the official MCP Python SDK (`pip install mcp`) against a running server.

    python e2e.py http://127.0.0.1:PORT

Run by `tests/api/mcp_sdk.rs`, which starts the server. The script seeds a workspace over the
REST API (a launched study, one analysed and confirmed test, a study report), then lets the
SDK client do everything an MCP host does: discover the server through the 401 challenge and
the RFC 9728 / RFC 8414 metadata, register dynamically, run the authorization-code flow with
PKCE (this script plays the browser: it signs in and approves the consent page over HTTP),
list the tools and call every one. Twice: once in the handshake era (`initialize`,
`Mcp-Session-Id`, `ping`) with `read draft`, once in the 2026-07-28 era (`server/discover`)
with a `read`-only grant, where `create_draft_study` gets a 403 with an `insufficient_scope`
challenge and the SDK steps up. Prints one line per step; any failure exits non-zero.
"""

import asyncio
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import warnings

import httpx2
import jsonschema
from mcp.client import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

BASE = sys.argv[1].rstrip("/")
MCP_URL = BASE + "/api/mcp"
PASSWORD = "correct horse battery"
REDIRECT = "http://127.0.0.1:33418/callback"
TOOLS = {
    "list_studies",
    "get_study",
    "list_tests",
    "get_test",
    "get_analytics",
    "get_insights",
    "create_draft_study",
}


def step(msg):
    print(f"[e2e] {msg}", flush=True)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


# --- REST seeding (stdlib only)


def api(method, path, body=None, auth=None, expect=200):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if auth:
        req.add_header("authorization", auth)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            status, raw = res.status, res.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    payload = json.loads(raw) if raw else None
    if expect is not None and status != expect:
        raise AssertionError(f"{method} {path} -> {status}: {raw[:500]!r}")
    return payload["data"] if isinstance(payload, dict) and "data" in payload else payload


def signup(role):
    email = f"{role}-{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": PASSWORD, "fullName": f"E2E {role}", "role": role}
    if role == "business":
        body["organizationName"] = "E2E Research"
    data = api("POST", "/api/auth/signup", body)
    return {"email": email, "id": data["user"]["userId"], "auth": "Bearer " + data["accessToken"]}


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{int(ms % 1000):03d}Z"


def wait_for(what, probe, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def seed():
    biz = signup("business")
    study = {
        "title": "Checkout usability",
        "description": "Find where checkout blocks people.",
        "prototypeUrl": "https://shop.example.com",
        "prototypeType": "url",
        "tasks": [
            {"title": "Find a product", "description": "Search for socks", "successCriteria": "Product page open", "order": 1},
            {"title": "Pay", "description": "Buy the socks", "successCriteria": "Confirmation shown", "order": 2},
        ],
        "targeting": {"countries": ["GB"], "languages": ["en"], "devices": ["desktop"], "testerCount": 3},
        "ndCategories": ["adhd", "dyslexia"],
        "compensation": {"currency": "GBP", "amount": 25.5, "type": "flat"},
    }
    job = api("POST", "/api/jobs", study, biz["auth"])
    job_id, pay_task = job["jobId"], job["tasks"][1]["taskId"]
    api("POST", f"/api/jobs/{job_id}/launch", {}, biz["auth"])
    tester = signup("tester")
    profile = {"ndCategories": ["dyslexia"], "devices": ["desktop"], "country": "GB", "languages": ["en"],
               "birthYear": 1990, "timezone": "Europe/London", "available": True}
    # ND categories need special-category consent first (added after this script was written).
    api("POST", "/api/testers/me/consent", {"version": "v1.1", "specialCategory": True}, tester["auth"])
    api("PUT", "/api/testers/me/profile", profile, tester["auth"])
    # Accepting needs the capacity quiz passed (the answers of tests/api/helpers.rs QUIZ_ANSWERS).
    quiz = api("GET", "/api/quiz", None, tester["auth"])
    answers = dict(zip([f"q_{i:03}" for i in range(1, 11)], "bcadbacbdb"))
    api("POST", "/api/quiz/attempts", {"quizId": quiz["quizId"], "answers": answers}, tester["auth"])
    api("POST", f"/api/jobs/{job_id}/accept", {}, tester["auth"])
    consent = {"version": "v1", "streams": {"events": True, "facial": True, "voice": True, "screenshots": False}}
    sess = api("POST", "/api/sessions", {"jobId": job_id, "testerId": tester["id"], "consent": consent}, tester["auth"])
    sid, tt = sess["sessionId"], "Token " + sess["testToken"]
    start = int(time.time() * 1000)
    url = "https://shop.example.com/checkout"
    batch = [{"clientId": "nav", "eventType": "navigation", "targetSelector": "", "url": url, "timestamp": iso(start), "taskId": pay_task}]
    batch += [{"clientId": f"c{i}", "eventType": "click", "targetSelector": "#pay", "url": url,
               "timestamp": iso(start + 1000 + i * 200), "taskId": pay_task, "x": 100, "y": 200} for i in range(6)]
    res = api("POST", "/api/data/events", {"sessionId": sid, "batch": batch}, tt)
    check(res["rejected"] == 0, f"events rejected: {res}")
    api("POST", f"/api/sessions/{sid}/complete", {"completedAt": iso(start + 5000)}, tt)
    job_run = api("POST", f"/api/sessions/{sid}/analyze", {}, biz["auth"])["analysisJobId"]
    wait_for("analysis", lambda: api("GET", f"/api/analysis-jobs/{job_run}", None, biz["auth"])["status"] == "complete")
    # The session's tester reads the findings; the business sees them once confirmed.
    findings = api("GET", f"/api/sessions/{sid}/findings", None, tester["auth"])
    check(findings, "the analysis found nothing")
    decisions = [{"findingId": f["findingId"], "decision": "confirm"} for f in findings]
    api("POST", f"/api/sessions/{sid}/confirm", {"decisions": decisions}, tester["auth"])
    api("POST", f"/api/reports/job/{job_id}", {}, biz["auth"])
    wait_for("the study report", lambda: api("GET", f"/api/reports/job/{job_id}", None, biz["auth"], expect=None) is not None
             and api("GET", f"/api/reports/job/{job_id}", None, biz["auth"], expect=None).get("reportId"))
    return {"biz": biz, "tester": tester, "job": job_id, "session": sid}


# --- the SDK's collaborators: token storage and the user at the browser


class Storage:
    def __init__(self):
        self.tokens = None
        self.client = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, info: OAuthClientInformationFull):
        self.client = info


class Browser:
    """Plays the user: opens the authorization URL, signs in, ticks `grants[i]` on the i-th
    consent, and hands the redirect's parameters to the SDK."""

    def __init__(self, email, grants):
        self.email = email
        self.grants = list(grants)
        self.requests = []
        self.result = None

    async def redirect(self, url):
        parsed = urllib.parse.urlparse(url)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        self.requests.append(query)
        grant = self.grants[len(self.requests) - 1]
        async with httpx2.AsyncClient(follow_redirects=False, timeout=30) as http:
            page = await http.get(url)
            check(page.status_code == 200, f"authorization page: {page.status_code} {page.text[:300]}")
            csp = page.headers.get("content-security-policy", "")
            check("default-src 'none'" in csp and "script" not in csp, f"CSP: {csp}")
            form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
            form = {k: v.replace("&quot;", '"').replace("&#39;", "'").replace("&amp;", "&") for k, v in form.items()}
            form.update({"email": self.email, "password": PASSWORD})
            consent = await http.post(BASE + "/api/oauth/authorize", data=form)
            check(consent.status_code == 200 and 'name="csrf"' in consent.text, f"consent page: {consent.status_code}")
            csrf = re.search(r'name="csrf" value="([^"]+)"', consent.text).group(1)
            decision = [("step", "consent"), ("csrf", csrf), ("decision", "allow")] + [("scope", s) for s in grant]
            back = await http.post(BASE + "/api/oauth/authorize", content=urllib.parse.urlencode(decision),
                                   headers={"content-type": "application/x-www-form-urlencoded"})
            check(back.status_code == 303, f"consent answer: {back.status_code} {back.text[:300]}")
            location = back.headers["location"]
            check(location.startswith(REDIRECT), f"redirected to {location}")
            params = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(location).query))
            self.result = AuthorizationCodeResult(code=params["code"], state=params.get("state"), iss=params.get("iss"))

    async def callback(self):
        result, self.result = self.result, None
        return result


def provider(storage, browser):
    metadata = OAuthClientMetadata(
        client_name="MCP Python SDK e2e",
        redirect_uris=[REDIRECT],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    return OAuthClientProvider(
        server_url=MCP_URL,
        client_metadata=metadata,
        storage=storage,
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
    )


def recorder(log):
    async def hook(response):
        log.append((response.request.method, response.request.url.path, response.status_code,
                    response.headers.get("www-authenticate", "")))
    return hook


# Each tool's outputSchema as tools/list gave it: every result is validated against it here,
# whether or not the SDK version validates on its own (the schemas are generated from the
# server's Rust types, decision 212).
OUTPUT_SCHEMAS = {}


def structured(result, name):
    check(not result.is_error, f"{name} failed: {result.content}")
    check(result.structured_content is not None, f"{name}: no structuredContent")
    check(result.content and result.content[0].type == "text", f"{name}: no text summary")
    schema = OUTPUT_SCHEMAS.get(name)
    check(schema is not None, f"{name}: no outputSchema listed")
    try:
        jsonschema.validate(result.structured_content, schema)
    except jsonschema.ValidationError as e:
        check(False, f"{name}: structuredContent does not match its outputSchema: {e.message}")
    return result.structured_content


async def call_every_tool(client, seeded, label):
    listed = await client.list_tools()
    names = {t.name for t in listed.tools}
    check(names == TOOLS, f"tools: {names}")
    check(all(t.output_schema and t.input_schema for t in listed.tools), "every tool declares its schemas")
    for t in listed.tools:
        jsonschema.Draft202012Validator.check_schema(t.input_schema)
        jsonschema.Draft202012Validator.check_schema(t.output_schema)
        OUTPUT_SCHEMAS[t.name] = t.output_schema
    step(f"{label}: tools/list -> {sorted(names)}")
    job, sid = seeded["job"], seeded["session"]
    out = structured(await client.call_tool("list_studies", {}), "list_studies")
    check(any(s["study_id"] == job for s in out["studies"]), f"list_studies: {out}")
    check(all(s["dashboard_url"].startswith(BASE + "/app/studies/") for s in out["studies"]), "dashboard_url")
    out = structured(await client.call_tool("get_study", {"study_id": job}), "get_study")
    check(out["study"]["study_id"] == job and out["report"] is not None and out["findings"], f"get_study: {out}")
    out = structured(await client.call_tool("list_tests", {"study_id": job}), "list_tests")
    check(out["total"] == 1 and out["tests"][0]["tester_label"] == "Tester 1", f"list_tests: {out}")
    text = json.dumps(out)
    check(seeded["tester"]["id"] not in text and seeded["tester"]["email"] not in text, "testers appear as labels only")
    out = structured(await client.call_tool("get_test", {"test_id": sid}), "get_test")
    check(out["test"]["status"] == "confirmed", f"get_test: {out}")
    out = structured(await client.call_tool("get_analytics", {"test_id": sid}), "get_analytics")
    check(isinstance(out["overall"], (int, float)), f"get_analytics: {out}")
    out = structured(await client.call_tool("get_insights", {"test_id": sid}), "get_insights")
    check(out["insights"] and out["insights"][0]["recommendation"], f"get_insights(test): {out}")
    out = structured(await client.call_tool("get_insights", {"study_id": job}), "get_insights")
    check(out["total"] >= 1, f"get_insights(study): {out}")
    missing = await client.call_tool("get_study", {"study_id": "job_01jz0000000000000000000000"})
    check(missing.is_error and "not found" in missing.content[0].text, "a missing study is 'not found'")
    step(f"{label}: called list_studies, get_study, list_tests, get_test, get_analytics, get_insights")


async def handshake_era(seeded):
    storage, browser, log = Storage(), Browser(seeded["biz"]["email"], [["read", "draft"]]), []
    async with httpx2.AsyncClient(auth=provider(storage, browser), timeout=60, event_hooks={"response": [recorder(log)]}) as http:
        async with Client(streamable_http_client(MCP_URL, http_client=http), mode="legacy") as client:
            check(client.protocol_version == "2025-11-25", f"negotiated {client.protocol_version}")
            paths = [(m, p, s) for m, p, s, _ in log]
            check(("POST", "/api/mcp", 401) in paths, f"no 401 challenge first: {paths}")
            check(("GET", "/.well-known/oauth-protected-resource/api/mcp", 200) in paths, f"no RFC 9728 discovery: {paths}")
            check(("GET", "/.well-known/oauth-authorization-server", 200) in paths, f"no RFC 8414 discovery: {paths}")
            check(("POST", "/api/oauth/register", 201) in paths, f"no dynamic registration: {paths}")
            check(("POST", "/api/oauth/token", 200) in paths, f"no token exchange: {paths}")
            asked = browser.requests[0]
            check(asked["code_challenge_method"] == "S256" and asked["scope"] == "read draft", f"authorize: {asked}")
            check(asked.get("resource") == MCP_URL, f"RFC 8707 resource: {asked}")
            check(storage.tokens.access_token.startswith("osat_") and storage.tokens.scope == "read draft", "tokens")
            step("handshake era: 401 -> metadata -> registration -> authorize (PKCE S256) -> consent -> token; initialize 2025-11-25")
            with warnings.catch_warnings():
                # The SDK warns that `ping` left the protocol in 2026-07-28; this is the 2025 era.
                warnings.simplefilter("ignore")
                await client.send_ping()
            step("handshake era: ping")
            await call_every_tool(client, seeded, "handshake era")
            out = structured(await client.call_tool("create_draft_study", {
                "title": "Sign-up flow", "target_url": "https://app.example.com/signup", "max_testers": 4,
                "tasks": ["Create an account"], "required_nd_categories": ["adhd"]}), "create_draft_study")
            check(out["status"] == "draft" and out["dashboard_url"] == f"{BASE}/app/studies/{out['study_id']}", f"draft: {out}")
            rest = api("GET", f"/api/jobs/{out['study_id']}", None, seeded["biz"]["auth"])
            check(rest["status"] == "draft", "the draft is never launched")
            step(f"handshake era: create_draft_study -> {out['study_id']} (draft), {out['dashboard_url']}")
    check(any(m == "DELETE" and p == "/api/mcp" and s == 204 for m, p, s, _ in log), "the session was ended with DELETE")
    step("handshake era: session ended (DELETE /api/mcp -> 204)")


async def per_request_era(seeded):
    # The user unticks `draft` on the first consent; the step-up consent grants it.
    storage, browser, log = Storage(), Browser(seeded["biz"]["email"], [["read"], ["read", "draft"]]), []
    async with httpx2.AsyncClient(auth=provider(storage, browser), timeout=60, event_hooks={"response": [recorder(log)]}) as http:
        async with Client(streamable_http_client(MCP_URL, http_client=http), mode="auto") as client:
            check(client.protocol_version == "2026-07-28", f"negotiated {client.protocol_version}")
            check(storage.tokens.scope == "read", f"first grant: {storage.tokens.scope}")
            read_only = storage.tokens.access_token
            step("per-request era: server/discover -> 2026-07-28, read-only grant")
            await call_every_tool(client, seeded, "per-request era")

            # The read-only token itself, without the SDK: 403 and the challenge.
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": "create_draft_study", "arguments": {"title": "Blocked", "target_url": "https://x.example.com"},
                "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}}
            async with httpx2.AsyncClient(timeout=30) as raw:
                res = await raw.post(MCP_URL, json=body, headers={
                    "authorization": f"Bearer {read_only}", "accept": "application/json, text/event-stream",
                    "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "create_draft_study"})
            challenge = res.headers.get("www-authenticate", "")
            check(res.status_code == 403 and 'error="insufficient_scope"' in challenge and 'scope="draft"' in challenge,
                  f"read-only create_draft_study: {res.status_code} {challenge}")
            step(f"per-request era: create_draft_study with the read-only token -> 403 ({challenge})")

            # Through the SDK: the same 403, then step-up to `read draft` and the call succeeds.
            out = structured(await client.call_tool("create_draft_study", {
                "title": "Pricing page", "target_url": "https://app.example.com/pricing"}), "create_draft_study")
            check(any(p == "/api/mcp" and s == 403 and "insufficient_scope" in w for _, p, s, w in log),
                  "the SDK saw the 403 insufficient_scope")
            check(len(browser.requests) == 2 and set(browser.requests[1]["scope"].split()) == {"read", "draft"},
                  f"step-up authorization: {browser.requests}")
            check(storage.tokens.scope == "read draft", f"after step-up: {storage.tokens.scope}")
            check(out["status"] == "draft", f"draft: {out}")
            step(f"per-request era: SDK got 403 insufficient_scope, stepped up to 'read draft', created {out['study_id']}")
    check(not any(m == "DELETE" for m, *_ in log), "no sessions in the per-request era")


async def main():
    seeded = seed()
    step(f"seeded {seeded['job']} with analysed test {seeded['session']} and a study report")
    await handshake_era(seeded)
    await per_request_era(seeded)
    step("OK")


if __name__ == "__main__":
    asyncio.run(main())
