//! The study runs by itself (api.md §11): from the testers' sessions to the study report with
//! nobody calling an agent; a failing step is marked, told and left behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use openscouter_server::domain::QueueKind;
use openscouter_server::error::AppError;
use openscouter_server::worker::{Handler, dispatch, run_next};

use crate::both;
use crate::helpers::{Account, Backend, TestApp, study_body};

both!(
    a_study_goes_from_launch_to_its_report_by_itself,
    a_failed_analysis_leaves_the_study_report_to_the_others,
    the_duration_limit_completes_with_data_and_frees_an_empty_sessions_seat,
    study_settings_are_enforced_per_item,
    a_test_token_reads_its_briefing,
    undecided_findings_are_reminded_after_the_studys_hours_and_at_72_h,
    an_abandoned_tester_tries_again_and_reaches_the_report,
);

const CRON: &str = "cron-secret-for-tests";
const MINUTE: i64 = 60_000;

/// The kinds of the caller's notifications, oldest first.
async fn notice_kinds(app: &TestApp, who: &Account) -> Vec<String> {
    let res = app.get("/api/notifications?limit=100", Some(&who.bearer())).await;
    let mut kinds: Vec<String> =
        res.ok().as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap().to_owned()).collect();
    kinds.reverse();
    kinds
}

fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

/// Three testers each start a session, record a broken checkout and complete it.
async fn three_completed(app: &TestApp, biz: &Account, job: &str) -> Vec<(Account, String)> {
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await;
    let task = study.ok()["tasks"][0]["taskId"].as_str().unwrap().to_owned();
    let mut out = Vec::new();
    for _ in 0..3 {
        let t = app.tester().await;
        let (sid, token) = app.session(&t, job).await;
        app.broken_checkout(&sid, &format!("Token {token}"), &task).await;
        out.push((t, sid));
    }
    out
}

async fn a_study_goes_from_launch_to_its_report_by_itself(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    let job = app.launched_study(&biz, study_body()).await;
    let testers = three_completed(&app, &biz, &job).await;
    for (_, sid) in &testers {
        let s = app.get(&format!("/api/sessions/{sid}"), Some(&biz.bearer())).await;
        assert_eq!(
            (s.ok()["status"].as_str(), s.ok()["pipelineStatus"].as_str()),
            (Some("completed"), Some("queued"))
        );
    }
    // Agent 2 was queued by each completion; a worker runs the queue.
    app.drain_jobs().await;
    for (t, sid) in &testers {
        let s = app.get(&format!("/api/sessions/{sid}"), Some(&biz.bearer())).await;
        assert_eq!(
            (s.ok()["status"].as_str(), s.ok()["pipelineStatus"].as_str()),
            (Some("analyzed"), Some("awaiting_confirmation"))
        );
        // The tester is told, with the page where they confirm.
        let notices = app.get("/api/notifications", Some(&t.bearer())).await;
        let ready: Vec<&Value> =
            notices.ok().as_array().unwrap().iter().filter(|n| n["kind"] == "findings.ready").collect();
        assert_eq!(ready.len(), 1, "{}", notices.text);
        assert_eq!(ready[0]["data"]["sessionId"], sid.as_str());
        assert!(ready[0]["data"]["url"].as_str().unwrap().ends_with(&format!("/app/sessions/{sid}")));
        // Nothing reaches a report before the tester confirms.
        app.get(&format!("/api/sessions/{sid}/report"), Some(&biz.bearer())).await.assert_error(404);
    }
    app.get(&format!("/api/reports/job/{job}"), Some(&biz.bearer())).await.assert_error(404);

    for (i, (t, sid)) in testers.iter().enumerate() {
        assert_eq!(app.confirm_all(sid, &t.bearer()).await.ok()["status"], "confirmed");
        app.drain_jobs().await;
        // Agent 3 ran for the confirmed session.
        let r = app.get(&format!("/api/sessions/{sid}/report"), Some(&biz.bearer())).await;
        assert_eq!(r.ok()["sessionId"], sid.as_str(), "{}", r.text);
        let study_report = app.get(&format!("/api/reports/job/{job}"), Some(&biz.bearer())).await;
        if i < 2 {
            // The study is not complete yet: no synthesis.
            study_report.assert_error(404);
        } else {
            assert_eq!(study_report.ok()["jobId"], job.as_str(), "{}", study_report.text);
            assert_eq!(study_report.ok()["sessionsNotAnalysed"], json!([]));
        }
    }
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await;
    assert_eq!(study.ok()["status"], "completed");
    let s = app.get(&format!("/api/sessions/{}", testers[0].1), Some(&biz.bearer())).await;
    assert_eq!(s.ok()["pipelineStatus"], "reported");
    // The business was told of each report once: three session reports and the study's.
    let kinds = notice_kinds(&app, &biz).await;
    assert_eq!(count(&kinds, "report.ready"), 4, "{kinds:?}");
    // Nothing left to run, and running again changes nothing.
    assert_eq!(app.drain_jobs().await, 0);

    // The manual endpoints still answer: a re-run of Agent 4 by hand.
    let res = app.post(&format!("/api/reports/job/{job}"), json!({}), Some(&biz.bearer())).await;
    assert_eq!(res.ok()["status"], "queued");
    let again = app.post(&format!("/api/reports/job/{job}"), json!({}), Some(&biz.bearer())).await;
    assert_eq!(again.ok()["analysisJobId"], res.ok()["analysisJobId"], "the pending item, not a second");
}

