//! A minimal W3C WebDriver client over `reqwest`, driving Debian's headless Chromium through
//! `chromedriver`: just what the browser tests need (navigate, find, click, type, scripts,
//! wheel scrolling, screenshots, history). One `Browser` owns one chromedriver process, one
//! browser session and one throw-away profile directory; dropping it closes all three.
//!
//! `Browser::launch` answers `Err(Unavailable::Missing)` when no chromedriver is installed
//! (`/usr/bin/chromedriver`, or `OPENSCOUTER_CHROMEDRIVER`); callers decide whether that
//! skips or fails (see `require_browser`).

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// WebDriver's key code for Backspace (W3C "normalised key values").
pub const BACKSPACE: &str = "\u{E003}";
/// Control (held until `KEY_NULL`).
pub const CONTROL: &str = "\u{E009}";
/// Releases held modifier keys.
pub const KEY_NULL: &str = "\u{E000}";

/// `OPENSCOUTER_REQUIRE_BROWSER=1` (set by `.ci/run`) turns a missing browser into a failure.
pub fn require_browser() -> bool {
    std::env::var("OPENSCOUTER_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
}

fn chromedriver_path() -> PathBuf {
    std::env::var_os("OPENSCOUTER_CHROMEDRIVER")
        .filter(|s| !s.is_empty())
        .map_or_else(|| PathBuf::from("/usr/bin/chromedriver"), PathBuf::from)
}

fn chromium_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OPENSCOUTER_CHROMIUM").filter(|s| !s.is_empty()) {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Why no browser could be started.
#[derive(Debug)]
pub enum Unavailable {
    /// Not installed: a plain `cargo test` skips.
    Missing(String),
    /// Installed but broken: always a failure.
    Broken(String),
}

/// An element found on the page.
#[derive(Debug, Clone)]
pub struct Element(pub String);

/// A headless Chromium driven over WebDriver.
pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>/session/<id>`.
    base: String,
    driver_port: u16,
    session: Option<String>,
    driver: Child,
    profile: PathBuf,
    version: String,
}

impl Browser {
    /// A browser for a test, or None (printed) when none is installed and none is required
    /// (`OPENSCOUTER_REQUIRE_BROWSER=1`, set by `.ci/run`, turns that into a failure).
    pub async fn launch_or_skip() -> Option<Self> {
        match Self::launch().await {
            Ok(b) => Some(b),
            Err(Unavailable::Missing(why)) if !require_browser() => {
                eprintln!("skipped: {why}; .ci/run installs it and sets OPENSCOUTER_REQUIRE_BROWSER=1");
                None
            }
            Err(e) => panic!("no browser (OPENSCOUTER_REQUIRE_BROWSER=1 or a broken install): {e:?}"),
        }
    }

    /// Starts chromedriver on a free port and opens a browser session, or says why it cannot.
    pub async fn launch() -> Result<Self, Unavailable> {
        let driver_bin = chromedriver_path();
        if !driver_bin.exists() {
            return Err(Unavailable::Missing(format!(
                "no chromedriver at {} (apt-get install chromium chromium-driver, or set OPENSCOUTER_CHROMEDRIVER)",
                driver_bin.display()
            )));
        }
        Self::start(&driver_bin).await.map_err(Unavailable::Broken)
    }

    async fn start(driver_bin: &Path) -> Result<Self, String> {
        openscouter_server::integrations::install_crypto();
        let port = free_port();
        let profile = std::env::temp_dir().join(format!("openscouter-chromium-{}", ulid::Ulid::generate()));
        std::fs::create_dir_all(&profile).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(profile.join("chromedriver.log")).map_err(|e| e.to_string())?;
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", driver_bin.display()))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        let mut browser = Self {
            http,
            base: String::new(),
            driver_port: port,
            session: None,
            driver,
            profile,
            version: String::new(),
        };
        let root = format!("http://127.0.0.1:{port}");
        let ready = Instant::now();
        loop {
            let status = browser.http.get(format!("{root}/status")).send().await;
            if let Ok(r) = status
                && let Ok(text) = r.text().await
                && serde_json::from_str::<Value>(&text).is_ok_and(|v| v["value"]["ready"] == true)
            {
                break;
            }
            if ready.elapsed() > Duration::from_secs(20) {
                return Err(format!("chromedriver did not get ready: {}", browser.driver_log()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut options = json!({
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,900",
                format!("--user-data-dir={}", browser.profile.join("profile").display()),
            ]
        });
        if let Some(bin) = chromium_path() {
            options["binary"] = json!(bin.display().to_string());
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
            "pageLoadStrategy": "normal",
            "timeouts": {"script": 30_000, "pageLoad": 30_000, "implicit": 0},
        }}});
        let res = browser.raw(reqwest::Method::POST, &format!("{root}/session"), Some(caps)).await?;
        let id = res["sessionId"].as_str().ok_or_else(|| format!("no session id in {res}"))?.to_owned();
        browser.version = res["capabilities"]["browserVersion"].as_str().unwrap_or("?").to_owned();
        browser.base = format!("{root}/session/{id}");
        browser.session = Some(id);
        Ok(browser)
    }

    /// The browser's version, e.g. `156.0.8078.108`.
    pub fn version(&self) -> &str {
        &self.version
    }

    async fn raw(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> Result<Value, String> {
        let mut req = self.http.request(method.clone(), url);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let res = req.send().await.map_err(|e| format!("{method} {url}: {e}"))?;
        let status = res.status();
        let text = res.text().await.map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&text).map_err(|_| format!("{method} {url}: {status} {text}"))?;
        if !status.is_success() {
            return Err(format!("{method} {url}: {status} {}", v["value"]));
        }
        Ok(v["value"].clone())
    }

    /// A command on the session (`path` after `/session/<id>`); panics with WebDriver's error.
    pub async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let body = body.or_else(|| (method == reqwest::Method::POST).then(|| json!({})));
        self.raw(method, &format!("{}{path}", self.base), body).await.unwrap_or_else(|e| panic!("{e}"))
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.cmd(reqwest::Method::POST, path, Some(body)).await
    }

    /// Navigates and waits for the load event.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None).await.as_str().unwrap_or_default().to_owned()
    }

    /// History back (waits for the page to load).
    pub async fn back(&self) {
        self.post("/back", json!({})).await;
    }

    /// The first element matching a CSS selector; panics when there is none.
    pub async fn find(&self, css: &str) -> Element {
        let v = self.post("/element", json!({"using": "css selector", "value": css})).await;
        Element(v[ELEMENT].as_str().unwrap_or_else(|| panic!("no element id for {css}: {v}")).to_owned())
    }

    /// The first element matching a CSS selector, if there is one now.
    pub async fn try_find(&self, css: &str) -> Option<Element> {
        let body = json!({"using": "css selector", "value": css});
        let v = self.raw(reqwest::Method::POST, &format!("{}/element", self.base), Some(body)).await.ok()?;
        v[ELEMENT].as_str().map(|id| Element(id.to_owned()))
    }

    /// Waits up to `timeout` for an element to appear (pages that render after loading).
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        let started = Instant::now();
        loop {
            if let Some(el) = self.try_find(css).await {
                return el;
            }
            assert!(started.elapsed() < timeout, "no {css} after {timeout:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An element's rendered text.
    pub async fn text(&self, el: &Element) -> String {
        let v = self.cmd(reqwest::Method::GET, &format!("/element/{}/text", el.0), None).await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// Clicks an element (WebDriver moves the pointer onto it first, as a mouse would).
    pub async fn click(&self, el: &Element) {
        self.post(&format!("/element/{}/click", el.0), json!({})).await;
    }

    /// Finds and clicks.
    pub async fn click_css(&self, css: &str) {
        let el = self.find(css).await;
        self.click(&el).await;
    }

    /// Types into an element (focuses it first); keys as W3C key values, e.g. [`BACKSPACE`].
    pub async fn send_keys(&self, el: &Element, text: &str) {
        self.post(&format!("/element/{}/value", el.0), json!({"text": text})).await;
    }

    /// Empties an editable element.
    pub async fn clear(&self, el: &Element) {
        self.post(&format!("/element/{}/clear", el.0), json!({})).await;
    }

    /// Opens a new tab and switches to it (the page the tester was on loses focus);
    /// returns the handle of the window that was current.
    pub async fn switch_to_new_tab(&self) -> String {
        let was = self.cmd(reqwest::Method::GET, "/window", None).await.as_str().unwrap().to_owned();
        let new = self.post("/window/new", json!({"type": "tab"})).await;
        self.post("/window", json!({"handle": new["handle"]})).await;
        was
    }

    /// Closes the current tab and switches back to `handle`.
    pub async fn close_tab_back_to(&self, handle: &str) {
        self.cmd(reqwest::Method::DELETE, "/window", None).await;
        self.post("/window", json!({"handle": handle})).await;
    }

    /// Runs a script (`return …` for a value) with `arguments`.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": args})).await
    }

    /// Runs an asynchronous script: its last argument is the callback that returns the value.
    pub async fn execute_async(&self, script: &str, args: Value) -> Value {
        self.post("/execute/async", json!({"script": script, "args": args})).await
    }

    /// Moves the mouse onto an element, rests there `rest_ms`, then clicks with it (a tester
    /// who pauses on a control before pressing it; `click` presses at once).
    pub async fn rest_then_click(&self, el: &Element, rest_ms: u64) {
        let actions = json!({"actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [
                {"type": "pointerMove", "origin": {ELEMENT: el.0}, "x": 0, "y": 0, "duration": 150},
                {"type": "pause", "duration": rest_ms},
                {"type": "pointerDown", "button": 0},
                {"type": "pointerUp", "button": 0}
            ]
        }]});
        self.post("/actions", actions).await;
    }

    /// Clicks an element `n` times in quick succession with the mouse (a double or triple
    /// click: the browser counts them up and selects a word or a paragraph).
    pub async fn multi_click(&self, el: &Element, n: usize) {
        let mut steps = vec![json!({"type": "pointerMove", "origin": {ELEMENT: el.0}, "x": 0, "y": 0})];
        for _ in 0..n {
            steps.push(json!({"type": "pointerDown", "button": 0}));
            steps.push(json!({"type": "pointerUp", "button": 0}));
        }
        let actions = json!({"actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": steps
        }]});
        self.post("/actions", actions).await;
    }

    /// Turns the mouse wheel by `dy` pixels (positive scrolls down) over `duration_ms`.
    pub async fn wheel(&self, dy: i64, duration_ms: u64) {
        let actions = json!({"actions": [{
            "type": "wheel", "id": "wheel",
            "actions": [{"type": "scroll", "x": 640, "y": 450, "deltaX": 0, "deltaY": dy,
                         "duration": duration_ms, "origin": "viewport"}]
        }]});
        self.post("/actions", actions).await;
    }

    /// Saves a PNG screenshot of the viewport.
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default()).unwrap();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }

    /// Closes the browser and chromedriver.
    pub async fn quit(mut self) {
        if self.session.take().is_some() {
            let _ = self.raw(reqwest::Method::DELETE, &self.base, None).await;
        }
    }

    /// chromedriver's log so far (for failure messages).
    pub fn driver_log(&self) -> String {
        std::fs::read_to_string(self.profile.join("chromedriver.log")).unwrap_or_default()
    }

    /// `DELETE /session/<id>` without an async runtime (from `Drop`), bounded by a timeout.
    fn delete_session_blocking(&self, id: &str) {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.driver_port)) else { return };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let req = format!(
            "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.driver_port
        );
        if s.write_all(req.as_bytes()).is_ok() {
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            self.delete_session_blocking(&id);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
