//! The dashboard people act in (issue #25), over HTTP as a browser without script would: sign
//! up, forgotten password and reset, the study form (tasks added and removed, a refused save
//! that keeps what was typed), launch, invitations accepted from the mail, settings (tokens
//! shown once), the tester accepting an offer, notifications, and CSRF on every form.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use crate::both;
use crate::dashboard::{assert_page, csrf, form, page, signin, urlenc};
use crate::helpers::{Backend, PASSWORD, Res, TestApp};
use crate::recovery::token_mailed_to;

both!(
    visitor_signs_up_and_resets_a_password,
    business_and_tester_act_in_the_dashboard,
    admin_filters_and_suspends_testers
);

async fn app(b: Backend) -> Option<TestApp> {
    TestApp::with(
        b,
        &[
            ("OPENSCOUTER_PUBLIC_URL", "https://openscouter.test"),
            ("OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED", "1000"),
            ("OPENSCOUTER_RATE_LIMIT_FREE", "10000"),
        ],
    )
    .await
}

/// A visitor page's pre-sign-in cookie and its form's token.
async fn visitor(app: &TestApp, path: &str) -> (String, String, Res) {
    let res = page(app, path, "").await;
    assert_page(&res, 200);
    let cookie = res.header("set-cookie").expect("pre-sign-in cookie").split(';').next().unwrap().to_owned();
    let token = csrf(&res);
    (cookie, token, res)
}

fn session_cookie(res: &Res) -> String {
    res.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("os_session="))
        .expect("signed in")
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

async fn visitor_signs_up_and_resets_a_password(b: Backend) {
    let Some(app) = app(b).await else { return };
    let signin_page = page(&app, "/app/signin", "").await;
    assert!(signin_page.text.contains("href=\"/app/forgot-password\""));
    assert!(signin_page.text.contains("href=\"/app/signup\""));
    assert!(!signin_page.text.contains("created with the API"));

    let (cookie, token, _) = visitor(&app, "/app/signup").await;
    // A refused submit keeps the page and what was typed (never the password).
    let body = format!(
        "csrf={token}&full_name=Ada+Lovelace&email=ada%40example.com&password=short&role=business&organization_name=Engines"
    );
    let res = form(&app, "/app/signup", &cookie, &body).await;
    assert_page(&res, 422);
    assert!(res.text.contains("Password: must be at least 10 characters"), "{}", res.text);
    assert!(
        res.text.contains("value=\"Ada Lovelace\"")
            && res.text.contains("value=\"ada@example.com\"")
            && res.text.contains("value=\"Engines\"")
    );
    assert!(!res.text.contains("value=\"short\""));
    // Without the form's token: refused.
    let res = form(&app, "/app/signup", &cookie, &body.replace(&token, "forged")).await;
    assert_page(&res, 403);
    let body = format!(
        "csrf={token}&full_name=Ada+Lovelace&email=ada%40example.com&password={}&role=business&organization_name=Engines",
        urlenc(PASSWORD)
    );
    let res = form(&app, "/app/signup", &cookie, &body).await;
    assert_eq!(res.status.as_u16(), 303, "{}", res.text);
    let ada = session_cookie(&res);
    let studies = page(&app, "/app/studies", &ada).await;
    assert_page(&studies, 200);
    assert!(studies.text.contains("href=\"/app/studies/new\""));
    // The new account's address gets its verification link.
    app.drain_jobs().await;
    let verify = token_mailed_to(&app, "ada@example.com", "/app/verify-email");
    let (cookie, token, res) = visitor(&app, &format!("/app/verify-email?token={verify}")).await;
    assert!(res.text.contains("Confirm my address"));
    let res = form(&app, "/app/verify-email", &cookie, &format!("csrf={token}&token={verify}")).await;
    assert_page(&res, 200);
    assert!(res.text.contains("it is verified"));

    // Forgotten password: the same page for any address, then the mailed link.
    let (cookie, token, _) = visitor(&app, "/app/forgot-password").await;
    let known =
        form(&app, "/app/forgot-password", &cookie, &format!("csrf={token}&email=ada%40example.com")).await;
    let unknown =
        form(&app, "/app/forgot-password", &cookie, &format!("csrf={token}&email=who%40example.com")).await;
    assert_page(&known, 200);
    assert!(known.text.contains("If an account uses this address"));
    assert_eq!(known.text.replace("ada@example.com", "X"), unknown.text.replace("who@example.com", "X"));
    app.drain_jobs().await;
    let reset = token_mailed_to(&app, "ada@example.com", "/app/reset-password");
    let (cookie, token, res) = visitor(&app, &format!("/app/reset-password?token={reset}")).await;
    assert!(res.text.contains(&format!("value=\"{reset}\"")));
    let res =
        form(&app, "/app/reset-password", &cookie, &format!("csrf={token}&token={reset}&password=tiny"))
            .await;
    assert_page(&res, 422);
    let res = form(
        &app,
        "/app/reset-password",
        &cookie,
        &format!("csrf={token}&token={reset}&password=a+brand+new+passphrase"),
    )
    .await;
    assert_page(&res, 200);
    assert!(res.text.contains("Password changed"));
    // The reset ended the browser's sign-in too.
    let res = page(&app, "/app/studies", &ada).await;
    assert_eq!(res.status.as_u16(), 303);
    app.post(
        "/api/auth/signin",
        json!({"email": "ada@example.com", "password": "a brand new passphrase"}),
        None,
    )
    .await
    .ok();
    let res = form(
        &app,
        "/app/reset-password",
        &cookie,
        &format!("csrf={token}&token={reset}&password=a+brand+new+passphrase"),
    )
    .await;
    assert_page(&res, 422);
}

