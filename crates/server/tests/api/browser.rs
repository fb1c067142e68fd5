//! The recorder in a real browser: headless Chromium (over WebDriver, `webdriver.rs`) loads
//! each test page of `tests/browser/pages/` from its own origin, the page loads
//! `/sdk/recorder.js` from the API server (a real port, the system clock), and a scripted
//! tester struggles through the planted defect (or breezes through its clean twin) with real
//! waits. The session is then completed and analysed, and the engine must find the planted
//! defect with the expected WCAG criterion and nothing on the clean pages
//! (`tests/browser/fixtures/<page>.expected.json`).
//!
//! Each session's NDJSON export is written to `tests/browser/fixtures/<page>.ndjson` with
//! `OPENSCOUTER_RECORD_FIXTURES=1` (the committed recordings that `recorded.rs` replays
//! without a browser), else to `<target>/browser-recordings/`; a screenshot of each page's
//! final state goes to `<target>/screenshots/`.
//!
//! Without chromedriver the test says why and returns, unless `OPENSCOUTER_REQUIRE_BROWSER=1`
//! (`.ci/run`), which fails it. `OPENSCOUTER_BROWSER_PAGES=dead-submit,nav-maze` runs a subset.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::recorder_cases::{Outcome, PAGES, Page, Score, browser_dir, study, target_dir};
use crate::webdriver::{BACKSPACE, Browser, CONTROL, KEY_NULL};

/// The values a test page's placeholders take.
#[derive(Debug, Clone)]
pub struct PageVars {
    /// The API base URL (`{{API}}`): where the page loads the recorder from.
    pub api: String,
    /// Where the recorder sends (`{{ENDPOINT}}`; the API, or a proxy in front of it).
    pub endpoint: String,
    pub session: String,
    pub token: String,
    pub task: String,
}

/// Serves `tests/browser/pages/` on its own port (so the recorder runs cross-origin, as on a
/// real product), with `{{API}}`, `{{SESSION}}`, `{{TOKEN}}` and `{{TASK}}` filled in.
pub struct PageServer {
    pub base: String,
    handle: tokio::task::JoinHandle<()>,
}

impl PageServer {
    pub async fn start(vars: PageVars) -> Self {
        let app = axum::Router::new().route("/{*path}", axum::routing::get(page)).with_state(Arc::new(vars));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let handle = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, handle }
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

async fn page(State(vars): State<Arc<PageVars>>, UrlPath(path): UrlPath<String>) -> Response {
    if path.split('/').any(|seg| seg == ".." || seg.starts_with('.')) || !path.ends_with(".html") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Ok(text) = std::fs::read_to_string(browser_dir("pages").join(&path)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let html = text
        .replace("{{API}}", &vars.api)
        .replace("{{ENDPOINT}}", &vars.endpoint)
        .replace("{{SESSION}}", &vars.session)
        .replace("{{TOKEN}}", &vars.token)
        .replace("{{TASK}}", &vars.task);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], html)
        .into_response()
}

/// Runs a script without arguments.
async fn run(b: &Browser, script: &str) -> Value {
    b.execute(script, json!([])).await
}

