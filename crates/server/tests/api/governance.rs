//! Testers and governance (issue #13): the quiz, eligibility, special-category consent, the
//! admin's tester list, and erasure that leaves nothing (checked over every table).

#![allow(clippy::unwrap_used)]

use axum::http::Method;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Account, Backend, PASSWORD, TestApp, profile_body, study_body};

both!(
    quiz_versions_attempts_and_the_docs_example,
    eligibility_agrees_between_offers_and_single_checks,
    consent_withdrawal_removes_special_category_data,
    admin_lists_and_suspends_testers_with_an_audit_trail,
    erasure_leaves_no_row_about_the_person
);

/// The docs' `GET /api/admin/quiz` data (published-docs §3.6), posted as a new version.
fn docs_quiz() -> Value {
    json!({ "quizId": "quiz_v3", "version": 3, "passingScore": 70, "questions": [ { "questionId": "q_001", "text": "What does 'think aloud' mean in usability testing?", "type": "multiple_choice", "options": [ { "id": "a", "text": "Reading instructions out loud" }, { "id": "b", "text": "Narrating your thoughts and actions while performing tasks" }, { "id": "c", "text": "Answering questions after the test" }, { "id": "d", "text": "Using a voice interface" } ], "correctOptionId": "b", "points": 10 } ], "updatedAt": "2026-01-15T00:00:00Z" })
}

async fn quiz_versions_attempts_and_the_docs_example(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let admin = app.admin().await;
    let tester = app.signup("tester").await;
    // The shipped quiz: 10 questions, pass mark 80.
    let shipped = app.get("/api/admin/quiz", Some(&admin.bearer())).await;
    assert_eq!(
        (shipped.ok()["quizId"].as_str(), shipped.ok()["passingScore"].as_i64()),
        (Some("quiz_v1"), Some(80))
    );
    assert_eq!(shipped.ok()["questions"].as_array().unwrap().len(), 10);
    app.get("/api/admin/quiz", Some(&tester.bearer())).await.assert_error(403);
    // A tester's view has no answers.
    let view = app.get("/api/quiz", Some(&tester.bearer())).await;
    assert!(view.ok()["questions"].as_array().unwrap().iter().all(|q| q["correctOptionId"] == ""));
    // The docs' example is accepted as a new version, active at once.
    let res = app.post("/api/admin/quiz", docs_quiz(), Some(&admin.bearer())).await;
    assert_eq!((res.ok()["quizId"].as_str(), res.ok()["version"].as_i64()), (Some("quiz_v2"), Some(2)));
    let current = app.get("/api/admin/quiz", Some(&admin.bearer())).await;
    assert_eq!(current.ok()["passingScore"], 70);
    assert_eq!(current.ok()["questions"][0]["correctOptionId"], "b");
    let bad = json!({"passingScore": 70, "questions": [{"text": "x", "options": [{"id": "a", "text": "y"}, {"id": "b", "text": "z"}], "correctOptionId": "c"}]});
    let msg = app.post("/api/admin/quiz", bad, Some(&admin.bearer())).await.assert_error(422);
    assert!(msg.starts_with("questions[0].correctOptionId"), "{msg}");
    // Attempts: a wrong answer fails; the older version is still scored against its own answers.
    let wrong = json!({"quizId": "quiz_v2", "answers": {"q_001": "a"}});
    let res = app.post("/api/quiz/attempts", wrong, Some(&tester.bearer())).await;
    assert_eq!((res.ok()["score"].as_i64(), res.ok()["passed"].as_bool()), (Some(0), Some(false)));
    let right = json!({"quizId": "quiz_v2", "answers": {"q_001": "b"}});
    let res = app.post("/api/quiz/attempts", right.clone(), Some(&tester.bearer())).await;
    assert_eq!((res.ok()["score"].as_i64(), res.ok()["passed"].as_bool()), (Some(100), Some(true)));
    let me = app.get("/api/testers/me/profile", Some(&tester.bearer())).await;
    assert_eq!(me.ok()["capacityVerified"], true);
    // The publication is in the audit log.
    let log = app.get("/api/admin/audit-log", Some(&admin.bearer())).await;
    assert!(
        log.ok()
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "quiz.published" && e["targetId"] == "quiz_v2")
    );
    // At most three attempts in 24 hours.
    app.post("/api/quiz/attempts", right.clone(), Some(&tester.bearer())).await.ok();
    app.post("/api/quiz/attempts", right.clone(), Some(&tester.bearer())).await.assert_error(429);
    app.clock.advance_ms(24 * 60 * 60 * 1000 + 1);
    let again =
        app.post("/api/auth/signin", json!({"email": tester.email, "password": PASSWORD}), None).await;
    let bearer = format!("Bearer {}", again.ok()["accessToken"].as_str().unwrap());
    app.post("/api/quiz/attempts", right, Some(&bearer)).await.ok();
}