/// Runs the queue with `handler`; retries come back after their backoff, so the clock moves
/// past it until nothing is due.
pub async fn run_all(app: &TestApp, handler: &Handler) {
    for _ in 0..10 {
        while run_next(&app.state, "test-worker", handler).await.unwrap() {}
        app.clock.advance_ms(600_000);
    }
}

async fn a_failed_analysis_leaves_the_study_report_to_the_others(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    let admin = app.admin().await;
    let job = app.launched_study(&biz, study_body()).await;
    let testers = three_completed(&app, &biz, &job).await;
    let doomed = testers[1].1.clone();
    // Agent 2 fails for one session on every attempt; the rest of the queue runs as usual.
    let failing = doomed.clone();
    let handler: Box<Handler> = Box::new(move |state, item| {
        let fail = item.kind == QueueKind::AnalyzeSession && item.subject_id == failing;
        Box::pin(async move {
            if fail {
                Err(AppError::Internal("the engine fell over".into()))
            } else {
                dispatch(state, item).await
            }
        })
    });
    run_all(&app, &*handler).await;
    let s = app.get(&format!("/api/sessions/{doomed}"), Some(&biz.bearer())).await;
    assert_eq!(
        (s.ok()["status"].as_str(), s.ok()["pipelineStatus"].as_str()),
        (Some("completed"), Some("failed"))
    );
    // The business and the admins are told.
    assert_eq!(count(&notice_kinds(&app, &biz).await, "pipeline.failed"), 1);
    assert_eq!(count(&notice_kinds(&app, &admin).await, "pipeline.failed"), 1);

    for (t, sid) in testers.iter().filter(|(_, s)| *s != doomed) {
        assert_eq!(app.confirm_all(sid, &t.bearer()).await.ok()["status"], "confirmed");
    }
    run_all(&app, &*handler).await;
    // The failed session settles its seat: the study is completed without it (decision 208).
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await;
    assert_eq!(study.ok()["status"], "completed", "{}", study.text);
    // The synthesis went on without the failed session, and names it.
    let report = app.get(&format!("/api/reports/job/{job}"), Some(&biz.bearer())).await;
    assert_eq!(report.ok()["sessionsNotAnalysed"], json!([doomed]), "{}", report.text);
    // A retry by hand queues Agent 2 again.
    let res = app.post(&format!("/api/sessions/{doomed}/analyze"), json!({}), Some(&biz.bearer())).await;
    assert_eq!(res.ok()["status"], "queued");
}