async fn pause(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

fn now() -> String {
    openscouter_server::domain::format_ms(chrono::Utc::now().timestamp_millis())
}

/// Waits until the recorder on the page has delivered everything it captured.
pub async fn delivered(b: &Browser) -> Value {
    let started = Instant::now();
    loop {
        let status = b
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 if (!window.OpenScouter) return done(null);\
                 window.OpenScouter.flush().then(done, () => done(null));",
                json!([]),
            )
            .await;
        if status["queued"] == 0 {
            return status;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the recorder did not deliver: {status}");
        pause(250).await;
    }
}

/// A click with WebDriver, `gap` ms after the previous action.
async fn click_after(b: &Browser, css: &str, gap: u64) {
    pause(gap).await;
    b.click_css(css).await;
}

/// Types `text` into the field `css`.
async fn type_into(b: &Browser, css: &str, text: &str) {
    let el = b.find(css).await;
    b.send_keys(&el, text).await;
}

/// The scripted tester of each page. `base` is the page server's base URL.
pub async fn drive(b: &Browser, page: &Page, base: &str) {
    let url = |p: &str| format!("{base}/{}/{p}", page.dir);
    let page = page.name;
    match page {
        // Fills the form, clicks "Pay" four times fast, waits, twice more, gives up.
        "dead-submit" | "dead-submit-clean" => {
            b.goto(&url("index.html")).await;
            pause(900).await;
            type_into(b, "#name", "Alex Morgan").await;
            pause(500).await;
            type_into(b, "#email", "alex@example.com").await;
            pause(500).await;
            type_into(b, "#card", "4242 4242 4242 4242").await;
            pause(700).await;
            let pay = b.find("#checkout button").await;
            assert_eq!(b.text(&pay).await, "Pay £24.00");
            if page == "dead-submit" {
                for _ in 0..4 {
                    b.click(&pay).await;
                    pause(120).await;
                }
                pause(1_000).await;
                b.click(&pay).await;
                pause(250).await;
                b.click(&pay).await;
                pause(1_500).await;
            } else {
                b.click(&pay).await;
                pause(2_500).await;
                // Rendered text: empty while the section is hidden.
                let done = b.wait_for("#confirmation h2", Duration::from_secs(5)).await;
                assert_eq!(b.text(&done).await, "Thank you, your order is placed");
            }
        }
        // Types a date, submits, sees nothing readable (a red border), deletes and retypes it
        // in other formats, submits each time, gives up.
        "date-colour-error" => {
            b.goto(&url("index.html")).await;
            pause(900).await;
            b.click_css("#dob").await;
            type_into(b, "#dob", "12/03/1990").await;
            click_after(b, "#continue", 700).await;
            pause(1_500).await;
            // Deleted key by key…
            type_into(b, "#dob", &BACKSPACE.repeat(10)).await;
            pause(400).await;
            type_into(b, "#dob", "12-03-1990").await;
            click_after(b, "#continue", 600).await;
            pause(1_500).await;
            // …then select all and delete.
            for attempt in ["1990-03-12", "12 March 1990"] {
                type_into(b, "#dob", &format!("{CONTROL}a{KEY_NULL}{BACKSPACE}")).await;
                pause(400).await;
                type_into(b, "#dob", attempt).await;
                click_after(b, "#continue", 600).await;
                pause(1_500).await;
            }
            let red = b.execute("return document.getElementById('dob').style.borderColor", json!([])).await;
            assert_eq!(red, "rgb(221, 0, 0)", "the only feedback is the red border");
        }
        // Knows the format; one typo fixed with one backspace; submits once.
        "date-colour-error-clean" => {
            b.goto(&url("index.html")).await;
            pause(1_500).await;
            b.click_css("#dob").await;
            type_into(b, "#dob", "24/03/19900").await;
            pause(600).await;
            type_into(b, "#dob", BACKSPACE).await;
            click_after(b, "#continue", 900).await;
            pause(1_500).await;
            let saved = b.execute("return !document.getElementById('saved').hidden", json!([])).await;
            assert_eq!(saved, true);
        }
        // Tries one vague link after the other, each time straight back to the start page.
        "nav-maze" => {
            b.goto(&url("index.html")).await;
            pause(1_500).await;
            for link in ["about.html", "offers.html", "help.html"] {
                b.click_css(&format!("#menu a[href='{link}']")).await;
                pause(1_300).await;
                b.back().await;
                pause(1_300).await;
            }
            b.click_css("#menu a[href='info.html']").await;
            pause(1_500).await;
        }
        // One detour (returns and back), then the link that says "Delivery costs".
        "nav-maze-clean" => {
            b.goto(&url("index.html")).await;
            pause(1_500).await;
            b.click_css("#menu a[href='returns.html']").await;
            pause(2_000).await;
            b.back().await;
            pause(1_200).await;
            b.click_css("#menu a[href='delivery.html']").await;
            pause(2_500).await;
        }
        // Types the coupon, "Apply" throws; tries twice more, fails.
        "error-click" => {
            b.goto(&url("index.html")).await;
            pause(900).await;
            type_into(b, "#coupon", "SOCKS10").await;
            click_after(b, "#apply-coupon", 700).await;
            click_after(b, "#apply-coupon", 2_000).await;
            click_after(b, "#apply-coupon", 2_000).await;
            pause(1_200).await;
        }
        // Hunts for one sentence in a wall of text: down, up, down, up…
        "wall-of-text" => {
            b.goto(&url("index.html")).await;
            pause(1_200).await;
            for dy in [1_800, -1_100, 1_500, -900, 1_300, -1_000] {
                b.wheel(dy, 350).await;
                pause(650).await;
            }
            pause(800).await;
        }
        // #28. The same survey at two paces: 24 statements read and ticked ~10 s apart, then
        // "Next" (no defect), or ticked ~1 s apart, then a freeze before three look-alike
        // buttons and giving up.
        "slow-reader" | "fast-freeze" => {
            b.goto(&url("index.html")).await;
            let slow = page == "slow-reader";
            pause(if slow { 12_000 } else { 1_500 }).await;
            for i in 1..=24u64 {
                b.click_css(&format!("#q{i}")).await;
                pause(if slow { 9_000 + (i % 3) * 700 } else { 700 + (i % 3) * 150 }).await;
            }
            if slow {
                b.click_css("#next").await;
                pause(1_500).await;
            } else {
                // Frozen before Proceed / Next / Go; clicks the instructions twice, looking
                // for a hint, and gives up.
                for _ in 0..2 {
                    pause(6_500).await;
                    b.click_css("main > p").await;
                }
                pause(1_500).await;
            }
        }
        // Five fast clicks on a quantity stepper, each answered by the new count.
        "stepper" => {
            b.goto(&url("index.html")).await;
            pause(1_200).await;
            for _ in 0..5 {
                b.click_css("#more").await;
                pause(150).await;
            }
            assert_eq!(b.text(&b.find("#qty").await).await, "6");
            click_after(b, "#add", 1_200).await;
            pause(1_500).await;
        }
        // A paragraph selected by a triple click (to copy it), then "I agree".
        "triple-select" => {
            b.goto(&url("index.html")).await;
            pause(1_500).await;
            let para = b.find("#terms > p:nth-of-type(2)").await;
            b.multi_click(&para, 3).await;
            let picked = b.execute("return String(getSelection()).length", json!([])).await;
            assert!(picked.as_i64().unwrap() > 100, "the paragraph is selected: {picked}");
            pause(1_500).await;
            b.click_css("#agree").await;
            pause(1_500).await;
        }
        // The size guide opens in a new tab; this page does not change, so the tester clicks
        // the link once more, then chooses a size.
        "new-tab-link" => {
            b.goto(&url("index.html")).await;
            pause(1_200).await;
            b.click_css("#guide").await;
            pause(2_000).await;
            b.click_css("#guide").await;
            pause(1_500).await;
            click_after(b, "#choose", 800).await;
            pause(1_500).await;
        }
        // One click on a dead button, a wait, and giving up.
        "dead-once" => {
            b.goto(&url("index.html")).await;
            pause(1_500).await;
            b.click_css("#invoice").await;
            pause(4_000).await;
        }
        other => panic!("no scripted tester for {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorder_in_chromium_finds_the_planted_defects() {
    let wall = Instant::now();
    let Some(browser) = Browser::launch_or_skip().await else { return };
    eprintln!("browser: Chromium {}", browser.version());
    let only: Option<Vec<String>> = std::env::var("OPENSCOUTER_BROWSER_PAGES")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| s.split(',').map(|p| p.trim().to_owned()).collect());
    let pages: Vec<Page> = PAGES
        .iter()
        .copied()
        .filter(|p| only.as_ref().is_none_or(|o| o.iter().any(|n| n == p.name)))
        .collect();

    let app = TestApp::with_system_clock(Backend::Sqlite, &[]).await.unwrap();
    let api = app.serve_http().await;
    let biz = app.signup("business").await;
    let tasks: Vec<&str> = PAGES.iter().map(|p| p.task).collect();
    let (job, task_ids) = study(&app, &biz, &tasks).await;
    let task_of: HashMap<&str, String> =
        PAGES.iter().zip(&task_ids).map(|(p, id)| (p.name, id.clone())).collect();

    let record = std::env::var("OPENSCOUTER_RECORD_FIXTURES").is_ok_and(|v| v == "1");
    let recordings = if record { browser_dir("fixtures") } else { target_dir().join("browser-recordings") };
    let shots = target_dir().join("screenshots");
    std::fs::create_dir_all(&recordings).unwrap();
    std::fs::create_dir_all(&shots).unwrap();

    let mut score = Score::default();
    // The dead-control session, for the dashboard half (confirmed through its page later).
    let mut dead_control: Option<(crate::helpers::Account, String)> = None;
    for page in &pages {
        let t0 = Instant::now();
        let tester = app.tester().await;
        let (sid, token) = app.session(&tester, &job).await;
        let tt = format!("Token {token}");
        let task = task_of[page.name].clone();
        let server = PageServer::start(PageVars {
            api: api.base.clone(),
            endpoint: api.base.clone(),
            session: sid.clone(),
            token: token.clone(),
            task: task.clone(),
        })
        .await;

        let started_at = now();
        drive(&browser, page, &server.base).await;
        let ended_at = now();
        let status = delivered(&browser).await;
        browser.screenshot(&shots.join(format!("{}.png", page.name))).await;
        assert_eq!(status["state"], "recording", "{status}");
        assert_eq!(status["rejected"], 0, "the server refused items: {status}");
        // Leave the page before the session closes (its pagehide flush must not break anything).
        browser.goto("about:blank").await;

        let attempt = json!({"taskId": task, "outcome": page.outcome, "seq": page.seq,
                             "startedAt": started_at, "endedAt": ended_at});
        app.post(&format!("/api/sessions/{sid}/feedback"), json!({"tasks": [attempt]}), Some(&tt)).await.ok();
        app.post(&format!("/api/sessions/{sid}/complete"), json!({}), Some(&tt)).await.ok();
        let findings = app.analyzed(&sid, &tester.bearer()).await;
        assert!(findings.iter().all(|f| f["decision"].is_null()));

        let export = app.get(&format!("/api/sessions/{sid}/export?format=ndjson"), Some(&biz.bearer())).await;
        assert_eq!(export.status, 200, "{}", export.text);
        check_recording(page, &export.text);
        std::fs::write(recordings.join(format!("{}.ndjson", page.name)), &export.text).unwrap();

        let out = Outcome::read(&app, page.name, &sid, &tester.bearer()).await;
        eprintln!("{} ({:.1} s)", out.describe(), t0.elapsed().as_secs_f64());
        score.add(&out);
        drop(server);
        if page.name == "dead-submit" {
            dead_control = Some((tester, sid));
        } else if !findings.is_empty() {
            // The other testers confirm through the API, so the study report has every barrier.
            app.confirm_all(&sid, &tester.bearer()).await.ok();
        }
    }
    // The dashboard (#15): the tester confirms through the page, the business reads the study
    // and session pages, axe-core and a 200 % zoom check on each.
    if let Some((tester, sid)) = &dead_control {
        let t0 = Instant::now();
        crate::dashboard_browser::check_dashboard(&browser, &app, &api.base, &biz, tester, &job, sid).await;
        eprintln!("dashboard checked in {:.1} s", t0.elapsed().as_secs_f64());
    }
    browser.quit().await;
    eprintln!(
        "browser run: {} pages in {:.1} s; {}; recordings in {}",
        pages.len(),
        wall.elapsed().as_secs_f64(),
        score.summary(),
        recordings.display()
    );
    score.assert_perfect();
}

/// What every recording must show about the recorder itself, whatever the engine makes of it.
fn check_recording(page: &Page, ndjson: &str) {
    let lines: Vec<Value> = ndjson.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let events: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "event").collect();
    let of = |t: &str| events.iter().filter(|e| e["eventType"] == t).count();
    assert!(of("navigation") >= 1, "{}: no navigation event", page.name);
    for e in &events {
        assert!(e["clientId"].as_str().is_some_and(|c| !c.is_empty() && c.len() <= 64), "{e}");
        assert!(e["taskId"].is_string(), "every item carries the task: {e}");
        assert!(e.get("value").is_none(), "typed text must never be sent: {e}");
        let url = e["url"].as_str().unwrap_or("");
        assert!(url.contains(&format!("/{}/", page.dir)) && !url.contains('?'), "{e}");
    }
    // Typed text never travels, only its length.
    for e in &events {
        for field in ["targetText", "targetSelector", "url", "errorMessage"] {
            let v = e[field].as_str().unwrap_or("");
            // A URL's origin is the test server's random port ("…:42423" holds "4242"): only its
            // path and query could carry what was typed.
            let v = if field == "url" {
                v.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..])).unwrap_or(v)
            } else {
                v
            };
            for typed in ["Alex", "alex@", "4242", "SOCKS10", "1990"] {
                assert!(!v.contains(typed), "{}: typed text {typed:?} in {field}: {e}", page.name);
            }
        }
    }
    match page.name {
        "dead-submit" => {
            let pay: Vec<&&Value> = events
                .iter()
                .filter(|e| e["eventType"] == "click" && e["targetText"] == "Pay £24.00")
                .collect();
            assert_eq!(pay.len(), 6, "six clicks on Pay");
            assert!(pay.iter().all(|e| e["targetSelector"] == pay[0]["targetSelector"]), "a stable selector");
            assert!(pay.iter().all(|e| e["x"].is_number() && e["viewport"]["width"] == 1280));
        }
        "date-colour-error" => {
            let lengths: Vec<i64> = events
                .iter()
                .filter(|e| e["eventType"] == "input" && e["targetSelector"] == "#dob")
                .filter_map(|e| e["inputLength"].as_i64())
                .collect();
            let drops = lengths.windows(2).filter(|w| w[1] < w[0]).count();
            assert_eq!(drops, 3, "three deletions, each one item: {lengths:?}");
        }
        "nav-maze" => assert!(of("navigation") >= 8, "every page load and every back is an arrival"),
        "error-click" => {
            let errors: Vec<&&Value> = events.iter().filter(|e| e["eventType"] == "error").collect();
            assert_eq!(errors.len(), 3, "one error per click");
            assert!(errors[0]["errorMessage"].as_str().unwrap().contains("rates"), "{}", errors[0]);
        }
        "wall-of-text" => assert!(of("scroll") >= 6, "scrolls are recorded (throttled)"),
        _ => {}
    }
}

