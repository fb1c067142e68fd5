//! Screen recordings in the rrweb format (api.md §5.1): a recording made by the real rrweb
//! package in Chromium (`tests/browser/fixtures/rrweb/`, see its `generate.py`) sent in
//! chunks, masked, read back, derived into §5 events the engine analyses; typed values never
//! stored nor served; oversized, over-ratio and malformed bodies refused with nothing stored;
//! a recording without its full snapshot reported; erasure and retention delete it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};

use axum::http::Method;
use openscouter_server::clock::Clock;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Account, Backend, TestApp, study_body};
use crate::recorder_cases::browser_dir;

both!(
    a_real_rrweb_recording_is_stored_masked_and_analysed,
    typed_values_are_never_stored_or_served,
    bad_bodies_are_refused_and_store_nothing,
    a_recording_without_its_full_snapshot_is_reported,
    erasure_and_retention_delete_the_recording
);

/// The committed rrweb recording of `page`, moved to start `offset` ms after the clock's now.
pub fn fixture(app: &TestApp, page: &str, offset: i64) -> Vec<Value> {
    let path = browser_dir(&format!("fixtures/rrweb/{page}.rrweb.json"));
    let mut events: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let first = events[0]["timestamp"].as_i64().unwrap();
    let shift = app.clock.now_ms() + offset - first;
    for e in &mut events {
        e["timestamp"] = json!(e["timestamp"].as_i64().unwrap() + shift);
    }
    events
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// A recording study's running session: business, tester, session id, test token header.
pub struct Rec {
    pub biz: Account,
    pub tester: Account,
    pub job: String,
    pub sid: String,
    pub tt: String,
}

/// A study with `recordScreen` and a session whose tester consented to every stream.
pub async fn recording_session(app: &TestApp, title: &str, screen: bool) -> Rec {
    let biz = app.signup("business").await;
    let mut body = study_body();
    body["tasks"][0]["title"] = json!(title);
    body["settings"]["recordScreen"] = json!(screen);
    let job = app.launched_study(&biz, body).await;
    let tester = app.tester().await;
    let (sid, token) = app.session(&tester, &job).await;
    let tt = format!("Token {token}");
    let consent = json!({"version": "v1", "streams": {"events": true, "facial": true, "voice": true, "screenshots": true}});
    app.post(&format!("/api/sessions/{sid}/consent"), consent, Some(&tt)).await.ok();
    Rec { biz, tester, job, sid, tt }
}

/// Posts a chunk as raw bytes (gzip when `gz`).
async fn post_chunk(app: &TestApp, tt: &str, body: &Value, gz: bool) -> crate::helpers::Res {
    let text = body.to_string();
    if gz {
        let bytes = gzip(text.as_bytes());
        // The test client sends strings; gzip bytes go through the raw path.
        raw(app, tt, bytes, &[("content-encoding", "gzip")]).await
    } else {
        app.call(Method::POST, "/api/data/screen", Some(body.clone()), &[("authorization", tt)]).await
    }
}

/// A raw body to `/api/data/screen`.
async fn raw(app: &TestApp, tt: &str, bytes: Vec<u8>, headers: &[(&str, &str)]) -> crate::helpers::Res {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder()
        .method("POST")
        .uri("/api/data/screen")
        .header("content-type", "application/json")
        .header("authorization", tt);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req.body(Body::from(bytes)).unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo("127.0.0.1:40000".parse::<std::net::SocketAddr>().unwrap()));
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    crate::helpers::record_status(&Method::POST, "/api/data/screen", status);
    crate::helpers::Res { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::Null), text }
}

/// Every stored chunk of the session, decompressed, as text (what the database holds).
async fn stored_text(app: &TestApp, sid: &str) -> String {
    let chunks = app
        .state
        .store
        .recording_chunks(&openscouter_server::domain::Tenant::All, &sid.into(), 0, 1000)
        .await
        .unwrap();
    let mut out = String::new();
    for (_, data) in chunks {
        flate2::read::MultiGzDecoder::new(&data[..]).read_to_string(&mut out).unwrap();
    }
    out
}

