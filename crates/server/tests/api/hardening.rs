//! Hostile input at the edge (issue #10): body limits decided from `Content-Length` before
//! reading, limit messages in their unit, the envelope on timeouts, trailing bytes, NUL
//! characters in any JSON body, the int32 page range, metrics labels from a closed set, a
//! bounded password hashing pool, and the refresh-token grace for double submits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::both;
use crate::helpers::{Backend, Res, TestApp};

both!(
    declared_length_over_the_limit_is_413_at_once,
    limit_messages_name_the_limit_in_its_unit,
    request_timeout_is_408_in_the_envelope,
    trailing_bytes_are_malformed_json,
    nul_characters_are_refused_naming_the_field,
    page_is_an_int32,
    metrics_labels_are_a_closed_set,
    password_hashing_is_bounded,
    parallel_refreshes_share_one_rotation,
    refresh_reuse_is_strict_without_grace
);

/// Sends `req` through the real router from 127.0.0.1.
async fn send(app: &TestApp, mut req: Request<Body>) -> Res {
    let addr: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
    req.extensions_mut().insert(axum::extract::ConnectInfo(addr));
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Res { status, headers, body, text }
}

/// A body that never sends a byte: only an answer that does not read it can come back.
fn silent_body() -> Body {
    Body::from_stream(futures_util::stream::pending::<Result<Bytes, Infallible>>())
}

fn post_raw(path: &str, auth: Option<&str>, length: Option<usize>, body: Body) -> Request<Body> {
    let mut b = Request::builder().method(Method::POST).uri(path).header("content-type", "application/json");
    if let Some(n) = length {
        b = b.header("content-length", n.to_string());
    }
    if let Some(a) = auth {
        b = b.header("authorization", a);
    }
    b.body(body).unwrap()
}

async fn declared_length_over_the_limit_is_413_at_once(b: Backend) {
    // A long request timeout: were the body awaited, the test would hang instead of passing.
    let Some(app) = TestApp::with(b, &[("OPENSCOUTER_REQUEST_TIMEOUT_SECS", "3600")]).await else { return };
    let biz = app.signup("business").await;
    let res = send(&app, post_raw("/api/jobs", Some(&biz.bearer()), Some(5_000_000), silent_body())).await;
    assert_eq!(res.assert_error(413), "Request body too large (limit 1 MiB)");
    // without credentials too, and on a route that takes no body
    let res = send(&app, post_raw("/api/auth/signin", None, Some(1_048_577), silent_body())).await;
    assert_eq!(res.assert_error(413), "Request body too large (limit 1 MiB)");
    // ingestion has its own limit
    let res = send(&app, post_raw("/api/data/events", None, Some(2 * 1_048_576 + 1), silent_body())).await;
    assert_eq!(res.assert_error(413), "Request body too large (limit 2 MiB)");
    // exactly at the limit is read (and here refused for what it says, not its size)
    let body = format!("{{\"email\": \"{}\"}}", "a".repeat(1_048_576 - 13));
    assert_eq!(body.len(), 1_048_576);
    let res = send(&app, post_raw("/api/auth/signin", None, Some(body.len()), Body::from(body))).await;
    res.assert_error(422);
}

async fn limit_messages_name_the_limit_in_its_unit(b: Backend) {
    let Some(app) = TestApp::with(b, &[("OPENSCOUTER_MAX_BODY_BYTES", "2048")]).await else { return };
    // a chunked body (no Content-Length) is cut at the limit, with the same message
    let chunks: Vec<Result<Bytes, Infallible>> = (0..4).map(|_| Ok(Bytes::from(vec![b' '; 1024]))).collect();
    let res = send(
        &app,
        post_raw("/api/auth/signup", None, None, Body::from_stream(futures_util::stream::iter(chunks))),
    )
    .await;
    assert_eq!(res.assert_error(413), "Request body too large (limit 2 KiB)");
    let big = json!({"email": "a@b.io", "password": "x".repeat(4096), "fullName": "A", "role": "tester"});
    let res = app.post("/api/auth/signup", big, None).await;
    assert_eq!(res.assert_error(413), "Request body too large (limit 2 KiB)");

    // batches: the item count, not the bytes
    let live = app.live_session().await;
    let items: Vec<Value> = (0..1001)
        .map(|i| json!({"eventType": "click", "targetSelector": "#a", "timestamp": app.at(i)}))
        .collect();
    let res =
        app.post("/api/data/events", json!({"sessionId": live.sid, "batch": items}), Some(&live.tt)).await;
    assert_eq!(res.assert_error(413), "batch: at most 1000 items");
}

