//! Sessions: creation rules, the state machine, test-token confinement, tenancy, variants.

#![allow(clippy::unwrap_used)]

use axum::http::Method;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, TestApp, study_body};

both!(
    session_lifecycle,
    test_tokens_are_confined,
    sessions_are_tenant_scoped,
    variants_are_balanced,
    feedback_and_notes
);

async fn session_lifecycle(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    let job = app.launched_study(&biz, study_body()).await;
    let tester = app.tester().await;
    let other = app.tester().await;
    let body = |t: &crate::helpers::Account| json!({"jobId": job, "testerId": t.user_id});
    // a tester needs a profile that matches (the call then accepts for them); only for
    // oneself; businesses cannot start sessions
    let stranger = app.signup("tester").await;
    let stranger_body = json!({"jobId": job, "testerId": stranger.user_id});
    assert_eq!(
        app.post("/api/sessions", stranger_body, Some(&stranger.bearer())).await.assert_error(422),
        "Complete your tester profile before accepting a study"
    );
    app.post(&format!("/api/jobs/{job}/accept"), json!({}), Some(&tester.bearer())).await.ok();
    app.post("/api/sessions", body(&tester), Some(&other.bearer())).await.assert_error(403);
    app.post("/api/sessions", body(&tester), Some(&biz.bearer())).await.assert_error(403);
    app.post(
        "/api/sessions",
        json!({"jobId": "job_nope", "testerId": tester.user_id}),
        Some(&tester.bearer()),
    )
    .await
    .assert_error(404);

    let res = app.post("/api/sessions", body(&tester), Some(&tester.bearer())).await;
    let s = res.ok().clone();
    let id = s["sessionId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("sess_"));
    let token = s["testToken"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 48);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_eq!(s["status"], "active");
    assert_eq!(s["pipelineStatus"], "collecting");
    assert_eq!(s["testerLabel"], "Tester 1");
    assert_eq!(s["testerId"], json!(tester.user_id));
    assert_eq!(
        app.post("/api/sessions", body(&tester), Some(&tester.bearer())).await.assert_error(422),
        "The tester already has a session in this study"
    );
    // the study is now in progress
    assert_eq!(app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await.ok()["status"], "in_progress");

    let tt = format!("Token {token}");
    let app_ref = &app;
    let act = |verb: &str| {
        let (path, tt) = (format!("/api/sessions/{id}/{verb}"), tt.clone());
        async move { app_ref.post(&path, json!({}), Some(&tt)).await }
    };
    assert_eq!(act("resume").await.assert_error(422), "Cannot resume a session that is active");
    assert_eq!(act("pause").await.ok()["status"], "paused");
    assert_eq!(act("pause").await.assert_error(422), "Cannot pause a session that is paused");
    app.clock.advance_ms(60_000);
    assert_eq!(act("resume").await.ok()["status"], "active");
    app.clock.advance_ms(30_000);
    // a malformed optional body is a 400 and changes nothing
    let bad = app
        .call_from(
            "127.0.0.1",
            axum::http::Method::POST,
            &format!("/api/sessions/{id}/complete"),
            Some("{oops".into()),
            &[("authorization", tt.as_str())],
        )
        .await;
    assert!(bad.assert_error(400).starts_with("Malformed JSON"));
    let done = app.post(&format!("/api/sessions/{id}/complete"), json!({}), Some(&tester.bearer())).await;
    assert_eq!(done.ok()["status"], "completed");
    assert_eq!(done.ok()["durationSeconds"], 30, "pauses are excluded");
    assert_eq!(act("complete").await.assert_error(422), "Cannot complete a session that is completed");
    assert_eq!(act("pause").await.assert_error(422), "Cannot pause a session that is completed");
    // nothing else moved
    let got = app.get(&format!("/api/sessions/{id}"), Some(&tester.bearer())).await;
    assert_eq!(got.ok()["status"], "completed");
    assert_eq!(got.ok()["consent"]["version"], Value::Null);
}

async fn test_tokens_are_confined(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    let job = app.launched_study(&biz, study_body()).await;
    let (t1, t2) = (app.tester().await, app.tester().await);
    let (s1, tok1) = app.session(&t1, &job).await;
    let (s2, _tok2) = app.session(&t2, &job).await;
    let tt = format!("Token {tok1}");
    // only its own session's controls and ingestion
    assert_eq!(
        app.post(&format!("/api/sessions/{s2}/pause"), json!({}), Some(&tt)).await.assert_error(403),
        "This test token belongs to another session"
    );
    let batch = json!({"sessionId": s2, "batch": [{"eventType": "click", "targetSelector": "#a", "timestamp": app.at(0)}]});
    app.post("/api/data/events", batch, Some(&tt)).await.assert_error(403);
    app.get("/api/me", Some(&tt)).await.assert_error(403);
    // api.md §11: its own session's briefing, nothing more (the session itself stays unreadable).
    let briefing = app.get(&format!("/api/sessions/{s1}"), Some(&tt)).await;
    assert_eq!(briefing.ok()["sessionId"], json!(s1), "{}", briefing.text);
    assert!(briefing.ok().get("testerId").is_none() && briefing.ok().get("pipelineStatus").is_none());
    app.get(&format!("/api/sessions/{s1}/events"), Some(&tt)).await.assert_error(403);
    app.get("/api/jobs", Some(&tt)).await.assert_error(403);
    app.post("/api/tokens", json!({"name": "x", "scopes": ["read"]}), Some(&tt)).await.assert_error(403);
    app.post(&format!("/api/sessions/{s1}/pause"), json!({}), Some(&tt)).await.ok();
    // expired after 24 h
    app.clock.advance_ms(24 * 3600 * 1000 + 1);
    app.post(&format!("/api/sessions/{s1}/resume"), json!({}), Some(&tt)).await.assert_error(401);
    app.get("/api/me", Some("Token 0123456789abcdef0123456789abcdef0123456789abcdef"))
        .await
        .assert_error(401);
}

async fn sessions_are_tenant_scoped(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let acme = app.signup("business").await;
    let globex = app.signup("business").await;
    let job = app.launched_study(&acme, study_body()).await;
    let (t1, t2) = (app.tester().await, app.tester().await);
    let (s1, _) = app.session(&t1, &job).await;
    let path = format!("/api/sessions/{s1}");
    app.get(&path, Some(&t2.bearer())).await.assert_error(404);
    app.get(&path, Some(&globex.bearer())).await.assert_error(404);
    app.get(&format!("{path}/events"), Some(&globex.bearer())).await.assert_error(404);
    app.get(&format!("{path}/export"), Some(&globex.bearer())).await.assert_error(404);
    app.post(&format!("{path}/pause"), json!({}), Some(&t2.bearer())).await.assert_error(404);
    // the study's business sees it anonymised, but cannot control it
    let seen = app.get(&path, Some(&acme.bearer())).await;
    assert_eq!(seen.ok()["testerLabel"], "Tester 1");
    // One tester in the study: their category would identify them (tests/api/privacy.rs).
    assert_eq!(seen.ok()["ndCategories"], json!([]));
    assert!(seen.ok().get("testerId").is_none());
    assert!(!seen.text.contains(&t1.user_id) && !seen.text.contains(&t1.email));
    app.post(&format!("{path}/pause"), json!({}), Some(&acme.bearer())).await.assert_error(403);
    let list = app.get(&format!("/api/jobs/{job}/sessions"), Some(&acme.bearer())).await;
    assert_eq!(list.body["metadata"]["total"], 1);
    assert!(!list.text.contains(&t1.user_id));
    assert_eq!(app.get(&format!("/api/jobs/{job}/sessions"), Some(&t1.bearer())).await.status.as_u16(), 403);
    // lists
    assert_eq!(app.get("/api/sessions", Some(&t1.bearer())).await.body["metadata"]["total"], 1);
    assert_eq!(app.get("/api/sessions", Some(&t2.bearer())).await.body["metadata"]["total"], 0);
    assert_eq!(app.get("/api/sessions", Some(&globex.bearer())).await.body["metadata"]["total"], 0);
    assert_eq!(
        app.get(&format!("/api/sessions?jobId={job}&status=active"), Some(&acme.bearer())).await.body["metadata"]
            ["total"],
        1
    );
    app.get("/api/sessions?status=bogus", Some(&acme.bearer())).await.assert_error(400);
}

async fn variants_are_balanced(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    let mut body = study_body();
    body["targeting"]["testerCount"] = json!(4);
    body["abTest"] = json!({"enabled": true, "variants": [{"label": "A"}, {"label": "B"}], "splitRatio": {"A": 0.5, "B": 0.5}});
    let job = app.launched_study(&biz, body).await;
    let mut variants = vec![];
    for _ in 0..4 {
        let t = app.tester().await;
        let (id, _) = app.session(&t, &job).await;
        variants.push(
            app.get(&format!("/api/sessions/{id}"), Some(&t.bearer())).await.ok()["variant"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    variants.sort();
    assert_eq!(variants, ["A", "A", "B", "B"]);
}

async fn feedback_and_notes(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let crate::helpers::Live { biz, job, sid, tt, .. } = app.live_session().await;
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await;
    let task = study.ok()["tasks"][0]["taskId"].as_str().unwrap().to_owned();
    let fb = json!({"tasks": [{"taskId": task, "outcome": "success", "seq": 6, "startedAt": app.at(0), "endedAt": app.at(5000)}],
                    "sus": [4, 2, 4, 2, 4, 2, 4, 2, 4, 2], "nps": 9});
    let res = app.post(&format!("/api/sessions/{sid}/feedback"), fb, Some(&tt)).await;
    assert_eq!(res.ok()["tasks"][0]["seq"], 6);
    assert_eq!(res.ok()["nps"], 9);
    for (bad, field) in [
        (
            json!({"tasks": [{"taskId": "task_x", "outcome": "success", "startedAt": app.at(0), "endedAt": app.at(1)}]}),
            "tasks[0].taskId",
        ),
        (
            json!({"tasks": [{"taskId": task, "outcome": "meh", "startedAt": app.at(0), "endedAt": app.at(1)}]}),
            "tasks[0].outcome",
        ),
        (
            json!({"tasks": [{"taskId": task, "outcome": "fail", "seq": 8, "startedAt": app.at(0), "endedAt": app.at(1)}]}),
            "tasks[0].seq",
        ),
        (
            json!({"tasks": [{"taskId": task, "outcome": "fail", "startedAt": app.at(5), "endedAt": app.at(1)}]}),
            "tasks[0].endedAt",
        ),
        (json!({"sus": [1, 2, 3]}), "sus"),
        (json!({"nps": 11}), "nps"),
    ] {
        let msg = app.post(&format!("/api/sessions/{sid}/feedback"), bad, Some(&tt)).await.assert_error(422);
        assert!(msg.starts_with(field), "{msg}");
    }
    // notes
    let res = app
        .post(
            &format!("/api/sessions/{sid}/notes"),
            json!({"text": "I can't find the pay button"}),
            Some(&tt),
        )
        .await;
    assert!(res.ok()["noteId"].as_str().unwrap().starts_with("note_"));
    app.post(&format!("/api/sessions/{sid}/notes"), json!({"text": ""}), Some(&tt)).await.assert_error(422);
    app.post(
        &format!("/api/sessions/{sid}/notes"),
        json!({"text": "x", "timestamp": app.at(3_600_000)}),
        Some(&tt),
    )
    .await
    .assert_error(422);
    let notes = app.get(&format!("/api/sessions/{sid}/notes"), Some(&biz.bearer())).await;
    assert_eq!(notes.body["metadata"]["total"], 1);
    assert_eq!(notes.ok()[0]["text"], "I can't find the pay button");
    app.post(&format!("/api/sessions/{sid}/notes"), json!({"text": "x"}), Some(&biz.bearer()))
        .await
        .assert_error(403);
    // consent validation
    app.post(&format!("/api/sessions/{sid}/consent"), json!({"version": "", "streams": {"events": true, "facial": false, "voice": false, "screenshots": false}}), Some(&tt)).await.assert_error(422);
    // a stream left out is not consented (api.md §4)
    let c = app.post(&format!("/api/sessions/{sid}/consent"), json!({"version": "v2"}), Some(&tt)).await;
    assert_eq!(
        c.ok()["consent"]["streams"],
        json!({"events": false, "facial": false, "voice": false, "screenshots": false})
    );
    let _ = Method::GET;
}
