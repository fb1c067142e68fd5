//! The dashboard at `/app`: cookie sign-in through the API's auth, pages per role, the tester's
//! confirmation form, CSP and CSRF, tenancy, errors as pages, and its speed on a 100-session
//! study (an ignored measurement, not a timed assertion).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::Method;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Account, PASSWORD, Res, TestApp};

both!(signin_and_pages_by_role, confirmation_page_is_the_human_gate, tenancy_and_hostile_input);

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const PROGRESS_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Signs in through the form; returns the `Cookie` header value.
pub(crate) async fn signin(app: &TestApp, a: &Account) -> String {
    let body = format!("email={}&password={}&next=%2Fapp", urlenc(&a.email), urlenc(PASSWORD));
    let res = signin_post(app, &body).await;
    assert_eq!(res.status.as_u16(), 303, "{}", res.text);
    let set = res
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("os_session="))
        .unwrap()
        .to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/app", "Max-Age="] {
        assert!(set.contains(attr), "{attr} missing: {set}");
    }
    set.split(';').next().unwrap().to_owned()
}

/// Posts the sign-in form as a browser does: the page first (its pre-sign-in cookie and the
/// form's CSRF token), then the form with both.
pub async fn signin_post(app: &TestApp, body: &str) -> Res {
    let (cookie, token) = signin_csrf(app).await;
    form(app, "/app/signin", &cookie, &format!("{body}&csrf={token}")).await
}

/// The sign-in page's pre-sign-in cookie (`name=value`) and the CSRF token bound to it.
pub async fn signin_csrf(app: &TestApp) -> (String, String) {
    let res = page(app, "/app/signin", "").await;
    let set = res.header("set-cookie").expect("the sign-in page sets its pre-sign-in cookie").to_owned();
    assert!(
        set.starts_with("os_signin=") && set.contains("SameSite=Strict") && set.contains("HttpOnly"),
        "{set}"
    );
    (set.split(';').next().unwrap().to_owned(), csrf(&res))
}

pub fn urlenc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(crate) async fn page(app: &TestApp, path: &str, cookie: &str) -> Res {
    let h: Vec<(&str, &str)> = if cookie.is_empty() { vec![] } else { vec![("cookie", cookie)] };
    app.call(Method::GET, path, None, &h).await
}

pub(crate) async fn form(app: &TestApp, path: &str, cookie: &str, body: &str) -> Res {
    let mut h = vec![("content-type", "application/x-www-form-urlencoded")];
    if !cookie.is_empty() {
        h.push(("cookie", cookie));
    }
    app.call_from("127.0.0.1", Method::POST, path, Some(body.to_owned()), &h).await
}