/// The study form's fields for `tasks` tasks.
fn study_fields(csrf: &str, title: &str, tasks: usize, action: &str) -> String {
    let mut f = format!(
        "csrf={csrf}&tasks={tasks}&title={}&description=Find+where+checkout+blocks+people&prototype_url=https%3A%2F%2Fshop.example.com\
         &prototype_type=url&countries=GB&languages=en&device=desktop&tester_count=3&nd=adhd&nd=dyslexia\
         &amount=25.50&currency=GBP&compensation_type=flat&setting=record_voice&max_duration_minutes=45&reminder_after_hours=24&action={action}",
        urlenc(title)
    );
    for i in 0..tasks {
        f.push_str(&format!(
            "&task_title_{i}=Task+{i}&task_description_{i}=Do+thing+{i}&task_criteria_{i}=Done+{i}"
        ));
    }
    f
}

async fn business_and_tester_act_in_the_dashboard(b: Backend) {
    let Some(app) = app(b).await else { return };
    let biz = app.signup("business").await;
    let cookie = signin(&app, &biz).await;
    let res = page(&app, "/app/studies/new", &cookie).await;
    assert_page(&res, 200);
    let token = csrf(&res);
    // Adding a task shows the form again with what was typed and a second task.
    let res =
        form(&app, "/app/studies/new", &cookie, &study_fields(&token, "Checkout usability", 1, "add_task"))
            .await;
    assert_page(&res, 200);
    assert!(res.text.contains("Task 2") && res.text.contains("value=\"Checkout usability\""));
    let res = form(
        &app,
        "/app/studies/new",
        &cookie,
        &study_fields(&token, "Checkout usability", 3, "remove_task_1"),
    )
    .await;
    assert!(
        res.text.contains("value=\"Task 2\"") && !res.text.contains("value=\"Task 1\""),
        "task 1 removed, task 2 moved up"
    );
    // A refused save keeps the page, its navigation and the typed values.
    let res = form(&app, "/app/studies/new", &cookie, &study_fields(&token, "ab", 2, "save")).await;
    assert_page(&res, 422);
    assert!(res.text.contains("title"), "{}", res.text);
    assert!(res.text.contains("href=\"/app/settings\"") && res.text.contains("Do thing 1</textarea>"));
    let res =
        form(&app, "/app/studies/new", &cookie, &study_fields(&token, "Checkout usability", 2, "save")).await;
    assert_eq!(res.status.as_u16(), 303, "{}", res.text);
    let job = res.header("location").unwrap().rsplit('/').next().unwrap().to_owned();
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await;
    assert_eq!(study.ok()["tasks"].as_array().unwrap().len(), 2);
    assert_eq!(study.ok()["status"], "draft");
    let res = page(&app, &format!("/app/studies/{job}"), &cookie).await;
    assert!(res.text.contains("Launch"));
    let res = form(&app, &format!("/app/studies/{job}/launch"), &cookie, &format!("csrf={token}")).await;
    assert_eq!(res.status.as_u16(), 303, "{}", res.text);
    assert_eq!(app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await.ok()["status"], "open");

    // Settings: invite a colleague, who accepts from the mail and sees the study.
    let res = page(&app, "/app/settings", &cookie).await;
    assert_page(&res, 200);
    let res = form(
        &app,
        "/app/settings/invitations",
        &cookie,
        &format!("csrf={token}&email=grace%40example.com&role=member"),
    )
    .await;
    assert_eq!(res.status.as_u16(), 303, "{}", res.text);
    let res =
        form(&app, "/app/settings/invitations", &cookie, &format!("csrf={token}&email=nope&role=member"))
            .await;
    assert_page(&res, 422);
    assert!(res.text.contains("value=\"nope\""));
    app.drain_jobs().await;
    let inv = token_mailed_to(&app, "grace@example.com", "/app/invitations/accept");
    let res = page(&app, &format!("/app/invitations/accept?token={inv}"), "").await;
    assert_page(&res, 200);
    assert!(res.text.contains(&format!("/app/signup?invitation={inv}")));
    let (vcookie, vtoken, res) = visitor(&app, &format!("/app/signup?invitation={inv}")).await;
    assert!(res.text.contains("value=\"grace@example.com\""));
    let body = format!(
        "csrf={vtoken}&invitation={inv}&full_name=Grace&email=grace%40example.com&password={}&role=business",
        urlenc(PASSWORD)
    );
    let res = form(&app, "/app/signup", &vcookie, &body).await;
    assert_eq!(res.status.as_u16(), 303, "{}", res.text);
    let grace = session_cookie(&res);
    assert_page(&page(&app, &format!("/app/studies/{job}"), &grace).await, 200);

    // An API token, its secret shown once.
    let res = form(&app, "/app/settings/tokens", &cookie, &format!("csrf={token}&name=CI&scope=read")).await;
    assert_page(&res, 200);
    assert!(res.text.contains("ost_"), "{}", res.text);
    assert!(!page(&app, "/app/settings", &cookie).await.text.contains("id=\"secret\""));

    // The tester accepts the offer in the dashboard.
    let tester = app.tester().await;
    let tcookie = signin(&app, &tester).await;
    let res = page(&app, "/app/tester", &tcookie).await;
    assert_page(&res, 200);
    assert!(res.text.contains(&format!("/app/offers/{job}/accept")), "{}", res.text);
    let ttoken = csrf(&res);
    let res = form(&app, &format!("/app/offers/{job}/accept"), &tcookie, &format!("csrf={ttoken}")).await;
    assert_eq!(res.status.as_u16(), 303, "{}", res.text);
    let res = page(&app, "/app/tester?done=accepted", &tcookie).await;
    assert!(res.text.contains("Offer accepted"));
    let res = form(&app, &format!("/app/offers/{job}/accept"), &tcookie, &format!("csrf={ttoken}")).await;
    assert_page(&res, 422);
    assert!(res.text.contains("href=\"/app/notifications\""), "a refused accept keeps the navigation");

    // A session in which nothing was found can be confirmed with one button.
    let (sid, tt) = app.session(&tester, &job).await;
    app.post(&format!("/api/sessions/{sid}/complete"), json!({}), Some(&format!("Token {tt}"))).await.ok();
    app.drain_jobs().await;
    let res = page(&app, &format!("/app/sessions/{sid}"), &tcookie).await;
    assert_page(&res, 200);
    assert!(
        res.text.contains("Nothing was found") && res.text.contains("Confirm the session"),
        "{}",
        res.text
    );
    let res = form(
        &app,
        &format!("/app/sessions/{sid}/confirm"),
        &tcookie,
        &format!("csrf={ttoken}&nothing=1&addedNotes="),
    )
    .await;
    assert_eq!(res.status.as_u16(), 303, "{}", res.text);
    let s = app.get(&format!("/api/sessions/{sid}"), Some(&tester.bearer())).await;
    assert_eq!(s.ok()["status"], "confirmed", "{}", s.text);

    // Notifications page with its unread count.
    let res = page(&app, "/app/notifications", &cookie).await;
    assert_page(&res, 200);
    assert!(res.text.contains("id=\"unread-count\""));

    // Cross-site form posts and forged tokens are refused.
    let mut h = vec![("content-type", "application/x-www-form-urlencoded"), ("cookie", cookie.as_str())];
    h.push(("sec-fetch-site", "cross-site"));
    let body = format!("csrf={token}&current_password=x&password=yyyyyyyyyyyy");
    let res =
        app.call_from("127.0.0.1", axum::http::Method::POST, "/app/settings/password", Some(body), &h).await;
    assert_page(&res, 403);
    let res =
        form(&app, "/app/settings/password", &cookie, "csrf=forged&current_password=x&password=yyyyyyyyyyyy")
            .await;
    assert_page(&res, 403);
    let res = form(&app, &format!("/app/studies/{job}/close"), &cookie, "csrf=forged").await;
    assert_page(&res, 403);
    // A wrong current password keeps the settings page with the message.
    let res = form(
        &app,
        "/app/settings/password",
        &cookie,
        &format!("csrf={token}&current_password=wrong&password=yyyyyyyyyyyy"),
    )
    .await;
    assert_page(&res, 422);
    assert!(res.text.contains("Current password: this is not your password"));
}

