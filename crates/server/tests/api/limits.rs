//! Rate limits: tiers, headers, Retry-After, trusted proxies, plan changes.

#![allow(clippy::unwrap_used)]

use axum::http::Method;
use serde_json::json;

use crate::both;
use crate::helpers::{Backend, TestApp};

both!(
    unauthenticated_limit_is_per_ip,
    authenticated_tiers_follow_the_plan,
    forwarded_for_only_from_trusted_proxies
);

async fn unauthenticated_limit_is_per_ip(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    for i in 0..30 {
        let res = app.call_from("198.51.100.1", Method::GET, "/api/me", None, &[]).await;
        assert_eq!(res.status.as_u16(), 401, "request {i}");
        assert_eq!(res.header("x-ratelimit-limit"), Some("30"));
        assert_eq!(res.header("x-ratelimit-remaining").unwrap(), (29 - i).to_string());
    }
    let res = app.call_from("198.51.100.1", Method::GET, "/api/me", None, &[]).await;
    assert_eq!(res.assert_error(429), "Rate limit exceeded, retry in 2 s");
    assert_eq!(res.header("retry-after"), Some("2"));
    assert_eq!(res.header("x-ratelimit-remaining"), Some("0"));
    // bad credentials count against the IP too
    app.call_from("198.51.100.1", Method::GET, "/api/me", None, &[("authorization", "Bearer junk")])
        .await
        .assert_error(429);
    // another IP is unaffected; ops endpoints are never limited
    app.call_from("198.51.100.2", Method::GET, "/api/me", None, &[]).await.assert_error(401);
    let res = app.call_from("198.51.100.1", Method::GET, "/healthz", None, &[]).await;
    res.ok();
    assert!(res.header("x-ratelimit-limit").is_none());
    // time heals
    app.clock.advance_ms(2_000);
    app.call_from("198.51.100.1", Method::GET, "/api/me", None, &[]).await.assert_error(401);
}

async fn authenticated_tiers_follow_the_plan(b: Backend) {
    let Some(app) =
        TestApp::with(b, &[("OPENSCOUTER_RATE_LIMIT_FREE", "5"), ("OPENSCOUTER_RATE_LIMIT_PRO", "8")]).await
    else {
        return;
    };
    let biz = app.signup("business").await;
    for _ in 0..5 {
        let res = app.get("/api/me", Some(&biz.bearer())).await;
        assert_eq!(res.header("x-ratelimit-limit"), Some("5"));
        res.ok();
    }
    let res = app.get("/api/me", Some(&biz.bearer())).await;
    res.assert_error(429);
    assert!(res.header("retry-after").is_some());

    // pro plan: a larger bucket, at once (plan is read per request)
    let admin = app.admin().await;
    let org = biz.organization_id.clone().unwrap();
    app.send(
        Method::PATCH,
        &format!("/api/admin/organizations/{org}"),
        Some(json!({"plan": "pro"})),
        &admin.bearer(),
    )
    .await
    .ok();
    let res = app.get("/api/me", Some(&biz.bearer())).await;
    assert_eq!(res.header("x-ratelimit-limit"), Some("8"));
    res.ok();
    // admins are exempt
    for _ in 0..20 {
        let res = app.get("/api/me", Some(&admin.bearer())).await;
        res.ok();
        assert!(res.header("x-ratelimit-limit").is_none());
    }
}

async fn forwarded_for_only_from_trusted_proxies(b: Backend) {
    let Some(app) = TestApp::with(
        b,
        &[("OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED", "2"), ("OPENSCOUTER_TRUSTED_PROXIES", "10.0.0.0/8")],
    )
    .await
    else {
        return;
    };
    async fn via(app: &TestApp, peer: &str, xff: &str) -> crate::helpers::Res {
        app.call_from(peer, Method::GET, "/api/me", None, &[("x-forwarded-for", xff)]).await
    }
    via(&app, "10.1.2.3", "6.6.6.6, 203.0.113.5").await.assert_error(401);
    via(&app, "10.1.2.3", "6.6.6.6, 203.0.113.5").await.assert_error(401);
    via(&app, "10.1.2.3", "7.7.7.7, 203.0.113.5").await.assert_error(429);
    // a different client behind the same proxy has its own bucket
    via(&app, "10.1.2.3", "6.6.6.6, 203.0.113.6").await.assert_error(401);
    // an untrusted peer cannot pick its bucket with the header
    via(&app, "192.0.2.9", "1.1.1.1").await.assert_error(401);
    via(&app, "192.0.2.9", "2.2.2.2").await.assert_error(401);
    via(&app, "192.0.2.9", "3.3.3.3").await.assert_error(429);
}