async fn the_duration_limit_completes_with_data_and_frees_an_empty_sessions_seat(b: Backend) {
    let Some(app) = TestApp::with(b, &[("OPENSCOUTER_CRON_SECRET", CRON)]).await else { return };
    let biz = app.signup("business").await;
    let job = app.launched_study(&biz, study_body()).await; // 45 min + 30 min grace
    let (with_data, idle) = (app.tester().await, app.tester().await);
    let (sid, token) = app.session(&with_data, &job).await;
    let last = app.at(60_000);
    let batch = vec![
        json!({"eventType": "click", "targetSelector": "#a", "timestamp": app.at(0)}),
        json!({"eventType": "click", "targetSelector": "#b", "timestamp": last}),
    ];
    app.events(&sid, &format!("Token {token}"), batch).await;
    let (empty, _) = app.session(&idle, &job).await;
    let seats = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await.ok()["seatsTaken"].clone();
    assert_eq!(seats, 2);

    app.clock.advance_ms(80 * MINUTE);
    let biz_auth = format!(
        "Bearer {}",
        app.post("/api/auth/signin", json!({"email": biz.email, "password": crate::helpers::PASSWORD}), None)
            .await
            .ok()["accessToken"]
            .as_str()
            .unwrap()
    );
    let res = app.post("/api/cron/session-timeouts", json!({}), Some(&format!("Bearer {CRON}"))).await;
    assert_eq!(res.ok()["processed"], 2, "{}", res.text);
    // With data: completed at its last item's time, and on into the flow.
    let s = app.get(&format!("/api/sessions/{sid}"), Some(&biz_auth)).await;
    assert_eq!(
        (s.ok()["status"].as_str(), s.ok()["pipelineStatus"].as_str()),
        (Some("completed"), Some("queued")),
        "{}",
        s.text
    );
    assert_eq!(s.ok()["completedAt"], json!(last));
    // Without: abandoned, and its seat free at once (here for another tester; the same tester
    // may try again: `an_abandoned_tester_tries_again_and_reaches_the_report`).
    let s = app.get(&format!("/api/sessions/{empty}"), Some(&biz_auth)).await;
    assert_eq!(s.ok()["status"], "abandoned");
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz_auth)).await;
    assert_eq!(study.ok()["seatsTaken"], 1, "{}", study.text);
    let idle_auth = format!(
        "Bearer {}",
        app.post(
            "/api/auth/signin",
            json!({"email": idle.email, "password": crate::helpers::PASSWORD}),
            None
        )
        .await
        .ok()["accessToken"]
            .as_str()
            .unwrap()
    );
    let next = app.tester().await;
    app.session(&next, &job).await;
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz_auth)).await;
    assert_eq!(study.ok()["seatsTaken"], 2, "{}", study.text);
    // Where the sessions are in the flow.
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz_auth)).await;
    let progress = &study.ok()["progress"];
    assert_eq!(progress["pipeline"]["queued"], 1, "{progress}");
    assert_eq!(progress["pipeline"]["collecting"], 1, "{progress}");
    assert_eq!(progress["pipeline"]["failed"], 0, "{progress}");
    assert_eq!(progress["abandoned"], 1, "{progress}");
    app.drain_jobs().await;
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz_auth)).await;
    assert_eq!(study.ok()["progress"]["pipeline"]["awaiting_confirmation"], 1, "{}", study.text);
    // Testers do not see the business's progress view.
    let mine = app.get(&format!("/api/jobs/{job}"), Some(&idle_auth)).await;
    assert!(mine.ok().get("progress").is_none(), "{}", mine.text);
}

