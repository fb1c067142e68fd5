//! The study report as a research tool (issue #26): what a business may read of findings
//! (never one before the tester's decision, never a rejected one), the charts and their tables,
//! evidence linked to its session's moments, the testers' own words, segments, excluding a
//! session with its reason, the report's CSV, and revocable read-only share links.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use crate::both;
use crate::dashboard::{assert_page, csrf, form, page, reported_study, signin};
use crate::helpers::TestApp;

both!(
    rejected_finding_never_reaches_the_business,
    study_page_draws_charts_links_evidence_and_keeps_words,
    excluding_a_session_keeps_the_reason_and_segments_respect_suppression,
    share_link_opens_signed_out_until_revoked_or_expired
);

/// A title no other text of the study contains.
const UNIQUE: &str = "#reject-me-7f3a9";

async fn rejected_finding_never_reaches_the_business(b: crate::helpers::Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let live = app.live_session().await;
    let study = app.get(&format!("/api/jobs/{}", live.job), Some(&live.biz.bearer())).await;
    let task = study.ok()["tasks"][1]["taskId"].as_str().unwrap().to_owned();
    let url = "https://shop.example.com/checkout";
    let mut batch = vec![
        json!({"eventType": "navigation", "targetSelector": "", "url": url, "timestamp": app.at(0), "taskId": task}),
    ];
    for i in 0..6 {
        batch.push(
            json!({"eventType": "click", "targetSelector": "#pay", "targetText": "Pay now", "url": url,
            "timestamp": app.at(1_000 + i * 200), "taskId": task}),
        );
        batch.push(json!({"eventType": "click", "targetSelector": UNIQUE, "url": url,
            "timestamp": app.at(40_000 + i * 200), "taskId": task}));
    }
    // A click that throws: its stack trace is evidence for the business, never words for the tester.
    batch.push(json!({"eventType": "click", "targetSelector": "#signup-submit", "url": url, "timestamp": app.at(50_000), "taskId": task}));
    batch.push(json!({"eventType": "error", "targetSelector": "#signup-submit", "url": url, "timestamp": app.at(50_100), "taskId": task,
        "errorMessage": "Uncaught TypeError: form is undefined at signup.js:88"}));
    app.events(&live.sid, &live.tt, batch).await;
    app.clock.advance_ms(60_000);
    app.post(&format!("/api/sessions/{}/complete", live.sid), json!({}), Some(&live.tt)).await.ok();
    let findings = app.analyzed(&live.sid, &live.tester.bearer()).await;
    let title_of = |sel: &str| {
        findings
            .iter()
            .find(|f| f["selector"] == sel)
            .unwrap_or_else(|| panic!("no finding on {sel}: {findings:?}"))
    };
    let rejected = title_of(UNIQUE).clone();
    let kept = title_of("#pay").clone();
    let rejected_title = rejected["title"].as_str().unwrap().to_owned();
    assert!(rejected_title.contains(UNIQUE), "{rejected_title}");
    // The plain description names the control by its words, never by its selector.
    assert_eq!(
        kept["plainDescription"],
        "The “Pay now” control did not respond to repeated clicks, so it was not clear whether anything happened."
    );
    assert!(!rejected["plainDescription"].as_str().unwrap().contains('#'), "{rejected}");

    // The engine kept the stack trace as evidence (for the business)…
    assert!(Value::Array(findings.clone()).to_string().contains("signup.js:88"), "{findings:?}");
    // …and the tester's confirmation page has plain words only.
    let tcookie = signin(&app, &live.tester).await;
    let mine = page(&app, &format!("/app/sessions/{}", live.sid), &tcookie).await;
    assert_page(&mine, 200);
    assert!(mine.text.contains("The “Pay now” control did not respond"), "{}", mine.text);
    for never in ["signup.js:88", "TypeError", "#signup-submit", "#pay", UNIQUE, "Control does not respond"] {
        assert!(!mine.text.contains(never), "the tester reads {never:?}: {}", mine.text);
    }

    let biz = &live.biz;
    let cookie = signin(&app, biz).await;
    let session_page = format!("/app/sessions/{}", live.sid);
    // Before the tester decides: nothing of either finding, only how many wait.
    let f = app.get(&format!("/api/sessions/{}/findings", live.sid), Some(&biz.bearer())).await;
    assert_eq!(f.ok(), &json!([]));
    let res = page(&app, &session_page, &cookie).await;
    assert_page(&res, 200);
    assert!(!res.text.contains(&rejected_title) && !res.text.contains(kept["title"].as_str().unwrap()));
    assert!(
        res.text.contains(&format!("{} awaiting the tester's decision and 0 rejected", findings.len())),
        "{}",
        res.text
    );
    // An AI assistant of the business (MCP) reads the same: nothing yet.
    let tok = app.post("/api/tokens", json!({"name": "mcp", "scopes": ["read"]}), Some(&biz.bearer())).await;
    let mcp_auth = format!("Token {}", tok.ok()["token"].as_str().unwrap());
    let mcp = crate::mcp::initialize(&app, &mcp_auth).await;
    let insights =
        crate::mcp::call(&app, &mcp_auth, &mcp, "get_insights", json!({"test_id": live.sid})).await;
    assert_eq!(insights["structuredContent"]["insights"], json!([]), "{insights}");

    // The tester confirms one with a comment and rejects the other.
    let decisions: Vec<Value> = findings
        .iter()
        .map(|f| {
            let reject = f["findingId"] == rejected["findingId"];
            json!({"findingId": f["findingId"], "decision": if reject { "reject" } else { "confirm" },
                   "comment": if reject { "Not me at all" } else { "I pressed Pay again and again" }})
        })
        .collect();
    let res = app
        .post(
            &format!("/api/sessions/{}/confirm", live.sid),
            json!({"decisions": decisions, "addedNotes": "The page felt slow"}),
            Some(&live.tester.bearer()),
        )
        .await;
    assert_eq!(res.ok()["status"], "confirmed");
    app.drain_jobs().await;
    // The flow queued both reports on confirmation; asking again is harmless.
    app.post("/api/reports", json!({"sessionId": live.sid}), Some(&biz.bearer())).await;
    app.post(&format!("/api/reports/job/{}", live.job), json!({}), Some(&biz.bearer())).await;
    app.drain_jobs().await;
    let share = app.post(&format!("/api/jobs/{}/shares", live.job), json!({}), Some(&biz.bearer())).await;
    let share_path = share.ok()["path"].as_str().unwrap().to_owned();

    let mut reads: Vec<(String, String)> = Vec::new();
    for path in [
        format!("/api/sessions/{}/findings", live.sid),
        format!("/api/sessions/{}/report", live.sid),
        format!("/api/reports/job/{}", live.job),
        format!("/api/jobs/{}/findings", live.job),
        format!("/api/reports/job/{}/csv?table=findings", live.job),
        format!("/api/reports/job/{}/csv?table=tasks", live.job),
        format!("/api/reports/job/{}/segment?outcome=", live.job),
    ] {
        let res = app.get(&path, Some(&biz.bearer())).await;
        assert_eq!(res.status, 200, "{path}: {}", res.text);
        reads.push((path, res.text));
    }
    for path in [
        session_page.clone(),
        format!("/app/studies/{}", live.job),
        format!("/app/studies/{}/report.csv?table=findings", live.job),
        format!("/app/studies/{}?nd=dyslexia", live.job),
    ] {
        let res = page(&app, &path, &cookie).await;
        assert_eq!(res.status, 200, "{path}: {}", res.text);
        reads.push((path, res.text));
    }
    let insights =
        crate::mcp::call(&app, &mcp_auth, &mcp, "get_insights", json!({"test_id": live.sid})).await;
    reads.push(("MCP get_insights".into(), insights.to_string()));
    assert_eq!(
        insights["structuredContent"]["insights"].as_array().map(Vec::len),
        Some(findings.len() - 1),
        "{insights}"
    );
    let shared = page(&app, &share_path, "").await;
    assert_page(&shared, 200);
    reads.push((share_path, shared.text));
    for (path, text) in &reads {
        assert!(!text.contains(&rejected_title), "{path} shows the rejected finding: {text}");
        assert!(!text.contains("Not me at all"), "{path} shows the comment on a rejected finding");
    }
    // What was confirmed does reach the business, with the tester's words.
    let session = &reads.iter().find(|(p, _)| *p == session_page).unwrap().1;
    assert!(session.contains(kept["title"].as_str().unwrap()), "{session}");
    assert!(session.contains("I pressed Pay again and again") && session.contains("The page felt slow"));
    assert!(session.contains("0 awaiting the tester's decision and 1 rejected by the tester"), "{session}");
    let csv = &reads.iter().find(|(p, _)| p.ends_with("csv?table=findings")).unwrap().1;
    assert!(csv.starts_with("findingId,title,severity,") && csv.contains("#pay"), "{csv}");
}

