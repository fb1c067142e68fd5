//! Agent 2 end to end: queue, worker, findings, analytics, confirmation, restarts and leases.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::{Value, json};

use openscouter_server::domain::Tenant;

use crate::both;
use crate::helpers::{Backend, Live, TestApp, test_config};

both!(
    realtime_snapshot_attaches_insights,
    analysis_finds_the_broken_control_and_waits_for_the_tester,
    study_completes_when_every_seat_is_confirmed,
    jobs_survive_restarts_and_dead_workers
);

async fn first_task(app: &TestApp, live: &Live) -> String {
    let study = app.get(&format!("/api/jobs/{}", live.job), Some(&live.biz.bearer())).await;
    study.ok()["tasks"][0]["taskId"].as_str().unwrap().to_owned()
}

async fn analysis_finds_the_broken_control_and_waits_for_the_tester(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let live = app.live_session().await;
    let sid = &live.sid;
    // not before completion
    let msg = app
        .post(&format!("/api/sessions/{sid}/analyze"), json!({}), Some(&live.biz.bearer()))
        .await
        .assert_error(422);
    assert_eq!(msg, "Session must be completed before analysis");
    let task = first_task(&app, &live).await;
    app.broken_checkout(sid, &live.tt, &task).await;

    let res = app.post(&format!("/api/sessions/{sid}/analyze"), json!({}), Some(&live.biz.bearer())).await;
    let job = res.ok()["analysisJobId"].as_str().unwrap().to_owned();
    assert!(job.starts_with("ajob_"));
    assert_eq!(res.ok()["status"], "queued");
    // a second request while queued returns the same job
    let again =
        app.post(&format!("/api/sessions/{sid}/analyze"), json!({}), Some(&live.tester.bearer())).await;
    assert_eq!(again.ok()["analysisJobId"], json!(job));
    assert_eq!(
        app.get(&format!("/api/sessions/{sid}"), Some(&live.biz.bearer())).await.ok()["pipelineStatus"],
        "queued"
    );
    assert_eq!(
        app.get(&format!("/api/analysis-jobs/{job}"), Some(&live.biz.bearer())).await.ok()["status"],
        "queued"
    );

    assert_eq!(app.drain_jobs().await, 1);
    let j = app.get(&format!("/api/analysis-jobs/{job}"), Some(&live.tester.bearer())).await;
    assert_eq!((j.ok()["status"].as_str(), j.ok()["attempts"].as_i64()), (Some("complete"), Some(1)));
    let s = app.get(&format!("/api/sessions/{sid}"), Some(&live.biz.bearer())).await;
    assert_eq!(
        (s.ok()["status"].as_str(), s.ok()["pipelineStatus"].as_str()),
        (Some("analyzed"), Some("awaiting_confirmation"))
    );
    assert!(s.ok()["analysis"]["insights"]["overallFrustrationScore"].as_f64().unwrap() > 0.0);
    assert_eq!(
        (s.ok()["analysis"]["analysisJobId"].as_str(), s.ok()["analysis"]["status"].as_str()),
        (Some(job.as_str()), Some("complete"))
    );

    // The business reads no finding before the tester decides (counts only, on its pages).
    let f = app.get(&format!("/api/sessions/{sid}/findings"), Some(&live.biz.bearer())).await;
    assert_eq!(f.ok(), &json!([]), "undecided findings never reach the business");
    let f = app.get(&format!("/api/sessions/{sid}/findings"), Some(&live.tester.bearer())).await;
    let findings = f.ok().as_array().unwrap().clone();
    let pay = findings
        .iter()
        .find(|f| f["selector"] == "#pay" || f["title"].as_str().unwrap_or("").contains("#pay"))
        .unwrap();
    assert_eq!(pay["wcag"]["criterion"], "4.1.2", "{pay}");
    assert_eq!(pay["decision"], Value::Null);
    assert!(!f.text.contains(&live.tester.user_id) && !f.text.contains(&live.tester.email));
    let a = app.get(&format!("/api/sessions/{sid}/analytics"), Some(&live.biz.bearer())).await;
    assert!(a.ok()["interaction"].as_f64().unwrap() < 100.0);

    // tenancy
    let other = app.signup("business").await;
    app.get(&format!("/api/sessions/{sid}/findings"), Some(&other.bearer())).await.assert_error(404);
    app.get(&format!("/api/analysis-jobs/{job}"), Some(&other.bearer())).await.assert_error(404);
    app.post(&format!("/api/sessions/{sid}/analyze"), json!({}), Some(&other.bearer()))
        .await
        .assert_error(404);

    // confirmation: only the tester; unknown ids roll the whole request back
    let first = findings[0]["findingId"].as_str().unwrap().to_owned();
    let body = |d: Vec<Value>| json!({"decisions": d, "addedNotes": "The button looked disabled"});
    app.post(
        &format!("/api/sessions/{sid}/confirm"),
        body(vec![json!({"findingId": first, "decision": "confirm"})]),
        Some(&live.biz.bearer()),
    )
    .await
    .assert_error(403);
    let msg = app
        .post(
            &format!("/api/sessions/{sid}/confirm"),
            body(vec![
                json!({"findingId": first, "decision": "confirm"}),
                json!({"findingId": "fnd_nope", "decision": "reject"}),
            ]),
            Some(&live.tester.bearer()),
        )
        .await
        .assert_error(422);
    assert!(msg.contains("fnd_nope"), "{msg}");
    let undecided = app.get(&format!("/api/sessions/{sid}/findings"), Some(&live.tester.bearer())).await;
    assert!(undecided.ok().as_array().unwrap().iter().all(|f| f["decision"].is_null()));
    app.post(
        &format!("/api/sessions/{sid}/confirm"),
        body(vec![json!({"findingId": first, "decision": "maybe"})]),
        Some(&live.tester.bearer()),
    )
    .await
    .assert_error(422);

    // decide all but one: still analyzed; then the last → confirmed
    let mut decisions: Vec<Value> =
        findings.iter().map(|f| json!({"findingId": f["findingId"], "decision": "confirm"})).collect();
    let last = decisions.pop().unwrap();
    if !decisions.is_empty() {
        let res = app
            .post(&format!("/api/sessions/{sid}/confirm"), body(decisions), Some(&live.tester.bearer()))
            .await;
        assert_eq!(res.ok()["status"], "analyzed");
    }
    let mut last = last;
    last["decision"] = json!("reject");
    let res = app
        .post(&format!("/api/sessions/{sid}/confirm"), body(vec![last.clone()]), Some(&live.tester.bearer()))
        .await;
    assert_eq!(res.ok()["status"], "confirmed");
    let f = app.get(&format!("/api/sessions/{sid}/findings"), Some(&live.tester.bearer())).await;
    let rejected: Vec<&Value> =
        f.ok().as_array().unwrap().iter().filter(|f| f["decision"] == "reject").collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["findingId"], last["findingId"]);
    // The business reads the confirmed ones only: a rejected finding never reaches it.
    let f = app.get(&format!("/api/sessions/{sid}/findings"), Some(&live.biz.bearer())).await;
    let seen = f.ok().as_array().unwrap();
    assert_eq!(seen.len(), findings.len() - 1, "{}", f.text);
    assert!(seen.iter().all(|f| f["decision"] == "confirm"), "{}", f.text);
    assert!(!f.text.contains(last["findingId"].as_str().unwrap()));
    // confirmed results are final
    let msg = app
        .post(&format!("/api/sessions/{sid}/analyze"), json!({}), Some(&live.biz.bearer()))
        .await
        .assert_error(422);
    assert!(msg.contains("confirmed"));
    app.post(&format!("/api/sessions/{sid}/confirm"), body(vec![last]), Some(&live.tester.bearer()))
        .await
        .assert_error(422);
}

