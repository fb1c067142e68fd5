//! Studies: validation, tenancy, draft rules, launch/close, tester matching, offers and seats.

#![allow(clippy::unwrap_used)]

use axum::http::Method;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, TestApp, profile_body, study_body};

both!(
    create_validates_every_rule,
    studies_are_tenant_scoped,
    only_drafts_change,
    testers_see_matching_open_studies,
    offers_and_seats
);

/// `body` with the value at `pointer` set (the parent must exist).
fn with(mut body: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = body.pointer_mut(parent).unwrap();
    match target {
        Value::Array(a) => a[key.parse::<usize>().unwrap()] = value,
        Value::Object(o) => {
            o.insert(key.to_owned(), value);
        }
        _ => panic!("{pointer}"),
    }
    body
}

async fn create_validates_every_rule(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    let res = app.post("/api/jobs", study_body(), Some(&biz.bearer())).await;
    let s = res.ok();
    assert!(s["jobId"].as_str().unwrap().starts_with("job_"));
    assert_eq!(s["status"], "draft");
    assert_eq!(s["title"], "Checkout usability");
    assert_eq!(s["tasks"].as_array().unwrap().len(), 2);
    assert!(s["tasks"][0]["taskId"].as_str().unwrap().starts_with("task_"));
    assert_eq!(s["tasks"][1]["order"], 2);
    assert_eq!(s["settings"]["maxDurationMinutes"], 45);
    assert_eq!(s["sessionsTotal"], 0);
    assert_eq!(s["organizationId"], json!(biz.organization_id));

    let cases: Vec<(Value, &str)> = vec![
        (with(study_body(), "/title", json!("ab")), "title:"),
        (with(study_body(), "/prototypeUrl", json!("ftp://x")), "prototypeUrl:"),
        (with(study_body(), "/tasks", json!([])), "tasks:"),
        (with(study_body(), "/tasks/1/order", json!(1)), "tasks[1].order:"),
        (with(study_body(), "/targeting/countries", json!([])), "targeting.countries:"),
        (with(study_body(), "/targeting/countries", json!(["UK"])), "targeting.countries:"),
        (with(study_body(), "/targeting/testerCount", json!(2)), "targeting.testerCount:"),
        (with(study_body(), "/targeting/languages", json!(["english"])), "targeting.languages:"),
        (with(study_body(), "/ndCategories", json!(["adhd", "genius"])), "ndCategories:"),
        (with(study_body(), "/compensation/amount", json!(0)), "compensation.amount:"),
        (with(study_body(), "/compensation/amount", json!(10.005)), "compensation.amount:"),
        (with(study_body(), "/compensation/currency", json!("EURO")), "compensation.currency:"),
        (with(study_body(), "/targeting/ageRange", json!({"min": 15, "max": 30})), "targeting.ageRange:"),
        (
            with(
                study_body(),
                "/abTest",
                json!({"enabled": true, "variants": [{"label": "A"}, {"label": "B"}], "splitRatio": {"A": 0.5, "B": 0.6}}),
            ),
            "abTest.splitRatio:",
        ),
        (
            with(
                study_body(),
                "/abTest",
                json!({"enabled": true, "variants": [{"label": "A"}], "splitRatio": {"A": 1.0}}),
            ),
            "abTest.variants:",
        ),
        (with(study_body(), "/analysis", json!({"rageClickMaxGapMs": "fast"})), "analysis:"),
    ];
    for (body, field) in cases {
        let msg = app.post("/api/jobs", body, Some(&biz.bearer())).await.assert_error(422);
        assert!(msg.starts_with(field), "{msg} should start with {field}");
    }
    // missing required field and wrong enum
    let mut body = study_body();
    body.as_object_mut().unwrap().remove("compensation");
    assert_eq!(
        app.post("/api/jobs", body, Some(&biz.bearer())).await.assert_error(422),
        "compensation: is required"
    );
    app.post("/api/jobs", with(study_body(), "/prototypeType", json!("sketch")), Some(&biz.bearer()))
        .await
        .assert_error(400);
    // testers cannot create studies; nothing was stored by any failure
    let tester = app.signup("tester").await;
    app.post("/api/jobs", study_body(), Some(&tester.bearer())).await.assert_error(403);
    assert_eq!(app.get("/api/jobs", Some(&biz.bearer())).await.body["metadata"]["total"], 1);
    // an A/B study is accepted
    let ab = with(
        study_body(),
        "/abTest",
        json!({"enabled": true, "variants": [{"label": "A", "description": "old"}, {"label": "B", "description": "new"}], "splitRatio": {"A": 0.5, "B": 0.5}}),
    );
    app.post("/api/jobs", ab, Some(&biz.bearer())).await.ok();
}

