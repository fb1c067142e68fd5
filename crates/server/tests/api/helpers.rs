//! Test harness: the real router over a fresh database per test (SQLite file or a new
//! PostgreSQL database), a manual clock, and small request helpers.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use openscouter_server::auth::password::PasswordCost;
use openscouter_server::clock::ManualClock;
use openscouter_server::config::Config;
use openscouter_server::http::state::AppState;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Which store a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs one async test body against SQLite and PostgreSQL (`<name>::sqlite`, `<name>::postgres`).
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

/// `OPENSCOUTER_TEST_POSTGRES_URL`, e.g. `postgres://postgres@127.0.0.1:5432/test`. Without it
/// PostgreSQL tests return early, unless `OPENSCOUTER_REQUIRE_POSTGRES=1` (CI), which fails them.
pub fn postgres_admin_url() -> Option<String> {
    let url = std::env::var("OPENSCOUTER_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty());
    if url.is_none() && std::env::var("OPENSCOUTER_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        panic!("OPENSCOUTER_REQUIRE_POSTGRES=1 but OPENSCOUTER_TEST_POSTGRES_URL is not set");
    }
    url
}

/// Records that a PostgreSQL test ran (CI counts these lines).
fn mark_postgres_ran() {
    if let Ok(path) = std::env::var("OPENSCOUTER_PG_MARKER") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{}", std::thread::current().name().unwrap_or("postgres-test"));
        }
    }
}

/// A per-test database, removed on drop.
pub struct TestDb {
    pub url: String,
    cleanup: Option<(String, String)>,
    sqlite_path: Option<std::path::PathBuf>,
    pub data_dir: std::path::PathBuf,
}

impl TestDb {
    pub async fn create(backend: Backend) -> Option<Self> {
        let data_dir = std::env::temp_dir().join(format!("openscouter-test-{}", ulid::Ulid::generate()));
        std::fs::create_dir_all(&data_dir).unwrap();
        match backend {
            Backend::Sqlite => {
                let path = data_dir.join("test.db");
                Some(Self {
                    url: format!("sqlite://{}", path.display()),
                    cleanup: None,
                    sqlite_path: Some(path),
                    data_dir,
                })
            }
            Backend::Postgres => {
                let admin = postgres_admin_url()?;
                let name = format!("os_test_{}", ulid::Ulid::generate().to_string().to_lowercase());
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .expect("connect to PostgreSQL");
                sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await
                    .unwrap();
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap().to_owned();
                mark_postgres_ran();
                Some(Self {
                    url: format!("{base}/{name}"),
                    cleanup: Some((admin, name)),
                    sqlite_path: None,
                    data_dir,
                })
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if let Some((admin, name)) = self.cleanup.take() {
            // Drop runs outside async; a short-lived runtime on its own thread does the work.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    if let Ok(mut c) = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await {
                        let _ = sqlx::Executor::execute(
                            &mut c,
                            sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")),
                        )
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

/// Test configuration: fixed secrets, fast password hashing, development CORS.
pub fn test_config(db: &TestDb, overrides: &[(&str, &str)]) -> Config {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("DATABASE_URL".into(), db.url.clone());
    env.insert("OPENSCOUTER_JWT_SECRET".into(), "test-secret-test-secret-test-secret!".into());
    env.insert("OPENSCOUTER_DATA_DIR".into(), db.data_dir.display().to_string());
    env.insert("OPENSCOUTER_DB_MAX_CONNECTIONS".into(), "4".into());
    for (k, v) in overrides {
        env.insert((*k).into(), (*v).into());
    }
    let mut config = Config::from_sources(&BTreeMap::new(), &env).unwrap();
    config.password_cost = PasswordCost::insecure_fast();
    config
}

/// With `OPENSCOUTER_STATUS_LOG=FILE`, every response status the suite sees is appended to
/// FILE as `METHOD PATH STATUS`; `tests/openapi_statuses.rs` checks them against the document.
pub fn record_status(method: &Method, path: &str, status: StatusCode) {
    if let Ok(file) = std::env::var("OPENSCOUTER_STATUS_LOG") {
        use std::io::Write;
        let path = path.split('?').next().unwrap_or(path);
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(file) {
            // One write per line: concurrent tests append to the same file.
            let _ = f.write_all(format!("{method} {path} {}\n", status.as_u16()).as_bytes());
        }
    }
}

/// The app under test.
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub clock: ManualClock,
    pub backend: Backend,
    pub db: TestDb,
}

/// A response, body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Res {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an error envelope with this status, returns the message.
    pub fn assert_error(&self, status: u16) -> String {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        assert_eq!(self.body["success"], json!(false), "{}", self.text);
        assert_eq!(self.body["data"], Value::Null);
        assert_eq!(self.body["metadata"], Value::Null);
        self.body["error"].as_str().expect("error message").to_owned()
    }

    /// Asserts a success envelope; returns `data`.
    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.text);
        assert_eq!(self.body["success"], json!(true));
        assert_eq!(self.body["error"], Value::Null);
        &self.body["data"]
    }
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Account {
    pub user_id: String,
    pub organization_id: Option<String>,
    pub access: String,
    pub refresh: String,
    pub email: String,
}

impl Account {
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.access)
    }
}

pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    pub async fn new(backend: Backend) -> Option<Self> {
        Self::with(backend, &[]).await
    }

    /// An app with configuration overrides (environment names).
    pub async fn with(backend: Backend, overrides: &[(&str, &str)]) -> Option<Self> {
        Self::with_config(backend, overrides, |_| {}).await
    }

    /// An app with overrides and a direct change to the configuration (for settings tests
    /// need finer than the environment allows, e.g. a heartbeat in milliseconds).
    pub async fn with_config(
        backend: Backend,
        overrides: &[(&str, &str)],
        change: impl FnOnce(&mut Config),
    ) -> Option<Self> {
        let db = TestDb::create(backend).await?;
        let mut config = test_config(&db, overrides);
        change(&mut config);
        let clock = ManualClock::new(1_795_000_000_000);
        let state = openscouter_server::build_state(config, Arc::new(clock.clone())).await.expect("state");
        let router = openscouter_server::http::router(state.clone());
        Some(Self { router, state, clock, backend, db })
    }

    /// Sends a request from `127.0.0.1`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Res {
        self.call_from("127.0.0.1", method, path, body.map(|b| b.to_string()), headers).await
    }

    /// Sends a request from a given peer IP with a raw body.
    pub async fn call_from(
        &self,
        ip: &str,
        method: Method,
        path: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Res {
        let mut req = Request::builder().method(method.clone()).uri(path);
        let json_body = match headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            Some((_, ct)) => ct.starts_with("application/json"),
            None => body.is_some(),
        };
        let sent: Option<Value> =
            body.as_deref().filter(|_| json_body).and_then(|b| serde_json::from_str(b).ok());
        if body.is_some() && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut req = req.body(body.map_or_else(Body::empty, Body::from)).unwrap();
        let addr: SocketAddr = format!("{ip}:40000").parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        record_status(&method, path, status);
        // A body the server took must match the document's request schema (request_schema.rs).
        if status.is_success()
            && let Some(sent) = &sent
            && let Err(e) = crate::request_schema::check(method.as_str(), path, sent)
        {
            panic!(
                "{method} {path} was accepted ({status}) but its body is not what openapi.json documents: {e}"
            );
        }
        Res { status, headers, body, text }
    }

    pub async fn get(&self, path: &str, auth: Option<&str>) -> Res {
        let h: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        self.call(Method::GET, path, None, &h).await
    }

    pub async fn post(&self, path: &str, body: Value, auth: Option<&str>) -> Res {
        let h: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        self.call(Method::POST, path, Some(body), &h).await
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>, auth: &str) -> Res {
        self.call(method, path, body, &[("authorization", auth)]).await
    }

    /// Signs up a new account with a unique email.
    pub async fn signup(&self, role: &str) -> Account {
        let email = format!("{}-{}@example.com", role, ulid::Ulid::generate().to_string().to_lowercase());
        let mut body = json!({"email": email, "password": PASSWORD, "fullName": "Test User", "role": role});
        if role == "business" {
            body["organizationName"] = json!("Acme Research");
        }
        let res = self.post("/api/auth/signup", body, None).await;
        let data = res.ok().clone();
        Account {
            user_id: data["user"]["userId"].as_str().unwrap().to_owned(),
            organization_id: data["user"]["organizationId"].as_str().map(str::to_owned),
            access: data["accessToken"].as_str().unwrap().to_owned(),
            refresh: data["refreshToken"].as_str().unwrap().to_owned(),
            email,
        }
    }

    /// Creates an admin through the same service as `openscouter admin create-user`, signed in.
    pub async fn admin(&self) -> Account {
        let email = format!("admin-{}@example.com", ulid::Ulid::generate().to_string().to_lowercase());
        openscouter_server::services::accounts::create_user(
            &self.state,
            openscouter_server::services::accounts::Signup {
                email: email.clone(),
                password: PASSWORD.into(),
                full_name: "Admin".into(),
                role: openscouter_server::domain::Role::Admin,
                organization_name: None,
            },
        )
        .await
        .unwrap();
        let res = self.post("/api/auth/signin", json!({"email": email, "password": PASSWORD}), None).await;
        let data = res.ok().clone();
        Account {
            user_id: data["user"]["userId"].as_str().unwrap().to_owned(),
            organization_id: None,
            access: data["accessToken"].as_str().unwrap().to_owned(),
            refresh: data["refreshToken"].as_str().unwrap().to_owned(),
            email,
        }
    }
}

