//! The dashboard in a real browser (#15): after `browser.rs` has recorded and analysed the
//! planted-defect sessions, the tester confirms a finding through the confirmation page with
//! the keyboard only, the business opens the study and session pages, an axe-core scan of every
//! page must report no serious or critical violation, the pages must reflow at 200 % zoom
//! (640 CSS px wide) without a horizontal scrollbar, and screenshots go to
//! `<target>/screenshots/`.
//!
//! axe-core comes from npm (`.ci/run` installs it and sets `OPENSCOUTER_AXE_JS`); without it
//! the scan is skipped with a note, unless `OPENSCOUTER_REQUIRE_BROWSER=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Account, PASSWORD, TestApp};
use crate::recorder_cases::target_dir;
use crate::webdriver::{Browser, require_browser};

const ENTER: &str = "\u{E007}";

/// The axe-core source, if installed.
pub fn axe_source() -> Option<String> {
    let path = std::env::var("OPENSCOUTER_AXE_JS").ok().filter(|p| !p.is_empty()).or_else(|| {
        let p = target_dir().join("axe/node_modules/axe-core/axe.min.js");
        p.exists().then(|| p.display().to_string())
    })?;
    std::fs::read_to_string(path).ok()
}

/// Runs axe-core (WCAG 2.0/2.1 A and AA rules) on the current page; returns its violations.
pub async fn axe(b: &Browser, source: &str) -> Vec<Value> {
    b.execute(&format!("{source}\n;return typeof window.axe;"), json!([])).await;
    let res = b
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             window.axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})\
               .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,\
                  nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))))\
               .catch(e => done({error: String(e)}));",
            json!([]),
        )
        .await;
    assert!(res.get("error").is_none(), "axe failed: {res}");
    res.as_array().cloned().unwrap_or_default()
}

/// What every dashboard page must pass in the browser.
async fn check_page(b: &Browser, axe_js: Option<&str>, name: &str) {
    let shots = target_dir().join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    // The whole page: the window grows to the document's height for the picture.
    let height =
        b.execute("return document.documentElement.scrollHeight;", json!([])).await.as_i64().unwrap_or(900);
    b.cmd(
        reqwest::Method::POST,
        "/window/rect",
        Some(json!({"width": 1280, "height": height.clamp(900, 8000) + 100})),
    )
    .await;
    b.screenshot(&shots.join(format!("dashboard-{name}.png"))).await;
    b.cmd(reqwest::Method::POST, "/window/rect", Some(json!({"width": 1280, "height": 900}))).await;
    if let Some(src) = axe_js {
        let violations = axe(b, src).await;
        eprintln!("axe-core on {name}: {} violations (WCAG 2.0/2.1 A and AA rules)", violations.len());
        for v in &violations {
            eprintln!("  {v}");
        }
        let serious: Vec<&Value> = violations
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(serious.is_empty(), "{name}: serious accessibility violations: {serious:?}");
    }
    // 200 % zoom: 1280 px at 200 % is a 640 px viewport. Nothing may need horizontal scrolling
    // (wide tables scroll inside their own region, which is allowed by 1.4.10).
    b.cmd(reqwest::Method::POST, "/window/rect", Some(json!({"width": 640, "height": 900}))).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let overflow = b
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            json!([]),
        )
        .await;
    b.screenshot(&shots.join(format!("dashboard-{name}-200pct.png"))).await;
    b.cmd(reqwest::Method::POST, "/window/rect", Some(json!({"width": 1280, "height": 900}))).await;
    assert!(
        overflow.as_i64().unwrap_or(0) <= 1,
        "{name}: the page scrolls sideways at 200 % zoom ({overflow} px)"
    );
}

async fn text(b: &Browser) -> String {
    b.execute("return document.body.innerText;", json!([])).await.as_str().unwrap_or_default().to_owned()
}