/// Whether `t` sees the study offered and may accept it.
async fn offered(app: &TestApp, t: &Account, job: &str) -> (bool, u16) {
    let list = app.get("/api/jobs?status=open", Some(&t.bearer())).await;
    let seen = list.ok().as_array().unwrap().iter().any(|s| s["jobId"] == job);
    let accept = app.post(&format!("/api/jobs/{job}/accept"), json!({}), Some(&t.bearer())).await;
    if accept.status.is_success() {
        // give the seat back for the next check
        app.post(&format!("/api/jobs/{job}/decline"), json!({}), Some(&t.bearer())).await.ok();
    }
    (seen, accept.status.as_u16())
}

async fn eligibility_agrees_between_offers_and_single_checks(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    let admin = app.admin().await;
    let job = app.launched_study(&biz, study_body()).await;
    // A study the tester never answered, for the targeting check (answered ones stay visible).
    let fresh = app.launched_study(&biz, study_body()).await;
    let t = app.signup("tester").await;
    let put_profile = |p: Value| {
        let (app, t) = (&app, &t);
        async move { app.send(Method::PUT, "/api/testers/me/profile", Some(p), &t.bearer()).await }
    };
    // ND categories need consent first.
    let msg = put_profile(profile_body()).await.assert_error(422);
    assert!(msg.starts_with("ndCategories: give special-category consent"), "{msg}");
    let mut plain = profile_body();
    plain["ndCategories"] = json!([]);
    put_profile(plain).await.ok();
    // Each unmet rule: neither offered nor accepted (and no session starts).
    assert_eq!(offered(&app, &t, &job).await, (false, 422), "no consent, no quiz");
    app.post(
        "/api/testers/me/consent",
        json!({"version": "v1.1", "specialCategory": true}),
        Some(&t.bearer()),
    )
    .await
    .ok();
    put_profile(profile_body()).await.ok();
    assert_eq!(offered(&app, &t, &job).await, (false, 422), "quiz not passed");
    let body = json!({"jobId": job, "testerId": t.user_id});
    let msg = app.post("/api/sessions", body.clone(), Some(&t.bearer())).await.assert_error(422);
    assert_eq!(msg, "Pass the capacity quiz before accepting a study");
    app.make_eligible(&t).await;
    assert_eq!(offered(&app, &t, &job).await, (true, 200), "eligible and matching");
    // Not matching the targeting: the matching query and the single check agree.
    let mut elsewhere = profile_body();
    elsewhere["country"] = json!("FR");
    put_profile(elsewhere).await.ok();
    assert_eq!(offered(&app, &t, &fresh).await, (false, 404));
    put_profile(profile_body()).await.ok();
    // Unavailable.
    let mut away = profile_body();
    away["available"] = json!(false);
    put_profile(away).await.ok();
    let unseen = app.launched_study(&biz, study_body()).await;
    assert_eq!(offered(&app, &t, &unseen).await, (false, 422));
    put_profile(profile_body()).await.ok();
    // Suspended by an admin.
    let patch = |s: &str| json!({"status": s});
    app.send(
        Method::PATCH,
        &format!("/api/admin/testers/{}", t.user_id),
        Some(patch("suspended")),
        &admin.bearer(),
    )
    .await
    .ok();
    let unseen = app.launched_study(&biz, study_body()).await;
    assert_eq!(offered(&app, &t, &unseen).await, (false, 422));
    app.post("/api/sessions", body, Some(&t.bearer())).await.assert_error(422);
    app.send(
        Method::PATCH,
        &format!("/api/admin/testers/{}", t.user_id),
        Some(patch("active")),
        &admin.bearer(),
    )
    .await
    .ok();
    assert_eq!(offered(&app, &t, &unseen).await, (true, 200));
}

