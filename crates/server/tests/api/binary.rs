//! The real binary: `serve --listen 127.0.0.1:0` prints its port, serves, and exits cleanly on
//! SIGTERM after finishing in-flight requests; bad configuration stops start-up with one line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

fn bin() -> Command {
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