/// What the fault proxy does with the next ingestion POST.
const PASS: u8 = 0;
/// Forward it (the server stores it), then answer the browser 503 anyway: the recorder must
/// resend the same items, and the server must count them as duplicates.
const STORE_THEN_FAIL: u8 = 1;
/// Answer 503 without forwarding.
const DOWN: u8 = 2;

/// A proxy in front of the API that injects failures into `POST /api/data/events`
/// (preflights and everything else pass through).
struct FaultProxy {
    base: String,
    mode: Arc<std::sync::atomic::AtomicU8>,
    /// `(method, path, Authorization)` of every request that came through, in order.
    seen: Arc<std::sync::Mutex<Vec<(String, String, String)>>>,
    handle: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct ProxyState {
    upstream: String,
    mode: Arc<std::sync::atomic::AtomicU8>,
    seen: Arc<std::sync::Mutex<Vec<(String, String, String)>>>,
    http: reqwest::Client,
}

impl FaultProxy {
    async fn start(upstream: &str) -> Self {
        openscouter_server::integrations::install_crypto();
        let mode = Arc::new(std::sync::atomic::AtomicU8::new(PASS));
        let seen = Arc::default();
        let state = ProxyState {
            upstream: upstream.to_owned(),
            mode: mode.clone(),
            seen: Arc::clone(&seen),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        };
        let app = axum::Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let handle = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, mode, seen, handle }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, std::sync::atomic::Ordering::SeqCst);
    }

    /// `(method, path, Authorization)` of the requests so far (preflights included).
    fn seen(&self) -> Vec<(String, String, String)> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