async fn study_completes_when_every_seat_is_confirmed(b: Backend) {
    let Some(app) = TestApp::with(b, &[("OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED", "1000")]).await else {
        return;
    };
    let live = app.live_session().await;
    let task = first_task(&app, &live).await;
    let mut runs = vec![(live.sid.clone(), live.tt.clone(), live.tester.clone())];
    for _ in 0..2 {
        let t = app.tester().await;
        let (sid, token) = app.session(&t, &live.job).await;
        runs.push((sid, format!("Token {token}"), t));
    }
    for (i, (sid, tt, tester)) in runs.iter().enumerate() {
        app.broken_checkout(sid, tt, &task).await;
        app.post(&format!("/api/sessions/{sid}/analyze"), json!({}), Some(&tester.bearer())).await.ok();
        app.drain_jobs().await;
        let f = app.get(&format!("/api/sessions/{sid}/findings"), Some(&tester.bearer())).await;
        let decisions: Vec<Value> = f
            .ok()
            .as_array()
            .unwrap()
            .iter()
            .map(|f| json!({"findingId": f["findingId"], "decision": "confirm"}))
            .collect();
        app.post(
            &format!("/api/sessions/{sid}/confirm"),
            json!({"decisions": decisions}),
            Some(&tester.bearer()),
        )
        .await
        .ok();
        let study = app.get(&format!("/api/jobs/{}", live.job), Some(&live.biz.bearer())).await;
        assert_eq!(study.ok()["sessionsConfirmed"], i + 1);
        assert_eq!(study.ok()["status"], if i == 2 { "completed" } else { "in_progress" });
    }
}