async fn request_timeout_is_408_in_the_envelope(b: Backend) {
    let Some(app) = TestApp::with(b, &[("OPENSCOUTER_REQUEST_TIMEOUT_SECS", "1")]).await else { return };
    // the declared body is within the limit but never comes
    let res = send(&app, post_raw("/api/auth/signin", None, Some(100), silent_body())).await;
    assert_eq!(res.assert_error(408), "Request timed out");
    assert!(res.header("x-request-id").is_some());
}

async fn trailing_bytes_are_malformed_json(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    let auth = biz.bearer();
    let h = [("authorization", auth.as_str())];
    for body in ["{}x", "{} {}", "{\"title\": \"x\"} ]", "[] 1"] {
        let res = app.call_from("127.0.0.1", Method::POST, "/api/jobs", Some(body.to_owned()), &h).await;
        let msg = res.assert_error(400);
        assert!(msg.starts_with("Malformed JSON"), "{body}: {msg}");
    }
    // whitespace after the document is fine; a missing field is still a 422
    let res = app.call_from("127.0.0.1", Method::POST, "/api/jobs", Some("{}\n \t".to_owned()), &h).await;
    assert!(res.assert_error(422).ends_with("is required"), "{}", res.text);
}

async fn nul_characters_are_refused_naming_the_field(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let nul = "a\u{0}b";
    let res = app
        .post(
            "/api/auth/signup",
            json!({"email": "n@x.io", "password": "0123456789", "fullName": nul, "role": "tester"}),
            None,
        )
        .await;
    assert_eq!(res.assert_error(422), "fullName: must not contain the NUL character (U+0000)");
    // nothing was created
    app.post("/api/auth/signin", json!({"email": "n@x.io", "password": "0123456789"}), None)
        .await
        .assert_error(401);

    let live = app.live_session().await;
    let biz = live.biz.bearer();
    let mut study = crate::helpers::study_body();
    study["tasks"][1]["description"] = json!(nul);
    let res = app.post("/api/jobs", study, Some(&biz)).await;
    assert_eq!(res.assert_error(422), "tasks[1].description: must not contain the NUL character (U+0000)");
    let mut study = crate::helpers::study_body();
    study["title"] = json!("Title \u{0}");
    assert!(app.post("/api/jobs", study, Some(&biz)).await.assert_error(422).starts_with("title: "));
    let res = app.post("/api/tokens", json!({"name": nul, "scopes": ["read"]}), Some(&biz)).await;
    assert!(res.assert_error(422).starts_with("name: must not contain"), "{}", res.text);
    let res =
        app.post(&format!("/api/sessions/{}/notes", live.sid), json!({"text": nul}), Some(&live.tt)).await;
    assert!(res.assert_error(422).starts_with("text: must not contain"), "{}", res.text);
    let res = app.send(Method::PATCH, "/api/me", Some(json!({"fullName": nul})), &live.tester.bearer()).await;
    assert!(res.assert_error(422).starts_with("fullName: must not contain"), "{}", res.text);
    // in a key too
    let res =
        app.post("/api/tokens", json!({"name": "ok", "scopes": ["read"], "x\u{0}": 1}), Some(&biz)).await;
    res.assert_error(422);

    // ingestion: the batch is refused, nothing stored
    let batch = json!([
        {"clientId": "ok", "eventType": "click", "targetSelector": "#ok", "timestamp": app.at(0)},
        {"clientId": "bad", "eventType": "click", "targetSelector": "#a\u{0}", "timestamp": app.at(1)},
    ]);
    let res =
        app.post("/api/data/events", json!({"sessionId": live.sid, "batch": batch}), Some(&live.tt)).await;
    assert_eq!(res.assert_error(422), "batch[1].targetSelector: must not contain the NUL character (U+0000)");
    // the text `\u0000` (an escaped backslash, then "u0000") is ordinary text
    let batch = json!([{"clientId": "lit", "eventType": "click", "targetSelector": "#x\\u0000", "timestamp": app.at(2)}]);
    let res =
        app.post("/api/data/events", json!({"sessionId": live.sid, "batch": batch}), Some(&live.tt)).await;
    assert_eq!(res.ok()["accepted"], 1, "{}", res.text);
    let res = app.get(&format!("/api/sessions/{}/export?format=csv", live.sid), Some(&biz)).await;
    assert_eq!(res.status.as_u16(), 200);
    assert!(res.text.contains("#x\\u0000"), "{}", res.text);
    assert!(!res.text.as_bytes().contains(&0), "raw NUL in the CSV export");
    assert_eq!(res.text.lines().count(), 2, "{}", res.text);
}