async fn forward(State(p): State<ProxyState>, req: axum::extract::Request) -> Response {
    use std::sync::atomic::Ordering;
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 4 << 20).await.unwrap();
    let auth = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    p.seen.lock().unwrap().push((parts.method.to_string(), parts.uri.path().to_owned(), auth.to_owned()));
    let origin = parts.headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or("*").to_owned();
    let unavailable = || {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.as_str()),
                (header::ACCESS_CONTROL_EXPOSE_HEADERS, "retry-after"),
                (header::RETRY_AFTER, "1"),
                (header::CONTENT_TYPE, "application/json"),
            ],
            r#"{"success":false,"data":null,"error":"Service unavailable","metadata":null}"#,
        )
            .into_response()
    };
    let ingest = parts.method == axum::http::Method::POST && parts.uri.path() == "/api/data/events";
    let mode = if ingest { p.mode.swap(PASS, Ordering::SeqCst) } else { PASS };
    if mode == DOWN {
        p.mode.store(DOWN, Ordering::SeqCst);
        return unavailable();
    }
    let mut up = p.http.request(parts.method.clone(), format!("{}{}", p.upstream, parts.uri));
    for (k, v) in &parts.headers {
        if k != header::HOST && k != header::CONTENT_LENGTH && k != header::CONNECTION {
            up = up.header(k.as_str(), v.as_bytes());
        }
    }
    let res = up.body(body.to_vec()).send().await.unwrap();
    if mode == STORE_THEN_FAIL {
        let _ = res.bytes().await;
        return unavailable();
    }
    let mut out = Response::builder().status(res.status().as_u16());
    for (k, v) in res.headers() {
        if k != "transfer-encoding" && k != "connection" && k != "content-length" {
            out = out.header(k.as_str(), v.as_bytes());
        }
    }
    out.body(axum::body::Body::from(res.bytes().await.unwrap())).unwrap()
}