async fn studies_are_tenant_scoped(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let acme = app.signup("business").await;
    let globex = app.signup("business").await;
    let id = app.post("/api/jobs", study_body(), Some(&acme.bearer())).await.ok()["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post("/api/jobs", study_body(), Some(&globex.bearer())).await.ok();
    let path = format!("/api/jobs/{id}");
    assert_eq!(app.get(&path, Some(&globex.bearer())).await.assert_error(404), "Study not found");
    app.send(Method::PATCH, &path, Some(json!({"title": "Hijacked"})), &globex.bearer())
        .await
        .assert_error(404);
    app.post(&format!("{path}/launch"), json!({}), Some(&globex.bearer())).await.assert_error(404);
    app.get(&format!("{path}/sessions"), Some(&globex.bearer())).await.assert_error(404);
    let list = app.get("/api/jobs", Some(&acme.bearer())).await;
    assert_eq!(list.body["metadata"]["total"], 1);
    assert_eq!(list.ok()[0]["jobId"], json!(id));
    // status filter
    assert_eq!(app.get("/api/jobs?status=open", Some(&acme.bearer())).await.body["metadata"]["total"], 0);
    assert_eq!(app.get("/api/jobs?status=draft", Some(&acme.bearer())).await.body["metadata"]["total"], 1);
    assert!(
        app.get("/api/jobs?status=nope", Some(&acme.bearer())).await.assert_error(400).starts_with("status:")
    );
    // admins see all
    let admin = app.admin().await;
    assert_eq!(app.get("/api/jobs", Some(&admin.bearer())).await.body["metadata"]["total"], 2);
    app.get(&path, Some(&admin.bearer())).await.ok();
    // API tokens with read scope may list
    let tok = app
        .post("/api/tokens", json!({"name": "r", "scopes": ["read"]}), Some(&acme.bearer()))
        .await
        .ok()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.get("/api/jobs", Some(&format!("Token {tok}"))).await.body["metadata"]["total"], 1);
    app.post("/api/jobs", study_body(), Some(&format!("Token {tok}"))).await.assert_error(403);
}