async fn study_page_draws_charts_links_evidence_and_keeps_words(b: crate::helpers::Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let (biz, job, testers, sids) = reported_study(&app, 3, 2).await;
    let cookie = signin(&app, &biz).await;
    let res = page(&app, &format!("/app/studies/{job}"), &cookie).await;
    assert_page(&res, 200);
    let text = &res.text;
    // Each chart: an image with a title and a description, and its table right after.
    for id in ["chart-matrix", "chart-outcomes", "chart-time", "chart-frustration", "chart-sus", "chart-nps"]
    {
        assert!(text.contains(&format!("aria-labelledby=\"{id}-title {id}-desc\"")), "{id} missing");
        assert!(text.contains(&format!("<desc id=\"{id}-desc\">")), "{id} has no description");
        let at = text.find(&format!("id=\"{id}\"")).unwrap();
        let rest = &text[at..];
        assert!(rest.find("<table").unwrap() < rest.find("</figure>").unwrap(), "{id} has no table");
    }
    // Outcomes keep detours and give-ups apart; the abandon count is written.
    assert!(text.contains("Pay: 3 attempts, 1 success, 0 indirect, 0 fail, 2 abandon"), "{text}");
    // Freshness: the date, what it covers, nothing newer.
    assert!(text.contains("About this report") && text.contains("3 confirmed sessions by 3 testers"));
    assert!(text.contains("Up to date with every confirmed session"));
    // Strata carry their credible interval.
    assert!(text.contains("Task success (observed)") && text.contains("95 % credible interval"));
    // Evidence links to the moment on its session's page, which has that anchor.
    let at = text.find("#t").expect("an evidence link");
    let link_start = text[..at].rfind("href=\"").unwrap() + 6;
    let link = &text[link_start..at + text[at..].find('"').unwrap()];
    let (path, anchor) = link.split_once('#').unwrap();
    assert!(path.starts_with("/app/sessions/") && sids.iter().any(|s| path.ends_with(s.as_str())), "{link}");
    let session = page(&app, path, &cookie).await;
    assert_page(&session, 200);
    assert!(session.text.contains(&format!("<tr id=\"{anchor}\">")), "no anchor {anchor}: {}", session.text);
    assert!(
        session.text.contains("In the tester's words")
            && session.text.contains("Moments behind the findings")
    );
    // The filter form offers only nameable categories; each state is a link.
    assert!(text.contains("<option value=\"dyslexia\">dyslexia</option>"));
    assert!(!text.contains("<option value=\"adhd\">"), "a category with fewer than 2 testers is not offered");
    let seg = page(&app, &format!("/app/studies/{job}?outcome=abandon"), &cookie).await;
    assert_page(&seg, 200);
    assert!(
        seg.text.contains("Showing the segment") && seg.text.contains("2 confirmed sessions by 2 testers"),
        "{}",
        seg.text
    );
    assert!(seg.text.contains("<option value=\"abandon\" selected>"));
    let bad = page(&app, &format!("/app/studies/{job}?outcome=maybe"), &cookie).await;
    assert_page(&bad, 422);
    // Tasks CSV, and a tester may read none of it.
    let csv = app.get(&format!("/api/reports/job/{job}/csv?table=tasks"), Some(&biz.bearer())).await;
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(csv.text.lines().any(|l| l.contains(",Pay,3,1,0,0,2,")), "{}", csv.text);
    app.get(&format!("/api/reports/job/{job}/csv"), Some(&testers[0].bearer())).await.assert_error(403);
    app.get(&format!("/api/reports/job/{job}/csv?table=people"), Some(&biz.bearer())).await.assert_error(400);
    let other = app.signup("business").await;
    app.get(&format!("/api/reports/job/{job}/csv"), Some(&other.bearer())).await.assert_error(404);
}

