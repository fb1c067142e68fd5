//! Agents 3 and 4 end to end: five testers, a broken control, an abandoned task, a rejected
//! finding; the study report names the barrier and leaves the rejected finding out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::Method;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, TestApp, study_body};

both!(study_report_synthesises_confirmed_findings_only);

async fn study_report_synthesises_confirmed_findings_only(b: Backend) {
    let env = [
        ("OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED", "1000"),
        ("OPENSCOUTER_RATE_LIMIT_FREE", "10000"),
        ("OPENSCOUTER_WEBHOOK_ALLOW_PRIVATE", "true"),
    ];
    let Some(app) = TestApp::with(b, &env).await else { return };
    let biz = app.signup("business").await;
    let (hook, received) = crate::helpers::webhook_receiver().await;
    let events = json!([
        "study.launched",
        "session.completed",
        "session.analyzed",
        "session.confirmed",
        "report.ready",
        "study.report_ready"
    ]);
    let res =
        app.post("/api/webhook-endpoints", json!({"url": hook, "events": events}), Some(&biz.bearer())).await;
    let secret = res.ok()["secret"].as_str().unwrap().to_owned();
    let mut body = study_body();
    body["targeting"]["testerCount"] = json!(5);
    let job = app.launched_study(&biz, body).await;
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await;
    let tasks: Vec<String> = study.ok()["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["taskId"].as_str().unwrap().to_owned())
        .collect();
    // not before a confirmed session
    let msg =
        app.post(&format!("/api/reports/job/{job}"), json!({}), Some(&biz.bearer())).await.assert_error(422);
    assert_eq!(msg, "The study needs at least one confirmed session");

    let mut runs = vec![];
    for i in 0..5 {
        let t = app.tester().await;
        let (sid, token) = app.session(&t, &job).await;
        let tt = format!("Token {token}");
        match i {
            // three testers hit the same dead pay button
            0..=2 => {
                let mut items = vec![
                    json!({"eventType": "navigation", "targetSelector": "", "url": "https://shop.example.com/checkout", "timestamp": app.at(0), "taskId": tasks[1]}),
                ];
                items.extend((0..6).map(|k| json!({"eventType": "click", "targetSelector": "#pay", "url": "https://shop.example.com/checkout", "timestamp": app.at(1000 + k * 200), "taskId": tasks[1]})));
                app.events(&sid, &tt, items).await;
            }
            // one struggles with the email field (and will reject that finding)
            3 => {
                let lengths = [5, 3, 6, 2, 7, 1];
                let items = lengths
                    .iter()
                    .enumerate()
                    .map(|(k, n)| json!({"eventType": "input", "targetSelector": "#email", "url": "https://shop.example.com/account", "inputLength": n, "timestamp": app.at(1000 + k as i64 * 500), "taskId": tasks[0]}))
                    .collect();
                app.events(&sid, &tt, items).await;
            }
            // one has a smooth run
            _ => {
                app.events(&sid, &tt, vec![json!({"eventType": "click", "targetSelector": "#buy", "url": "https://shop.example.com/", "timestamp": app.at(500), "taskId": tasks[0]})]).await;
            }
        }
        let outcome = if i == 0 { "abandon" } else { "success" };
        let fb = json!({"tasks": [
            {"taskId": tasks[0], "outcome": "success", "seq": 6, "startedAt": app.at(0), "endedAt": app.at(20_000)},
            {"taskId": tasks[1], "outcome": outcome, "seq": 3, "startedAt": app.at(20_000), "endedAt": app.at(60_000)}],
            "sus": [4, 2, 4, 2, 4, 2, 4, 2, 4, 2], "nps": 8});
        app.post(&format!("/api/sessions/{sid}/feedback"), fb, Some(&tt)).await.ok();
        app.clock.advance_ms(1_000);
        app.post(&format!("/api/sessions/{sid}/complete"), json!({}), Some(&tt)).await.ok();
        runs.push((sid, t));
    }
    let mut rejected_id = String::new();
    for (i, (sid, t)) in runs.iter().enumerate() {
        let findings = app.analyzed(sid, &t.bearer()).await;
        if i < 3 {
            assert!(findings.iter().any(|f| f["wcag"]["criterion"] == "4.1.2"), "{findings:?}");
        }
        if i == 3 {
            assert!(!findings.is_empty(), "the input struggle should be a candidate");
            rejected_id = findings[0]["findingId"].as_str().unwrap().to_owned();
        }
        let decisions: Vec<Value> = findings
            .iter()
            .map(|f| json!({"findingId": f["findingId"], "decision": if i == 3 { "reject" } else { "confirm" }}))
            .collect();
        let res = app
            .post(&format!("/api/sessions/{sid}/confirm"), json!({"decisions": decisions}), Some(&t.bearer()))
            .await;
        assert_eq!(res.ok()["status"], "confirmed");
    }
    assert_eq!(app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await.ok()["status"], "completed");

    // Agent 3 for one session, Agent 4 for the study
    let (sid0, t0) = &runs[0];
    app.post("/api/reports", json!({"sessionId": sid0}), Some(&t0.bearer())).await.assert_error(403);
    let q = app.post("/api/reports", json!({"sessionId": sid0}), Some(&biz.bearer())).await;
    assert_eq!(q.ok()["status"], "queued");
    let q = app.post(&format!("/api/reports/job/{job}"), json!({}), Some(&biz.bearer())).await;
    let ajob = q.ok()["analysisJobId"].as_str().unwrap().to_owned();
    assert!(app.drain_jobs().await >= 2, "both report jobs (and webhook deliveries) ran");
    assert_eq!(
        app.get(&format!("/api/analysis-jobs/{ajob}"), Some(&biz.bearer())).await.ok()["status"],
        "complete"
    );

    let sr = app.get(&format!("/api/sessions/{sid0}/report"), Some(&biz.bearer())).await;
    assert_eq!(sr.ok()["kind"], "session");
    assert_eq!(
        app.get(&format!("/api/sessions/{sid0}"), Some(&biz.bearer())).await.ok()["pipelineStatus"],
        "reported"
    );

    let report = app.get(&format!("/api/reports/job/{job}"), Some(&biz.bearer())).await;
    let r = report.ok().clone();
    assert_eq!(r["kind"], "study");
    let barrier = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["wcag"]["criterion"] == "4.1.2")
        .expect("the barrier");
    assert!(barrier["severity"] == "critical" || barrier["severity"] == "major", "{barrier}");
    assert_eq!(barrier["testersAffected"], 3);
    assert!((barrier["prevalence"].as_f64().unwrap() - 0.6).abs() < 1e-9, "{barrier}");
    assert!(!report.text.contains(&rejected_id), "a rejected finding reached the report");
    assert!(!r["findings"].as_array().unwrap().iter().any(|f| f["wcag"]["criterion"] == "3.3.2"));
    let score = r["score"].as_i64().unwrap();
    let band = match score {
        0..=49 => "red",
        50..=75 => "amber",
        _ => "green",
    };
    assert_eq!(r["band"], band);
    assert!(score < 100);
    // no tester identity in reports
    for (_, t) in &runs {
        assert!(!report.text.contains(&t.user_id) && !report.text.contains(&t.email));
    }
    // readable by id, summary on the study, merged findings list; other tenants see nothing
    let rep_id = r["reportId"].as_str().unwrap();
    app.get(&format!("/api/reports/{rep_id}"), Some(&biz.bearer())).await.ok();
    assert_eq!(
        app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await.ok()["report"]["score"],
        score
    );
    assert_eq!(
        app.get(&format!("/api/jobs/{job}/findings"), Some(&biz.bearer()))
            .await
            .ok()
            .as_array()
            .unwrap()
            .len(),
        r["findings"].as_array().unwrap().len()
    );
    let other = app.signup("business").await;
    app.get(&format!("/api/reports/{rep_id}"), Some(&other.bearer())).await.assert_error(404);
    app.get(&format!("/api/reports/job/{job}"), Some(&other.bearer())).await.assert_error(404);
    app.get(&format!("/api/reports/{rep_id}"), Some(&t0.bearer())).await.assert_error(403);

    // the webhook endpoint got every event, signed; the one failed attempt was retried
    app.clock.advance_ms(10_000);
    app.drain_jobs().await;
    let got = received.lock().unwrap().clone();
    let count =
        |t: &str| got.iter().filter(|(_, b)| serde_json::from_str::<Value>(b).unwrap()["type"] == t).count();
    assert_eq!(count("study.launched"), 2, "one failed attempt, one retry");
    assert_eq!(
        (count("session.completed"), count("session.analyzed"), count("session.confirmed")),
        (5, 5, 5)
    );
    // Every confirmed session's report was written by itself (api.md §11: five), and one more
    // asked for by hand after it; the study report asked for by hand was the one already queued.
    assert_eq!((count("report.ready"), count("study.report_ready")), (6, 1));
    for (headers, body) in &got {
        assert!(crate::helpers::verify_signature(&secret, headers, body));
        for (_, t) in &runs {
            assert!(!body.contains(&t.user_id) && !body.contains(&t.email));
        }
    }
    let _ = Method::GET;
}