/// The recorder's API and delivery guarantees, on a playground page behind a fault proxy:
/// no global but `OpenScouter`, no error into the page, pause/resume, setTask, typed text
/// never sent, hash and history routes without their query, a 503 after the server stored a
/// batch (the retry is counted as duplicates), items captured while the API is down resent
/// by the next page from sessionStorage, and a stop when the session is no longer active.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorder_api_retries_resends_and_stops_in_chromium() {
    let Some(browser) = Browser::launch_or_skip().await else { return };
    let app = TestApp::with_system_clock(Backend::Sqlite, &[]).await.unwrap();
    let api = app.serve_http().await;
    let biz = app.signup("business").await;
    let (job, tasks) = study(&app, &biz, &["First task", "Second task"]).await;
    let tester = app.tester().await;
    let (sid, token) = app.session(&tester, &job).await;
    let proxy = FaultProxy::start(&api.base).await;
    let server = PageServer::start(PageVars {
        api: api.base.clone(),
        endpoint: proxy.base.clone(),
        session: sid.clone(),
        token: token.clone(),
        task: tasks[0].clone(),
    })
    .await;

    browser.goto(&format!("{}/recorder-api/index.html", server.base)).await;
    let added = run(
        &browser,
        "return Object.getOwnPropertyNames(window)\
                    .filter(n => !window.__before.includes(n) && !n.startsWith('__'))",
    )
    .await;
    assert_eq!(added, json!(["OpenScouter"]), "the recorder's only global");
    assert_eq!(run(&browser, "return Object.isFrozen(window.OpenScouter)").await, true);
    // Nothing is captured while paused.
    run(&browser, "OpenScouter.pause()").await;
    browser.click_css("#one").await;
    run(&browser, "OpenScouter.resume()").await;
    browser.click_css("#two").await;
    // The task follows setTask.
    browser.execute("OpenScouter.setTask(arguments[0])", json!([tasks[1]])).await;
    browser.click_css("#one").await;
    type_into(&browser, "#secret", "hunter2hunter2").await;
    // The tester looks at another tab for a moment, the cursor still in the field.
    let tab = browser.switch_to_new_tab().await;
    pause(300).await;
    browser.close_tab_back_to(&tab).await;
    browser.click_css("#hash").await;
    browser.click_css("#spa").await;
    delivered(&browser).await;

    // The server stores a batch but the answer is lost: the same clientIds come again.
    proxy.set(STORE_THEN_FAIL);
    browser.click_css("#two").await;
    let status = delivered(&browser).await;
    assert!(status["duplicates"].as_u64().unwrap() >= 1, "{status}");

    // The API is down when the tester moves on: the next page resends from sessionStorage.
    assert_eq!(run(&browser, "return window.__errors").await, json!([]), "no error reached the page");
    proxy.set(DOWN);
    browser.click_css("#one").await;
    pause(300).await;
    browser.click_css("#next").await;
    // Page 2 holds its own arrival plus page 1's unsent clicks, read back from sessionStorage.
    let waiting = run(&browser, "return OpenScouter.status()").await;
    assert!(waiting["queued"].as_u64().unwrap() >= 3, "{waiting}");
    assert_eq!(run(&browser, "return sessionStorage.length").await, 0, "taken over by page 2");
    proxy.set(PASS);
    let status = delivered(&browser).await;
    assert_eq!(status["state"], "recording", "{status}");
    let stored = run(&browser, "return sessionStorage.length").await;
    assert_eq!(stored, 0, "delivered items leave sessionStorage");

    // Once the session is completed the recorder stops instead of retrying for ever.
    app.post(&format!("/api/sessions/{sid}/complete"), json!({}), Some(&format!("Token {token}"))).await.ok();
    browser.click_css("#three").await;
    let status = delivered(&browser).await;
    assert_eq!(
        (status["state"].as_str(), status["lastStatus"].as_i64()),
        (Some("stopped"), Some(422)),
        "{status}"
    );
    // A page of a completed session: the recorder stops quietly.
    browser.goto(&format!("{}/recorder-api/index.html", server.base)).await;
    let status = delivered(&browser).await;
    assert_eq!(status["state"], "stopped", "{status}");
    assert_eq!(run(&browser, "return window.__errors").await, json!([]), "no error reached the page");
    browser.quit().await;

    let events = app.get(&format!("/api/sessions/{sid}/events?limit=100"), Some(&biz.bearer())).await;
    let events = events.ok().as_array().unwrap().clone();
    let ids: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e["clientId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), events.len(), "every clientId stored once");
    let clicks: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["eventType"] == "click")
        .map(|e| (e["targetSelector"].as_str().unwrap(), e["taskId"].as_str().unwrap_or("")))
        .collect();
    let (a, b) = (tasks[0].as_str(), tasks[1].as_str());
    assert_eq!(
        clicks,
        vec![("#two", a), ("#one", b), ("#hash", b), ("#spa", b), ("#two", b), ("#one", b), ("#next", b)],
        "no click while paused; setTask applies; the click made while the API was down arrives"
    );
    let secret: Vec<&str> = events
        .iter()
        .filter(|e| e["targetSelector"] == "#secret")
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(secret, ["focus", "input", "blur"], "the tab switch is not a second visit to the field");
    assert!(events.iter().any(|e| e["targetSelector"] == "#secret" && e["inputLength"] == 14));
    let page_focus: Vec<&str> = events
        .iter()
        .filter(|e| e["targetSelector"] == "window")
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    assert!(
        page_focus.windows(2).any(|w| w == ["blur", "focus"]),
        "the page lost and regained focus: {page_focus:?}"
    );
    assert!(!events.iter().any(|e| e.to_string().contains("hunter2")));
    let urls: Vec<&str> = events
        .iter()
        .filter(|e| e["eventType"] == "navigation")
        .map(|e| e["url"].as_str().unwrap().rsplit("/recorder-api/").next().unwrap())
        .collect();
    assert_eq!(urls, vec!["index.html", "index.html#/step-2", "spa-route", "next.html"], "no query strings");
}