/// A valid study body (3 testers, two tasks, GB, ADHD and dyslexia).
pub fn study_body() -> Value {
    json!({
        "title": "Checkout usability",
        "description": "Find where checkout blocks people.",
        "prototypeUrl": "https://shop.example.com",
        "prototypeType": "url",
        "tasks": [
            {"title": "Find a product", "description": "Search for socks", "successCriteria": "Product page open", "order": 1},
            {"title": "Pay", "description": "Buy the socks", "successCriteria": "Confirmation shown", "order": 2}
        ],
        "targeting": {"countries": ["GB"], "languages": ["en"], "devices": ["desktop"], "testerCount": 3},
        "ndCategories": ["adhd", "dyslexia"],
        "compensation": {"currency": "GBP", "amount": 25.5, "type": "flat"},
        "settings": {"recordFacial": true, "recordVoice": true}
    })
}

/// The correct answers of the quiz `migrate` ships (version 1).
pub const QUIZ_ANSWERS: [(&str, &str); 10] = [
    ("q_001", "b"),
    ("q_002", "c"),
    ("q_003", "a"),
    ("q_004", "d"),
    ("q_005", "b"),
    ("q_006", "a"),
    ("q_007", "c"),
    ("q_008", "b"),
    ("q_009", "d"),
    ("q_010", "b"),
];

/// A matching tester profile.
pub fn profile_body() -> Value {
    json!({"ndCategories": ["dyslexia"], "devices": ["desktop", "mobile"], "country": "GB", "languages": ["en", "fr"],
           "birthYear": 1990, "timezone": "Europe/London", "available": true})
}

impl TestApp {
    /// Creates and launches a study from `body`; returns its id.
    pub async fn launched_study(&self, biz: &Account, body: Value) -> String {
        let res = self.post("/api/jobs", body, Some(&biz.bearer())).await;
        let id = res.ok()["jobId"].as_str().unwrap().to_owned();
        self.post(&format!("/api/jobs/{id}/launch"), json!({}), Some(&biz.bearer())).await.ok();
        id
    }

    /// A tester with a matching profile, eligible for studies: special-category consent given,
    /// the capacity quiz passed.
    pub async fn tester(&self) -> Account {
        let t = self.signup("tester").await;
        self.make_eligible(&t).await;
        self.send(Method::PUT, "/api/testers/me/profile", Some(profile_body()), &t.bearer()).await.ok();
        t
    }

