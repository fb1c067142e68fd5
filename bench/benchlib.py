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


# The answers of the capacity quiz `migrate` ships (version 1), as the API tests use them.
QUIZ_ANSWERS = {"q_001": "b", "q_002": "c", "q_003": "a", "q_004": "d", "q_005": "b",
                "q_006": "a", "q_007": "c", "q_008": "b", "q_009": "d", "q_010": "b"}


def launched_study(api, title, tester_count=100, email="b@x.io"):
    """A business and its launched study (GB, ADHD, `tester_count` seats, recording facial and
    voice): `(business auth, study id)`."""
    biz = api.call("POST", "/api/auth/signup",
                   {"email": email, "password": "bench-password", "fullName": "B", "role": "business"})
    auth = "Bearer " + biz["accessToken"]
    job = api.call("POST", "/api/jobs", {
        "title": title, "description": "d", "prototypeUrl": "https://x.io", "prototypeType": "url",
        "tasks": [{"title": "t", "description": "d", "successCriteria": "s", "order": 1}],
        "targeting": {"countries": ["GB"], "testerCount": tester_count}, "ndCategories": ["adhd"],
        "compensation": {"currency": "GBP", "amount": 10, "type": "flat"},
        "settings": {"recordFacial": True, "recordVoice": True}}, auth)["jobId"]
    api.call("POST", f"/api/jobs/{job}/launch", {}, auth)
    return auth, job


def eligible_tester(api, n):
    """Tester number `n`, signed up and eligible as the API requires before a profile is saved
    (special-category consent, then the capacity quiz), with a matching profile: their auth."""
    t = api.call("POST", "/api/auth/signup",
                 {"email": f"t{n}@x.io", "password": "bench-password", "fullName": "T", "role": "tester"})
    auth = "Bearer " + t["accessToken"]
    api.call("POST", "/api/testers/me/consent", {"version": "v1.1", "specialCategory": True}, auth)
    quiz = api.call("GET", "/api/quiz", auth=auth)
    attempt = api.call("POST", "/api/quiz/attempts", {"quizId": quiz["quizId"], "answers": QUIZ_ANSWERS}, auth)
    assert attempt["passed"], attempt
    api.call("PUT", "/api/testers/me/profile", {"ndCategories": ["adhd"], "country": "GB"}, auth)
    return auth, t["user"]["userId"]


def tester_session(api, job, n, facial=False, voice=False, with_auth=False):
    """Tester number `n` joins `job` and starts a session with consent for events (and, if
    asked, facial and voice): `(session id, test token)` (and the tester's auth if
    `with_auth`)."""
    auth, user_id = eligible_tester(api, n)
    api.call("POST", f"/api/jobs/{job}/accept", {}, auth)
    s = api.call("POST", "/api/sessions", {"jobId": job, "testerId": user_id}, auth)
    streams = {"events": True, "facial": facial, "voice": voice, "screenshots": False}
    api.call("POST", f"/api/sessions/{s['sessionId']}/consent", {"version": "v1", "streams": streams},
             "Token " + s["testToken"])
    if with_auth:
        return s["sessionId"], s["testToken"], auth
    return s["sessionId"], s["testToken"]
