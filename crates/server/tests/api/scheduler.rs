//! The scheduler and its jobs with the injected clock: session timeouts, one reminder only,
//! the 72 h follow-up, retention that keeps reports, the cron endpoints' secret, and two nodes
//! on one database running each tick exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::http::Method;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Account, Backend, PASSWORD, TestApp, study_body, test_config};
use crate::telegram::{app_with_bot, link};
use openscouter_server::services::scheduler;

both!(
    cron_endpoints_need_the_secret,
    timeouts_abandon_sessions_past_their_limit,
    one_reminder_only,
    stalled_studies_are_followed_up_once,
    retention_purges_raw_streams_and_keeps_reports,
);

/// Several nodes share a PostgreSQL database (SQLite is the one-machine setup: one process
/// owns the file), so this runs on PostgreSQL only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgres_run_each_tick_exactly_once() {
    two_nodes_run_each_tick_exactly_once(Backend::Postgres).await;
}

/// A fresh sign-in (access tokens live 24 h and these tests move the clock by days).
async fn again(app: &TestApp, a: &Account) -> String {
    let res = app.post("/api/auth/signin", json!({"email": a.email, "password": PASSWORD}), None).await;
    format!("Bearer {}", res.ok()["accessToken"].as_str().unwrap())
}

const CRON: &str = "cron-secret-for-tests";
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

fn bearer() -> String {
    format!("Bearer {CRON}")
}

async fn cron(app: &TestApp, job: &str) -> u64 {
    let res = app.post(&format!("/api/cron/{job}"), json!({}), Some(&bearer())).await;
    assert_eq!(res.ok()["job"], job);
    res.ok()["processed"].as_u64().unwrap()
}

fn kinds(res: &crate::helpers::Res) -> Vec<String> {
    res.ok().as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap().to_owned()).collect()
}

async fn cron_endpoints_need_the_secret(b: Backend) {
    let Some(app) = TestApp::with(b, &[("OPENSCOUTER_CRON_SECRET", CRON)]).await else { return };
    for auth in
        [None, Some("Bearer nope"), Some("Bearer cron-secret-for-test"), Some("Token cron-secret-for-tests")]
    {
        let h: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        app.call(Method::POST, "/api/cron/reminders", Some(json!({})), &h).await.assert_error(401);
    }
    for job in ["session-timeouts", "reminders", "study-followups", "retention", "payout-retry"] {
        assert_eq!(cron(&app, job).await, 0, "{job}: nothing to do yet");
    }
    app.post("/api/cron/everything", json!({}), Some(&bearer())).await.assert_error(404);
    // a user's token is not the cron secret
    let admin = app.admin().await;
    app.post("/api/cron/reminders", json!({}), Some(&admin.bearer())).await.assert_error(401);
    // not configured: 503, and nothing runs
    let Some(off) = TestApp::new(b).await else { return };
    off.post("/api/cron/reminders", json!({}), Some(&bearer())).await.assert_error(503);
}

