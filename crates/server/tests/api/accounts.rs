//! Sign-up, sign-in, refresh rotation and reuse detection, sign-out, JWT verification, /api/me.

#![allow(clippy::unwrap_used)]

use axum::http::Method;
use base64::Engine;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, PASSWORD, TestApp};

both!(
    signup_creates_user_and_organization,
    signup_rejects_duplicates_case_insensitively,
    signin_has_one_error_for_both_failures,
    refresh_rotates_and_reuse_revokes_the_family,
    signout_ends_refresh_and_access_tokens,
    bad_jwts_are_401,
    me_reads_and_patches_profile,
);

async fn signup_creates_user_and_organization(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let res = app
        .post(
            "/api/auth/signup",
            json!({"email": " Grace@Example.COM ", "password": PASSWORD, "fullName": "Grace Hopper", "role": "business", "organizationName": "Navy Labs"}),
            None,
        )
        .await;
    let data = res.ok();
    assert_eq!(data["user"]["email"], "grace@example.com");
    assert_eq!(data["user"]["role"], "business");
    assert!(data["user"]["userId"].as_str().unwrap().starts_with("user_"));
    assert!(data["refreshToken"].as_str().unwrap().starts_with("osr_"));
    assert!(data["expiresAt"].as_str().unwrap().ends_with('Z'));
    assert!(data["user"].get("passwordHash").is_none());
    let access = format!("Bearer {}", data["accessToken"].as_str().unwrap());
    let me = app.get("/api/me", Some(&access)).await;
    let me = me.ok();
    assert_eq!(me["organization"]["name"], "Navy Labs");
    assert_eq!(me["organization"]["plan"], "free");
    assert_eq!(me["authMethod"], "jwt");

    // testers have no organization; admins cannot sign up through the API
    let t = app.signup("tester").await;
    assert!(t.organization_id.is_none());
    let res = app
        .post(
            "/api/auth/signup",
            json!({"email": "x@y.io", "password": PASSWORD, "fullName": "X", "role": "admin"}),
            None,
        )
        .await;
    assert_eq!(res.assert_error(422), "role: must be business or tester");
    let res = app
        .post("/api/auth/signup", json!({"email": "x@y.io", "password": PASSWORD, "fullName": "X", "role": "tester", "organizationName": "Nope"}), None)
        .await;
    res.assert_error(422);
}

async fn signup_rejects_duplicates_case_insensitively(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let body = |email: &str| json!({"email": email, "password": PASSWORD, "fullName": "A", "role": "business", "organizationName": "Org"});
    app.post("/api/auth/signup", body("dup@example.com"), None).await.ok();
    let res = app.post("/api/auth/signup", body("DUP@example.com"), None).await;
    assert_eq!(res.assert_error(422), "email: already registered");
    // the failed sign-up left no second organization behind: the first user still signs in
    app.post("/api/auth/signin", json!({"email": "dup@example.com", "password": PASSWORD}), None).await.ok();
}

async fn signin_has_one_error_for_both_failures(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let a = app.signup("tester").await;
    let wrong_pw =
        app.post("/api/auth/signin", json!({"email": a.email, "password": "wrong password!"}), None).await;
    let unknown =
        app.post("/api/auth/signin", json!({"email": "ghost@example.com", "password": PASSWORD}), None).await;
    assert_eq!(wrong_pw.assert_error(401), unknown.assert_error(401));
    let ok = app
        .post("/api/auth/signin", json!({"email": a.email.to_uppercase(), "password": PASSWORD}), None)
        .await;
    assert_eq!(ok.ok()["user"]["userId"], json!(a.user_id));
}