    /// Gives special-category consent and passes the shipped quiz.
    pub async fn make_eligible(&self, t: &Account) {
        let consent = json!({"version": "v1.1", "specialCategory": true});
        self.post("/api/testers/me/consent", consent, Some(&t.bearer())).await.ok();
        let quiz = self.get("/api/quiz", Some(&t.bearer())).await;
        let answers: serde_json::Map<String, Value> =
            QUIZ_ANSWERS.iter().map(|(q, a)| ((*q).to_owned(), json!(a))).collect();
        let res = self
            .post(
                "/api/quiz/attempts",
                json!({"quizId": quiz.ok()["quizId"], "answers": answers}),
                Some(&t.bearer()),
            )
            .await;
        assert_eq!(res.ok()["passed"], true, "{}", res.text);
    }

    /// Accepts `job` and starts a session with consent for every stream: `(session id, test token)`.
    pub async fn session(&self, tester: &Account, job: &str) -> (String, String) {
        let res = self.post(&format!("/api/jobs/{job}/accept"), json!({}), Some(&tester.bearer())).await;
        assert!(res.status.is_success() || res.text.contains("already accepted"), "{}", res.text);
        let res = self
            .post("/api/sessions", json!({"jobId": job, "testerId": tester.user_id}), Some(&tester.bearer()))
            .await;
        let id = res.ok()["sessionId"].as_str().unwrap().to_owned();
        let token = res.ok()["testToken"].as_str().unwrap().to_owned();
        let consent = json!({"version": "v1", "streams": {"events": true, "facial": true, "voice": true, "screenshots": false}});
        self.post(&format!("/api/sessions/{id}/consent"), consent, Some(&format!("Token {token}")))
            .await
            .ok();
        (id, token)
    }

    /// A business, its launched study, and a matching tester with a consenting session.
    pub async fn live_session(&self) -> Live {
        let biz = self.signup("business").await;
        let job = self.launched_study(&biz, study_body()).await;
        let tester = self.tester().await;
        let (sid, token) = self.session(&tester, &job).await;
        Live { biz, job, tester, sid, tt: format!("Token {token}") }
    }

    /// Now, as RFC 3339, plus `ms`.
    pub fn at(&self, ms: i64) -> String {
        use openscouter_server::clock::Clock;
        openscouter_server::domain::format_ms(self.clock.now_ms() + ms)
    }
}

/// What `TestApp::live_session` sets up; `tt` is the `Authorization` value of the test token.
pub struct Live {
    pub biz: Account,
    pub job: String,
    pub tester: Account,
    pub sid: String,
    pub tt: String,
}

impl TestApp {
    /// Runs every due job to completion, like a worker would; returns how many ran.
    pub async fn drain_jobs(&self) -> usize {
        let mut n = 0;
        while openscouter_server::worker::run_once(&self.state, "test-worker").await.unwrap() {
            n += 1;
        }
        n
    }

    /// Streams a checkout where the pay button ignores six quick clicks, then completes.
    pub async fn broken_checkout(&self, sid: &str, tt: &str, task: &str) {
        let mut batch: Vec<Value> = vec![
            json!({"clientId": "nav", "eventType": "navigation", "targetSelector": "", "url": "https://shop.example.com/checkout", "timestamp": self.at(0), "taskId": task}),
        ];
        for i in 0..6 {
            batch.push(json!({"clientId": format!("c{i}"), "eventType": "click", "targetSelector": "#pay", "url": "https://shop.example.com/checkout",
                "timestamp": self.at(1_000 + i * 200), "taskId": task, "x": 100, "y": 200}));
        }
        let res = self.post("/api/data/events", json!({"sessionId": sid, "batch": batch}), Some(tt)).await;
        assert_eq!(res.ok()["rejected"], 0, "{}", res.text);
        self.clock.advance_ms(5_000);
        self.post(&format!("/api/sessions/{sid}/complete"), json!({}), Some(tt)).await.ok();
    }
}

impl TestApp {
    /// Posts events to a session and asserts none was rejected.
    pub async fn events(&self, sid: &str, tt: &str, items: Vec<Value>) {
        let res = self.post("/api/data/events", json!({"sessionId": sid, "batch": items}), Some(tt)).await;
        assert_eq!(res.ok()["rejected"], 0, "{}", res.text);
    }