async fn timeouts_abandon_sessions_past_their_limit(b: Backend) {
    let Some(app) = TestApp::with(b, &[("OPENSCOUTER_CRON_SECRET", CRON)]).await else { return };
    let live = app.live_session().await; // consented at once; 45 min + 30 min grace
    // a tester who accepted and started later, and one whose session stays paused
    let slow = app.tester().await;
    // The first look catches up each job's latest tick once (the work is idempotent).
    assert_eq!(scheduler::run_due(&app.state, "node").await.unwrap().len(), 5);
    assert_eq!(app.drain_jobs().await, 5);
    assert!(scheduler::run_due(&app.state, "node").await.unwrap().is_empty(), "same tick: nothing new");

    app.clock.advance_ms(30 * MINUTE);
    let (slow_sid, slow_tt) = app.session(&slow, &live.job).await; // consents 30 min after the first
    app.clock.advance_ms(44 * MINUTE); // 74 minutes in
    let claimed = scheduler::run_due(&app.state, "node").await.unwrap();
    assert!(claimed.iter().any(|j| j.as_str() == "session-timeouts"), "{claimed:?}");
    app.drain_jobs().await;
    let status = |sid: String| {
        let app = &app;
        let biz = live.biz.clone();
        async move {
            let auth = again(app, &biz).await;
            app.get(&format!("/api/sessions/{sid}"), Some(&auth)).await.ok()["status"].clone()
        }
    };
    assert_eq!(status(live.sid.clone()).await, "active", "74 minutes: not yet");

    app.clock.advance_ms(6 * MINUTE); // 80 minutes in, past the next 5-minute tick
    let claimed = scheduler::run_due(&app.state, "node").await.unwrap();
    assert!(claimed.iter().any(|j| j.as_str() == "session-timeouts"), "{claimed:?}");
    app.drain_jobs().await;
    assert_eq!(status(live.sid.clone()).await, "abandoned");
    assert_eq!(status(slow_sid.clone()).await, "active", "its clock started at its own consent");
    // an abandoned session takes no more data and cannot be completed
    let batch = json!({"sessionId": live.sid, "batch": [{"eventType": "click", "targetSelector": "#a", "timestamp": app.at(0)}]});
    app.post("/api/data/events", batch, Some(&live.tt)).await.assert_error(422);
    app.post(&format!("/api/sessions/{}/complete", live.sid), json!({}), Some(&live.tt))
        .await
        .assert_error(422);
    // the tester is told, once; the business sees the status only
    let n = app.get("/api/notifications", Some(&live.tester.bearer())).await;
    assert_eq!(kinds(&n), ["session.abandoned"]);
    assert_eq!(n.ok()[0]["data"]["sessionId"], json!(live.sid));
    assert_eq!(cron(&app, "session-timeouts").await, 0, "idempotent");
    assert_eq!(app.get("/api/notifications", Some(&live.tester.bearer())).await.body["metadata"]["total"], 1);

    // a pause stops the clock...
    app.post(&format!("/api/sessions/{slow_sid}/pause"), json!({}), Some(&format!("Token {slow_tt}")))
        .await
        .ok();
    app.clock.advance_ms(10 * HOUR);
    assert_eq!(cron(&app, "session-timeouts").await, 0);
    // ...but not for longer than the test token lives
    app.clock.advance_ms(15 * HOUR);
    assert_eq!(cron(&app, "session-timeouts").await, 1);
    assert_eq!(status(slow_sid).await, "abandoned");
}

async fn one_reminder_only(b: Backend) {
    let Some((app, bot)) = app_with_bot(b, &[("OPENSCOUTER_CRON_SECRET", CRON)]).await else { return };
    let biz = app.signup("business").await;
    let job = app.launched_study(&biz, study_body()).await; // reminderAfterHours: 24 (default)
    let waiting = app.tester().await;
    link(&app, &waiting, 777, 1).await;
    let started = app.tester().await;
    app.drain_jobs().await;
    app.post(&format!("/api/jobs/{job}/accept"), json!({}), Some(&waiting.bearer())).await.ok();
    app.session(&started, &job).await;

    app.clock.advance_ms(24 * HOUR - MINUTE);
    assert_eq!(cron(&app, "reminders").await, 0, "not before reminderAfterHours");
    app.clock.advance_ms(2 * MINUTE);
    assert_eq!(cron(&app, "reminders").await, 1, "only the tester who has not started");
    assert_eq!(cron(&app, "reminders").await, 0, "once");
    app.clock.advance_ms(3 * DAY);
    assert_eq!(cron(&app, "reminders").await, 0, "still once");
    // in the app and, linked, on Telegram
    let n = app.get("/api/notifications", Some(&again(&app, &waiting).await)).await;
    assert_eq!(kinds(&n), ["offer.reminder"]);
    assert_eq!(n.ok()[0]["data"]["jobId"], json!(job));
    assert!(n.ok()[0]["notificationId"].as_str().unwrap().starts_with("ntf_"));
    assert_eq!(
        app.get("/api/notifications", Some(&again(&app, &started).await)).await.body["metadata"]["total"],
        0
    );
    app.drain_jobs().await;
    let reminders: Vec<Value> = bot
        .to_chat(777)
        .into_iter()
        .filter(|m| m["text"].as_str().unwrap().starts_with("Reminder"))
        .collect();
    assert_eq!(reminders.len(), 1, "{:?}", bot.to_chat(777));
    // the business never sees the tester's notifications
    assert_eq!(
        app.get("/api/notifications", Some(&again(&app, &biz).await)).await.body["metadata"]["total"],
        0
    );
}

