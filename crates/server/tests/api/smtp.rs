//! Mail through a real SMTP server: Python's `aiosmtpd` (`tests/smtp/server.py`) receives what
//! the `send_mail` queue item sends with `lettre`. A password reset end to end — request, mail
//! received, link followed in the dashboard, new password works, old refresh tokens refused —
//! and a dead SMTP server that loses no mail (the item is retried).
//!
//! The server is Python, so a plain `cargo test` without `aiosmtpd` says why and skips; with
//! `OPENSCOUTER_REQUIRE_SMTP=1` (set by `.ci/run`, which installs the pinned package) it fails
//! instead. `OPENSCOUTER_SMTP_PYTHON` picks the interpreter (default `python3`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::both;
use crate::dashboard::{csrf, form, page};
use crate::helpers::{Backend, PASSWORD, TestApp};
use crate::recovery::{link_token, mail_text};

both!(password_reset_through_a_real_smtp_server, a_dead_smtp_server_loses_no_mail);

fn python() -> String {
    std::env::var("OPENSCOUTER_SMTP_PYTHON")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "python3".into())
}

/// Whether the SMTP server can run; `None` (after saying why) when the test should skip.
fn usable() -> Option<String> {
    let py = python();
    let ok = Command::new(&py).args(["-c", "import aiosmtpd"]).output().is_ok_and(|o| o.status.success());
    if ok {
        return Some(py);
    }
    if std::env::var("OPENSCOUTER_REQUIRE_SMTP").is_ok_and(|v| v == "1") {
        panic!("OPENSCOUTER_REQUIRE_SMTP=1 but {py} cannot import aiosmtpd");
    }
    eprintln!(
        "skipped: {py} has no aiosmtpd (`pip install aiosmtpd`, or run .ci/run, which sets OPENSCOUTER_REQUIRE_SMTP=1)"
    );
    None
}

/// A running aiosmtpd writing into its own folder; stopped when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl SmtpServer {
    fn start(py: &str, port: Option<u16>) -> Self {
        let dir = std::env::temp_dir().join(format!("openscouter-smtp-{}", ulid::Ulid::generate()));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/server.py");
        let mut args = vec![script.to_owned(), dir.display().to_string()];
        if let Some(p) = port {
            args.push(p.to_string());
        }
        let mut child = Command::new(py)
            .args(&args)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port: u16 = line.trim().strip_prefix("ready ").expect(&line).parse().unwrap();
        Self { child, port, dir }
    }

    /// The received mails, waiting up to 10 s for `n` of them.
    fn received(&self, n: usize) -> Vec<String> {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
                .map(|d| {
                    d.filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            if files.len() >= n || Instant::now() > until {
                return files.into_iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        // Closing its stdin stops it.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn app_with_smtp(b: Backend, port: u16) -> Option<TestApp> {
    let url = format!("smtp://127.0.0.1:{port}");
    TestApp::with(
        b,
        &[
            ("OPENSCOUTER_SMTP_URL", url.as_str()),
            ("OPENSCOUTER_MAIL_FROM", "OpenScouter <no-reply@openscouter.test>"),
            ("OPENSCOUTER_PUBLIC_URL", "https://openscouter.test"),
            ("OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED", "1000"),
        ],
    )
    .await
}

async fn password_reset_through_a_real_smtp_server(b: Backend) {
    let Some(py) = usable() else { return };
    let smtp = SmtpServer::start(&py, None);
    let Some(app) = app_with_smtp(b, smtp.port).await else { return };
    let ada = app.signup("business").await;
    let res = app.post("/api/auth/password-reset/request", json!({"email": ada.email}), None).await;
    assert_eq!(res.status, 202);
    app.drain_jobs().await;
    let mails = smtp.received(1);
    assert_eq!(mails.len(), 1);
    let raw = &mails[0];
    assert!(raw.contains(&format!("X-Envelope-To: {}", ada.email)), "{raw}");
    assert!(raw.contains("From: OpenScouter <no-reply@openscouter.test>"));
    assert!(raw.contains("multipart/alternative") && raw.contains("text/plain") && raw.contains("text/html"));
    assert!(
        !app.state.config.data_dir.join("outbox").exists(),
        "with SMTP configured nothing goes to the outbox"
    );
    let text = mail_text(raw);
    let token = link_token(&text, "/app/reset-password").expect("a reset link");
    assert!(text.contains(&format!("https://openscouter.test/app/reset-password?token={token}")));

    // Follow the link in the dashboard, as the person would.
    let path = format!("/app/reset-password?token={token}");
    let res = page(&app, &path, "").await;
    assert_eq!(res.status, 200, "{}", res.text);
    let cookie = res.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let body = format!("csrf={}&token={token}&password=a+brand+new+passphrase", csrf(&res));
    let res = form(&app, "/app/reset-password", &cookie, &body).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert!(res.text.contains("Password changed"));

    let res = app
        .post("/api/auth/signin", json!({"email": ada.email, "password": "a brand new passphrase"}), None)
        .await;
    res.ok();
    app.post("/api/auth/signin", json!({"email": ada.email, "password": PASSWORD}), None)
        .await
        .assert_error(401);
    app.post("/api/auth/refresh", json!({"refreshToken": ada.refresh}), None).await.assert_error(401);
}

async fn a_dead_smtp_server_loses_no_mail(b: Backend) {
    let Some(py) = usable() else { return };
    // A port nothing listens on yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let Some(app) = app_with_smtp(b, port).await else { return };
    let ada = app.signup("tester").await;
    app.post("/api/auth/password-reset/request", json!({"email": ada.email}), None).await;
    assert_eq!(app.drain_jobs().await, 1, "the send ran once and failed");
    let smtp = SmtpServer::start(&py, Some(port));
    app.clock.advance_ms(10_000);
    assert_eq!(app.drain_jobs().await, 1, "retried after its backoff");
    let mails = smtp.received(1);
    assert_eq!(mails.len(), 1);
    assert!(link_token(&mail_text(&mails[0]), "/app/reset-password").is_some());
}
