//! The real binary: `serve --listen 127.0.0.1:0` prints its port, serves, and exits cleanly on
//! SIGTERM after finishing in-flight requests; bad configuration stops start-up with one line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

pub(crate) fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_openscouter"));
    c.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    c
}

fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_prints_port_and_stops_gracefully() {
    let dir = std::env::temp_dir().join(format!("openscouter-bin-{}", ulid::Ulid::generate()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = bin()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", format!("sqlite://{}/db.sqlite", dir.display()))
        .env("OPENSCOUTER_DATA_DIR", dir.display().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().rsplit(':').next().unwrap().parse().expect(&line);
    assert!(line.contains("listening on http://127.0.0.1:"), "{line}");
    let res = http_get(port, "/healthz");
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    // the development JWT secret was generated and kept
    assert!(std::fs::read_to_string(dir.join("jwt-secret")).unwrap().len() >= 32);

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn invalid_configuration_stops_with_one_line() {
    let out = bin().args(["serve"]).env("OPENSCOUTER_LISTEN", "not-an-address").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("OPENSCOUTER_LISTEN"), "{err}");

    let out = bin().args(["serve"]).env("OPENSCOUTER_ENV", "production").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("OPENSCOUTER_JWT_SECRET"));
}

#[test]
fn openapi_command_prints_the_document() {
    let out = bin().arg("openapi").output().unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["paths"]["/api/me"].is_object());
}

#[test]
fn analyze_command_reads_exports() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../analysis/tests/fixtures");
    let out = bin()
        .args(["analyze", "--input", &format!("{fixtures}/checkout_pay_button.ndjson"), "--confirm-all"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["wcag"]["criterion"] == "4.1.2"), "{v}");
    assert!(v["insights"]["overallFrustrationScore"].as_f64().unwrap() > 0.0);
    assert!(v["studyReport"]["score"].is_number());

    let out = bin().args(["analyze", "--study", fixtures]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sessions"].as_array().unwrap().len(), 4);
    assert!(["red", "amber", "green"].contains(&v["studyReport"]["band"].as_str().unwrap()));

    let out = bin().args(["analyze", "--input", "/nonexistent.ndjson"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

/// A minimal HTTP/1.1 client (one request per connection): `(status, body)`, or an error when
/// the server went away mid-request.
pub(crate) fn http(
    port: u16,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))?;
    let body = body.unwrap_or("");
    let auth = auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let status = out
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad response: {out:?}")))?;
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

pub(crate) fn data(body: &str) -> serde_json::Value {
    serde_json::from_str::<serde_json::Value>(body).unwrap()["data"].clone()
}

pub(crate) struct Server {
    pub(crate) child: std::process::Child,
    pub(crate) port: u16,
}

fn start(dir: &std::path::Path) -> Server {
    start_with(dir, &[])
}

pub(crate) fn start_with(dir: &std::path::Path, env: &[(&str, &str)]) -> Server {
    let db = format!("sqlite://{}/db.sqlite", dir.display());
    let data_dir = dir.display().to_string();
    let mut all = vec![
        ("DATABASE_URL", db.as_str()),
        ("OPENSCOUTER_DATA_DIR", data_dir.as_str()),
        ("OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED", "100000"),
        ("OPENSCOUTER_RATE_LIMIT_FREE", "100000"),
        ("OPENSCOUTER_RATE_LIMIT_INGEST", "10000000"),
    ];
    all.extend_from_slice(env);
    start_node("all", &all)
}

/// Starts `serve --role <role>` with exactly `env` (later pairs win); a worker has no port (0).
fn start_node(role: &str, env: &[(&str, &str)]) -> Server {
    let mut child = bin()
        .envs(env.iter().copied())
        .args(["serve", "--listen", "127.0.0.1:0", "--role", role])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    if role == "worker" {
        assert!(line.starts_with("worker running"), "{line}");
        return Server { child, port: 0 };
    }
    let port = line.trim().rsplit(':').next().unwrap().parse().expect(&line);
    Server { child, port }
}

/// What `setup` made: a business, a launched study, and consenting sessions.
pub(crate) struct Setup {
    pub(crate) biz_auth: String,
    pub(crate) sessions: Vec<String>,
    pub(crate) tokens: Vec<String>,
    /// Each session's tester (`Authorization` value).
    pub(crate) testers: Vec<String>,
}

/// A GET that must succeed; its `data`.
pub(crate) fn post_get(port: u16, path: &str, auth: &str) -> serde_json::Value {
    let (status, text) = http(port, "GET", path, Some(auth), None).unwrap();
    assert_eq!(status, 200, "{text}");
    data(&text)
}

pub(crate) fn post(port: u16, path: &str, auth: Option<&str>, body: serde_json::Value) -> serde_json::Value {
    let (status, text) = http(port, "POST", path, auth, Some(&body.to_string())).unwrap();
    assert!(status == 200, "{path}: {status} {text}");
    data(&text)
}

/// A business with a launched study and `n` testers each in a session with consent for events.
pub(crate) fn setup(port: u16, n: usize) -> Setup {
    use serde_json::json;
    let biz = post(
        port,
        "/api/auth/signup",
        None,
        json!({"email": "b@example.com", "password": "0123456789", "fullName": "B", "role": "business"}),
    );
    let biz_auth = format!("Bearer {}", biz["accessToken"].as_str().unwrap());
    let study = json!({"title": "Crash study", "description": "d", "prototypeUrl": "https://x.io", "prototypeType": "url",
        "tasks": [{"title": "t", "description": "d", "successCriteria": "s", "order": 1}],
        "targeting": {"countries": ["GB"], "testerCount": n.max(3)}, "ndCategories": ["adhd"],
        "compensation": {"currency": "GBP", "amount": 10, "type": "flat"}});
    let job = post(port, "/api/jobs", Some(&biz_auth), study)["jobId"].as_str().unwrap().to_owned();
    post(port, &format!("/api/jobs/{job}/launch"), Some(&biz_auth), json!({}));
    let (mut sessions, mut tokens, mut testers) = (vec![], vec![], vec![]);
    for i in 0..n {
        let t = post(
            port,
            "/api/auth/signup",
            None,
            json!({"email": format!("t{i}@example.com"), "password": "0123456789", "fullName": "T", "role": "tester"}),
        );
        let auth = format!("Bearer {}", t["accessToken"].as_str().unwrap());
        post(
            port,
            "/api/testers/me/consent",
            Some(&auth),
            json!({"version": "v1.1", "specialCategory": true}),
        );
        let quiz = post_get(port, "/api/quiz", &auth);
        let answers: serde_json::Map<String, serde_json::Value> =
            crate::helpers::QUIZ_ANSWERS.iter().map(|(q, a)| ((*q).to_owned(), json!(a))).collect();
        let attempt = post(
            port,
            "/api/quiz/attempts",
            Some(&auth),
            json!({"quizId": quiz["quizId"], "answers": answers}),
        );
        assert_eq!(attempt["passed"], true);
        let profile = json!({"ndCategories": ["adhd"], "country": "GB"}).to_string();
        assert_eq!(http(port, "PUT", "/api/testers/me/profile", Some(&auth), Some(&profile)).unwrap().0, 200);
        post(port, &format!("/api/jobs/{job}/accept"), Some(&auth), json!({}));
        let sess =
            post(port, "/api/sessions", Some(&auth), json!({"jobId": job, "testerId": t["user"]["userId"]}));
        let token = format!("Token {}", sess["testToken"].as_str().unwrap());
        let consent = json!({"version": "v1", "streams": {"events": true, "facial": false, "voice": false, "screenshots": false}});
        post(
            port,
            &format!("/api/sessions/{}/consent", sess["sessionId"].as_str().unwrap()),
            Some(&token),
            consent,
        );
        sessions.push(sess["sessionId"].as_str().unwrap().to_owned());
        tokens.push(token);
        testers.push(auth);
    }
    Setup { biz_auth, sessions, tokens, testers }
}

/// SIGKILL while clients ingest: every acknowledged item survives, and retrying the
/// unacknowledged batches (same clientIds) creates no duplicates.
#[test]
fn crash_during_ingestion_loses_no_acknowledged_item() {
    use serde_json::json;
    use std::sync::{Arc, Mutex};

    let dir = std::env::temp_dir().join(format!("openscouter-crash-{}", ulid::Ulid::generate()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = start(&dir);
    let port = server.port;
    let Setup { biz_auth, sessions, tokens, .. } = setup(port, 3);

    // Clients post batches of 200 items with unique clientIds until the server dies.
    let acked: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
    let unacked: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
    let batch_body = |client: usize, n: usize, session: &str| {
        let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let items: Vec<serde_json::Value> = (0..200)
            .map(|i| json!({"clientId": format!("c{client}-b{n}-i{i}"), "eventType": "click", "targetSelector": "#pay", "timestamp": ts}))
            .collect();
        json!({"sessionId": session, "batch": items}).to_string()
    };
    let handles: Vec<_> = (0..3)
        .map(|c| {
            let (acked, unacked, token, session) =
                (acked.clone(), unacked.clone(), tokens[c].clone(), sessions[c].clone());
            std::thread::spawn(move || {
                for n in 0.. {
                    match http(
                        port,
                        "POST",
                        "/api/data/events",
                        Some(&token),
                        Some(&batch_body(c, n, &session)),
                    ) {
                        Ok((200, _)) => acked.lock().unwrap().push((c, n)),
                        _ => {
                            unacked.lock().unwrap().push((c, n));
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(800));
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    for h in handles {
        h.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let unacked = unacked.lock().unwrap().clone();
    assert!(acked.len() >= 3, "the clients should have got some batches in before the kill");

    // Restart on the same database; clients retry what was not acknowledged.
    let mut server = start(&dir);
    let port = server.port;
    let mut retried_duplicates = 0;
    for &(c, n) in &unacked {
        let (status, text) =
            http(port, "POST", "/api/data/events", Some(&tokens[c]), Some(&batch_body(c, n, &sessions[c])))
                .unwrap();
        assert_eq!(status, 200, "{text}");
        let d = data(&text);
        assert_eq!(d["accepted"].as_u64().unwrap() + d["duplicates"].as_u64().unwrap(), 200);
        retried_duplicates += d["duplicates"].as_u64().unwrap();
    }
    // Every acknowledged and retried item is there exactly once.
    for (c, session) in sessions.iter().enumerate() {
        let expected = 200
            * (acked.iter().filter(|(x, _)| *x == c).count()
                + unacked.iter().filter(|(x, _)| *x == c).count());
        let mut seen = std::collections::BTreeSet::new();
        let (s, text) =
            http(port, "GET", &format!("/api/sessions/{session}/export"), Some(&biz_auth), None).unwrap();
        assert_eq!(s, 200);
        // The export is chunked; its records are the lines that parse as JSON events.
        for r in text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|r| r["kind"] == "event")
        {
            assert!(seen.insert(r["clientId"].as_str().unwrap().to_owned()), "duplicate row {r}");
        }
        assert_eq!(seen.len(), expected, "session {c}");
        for &(_, n) in acked.iter().filter(|(x, _)| *x == c) {
            assert!(seen.contains(&format!("c{c}-b{n}-i0")) && seen.contains(&format!("c{c}-b{n}-i199")));
        }
    }
    eprintln!(
        "crash test: {} batches acknowledged, {} retried ({retried_duplicates} items had been committed before the kill)",
        acked.len(),
        unacked.len()
    );
    let _ = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status();
    let _ = server.child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGKILL while analyses are queued and running: after a restart every job completes once,
/// and each session's findings exist once. With the default lease (30 s, renewed by a
/// heartbeat while a job runs), a job the killed node held is taken over within 30 s of the
/// restart (api.md §6); the wait allows 5 s more for the worker's poll and the run itself.
#[test]
fn killed_while_analysing_every_job_completes_once_after_restart() {
    use serde_json::json;
    let dir = std::env::temp_dir().join(format!("openscouter-jobs-{}", ulid::Ulid::generate()));
    std::fs::create_dir_all(&dir).unwrap();
    let env = [("OPENSCOUTER_WORKERS", "1")];
    let mut server = start_with(&dir, &env);
    let port = server.port;
    let Setup { biz_auth, sessions, tokens, testers } = setup(port, 4);
    let now = chrono::Utc::now();
    for (sid, tt) in sessions.iter().zip(&tokens) {
        for batch in 0..3 {
            let items: Vec<serde_json::Value> = (0..1000)
                .map(|i| {
                    let ts = now + chrono::Duration::milliseconds(batch * 1000 * 150 + i * 150);
                    let selector = if i % 50 < 4 { "#pay" } else { "#list" };
                    json!({"eventType": "click", "targetSelector": selector, "url": "https://x.io/checkout",
                           "timestamp": ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)})
                })
                .collect();
            post(port, "/api/data/events", Some(tt), json!({"sessionId": sid, "batch": items}));
        }
        post(port, &format!("/api/sessions/{sid}/complete"), Some(tt), json!({}));
    }
    let jobs: Vec<String> = sessions
        .iter()
        .map(|s| {
            post(port, &format!("/api/sessions/{s}/analyze"), Some(&biz_auth), json!({}))["analysisJobId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    server.child.kill().unwrap(); // SIGKILL: some jobs queued, maybe one running
    server.child.wait().unwrap();

    let restarted = std::time::Instant::now();
    let mut server = start_with(&dir, &env);
    let port = server.port;
    let deadline = restarted + std::time::Duration::from_secs(35);
    loop {
        let statuses: Vec<String> = jobs
            .iter()
            .map(|j| {
                let (_, text) =
                    http(port, "GET", &format!("/api/analysis-jobs/{j}"), Some(&biz_auth), None).unwrap();
                data(&text)["status"].as_str().unwrap_or("?").to_owned()
            })
            .collect();
        assert!(!statuses.iter().any(|s| s == "failed"), "{statuses:?}");
        if statuses.iter().all(|s| s == "complete") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "jobs were not recovered within 30 s: {statuses:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for (sid, tester) in sessions.iter().zip(&testers) {
        let (_, text) = http(port, "GET", &format!("/api/sessions/{sid}"), Some(&biz_auth), None).unwrap();
        assert_eq!(data(&text)["status"], "analyzed");
        // The tester reads every candidate; the business none before the tester decides.
        let (_, text) =
            http(port, "GET", &format!("/api/sessions/{sid}/findings"), Some(&biz_auth), None).unwrap();
        assert_eq!(data(&text), serde_json::json!([]), "the business sees no undecided finding");
        let (_, text) =
            http(port, "GET", &format!("/api/sessions/{sid}/findings"), Some(tester), None).unwrap();
        let findings = data(&text);
        let ids: Vec<&str> =
            findings.as_array().unwrap().iter().map(|f| f["findingId"].as_str().unwrap()).collect();
        let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
        assert_eq!(ids.len(), unique.len(), "duplicated findings");
        assert!(!ids.is_empty());
    }
    let _ = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status();
    let _ = server.child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The flow of api.md §11 survives SIGKILLs: killed while Agent 2 runs for the completed
/// sessions, and again right after the last confirmation (Agents 3 and 4 queued or running),
/// the study still reaches its report, and each step happened exactly once: one analysis per
/// session (each tester told once), one report per session, one study report.
#[test]
fn killed_mid_flow_every_step_happens_once() {
    use serde_json::json;
    let dir = std::env::temp_dir().join(format!("openscouter-flow-{}", ulid::Ulid::generate()));
    std::fs::create_dir_all(&dir).unwrap();
    // A short lease, so the killed node's item is taken over quickly after the restart.
    let env = [
        ("OPENSCOUTER_WORKERS", "1"),
        ("OPENSCOUTER_JOB_LEASE_SECS", "3"),
        ("OPENSCOUTER_JOB_HEARTBEAT_SECS", "1"),
    ];
    let mut server = start_with(&dir, &env);
    let port = server.port;
    let Setup { biz_auth, sessions, tokens, testers } = setup(port, 3);
    let job = post_get(port, &format!("/api/sessions/{}", sessions[0]), &biz_auth)["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = chrono::Utc::now();
    for (sid, tt) in sessions.iter().zip(&tokens) {
        let items: Vec<serde_json::Value> = (0..1000)
            .map(|i| {
                let ts = now + chrono::Duration::milliseconds(i * 150);
                let selector = if i % 50 < 4 { "#pay" } else { "#list" };
                json!({"eventType": "click", "targetSelector": selector, "url": "https://x.io/checkout",
                       "timestamp": ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)})
            })
            .collect();
        post(port, "/api/data/events", Some(tt), json!({"sessionId": sid, "batch": items}));
        post(port, &format!("/api/sessions/{sid}/complete"), Some(tt), json!({}));
    }
    // Agent 2 is queued by each completion and running: kill.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let mut server = start_with(&dir, &env);
    let port = server.port;
    let wait_for = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "{what} did not happen within 40 s");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let status_of = |sid: &str| {
        let (_, text) = http(port, "GET", &format!("/api/sessions/{sid}"), Some(&biz_auth), None).unwrap();
        data(&text)["status"].as_str().unwrap_or("?").to_owned()
    };
    wait_for("every analysis", &|| sessions.iter().all(|s| status_of(s) == "analyzed"));
    for (sid, auth) in sessions.iter().zip(&testers) {
        let findings = post_get(port, &format!("/api/sessions/{sid}/findings"), auth);
        let decisions: Vec<serde_json::Value> = findings
            .as_array()
            .unwrap()
            .iter()
            .map(|f| json!({"findingId": f["findingId"], "decision": "confirm"}))
            .collect();
        let out =
            post(port, &format!("/api/sessions/{sid}/confirm"), Some(auth), json!({"decisions": decisions}));
        assert_eq!(out["status"], "confirmed");
    }
    // Agents 3 and 4 are queued by the confirmations: kill again.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let mut server = start_with(&dir, &env);
    let port = server.port;
    let report =
        || http(port, "GET", &format!("/api/reports/job/{job}"), Some(&biz_auth), None).unwrap().0 == 200;
    wait_for("the study report", &report);
    let notices = |auth: &str, kind: &str| {
        let (_, text) = http(port, "GET", "/api/notifications?limit=100", Some(auth), None).unwrap();
        data(&text)
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == kind)
            .map(|n| n["data"].clone())
            .collect::<Vec<_>>()
    };
    // Every session's report written once (one notice per report id), and the study's once.
    wait_for("every session report", &|| notices(&biz_auth, "report.ready").len() >= 4);
    std::thread::sleep(std::time::Duration::from_secs(4));
    let ready = notices(&biz_auth, "report.ready");
    let study_reports = ready.iter().filter(|d| d.get("sessionId").is_none()).count();
    assert_eq!(study_reports, 1, "{ready:?}");
    for sid in &sessions {
        assert_eq!(ready.iter().filter(|d| d["sessionId"] == sid.as_str()).count(), 1, "{sid}: {ready:?}");
    }
    for auth in &testers {
        assert_eq!(notices(auth, "findings.ready").len(), 1, "each tester told once");
    }
    let _ = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status();
    let _ = server.child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue #17: two `--role api` nodes and one `--role worker` on one PostgreSQL database and
/// one Redis. Requests spread over both API nodes hold the free plan's limit (120/min)
/// between them within ±5 %; a sign-out on A is refused on B within a second; an analysis
/// queued through A is done by the worker exactly once; killing A loses no acknowledged
/// ingestion (the clients carry on through B). Needs PostgreSQL and Redis (CI has both).
#[test]
fn two_api_nodes_and_a_worker_share_one_system() {
    use serde_json::json;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let (Some(redis), Some(_)) = (crate::multinode::redis_url(), crate::helpers::postgres_admin_url()) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(crate::helpers::TestDb::create(crate::helpers::Backend::Postgres)).unwrap();
    let data_dir = db.data_dir.display().to_string();
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("REDIS_URL", redis.as_str()),
        ("OPENSCOUTER_JWT_SECRET", "multinode-secret-multinode-secret-0123"),
        ("OPENSCOUTER_DATA_DIR", data_dir.as_str()),
        ("OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED", "100000"),
        ("OPENSCOUTER_RATE_LIMIT_INGEST", "10000000"),
        ("OPENSCOUTER_DB_MAX_CONNECTIONS", "8"),
    ];
    // As in docs/deploy.md: migrate once, then start the nodes.
    let out = bin().envs(env.iter().copied()).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut a = start_node("api", &env);
    let mut b = start_node("api", &env);
    let mut worker = start_node("worker", &env);
    let (pa, pb) = (a.port, b.port);
    let Setup { biz_auth, sessions, tokens, testers } = setup(pa, 2);

    // 1. One limit across the pair: a burst spread over both nodes.
    let user = post(
        pb,
        "/api/auth/signup",
        None,
        json!({"email": "limit@example.com", "password": "0123456789", "fullName": "L", "role": "business"}),
    );
    let auth = format!("Bearer {}", user["accessToken"].as_str().unwrap());
    let started = Instant::now();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let auth = auth.clone();
                s.spawn(move || {
                    (0..75)
                        .map(|i| {
                            let port = if (t + i) % 2 == 0 { pa } else { pb };
                            http(port, "GET", "/api/me", Some(&auth), None).unwrap().0
                        })
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(allowed + statuses.iter().filter(|s| **s == 429).count(), 300, "{statuses:?}");
    // The bucket holds 120 and refills at 2/s while the burst runs.
    let expected = 120.0 + 2.0 * elapsed;
    assert!(
        (allowed as f64 - expected).abs() <= 0.05 * 120.0,
        "{allowed} allowed over two nodes in {elapsed:.2} s; expected {expected:.0} ± 6"
    );
    eprintln!("multinode: {allowed}/300 allowed across two nodes in {elapsed:.2} s (limit 120/min)");

    // 2. A sign-out on A is refused on B within a second.
    let user = post(
        pa,
        "/api/auth/signup",
        None,
        json!({"email": "revoke@example.com", "password": "0123456789", "fullName": "R", "role": "business"}),
    );
    let auth = format!("Bearer {}", user["accessToken"].as_str().unwrap());
    for _ in 0..2 {
        assert_eq!(http(pb, "GET", "/api/me", Some(&auth), None).unwrap().0, 200, "B caches the sign-in");
    }
    post(pa, "/api/auth/signout", Some(&auth), json!({}));
    let signed_out = Instant::now();
    while http(pb, "GET", "/api/me", Some(&auth), None).unwrap().0 != 401 {
        assert!(signed_out.elapsed() < Duration::from_secs(1), "B still accepts a signed-out session");
        std::thread::sleep(Duration::from_millis(2));
    }
    eprintln!("multinode: sign-out on A refused on B after {:?}", signed_out.elapsed());

    // 3. An analysis queued through A is done by the worker, once.
    let now = chrono::Utc::now();
    let items: Vec<serde_json::Value> = (0..300)
        .map(|i| {
            let ts = now + chrono::Duration::milliseconds(i * 150);
            let selector = if i % 50 < 4 { "#pay" } else { "#list" };
            json!({"eventType": "click", "targetSelector": selector, "url": "https://x.io/checkout",
                   "timestamp": ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)})
        })
        .collect();
    post(pa, "/api/data/events", Some(&tokens[0]), json!({"sessionId": sessions[0], "batch": items}));
    post(pa, &format!("/api/sessions/{}/complete", sessions[0]), Some(&tokens[0]), json!({}));
    let job = post(pa, &format!("/api/sessions/{}/analyze", sessions[0]), Some(&biz_auth), json!({}))
        ["analysisJobId"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let item = post_get(pb, &format!("/api/analysis-jobs/{job}"), &biz_auth);
        if item["status"] == "complete" {
            break item;
        }
        assert_ne!(item["status"], "failed", "{item}");
        assert!(Instant::now() < deadline, "the worker did not run the job: {item}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(done["attempts"], 1, "run exactly once: {done}");
    let findings = post_get(pb, &format!("/api/sessions/{}/findings", sessions[0]), &testers[0]);
    let ids: Vec<&str> =
        findings.as_array().unwrap().iter().map(|f| f["findingId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), ids.iter().collect::<std::collections::BTreeSet<_>>().len(), "duplicated findings");

    // 4. Kill A while a client ingests through it; the client carries on through B.
    let (sid, token) = (sessions[1].clone(), tokens[1].clone());
    let sid_for_body = sid.clone();
    let batch_body = move |n: usize| {
        let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let items: Vec<serde_json::Value> = (0..200)
            .map(|i| json!({"clientId": format!("b{n}-i{i}"), "eventType": "click", "targetSelector": "#pay", "timestamp": ts}))
            .collect();
        json!({"sessionId": sid_for_body, "batch": items}).to_string()
    };
    let acked: Arc<Mutex<Vec<usize>>> = Arc::default();
    let unacked: Arc<Mutex<Vec<usize>>> = Arc::default();
    let client = {
        let (acked, unacked, token, body) =
            (acked.clone(), unacked.clone(), token.clone(), batch_body.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            loop {
                match http(pa, "POST", "/api/data/events", Some(&token), Some(&body(n))) {
                    Ok((200, _)) => {
                        acked.lock().unwrap().push(n);
                        n += 1;
                    }
                    // The tester's plan allows 120 requests a minute, which a quiet machine
                    // reaches before the kill: wait as `Retry-After` says, and send it again.
                    Ok((429, _)) => std::thread::sleep(Duration::from_secs(1)),
                    _ => {
                        unacked.lock().unwrap().push(n);
                        break;
                    }
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(700));
    a.child.kill().unwrap(); // SIGKILL
    a.child.wait().unwrap();
    client.join().unwrap();
    let (acked, unacked) = (acked.lock().unwrap().clone(), unacked.lock().unwrap().clone());
    assert!(!acked.is_empty(), "the client got batches in before the kill");
    for &n in &unacked {
        let mut tries = 0;
        let (status, text) = loop {
            let (status, text) =
                http(pb, "POST", "/api/data/events", Some(&token), Some(&batch_body(n))).unwrap();
            tries += 1;
            if status != 429 || tries == 5 {
                break (status, text);
            }
            std::thread::sleep(Duration::from_secs(1)); // the shared bucket refills 2 a second
        };
        assert_eq!(status, 200, "{text}");
    }
    let (status, text) =
        http(pb, "GET", &format!("/api/sessions/{sid}/export"), Some(&biz_auth), None).unwrap();
    assert_eq!(status, 200);
    let seen: std::collections::BTreeSet<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["kind"] == "event")
        .map(|r| r["clientId"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(seen.len(), 200 * (acked.len() + unacked.len()), "every acknowledged and retried item, once");
    for n in &acked {
        assert!(seen.contains(&format!("b{n}-i0")) && seen.contains(&format!("b{n}-i199")), "batch {n} lost");
    }
    eprintln!("multinode: A killed after {} acknowledged batches; none lost", acked.len());

    for s in [&mut b, &mut worker] {
        let _ = Command::new("kill").args(["-TERM", &s.child.id().to_string()]).status();
        let _ = s.child.wait();
    }
    drop(rt);
}

/// With Redis and every limit at the largest value configuration accepts, the binary counts in
/// Redis and answers 200 (#34: the emission interval once rounded to 0 µs and every request
/// panicked into a 500).
#[test]
fn ratelimit_largest_limits_with_redis_answer_200() {
    let Some(url) = crate::multinode::redis_url() else { return };
    let dir = std::env::temp_dir().join(format!("openscouter-bin-{}", ulid::Ulid::generate()));
    std::fs::create_dir_all(&dir).unwrap();
    let max = openscouter_server::ratelimit::MAX_PER_MINUTE.to_string();
    let limits = ["UNAUTHENTICATED", "FREE", "PRO", "INGEST", "WEBHOOK"]
        .map(|t| format!("OPENSCOUTER_RATE_LIMIT_{t}"));
    let mut env: Vec<(&str, &str)> = limits.iter().map(|k| (k.as_str(), max.as_str())).collect();
    env.extend([("REDIS_URL", url.as_str()), ("OPENSCOUTER_REDIS_UNAVAILABLE", "closed")]);
    let mut server = start_with(&dir, &env);
    for _ in 0..3 {
        let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        write!(s, "GET /api/openapi.json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let head = out.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.contains(&format!("x-ratelimit-limit: {max}")), "{head}");
    }
    let (status, body) = http(
        server.port,
        "POST",
        "/api/auth/signup",
        None,
        Some(r#"{"email":"max@example.com","password":"0123456789","fullName":"M","role":"business"}"#),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let token = data(&body)["accessToken"].as_str().unwrap().to_owned();
    let (status, body) = http(server.port, "GET", "/api/me", Some(&format!("Bearer {token}")), None).unwrap();
    assert_eq!(status, 200, "{body}");
    // The decisions came from Redis: with the closed fallback an unanswered check is a 429.
    // (Its buckets are gone a millisecond later: 60 µs of debt at this limit.)
    server.child.kill().unwrap();
    let _ = server.child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// One above the largest limit: the binary refuses to start, in one line naming the variable.
#[test]
fn ratelimit_out_of_range_limit_stops_start_up() {
    let too_big = (u64::from(openscouter_server::ratelimit::MAX_PER_MINUTE) + 1).to_string();
    for name in ["OPENSCOUTER_RATE_LIMIT_FREE", "OPENSCOUTER_RATE_LIMIT_INGEST"] {
        let out = bin()
            .args(["serve"])
            .env("OPENSCOUTER_JWT_SECRET", "x".repeat(32)) // no development secret written to ./data
            .env(name, &too_big)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(name) && err.contains("at most 1000000000"), "{err}");
    }
}