async fn consent_withdrawal_removes_special_category_data(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let live = app.live_session().await;
    let tt = &live.tt;
    let facial =
        json!([{"timestamp": app.at(1000), "emotion": "confused", "confidence": 0.8, "faceDetected": true}]);
    app.post("/api/data/facial", json!({"sessionId": live.sid, "batch": facial}), Some(tt)).await.ok();
    let voice = json!([{"timestamp": app.at(2000), "durationMs": 800, "transcript": "where is it", "confidence": 0.9}]);
    app.post("/api/data/voice", json!({"sessionId": live.sid, "batch": voice}), Some(tt)).await.ok();
    let events = json!([{"timestamp": app.at(3000), "eventType": "click", "targetSelector": "#a"}]);
    app.post("/api/data/events", json!({"sessionId": live.sid, "batch": events}), Some(tt)).await.ok();
    let export_path = format!("/api/sessions/{}/export?format=ndjson", live.sid);
    let before = app.get(&export_path, Some(&live.biz.bearer())).await.text;
    assert!(before.contains("\"kind\":\"facial\"") && before.contains("\"kind\":\"voice\""));

    app.clock.advance_ms(1_000);
    let res = app.send(Method::DELETE, "/api/testers/me/consent", None, &live.tester.bearer()).await;
    assert_eq!(res.ok()["specialCategory"], false);
    let history: Vec<&str> =
        res.ok()["history"].as_array().unwrap().iter().map(|h| h["action"].as_str().unwrap()).collect();
    assert_eq!(history, ["given", "withdrawn"]);
    let after = app.get(&export_path, Some(&live.biz.bearer())).await.text;
    assert!(!after.contains("\"kind\":\"facial\"") && !after.contains("\"kind\":\"voice\""), "{after}");
    assert!(after.contains("\"kind\":\"event\""), "behavioural events stay");
    let profile = app.get("/api/testers/me/profile", Some(&live.tester.bearer())).await;
    assert_eq!(
        (profile.ok()["ndCategories"].clone(), profile.ok()["assistiveTech"].clone()),
        (json!([]), json!([]))
    );
    // The running session takes no new facial item; no new offers.
    let res = app.post("/api/data/facial", json!({"sessionId": live.sid, "batch": facial}), Some(tt)).await;
    assert_eq!(res.ok()["accepted"], 0);
    let other = app.launched_study(&live.biz, study_body()).await;
    assert!(
        !app.get("/api/jobs", Some(&live.tester.bearer()))
            .await
            .ok()
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["jobId"] == other)
    );
    // Withdrawing twice: nothing in force.
    app.send(Method::DELETE, "/api/testers/me/consent", None, &live.tester.bearer()).await.assert_error(404);
}