async fn excluding_a_session_keeps_the_reason_and_segments_respect_suppression(b: crate::helpers::Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let (biz, job, testers, sids) = reported_study(&app, 3, 1).await;
    let path = format!("/api/sessions/{}/exclusion", sids[0]);
    // Bad input: envelope and the right code, nothing written.
    let put = |body: Value, auth: String| {
        let app = &app;
        let path = path.clone();
        async move { app.send(axum::http::Method::PUT, &path, Some(body), &auth).await }
    };
    put(json!({"reason": "  "}), biz.bearer()).await.assert_error(422);
    put(json!({"reason": "x".repeat(501)}), biz.bearer()).await.assert_error(422);
    put(json!({"why": "x"}), biz.bearer()).await.assert_error(400);
    put(json!({"reason": "mine"}), testers[0].bearer()).await.assert_error(403);
    let other = app.signup("business").await;
    put(json!({"reason": "theirs"}), other.bearer()).await.assert_error(404);
    let report = app.get(&format!("/api/reports/job/{job}"), Some(&biz.bearer())).await;
    assert_eq!(report.ok()["sessions"], 3);

    app.clock.advance_ms(1_000);
    let res = put(json!({"reason": "Tester used a screen reader we did not support"}), biz.bearer()).await;
    assert_eq!(res.ok()["excluded"], true, "{}", res.text);
    let cookie = signin(&app, &biz).await;
    let stale = page(&app, &format!("/app/studies/{job}"), &cookie).await;
    assert!(stale.text.contains("1 session in it left out since."), "{}", stale.text);
    app.drain_jobs().await;
    let report = app.get(&format!("/api/reports/job/{job}"), Some(&biz.bearer())).await;
    assert_eq!(report.ok()["sessions"], 2, "{}", report.text);
    assert_eq!(report.ok()["excludedSessions"][0]["sessionId"], sids[0].as_str());
    assert_eq!(
        report.ok()["excludedSessions"][0]["reason"],
        "Tester used a screen reader we did not support"
    );
    let res = page(&app, &format!("/app/studies/{job}"), &cookie).await;
    assert!(
        res.text.contains("Left out: <q>Tester used a screen reader we did not support</q>"),
        "{}",
        res.text
    );
    assert!(res.text.contains("Up to date with every confirmed session"), "{}", res.text);

    // Through the dashboard form (CSRF): take it in again.
    let token = csrf(&res);
    let form_path = format!("/app/sessions/{}/exclusion", sids[0]);
    assert_page(&form(&app, &form_path, &cookie, "action=include").await, 422);
    assert_page(&form(&app, &form_path, &cookie, "csrf=nope&action=include").await, 403);
    app.clock.advance_ms(1_000);
    let res = form(&app, &form_path, &cookie, &format!("csrf={token}&action=include")).await;
    assert_eq!(res.status.as_u16(), 303, "{}", res.text);
    // Until the queued rewrite runs, the page says the report is behind, and offers to rewrite it.
    let stale = page(&app, &format!("/app/studies/{job}"), &cookie).await;
    assert!(stale.text.contains("1 newer confirmed session since this report."), "{}", stale.text);
    assert!(stale.text.contains("Rewrite the report now"));
    app.drain_jobs().await;
    let report = app.get(&format!("/api/reports/job/{job}"), Some(&biz.bearer())).await;
    assert_eq!(
        (report.ok()["sessions"].as_u64(), report.ok()["excludedSessions"].as_array().map(Vec::len)),
        (Some(3), Some(0))
    );

    // Segments: an unnamed category is suppressed, an outcome narrows, a bad one is refused.
    let seg = |q: &str| {
        let app = &app;
        let url = format!("/api/reports/job/{job}/segment?{q}");
        let auth = biz.bearer();
        async move { app.get(&url, Some(&auth)).await }
    };
    assert_eq!(seg("nd=adhd").await.ok()["status"], "suppressed");
    let r = seg("nd=dyslexia").await;
    assert_eq!(r.ok()["status"], "report", "{}", r.text);
    assert_eq!(r.ok()["report"]["sessions"], 3);
    let r = seg("outcome=abandon").await;
    assert_eq!(
        (r.ok()["status"].as_str(), r.ok()["report"]["sessions"].as_u64()),
        (Some("report"), Some(1)),
        "{}",
        r.text
    );
    // One tester of a category is never a segment of its own.
    assert_eq!(seg("nd=dyslexia&outcome=abandon").await.ok()["status"], "suppressed");
    assert_eq!(seg("variant=B").await.ok()["status"], "empty");
    seg("outcome=maybe").await.assert_error(422);
    app.get(&format!("/api/reports/job/{job}/segment"), Some(&testers[1].bearer())).await.assert_error(403);
}