async fn stalled_studies_are_followed_up_once(b: Backend) {
    let env = [("OPENSCOUTER_CRON_SECRET", CRON), ("OPENSCOUTER_WEBHOOK_ALLOW_PRIVATE", "true")];
    let Some(app) = TestApp::with(b, &env).await else { return };
    let (url, got) = crate::helpers::webhook_receiver().await;
    let biz = app.signup("business").await;
    let res = app
        .post("/api/webhook-endpoints", json!({"url": url, "events": ["study.stalled"]}), Some(&biz.bearer()))
        .await;
    let secret = res.ok()["secret"].as_str().unwrap().to_owned();
    let job = app.launched_study(&biz, study_body()).await;
    let admin = app.admin().await;
    let tester = app.tester().await;
    app.session(&tester, &job).await;

    app.clock.advance_ms(72 * HOUR - MINUTE);
    assert_eq!(cron(&app, "study-followups").await, 0);
    app.clock.advance_ms(2 * MINUTE);
    // through the scheduler this time: its tick queues the same work
    assert!(
        scheduler::run_due(&app.state, "node").await.unwrap().iter().any(|j| j.as_str() == "study-followups")
    );
    app.drain_jobs().await;
    assert_eq!(cron(&app, "study-followups").await, 0, "flagged once");
    // the business: outbound study.stalled (signed) and its in-app list
    app.clock.advance_ms(10_000);
    app.drain_jobs().await;
    let got = got.lock().unwrap().clone();
    let stalled: Vec<Value> = got
        .iter()
        .filter(|(h, body)| crate::helpers::verify_signature(&secret, h, body))
        .map(|(_, body)| serde_json::from_str::<Value>(body).unwrap())
        .filter(|v| v["type"] == "study.stalled")
        .collect();
    assert_eq!(stalled.len(), 2, "one failed attempt, one retry");
    assert_eq!(stalled[1]["data"]["jobId"], json!(job));
    assert_eq!(stalled[1]["data"]["sessionsTotal"], 1);
    assert!(!got.iter().any(|(_, body)| body.contains(&tester.user_id) || body.contains(&tester.email)));
    let n = app.get("/api/notifications", Some(&again(&app, &biz).await)).await;
    assert_eq!(kinds(&n), ["study.stalled"]);
    // staff: flagged for follow-up
    let n = app.get("/api/notifications", Some(&again(&app, &admin).await)).await;
    assert_eq!(kinds(&n), ["study.stalled"]);
    assert!(n.ok()[0]["title"].as_str().unwrap().starts_with("Follow up"));
    // nobody else
    let other = app.signup("business").await;
    assert_eq!(app.get("/api/notifications", Some(&other.bearer())).await.body["metadata"]["total"], 0);
    // (the tester's own session timed out meanwhile: that is all they hear)
    let n = app.get("/api/notifications", Some(&again(&app, &tester).await)).await;
    assert_eq!(kinds(&n), ["session.abandoned"]);
}