async fn admin_lists_and_suspends_testers_with_an_audit_trail(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let admin = app.admin().await;
    let live = app.live_session().await;
    let other = app.tester().await;
    let job2 = app.launched_study(&live.biz, study_body()).await;
    app.post(&format!("/api/jobs/{job2}/accept"), json!({}), Some(&other.bearer())).await.ok();
    app.post(&format!("/api/sessions/{}/complete", live.sid), json!({}), Some(&live.tt)).await.ok();

    let res = app
        .get("/api/admin/testers?status=active&country=GB&ndCategory=dyslexia", Some(&admin.bearer()))
        .await;
    assert_eq!(res.body["metadata"]["total"], 2);
    let row = &res
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["testerId"] == json!(live.tester.user_id))
        .unwrap()
        .clone();
    for (field, ok) in [
        ("testerId", row["testerId"].is_string()),
        ("email", row["email"].is_string()),
        ("displayName", row["displayName"].is_string()),
        ("country", row["country"] == "GB"),
        ("status", row["status"] == "active"),
        ("completedSessions", row["completedSessions"] == 1),
        ("joinedAt", row["joinedAt"].is_string()),
    ] {
        assert!(ok, "{field}: {row}");
    }
    assert_eq!(
        app.get("/api/admin/testers?minSessions=1", Some(&admin.bearer())).await.body["metadata"]["total"],
        1
    );
    assert_eq!(
        app.get("/api/admin/testers?country=IT", Some(&admin.bearer())).await.body["metadata"]["total"],
        0
    );
    app.get("/api/admin/testers?status=gone", Some(&admin.bearer())).await.assert_error(400);
    app.get("/api/admin/testers", Some(&live.biz.bearer())).await.assert_error(403);

    // Suspension: the open offer (accepted, no session) goes; the running session is kept.
    let res = app
        .send(
            Method::PATCH,
            &format!("/api/admin/testers/{}", other.user_id),
            Some(json!({"status": "suspended"})),
            &admin.bearer(),
        )
        .await;
    assert_eq!(
        (res.ok()["status"].as_str(), res.ok()["previousStatus"].as_str()),
        (Some("suspended"), Some("active"))
    );
    let study = app.get(&format!("/api/jobs/{job2}"), Some(&live.biz.bearer())).await;
    assert_eq!(study.ok()["seatsTaken"], 0, "the open offer was given back");
    app.send(
        Method::PATCH,
        &format!("/api/admin/testers/{}", live.tester.user_id),
        Some(json!({"status": "suspended"})),
        &admin.bearer(),
    )
    .await
    .ok();
    let s = app.get(&format!("/api/sessions/{}", live.sid), Some(&live.biz.bearer())).await;
    assert_eq!(s.ok()["status"], "completed", "sessions are kept");
    app.send(
        Method::PATCH,
        &format!("/api/admin/testers/{}", other.user_id),
        Some(json!({"status": "banned"})),
        &admin.bearer(),
    )
    .await
    .assert_error(422);
    app.send(
        Method::PATCH,
        "/api/admin/testers/user_nobody",
        Some(json!({"status": "active"})),
        &admin.bearer(),
    )
    .await
    .assert_error(404);
    let log = app.get("/api/admin/audit-log", Some(&admin.bearer())).await;
    let entry =
        log.ok().as_array().unwrap().iter().find(|e| e["targetId"] == json!(other.user_id)).unwrap().clone();
    assert_eq!(entry["action"], "tester.status_changed");
    assert_eq!(entry["actorId"], json!(admin.user_id));
    assert_eq!(entry["details"], json!({"before": "active", "after": "suspended"}));
    assert!(entry["requestId"].as_str().unwrap().starts_with("req_"));
}

/// Every text of every row of every table (enumerated from the schema, so a new table is
/// scanned too) that contains one of `needles`: `(table, column, value)`.
async fn scan_every_table(app: &TestApp, needles: &[&str]) -> Vec<(String, String, String)> {
    let mut hits = Vec::new();
    if app.backend == Backend::Sqlite {
        use sqlx::{Connection, Row};
        let mut c = sqlx::SqliteConnection::connect(&app.db.url).await.unwrap();
        let tables: Vec<(String,)> = sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&mut c)
            .await
            .unwrap();
        for (t,) in tables {
            let cols = sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA table_info({t})")))
                .fetch_all(&mut c)
                .await
                .unwrap();
            for col in cols {
                let name: String = col.get("name");
                let sql =
                    format!("SELECT CAST({name} AS TEXT) FROM {t} WHERE CAST({name} AS TEXT) IS NOT NULL");
                let values: Vec<(String,)> =
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&mut c).await.unwrap();
                for (v,) in values.into_iter().filter(|(v,)| needles.iter().any(|n| v.contains(n))) {
                    hits.push((t.clone(), name.clone(), v));
                }
            }
        }
    } else {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
        let cols: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = 'public'",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        for (t, name) in cols {
            let sql = format!("SELECT CAST(\"{name}\" AS TEXT) FROM \"{t}\" WHERE \"{name}\" IS NOT NULL");
            let values: Vec<(String,)> =
                sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&mut c).await.unwrap();
            for (v,) in values.into_iter().filter(|(v,)| needles.iter().any(|n| v.contains(n))) {
                hits.push((t.clone(), name.clone(), v));
            }
        }
    }
    // The erasure journal keeps the erased id and the time of the request, by design: a restore
    // of an older backup erases the person again from it (docs/deploy.md).
    hits.retain(|(t, _, _)| t != "erasure_journal");
    hits
}