    /// Analyses a completed session and has its tester confirm every finding.
    pub async fn analyze_and_confirm_all(&self, sid: &str, requester: &str, tester: &str) {
        self.analyzed(sid, requester).await;
        assert_eq!(self.confirm_all(sid, tester).await.ok()["status"], "confirmed");
    }

    /// The session's tester (`tester`: their `Authorization`) confirms every finding.
    pub async fn confirm_all(&self, sid: &str, tester: &str) -> Res {
        let findings = self.get(&format!("/api/sessions/{sid}/findings"), Some(tester)).await;
        let decisions: Vec<Value> = findings
            .ok()
            .as_array()
            .unwrap()
            .iter()
            .map(|f| json!({"findingId": f["findingId"], "decision": "confirm"}))
            .collect();
        self.post(&format!("/api/sessions/{sid}/confirm"), json!({"decisions": decisions}), Some(tester))
            .await
    }

    /// Analyses a completed session and returns its findings. Completion queued Agent 2
    /// (api.md §11): asking while it is pending returns that item; once it ran, there is nothing
    /// to ask (a request then would be a re-run).
    pub async fn analyzed(&self, sid: &str, auth: &str) -> Vec<Value> {
        let s = self.get(&format!("/api/sessions/{sid}"), Some(auth)).await;
        if s.ok()["status"] != "analyzed" {
            self.post(&format!("/api/sessions/{sid}/analyze"), json!({}), Some(auth)).await.ok();
        }
        self.drain_jobs().await;
        self.get(&format!("/api/sessions/{sid}/findings"), Some(auth)).await.ok().as_array().unwrap().clone()
    }
}

pub type Received = std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, String)>>>;

/// A local webhook receiver: records every request; answers 500 to the first one, 200 after.
pub async fn webhook_receiver() -> (String, Received) {
    let got: Received = std::sync::Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let g = g.clone();
            async move {
                let mut v = g.lock().unwrap();
                v.push((headers, body));
                if v.len() == 1 {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), got)
}

pub fn verify_signature(secret: &str, headers: &axum::http::HeaderMap, body: &str) -> bool {
    use base64::Engine;
    use hmac::{KeyInit, Mac};
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let id = headers["webhook-id"].to_str().unwrap();
    let ts = headers["webhook-timestamp"].to_str().unwrap();
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.{body}").as_bytes());
    let expected = format!("v1,{}", b64.encode(mac.finalize().into_bytes()));
    headers["webhook-signature"].to_str().unwrap().split(' ').any(|s| s == expected)
}

impl TestApp {
    /// An app on the system clock, for tests where something outside the test stamps times
    /// (a real browser's `Date.now()`): ingestion refuses items more than 5 minutes ahead of
    /// the server's now, so the fixed past of [`TestApp::with`] would refuse them all. The
    /// `clock` field is then a manual clock set to the start time and not the app's clock.
    pub async fn with_system_clock(backend: Backend, overrides: &[(&str, &str)]) -> Option<Self> {
        let db = TestDb::create(backend).await?;
        let config = test_config(&db, overrides);
        let clock = ManualClock::new(chrono::Utc::now().timestamp_millis());
        let state = openscouter_server::build_state(config, Arc::new(openscouter_server::clock::SystemClock))
            .await
            .expect("state");
        let router = openscouter_server::http::router(state.clone());
        Some(Self { router, state, clock, backend, db })
    }

    /// Serves this app over real HTTP on `127.0.0.1:<free port>` (API role: no background
    /// worker, tests run the queue with [`TestApp::drain_jobs`]); stops when dropped.
    pub async fn serve_http(&self) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = tokio_util::sync::CancellationToken::new();
        tokio::spawn(openscouter_server::serve(
            self.state.clone(),
            listener,
            openscouter_server::Role::Api,
            shutdown.clone(),
        ));
        Served { base, shutdown }
    }
}

/// The app on a real port (see [`TestApp::serve_http`]).
pub struct Served {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub base: String,
    shutdown: tokio_util::sync::CancellationToken,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