/// The CSRF token a page's forms carry.
pub(crate) fn csrf(res: &Res) -> String {
    let at = res.text.find("name=\"csrf\" value=\"").expect("a form with a CSRF token");
    let rest = &res.text[at + 19..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// Every dashboard page: HTML, the strict CSP, no script, a language, a main landmark.
pub(crate) fn assert_page(res: &Res, status: u16) {
    assert_eq!(res.status.as_u16(), status, "{}", res.text);
    assert!(
        res.header("content-type").unwrap().starts_with("text/html"),
        "{:?} {}",
        res.header("content-type"),
        res.text
    );
    assert!(res.header("server-timing").unwrap().starts_with("app;dur="));
    let lower = res.text.to_ascii_lowercase();
    if lower.contains("<script") {
        // Only a running study's page carries a script: the progress script, by src, from this
        // origin, under the CSP that allows exactly that.
        assert_eq!(res.header("content-security-policy"), Some(PROGRESS_CSP));
        assert_eq!(lower.matches("<script").count(), 1, "one script at most");
        assert!(lower.contains("<script src=\"/app/assets/progress.js?v="), "{}", res.text);
    } else {
        assert_eq!(res.header("content-security-policy"), Some(CSP));
    }
    assert!(!res.text.contains(" style=\""), "no inline style under the CSP");
    assert!(res.text.starts_with("<!DOCTYPE html><html lang=\"en\">"));
    assert!(res.text.contains("<main id=\"main\""));
    // Works offline: every asset is this server's (no CDN, no web font).
    for attr in ["src=\"http", "href=\"http", "src=\"//", "href=\"//", "@import", "url("] {
        assert!(!res.text.contains(attr), "a page loads something from elsewhere: {attr}");
    }
}

/// A study of `n` sessions (the first `dead` hit a dead pay button and abandon), every one
/// analysed and confirmed, and the study report written. Returns (business, job, testers, sids).
pub async fn reported_study(
    app: &TestApp,
    n: usize,
    dead: usize,
) -> (Account, String, Vec<Account>, Vec<String>) {
    let biz = app.signup("business").await;
    let mut body = crate::helpers::study_body();
    body["targeting"]["testerCount"] = json!(n);
    let job = app.launched_study(&biz, body).await;
    let tasks: Vec<String> = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await.ok()["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["taskId"].as_str().unwrap().to_owned())
        .collect();
    let (mut testers, mut sids) = (vec![], vec![]);
    for i in 0..n {
        let t = app.tester().await;
        let (sid, token) = app.session(&t, &job).await;
        let tt = format!("Token {token}");
        let mut items = vec![
            json!({"eventType": "navigation", "targetSelector": "", "url": "https://shop.example.com/checkout", "timestamp": app.at(0), "taskId": tasks[1]}),
        ];
        if i < dead {
            items.extend((0..6).map(|k| json!({"eventType": "click", "targetSelector": "#pay", "url": "https://shop.example.com/checkout", "timestamp": app.at(21_000 + k * 200), "taskId": tasks[1]})));
        } else {
            items.push(json!({"eventType": "click", "targetSelector": "#pay", "url": "https://shop.example.com/checkout", "timestamp": app.at(21_000), "taskId": tasks[1]}));
        }
        app.events(&sid, &tt, items).await;
        let outcome = if i < dead { "abandon" } else { "success" };
        let fb = json!({"tasks": [
            {"taskId": tasks[0], "outcome": "success", "seq": 6, "startedAt": app.at(0), "endedAt": app.at(20_000)},
            {"taskId": tasks[1], "outcome": outcome, "seq": 3, "startedAt": app.at(20_000), "endedAt": app.at(40_000)}],
            "sus": [4, 2, 4, 2, 4, 2, 4, 2, 4, 2], "nps": 8});
        app.post(&format!("/api/sessions/{sid}/feedback"), fb, Some(&tt)).await.ok();
        app.clock.advance_ms(1_000);
        app.post(&format!("/api/sessions/{sid}/complete"), json!({}), Some(&tt)).await.ok();
        app.analyze_and_confirm_all(&sid, &t.bearer(), &t.bearer()).await;
        testers.push(t);
        sids.push(sid);
    }
    app.post(&format!("/api/reports/job/{job}"), json!({}), Some(&biz.bearer())).await.ok();
    app.drain_jobs().await;
    (biz, job, testers, sids)
}

async fn signin_and_pages_by_role(b: crate::helpers::Backend) {
    // A sign-in is two anonymous requests now (the page, then the form), and this test signs in
    // a dozen times from one IP: more than the default unauthenticated tier allows a minute.
    let Some(app) = TestApp::with(b, &[("OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED", "1000")]).await else {
        return;
    };
    // Signed out: the sign-in form; pages redirect to it and come back.
    let res = page(&app, "/app/signin", "").await;
    assert_page(&res, 200);
    assert!(
        res.text.contains("<label for=\"email\">") && res.text.contains("autocomplete=\"current-password\"")
    );
    let res = page(&app, "/app/studies?page=2", "").await;
    assert_eq!(res.status.as_u16(), 303);
    assert_eq!(res.header("location"), Some("/app/signin?next=%2Fapp%2Fstudies%3Fpage%3D2"));

    let (biz, job, testers, sids) = reported_study(&app, 3, 2).await;
    // A wrong password: the form again, with the message, 401.
    let res = signin_post(&app, &format!("email={}&password=wrong-password-1", urlenc(&biz.email))).await;
    assert_page(&res, 401);
    assert!(res.text.contains("Invalid email or password") && res.text.contains("role=\"alert\""));
    // An open redirect is not followed: other hosts, and dot-segments that leave /app (they
    // would chain into the OAuth authorization endpoint), in every spelling a browser resolves.
    for (next, to) in [
        ("%2F%2Fevil.example", "/app"),
        ("%2Fapp%2F..%2Fapi%2Foauth%2Fauthorize%3Fx%3D1", "/app"),
        ("%2Fapp%2F%252e%252e%2Fapi%2Foauth%2Fauthorize", "/app"),
        ("%2Fapp%2F.%2E%2Fapi", "/app"),
        ("%2Fapp%5C..%5Capi", "/app"),
        ("%2F%5Cevil.example%2Fapp", "/app"),
        ("https%3A%2F%2Fevil.example%2Fapp", "/app"),
        ("%2Fapp%2Fstudies%2F.%2Fx%2F..%2F%3Fpage%3D2", "/app/studies/?page=2"),
    ] {
        let body = format!("email={}&password={}&next={next}", urlenc(&biz.email), urlenc(PASSWORD));
        assert_eq!(signin_post(&app, &body).await.header("location"), Some(to), "{next}");
    }
    // Login CSRF: a sign-in form without this browser's pre-sign-in cookie and its token is
    // refused (no session cookie), even with no Sec-Fetch-Site header to judge it by.
    let body = format!("email={}&password={}", urlenc(&biz.email), urlenc(PASSWORD));
    let res = form(&app, "/app/signin", "", &body).await;
    assert_page(&res, 403);
    assert!(
        !res.headers.get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("os_session="))
    );
    let (cookie, token) = signin_csrf(&app).await;
    let (other_cookie, _) = signin_csrf(&app).await;
    for (c, t) in
        [(cookie.as_str(), "0".repeat(32)), (other_cookie.as_str(), token.clone()), ("", token.clone())]
    {
        let res = form(&app, "/app/signin", c, &format!("{body}&csrf={t}")).await;
        assert_page(&res, 403);
        assert!(
            !res.headers.get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("os_session="))
        );
    }

    let cookie = signin(&app, &biz).await;
    assert_eq!(page(&app, "/app", &cookie).await.header("location"), Some("/app/studies"));
    let res = page(&app, "/app/studies", &cookie).await;
    assert_page(&res, 200);
    assert!(res.text.contains("Checkout usability") && res.text.contains(&format!("/app/studies/{job}")));
    assert!(res.text.contains("aria-current=\"page\""));

    // The study page: gauge and band in words, findings with WCAG, tasks with intervals.
    let res = page(&app, &format!("/app/studies/{job}"), &cookie).await;
    assert_page(&res, 200);
    // Still taking sessions (2 of 3 seats): the page updates itself through the progress
    // script (assert_page checked its CSP), from this JSON, the same words as the page.
    // The progress JSON says what the page says.
    let progress = page(&app, &format!("/app/studies/{job}/progress"), &cookie).await;
    assert_eq!(progress.status.as_u16(), 200, "{}", progress.text);
    let p: Value = serde_json::from_str(&progress.text).unwrap();
    assert!(p["sessions"].as_str().unwrap().ends_with("of 3 seats taken"), "{p}");
    assert!(res.text.contains(p["sessions"].as_str().unwrap()) && res.text.contains("id=\"study-sessions\""));
    assert_eq!(p["running"], res.text.contains("data-progress=\"/app/studies/"), "{p}");
    // A study still taking sessions carries the progress script (assert_page checks its CSP);
    // the counts move as testers join.
    let open_job = app.launched_study(&biz, crate::helpers::study_body()).await;
    let open_page = page(&app, &format!("/app/studies/{open_job}"), &cookie).await;
    assert_page(&open_page, 200);
    assert!(open_page.text.contains("data-progress=\"/app/studies/"), "{}", open_page.text);
    let open_p: Value =
        serde_json::from_str(&page(&app, &format!("/app/studies/{open_job}/progress"), &cookie).await.text)
            .unwrap();
    assert_eq!(
        (open_p["running"].as_bool(), open_p["status"].as_str()),
        (Some(true), Some("Open")),
        "{open_p}"
    );
    let t = app.tester().await;
    app.session(&t, &open_job).await;
    let open_p: Value =
        serde_json::from_str(&page(&app, &format!("/app/studies/{open_job}/progress"), &cookie).await.text)
            .unwrap();
    assert!(open_p["sessions"].as_str().unwrap().contains("; 1 of "), "{open_p}");
    let js = page(&app, "/app/assets/progress.js?v=1", &cookie).await;
    assert!(
        js.header("content-type").unwrap().starts_with("text/javascript")
            && js.text.contains("data-progress")
    );
    // Another organisation's study: the same 404 as its page.
    let stranger = app.signup("business").await;
    let theirs = page(&app, &format!("/app/studies/{job}/progress"), &signin(&app, &stranger).await).await;
    assert_eq!(theirs.status.as_u16(), 404);
    let report = app.get(&format!("/api/reports/job/{job}"), Some(&biz.bearer())).await;
    let score = report.ok()["score"].as_u64().unwrap();
    let band = report.ok()["band"].as_str().unwrap();
    assert!(res.text.contains(&format!("Accessibility score {score} of 100, {band} band")), "gauge title");
    assert!(res.text.contains(&format!("{band} band")));
    assert!(res.text.contains("Control does not respond as expected"));
    assert!(res.text.contains("Success criterion <strong>4.1.2</strong> Name, Role, Value"));
    assert!(res.text.contains("95 % credible interval") && res.text.contains("Prevalence"));
    assert!(res.text.contains("SUS") && res.text.contains("NPS"));
    assert!(res.text.contains("Suppressed group") || res.text.contains("Neurodivergent strata"));
    for sid in &sids {
        assert!(res.text.contains(&format!("/app/sessions/{sid}\"")), "session link {sid}");
    }

    // Writing the report again from the page: queued, and the page says so.
    let token = csrf(&res);
    let res = form(&app, &format!("/app/studies/{job}/report"), &cookie, &format!("csrf={token}")).await;
    assert_eq!(res.header("location"), Some(format!("/app/studies/{job}?queued=1").as_str()), "{}", res.text);
    let res = page(&app, &format!("/app/studies/{job}?queued=1"), &cookie).await;
    assert!(res.text.contains("role=\"status\"") && res.text.contains("The study report is being written"));

    // The session page: the timeline drawn on the server, moments and spans as tables too.
    let res = page(&app, &format!("/app/sessions/{}", sids[0]), &cookie).await;
    assert_page(&res, 200);
    assert!(
        res.text.contains("<svg class=\"timeline\"")
            && res.text.contains("aria-labelledby=\"tl-title tl-desc\"")
    );
    assert!(res.text.contains("critical moment"), "the dead button is a critical moment");
    assert!(res.text.contains("Red diamonds: critical moments"));
    assert!(res.text.contains("<th scope=\"row\">Pay</th><td>abandon</td>"), "task span table");
    assert!(res.text.contains("Tester&#39;s decision") || res.text.contains("Tester's decision"));
    // Exports through the cookie.
    let res = page(&app, &format!("/app/sessions/{}/export?format=ndjson", sids[0]), &cookie).await;
    assert_eq!(res.status.as_u16(), 200);
    assert_eq!(res.header("content-type"), Some("application/x-ndjson"));
    assert!(res.text.lines().count() > 3);
    let res = page(&app, &format!("/app/sessions/{}/export?format=xml", sids[0]), &cookie).await;
    assert_page(&res, 400);

    // A tester: their page, and no business pages.
    let tcookie = signin(&app, &testers[0]).await;
    assert_eq!(page(&app, "/app", &tcookie).await.header("location"), Some("/app/tester"));
    let res = page(&app, "/app/tester", &tcookie).await;
    assert_page(&res, 200);
    assert!(res.text.contains("See your answers"));
    assert_page(&page(&app, "/app/studies", &tcookie).await, 403);
    assert_page(&page(&app, "/app/admin/testers", &cookie).await, 403);

    // An admin: the read-only lists.
    let admin = app.admin().await;
    let acookie = signin(&app, &admin).await;
    for (path, text) in [
        ("/app/admin/testers", testers[1].email.as_str()),
        ("/app/admin/quiz", "correct answer"),
        ("/app/admin/audit", "Audit log"),
        ("/app/studies", "Checkout usability"),
    ] {
        let res = page(&app, path, &acookie).await;
        assert_page(&res, 200);
        assert!(res.text.contains(text), "{path}: {text}");
    }
    assert_page(&page(&app, "/app/tester", &acookie).await, 403);

    // Sign out ends the sign-in: the old cookie is refused afterwards.
    let res = page(&app, "/app/studies", &cookie).await;
    let token = csrf(&res);
    let res = form(&app, "/app/signout", &cookie, &format!("csrf={token}")).await;
    assert_eq!(res.status.as_u16(), 303);
    assert!(res.header("set-cookie").unwrap().contains("Max-Age=0"));
    let res = page(&app, "/app/studies", &cookie).await;
    assert_eq!(res.status.as_u16(), 303, "revoked cookie → sign-in");
    assert!(res.header("set-cookie").unwrap().contains("Max-Age=0"), "the dead cookie is cleared");
}

async fn confirmation_page_is_the_human_gate(b: crate::helpers::Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let live = app.live_session().await;
    app.broken_checkout(&live.sid, &live.tt, "").await;
    let findings = app.analyzed(&live.sid, &live.tester.bearer()).await;
    assert!(!findings.is_empty());
    let cookie = signin(&app, &live.tester).await;
    let res = page(&app, "/app/tester", &cookie).await;
    assert!(res.text.contains(&format!("href=\"/app/sessions/{}\">Check the findings", live.sid)));
    let res = page(&app, &format!("/app/sessions/{}", live.sid), &cookie).await;
    assert_page(&res, 200);
    let fid = findings[0]["findingId"].as_str().unwrap();
    // Every control has a label; the choices are radio buttons in a fieldset with a legend.
    assert!(res.text.contains(&format!(
        "<input type=\"radio\" id=\"c-{fid}\" name=\"decision.{fid}\" value=\"confirm\">"
    )));
    assert!(
        res.text.contains(&format!("<label for=\"c-{fid}\">"))
            && res.text.contains(&format!("<label for=\"n-{fid}\">"))
    );
    assert!(res.text.contains("<legend>Finding 1</legend>"));
    // The tester reads plain words: never the selector, the engine's title or an error's text.
    assert!(res.text.contains("did not respond to repeated clicks"), "{}", res.text);
    assert!(!res.text.contains("#pay") && !res.text.contains("Control does not respond"), "{}", res.text);
    let token = csrf(&res);

    // No CSRF token, a wrong one, or a cross-site post: refused, nothing decided.
    let path = format!("/app/sessions/{}/confirm", live.sid);
    let body = format!("decision.{fid}=confirm&comment.{fid}=The+button+did+nothing");
    assert_page(&form(&app, &path, &cookie, &body).await, 403);
    assert_page(&form(&app, &path, &cookie, &format!("csrf=00{}&{body}", &token[2..])).await, 403);
    let h = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("cookie", cookie.as_str()),
        ("sec-fetch-site", "cross-site"),
    ];
    let res = app.call_from("127.0.0.1", Method::POST, &path, Some(format!("csrf={token}&{body}")), &h).await;
    assert_page(&res, 403);
    // Nothing chosen: a 422 page that says what to do.
    let res = form(&app, &path, &cookie, &format!("csrf={token}")).await;
    assert_page(&res, 422);
    assert!(res.text.contains("Choose confirm or reject"));
    let rows = app.get(&format!("/api/sessions/{}/findings", live.sid), Some(&live.tester.bearer())).await;
    assert!(rows.ok().as_array().unwrap().iter().all(|f| f["decision"].is_null()), "nothing written");

    // The real thing: every finding confirmed with context, through the form.
    let mut body = format!("csrf={token}&addedNotes=I+gave+up");
    for f in &findings {
        let id = f["findingId"].as_str().unwrap();
        body.push_str(&format!("&decision.{id}=confirm&comment.{id}=The+button+did+nothing"));
    }
    let res = form(&app, &path, &cookie, &body).await;
    assert_eq!(res.status.as_u16(), 303, "{}", res.text);
    assert_eq!(res.header("location"), Some(format!("/app/sessions/{}?saved=1", live.sid).as_str()));
    let rows = app.get(&format!("/api/sessions/{}/findings", live.sid), Some(&live.tester.bearer())).await;
    for f in rows.ok().as_array().unwrap() {
        assert_eq!(f["decision"], "confirm", "{f}");
        assert_eq!(f["comment"], "The button did nothing");
    }
    let res = page(&app, &format!("/app/sessions/{}?saved=1", live.sid), &cookie).await;
    assert!(res.text.contains("role=\"status\"") && res.text.contains("Every finding is decided"));
    // Someone else's session: not found, for a business of another organization too.
    let other = app.tester().await;
    let ocookie = signin(&app, &other).await;
    assert_page(&page(&app, &format!("/app/sessions/{}", live.sid), &ocookie).await, 404);
    let res = form(
        &app,
        &path,
        &ocookie,
        &format!("csrf={}&decision.{fid}=reject", csrf(&page(&app, "/app/tester", &ocookie).await)),
    )
    .await;
    assert_page(&res, 404);
}

