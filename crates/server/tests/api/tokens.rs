//! API tokens: shown once, hashed, scoped, revocable, tenant-scoped; role checks.

#![allow(clippy::unwrap_used)]

use axum::http::Method;
use serde_json::json;

use crate::both;
use crate::helpers::{Backend, TestApp};

both!(tokens_are_shown_once_scoped_and_revocable, roles_and_tenancy);

async fn tokens_are_shown_once_scoped_and_revocable(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    let res =
        app.post("/api/tokens", json!({"name": "CI", "scopes": ["read", "read"]}), Some(&biz.bearer())).await;
    let created = res.ok().clone();
    let plaintext = created["token"].as_str().unwrap().to_owned();
    let id = created["tokenId"].as_str().unwrap().to_owned();
    assert!(plaintext.starts_with("ost_"));
    assert!(id.starts_with("tok_"));
    assert_eq!(created["scopes"], json!(["read"]));
    assert_eq!(created["prefix"], json!(plaintext[..10]));
    assert_eq!(created["expiresAt"], json!(null));

    // the list never shows the secret
    let list = app.get("/api/tokens", Some(&biz.bearer())).await;
    assert_eq!(list.body["metadata"]["total"], 1);
    assert!(!list.text.contains(&plaintext));
    assert!(list.ok()[0].get("token").is_none());

    // the token authenticates, with its scopes
    let tok = format!("Token {plaintext}");
    let me = app.get("/api/me", Some(&tok)).await;
    assert_eq!(me.ok()["authMethod"], "token");
    assert_eq!(me.ok()["scopes"], json!(["read"]));
    assert_eq!(me.ok()["user"]["userId"], json!(biz.user_id));
    // read-only token cannot write
    let res = app.send(Method::PATCH, "/api/me", Some(json!({"fullName": "X"})), &tok).await;
    res.assert_error(403);
    // tokens cannot mint tokens
    app.post("/api/tokens", json!({"name": "x", "scopes": ["read"]}), Some(&tok)).await.assert_error(403);

    // revoke → 401 at once
    let res = app.send(Method::DELETE, &format!("/api/tokens/{id}"), None, &biz.bearer()).await;
    assert!(res.ok()["revokedAt"].is_string());
    app.get("/api/me", Some(&tok)).await.assert_error(401);
    app.get("/api/me", Some("Token ost_not-a-real-token")).await.assert_error(401);

    // validation
    let res = app.post("/api/tokens", json!({"name": "x", "scopes": []}), Some(&biz.bearer())).await;
    assert!(res.assert_error(422).starts_with("scopes:"));
    app.post("/api/tokens", json!({"name": "x", "scopes": ["sudo"]}), Some(&biz.bearer()))
        .await
        .assert_error(400);
    let res = app
        .post(
            "/api/tokens",
            json!({"name": "x", "scopes": ["read"], "expiresInDays": 0}),
            Some(&biz.bearer()),
        )
        .await;
    assert!(res.assert_error(422).starts_with("expiresInDays"));
    // admin scope only for admins
    app.post("/api/tokens", json!({"name": "x", "scopes": ["admin"]}), Some(&biz.bearer()))
        .await
        .assert_error(403);

    // expiry
    let res = app
        .post(
            "/api/tokens",
            json!({"name": "short", "scopes": ["read"], "expiresInDays": 1}),
            Some(&biz.bearer()),
        )
        .await;
    let short = format!("Token {}", res.ok()["token"].as_str().unwrap());
    app.get("/api/me", Some(&short)).await.ok();
    app.clock.advance_ms(24 * 3600 * 1000 + 1);
    app.get("/api/me", Some(&short)).await.assert_error(401);
}

async fn roles_and_tenancy(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let tester = app.signup("tester").await;
    let acme = app.signup("business").await;
    let globex = app.signup("business").await;

    // wrong role → 403
    app.post("/api/tokens", json!({"name": "x", "scopes": ["read"]}), Some(&tester.bearer()))
        .await
        .assert_error(403);
    app.get("/api/tokens", Some(&tester.bearer())).await.assert_error(403);
    let org = acme.organization_id.clone().unwrap();
    app.send(
        Method::PATCH,
        &format!("/api/admin/organizations/{org}"),
        Some(json!({"plan": "pro"})),
        &acme.bearer(),
    )
    .await
    .assert_error(403);
    app.get("/api/admin/audit-log", Some(&acme.bearer())).await.assert_error(403);

    // another organization's token → 404, and it stays valid
    let res =
        app.post("/api/tokens", json!({"name": "acme", "scopes": ["read"]}), Some(&acme.bearer())).await;
    let id = res.ok()["tokenId"].as_str().unwrap().to_owned();
    let plaintext = res.ok()["token"].as_str().unwrap().to_owned();
    let res = app.send(Method::DELETE, &format!("/api/tokens/{id}"), None, &globex.bearer()).await;
    assert_eq!(res.assert_error(404), "Token not found");
    assert_eq!(app.get("/api/tokens", Some(&globex.bearer())).await.body["metadata"]["total"], 0);
    app.get("/api/me", Some(&format!("Token {plaintext}"))).await.ok();

    // admin changes a plan: audited, 404 for unknown organizations
    let admin = app.admin().await;
    let res = app
        .send(
            Method::PATCH,
            &format!("/api/admin/organizations/{org}"),
            Some(json!({"plan": "pro"})),
            &admin.bearer(),
        )
        .await;
    assert_eq!(res.ok()["plan"], "pro");
    app.send(
        Method::PATCH,
        "/api/admin/organizations/org_nope",
        Some(json!({"plan": "pro"})),
        &admin.bearer(),
    )
    .await
    .assert_error(404);
    app.send(
        Method::PATCH,
        &format!("/api/admin/organizations/{org}"),
        Some(json!({"plan": "gold"})),
        &admin.bearer(),
    )
    .await
    .assert_error(400);
    let log = app.get("/api/admin/audit-log", Some(&admin.bearer())).await;
    assert_eq!(log.body["metadata"]["total"], 1);
    let entry = &log.ok()[0];
    assert_eq!(entry["action"], "organization.plan_changed");
    assert_eq!(entry["actorId"], json!(admin.user_id));
    assert_eq!(entry["targetId"], json!(org));
    assert_eq!(entry["details"], json!({"plan": "pro", "before": "free", "after": "pro"}));
    assert!(entry["requestId"].as_str().is_some_and(|r| r.starts_with("req_")), "{entry}");
}
