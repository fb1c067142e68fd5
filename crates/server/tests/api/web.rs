//! CORS, security headers, and the operations endpoints (readiness, metrics, OpenAPI, docs).

#![allow(clippy::unwrap_used)]

use axum::http::Method;

use crate::both;
use crate::helpers::{Backend, TestApp};

both!(cors_in_production, cors_localhost_only_in_development, ops_endpoints);

fn preflight(origin: &str) -> [(&str, &str); 2] {
    [("origin", origin), ("access-control-request-method", "POST")]
}

async fn cors_in_production(b: Backend) {
    let Some(app) = TestApp::with(
        b,
        &[
            ("OPENSCOUTER_ENV", "production"),
            ("OPENSCOUTER_HSTS", "true"),
            ("OPENSCOUTER_PUBLIC_URL", "https://openscouter.com"),
        ],
    )
    .await
    else {
        return;
    };
    for origin in ["https://openscouter.com", "https://app.openscouter.com"] {
        let res = app.call(Method::OPTIONS, "/api/auth/signin", None, &preflight(origin)).await;
        assert_eq!(res.status.as_u16(), 200, "{origin}");
        assert_eq!(res.header("access-control-allow-origin"), Some(origin));
        assert!(res.header("access-control-allow-methods").unwrap().contains("POST"));
        let res = app.call(Method::GET, "/healthz", None, &[("origin", origin)]).await;
        assert_eq!(res.header("access-control-allow-origin"), Some(origin));
    }
    for origin in [
        "https://evil.com",
        "https://openscouter.com.evil.com",
        "http://app.openscouter.com",
        "http://localhost:3000",
    ] {
        let res = app.call(Method::OPTIONS, "/api/auth/signin", None, &preflight(origin)).await;
        assert_eq!(res.assert_error(403), "Origin not allowed");
        assert!(res.header("access-control-allow-origin").is_none(), "{origin}");
        let res = app.call(Method::GET, "/healthz", None, &[("origin", origin)]).await;
        assert!(res.header("access-control-allow-origin").is_none(), "{origin}");
    }
    let res = app.get("/healthz", None).await;
    assert_eq!(res.header("strict-transport-security"), Some("max-age=63072000; includeSubDomains"));
}

async fn cors_localhost_only_in_development(b: Backend) {
    let Some(app) = TestApp::with(b, &[("OPENSCOUTER_CORS_ORIGINS", "https://*.example.org")]).await else {
        return;
    };
    let res = app.call(Method::OPTIONS, "/api/me", None, &preflight("http://localhost:5173")).await;
    assert_eq!(res.header("access-control-allow-origin"), Some("http://localhost:5173"));
    let res = app.call(Method::OPTIONS, "/api/me", None, &preflight("https://labs.example.org")).await;
    assert_eq!(res.header("access-control-allow-origin"), Some("https://labs.example.org"));
    // configured origins replace the defaults
    let res = app.call(Method::OPTIONS, "/api/me", None, &preflight("https://app.openscouter.com")).await;
    res.assert_error(403);
}

async fn ops_endpoints(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.ok()["status"], "ready");
    assert_eq!(ready.ok()["store"], if b == Backend::Sqlite { "sqlite" } else { "postgres" });

    app.get("/api/nope", None).await;
    let metrics = app.get("/metrics", None).await;
    assert_eq!(metrics.status.as_u16(), 200);
    assert!(metrics.text.contains("http_requests_total"), "{}", metrics.text);
    assert!(metrics.text.contains("http_request_duration_seconds_bucket"));
    assert!(metrics.text.contains(r#"route="/readyz""#));

    let doc = app.get("/api/openapi.json", None).await;
    assert_eq!(doc.status.as_u16(), 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/auth/signup",
        "/api/me",
        "/api/tokens",
        "/api/tokens/{id}",
        "/api/admin/organizations/{id}",
        "/healthz",
    ] {
        assert!(doc.body["paths"].get(path).is_some(), "{path} missing from OpenAPI");
    }
    // the committed document is the generated one
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json")).unwrap();
    assert_eq!(
        committed.trim(),
        openscouter_server::http::openapi_json().trim(),
        "openapi.json is stale: run `cargo run -- openapi > openapi.json`"
    );

    let docs = app.get("/api/docs", None).await;
    assert_eq!(docs.status.as_u16(), 200);
    assert!(docs.header("content-type").unwrap().starts_with("text/html"));
    assert!(docs.text.contains("/api/auth/signup"));
    assert!(!docs.text.contains("<script"), "the docs page must work offline, without scripts");
    assert!(!docs.text.contains("https://"), "the docs page must not load external assets");
}
