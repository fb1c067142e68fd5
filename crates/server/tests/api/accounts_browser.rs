//! Issue #25's "done means" in Chromium, on both stores: a business signs up in the browser,
//! creates a study with two tasks through the form, launches it, invites a colleague who
//! accepts from the mail (the outbox `.eml`) and sees the study; a tester accepts the offer in
//! the dashboard; after the session (through the API, as the extension does) the tester
//! confirms the findings in the dashboard and the business reads the report. Every new page
//! passes axe-core (no serious or critical violation), reflows at 200 %, is operated with the
//! keyboard (typing, Space and Enter), and is photographed into `target/screenshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::json;

use crate::both;
use crate::dashboard_browser::{ENTER, axe, axe_source, sign_in, sign_out, text};
use crate::helpers::{Account, Backend, PASSWORD, TestApp};
use crate::recovery::token_mailed_to;
use crate::webdriver::{Browser, require_browser};

both!(business_colleague_and_tester_in_chromium);

/// The shared page checks (axe-core without serious violations, reflow at 200 %, screenshots),
/// and for these new pages no axe-core violation at all.
async fn check_page(b: &Browser, axe_js: Option<&str>, name: &str) {
    crate::dashboard_browser::check_page(b, axe_js, name).await;
    if let Some(src) = axe_js {
        let violations = axe(b, src).await;
        assert!(violations.is_empty(), "{name}: axe-core violations: {violations:?}");
    }
}

async fn type_into(b: &Browser, css: &str, value: &str) {
    let el = b.find(css).await;
    b.clear(&el).await;
    b.send_keys(&el, value).await;
}

/// Presses Enter on a button (keyboard only), then waits for the next page.
async fn press(b: &Browser, css: &str) {
    let el = b.find(css).await;
    b.send_keys(&el, ENTER).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
}

