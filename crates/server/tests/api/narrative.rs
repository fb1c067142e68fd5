//! The optional LLM narrative: it only rephrases, sees no personal data or raw scores, and
//! any failure keeps the deterministic summary.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, PASSWORD, TestApp, study_body};

both!(narrative_rephrases_without_personal_data_and_falls_back);

type Calls = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A fake chat-completions server: the first call fails (500), later ones answer.
async fn fake_llm() -> (String, Calls) {
    let calls: Calls = Arc::default();
    let c = calls.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let c = c.clone();
            async move {
                let mut v = c.lock().unwrap();
                v.push((headers, body));
                if v.len() == 1 {
                    (StatusCode::INTERNAL_SERVER_ERROR, "{}".to_owned())
                } else {
                    (StatusCode::OK, json!({"choices": [{"message": {"role": "assistant", "content": "Rephrased summary."}}]}).to_string())
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), calls)
}

async fn narrative_rephrases_without_personal_data_and_falls_back(b: Backend) {
    let (base, calls) = fake_llm().await;
    let env = [
        ("OPENSCOUTER_LLM_BASE_URL", base.as_str()),
        ("OPENSCOUTER_LLM_MODEL", "test-model"),
        ("OPENSCOUTER_LLM_API_KEY", "sk-test-key"),
    ];
    let Some(app) = TestApp::with(b, &env).await else { return };
    let biz = app.signup("business").await;
    let job = app.launched_study(&biz, study_body()).await;
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await;
    let task = study.ok()["tasks"][1]["taskId"].as_str().unwrap().to_owned();

    // a tester with a recognisable name, emotions and an unrelated transcript
    let res = app
        .post("/api/auth/signup", json!({"email": "grace.hopper@example.com", "password": PASSWORD, "fullName": "Grace Hopper", "role": "tester"}), None)
        .await;
    let tester = crate::helpers::Account {
        user_id: res.ok()["user"]["userId"].as_str().unwrap().to_owned(),
        organization_id: None,
        access: res.ok()["accessToken"].as_str().unwrap().to_owned(),
        refresh: String::new(),
        email: "grace.hopper@example.com".into(),
    };
    app.make_eligible(&tester).await;
    app.send(
        axum::http::Method::PUT,
        "/api/testers/me/profile",
        Some(crate::helpers::profile_body()),
        &tester.bearer(),
    )
    .await
    .ok();
    let (sid, token) = app.session(&tester, &job).await;
    let tt = format!("Token {token}");
    let facial: Vec<Value> = (0..5).map(|i| json!({"timestamp": app.at(1000 + i * 1000), "emotion": "confused", "confidence": 0.737, "faceDetected": true})).collect();
    app.post("/api/data/facial", json!({"sessionId": sid, "batch": facial}), Some(&tt)).await.ok();
    let voice = json!([{"timestamp": app.at(500), "durationMs": 1200, "transcript": "my cat Mittens likes tuna sandwiches", "confidence": 0.9}]);
    app.post("/api/data/voice", json!({"sessionId": sid, "batch": voice}), Some(&tt)).await.ok();
    app.broken_checkout(&sid, &tt, &task).await;
    app.analyze_and_confirm_all(&sid, &tester.bearer(), &tester.bearer()).await;
    // The confirmation queued Agent 3 (api.md §11), whose session report is narrated too: the
    // provider's first answer (a failure) goes to it, and its deterministic summary stays.
    app.drain_jobs().await;
    let session_report = app.get(&format!("/api/sessions/{sid}/report"), Some(&biz.bearer())).await;
    assert_ne!(session_report.ok()["summary"], "Rephrased summary.");
    let agent3: Vec<(HeaderMap, String)> = calls.lock().unwrap().drain(..).collect();
    assert_eq!(agent3.len(), 1);
    // Counting afresh, the provider fails the study report's first call.

    // 1st report: the provider fails → the deterministic summary stays
    app.post(&format!("/api/reports/job/{job}"), json!({}), Some(&biz.bearer())).await.ok();
    app.drain_jobs().await;
    let first = app.get(&format!("/api/reports/job/{job}"), Some(&biz.bearer())).await;
    let deterministic = first.ok()["summary"].as_str().unwrap().to_owned();
    assert!(!deterministic.is_empty() && deterministic != "Rephrased summary.");
    // 2nd report: the provider answers → its text replaces the summary, nothing else
    app.clock.advance_ms(1);
    app.post(&format!("/api/reports/job/{job}"), json!({}), Some(&biz.bearer())).await.ok();
    app.drain_jobs().await;
    let second = app.get(&format!("/api/reports/job/{job}"), Some(&biz.bearer())).await;
    assert_eq!(second.ok()["summary"], "Rephrased summary.");
    assert_eq!(second.ok()["score"], first.ok()["score"]);
    assert_eq!(second.ok()["findings"], first.ok()["findings"]);

    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    for (headers, body) in calls.iter().chain(&agent3) {
        assert_eq!(headers["authorization"], "Bearer sk-test-key");
        let req: Value = serde_json::from_str(body).unwrap();
        assert_eq!(req["model"], "test-model");
        for secret in [
            "grace",
            "Grace",
            "Hopper",
            &tester.user_id,
            "Mittens",
            "tuna",
            "0.737",
            "confidence",
            "meanNegativeIntensity",
        ] {
            assert!(!body.contains(secret), "{secret:?} reached the LLM: {body}");
        }
        assert!(body.contains("Tester 1"), "testers appear as labels: {body}");
        if !agent3.iter().any(|(_, b)| b == body) {
            assert!(body.contains(&deterministic.replace('"', "\\\"")[..20.min(deterministic.len())]));
        }
    }
}