/// The recorder's fixes of #31 and its new fields (api.md §5), one page each: a filled form
/// then a pointer rested on Send (the hover is the rest, not the few ms since the email
/// field's `change`); a code cleared with backspaces in one burst (the item counts the
/// deletions); a field whose own handler strips characters (the length after it); and
/// `window` as the target of window-level events, `wordCount` on arrivals, `role` and
/// `mutations` on clicks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorder_fixes_in_chromium() {
    let Some(browser) = Browser::launch_or_skip().await else { return };
    let app = TestApp::with_system_clock(Backend::Sqlite, &[]).await.unwrap();
    let api = app.serve_http().await;
    let biz = app.signup("business").await;
    let (job, tasks) = study(&app, &biz, &["Send the contact form"]).await;
    let tester = app.tester().await;
    let (sid, token) = app.session(&tester, &job).await;
    let server = PageServer::start(PageVars {
        api: api.base.clone(),
        endpoint: api.base.clone(),
        session: sid.clone(),
        token: token.clone(),
        task: tasks[0].clone(),
    })
    .await;

    browser.goto(&format!("{}/rested-submit/index.html", server.base)).await;
    pause(600).await;
    type_into(&browser, "#name", "Alex Morgan").await;
    pause(300).await;
    type_into(&browser, "#email", "alex@example.com").await;
    let send = browser.find("#send").await;
    browser.rest_then_click(&send, 1_500).await;
    pause(1_200).await;

    browser.goto(&format!("{}/cleared-field/index.html", server.base)).await;
    pause(600).await;
    type_into(&browser, "#code", "ABCD-1234").await;
    pause(1_300).await;
    type_into(&browser, "#code", &BACKSPACE.repeat(9)).await;
    pause(1_300).await;
    type_into(&browser, "#code", "ABCD-5678").await;
    pause(1_300).await;

    browser.goto(&format!("{}/stripping-field/index.html", server.base)).await;
    pause(600).await;
    type_into(&browser, "#phone", "07700 900123-").await;
    pause(300).await;
    let shown = browser.execute("return document.getElementById('phone').value.length", json!([])).await;
    assert_eq!(shown, 11, "the page keeps digits only");
    let status = delivered(&browser).await;
    assert_eq!(status["rejected"], 0, "{status}");
    browser.quit().await;
    drop(server);

    let events = app.get(&format!("/api/sessions/{sid}/events?limit=100"), Some(&biz.bearer())).await;
    let events = events.ok().as_array().unwrap().clone();
    let on = |sel: &str, t: &str| -> Vec<Value> {
        events.iter().filter(|e| e["targetSelector"] == sel && e["eventType"] == t).cloned().collect()
    };
    // The pointer rested 1.5 s on Send; the email field's change (on the mousedown that left
    // it) no longer restarts the clock.
    let send = on("#send", "click");
    assert_eq!(send.len(), 1, "{events:?}");
    let hover = send[0]["hoverMs"].as_i64().unwrap();
    assert!((1_300..=2_500).contains(&hover), "hoverMs {hover} for a 1.5 s rest: {}", send[0]);
    assert_eq!(send[0]["role"], "button");
    assert!(send[0]["mutations"].as_i64().unwrap() > 0, "the form was replaced: {}", send[0]);
    // Nine backspaces in one burst: one item, nine deletions.
    let code: Vec<(i64, i64)> = on("#code", "input")
        .iter()
        .map(|e| (e["inputLength"].as_i64().unwrap(), e["deletions"].as_i64().unwrap()))
        .collect();
    assert_eq!(code, vec![(9, 0), (0, 9), (9, 0)], "typed, cleared, typed again");
    // The length after the page's own handler: 11 digits, not 12 keystrokes' worth.
    let phone = on("#phone", "input");
    assert_eq!(phone.last().unwrap()["inputLength"], 11, "{phone:?}");
    assert!(phone.iter().all(|e| e["deletions"] == 0), "the handler's stripping is not the tester deleting");
    // Window-level events name `window`; arrivals carry the page's words.
    let arrivals: Vec<&Value> = events.iter().filter(|e| e["eventType"] == "navigation").collect();
    assert_eq!(arrivals.len(), 3, "{arrivals:?}");
    for a in &arrivals {
        assert_eq!(a["targetSelector"], "window", "{a}");
        assert!(a["wordCount"].as_i64().is_some_and(|w| w > 5), "{a}");
    }
}