async fn study_settings_are_enforced_per_item(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    let mut body = study_body();
    body["settings"] = json!({"recordFacial": false, "recordVoice": false, "requireThinkAloud": true});
    let job = app.launched_study(&biz, body).await;
    let t = app.tester().await;
    let (sid, token) = app.session(&t, &job).await; // consent to every stream
    let tt = format!("Token {token}");
    let facial = json!({"sessionId": sid, "batch": [{"timestamp": app.at(0), "emotion": "happy", "confidence": 0.9, "faceDetected": true}]});
    let res = app.post("/api/data/facial", facial, Some(&tt)).await;
    assert_eq!((res.ok()["accepted"].as_u64(), res.ok()["rejected"].as_u64()), (Some(0), Some(1)));
    assert!(res.ok()["rejections"][0]["reason"].as_str().unwrap().contains("recordFacial"), "{}", res.text);
    let voice = json!({"sessionId": sid, "batch": [{"timestamp": app.at(0), "durationMs": 1000, "transcript": "hm", "confidence": 0.9}]});
    let res = app.post("/api/data/voice", voice, Some(&tt)).await;
    assert_eq!(res.ok()["rejected"], 1);
    assert!(res.ok()["rejections"][0]["reason"].as_str().unwrap().contains("recordVoice"), "{}", res.text);
    // Events are always recorded.
    app.events(
        &sid,
        &tt,
        vec![json!({"eventType": "click", "targetSelector": "#a", "timestamp": app.at(0)})],
    )
    .await;
    // requireThinkAloud: neither a voice segment nor a note yet.
    let msg =
        app.post(&format!("/api/sessions/{sid}/complete"), json!({}), Some(&tt)).await.assert_error(422);
    assert!(msg.contains("requireThinkAloud") && msg.contains("note"), "{msg}");
    app.post(
        &format!("/api/sessions/{sid}/notes"),
        json!({"text": "The pay button does nothing"}),
        Some(&tt),
    )
    .await
    .ok();
    let done = app.post(&format!("/api/sessions/{sid}/complete"), json!({}), Some(&tt)).await;
    assert_eq!(done.ok()["status"], "completed", "{}", done.text);

    // An A/B variant's url must be http or https.
    let mut body = study_body();
    body["abTest"] = json!({"enabled": true, "variants": [{"label": "A", "url": "ftp://x.io"}, {"label": "B"}],
                            "splitRatio": {"A": 0.5, "B": 0.5}});
    let msg = app.post("/api/jobs", body, Some(&biz.bearer())).await.assert_error(422);
    assert!(msg.starts_with("abTest.variants[0].url"), "{msg}");
}

async fn a_test_token_reads_its_briefing(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    let mut body = study_body();
    body["settings"] = json!({"recordFacial": true, "recordVoice": false, "maxDurationMinutes": 30});
    body["abTest"] = json!({"enabled": true, "variants": [{"label": "A", "url": "https://a.shop.example.com/"}, {"label": "B"}],
                            "splitRatio": {"A": 0.5, "B": 0.5}});
    let job = app.launched_study(&biz, body).await;
    let t = app.tester().await;
    app.post(&format!("/api/jobs/{job}/accept"), json!({}), Some(&t.bearer())).await.ok();
    let created = app
        .post(
            "/api/sessions",
            json!({"jobId": job, "testerId": t.user_id, "variant": "A",
            "consent": {"version": "v1", "streams": {"events": true, "facial": false, "voice": true}}}),
            Some(&t.bearer()),
        )
        .await;
    let sid = created.ok()["sessionId"].as_str().unwrap().to_owned();
    let tt = format!("Token {}", created.ok()["testToken"].as_str().unwrap());
    let res = app.get(&format!("/api/sessions/{sid}"), Some(&tt)).await;
    let b = res.ok();
    assert_eq!(b["sessionId"], sid.as_str(), "{}", res.text);
    assert_eq!(b["status"], "active");
    assert_eq!(b["variant"], "A");
    assert_eq!(b["startUrl"], "https://a.shop.example.com/");
    assert_eq!(b["job"]["jobId"], job.as_str());
    assert_eq!(b["job"]["title"], "Checkout usability");
    assert_eq!(b["job"]["tasks"].as_array().unwrap().len(), 2);
    assert!(b["job"]["tasks"][0]["taskId"].as_str().unwrap().starts_with("task_"), "{}", res.text);
    assert_eq!(b["settings"]["maxDurationMinutes"], 30);
    // Effective streams: the setting AND the consent.
    assert_eq!(b["streams"], json!({"events": true, "facial": false, "voice": false, "screen": false}));
    assert_eq!(b["consent"]["version"], "v1");
    assert_eq!(b["limits"]["batchMax"], 1000);
    assert!(b["tokenExpiresAt"].is_string());
    // Nothing more: no tester, no pipeline, no analysis.
    for key in ["testerId", "pipelineStatus", "analysis", "jobId", "testerLabel"] {
        assert!(b.get(key).is_none(), "{key} in the briefing: {}", res.text);
    }
    // Another session's token gets nothing; the tester's JWT still reads the session.
    let other = app.tester().await;
    let (other_sid, _) = app.session(&other, &job).await;
    app.get(&format!("/api/sessions/{other_sid}"), Some(&tt)).await.assert_error(403);
    let full = app.get(&format!("/api/sessions/{sid}"), Some(&t.bearer())).await;
    assert_eq!(full.ok()["pipelineStatus"], "collecting");
}

