"""Shared set-up of the bench scripts: a JSON client for the API, a launched study, and
testers with consenting sessions."""
import json
import urllib.request


class Api:
    def __init__(self, url):
        self.url = url

    def call(self, method, path, body=None, auth=None):
        """One request; returns the envelope's `data` (raises on an HTTP error)."""
        req = urllib.request.Request(self.url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        req.add_header("content-type", "application/json")
        if auth:
            req.add_header("authorization", auth)
        return json.load(urllib.request.urlopen(req))["data"]


def launched_study(api, title):
    """A business and its launched study (GB, ADHD, 100 seats): `(business auth, study id)`."""
    biz = api.call("POST", "/api/auth/signup",
                   {"email": "b@x.io", "password": "bench-password", "fullName": "B", "role": "business"})
    auth = "Bearer " + biz["accessToken"]
    job = api.call("POST", "/api/jobs", {
        "title": title, "description": "d", "prototypeUrl": "https://x.io", "prototypeType": "url",
        "tasks": [{"title": "t", "description": "d", "successCriteria": "s", "order": 1}],
        "targeting": {"countries": ["GB"], "testerCount": 100}, "ndCategories": ["adhd"],
        "compensation": {"currency": "GBP", "amount": 10, "type": "flat"}}, auth)["jobId"]
    api.call("POST", f"/api/jobs/{job}/launch", {}, auth)
    return auth, job


def tester_session(api, job, n, facial=False, voice=False):
    """Tester number `n` joins `job` and starts a session with consent for events (and, if
    asked, facial and voice): `(session id, test token)`."""
    t = api.call("POST", "/api/auth/signup",
                 {"email": f"t{n}@x.io", "password": "bench-password", "fullName": "T", "role": "tester"})
    auth = "Bearer " + t["accessToken"]
    api.call("PUT", "/api/testers/me/profile", {"ndCategories": ["adhd"], "country": "GB"}, auth)
    api.call("POST", f"/api/jobs/{job}/accept", {}, auth)
    s = api.call("POST", "/api/sessions", {"jobId": job, "testerId": t["user"]["userId"]}, auth)
    streams = {"events": True, "facial": facial, "voice": voice, "screenshots": False}
    api.call("POST", f"/api/sessions/{s['id']}/consent", {"version": "v1", "streams": streams}, "Token " + s["testToken"])
    return s["sessionId"], s["testToken"]