async fn retention_purges_raw_streams_and_keeps_reports(b: Backend) {
    let Some(app) = TestApp::with(b, &[("OPENSCOUTER_CRON_SECRET", CRON)]).await else { return };
    let live = app.live_session().await;
    let study = app.get(&format!("/api/jobs/{}", live.job), Some(&live.biz.bearer())).await;
    let task = study.ok()["tasks"][0]["taskId"].as_str().unwrap().to_owned();
    app.broken_checkout(&live.sid, &live.tt, &task).await;
    app.analyze_and_confirm_all(&live.sid, &live.biz.bearer(), &live.tester.bearer()).await;
    app.post("/api/reports", json!({"sessionId": live.sid}), Some(&live.biz.bearer())).await.ok();
    app.drain_jobs().await;
    let sid = &live.sid;
    let auth = live.biz.bearer();
    let report = app.get(&format!("/api/sessions/{sid}/report"), Some(&auth)).await.ok().clone();
    let findings = app.get(&format!("/api/sessions/{sid}/findings"), Some(&auth)).await.text;
    let events_path = format!("/api/sessions/{sid}/events");
    let biz = live.biz.clone();
    let events = || async {
        let auth = again(&app, &biz).await;
        app.get(&events_path, Some(&auth)).await.body["metadata"]["total"].clone()
    };
    assert_eq!(events().await, 7);

    app.clock.advance_ms(364 * DAY);
    assert_eq!(cron(&app, "retention").await, 0, "kept for 365 days");
    app.clock.advance_ms(2 * DAY);
    assert_eq!(cron(&app, "retention").await, 1);
    assert_eq!(events().await, 0, "raw streams gone");
    assert_eq!(cron(&app, "retention").await, 0, "idempotent");
    // reports, findings and the session itself stay
    let auth = again(&app, &live.biz).await;
    assert_eq!(app.get(&format!("/api/sessions/{sid}/report"), Some(&auth)).await.ok(), &report);
    assert_eq!(app.get(&format!("/api/sessions/{sid}/findings"), Some(&auth)).await.text, findings);
    assert_eq!(app.get(&format!("/api/sessions/{sid}"), Some(&auth)).await.ok()["status"], "confirmed");
}

async fn two_nodes_run_each_tick_exactly_once(b: Backend) {
    let Some(app) = TestApp::with(b, &[("OPENSCOUTER_CRON_SECRET", CRON)]).await else { return };
    // A second node: its own pools and state over the same database and clock.
    let other = openscouter_server::build_state(
        test_config(&app.db, &[("OPENSCOUTER_CRON_SECRET", CRON)]),
        Arc::new(app.clock.clone()),
    )
    .await
    .unwrap();
    let schedules: Vec<(String, croner::Cron)> = app
        .state
        .config
        .schedules
        .iter()
        .map(|(job, e)| {
            (
                job.as_str().to_owned(),
                openscouter_server::domain::schedule::parse_cron(e.as_deref().unwrap()).unwrap(),
            )
        })
        .collect();
    let mut expected: std::collections::BTreeMap<String, std::collections::BTreeSet<i64>> =
        Default::default();
    let mut claims: std::collections::BTreeMap<String, usize> = Default::default();
    for round in 0..30 {
        let now = app.clock_ms();
        for (job, cron) in &schedules {
            expected
                .entry(job.clone())
                .or_default()
                .insert(openscouter_server::domain::schedule::latest_tick(cron, now).unwrap());
        }
        let (a, b) =
            tokio::join!(scheduler::run_due(&app.state, "node-a"), scheduler::run_due(&other, "node-b"));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a.iter().all(|j| !b.contains(j)), "round {round}: both nodes ran {a:?} / {b:?}");
        for j in a.iter().chain(&b) {
            *claims.entry(j.as_str().to_owned()).or_default() += 1;
        }
        // each claimed tick's work runs once
        assert_eq!(app.drain_jobs().await, a.len() + b.len(), "round {round}");
        app.clock.advance_ms(7 * MINUTE + 13_000);
    }
    for (job, ticks) in &expected {
        assert_eq!(claims.get(job).copied().unwrap_or(0), ticks.len(), "{job}: {claims:?}");
    }
    assert!(claims["session-timeouts"] > 20, "{claims:?}");
}
