//! The study report in Chromium (issue #26): every chart and every segment state is
//! screenshotted to `<target>/screenshots/`, axe-core finds no violation at all on the study,
//! segment, session and shared pages, and every chart's text alternative is reachable: an
//! `svg` with `role="img"` whose `aria-labelledby` names a non-empty title and description,
//! in a figure that holds the table of its numbers.
//!
//! Without chromedriver the test says why and returns, unless `OPENSCOUTER_REQUIRE_BROWSER=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use crate::dashboard::reported_study;
use crate::dashboard_browser::{axe, axe_source, check_page, sign_in};
use crate::helpers::{Backend, TestApp};
use crate::recorder_cases::target_dir;
use crate::webdriver::{Browser, Element, require_browser};

const CHARTS: [&str; 6] =
    ["chart-matrix", "chart-outcomes", "chart-time", "chart-frustration", "chart-sus", "chart-nps"];

/// Saves a screenshot of one element (scrolled into view first).
async fn shoot_element(b: &Browser, css: &str, name: &str) {
    use base64::Engine;
    let found = b
        .execute(
            "const e = document.querySelector(arguments[0]); if (!e) return null; e.scrollIntoView(); return e;",
            json!([css]),
        )
        .await;
    let id = found.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).map(str::to_owned);
    let el = Element(id.unwrap_or_else(|| panic!("{css} is not on the page")));
    let v = b.cmd(reqwest::Method::GET, &format!("/element/{}/screenshot", el.0), None).await;
    let png = base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default()).unwrap();
    let dir = target_dir().join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("report-{name}.png")), png).unwrap();
}

/// No axe-core violation of any impact (WCAG 2.0/2.1 A and AA rules).
async fn no_violation(b: &Browser, axe_js: Option<&str>, name: &str) {
    if let Some(src) = axe_js {
        let v = axe(b, src).await;
        assert!(v.is_empty(), "{name}: axe-core violations: {v:#?}");
        eprintln!("axe-core on report page {name}: 0 violations");
    }
}

/// Each chart's accessible name and description as a screen reader gets them, and its table.
async fn text_alternatives(b: &Browser) -> Value {
    b.execute(
        "return [...document.querySelectorAll('figure.chart')].map(f => {\
           const s = f.querySelector('svg[role=img]');\
           const ids = s ? (s.getAttribute('aria-labelledby') || '').split(' ') : [];\
           const texts = ids.map(i => (document.getElementById(i) || {}).textContent || '');\
           const hidden = s ? (s.closest('[aria-hidden=true]') !== null || getComputedStyle(s).display === 'none') : true;\
           const t = f.querySelector('table caption');\
           return {id: f.id, name: texts[0] || '', desc: texts[1] || '', hidden, table: t ? t.textContent : ''};\
         });",
        json!([]),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_charts_and_segments_in_chromium() {
    let Some(b) = Browser::launch_or_skip().await else { return };
    let axe_js = axe_source();
    assert!(
        axe_js.is_some() || !require_browser(),
        "OPENSCOUTER_AXE_JS is required with OPENSCOUTER_REQUIRE_BROWSER=1"
    );
    if axe_js.is_none() {
        eprintln!("note: axe-core not installed (OPENSCOUTER_AXE_JS), accessibility scan skipped");
    }
    let axe_js = axe_js.as_deref();
    let app = TestApp::new(Backend::Sqlite).await.unwrap();
    let (biz, job, _, sids) = reported_study(&app, 4, 2).await;
    let served = app.serve_http().await;
    let base = served.base.clone();

    sign_in(&b, &base, &biz, &format!("/app/studies/{job}")).await;
    let alts = text_alternatives(&b).await;
    let alts = alts.as_array().unwrap();
    for id in CHARTS {
        let a = alts.iter().find(|a| a["id"] == id).unwrap_or_else(|| panic!("{id} not drawn: {alts:?}"));
        assert!(!a["hidden"].as_bool().unwrap(), "{id} is hidden from assistive technology");
        assert!(a["name"].as_str().unwrap().len() > 5 && a["desc"].as_str().unwrap().len() > 20, "{a}");
        assert!(!a["table"].as_str().unwrap().is_empty(), "{id} has no table: {a}");
        shoot_element(&b, &format!("#{id}"), id).await;
    }
    no_violation(&b, axe_js, "study").await;
    check_page(&b, axe_js, "report-study").await;

    // Each segment state: its own link, a screenshot, no violation.
    for (name, query) in [
        ("segment-nd", "nd=dyslexia"),
        ("segment-outcome", "outcome=abandon"),
        ("segment-nd-outcome", "nd=dyslexia&outcome=abandon"),
        ("segment-unnamed-category", "nd=adhd"),
        ("segment-empty", "variant=B"),
    ] {
        b.goto(&format!("{base}/app/studies/{job}?{query}")).await;
        let notice = b
            .execute("const n = document.getElementById('segment'); return n ? n.innerText : '';", json!([]))
            .await;
        assert!(!notice.as_str().unwrap_or_default().is_empty(), "{name}: no segment notice");
        shoot_element(&b, "form.filters", &format!("{name}-form")).await;
        check_page(&b, axe_js, &format!("report-{name}")).await;
        no_violation(&b, axe_js, name).await;
    }

    // The session page: moments table, the tester's words.
    b.goto(&format!("{base}/app/sessions/{}", sids[0])).await;
    check_page(&b, axe_js, "report-session").await;
    no_violation(&b, axe_js, "session").await;

    // The shared page, signed out in a fresh tab state: the report and its charts.
    let share = app.post(&format!("/api/jobs/{job}/shares"), json!({}), Some(&biz.bearer())).await;
    let path = share.ok()["path"].as_str().unwrap().to_owned();
    b.cmd(reqwest::Method::DELETE, "/cookie", None).await;
    b.goto(&format!("{base}{path}")).await;
    let alts = text_alternatives(&b).await;
    assert!(alts.as_array().unwrap().len() >= 4, "{alts}");
    check_page(&b, axe_js, "report-shared").await;
    no_violation(&b, axe_js, "shared").await;
    b.quit().await;
}