/// How many `findings.ready` notices `auth`'s user has.
async fn told(app: &TestApp, auth: &str) -> usize {
    let n = app.get("/api/notifications?limit=100", Some(auth)).await;
    n.ok().as_array().unwrap().iter().filter(|n| n["kind"] == "findings.ready").count()
}

/// A fresh sign-in (the clock moves by days).
async fn signin(app: &TestApp, who: &Account) -> String {
    let body = json!({"email": who.email, "password": crate::helpers::PASSWORD});
    let res = app.post("/api/auth/signin", body, None).await;
    format!("Bearer {}", res.ok()["accessToken"].as_str().unwrap())
}

/// Runs the reminders job now; how many it sent.
async fn reminders(app: &TestApp) -> u64 {
    let res = app.post("/api/cron/reminders", json!({}), Some(&format!("Bearer {CRON}"))).await;
    res.ok()["processed"].as_u64().unwrap()
}

async fn undecided_findings_are_reminded_after_the_studys_hours_and_at_72_h(b: Backend) {
    let Some(app) = TestApp::with(b, &[("OPENSCOUTER_CRON_SECRET", CRON)]).await else { return };
    let biz = app.signup("business").await;
    let job = app.launched_study(&biz, study_body()).await; // reminderAfterHours: 24
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await;
    let task = study.ok()["tasks"][0]["taskId"].as_str().unwrap().to_owned();
    let t = app.tester().await;
    let (sid, token) = app.session(&t, &job).await;
    app.broken_checkout(&sid, &format!("Token {token}"), &task).await;
    app.drain_jobs().await;
    assert_eq!(told(&app, &t.bearer()).await, 1, "told once when the analysis finished");
    app.clock.advance_ms(23 * 60 * MINUTE);
    assert_eq!(reminders(&app).await, 0, "not before reminderAfterHours");
    app.clock.advance_ms(2 * 60 * MINUTE);
    assert_eq!(reminders(&app).await, 1);
    assert_eq!(reminders(&app).await, 0, "once");
    assert_eq!(told(&app, &signin(&app, &t).await).await, 2);
    app.clock.advance_ms(48 * 60 * MINUTE);
    assert_eq!(reminders(&app).await, 1, "and at 72 h");
    assert_eq!(told(&app, &signin(&app, &t).await).await, 3);
    // Decided: no more reminders.
    let auth = signin(&app, &t).await;
    assert_eq!(app.confirm_all(&sid, &auth).await.ok()["status"], "confirmed");
    app.clock.advance_ms(100 * 60 * MINUTE);
    assert_eq!(reminders(&app).await, 0);
}

