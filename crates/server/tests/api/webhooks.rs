//! Outbound webhooks: SSRF guard, secrets shown once, signed deliveries that verify, retries,
//! tenancy of endpoints and their delivery log.

#![allow(clippy::unwrap_used)]

use axum::http::Method;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{
    Backend, TestApp, study_body, verify_signature as verify, webhook_receiver as receiver,
};

both!(internal_targets_are_refused, signed_deliveries_verify_and_retry);

async fn internal_targets_are_refused(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://169.254.169.254/latest",
        "http://[::1]:9/",
        // The forms an attack pass got through before one address check covered the IANA
        // special-purpose registries and IPv4 addresses embedded in IPv6.
        "http://[::127.0.0.1]:9/",
        "http://[64:ff9b::7f00:1]:9/",
        "http://[2002:7f00:1::1]:9/",
        "http://[fec0::1]:9/",
        "http://198.18.0.1:9/",
        "http://240.0.0.1:9/",
        "http://192.0.0.1:9/",
        "ftp://example.com/x",
        "not a url",
    ] {
        let msg = app
            .post(
                "/api/webhook-endpoints",
                json!({"url": url, "events": ["study.launched"]}),
                Some(&biz.bearer()),
            )
            .await
            .assert_error(422);
        assert!(msg.starts_with("url:"), "{url}: {msg}");
    }
    let msg = app
        .post(
            "/api/webhook-endpoints",
            json!({"url": "http://127.0.0.1:9/", "events": ["nope"]}),
            Some(&biz.bearer()),
        )
        .await
        .assert_error(422);
    assert!(msg.starts_with("url:") || msg.starts_with("events:"));
    let tester = app.signup("tester").await;
    app.post(
        "/api/webhook-endpoints",
        json!({"url": "https://example.com", "events": ["study.launched"]}),
        Some(&tester.bearer()),
    )
    .await
    .assert_error(403);
    assert_eq!(app.get("/api/webhook-endpoints", Some(&biz.bearer())).await.body["metadata"]["total"], 0);
}

async fn signed_deliveries_verify_and_retry(b: Backend) {
    let Some(app) = TestApp::with(b, &[("OPENSCOUTER_WEBHOOK_ALLOW_PRIVATE", "true")]).await else { return };
    let (url, got) = receiver().await;
    let biz = app.signup("business").await;
    let events = json!([
        "study.launched",
        "session.completed",
        "session.analyzed",
        "session.confirmed",
        "report.ready"
    ]);
    let res = app
        .post(
            "/api/webhook-endpoints",
            json!({"url": url, "events": events, "description": "CI"}),
            Some(&biz.bearer()),
        )
        .await;
    let secret = res.ok()["secret"].as_str().unwrap().to_owned();
    let endpoint = res.ok()["webhookEndpointId"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && endpoint.starts_with("whe_"));
    let list = app.get("/api/webhook-endpoints", Some(&biz.bearer())).await;
    assert_eq!(list.body["metadata"]["total"], 1);
    assert!(!list.text.contains(&secret));

    // launch → study.launched; the first attempt gets a 500, the retry (after backoff) a 200
    let job = app.launched_study(&biz, study_body()).await;
    assert_eq!(app.drain_jobs().await, 1);
    assert_eq!(got.lock().unwrap().len(), 1);
    let log = app.get(&format!("/api/webhook-endpoints/{endpoint}/deliveries"), Some(&biz.bearer())).await;
    assert_eq!(
        (log.ok()[0]["status"].as_str(), log.ok()[0]["lastStatusCode"].as_i64()),
        (Some("pending"), Some(500))
    );
    // backoff after the first attempt: 2 s
    app.clock.advance_ms(1_999);
    assert_eq!(app.drain_jobs().await, 0);
    app.clock.advance_ms(2);
    assert_eq!(app.drain_jobs().await, 1);
    let log = app.get(&format!("/api/webhook-endpoints/{endpoint}/deliveries"), Some(&biz.bearer())).await;
    assert_eq!(
        (log.ok()[0]["status"].as_str(), log.ok()[0]["attempts"].as_i64()),
        (Some("delivered"), Some(2))
    );

    // a session through the pipeline → completed, analyzed, confirmed, report.ready
    let tester = app.tester().await;
    let (sid, token) = app.session(&tester, &job).await;
    let tt = format!("Token {token}");
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await;
    let task = study.ok()["tasks"][0]["taskId"].as_str().unwrap().to_owned();
    app.broken_checkout(&sid, &tt, &task).await;
    app.analyze_and_confirm_all(&sid, &biz.bearer(), &tester.bearer()).await;
    app.post("/api/reports", json!({"sessionId": sid}), Some(&biz.bearer())).await.ok();
    app.drain_jobs().await;

    let got = got.lock().unwrap().clone();
    // Deliveries are not ordered (like any webhook system's); the set must be complete.
    let mut types: Vec<String> = got[1..]
        .iter()
        .map(|(_, b)| serde_json::from_str::<Value>(b).unwrap()["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    assert_eq!(
        types,
        ["report.ready", "session.analyzed", "session.completed", "session.confirmed", "study.launched"]
    );
    for (headers, body) in &got {
        assert!(verify(&secret, headers, body), "signature must verify: {headers:?}");
        assert!(headers["webhook-id"].to_str().unwrap().starts_with("msg_"));
        assert!(!body.contains(&tester.email) && !body.contains(&tester.user_id));
    }
    // a tampered body does not verify
    assert!(!verify(&secret, &got[1].0, &got[1].1.replace("study", "stud")));
    let completed = got
        .iter()
        .map(|(_, b)| serde_json::from_str::<Value>(b).unwrap())
        .find(|p| p["type"] == "session.completed")
        .unwrap();
    assert_eq!(completed["data"]["sessionId"], json!(sid));

    // tenancy and deletion
    let other = app.signup("business").await;
    app.get(&format!("/api/webhook-endpoints/{endpoint}/deliveries"), Some(&other.bearer()))
        .await
        .assert_error(404);
    app.send(Method::DELETE, &format!("/api/webhook-endpoints/{endpoint}"), None, &other.bearer())
        .await
        .assert_error(404);
    app.send(Method::DELETE, &format!("/api/webhook-endpoints/{endpoint}"), None, &biz.bearer()).await.ok();
    assert_eq!(app.get("/api/webhook-endpoints", Some(&biz.bearer())).await.body["metadata"]["total"], 0);
    // no more deliveries after deletion
    app.post(&format!("/api/jobs/{job}/close"), json!({}), Some(&biz.bearer())).await.ok();
    let before = got.len();
    app.launched_study(&biz, study_body()).await;
    app.drain_jobs().await;
    assert_eq!(before, 6);
}