async fn business_colleague_and_tester_in_chromium(backend: Backend) {
    let Some(app) = TestApp::with(
        backend,
        &[("OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED", "10000"), ("OPENSCOUTER_RATE_LIMIT_FREE", "100000")],
    )
    .await
    else {
        return;
    };
    let Some(b) = Browser::launch_or_skip().await else { return };
    let axe_js = axe_source();
    assert!(
        axe_js.is_some() || !require_browser(),
        "axe-core is required with OPENSCOUTER_REQUIRE_BROWSER=1"
    );
    let axe_js = axe_js.as_deref();
    let served = app.serve_http().await;
    let base = served.base.clone();
    let tag = format!("{backend:?}").to_lowercase();
    let shot = |name: &str| format!("accounts-{tag}-{name}");

    // A visitor signs up as a business.
    b.goto(&format!("{base}/app/signin")).await;
    check_page(&b, axe_js, &shot("signin")).await;
    b.click_css("a[href='/app/signup']").await;
    check_page(&b, axe_js, &shot("signup")).await;
    let email = format!("ada-{tag}@example.com");
    type_into(&b, "#full_name", "Ada Lovelace").await;
    type_into(&b, "#email", &email).await;
    type_into(&b, "#password", PASSWORD).await;
    type_into(&b, "#organization_name", "Analytical Engines").await;
    press(&b, "main form button[type=submit]").await;
    assert!(b.url().await.ends_with("/app/studies"), "{}", b.url().await);
    let signed = app.post("/api/auth/signin", json!({"email": email, "password": PASSWORD}), None).await;
    let biz_bearer = format!("Bearer {}", signed.ok()["accessToken"].as_str().unwrap());

    // A study with two tasks through the form.
    b.click_css("a[href='/app/studies/new']").await;
    check_page(&b, axe_js, &shot("study-form")).await;
    type_into(&b, "#title", "Checkout for everyone").await;
    type_into(&b, "#description", "Find where checkout blocks people.").await;
    type_into(&b, "#prototype_url", "https://shop.example.com").await;
    type_into(&b, "#task_title_0", "Find socks").await;
    type_into(&b, "#task_description_0", "Search for socks").await;
    type_into(&b, "#task_criteria_0", "A product page is open").await;
    press(&b, "button[value=add_task]").await;
    assert_eq!(
        b.execute("return document.querySelector('#title').value;", json!([])).await,
        "Checkout for everyone"
    );
    type_into(&b, "#task_title_1", "Pay").await;
    type_into(&b, "#task_description_1", "Buy the socks").await;
    type_into(&b, "#task_criteria_1", "The confirmation shows").await;
    type_into(&b, "#tester_count", "3").await;
    press(&b, "button[value=save]").await;
    let url = b.url().await;
    let job = url.rsplit('/').next().unwrap().to_owned();
    assert!(job.starts_with("job_"), "{url}: {}", text(&b).await);
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz_bearer)).await;
    assert_eq!(study.ok()["tasks"].as_array().unwrap().len(), 2);
    check_page(&b, axe_js, &shot("draft")).await;
    press(&b, &format!("form[action='/app/studies/{job}/launch'] button")).await;
    assert_eq!(app.get(&format!("/api/jobs/{job}"), Some(&biz_bearer)).await.ok()["status"], "open");

    // Invite a colleague from the settings.
    b.goto(&format!("{base}/app/settings")).await;
    check_page(&b, axe_js, &shot("settings")).await;
    let colleague = format!("grace-{tag}@example.com");
    type_into(&b, "#invite-email", &colleague).await;
    press(&b, "form[action='/app/settings/invitations'] button[type=submit]").await;
    assert!(text(&b).await.contains("Invitation sent"));
    b.goto(&format!("{base}/app/notifications")).await;
    check_page(&b, axe_js, &shot("notifications")).await;
    sign_out(&b).await;
    app.drain_jobs().await;
    let token = token_mailed_to(&app, &colleague, "/app/invitations/accept");

    // The colleague follows the mail's link, signs up and sees the study.
    b.goto(&format!("{base}/app/invitations/accept?token={token}")).await;
    check_page(&b, axe_js, &shot("invitation")).await;
    press(&b, "main a.button").await;
    check_page(&b, axe_js, &shot("signup-invited")).await;
    type_into(&b, "#full_name", "Grace Hopper").await;
    type_into(&b, "#password", PASSWORD).await;
    press(&b, "main form button[type=submit]").await;
    b.goto(&format!("{base}/app/studies")).await;
    assert!(text(&b).await.contains("Checkout for everyone"), "{}", text(&b).await);
    b.click_css(&format!("a[href='/app/studies/{job}']")).await;
    assert!(text(&b).await.contains("Checkout for everyone"));
    sign_out(&b).await;

    // A tester accepts the offer in the dashboard.
    let tester: Account = app.tester().await;
    sign_in(&b, &base, &tester, "/app/tester").await;
    check_page(&b, axe_js, &shot("tester-offers")).await;
    press(&b, &format!("form[action='/app/offers/{job}/accept'] button")).await;
    assert!(text(&b).await.contains("Offer accepted"), "{}", text(&b).await);

    // The session, through the API as the extension does; the worker analyses it.
    let (sid, tt) = app.session(&tester, &job).await;
    let task = app.get(&format!("/api/jobs/{job}"), Some(&biz_bearer)).await.ok()["tasks"][1]["taskId"]
        .as_str()
        .unwrap()
        .to_owned();
    app.broken_checkout(&sid, &format!("Token {tt}"), &task).await;
    app.drain_jobs().await;

    // The tester confirms the findings with the keyboard.
    b.goto(&format!("{base}/app/tester")).await;
    assert!(text(&b).await.contains("Waiting for your confirmation"), "{}", text(&b).await);
    b.goto(&format!("{base}/app/sessions/{sid}")).await;
    let n = b
        .execute("return document.querySelectorAll('input[type=radio][value=confirm]').length;", json!([]))
        .await
        .as_u64()
        .unwrap();
    assert!(n >= 1, "the session has findings to confirm");
    for i in 0..n {
        let radio = b
            .execute(
                &format!("return document.querySelectorAll('input[type=radio][value=confirm]')[{i}];"),
                json!([]),
            )
            .await;
        let el = crate::webdriver::Element(
            radio.as_object().unwrap().values().next().unwrap().as_str().unwrap().to_owned(),
        );
        b.send_keys(&el, " ").await;
    }
    press(&b, "main form button[type=submit]").await;
    assert!(text(&b).await.contains("Your answers are saved"), "{}", text(&b).await);
    sign_out(&b).await;
    app.drain_jobs().await;

    // The business reads the report.
    let biz = Account { email: email.clone(), ..tester.clone() };
    sign_in(&b, &base, &biz, &format!("/app/studies/{job}")).await;
    if text(&b).await.contains("No study report yet") {
        press(&b, &format!("form[action='/app/studies/{job}/report'] button")).await;
        app.drain_jobs().await;
        b.goto(&format!("{base}/app/studies/{job}")).await;
    }
    let page = text(&b).await;
    assert!(page.contains("Accessibility score"), "{page}");
    check_page(&b, axe_js, &shot("report")).await;
    sign_out(&b).await;

    // Forgotten password pages.
    b.click_css("a[href='/app/forgot-password']").await;
    check_page(&b, axe_js, &shot("forgot")).await;
    type_into(&b, "#email", &email).await;
    press(&b, "main form button[type=submit]").await;
    assert!(text(&b).await.contains("If an account uses this address"));
    app.drain_jobs().await;
    let reset = token_mailed_to(&app, &email, "/app/reset-password");
    b.goto(&format!("{base}/app/reset-password?token={reset}")).await;
    check_page(&b, axe_js, &shot("reset")).await;
    drop(served);
    b.quit().await;
}