async fn share_link_opens_signed_out_until_revoked_or_expired(b: crate::helpers::Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let (biz, job, testers, _) = reported_study(&app, 3, 1).await;
    let created =
        app.post(&format!("/api/jobs/{job}/shares"), json!({"expiresInDays": 7}), Some(&biz.bearer())).await;
    let share = created.ok().clone();
    let token = share["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("oss_") && share["status"] == "active", "{share}");
    // Stored as a hash only; the list never shows the token again.
    let list = app.get(&format!("/api/jobs/{job}/shares"), Some(&biz.bearer())).await;
    assert!(!list.text.contains(&token) && list.ok()[0]["shareId"] == share["shareId"], "{}", list.text);
    // Bad input.
    for body in [json!({"expiresInDays": 0}), json!({"expiresInDays": 91})] {
        app.post(&format!("/api/jobs/{job}/shares"), body, Some(&biz.bearer())).await.assert_error(422);
    }
    app.post(&format!("/api/jobs/{job}/shares"), json!({"days": 3}), Some(&biz.bearer()))
        .await
        .assert_error(400);
    app.post(&format!("/api/jobs/{job}/shares"), json!({}), Some(&testers[0].bearer()))
        .await
        .assert_error(403);
    let other = app.signup("business").await;
    app.post(&format!("/api/jobs/{job}/shares"), json!({}), Some(&other.bearer())).await.assert_error(404);

    // Signed out: the report, no session, no tester's personal data.
    let res = page(&app, &format!("/app/share/{token}"), "").await;
    assert_page(&res, 200);
    assert!(res.text.contains("Accessibility score") && res.text.contains("chart-outcomes"), "{}", res.text);
    assert_eq!(res.header("x-robots-tag"), Some("noindex, nofollow"));
    for t in &testers {
        assert!(!res.text.contains(&t.email) && !res.text.contains(&t.user_id));
    }
    assert!(
        !res.text.contains("/app/sessions/")
            && !res.text.contains("Tester 1")
            && !res.text.contains("Evidence (")
    );
    // Unknown or malformed tokens: the same 404.
    assert_page(&page(&app, "/app/share/oss_nope", "").await, 404);
    let forged = format!("oss_{}", "A".repeat(43));
    assert_page(&page(&app, &format!("/app/share/{forged}"), "").await, 404);

    // Revoked: 404 at once; revoking twice or someone else's: 404 too.
    let revoke = format!("/api/jobs/{job}/shares/{}", share["shareId"].as_str().unwrap());
    app.send(axum::http::Method::DELETE, &revoke, None, &other.bearer()).await.assert_error(404);
    assert_page(&page(&app, &format!("/app/share/{token}"), "").await, 200);
    app.send(axum::http::Method::DELETE, &revoke, None, &biz.bearer()).await.ok();
    assert_page(&page(&app, &format!("/app/share/{token}"), "").await, 404);
    let list = app.get(&format!("/api/jobs/{job}/shares"), Some(&biz.bearer())).await;
    assert_eq!(list.ok()[0]["status"], "revoked");

    // Through the dashboard: a link shown once, then expired after its days.
    let cookie = signin(&app, &biz).await;
    let study = page(&app, &format!("/app/studies/{job}"), &cookie).await;
    let res =
        form(&app, &format!("/app/studies/{job}/shares"), &cookie, &format!("csrf={}&days=7", csrf(&study)))
            .await;
    assert_page(&res, 200);
    let at = res.text.find("/app/share/oss_").unwrap();
    let link: String = res.text[at..].chars().take_while(|c| *c != '"' && *c != '<').collect();
    assert_page(&page(&app, &link, "").await, 200);
    app.clock.advance_ms(7 * 86_400_000 + 1);
    assert_page(&page(&app, &link, "").await, 404);
}