async fn refresh_rotates_and_reuse_revokes_the_family(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let a = app.signup("business").await;
    let first = app.post("/api/auth/refresh", json!({"refreshToken": a.refresh}), None).await;
    let first = first.ok().clone();
    let r1 = first["refreshToken"].as_str().unwrap();
    assert_ne!(r1, a.refresh);
    let access1 = format!("Bearer {}", first["accessToken"].as_str().unwrap());
    app.get("/api/me", Some(&access1)).await.ok();

    // rotated again: fine
    let second = app.post("/api/auth/refresh", json!({"refreshToken": r1}), None).await;
    let r2 = second.ok()["refreshToken"].as_str().unwrap().to_owned();

    // the spent token comes back: the whole family is revoked
    let reuse = app.post("/api/auth/refresh", json!({"refreshToken": a.refresh}), None).await;
    assert!(reuse.assert_error(401).contains("reuse"));
    app.post("/api/auth/refresh", json!({"refreshToken": r2}), None).await.assert_error(401);
    app.get("/api/me", Some(&access1)).await.assert_error(401);
    app.get("/api/me", Some(&a.bearer())).await.assert_error(401);

    // a new sign-in is unaffected
    app.post("/api/auth/signin", json!({"email": a.email, "password": PASSWORD}), None).await.ok();
    // garbage and expired tokens
    app.post("/api/auth/refresh", json!({"refreshToken": "osr_nope"}), None).await.assert_error(401);
    let b2 = app.signup("tester").await;
    app.clock.advance_ms(31 * 24 * 3600 * 1000);
    app.post("/api/auth/refresh", json!({"refreshToken": b2.refresh}), None).await.assert_error(401);
}

async fn signout_ends_refresh_and_access_tokens(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let a = app.signup("tester").await;
    let other = app.post("/api/auth/signin", json!({"email": a.email, "password": PASSWORD}), None).await;
    let other_access = format!("Bearer {}", other.ok()["accessToken"].as_str().unwrap());
    let res = app.post("/api/auth/signout", json!({}), Some(&a.bearer())).await;
    assert_eq!(res.body, json!({"success": true, "data": null, "error": null, "metadata": null}));
    app.get("/api/me", Some(&a.bearer())).await.assert_error(401);
    app.post("/api/auth/refresh", json!({"refreshToken": a.refresh}), None).await.assert_error(401);
    // only that sign-in ended
    app.get("/api/me", Some(&other_access)).await.ok();
    app.post("/api/auth/signout", json!({}), None).await.assert_error(401);
}

fn b64(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

async fn bad_jwts_are_401(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let a = app.signup("business").await;
    let parts: Vec<&str> = a.access.split('.').collect();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap())
            .unwrap();

    // tampered payload (role escalation), original signature
    let mut evil = claims.clone();
    evil["role"] = json!("admin");
    let tampered = format!("{}.{}.{}", parts[0], b64(evil.to_string().as_bytes()), parts[2]);
    // alg: none
    let none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    // signed with another key
    let other = openscouter_server::auth::jwt::JwtKeys::new(b"some-other-secret-some-other-secret!").unwrap();
    let wrong_key = other.sign(&serde_json::from_value(claims.clone()).unwrap()).unwrap();
    // HS384 with the right key (algorithm confusion)
    let hs384 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"test-secret-test-secret-test-secret!").unwrap(),
    )
    .unwrap();
    for (what, token) in [
        ("tampered", tampered),
        ("none", none),
        ("wrong key", wrong_key),
        ("hs384", hs384),
        ("garbage", "abc".into()),
    ] {
        let res = app.get("/api/me", Some(&format!("Bearer {token}"))).await;
        assert_eq!(res.status.as_u16(), 401, "{what}");
        res.assert_error(401);
    }
    app.get("/api/me", Some("Basic Zm9vOmJhcg==")).await.assert_error(401);
    app.get("/api/me", None).await.assert_error(401);

    // expired: 24 h later
    app.get("/api/me", Some(&a.bearer())).await.ok();
    app.clock.advance_ms(24 * 3600 * 1000 + 1);
    app.get("/api/me", Some(&a.bearer())).await.assert_error(401);
}

async fn me_reads_and_patches_profile(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let a = app.signup("tester").await;
    let res =
        app.send(Method::PATCH, "/api/me", Some(json!({"fullName": "  Ada Lovelace "})), &a.bearer()).await;
    assert_eq!(res.ok()["fullName"], "Ada Lovelace");
    assert_eq!(app.get("/api/me", Some(&a.bearer())).await.ok()["user"]["fullName"], "Ada Lovelace");
    let res = app.send(Method::PATCH, "/api/me", Some(json!({"fullName": ""})), &a.bearer()).await;
    assert!(res.assert_error(422).starts_with("fullName:"));
    assert_eq!(app.get("/api/me", Some(&a.bearer())).await.ok()["user"]["fullName"], "Ada Lovelace");
}
