//! Regressions for what the schemathesis run (`bench/schemathesis.sh`, issue #32) found, each
//! through the real router on both stores.

#![allow(clippy::unwrap_used)]

use axum::http::Method;
use serde_json::json;

use crate::both;
use crate::helpers::{Backend, TestApp};

both!(signing_in_as_an_erased_account_is_an_unknown_email);

/// Found by the stateful phase: the email of an erased person's tombstone (listed to admins)
/// sent to sign-in answered 500, because the tombstone's password hash `!` is no PHC string.
/// It must answer like any unknown email, on the API and on the OAuth sign-in form.
async fn signing_in_as_an_erased_account_is_an_unknown_email(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let admin = app.admin().await;
    let tester = app.signup("tester").await;
    assert_eq!(app.send(Method::DELETE, "/api/me", None, &tester.bearer()).await.ok()["status"], "queued");
    app.drain_jobs().await;
    let list = app.get("/api/admin/testers", Some(&admin.bearer())).await;
    let tomb = list
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["email"].as_str())
        .find(|e| e.ends_with("@erased.invalid"))
        .unwrap_or_else(|| panic!("no erased tester listed: {}", list.text))
        .to_owned();
    for password in ["!", "correct horse battery"] {
        let res = app.post("/api/auth/signin", json!({"email": tomb, "password": password}), None).await;
        assert_eq!(res.assert_error(401), "Invalid email or password");
    }
    let unknown = app
        .post("/api/auth/signin", json!({"email": "nobody@example.com", "password": "whatever it is"}), None)
        .await;
    assert_eq!(unknown.assert_error(401), "Invalid email or password");
}
