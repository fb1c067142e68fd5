//! Every error path answers with the envelope and the right status; panics leak nothing.

#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::http::Method;
use axum::routing::get;
use serde_json::json;

use crate::both;
use crate::helpers::{Backend, TestApp};

both!(
    framework_errors_use_the_envelope,
    body_errors_are_400_422_413,
    pagination_bounds_are_400,
    panics_are_opaque_500s
);

async fn framework_errors_use_the_envelope(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    // unknown route, inside and outside /api
    assert_eq!(app.get("/api/nope", None).await.assert_error(404), "Not found");
    app.get("/nope", None).await.assert_error(404);
    // wrong method
    assert_eq!(
        app.call(Method::DELETE, "/api/auth/signin", None, &[]).await.assert_error(405),
        "Method not allowed"
    );
    app.call(Method::POST, "/healthz", None, &[]).await.assert_error(405);
    // every response carries the security headers and a request id
    let res = app.get("/api/nope", None).await;
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(res.header("x-frame-options"), Some("DENY"));
    assert_eq!(res.header("permissions-policy"), Some("camera=(), microphone=(), geolocation=()"));
    assert_eq!(res.header("referrer-policy"), Some("strict-origin-when-cross-origin"));
    assert_eq!(res.header("content-security-policy"), Some("default-src 'none'; frame-ancestors 'none'"));
    assert!(res.header("x-request-id").unwrap().starts_with("req_"));
    assert!(res.header("strict-transport-security").is_none());
    // a plain client request id is kept; anything else is replaced
    let res = app.call(Method::GET, "/healthz", None, &[("x-request-id", "client-123.abc")]).await;
    assert_eq!(res.header("x-request-id"), Some("client-123.abc"));
    let res = app.call(Method::GET, "/healthz", None, &[("x-request-id", "evil\" level=ERROR")]).await;
    assert!(res.header("x-request-id").unwrap().starts_with("req_"));
}

async fn body_errors_are_400_422_413(b: Backend) {
    let Some(app) = TestApp::with(b, &[("OPENSCOUTER_MAX_BODY_BYTES", "2048")]).await else { return };
    let raw =
        |body: &str| app.call_from("127.0.0.1", Method::POST, "/api/auth/signup", Some(body.to_owned()), &[]);
    // malformed JSON
    assert!(raw("{\"email\": ").await.assert_error(400).starts_with("Malformed JSON"));
    // wrong types
    let msg = raw(r#"{"email": 5, "password": "0123456789", "fullName": "A", "role": "tester"}"#)
        .await
        .assert_error(400);
    assert!(msg.contains("invalid type"), "{msg}");
    // unknown enum value
    raw(r#"{"email": "a@b.io", "password": "0123456789", "fullName": "A", "role": "king"}"#)
        .await
        .assert_error(400);
    // missing field → 422 naming it
    assert_eq!(
        raw(r#"{"email": "a@b.io", "fullName": "A", "role": "tester"}"#).await.assert_error(422),
        "password: is required"
    );
    // validation → 422 naming the field
    let msg = raw(r#"{"email": "a@b.io", "password": "short", "fullName": "A", "role": "tester"}"#)
        .await
        .assert_error(422);
    assert!(msg.starts_with("password:"), "{msg}");
    let msg =
        raw(r#"{"email": "not-an-email", "password": "0123456789", "fullName": "A", "role": "tester"}"#)
            .await
            .assert_error(422);
    assert!(msg.starts_with("email:"), "{msg}");
    // wrong content type
    let res = app
        .call_from("127.0.0.1", Method::POST, "/api/auth/signin", None, &[("content-type", "text/plain")])
        .await;
    res.assert_error(400);
    // over the body limit
    let big = json!({"email": "a@b.io", "password": "x".repeat(4096), "fullName": "A", "role": "tester"})
        .to_string();
    raw(&big).await.assert_error(413);
    // nothing was written by any of the above
    let res = app.post("/api/auth/signin", json!({"email": "a@b.io", "password": "0123456789"}), None).await;
    res.assert_error(401);
}

async fn pagination_bounds_are_400(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    for q in ["limit=0", "limit=101", "page=0", "page=abc", "limit=-3"] {
        let msg = app.get(&format!("/api/tokens?{q}"), Some(&biz.bearer())).await.assert_error(400);
        assert!(msg.starts_with("page:") || msg.starts_with("limit:"), "{msg}");
    }
    let res = app.get("/api/tokens?page=7&limit=100", Some(&biz.bearer())).await;
    res.ok();
    assert_eq!(res.body["metadata"], json!({"page": 7, "limit": 100, "total": 0}));
}

async fn panics_are_opaque_500s(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let api: Router<_> = Router::new().route(
        "/api/boom",
        get(|| async {
            panic!("secret detail: /etc/passwd SELECT * FROM users");
            #[allow(unreachable_code)]
            ""
        }),
    );
    let router = openscouter_server::http::with_middleware(api, Router::new(), app.state.clone());
    let app = TestApp { router, ..app };
    let res = app.get("/api/boom", None).await;
    assert_eq!(res.assert_error(500), "Internal server error");
    assert!(!res.text.contains("secret"));
    assert!(res.header("x-request-id").is_some());
}