/// api.md §11 and issue #24: the recorder reads its briefing with its test token before it
/// sends anything, and honours the briefing's `streams`. Three sessions of one study, each on
/// its own page behind a recording proxy: with `recordVoice`/`recordFacial` off, `add()`
/// refuses voice and facial items and none is sent, while events flow; with events consented
/// off, nothing is sent at all; on a study that records voice, a voice item is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorder_reads_its_briefing_and_honours_streams_in_chromium() {
    let Some(browser) = Browser::launch_or_skip().await else { return };
    let app = TestApp::with_system_clock(Backend::Sqlite, &[]).await.unwrap();
    let api = app.serve_http().await;
    let biz = app.signup("business").await;
    let mut body = crate::helpers::study_body();
    body["settings"] = json!({"recordFacial": false, "recordVoice": false});
    body["targeting"]["testerCount"] = json!(5);
    let quiet = app.launched_study(&biz, body).await;
    let (voiced, _) = study(&app, &biz, &["Talk it through"]).await; // records voice and facial
    let proxy = FaultProxy::start(&api.base).await;
    let voice_item =
        json!([{"timestamp": now(), "durationMs": 1200, "transcript": "where is pay", "confidence": 0.9}]);
    let facial_item =
        json!([{"timestamp": now(), "emotion": "neutral", "confidence": 0.8, "faceDetected": true}]);

    // A page of `job` for a fresh tester, whose session consents to `streams`: the page loaded,
    // the briefing read. Returns the session, its token and the page server (kept alive).
    let (app_ref, browser_ref, proxy_ref, api_ref) = (&app, &browser, &proxy, &api);
    let open = move |job: String, streams: Value| {
        let (app, browser, proxy, api) = (app_ref, browser_ref, proxy_ref, api_ref);
        async move {
            let t = app.tester().await;
            app.post(&format!("/api/jobs/{job}/accept"), json!({}), Some(&t.bearer())).await.ok();
            let body = json!({"jobId": job, "testerId": t.user_id, "consent": {"version": "v1", "streams": streams}});
            let created = app.post("/api/sessions", body, Some(&t.bearer())).await;
            let sid = created.ok()["sessionId"].as_str().unwrap().to_owned();
            let token = created.ok()["testToken"].as_str().unwrap().to_owned();
            let server = PageServer::start(PageVars {
                api: api.base.clone(),
                endpoint: proxy.base.clone(),
                session: sid.clone(),
                token: token.clone(),
                task: String::new(),
            })
            .await;
            browser.goto(&format!("{}/recorder-api/index.html", server.base)).await;
            let started = Instant::now();
            while run(browser, "return OpenScouter.briefing()").await.is_null() {
                assert!(started.elapsed() < Duration::from_secs(10), "no briefing: {:?}", proxy.seen());
                pause(50).await;
            }
            (sid, token, server)
        }
    };
    let sent_to = |path: &str| proxy.seen().iter().filter(|(m, p, _)| m == "POST" && p == path).count();

    // 1. Voice and facial off in the study's settings, every stream consented.
    let all = json!({"events": true, "facial": true, "voice": true});
    let (sid, token, _page) = open(quiet.clone(), all.clone()).await;
    let gets: Vec<(String, String, String)> = proxy
        .seen()
        .into_iter()
        .filter(|(m, p, _)| m == "GET" && *p == format!("/api/sessions/{sid}"))
        .collect();
    assert_eq!(gets.len(), 1, "one briefing read: {:?}", proxy.seen());
    assert_eq!(gets[0].2, format!("Token {token}"), "read with the session's test token");
    let brief = run(&browser, "return OpenScouter.briefing()").await;
    assert_eq!(brief["sessionId"], sid.as_str());
    assert_eq!(brief["job"]["title"], "Checkout usability");
    assert_eq!(brief["job"]["tasks"].as_array().unwrap().len(), 2, "{brief}");
    assert_eq!(brief["streams"], json!({"events": true, "facial": false, "voice": false, "screen": false}));
    let added = browser
        .execute(
            "return [OpenScouter.add('voice', arguments[0]), OpenScouter.add('facial', arguments[1]), \
             OpenScouter.add('screen', [{type: 4, data: {}, timestamp: Date.now()}]), OpenScouter.add('toString', [])]",
            json!([voice_item, facial_item]),
        )
        .await;
    assert_eq!(added, json!([false, false, false, false]), "the briefing turns them off");
    browser.click_css("#one").await;
    let status = delivered(&browser).await;
    assert_eq!(status["streams"]["voice"], false, "{status}");
    assert!(status["sent"].as_u64().unwrap() >= 2, "events still flow: {status}");
    assert_eq!(sent_to("/api/data/voice") + sent_to("/api/data/facial"), 0, "{:?}", proxy.seen());
    assert!(sent_to("/api/data/events") >= 1);
    let first_briefing = proxy.seen().iter().position(|(m, _, _)| m == "GET").unwrap();
    let first_send =
        proxy.seen().iter().position(|(m, p, _)| m == "POST" && p == "/api/data/events").unwrap();
    assert!(first_briefing < first_send, "the briefing comes first: {:?}", proxy.seen());

    // 2. Events consented off: the recorder sends nothing at all.
    let before = proxy.seen().iter().filter(|(m, _, _)| m == "POST").count();
    let (_sid, _, _page2) =
        open(quiet.clone(), json!({"events": false, "facial": true, "voice": true})).await;
    browser.click_css("#one").await;
    browser.click_css("#two").await;
    let status = delivered(&browser).await;
    assert_eq!(
        (status["streams"]["events"].as_bool(), status["sent"].as_u64()),
        (Some(false), Some(0)),
        "{status}"
    );
    let after = proxy.seen().iter().filter(|(m, _, _)| m == "POST").count();
    assert_eq!(after, before, "nothing sent: {:?}", proxy.seen());

    // 3. A study that records voice: the same call is delivered and stored.
    let (sid3, _, _page3) = open(voiced, all).await;
    let added = browser.execute("return OpenScouter.add('voice', arguments[0])", json!([voice_item])).await;
    assert_eq!(added, true);
    let status = delivered(&browser).await;
    assert_eq!(status["streams"]["voice"], true, "{status}");
    assert_eq!(sent_to("/api/data/voice"), 1, "{:?}", proxy.seen());
    let export = app.get(&format!("/api/sessions/{sid3}/export?format=ndjson"), Some(&biz.bearer())).await;
    assert!(export.text.contains("where is pay"), "{}", export.text);
    assert_eq!(run(&browser, "return window.__errors").await, json!([]), "no error reached the page");
    browser.quit().await;
}