async fn page_is_an_int32(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    for q in ["page=2147483648", "page=4294967295", "page=4294967296", "limit=4294967297", "page=-1"] {
        let msg = app.get(&format!("/api/tokens?{q}"), Some(&biz.bearer())).await.assert_error(400);
        let name = q.split('=').next().unwrap();
        assert!(msg.starts_with(&format!("{name}:")), "{q}: {msg}");
    }
    let msg = app.get("/api/jobs?page=4294967295", Some(&biz.bearer())).await.assert_error(400);
    assert_eq!(msg, "page: must be an integer from 1 to 2147483647, got \"4294967295\"");
    let res = app.get("/api/tokens?page=2147483647", Some(&biz.bearer())).await;
    res.ok();
    assert_eq!(res.body["metadata"], json!({"page": 2147483647, "limit": 20, "total": 0}));
}

async fn metrics_labels_are_a_closed_set(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let made_up: Vec<String> = (0..20).map(|i| format!("ZQ{i}{}", ulid::Ulid::generate())).collect();
    for m in &made_up {
        let method = Method::from_bytes(m.as_bytes()).unwrap();
        let res = app.call(method.clone(), "/healthz", None, &[]).await;
        res.assert_error(405);
        app.call(method, &format!("/no/such/{m}"), None, &[]).await.assert_error(404);
    }
    let metrics = app.get("/metrics", None).await.text;
    for m in &made_up {
        assert!(!metrics.contains(m.as_str()), "{m} became a label");
    }
    assert!(metrics.contains(r#"method="other",route="/healthz",status="405""#), "{metrics}");
    assert!(metrics.contains(r#"method="other",route="other",status="404""#), "{metrics}");
}

/// One hashing thread, one waiting slot, the real Argon2 cost: forty simultaneous sign-ins
/// cannot all fit, and those that don't get a 503 with Retry-After in the envelope.
async fn password_hashing_is_bounded(b: Backend) {
    use openscouter_server::auth::password::PasswordCost;
    let Some(db) = crate::helpers::TestDb::create(b).await else { return };
    let mut config = crate::helpers::test_config(
        &db,
        &[
            ("OPENSCOUTER_PASSWORD_HASH_WORKERS", "1"),
            ("OPENSCOUTER_PASSWORD_HASH_QUEUE", "1"),
            ("OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED", "100000"),
        ],
    );
    config.password_cost = PasswordCost::default();
    let clock = openscouter_server::clock::ManualClock::new(1_795_000_000_000);
    let state = openscouter_server::build_state(config, std::sync::Arc::new(clock.clone())).await.unwrap();
    let router = openscouter_server::http::router(state.clone());
    let app = TestApp { router, state, clock, backend: b, db };

    let attempts = (0..40).map(|i| {
        app.post(
            "/api/auth/signin",
            json!({"email": format!("nobody{i}@x.io"), "password": "wrong password"}),
            None,
        )
    });
    let results = futures_util::future::join_all(attempts).await;
    let mut busy = 0;
    for res in &results {
        match res.status.as_u16() {
            401 => assert_eq!(res.assert_error(401), "Invalid email or password"),
            503 => {
                assert_eq!(res.assert_error(503), "Server busy, retry in 1 s");
                assert_eq!(res.header("retry-after"), Some("1"));
                busy += 1;
            }
            other => panic!("unexpected {other}: {}", res.text),
        }
    }
    assert!(busy > 0, "forty simultaneous hashes fitted in one thread and one slot");
    assert!(busy < 40, "none was served");
    // the pool recovers
    app.post("/api/auth/signin", json!({"email": "nobody@x.io", "password": "wrong password"}), None)
        .await
        .assert_error(401);
}

async fn refresh(app: &TestApp, token: &str) -> Res {
    app.post("/api/auth/refresh", json!({"refreshToken": token}), None).await
}

/// Ten simultaneous refreshes of one token (a double-submitting client) share one rotation;
/// the sign-in survives. Reuse outside that narrow case still revokes the family.
async fn parallel_refreshes_share_one_rotation(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let a = app.signup("business").await;
    let results = futures_util::future::join_all((0..10).map(|_| refresh(&app, &a.refresh))).await;
    let pairs: std::collections::BTreeSet<(String, String)> = results
        .iter()
        .map(|r| {
            let d = r.ok();
            (d["refreshToken"].as_str().unwrap().to_owned(), d["accessToken"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(pairs.len(), 1, "one rotation, one pair for all: {pairs:?}");
    let (r1, access1) = pairs.into_iter().next().unwrap();
    app.get("/api/me", Some(&format!("Bearer {access1}"))).await.ok();
    // a retry within the grace (the response was lost) gets the same pair
    app.clock.advance_ms(5_000);
    assert_eq!(refresh(&app, &a.refresh).await.ok()["refreshToken"], json!(r1));
    // the pair works: its refresh token rotates normally
    let r2 = refresh(&app, &r1).await.ok()["refreshToken"].as_str().unwrap().to_owned();
    // once its successor is used, the old token is plain reuse, grace or not
    let reuse = refresh(&app, &a.refresh).await;
    assert!(reuse.assert_error(401).contains("reuse"), "{}", reuse.text);
    refresh(&app, &r2).await.assert_error(401);
    app.get("/api/me", Some(&format!("Bearer {access1}"))).await.assert_error(401);

    // after the grace, a replay is reuse
    let t = app.signup("tester").await;
    let t1 = refresh(&app, &t.refresh).await.ok()["refreshToken"].as_str().unwrap().to_owned();
    app.clock.advance_ms(10_001);
    assert!(refresh(&app, &t.refresh).await.assert_error(401).contains("reuse"));
    refresh(&app, &t1).await.assert_error(401);

    // a signed-out sign-in is not revived by a replay within the grace
    let c = app.signup("tester").await;
    let pair = refresh(&app, &c.refresh).await.ok().clone();
    let bearer = format!("Bearer {}", pair["accessToken"].as_str().unwrap());
    app.post("/api/auth/signout", json!({}), Some(&bearer)).await.ok();
    refresh(&app, &c.refresh).await.assert_error(401);
}

async fn refresh_reuse_is_strict_without_grace(b: Backend) {
    let Some(app) = TestApp::with(b, &[("OPENSCOUTER_REFRESH_REUSE_GRACE_SECS", "0")]).await else { return };
    let a = app.signup("business").await;
    let results = futures_util::future::join_all((0..2).map(|_| refresh(&app, &a.refresh))).await;
    let ok: Vec<&Res> = results.iter().filter(|r| r.status.as_u16() == 200).collect();
    assert_eq!(ok.len(), 1, "{results:?}");
    let loser = results.iter().find(|r| r.status.as_u16() != 200).unwrap();
    assert!(loser.assert_error(401).contains("reuse"));
    // strict: the winner's pair went with the family
    refresh(&app, ok[0].ok()["refreshToken"].as_str().unwrap()).await.assert_error(401);
}