/// api.md §11: an abandoned session frees its seat and its tester may try again. One tester
/// abandons by hand, then by the duration limit, then a third try completes and flows to the
/// report with two others; a second running session is refused meanwhile; the abandoned ones
/// are never analysed, reported or paid, and counted as abandoned.
async fn an_abandoned_tester_tries_again_and_reaches_the_report(b: Backend) {
    let Some(app) = TestApp::with(b, &[("OPENSCOUTER_CRON_SECRET", CRON)]).await else { return };
    let biz = app.signup("business").await;
    let job = app.launched_study(&biz, study_body()).await; // 3 seats
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await;
    let task = study.ok()["tasks"][0]["taskId"].as_str().unwrap().to_owned();
    let t = app.tester().await;
    let mut others = Vec::new();
    for _ in 0..2 {
        let o = app.tester().await;
        let (sid, token) = app.session(&o, &job).await;
        others.push((o, sid, format!("Token {token}")));
    }

    // 1. Abandoned by hand (the test token may do it), with data: nothing flows on.
    let (first, token) = app.session(&t, &job).await;
    let tt = format!("Token {token}");
    app.events(
        &first,
        &tt,
        vec![json!({"eventType": "click", "targetSelector": "#a", "timestamp": app.at(0)})],
    )
    .await;
    // A second running session of the same tester is refused (the seat is theirs already).
    let again = json!({"jobId": job, "testerId": t.user_id});
    let msg = app.post("/api/sessions", again.clone(), Some(&t.bearer())).await.assert_error(422);
    assert!(msg.contains("already has a session"), "{msg}");
    let s = app.post(&format!("/api/sessions/{first}/abandon"), json!({}), Some(&tt)).await;
    assert_eq!(
        (s.ok()["status"].as_str(), s.ok()["pipelineStatus"].as_str()),
        (Some("abandoned"), Some("collecting"))
    );
    let msg =
        app.post(&format!("/api/sessions/{first}/abandon"), json!({}), Some(&tt)).await.assert_error(422);
    assert!(msg.contains("abandoned"), "{msg}");
    app.post(&format!("/api/sessions/{first}/complete"), json!({}), Some(&tt)).await.assert_error(422);
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await;
    assert_eq!(study.ok()["seatsTaken"], 2, "{}", study.text);
    assert_eq!(app.drain_jobs().await, 0, "an abandoned session is never analysed");

    // 2. A new try, abandoned by the duration limit (it holds no item; the others do, and are
    // completed by it).
    let (second, _) = app.session(&t, &job).await;
    assert_ne!(second, first);
    app.post("/api/sessions", again.clone(), Some(&t.bearer())).await.assert_error(422);
    for (_, sid, tt) in &others {
        app.events(
            sid,
            tt,
            vec![json!({"eventType": "click", "targetSelector": "#b", "timestamp": app.at(0)})],
        )
        .await;
    }
    app.clock.advance_ms(80 * MINUTE);
    let res = app.post("/api/cron/session-timeouts", json!({}), Some(&format!("Bearer {CRON}"))).await;
    assert_eq!(res.ok()["processed"], 3, "{}", res.text);
    let s = app.get(&format!("/api/sessions/{second}"), Some(&biz.bearer())).await;
    assert_eq!(s.ok()["status"], "abandoned", "{}", s.text);

    // 3. A third try completes and flows to the study report with nobody calling an agent.
    let (third, token) = app.session(&t, &job).await;
    // Still one running session at a time, and another tester finds the study full.
    app.post("/api/sessions", again, Some(&t.bearer())).await.assert_error(422);
    let late = app.tester().await;
    let msg = app
        .post("/api/sessions", json!({"jobId": job, "testerId": late.user_id}), Some(&late.bearer()))
        .await
        .assert_error(422);
    assert!(msg.contains("no free seat"), "{msg}");
    app.broken_checkout(&third, &format!("Token {token}"), &task).await;
    app.drain_jobs().await;
    assert_eq!(app.confirm_all(&third, &t.bearer()).await.ok()["status"], "confirmed");
    for (o, sid, _) in &others {
        assert_eq!(app.confirm_all(sid, &o.bearer()).await.ok()["status"], "confirmed");
    }
    app.drain_jobs().await;
    let report = app.get(&format!("/api/reports/job/{job}"), Some(&biz.bearer())).await;
    assert_eq!(report.ok()["sessionsNotAnalysed"], json!([]), "{}", report.text);
    assert_eq!(report.ok()["sessions"], 3, "{}", report.text);
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await;
    assert_eq!(study.ok()["status"], "completed", "{}", study.text);
    let progress = &study.ok()["progress"];
    assert_eq!(progress["abandoned"], 2, "{progress}");
    assert_eq!(progress["pipeline"]["reported"], 3, "{progress}");
    assert_eq!(progress["pipeline"]["collecting"], 0, "abandoned sessions are not in the flow: {progress}");
    for abandoned in [&first, &second] {
        let s = app.get(&format!("/api/sessions/{abandoned}"), Some(&biz.bearer())).await;
        assert_eq!(s.ok()["status"], "abandoned");
        app.get(&format!("/api/sessions/{abandoned}/report"), Some(&biz.bearer())).await.assert_error(404);
        let res =
            app.post(&format!("/api/sessions/{abandoned}/analyze"), json!({}), Some(&biz.bearer())).await;
        res.assert_error(422);
    }
    // The business lists all five sessions, the tester's three tries among them.
    let listed = app.get(&format!("/api/jobs/{job}/sessions"), Some(&biz.bearer())).await;
    assert_eq!(listed.body["metadata"]["total"], 5, "{}", listed.text);
}