async fn only_drafts_change(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    let id = app.post("/api/jobs", study_body(), Some(&biz.bearer())).await.ok()["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/jobs/{id}");
    let res = app.send(Method::PATCH, &path, Some(json!({"title": "Renamed study", "tasks": [{"title": "Only", "description": "d", "successCriteria": "s", "order": 5}]})), &biz.bearer()).await;
    assert_eq!(res.ok()["title"], "Renamed study");
    assert_eq!(res.ok()["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(res.ok()["description"], "Find where checkout blocks people.");
    // invalid patch leaves the draft untouched
    let msg =
        app.send(Method::PATCH, &path, Some(json!({"title": "x"})), &biz.bearer()).await.assert_error(422);
    assert!(msg.starts_with("title:"));
    assert_eq!(app.get(&path, Some(&biz.bearer())).await.ok()["title"], "Renamed study");
    // launch, then no more changes
    let res = app.post(&format!("{path}/launch"), json!({}), Some(&biz.bearer())).await;
    assert_eq!(res.ok()["status"], "open");
    assert!(res.ok()["launchedAt"].is_string());
    let msg = app
        .send(Method::PATCH, &path, Some(json!({"title": "Too late now"})), &biz.bearer())
        .await
        .assert_error(422);
    assert!(msg.contains("open"), "{msg}");
    assert!(
        app.post(&format!("{path}/launch"), json!({}), Some(&biz.bearer()))
            .await
            .assert_error(422)
            .contains("open")
    );
    assert_eq!(
        app.post(&format!("{path}/close"), json!({}), Some(&biz.bearer())).await.ok()["status"],
        "closed"
    );
    assert_eq!(
        app.post(&format!("{path}/close"), json!({}), Some(&biz.bearer())).await.assert_error(422),
        "Cannot close a study that is closed"
    );
    // a draft cannot be closed
    let draft = app.post("/api/jobs", study_body(), Some(&biz.bearer())).await.ok()["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(&format!("/api/jobs/{draft}/close"), json!({}), Some(&biz.bearer())).await.assert_error(422);
}

async fn testers_see_matching_open_studies(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    let open = app.launched_study(&biz, study_body()).await;
    let _draft = app.post("/api/jobs", study_body(), Some(&biz.bearer())).await;
    let french = app.launched_study(&biz, with(study_body(), "/targeting/countries", json!(["FR"]))).await;
    let autism = app.launched_study(&biz, with(study_body(), "/ndCategories", json!(["autism"]))).await;
    let tablet = app.launched_study(&biz, with(study_body(), "/targeting/devices", json!(["tablet"]))).await;
    let young = app
        .launched_study(&biz, with(study_body(), "/targeting/ageRange", json!({"min": 18, "max": 25})))
        .await;
    let any_device = app.launched_study(&biz, with(study_body(), "/targeting/devices", json!([]))).await;

    let tester = app.tester().await;
    let list = app.get("/api/jobs", Some(&tester.bearer())).await;
    let mut seen: Vec<String> =
        list.ok().as_array().unwrap().iter().map(|s| s["jobId"].as_str().unwrap().to_owned()).collect();
    seen.sort();
    let mut want = vec![open.clone(), any_device];
    want.sort();
    assert_eq!(seen, want);
    assert_eq!(list.body["metadata"]["total"], 2);
    for hidden in [&french, &autism, &tablet, &young] {
        app.get(&format!("/api/jobs/{hidden}"), Some(&tester.bearer())).await.assert_error(404);
        app.post(&format!("/api/jobs/{hidden}/accept"), json!({}), Some(&tester.bearer()))
            .await
            .assert_error(404);
    }
    // no profile: sees nothing, cannot accept
    let bare = app.signup("tester").await;
    assert_eq!(app.get("/api/jobs", Some(&bare.bearer())).await.body["metadata"]["total"], 0);
    app.post(&format!("/api/jobs/{open}/accept"), json!({}), Some(&bare.bearer())).await.assert_error(422);
    // unavailable: no new matches
    let mut p = profile_body();
    p["available"] = json!(false);
    app.send(Method::PUT, "/api/testers/me/profile", Some(p), &tester.bearer()).await.ok();
    assert_eq!(app.get("/api/jobs", Some(&tester.bearer())).await.body["metadata"]["total"], 0);
    // profile validation
    for (field, value) in [
        ("country", json!("XX")),
        ("birthYear", json!(2020)),
        ("ndCategories", json!(["x"])),
        ("timezone", json!("not a zone")),
    ] {
        let mut p = profile_body();
        p[field] = value;
        let msg = app
            .send(Method::PUT, "/api/testers/me/profile", Some(p), &tester.bearer())
            .await
            .assert_error(422);
        assert!(msg.starts_with(field), "{msg}");
    }
    assert_eq!(app.get("/api/testers/me/profile", Some(&tester.bearer())).await.ok()["available"], false);
    app.get("/api/testers/me/profile", Some(&biz.bearer())).await.assert_error(403);
}

async fn offers_and_seats(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    let job = app.launched_study(&biz, study_body()).await;
    let app_ref = &app;
    let accept = |t: &crate::helpers::Account| {
        let (path, auth) = (format!("/api/jobs/{job}/accept"), t.bearer());
        async move { app_ref.post(&path, json!({}), Some(&auth)).await }
    };
    let t1 = app.tester().await;
    let t2 = app.tester().await;
    let t3 = app.tester().await;
    let t4 = app.tester().await;
    assert_eq!(accept(&t1).await.ok()["testerLabel"], "Tester 1");
    assert_eq!(accept(&t1).await.assert_error(422), "You have already accepted this study");
    assert_eq!(accept(&t2).await.ok()["testerLabel"], "Tester 2");
    assert_eq!(accept(&t3).await.ok()["testerLabel"], "Tester 3");
    assert_eq!(accept(&t4).await.assert_error(422), "This study has no free seat");
    assert_eq!(app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await.ok()["seatsTaken"], 3);
    // declining frees the seat; labels stay stable
    app.post(&format!("/api/jobs/{job}/decline"), json!({}), Some(&t2.bearer())).await.ok();
    assert_eq!(accept(&t4).await.ok()["testerLabel"], "Tester 4");
    assert_eq!(accept(&t2).await.assert_error(422), "This study has no free seat");
    // businesses cannot accept
    app.post(&format!("/api/jobs/{job}/accept"), json!({}), Some(&biz.bearer())).await.assert_error(403);
    // a tester with a session cannot decline
    app.session(&t1, &job).await;
    app.post(&format!("/api/jobs/{job}/decline"), json!({}), Some(&t1.bearer())).await.assert_error(422);
    // closed studies take no one
    app.post(&format!("/api/jobs/{job}/close"), json!({}), Some(&biz.bearer())).await.ok();
    app.post(&format!("/api/jobs/{job}/decline"), json!({}), Some(&t3.bearer())).await.ok();
    let res = accept(&t3).await;
    assert_eq!(res.status.as_u16(), 422, "{}", res.text);
}