async fn tenancy_and_hostile_input(b: crate::helpers::Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    let mut body = crate::helpers::study_body();
    body["title"] = json!("<script>alert(1)</script> & \"quotes\"");
    let job = app.launched_study(&biz, body).await;
    let cookie = signin(&app, &biz).await;
    let res = page(&app, &format!("/app/studies/{job}"), &cookie).await;
    assert_page(&res, 200);
    assert!(res.text.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"));
    assert!(res.text.contains("No study report yet"));

    let other = app.signup("business").await;
    let ocookie = signin(&app, &other).await;
    assert_page(&page(&app, &format!("/app/studies/{job}"), &ocookie).await, 404);
    assert!(!page(&app, "/app/studies", &ocookie).await.text.contains("alert(1)"));

    // A forged or garbage cookie is a sign-in redirect, never a 500.
    for c in ["os_session=garbage", "os_session=eyJhbGciOiJub25lIn0.e30.", "os_session=", "other=1"] {
        let res = page(&app, "/app/studies", c).await;
        assert_eq!(res.status.as_u16(), 303, "{c}");
    }
    // Unknown page, wrong method, wrong content type, oversized form, bad paging.
    assert_page(&page(&app, "/app/nope", &cookie).await, 404);
    let res = app.call(Method::PUT, "/app/studies", None, &[("cookie", cookie.as_str())]).await;
    assert_page(&res, 405);
    let res = app
        .call(
            Method::POST,
            "/app/signin",
            Some(json!({"email": "a"})),
            &[("content-type", "application/json")],
        )
        .await;
    assert_page(&res, 400);
    let big = format!("email=a&password={}", "x".repeat(2 * 1024 * 1024));
    assert_page(&form(&app, "/app/signin", "", &big).await, 413);
    assert_page(&form(&app, "/app/signin", "", "email=a").await, 422);
    assert_page(&page(&app, "/app/studies?page=0", &cookie).await, 400);
    assert_page(&page(&app, "/app/studies?limit=1000", &cookie).await, 400);
    // The stylesheet is public and cacheable; the JSON API is unchanged.
    let res = page(&app, "/app/signin", "").await;
    let href = &res.text[res.text.find("/app/assets/app.css?v=").unwrap()..];
    let href = &href[..href.find('"').unwrap()];
    let css = page(&app, href, "").await;
    assert_eq!(css.status.as_u16(), 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    assert!(css.header("cache-control").unwrap().contains("immutable"));
    let res = app.get("/api/jobs", None).await;
    assert_eq!(res.assert_error(401), "Authentication required");
    let _: Value = res.body;
}

/// Server time of the dashboard's pages on a 100-session study (`--ignored --nocapture`):
/// median and p95 of the `Server-Timing` the pages report, over 50 loads each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: cargo test --release -p openscouter-server --test api dashboard::page_times -- --ignored --nocapture"]
async fn page_times() {
    for backend in [crate::helpers::Backend::Sqlite, crate::helpers::Backend::Postgres] {
        page_times_on(backend).await;
    }
}

async fn page_times_on(backend: crate::helpers::Backend) {
    let limits =
        [("OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED", "100000"), ("OPENSCOUTER_RATE_LIMIT_FREE", "100000")];
    let Some(app) = TestApp::with(backend, &limits).await else { return };
    let (biz, job, _, sids) = reported_study(&app, 100, 30).await;
    let cookie = signin(&app, &biz).await;
    let share = app.post(&format!("/api/jobs/{job}/shares"), json!({}), Some(&biz.bearer())).await;
    let shared = share.ok()["path"].as_str().unwrap().to_owned();
    // A segment re-synthesises its sessions live (decision 173): fewer rounds.
    for (name, path, rounds) in [
        ("studies list", "/app/studies".to_owned(), 50),
        ("study page (100 sessions)", format!("/app/studies/{job}"), 50),
        ("session page", format!("/app/sessions/{}", sids[0]), 50),
        ("shared report page", shared, 50),
        ("segment of 30 sessions (outcome=abandon)", format!("/app/studies/{job}?outcome=abandon"), 10),
        ("segment of 100 sessions (nd=dyslexia)", format!("/app/studies/{job}?nd=dyslexia"), 10),
    ] {
        let mut ms: Vec<f64> = Vec::new();
        for _ in 0..rounds {
            let res = page(&app, &path, &cookie).await;
            assert_eq!(res.status.as_u16(), 200);
            ms.push(res.header("server-timing").unwrap()["app;dur=".len()..].parse().unwrap());
        }
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        println!(
            "{backend:?} {name}: median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
            at(0.5),
            at(0.95),
            at(1.0)
        );
    }
}