async fn jobs_survive_restarts_and_dead_workers(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let live = app.live_session().await;
    let task = first_task(&app, &live).await;
    app.broken_checkout(&live.sid, &live.tt, &task).await;
    let res =
        app.post(&format!("/api/sessions/{}/analyze", live.sid), json!({}), Some(&live.biz.bearer())).await;
    let job = res.ok()["analysisJobId"].as_str().unwrap().to_owned();

    // A worker claims the job and dies (never reports back).
    let claimed = app
        .state
        .store
        .claim_next("dead-worker", app.state.now(), app.state.config.job_lease_ms)
        .await
        .unwrap();
    assert_eq!(claimed.unwrap().id, job);
    // "Restart": a new process state over the same database.
    let state2 = openscouter_server::build_state(test_config(&app.db, &[]), Arc::new(app.clock.clone()))
        .await
        .unwrap();
    let restarted =
        TestApp { router: openscouter_server::http::router(state2.clone()), state: state2, ..app };
    // The lease still holds: nobody takes the job.
    assert_eq!(restarted.drain_jobs().await, 0);
    restarted.clock.advance_ms(restarted.state.config.job_lease_ms + 1);
    assert_eq!(restarted.drain_jobs().await, 1);
    assert_eq!(restarted.drain_jobs().await, 0, "exactly once");
    let j = restarted.get(&format!("/api/analysis-jobs/{job}"), Some(&live.biz.bearer())).await;
    assert_eq!((j.ok()["status"].as_str(), j.ok()["attempts"].as_i64()), (Some("complete"), Some(2)));
    // Re-running the handler (as after a crash between saving and completing) changes nothing.
    let before =
        restarted.get(&format!("/api/sessions/{}/findings", live.sid), Some(&live.biz.bearer())).await.text;
    let item =
        restarted.state.store.get_queue_item(&Tenant::All, &job.as_str().into()).await.unwrap().unwrap();
    let by = openscouter_server::worker::authority(&item);
    openscouter_server::services::pipeline::run_session_analysis(&restarted.state, &by, &item).await.unwrap();
    let after =
        restarted.get(&format!("/api/sessions/{}/findings", live.sid), Some(&live.biz.bearer())).await.text;
    assert_eq!(before, after);
}

async fn realtime_snapshot_attaches_insights(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let live = app.live_session().await;
    let items = (0..6)
        .map(|k| json!({"eventType": "click", "targetSelector": "#pay", "url": "https://shop.example.com/checkout", "timestamp": app.at(1000 + k * 200)}))
        .collect();
    app.events(&live.sid, &live.tt, items).await;
    app.clock.advance_ms(3_000);
    let res = app
        .post(
            "/api/ai",
            json!({"sessionId": live.sid, "includeSignals": ["events", "voice"]}),
            Some(&live.biz.bearer()),
        )
        .await;
    assert_eq!(res.ok()["status"], "queued");
    let job = res.ok()["analysisJobId"].as_str().unwrap().to_owned();
    app.post("/api/ai", json!({"sessionId": live.sid, "snapshotAt": "soon"}), Some(&live.biz.bearer()))
        .await
        .assert_error(422);
    let msg = app
        .post(
            "/api/ai",
            json!({"sessionId": live.sid, "includeSignals": ["events", "screen"]}),
            Some(&live.biz.bearer()),
        )
        .await
        .assert_error(422);
    assert!(msg.starts_with("includeSignals: unknown stream \"screen\""), "{msg}");
    app.post("/api/ai", json!({"sessionId": "sess_nope"}), Some(&live.biz.bearer())).await.assert_error(404);
    assert_eq!(app.drain_jobs().await, 1);
    let s = app.get(&format!("/api/sessions/{}", live.sid), Some(&live.tester.bearer())).await;
    let analysis = &s.ok()["analysis"];
    assert!(analysis["insights"]["overallFrustrationScore"].as_f64().unwrap() > 0.0, "{}", s.text);
    assert_eq!(
        (analysis["analysisJobId"].as_str(), analysis["status"].as_str()),
        (Some(job.as_str()), Some("complete"))
    );
    assert!(analysis["snapshotAt"].is_string());
    assert_eq!(s.ok()["status"], "active");
    // The same result is the analysis job's `result`.
    let j = app.get(&format!("/api/analysis-jobs/{job}"), Some(&live.biz.bearer())).await;
    assert_eq!(&j.ok()["result"], analysis);
    app.post(&format!("/api/sessions/{}/complete", live.sid), json!({}), Some(&live.tt)).await.ok();
    let msg =
        app.post("/api/ai", json!({"sessionId": live.sid}), Some(&live.biz.bearer())).await.assert_error(422);
    assert!(msg.contains("completed"), "{msg}");
}