/// Migration 0015 rebuilds SQLite's `sessions` inside the migrator's transaction, foreign keys
/// on, their check deferred to the commit (decision 206). Re-run on a database full of
/// sessions and rows that reference them (events, findings, task attempts, notes): a copy that
/// loses a referenced session fails at the commit and changes nothing; the real one keeps
/// every row, every reference valid, and the partial unique index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_rebuild_of_0015_keeps_every_session_and_its_references() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use std::str::FromStr;
    let app = TestApp::new(Backend::Sqlite).await.unwrap();
    let biz = app.signup("business").await;
    let mut body = study_body();
    body["targeting"]["testerCount"] = json!(5);
    let job = app.launched_study(&biz, body).await;
    let testers = three_completed(&app, &biz, &job).await;
    app.drain_jobs().await;
    let abandoned_by = app.tester().await;
    let (gone, gone_token) = app.session(&abandoned_by, &job).await;
    app.post(&format!("/api/sessions/{gone}/abandon"), json!({}), Some(&format!("Token {gone_token}")))
        .await
        .ok();
    let options = SqliteConnectOptions::from_str(&app.db.url).unwrap().foreign_keys(true);
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap();
    let counts = || {
        let pool = pool.clone();
        async move {
            let mut out = Vec::new();
            for table in ["sessions", "events", "findings", "study_testers"] {
                let (n,): (i64,) =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                out.push(n);
            }
            out
        }
    };
    let before = counts().await;
    assert_eq!(before[0], 4);
    assert!(before[1] > 0 && before[2] > 0, "{before:?}");
    let sql = openscouter_server::store::migrate::SQLITE.iter().find(|m| m.version == 15).unwrap().sql;

    // A rebuild that loses a referenced session: the deferred check fails the commit.
    let victim = &testers[0].1;
    let broken = sql.replacen(
        "INSERT INTO sessions (",
        &format!("DELETE FROM sessions_0015 WHERE id = '{victim}';\nINSERT INTO sessions ("),
        1,
    );
    let mut tx = pool.begin().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(broken)).execute(&mut *tx).await.unwrap();
    let err = tx.commit().await.expect_err("a lost reference must fail the commit");
    assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    assert_eq!(counts().await, before, "nothing changed");

    // The real one. This database is at the newest schema, and later migrations added columns
    // to `sessions` that 0015's copy of the table does not know: they are added again after it,
    // as the migrator would have run them after 0015.
    let mut tx = pool.begin().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await.unwrap();
    for later in openscouter_server::store::migrate::SQLITE.iter().filter(|m| m.version > 15) {
        for stmt in later.sql.split(';') {
            let stmt: String =
                stmt.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n");
            if stmt.trim().starts_with("ALTER TABLE sessions ADD COLUMN") {
                sqlx::raw_sql(sqlx::AssertSqlSafe(stmt)).execute(&mut *tx).await.unwrap();
            }
        }
    }
    tx.commit().await.unwrap();
    assert_eq!(counts().await, before);
    let violations: Vec<(String,)> =
        sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check").fetch_all(&pool).await.unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    let (index,): (String,) =
        sqlx::query_as("SELECT sql FROM sqlite_master WHERE name = 'sessions_one_open_per_tester'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(index.contains("WHERE status <> 'abandoned'"), "{index}");
    pool.close().await;
    // The app reads on as before, and the abandoned tester may start again.
    let s = app.get(&format!("/api/sessions/{victim}"), Some(&biz.bearer())).await;
    assert_eq!(s.ok()["status"], "analyzed", "{}", s.text);
    assert!(
        !app.get(&format!("/api/sessions/{victim}/findings"), Some(&testers[0].0.bearer()))
            .await
            .ok()
            .as_array()
            .unwrap()
            .is_empty()
    );
    app.session(&abandoned_by, &job).await;
}