async fn erasure_leaves_no_row_about_the_person(b: Backend) {
    let Some((app, _bot)) = crate::telegram::app_with_bot(b, &[]).await else { return };
    let biz = app.signup("business").await;
    let unique = ulid::Ulid::generate().to_string().to_lowercase();
    let (email, name) = (format!("ada-{unique}@example.com"), format!("Ada Lovelace {unique}"));
    let res = app
        .post(
            "/api/auth/signup",
            json!({"email": email, "password": PASSWORD, "fullName": name, "role": "tester"}),
            None,
        )
        .await;
    let tester = Account {
        user_id: res.ok()["user"]["userId"].as_str().unwrap().to_owned(),
        organization_id: None,
        access: res.ok()["accessToken"].as_str().unwrap().to_owned(),
        refresh: res.ok()["refreshToken"].as_str().unwrap().to_owned(),
        email: email.clone(),
    };
    app.make_eligible(&tester).await;
    app.send(Method::PUT, "/api/testers/me/profile", Some(profile_body()), &tester.bearer()).await.ok();
    let chat: i64 = 770_000_000 + i64::from(rand_u16());
    crate::telegram::link(&app, &tester, chat, 1).await;
    app.post("/api/tokens", json!({"name": "mine", "scopes": ["read"]}), Some(&biz.bearer())).await.ok();
    // What the tester said and wrote, each a phrase found nowhere else: a note, a think-aloud
    // segment, a confirmation comment and added notes (issue #22: erasure must erase them
    // wherever they were copied, findings' evidence and reports included).
    let wrote = format!("zebra-{unique} the pay button is dead");
    let said = format!("quokka-{unique} is it broken");
    let commented = format!("walrus-{unique} I pressed pay again and again");
    let added = format!("ibis-{unique} the page was also slow");
    // Two sessions in two studies, with streams, notes, feedback, confirmed findings, reports.
    let mut reports = Vec::new();
    let mut evidence_counts = Vec::new();
    let mut jobs = Vec::new();
    for _ in 0..2 {
        let job = app.launched_study(&biz, study_body()).await;
        let (sid, token) = app.session(&tester, &job).await;
        let tt = format!("Token {token}");
        let study = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await;
        let task = study.ok()["tasks"][0]["taskId"].as_str().unwrap().to_owned();
        app.post(&format!("/api/sessions/{sid}/notes"), json!({"text": wrote}), Some(&tt)).await.ok();
        let voice =
            json!([{"timestamp": app.at(500), "durationMs": 900, "transcript": said, "confidence": 0.9}]);
        app.post("/api/data/voice", json!({"sessionId": sid, "batch": voice}), Some(&tt)).await.ok();
        app.broken_checkout(&sid, &tt, &task).await;
        let feedback = json!({"tasks": [{"taskId": task, "outcome": "fail", "seq": 2, "startedAt": app.at(-9_000), "endedAt": app.at(-1_000)}], "sus": [3,3,3,3,3,3,3,3,3,3], "nps": 4});
        app.post(&format!("/api/sessions/{sid}/feedback"), feedback, Some(&tester.bearer())).await.ok();
        let findings = app.analyzed(&sid, &tester.bearer()).await;
        assert!(!findings.is_empty());
        let decisions: Vec<Value> = findings
            .iter()
            .map(|f| json!({"findingId": f["findingId"], "decision": "confirm", "comment": commented}))
            .collect();
        let res = app
            .post(
                &format!("/api/sessions/{sid}/confirm"),
                json!({"decisions": decisions, "addedNotes": added}),
                Some(&tester.bearer()),
            )
            .await;
        assert_eq!(res.ok()["status"], "confirmed");
        app.post("/api/reports", json!({"sessionId": sid}), Some(&biz.bearer())).await.ok();
        app.post(&format!("/api/reports/job/{job}"), json!({}), Some(&biz.bearer())).await.ok();
        app.drain_jobs().await;
        let r = app.get(&format!("/api/sessions/{sid}/report"), Some(&biz.bearer())).await;
        reports.push((sid.clone(), r.ok()["reportId"].as_str().unwrap().to_owned()));
        jobs.push(job.clone());
        let f = app.get(&format!("/api/sessions/{sid}/findings"), Some(&biz.bearer())).await;
        evidence_counts.push(
            f.ok()
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["evidence"].as_array().unwrap().len())
                .collect::<Vec<_>>(),
        );
    }
    // A third study the tester is still testing: erasure abandons it, so it does not stall.
    let running_job = app.launched_study(&biz, study_body()).await;
    let (running, _) = app.session(&tester, &running_job).await;
    let chat_text = chat.to_string();
    let needles = [tester.user_id.as_str(), email.as_str(), name.as_str(), chat_text.as_str()];
    assert!(!scan_every_table(&app, &needles).await.is_empty(), "the scan finds the person before erasure");
    let words = [wrote.as_str(), said.as_str(), commented.as_str(), added.as_str()];
    let found = scan_every_table(&app, &words).await;
    for table in ["findings", "reports", "voice", "session_notes"] {
        assert!(
            found.iter().any(|(t, _, _)| t == table),
            "the scan finds their words in {table} before erasure"
        );
    }

    // Erasure: locked out at once, erased by the queue.
    let res = app.send(Method::DELETE, "/api/me", None, &tester.bearer()).await;
    assert_eq!(res.ok()["status"], "queued");
    app.get("/api/me", Some(&tester.bearer())).await.assert_error(401);
    app.drain_jobs().await;
    app.post("/api/auth/signin", json!({"email": email, "password": PASSWORD}), None).await.assert_error(401);
    let hits = scan_every_table(&app, &needles).await;
    assert!(hits.is_empty(), "rows still about the person: {hits:#?}");
    let hits = scan_every_table(&app, &words).await;
    assert!(hits.is_empty(), "their words are still stored: {hits:#?}");
    let s = app.get(&format!("/api/sessions/{running}"), Some(&biz.bearer())).await;
    assert_eq!(s.ok()["status"], "abandoned", "the erased tester's running session is abandoned");
    // Nothing the business reads carries their words; findings keep their signals and counts.
    for job in &jobs {
        for path in [format!("/api/reports/job/{job}"), format!("/api/jobs/{job}/findings")] {
            let res = app.get(&path, Some(&biz.bearer())).await;
            assert_eq!(res.status, 200, "{path}: {}", res.text);
            assert!(words.iter().all(|w| !res.text.contains(w)), "{path}: {}", res.text);
        }
    }
    for ((sid, _), counts) in reports.iter().zip(&evidence_counts) {
        let f = app.get(&format!("/api/sessions/{sid}/findings"), Some(&biz.bearer())).await;
        let after: Vec<usize> =
            f.ok().as_array().unwrap().iter().map(|f| f["evidence"].as_array().unwrap().len()).collect();
        assert_eq!(&after, counts);
        for path in [
            format!("/api/sessions/{sid}/findings"),
            format!("/api/sessions/{sid}/report"),
            format!("/api/sessions/{sid}/export?format=ndjson"),
        ] {
            let text = app.get(&path, Some(&biz.bearer())).await.text;
            assert!(words.iter().all(|w| !text.contains(w)), "{path}: {text}");
        }
    }

    // Reports and confirmed findings outlive them, with the anonymous label only.
    for (sid, report) in &reports {
        let r = app.get(&format!("/api/reports/{report}"), Some(&biz.bearer())).await;
        assert!(r.ok()["findings"].as_array().is_some_and(|f| !f.is_empty()), "{}", r.text);
        let s = app.get(&format!("/api/sessions/{sid}"), Some(&biz.bearer())).await;
        assert_eq!(s.ok()["testerLabel"], "Tester 1");
        let export =
            app.get(&format!("/api/sessions/{sid}/export?format=ndjson"), Some(&biz.bearer())).await.text;
        assert_eq!(export.lines().count(), 1, "no stream, note or feedback is left: {export}");
    }
}

fn rand_u16() -> u16 {
    let mut b = [0u8; 2];
    getrandom::fill(&mut b).unwrap();
    u16::from_le_bytes(b)
}