/// Signs in through the form with the keyboard (type, then Enter), landing on `next`.
pub async fn sign_in(b: &Browser, base: &str, who: &Account, next: &str) {
    b.goto(&format!(
        "{base}/app/signin?next={}",
        url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    ))
    .await;
    let email = b.find("#email").await;
    b.send_keys(&email, &who.email).await;
    let password = b.find("#password").await;
    b.send_keys(&password, &format!("{PASSWORD}{ENTER}")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let url = b.url().await;
    assert!(url.starts_with(&format!("{base}{next}")), "signed in to {url}, wanted {next}");
}

async fn sign_out(b: &Browser) {
    b.click_css("header.site form button").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(b.url().await.contains("/app/signin"));
}

/// The dashboard half of the proof. `sid` is a recorded dead-control session of `tester` in
/// study `job` of `biz`, analysed and awaiting confirmation.
pub async fn check_dashboard(
    b: &Browser,
    app: &TestApp,
    base: &str,
    biz: &Account,
    tester: &Account,
    job: &str,
    sid: &str,
) {
    let axe_js = axe_source();
    if axe_js.is_none() {
        assert!(
            !require_browser(),
            "OPENSCOUTER_AXE_JS (axe-core) is required with OPENSCOUTER_REQUIRE_BROWSER=1"
        );
        eprintln!(
            "note: axe-core not installed (npm install axe-core; OPENSCOUTER_AXE_JS), accessibility scan skipped"
        );
    }
    let axe_js = axe_js.as_deref();

    // The tester confirms through the page, keyboard only: Space selects a radio button, Enter
    // on the button submits.
    sign_in(b, base, tester, &format!("/app/sessions/{sid}")).await;
    check_page(b, axe_js, "confirmation").await;
    let radios = b
        .execute("return document.querySelectorAll('input[type=radio][value=confirm]').length;", json!([]))
        .await;
    let n = radios.as_u64().unwrap();
    assert!(n >= 1, "the confirmation page lists the findings");
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
    let comment = b.find("textarea[name^='comment.']").await;
    b.send_keys(&comment, "I clicked it again and again and nothing happened").await;
    let submit = b.find("main form button[type=submit]").await;
    b.send_keys(&submit, ENTER).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(b.url().await.ends_with(&format!("/app/sessions/{sid}?saved=1")), "{}", b.url().await);
    assert!(text(b).await.contains("Your answers are saved"));
    let rows = app.get(&format!("/api/sessions/{sid}/findings"), Some(&tester.bearer())).await;
    assert!(rows.ok().as_array().unwrap().iter().all(|f| f["decision"] == "confirm"), "{}", rows.text);
    sign_out(b).await;

    // The business: studies → study (write the report) → session.
    sign_in(b, base, biz, "/app/studies").await;
    check_page(b, axe_js, "studies").await;
    b.click_css(&format!("a[href='/app/studies/{job}']")).await;
    if text(b).await.contains("No study report yet") {
        b.click_css("main form button[type=submit]").await;
        // The click does not wait for the form's POST: drain until its job has run.
        let asked = Instant::now();
        loop {
            app.drain_jobs().await;
            b.goto(&format!("{base}/app/studies/{job}")).await;
            if !text(b).await.contains("No study report yet") || asked.elapsed() > Duration::from_secs(15) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let study = text(b).await;
    assert!(study.contains("Accessibility score"), "{study}");
    assert!(study.contains("4.1.2"), "the dead control's criterion is on the study page: {study}");
    assert!(study.contains("Control does not respond as expected"), "{study}");
    check_page(b, axe_js, "study").await;
    b.click_css(&format!("a[href='/app/sessions/{sid}']")).await;
    let session = text(b).await;
    assert!(session.contains("Critical moments") && session.contains("critical"), "{session}");
    let svg = b.execute("const s = document.querySelector('svg.timeline'); return s ? s.getBoundingClientRect().height : 0;", json!([])).await;
    assert!(svg.as_f64().unwrap_or(0.0) > 50.0, "the timeline is drawn: {svg}");
    check_page(b, axe_js, "session").await;
    sign_out(b).await;
}
