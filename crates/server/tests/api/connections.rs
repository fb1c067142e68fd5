//! The serve loop over real sockets: hyper's own error answers in the envelope, slow heads
//! and idle connections closed, the connection cap (idle connections make room, busy ones
//! turn newcomers away with a 503), and shutdown letting requests in progress finish.
//! These exercise the connection layer only, so they run on SQLite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Backend, TestApp};

/// A bound on every wait, so that a regression fails instead of hanging.
const BOUND: Duration = Duration::from_secs(30);

struct Server {
    port: u16,
    shutdown: CancellationToken,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
    _app: TestApp,
}

async fn start(overrides: &[(&str, &str)]) -> Server {
    let app = TestApp::with(Backend::Sqlite, overrides).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(openscouter_server::serve(
        app.state.clone(),
        listener,
        openscouter_server::Role::Api,
        shutdown.clone(),
    ));
    Server { port, shutdown, handle, _app: app }
}

async fn connect(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port)).await.unwrap()
}

/// Everything the server sends until it closes the connection.
async fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(BOUND, async {
        let mut buf = [0u8; 65536];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server did not close the connection");
    out
}

/// Reads one response whose head ends the read or whose body has `content-length`.
async fn read_response(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(BOUND, async {
        let mut buf = [0u8; 65536];
        loop {
            let text = String::from_utf8_lossy(&out).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_owned))
                    .and_then(|n| n.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= len {
                    return;
                }
            }
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed mid-response: {text}");
            out.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("no response");
    String::from_utf8_lossy(&out).into_owned()
}

/// `(status, lower-cased head, envelope)` of a raw response.
fn parse(raw: &[u8]) -> (u16, String, Value) {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_ascii_lowercase(), serde_json::from_str(body).unwrap_or(Value::Null))
}

fn assert_envelope(raw: &[u8], status: u16, message: &str) {
    let (got, head, body) = parse(raw);
    assert_eq!(got, status, "{}", String::from_utf8_lossy(raw));
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    assert_eq!(body["success"], false);
    assert_eq!(body["data"], Value::Null);
    assert_eq!(body["error"], message);
}

async fn healthz(port: u16) -> u16 {
    let mut s = connect(port).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    parse(&read_to_close(&mut s).await).0
}

async fn stop(server: Server) {
    server.shutdown.cancel();
    tokio::time::timeout(BOUND, server.handle).await.expect("serve did not return").unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_hyper_cannot_parse_get_the_envelope() {
    let server = start(&[]).await;
    let port = server.port;
    let cases: [(Vec<u8>, u16, &str); 4] = [
        (
            [b"GET /".as_slice(), &[b'a'; 100_000], b" HTTP/1.1\r\nHost: x\r\n\r\n"].concat(),
            414,
            "Request URI too long (limit 65534 bytes)",
        ),
        (
            [
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ".as_slice(),
                &[b'a'; 1_000_000],
                b"\r\n\r\n",
            ]
            .concat(),
            431,
            "Request header fields too large",
        ),
        (b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), 400, "Malformed HTTP request"),
        (b"HELLO\r\n\r\n".to_vec(), 400, "Malformed HTTP request"),
    ];
    for (request, status, message) in cases {
        let mut s = connect(port).await;
        // The server may answer and close before it has read all of a huge request.
        let _ = s.write_all(&request).await;
        assert_envelope(&read_to_close(&mut s).await, status, message);
    }
    assert_eq!(healthz(port).await, 200);
    stop(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_get_408_and_idle_connections_are_closed() {
    let server =
        start(&[("OPENSCOUTER_HEADER_READ_TIMEOUT_SECS", "1"), ("OPENSCOUTER_KEEP_ALIVE_TIMEOUT_SECS", "2")])
            .await;
    let port = server.port;
    // slow-loris: a head that never ends
    let mut loris = connect(port).await;
    loris.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n").await.unwrap();
    // a connection that never says anything
    let mut silent = connect(port).await;
    // a keep-alive client: two requests on one connection, then silence
    let mut keep = connect(port).await;
    for _ in 0..2 {
        keep.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let res = read_response(&mut keep).await;
        assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    }
    assert_eq!(healthz(port).await, 200);

    assert_envelope(&read_to_close(&mut loris).await, 408, "Request header timeout");
    assert!(read_to_close(&mut silent).await.is_empty());
    assert!(read_to_close(&mut keep).await.is_empty());
    assert_eq!(healthz(port).await, 200);
    stop(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_idle_connections_make_room() {
    let server =
        start(&[("OPENSCOUTER_MAX_CONNECTIONS", "4"), ("OPENSCOUTER_HEADER_READ_TIMEOUT_SECS", "3600")])
            .await;
    let port = server.port;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(connect(port).await);
    }
    // The cap is reached; a fifth client is still served, in the room the oldest idle made.
    assert_eq!(healthz(port).await, 200);
    let closed = idle.first_mut().unwrap();
    assert!(read_to_close(closed).await.is_empty());
    stop(server).await;
}

/// Sends a request head announcing a body and waits for `100 Continue`: the request is then
/// in the router, reading its body.
async fn request_in_progress(port: u16) -> TcpStream {
    let mut s = connect(port).await;
    s.write_all(
        b"POST /api/auth/signin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    let res = read_response(&mut s).await;
    assert!(res.starts_with("HTTP/1.1 100 Continue"), "{res}");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_connection_is_busy_newcomers_get_503() {
    let server = start(&[("OPENSCOUTER_MAX_CONNECTIONS", "2")]).await;
    let port = server.port;
    let mut busy = vec![request_in_progress(port).await, request_in_progress(port).await];
    let mut newcomer = connect(port).await;
    let raw = read_to_close(&mut newcomer).await;
    assert_envelope(&raw, 503, "Too many connections; retry shortly");
    assert!(parse(&raw).1.contains("retry-after: 1"));
    // the busy requests were not disturbed
    for s in &mut busy {
        s.write_all(b"{}").await.unwrap();
        let res = read_response(s).await;
        assert!(res.starts_with("HTTP/1.1 422"), "{res}");
    }
    drop(busy);
    // room again (the closed connections' slots come back once the server has seen them go)
    let mut status = 0;
    for _ in 0..100 {
        status = healthz(port).await;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200);
    stop(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_connections_and_lets_requests_finish() {
    let server = start(&[]).await;
    let port = server.port;
    let mut busy = request_in_progress(port).await;
    let mut idle = connect(port).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    assert!(read_response(&mut idle).await.starts_with("HTTP/1.1 200"));

    server.shutdown.cancel();
    assert!(read_to_close(&mut idle).await.is_empty());
    // no longer accepting; still serving the request in progress
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    assert!(!server.handle.is_finished());
    busy.write_all(b"{}").await.unwrap();
    let raw = read_to_close(&mut busy).await;
    assert_eq!(parse(&raw).0, 422, "{}", String::from_utf8_lossy(&raw));
    tokio::time::timeout(BOUND, server.handle).await.expect("serve did not return").unwrap().unwrap();
}
