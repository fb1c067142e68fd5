//! The official MCP SDK client end to end: `tests/mcp_sdk/e2e.py` (the Python `mcp` package)
//! against the real binary on `127.0.0.1:0` — discovery, dynamic registration, the
//! authorization-code flow with PKCE through the consent page, every tool, in both protocol
//! eras, and the 403 + step-up of a `read`-only token.
//!
//! The client is Python, so a plain `cargo test` without it says why and skips; with
//! `OPENSCOUTER_REQUIRE_MCP=1` (set by `.ci/run`, which installs the pinned `mcp`) a missing
//! client fails the test. `OPENSCOUTER_MCP_PYTHON` picks the interpreter (default `python3`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn python() -> String {
    std::env::var("OPENSCOUTER_MCP_PYTHON").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "python3".into())
}

/// The installed SDK's version, if the interpreter has an `mcp` with the 2.x client API.
fn sdk_version(py: &str) -> Result<String, String> {
    let probe = "import importlib.metadata as m, httpx2, mcp.client.auth, mcp.client.streamable_http; \
                 from mcp.client import Client; print(m.version('mcp'))";
    match Command::new(py).args(["-c", probe]).output() {
        Ok(out) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned()),
        Ok(out) => Err(String::from_utf8_lossy(&out.stderr).trim().lines().last().unwrap_or("").to_owned()),
        Err(e) => Err(format!("cannot run {py}: {e}")),
    }
}

fn kill(child: &mut std::process::Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

#[test]
fn official_python_sdk_client_end_to_end() {
    let required = std::env::var("OPENSCOUTER_REQUIRE_MCP").is_ok_and(|v| v == "1");
    let py = python();
    let version = match sdk_version(&py) {
        Ok(v) => v,
        Err(why) if required => panic!("OPENSCOUTER_REQUIRE_MCP=1 but the MCP SDK client is unusable: {why}"),
        Err(why) => {
            eprintln!(
                "skipped: the official MCP SDK client (Python `mcp` 2.x) is not available ({why}); \
                 `pip install mcp` or run .ci/run, which sets OPENSCOUTER_REQUIRE_MCP=1"
            );
            return;
        }
    };
    eprintln!("MCP SDK client: Python mcp {version}");

    let dir = std::env::temp_dir().join(format!("openscouter-mcp-sdk-{}", ulid::Ulid::generate()));
    std::fs::create_dir_all(&dir).unwrap();
    let server_log = dir.join("server.log");
    let mut server = Command::new(env!("CARGO_BIN_EXE_openscouter"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", format!("sqlite://{}/db.sqlite", dir.display()))
        .env("OPENSCOUTER_DATA_DIR", dir.display().to_string())
        .env("OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED", "10000")
        .env("OPENSCOUTER_RATE_LIMIT_FREE", "100000")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&server_log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().rsplit(':').next().unwrap().parse().expect(&line);

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_sdk/e2e.py");
    let out_path = dir.join("client.out");
    let mut client = Command::new(&py)
        .args([script, &format!("http://127.0.0.1:{port}")])
        .env("PYTHONUNBUFFERED", "1")
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = client.try_wait().unwrap() {
            break Some(s);
        }
        if started.elapsed() > Duration::from_secs(240) {
            kill(&mut client);
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    if let Some(mut e) = client.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    kill(&mut server);
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    eprintln!("{stdout}");
    if status.is_none_or(|s| !s.success()) {
        let log = std::fs::read_to_string(&server_log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        panic!(
            "the SDK client failed ({status:?}).\n--- client stderr ---\n{stderr}\n--- server log (last lines) ---\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    assert!(stdout.contains("[e2e] OK"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}