async fn a_real_rrweb_recording_is_stored_masked_and_analysed(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let r = recording_session(&app, "Pay for the socks", true).await;
    let events = fixture(&app, "dead-submit", 0);
    let (one, two) = events.split_at(20);
    let study = app.get(&format!("/api/jobs/{}", r.job), Some(&r.biz.bearer())).await;
    let task = study.ok()["tasks"][0]["taskId"].as_str().unwrap().to_owned();
    let first = json!({"sessionId": r.sid, "chunkId": "c1", "taskId": task, "events": one});
    let d = post_chunk(&app, &r.tt, &first, true).await;
    assert_eq!(
        (d.ok()["accepted"].as_u64(), d.ok()["duplicate"].as_bool()),
        (Some(20), Some(false)),
        "{}",
        d.text
    );
    let second = json!({"sessionId": r.sid, "chunkId": "c2", "taskId": task, "events": two});
    let d = post_chunk(&app, &r.tt, &second, false).await;
    assert_eq!(d.ok()["recording"]["chunks"], 2);
    assert_eq!(d.ok()["recording"]["replayable"], true, "{}", d.text);
    // a retried chunk is a duplicate: nothing new
    let again = post_chunk(&app, &r.tt, &second, true).await;
    assert_eq!((again.ok()["duplicate"].as_bool(), again.ok()["accepted"].as_u64()), (Some(true), Some(0)));
    assert_eq!(again.ok()["recording"]["events"], events.len());

    // read back: the same events in order, typed values masked
    let back = app.get(&format!("/api/sessions/{}/recording", r.sid), Some(&r.biz.bearer())).await;
    assert_eq!(back.status, 200, "{}", back.text);
    let arr = back.body.as_array().unwrap();
    assert_eq!(arr.len(), events.len());
    assert_eq!(arr[5]["timestamp"], events[5]["timestamp"]);
    for typed in ["Lovelace", "Ada", "4242"] {
        assert!(!back.text.contains(typed), "{typed} served back");
        assert!(!stored_text(&app, &r.sid).await.contains(typed), "{typed} stored");
    }
    assert!(back.text.contains(r#""text":"************""#), "the name's 12 characters as stars");
    // the test token may not read it; another business gets a 404
    app.get(&format!("/api/sessions/{}/recording", r.sid), Some(&r.tt)).await.assert_error(403);
    let other = app.signup("business").await;
    app.get(&format!("/api/sessions/{}/recording", r.sid), Some(&other.bearer())).await.assert_error(404);

    // the derived events: typing bursts as lengths, four clicks that changed nothing
    let ev = app.get(&format!("/api/sessions/{}/events?limit=100", r.sid), Some(&r.biz.bearer())).await;
    let items = ev.ok().as_array().unwrap().clone();
    let of = |t: &str| items.iter().filter(|e| e["eventType"] == t).cloned().collect::<Vec<_>>();
    let clicks = of("click");
    assert_eq!(clicks.len(), 4, "{items:#?}");
    for c in &clicks {
        assert_eq!(c["targetSelector"], "#checkout > button.btn.btn-pay");
        assert_eq!(c["targetText"], "Pay £24.00");
        assert_eq!((c["mutations"].as_i64(), c["role"].as_str()), (Some(0), Some("button")));
        assert!(c["clientId"].as_str().unwrap().starts_with("rr:"));
        assert_eq!(c["taskId"], task);
    }
    let inputs = of("input");
    let lengths: Vec<i64> = inputs.iter().map(|i| i["inputLength"].as_i64().unwrap()).collect();
    assert_eq!(lengths, vec![12, 16], "{inputs:#?}");
    assert_eq!(inputs[0]["targetSelector"], "#name");
    let nav = of("navigation");
    assert_eq!(nav.len(), 1);
    assert_eq!(nav[0]["url"], "http://shop.test/dead-submit/");
    assert!(nav[0]["wordCount"].as_i64().unwrap() > 5, "{:?}", nav[0]);
    assert!(!of("focus").is_empty() && !of("blur").is_empty());
    // recorded both ways (rrweb and /sdk/recorder.js): one action is kept once, the recorder's
    let own = json!({"clientId": "own-1", "eventType": "click", "targetSelector": "#checkout > button.btn.btn-pay",
        "timestamp": clicks[0]["timestamp"], "mutations": 0, "hoverMs": 900});
    app.post("/api/data/events", json!({"sessionId": r.sid, "batch": [own]}), Some(&r.tt)).await.ok();
    let ev = app.get(&format!("/api/sessions/{}/events?type=click", r.sid), Some(&r.biz.bearer())).await;
    let ids: Vec<&str> =
        ev.ok().as_array().unwrap().iter().map(|e| e["clientId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert_eq!(ids[0], "own-1");

    // the session and its export report the recording
    let s = app.get(&format!("/api/sessions/{}", r.sid), Some(&r.biz.bearer())).await;
    assert_eq!(s.ok()["recording"]["events"], events.len());
    assert_eq!(s.ok()["recording"]["fullSnapshots"], 1);
    let export = app.get(&format!("/api/sessions/{}/export", r.sid), Some(&r.biz.bearer())).await;
    let header: Value = serde_json::from_str(export.text.lines().next().unwrap()).unwrap();
    assert_eq!(header["recording"]["replayable"], true);

    // analysed like any session: the dead Pay button is found (recorder.js's finding on it)
    let attempt = json!({"tasks": [{"taskId": task, "outcome": "abandon", "seq": 1,
        "startedAt": app.at(0), "endedAt": app.at(12_000)}]});
    app.post(&format!("/api/sessions/{}/feedback", r.sid), attempt, Some(&r.tt)).await.ok();
    app.clock.set_ms(app.clock.now_ms() + 13_000);
    app.post(&format!("/api/sessions/{}/complete", r.sid), json!({}), Some(&r.tt)).await.ok();
    // The session's own tester reads its findings before deciding (the business only after).
    let findings = app.analyzed(&r.sid, &r.tester.bearer()).await;
    assert!(
        findings
            .iter()
            .any(|f| f["wcag"]["criterion"] == "4.1.2" && f["selector"] == "#checkout > button.btn.btn-pay"),
        "{findings:#?}"
    );
}

async fn typed_values_are_never_stored_or_served(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let r = recording_session(&app, "Sign up", true).await;
    let t0 = app.clock.now_ms();
    let secret = "Zq7secretTYPED";
    let el = |id: i64, tag: &str, attrs: Value, kids: Value| json!({"type": 2, "id": id, "tagName": tag, "attributes": attrs, "childNodes": kids});
    let snapshot = json!({"type": 0, "id": 1, "childNodes": [
        el(2, "html", json!({}), json!([el(3, "body", json!({}), json!([
            el(4, "input", json!({"id": "name", "value": secret}), json!([])),
            el(5, "input", json!({"type": "password", "value": secret}), json!([])),
            el(6, "input", json!({"type": "hidden", "name": "csrf", "value": secret}), json!([])),
            el(7, "textarea", json!({"value": secret}), json!([{"type": 3, "id": 8, "textContent": secret}])),
            el(9, "select", json!({"value": secret}), json!([])),
            el(10, "input", json!({"type": "submit", "value": "Send"}), json!([])),
            // a rich-text editor: what is typed there is as private as an input's value
            el(13, "div", json!({"contenteditable": "true"}), json!([
                el(14, "p", json!({}), json!([{"type": 3, "id": 15, "textContent": secret}]))])),
        ]))]))
    ]});
    let events = json!([
        {"type": 4, "timestamp": t0, "data": {"href": "https://app.test/signup?email=a@b.c", "width": 800, "height": 600}},
        {"type": 2, "timestamp": t0 + 10, "data": {"node": snapshot, "initialOffset": {"left": 0, "top": 0}}},
        {"type": 3, "timestamp": t0 + 100, "data": {"source": 5, "id": 4, "text": secret, "isChecked": false}},
        {"type": 3, "timestamp": t0 + 200, "data": {"source": 0, "texts": [{"id": 8, "value": secret}],
            "attributes": [{"id": 4, "attributes": {"value": secret}}], "removes": [],
            "adds": [{"parentId": 3, "nextId": null, "node": el(11, "input", json!({"value": secret}), json!([]))},
                     {"parentId": 7, "nextId": null, "node": {"type": 3, "id": 12, "textContent": secret}}]}},
        {"type": 3, "timestamp": t0 + 300, "data": {"source": 5, "id": 11, "text": secret, "isChecked": false}},
        // typing in the editor: its text changes, a new paragraph comes in
        {"type": 3, "timestamp": t0 + 400, "data": {"source": 0, "texts": [{"id": 15, "value": secret}],
            "attributes": [], "removes": [],
            "adds": [{"parentId": 13, "nextId": null, "node": el(16, "p", json!({}), json!([{"type": 3, "id": 17, "textContent": secret}]))}]}}
    ]);
    let res = post_chunk(&app, &r.tt, &json!({"sessionId": r.sid, "events": events}), true).await;
    assert_eq!(res.ok()["accepted"], 6);
    let served = app.get(&format!("/api/sessions/{}/recording", r.sid), Some(&r.biz.bearer())).await;
    let stored = stored_text(&app, &r.sid).await;
    let export = app.get(&format!("/api/sessions/{}/export", r.sid), Some(&r.biz.bearer())).await;
    let evs = app.get(&format!("/api/sessions/{}/events", r.sid), Some(&r.biz.bearer())).await;
    for (what, text) in
        [("served", &served.text), ("stored", &stored), ("export", &export.text), ("events", &evs.text)]
    {
        for probe in [secret, "Zq7", "TYPED", "secret"] {
            assert!(!text.contains(probe), "{probe} {what}: {text}");
        }
    }
    let stars = "*".repeat(secret.len());
    assert_eq!(served.text.matches(&stars).count(), 15, "{}", served.text);
    // the submit button's own label is not a typed value
    assert!(served.text.contains(r#""value":"Send""#));
    // the query never reaches a derived event's url
    assert!(!evs.text.contains("email=") && evs.text.contains("https://app.test/signup"), "{}", evs.text);
}

async fn bad_bodies_are_refused_and_store_nothing(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let r = recording_session(&app, "Pay", true).await;
    let t0 = app.clock.now_ms();
    let body = |events: Value| json!({"sessionId": r.sid, "events": events}).to_string().into_bytes();
    let meta =
        json!({"type": 4, "timestamp": t0, "data": {"href": "https://a.test/", "width": 800, "height": 600}});
    // over 10 MiB on the wire: refused from its declared length
    let big = vec![b' '; 10 * 1024 * 1024 + 1];
    let m = raw(&app, &r.tt, big, &[]).await.assert_error(413);
    assert!(m.contains("10 MiB"), "{m}");
    // a small gzip that inflates past the ratio (and the 100 MiB limit): 413, memory capped
    let mut bomb = br#"{"sessionId":""#.to_vec();
    bomb.extend(std::iter::repeat_n(b'a', 120 * 1024 * 1024));
    let gz = gzip(&bomb);
    assert!(gz.len() < 1024 * 1024);
    let m = raw(&app, &r.tt, gz, &[("content-encoding", "gzip")]).await.assert_error(413);
    assert!(m.contains("100:1"), "{m}");
    // malformed: JSON, gzip, encoding, rrweb shape
    raw(&app, &r.tt, b"{\"sessionId\": ".to_vec(), &[]).await.assert_error(400);
    raw(&app, &r.tt, b"not gzip at all".to_vec(), &[("content-encoding", "gzip")]).await.assert_error(400);
    raw(&app, &r.tt, body(json!([meta])), &[("content-encoding", "br")]).await.assert_error(400);
    let m = raw(&app, &r.tt, body(json!([meta, {"type": 42, "timestamp": t0}])), &[]).await.assert_error(400);
    assert!(m.contains("events[1]"), "{m}");
    raw(&app, &r.tt, body(json!([meta, {"type": 3, "timestamp": "soon", "data": {}}])), &[])
        .await
        .assert_error(400);
    raw(&app, &r.tt, body(json!([])), &[]).await.assert_error(422);
    let m = raw(&app, &r.tt, body(json!([{"type": 4, "timestamp": t0 + 3_600_000, "data": {}}])), &[])
        .await
        .assert_error(422);
    assert!(m.contains("timestamp"), "{m}");
    let long =
        json!({"sessionId": r.sid, "chunkId": "x".repeat(65), "events": [meta]}).to_string().into_bytes();
    raw(&app, &r.tt, long, &[]).await.assert_error(422);
    // nothing stored by any of them
    app.get(&format!("/api/sessions/{}/recording", r.sid), Some(&r.biz.bearer())).await.assert_error(404);
    let ev = app.get(&format!("/api/sessions/{}/events", r.sid), Some(&r.biz.bearer())).await;
    assert_eq!(ev.body["metadata"]["total"], 0);
    // the settings and consent gate it
    let off = recording_session(&app, "Pay", false).await;
    let m = raw(&app, &off.tt, json!({"sessionId": off.sid, "events": [meta]}).to_string().into_bytes(), &[])
        .await
        .assert_error(422);
    assert!(m.contains("recordScreen"), "{m}");
    let no = recording_session(&app, "Pay", true).await;
    let consent = json!({"version": "v1", "streams": {"events": true}});
    app.post(&format!("/api/sessions/{}/consent", no.sid), consent, Some(&no.tt)).await.ok();
    let m = raw(&app, &no.tt, json!({"sessionId": no.sid, "events": [meta]}).to_string().into_bytes(), &[])
        .await
        .assert_error(422);
    assert!(m.contains("consent"), "{m}");
    // another session's token
    raw(&app, &no.tt, body(json!([meta])), &[]).await.assert_error(403);
}

async fn a_recording_without_its_full_snapshot_is_reported(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let r = recording_session(&app, "Pay", true).await;
    let t0 = app.clock.now_ms();
    // rrweb's first chunk lost: mouse and input events with no snapshot to apply them to
    let lost = json!([
        {"type": 3, "timestamp": t0 + 10, "data": {"source": 1, "positions": [{"x": 1, "y": 2, "id": 5, "timeOffset": 0}]}},
        {"type": 3, "timestamp": t0 + 20, "data": {"source": 2, "type": 2, "id": 5, "x": 1, "y": 2}}
    ]);
    let d =
        post_chunk(&app, &r.tt, &json!({"sessionId": r.sid, "chunkId": "late", "events": lost}), false).await;
    let rec = &d.ok()["recording"];
    assert_eq!(rec["replayable"], false, "{rec}");
    assert!(rec["problems"][0]["reason"].as_str().unwrap().contains("before any full snapshot"), "{rec}");
    let s = app.get(&format!("/api/sessions/{}", r.sid), Some(&r.biz.bearer())).await;
    assert_eq!(s.ok()["recording"]["replayable"], false);
    let export = app.get(&format!("/api/sessions/{}/export", r.sid), Some(&r.biz.bearer())).await;
    let header: Value = serde_json::from_str(export.text.lines().next().unwrap()).unwrap();
    assert_eq!(header["recording"]["replayable"], false);
    assert_eq!(header["recording"]["problems"].as_array().unwrap().len(), 1);
    // a later page load (Meta) whose full snapshot never came is reported too
    let mut events = fixture(&app, "dead-submit", 1000);
    events.truncate(4); // Load, DomContentLoaded, Meta, FullSnapshot
    let meta = events[2].clone();
    let mut again = meta.clone();
    again["timestamp"] = json!(meta["timestamp"].as_i64().unwrap() + 500);
    events.push(again);
    events.push(json!({"type": 3, "timestamp": meta["timestamp"].as_i64().unwrap() + 600, "data": {"source": 3, "id": 1, "x": 0, "y": 40}}));
    let d = post_chunk(&app, &r.tt, &json!({"sessionId": r.sid, "events": events}), false).await;
    let problems = d.ok()["recording"]["problems"].as_array().unwrap().clone();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[1]["reason"].as_str().unwrap().contains("without a full snapshot"));
}

async fn erasure_and_retention_delete_the_recording(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let r = recording_session(&app, "Pay", true).await;
    let events = fixture(&app, "dead-submit", 0);
    post_chunk(&app, &r.tt, &json!({"sessionId": r.sid, "events": events}), true).await.ok();
    // retention: the raw streams of an old session go, the recording with them
    let now = app.clock.now_ms();
    app.state.store.purge_streams(&r.sid.as_str().into(), now).await.unwrap();
    app.get(&format!("/api/sessions/{}/recording", r.sid), Some(&r.biz.bearer())).await.assert_error(404);
    assert!(stored_text(&app, &r.sid).await.is_empty());
    // erasure: the person's recordings go
    let e = recording_session(&app, "Pay", true).await;
    let events = fixture(&app, "dead-submit", 0);
    post_chunk(&app, &e.tt, &json!({"sessionId": e.sid, "events": events}), false).await.ok();
    app.send(Method::DELETE, "/api/me", None, &e.tester.bearer()).await.ok();
    app.drain_jobs().await;
    assert!(stored_text(&app, &e.sid).await.is_empty());
    let head = app
        .state
        .store
        .recording_head(&openscouter_server::domain::Tenant::All, &e.sid.as_str().into())
        .await
        .unwrap();
    assert!(head.is_none());
}

async fn analysed_recording(app: &TestApp) -> Rec {
    let r = recording_session(app, "Pay for the socks", true).await;
    let events = fixture(app, "dead-submit", 0);
    let study = app.get(&format!("/api/jobs/{}", r.job), Some(&r.biz.bearer())).await;
    let task = study.ok()["tasks"][0]["taskId"].as_str().unwrap().to_owned();
    let chunk = json!({"sessionId": r.sid, "chunkId": "all", "taskId": task, "events": events});
    post_chunk(app, &r.tt, &chunk, true).await.ok();
    let attempt = json!({"tasks": [{"taskId": task, "outcome": "abandon", "seq": 1,
        "startedAt": app.at(0), "endedAt": app.at(12_000)}]});
    app.post(&format!("/api/sessions/{}/feedback", r.sid), attempt, Some(&r.tt)).await.ok();
    let done = json!({"completedAt": app.at(13_000)});
    app.post(&format!("/api/sessions/{}/complete", r.sid), done, Some(&r.tt)).await.ok();
    // The session's own tester reads its findings before deciding (the business only after).
    let findings = app.analyzed(&r.sid, &r.tester.bearer()).await;
    assert!(!findings.is_empty());
    r
}

both!(the_replay_page_has_markers_under_its_own_csp);

async fn the_replay_page_has_markers_under_its_own_csp(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let r = analysed_recording(&app).await;
    let page = app.get(&format!("/app/sessions/{}/replay", r.sid), Some(&r.biz.bearer())).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'")
            && !csp.contains("unsafe-eval")
            && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
    assert!(page.text.contains(r#"<script src="/app/assets/rrweb-replay.js">"#));
    assert!(!page.text.contains("<script>"), "no inline script");
    assert!(page.text.contains("class=\"marker\""), "markers: {}", page.text);
    assert!(page.text.contains("Finding") && page.text.contains("Critical moment"), "{}", page.text);
    // the session page links to it; the player and the data are served from the binary
    let s = app.get(&format!("/app/sessions/{}", r.sid), Some(&r.biz.bearer())).await;
    assert!(s.text.contains(&format!("/app/sessions/{}/replay", r.sid)));
    let js = app.get("/app/assets/rrweb-replay.js", None).await;
    assert!(js.status == 200 && js.text.contains("rrwebReplay"));
    let data = app.get(&format!("/app/sessions/{}/recording.json", r.sid), Some(&r.biz.bearer())).await;
    assert_eq!(data.body.as_array().unwrap().len(), 41);
    // another business: not found
    let other = app.signup("business").await;
    assert_eq!(app.get(&format!("/app/sessions/{}/replay", r.sid), Some(&other.bearer())).await.status, 404);
}

/// The replay page in Chromium: rrweb's player rebuilds the recording in a frame sandboxed
/// without scripts, the markers seek it from the keyboard, axe-core finds nothing, and
/// a screenshot goes to `target/screenshots/replay.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_page_in_chromium() {
    use crate::dashboard_browser::{axe, axe_source, sign_in};
    let Some(browser) = crate::webdriver::Browser::launch_or_skip().await else { return };
    let Some(app) = TestApp::with_system_clock(Backend::Sqlite, &[]).await else { return };
    let served = app.serve_http().await;
    let r = analysed_recording(&app).await;
    let b = &browser;
    sign_in(b, &served.base, &r.biz, "/app/studies").await;
    b.goto(&format!("{}/app/sessions/{}/replay", served.base, r.sid)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut status = String::new();
    while std::time::Instant::now() < deadline {
        status = b
            .execute("return document.getElementById('replay-status').textContent;", json!([]))
            .await
            .as_str()
            .unwrap_or("")
            .to_owned();
        if status.contains("events loaded") || status.contains("could not") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(status.contains("41 events loaded"), "{status}");
    let sandbox = b
        .execute(
            "const f = document.querySelector('#replay iframe'); return f && f.getAttribute('sandbox');",
            json!([]),
        )
        .await;
    assert_eq!(sandbox, json!("allow-same-origin"), "the replayed page runs no script");
    let rebuilt = b
        .execute(
            "const f = document.querySelector('#replay iframe'); return f.contentDocument.body.innerText;",
            json!([]),
        )
        .await;
    assert!(rebuilt.as_str().unwrap_or("").contains("Checkout"), "{rebuilt}");
    // a marker, from the keyboard: focus it, Enter; the position moves to it
    // (a moment after the recording's last event, e.g. the task's end, seeks to its end)
    let marker = b.find("button.marker").await;
    let at = b.execute("return document.querySelector('button.marker').dataset.at;", json!([])).await;
    let end = b.execute("return document.getElementById('replay-seek').max;", json!([])).await;
    b.send_keys(&marker, "\u{E007}").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let pos = b.execute("return document.getElementById('replay-seek').value;", json!([])).await;
    let num = |v: &Value| v.as_str().map(|p| p.parse::<i64>().unwrap()).unwrap();
    // (the slider moves in steps of 100 ms)
    let want = num(&at).min(num(&end));
    assert!((want - num(&pos)).abs() < 100, "position {pos}, marker at {at}, recording ends at {end}");
    let shots = crate::recorder_cases::target_dir().join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    b.screenshot(&shots.join("replay.png")).await;
    match axe_source() {
        Some(src) => {
            let v = axe(b, &src).await;
            assert!(v.is_empty(), "axe-core on the replay page: {v:#?}");
        }
        None if crate::webdriver::require_browser() => panic!("OPENSCOUTER_AXE_JS is required"),
        None => eprintln!("note: axe-core not installed, accessibility scan skipped"),
    }
    browser.quit().await;
}

/// The rrweb package's UMD build: `OPENSCOUTER_RRWEB_JS`, else `<target>/rrweb/…` as `.ci/run`
/// installs it.
fn rrweb_source() -> Option<String> {
    let path = std::env::var("OPENSCOUTER_RRWEB_JS").ok().filter(|p| !p.is_empty()).or_else(|| {
        let p = crate::recorder_cases::target_dir().join("rrweb/node_modules/rrweb/dist/rrweb.umd.min.cjs");
        p.exists().then(|| p.display().to_string())
    })?;
    std::fs::read_to_string(path).ok()
}

/// The real rrweb recorder in Chromium beside `/sdk/recorder.js`, on the same runs of the
/// dead-control and the form page: rrweb is injected into every document (DevTools'
/// `addScriptToEvaluateOnNewDocument`, the page untouched; it starts recording just after
/// `load`, as a recorder started from inside the load event kept chromedriver's navigation
/// from ever completing) and records while the scripted
/// tester struggles; recorder.js's items go to one session, rrweb's chunks to another; both
/// are analysed and must find the same barriers (criterion and selector).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rrweb_in_chromium_finds_what_the_recorder_finds() {
    use crate::browser::{PageServer, PageVars, delivered, drive};
    use crate::recorder_cases::{Outcome, PAGES};
    let Some(rrweb_js) = rrweb_source() else {
        assert!(
            !crate::webdriver::require_browser(),
            "OPENSCOUTER_RRWEB_JS (the rrweb npm package) is required"
        );
        eprintln!(
            "skipped: the rrweb npm package is not installed (.ci/run installs it, OPENSCOUTER_RRWEB_JS)"
        );
        return;
    };
    let Some(browser) = crate::webdriver::Browser::launch_or_skip().await else { return };
    let b = &browser;
    let inject = format!(
        "{rrweb_js}\n;window.__rr = [];window.addEventListener('load', function () {{ setTimeout(function () {{\
         window.rrweb.record({{ emit: function (e) {{ window.__rr.push(e); }} }}); }}, 50); }});"
    );
    b.cmd(
        reqwest::Method::POST,
        "/goog/cdp/execute",
        Some(json!({"cmd": "Page.addScriptToEvaluateOnNewDocument", "params": {"source": inject}})),
    )
    .await;
    let app = TestApp::with_system_clock(Backend::Sqlite, &[]).await.unwrap();
    let api = app.serve_http().await;
    let biz = app.signup("business").await;
    let pages: Vec<_> =
        PAGES.iter().filter(|p| p.name == "dead-submit" || p.name == "date-colour-error").collect();
    let mut body = study_body();
    body["prototypeUrl"] = json!("http://127.0.0.1/");
    body["settings"]["recordScreen"] = json!(true);
    body["targeting"]["testerCount"] = json!(6);
    body["tasks"] = pages
        .iter()
        .enumerate()
        .map(|(i, p)| json!({"title": p.task, "description": p.task, "successCriteria": "Done", "order": i + 1}))
        .collect();
    let job = app.launched_study(&biz, body).await;
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await;
    let tasks = study.ok()["tasks"].as_array().unwrap().clone();
    for page in pages {
        let task =
            tasks.iter().find(|t| t["title"] == page.task).unwrap()["taskId"].as_str().unwrap().to_owned();
        let mut sessions = Vec::new();
        // The sessions' own testers read the findings: the business sees none before they decide.
        let mut readers = Vec::new();
        for _ in 0..2 {
            let tester = app.tester().await;
            let (sid, token) = app.session(&tester, &job).await;
            let tt = format!("Token {token}");
            let consent = json!({"version": "v1", "streams": {"events": true, "screenshots": true}});
            app.post(&format!("/api/sessions/{sid}/consent"), consent, Some(&tt)).await.ok();
            sessions.push((sid, tt));
            readers.push(tester.bearer());
        }
        let ((js_sid, js_tt), (rr_sid, rr_tt)) = (sessions[0].clone(), sessions[1].clone());
        let server = PageServer::start(PageVars {
            api: api.base.clone(),
            endpoint: api.base.clone(),
            session: js_sid.clone(),
            token: js_tt.trim_start_matches("Token ").to_owned(),
            task: task.clone(),
        })
        .await;
        let started_at = openscouter_server::domain::format_ms(chrono::Utc::now().timestamp_millis());
        drive(b, page, &server.base).await;
        let ended_at = openscouter_server::domain::format_ms(chrono::Utc::now().timestamp_millis());
        delivered(b).await;
        let events = b.execute("return window.__rr;", json!([])).await;
        let events = events.as_array().cloned().unwrap_or_default();
        assert!(events.iter().any(|e| e["type"] == 2), "rrweb took a full snapshot: {} events", events.len());
        b.goto("about:blank").await;
        let half = events.len() / 2;
        for (i, part) in [&events[..half], &events[half..]].into_iter().enumerate() {
            let chunk =
                json!({"sessionId": rr_sid, "chunkId": format!("c{i}"), "taskId": task, "events": part});
            let res = post_chunk(&app, &rr_tt, &chunk, i == 0).await;
            assert_eq!(res.ok()["accepted"].as_u64(), Some(part.len() as u64), "{}", res.text);
        }
        let mut outcomes = Vec::new();
        for (k, (sid, tt)) in [(&js_sid, &js_tt), (&rr_sid, &rr_tt)].into_iter().enumerate() {
            let attempt = json!({"taskId": task, "outcome": page.outcome, "seq": page.seq,
                "startedAt": started_at, "endedAt": ended_at});
            app.post(&format!("/api/sessions/{sid}/feedback"), json!({"tasks": [attempt]}), Some(tt))
                .await
                .ok();
            app.post(&format!("/api/sessions/{sid}/complete"), json!({}), Some(tt)).await.ok();
            app.analyzed(sid, &readers[k]).await;
            let out = Outcome::read(&app, page.name, sid, &readers[k]).await;
            eprintln!("{}: {}", if sid == &js_sid { "recorder.js" } else { "rrweb" }, out.describe());
            let mut found: Vec<(String, Option<String>)> =
                out.findings.iter().map(|(c, sel, _, _)| (c.clone(), sel.clone())).collect();
            found.sort();
            outcomes.push(found);
        }
        assert!(!outcomes[0].is_empty(), "{}: recorder.js found nothing", page.name);
        assert_eq!(outcomes[1], outcomes[0], "{}: rrweb's findings vs recorder.js's", page.name);
        drop(server);
    }
    browser.quit().await;
}