async fn admin_filters_and_suspends_testers(b: Backend) {
    let Some(app) = app(b).await else { return };
    let admin = app.admin().await;
    let tester = app.tester().await;
    let other = app.signup("tester").await;
    let cookie = signin(&app, &admin).await;
    let res = page(&app, "/app/admin/testers?status=active&country=gb&ndCategory=dyslexia", &cookie).await;
    assert_page(&res, 200);
    assert!(
        res.text.contains(&tester.email) && !res.text.contains(&other.email),
        "filtered by country and category"
    );
    assert!(res.text.contains("<option value=\"dyslexia\" selected>"), "the filter shows what is applied");
    let quiz = page(&app, "/app/admin/quiz", &cookie).await;
    assert!(quiz.text.contains("POST /api/admin/quiz") && !quiz.text.contains("PUT /api/admin/quiz"));
    let token = csrf(&res);
    let back = urlenc("/app/admin/testers?status=active");
    let res = form(
        &app,
        &format!("/app/admin/testers/{}/suspend", tester.user_id),
        &cookie,
        &format!("csrf={token}&back={back}"),
    )
    .await;
    assert_eq!(res.status.as_u16(), 303, "{}", res.text);
    assert_eq!(res.header("location"), Some("/app/admin/testers?status=active"));
    let res = page(&app, "/app/admin/testers?status=suspended", &cookie).await;
    assert!(res.text.contains(&tester.email) && res.text.contains("Reinstate"));
    let res = form(
        &app,
        &format!("/app/admin/testers/{}/suspend", tester.user_id),
        &cookie,
        "csrf=forged&back=%2Fapp",
    )
    .await;
    assert_page(&res, 403);
    let res = form(
        &app,
        &format!("/app/admin/testers/{}/reinstate", tester.user_id),
        &cookie,
        &format!("csrf={token}&back=https%3A%2F%2Fevil.example"),
    )
    .await;
    assert_eq!(res.header("location"), Some("/app"), "never redirected off the dashboard");
    let audit = app.get("/api/admin/audit-log", Some(&admin.bearer())).await;
    assert!(audit.text.contains(&tester.user_id));
}
