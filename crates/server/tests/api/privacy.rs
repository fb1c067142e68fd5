//! A category only one tester of a study has is never named anywhere its business reads
//! (issue #16, analysis.md §4): session views and lists, the export, session findings, the
//! study report, the MCP tools (which call the same services).

#![allow(clippy::unwrap_used)]

use axum::http::Method;
use serde_json::json;

use crate::both;
use crate::helpers::{Backend, TestApp, profile_body, study_body};

both!(a_category_of_one_tester_is_never_named_to_the_business);

async fn a_category_of_one_tester_is_never_named_to_the_business(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let admin = app.admin().await;
    let biz = app.signup("business").await;
    let job = app.launched_study(&biz, study_body()).await;
    let task = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await.ok()["tasks"][0]["taskId"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut sessions = Vec::new();
    for rare in [false, false, true] {
        let t = app.tester().await;
        if rare {
            let mut p = profile_body();
            p["ndCategories"] = json!(["dyslexia", "tourette"]);
            app.send(Method::PUT, "/api/testers/me/profile", Some(p), &t.bearer()).await.ok();
        }
        let (sid, token) = app.session(&t, &job).await;
        let tt = format!("Token {token}");
        app.broken_checkout(&sid, &tt, &task).await;
        app.analyze_and_confirm_all(&sid, &biz.bearer(), &t.bearer()).await;
        sessions.push((sid, t));
    }
    let (rare_sid, rare_tester) = &sessions[2];
    let mut business_reads = vec![
        app.get(&format!("/api/jobs/{job}/sessions"), Some(&biz.bearer())).await.text,
        app.get("/api/sessions", Some(&biz.bearer())).await.text,
        app.get(&format!("/api/sessions/{rare_sid}"), Some(&biz.bearer())).await.text,
        app.get(&format!("/api/sessions/{rare_sid}/findings"), Some(&biz.bearer())).await.text,
        app.get(&format!("/api/sessions/{rare_sid}/export?format=ndjson"), Some(&biz.bearer())).await.text,
        app.get(&format!("/api/sessions/{rare_sid}/export?format=csv"), Some(&biz.bearer())).await.text,
    ];
    app.post(&format!("/api/reports/job/{job}"), json!({}), Some(&biz.bearer())).await.ok();
    app.post("/api/reports", json!({"sessionId": rare_sid}), Some(&biz.bearer())).await.ok();
    app.drain_jobs().await;
    business_reads.push(app.get(&format!("/api/reports/job/{job}"), Some(&biz.bearer())).await.text);
    business_reads.push(app.get(&format!("/api/jobs/{job}/findings"), Some(&biz.bearer())).await.text);
    business_reads.push(app.get(&format!("/api/sessions/{rare_sid}/report"), Some(&biz.bearer())).await.text);
    // The dashboard's pages and exports (the API's bearer works there as well as the cookie).
    for path in [
        format!("/app/studies/{job}"),
        format!("/app/sessions/{rare_sid}"),
        format!("/app/sessions/{rare_sid}/export?format=ndjson"),
        "/app/studies".to_owned(),
    ] {
        let res = app.get(&path, Some(&biz.bearer())).await;
        assert_eq!(res.status.as_u16(), 200, "{path}: {}", res.text);
        business_reads.push(res.text);
    }
    for (i, text) in business_reads.iter().enumerate() {
        let page = text.starts_with("<!DOCTYPE html>");
        assert!(
            text.contains("\"success\":true") || text.contains("kind") || page,
            "read {i} failed: {text}"
        );
        assert!(!text.contains("tourette"), "read {i} names the category of one tester: {text}");
    }
    // The shared category stays visible; the tester and admins see everything.
    let s = app.get(&format!("/api/sessions/{rare_sid}"), Some(&biz.bearer())).await;
    assert_eq!(s.ok()["ndCategories"], json!(["dyslexia"]));
    let own = app.get(&format!("/api/sessions/{rare_sid}"), Some(&rare_tester.bearer())).await;
    assert_eq!(own.ok()["ndCategories"], json!(["dyslexia", "tourette"]));
    let staff = app.get(&format!("/api/sessions/{rare_sid}"), Some(&admin.bearer())).await;
    assert_eq!(staff.ok()["ndCategories"], json!(["dyslexia", "tourette"]));
}
