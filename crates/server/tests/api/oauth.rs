//! The OAuth 2.1 authorization server through the router: metadata, registration, the sign-in
//! and consent page, the code flow with PKCE, refresh rotation, revocation, and the negative
//! paths (wrong verifier, reused code, redirect mismatch, expired code, refresh reuse, another
//! organization's token).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::Method;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Account, Backend, PASSWORD, Res, TestApp, study_body};

both!(
    metadata_and_registration,
    code_flow_issues_tokens_bound_to_the_organization,
    pkce_redirect_and_code_reuse_are_refused,
    expired_code_is_refused,
    refresh_rotates_and_reuse_revokes_the_family,
    consent_page_is_csrf_protected,
    revocation_ends_the_grant,
    registration_is_bounded_and_unused_clients_expire,
);

pub const REDIRECT: &str = "http://127.0.0.1:7777/callback";
pub const BASE: &str = "https://openscouter.test";

/// An app whose public origin is fixed and whose anonymous rate limit fits many flows.
pub async fn app(b: Backend) -> Option<TestApp> {
    TestApp::with(
        b,
        &[
            ("OPENSCOUTER_PUBLIC_URL", BASE),
            ("OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED", "1000"),
            ("OPENSCOUTER_RATE_LIMIT_FREE", "10000"),
        ],
    )
    .await
}

/// A PKCE pair `(verifier, S256 challenge)`.
pub fn pkce() -> (String, String) {
    use base64::Engine;
    use sha2::Digest;
    let verifier = format!("v{}{}", ulid::Ulid::generate(), ulid::Ulid::generate()).to_lowercase();
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn encode(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}

/// POSTs a form, with extra headers.
pub async fn post_form(app: &TestApp, path: &str, pairs: &[(&str, &str)], headers: &[(&str, &str)]) -> Res {
    let mut h = vec![("content-type", "application/x-www-form-urlencoded")];
    h.extend_from_slice(headers);
    app.call_from("127.0.0.1", Method::POST, path, Some(encode(pairs)), &h).await
}

/// Registers a client with the test redirect URI; returns its id.
pub async fn register(app: &TestApp) -> String {
    let res = app
        .post(
            "/api/oauth/register",
            json!({"client_name": "Test <Agent>", "redirect_uris": [REDIRECT]}),
            None,
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    res.body["client_id"].as_str().unwrap().to_owned()
}

/// The authorization request's parameters.
pub fn request(client_id: &str, challenge: &str, scope: &str) -> Vec<(String, String)> {
    [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("state", "st4te"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("scope", scope),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn query(pairs: &[(String, String)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}

/// Submits the sign-in form of the page for `req`.
pub async fn sign_in(app: &TestApp, req: &[(String, String)], email: &str, password: &str) -> Res {
    let mut pairs: Vec<(&str, &str)> = req.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pairs.extend([("step", "signin"), ("email", email), ("password", password)]);
    post_form(app, "/api/oauth/authorize", &pairs, &[]).await
}

/// `(cookie, csrf)` of a consent page.
pub fn consent_parts(res: &Res) -> (String, String) {
    assert_eq!(res.status, 200, "{}", res.text);
    let cookie = res
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("osc_oauth="))
        .expect("consent cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = res.text.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    (cookie, csrf)
}

/// Submits the consent form.
pub async fn decide(app: &TestApp, cookie: &str, csrf: &str, decision: &str, scopes: &[&str]) -> Res {
    let mut pairs = vec![("step", "consent"), ("csrf", csrf), ("decision", decision)];
    pairs.extend(scopes.iter().map(|s| ("scope", *s)));
    post_form(app, "/api/oauth/authorize", &pairs, &[("cookie", cookie)]).await
}

/// The query parameters of a redirect's `Location`.
pub fn location_params(res: &Res) -> Vec<(String, String)> {
    assert_eq!(res.status, 303, "{}", res.text);
    let loc = res.header("location").unwrap();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    let q = loc.split_once('?').map(|(_, q)| q).unwrap_or("");
    serde_urlencoded::from_str(q).unwrap()
}

pub fn param<'a>(pairs: &'a [(String, String)], k: &str) -> Option<&'a str> {
    pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

/// Runs the page for `who`, asking `scope` and granting `grant`: `(code, verifier)`.
pub async fn code_for(
    app: &TestApp,
    who: &Account,
    client_id: &str,
    scope: &str,
    grant: &[&str],
) -> (String, String) {
    let (verifier, challenge) = pkce();
    let req = request(client_id, &challenge, scope);
    let page = app.get(&format!("/api/oauth/authorize?{}", query(&req)), None).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let signed = sign_in(app, &req, &who.email, PASSWORD).await;
    let (cookie, csrf) = consent_parts(&signed);
    let back = location_params(&decide(app, &cookie, &csrf, "allow", grant).await);
    assert_eq!(param(&back, "state"), Some("st4te"));
    assert_eq!(param(&back, "iss"), Some(BASE));
    (param(&back, "code").unwrap().to_owned(), verifier)
}

pub async fn exchange(app: &TestApp, client_id: &str, code: &str, verifier: &str, redirect: &str) -> Res {
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("client_id", client_id),
        ("code_verifier", verifier),
    ];
    post_form(app, "/api/oauth/token", &pairs, &[]).await
}

pub async fn refresh(app: &TestApp, client_id: &str, refresh_token: &str) -> Res {
    let pairs = [("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", client_id)];
    post_form(app, "/api/oauth/token", &pairs, &[]).await
}

/// A fresh client and a token pair for `who` with `grant`: `(client_id, access, refresh)`.
pub async fn tokens_for(app: &TestApp, who: &Account, grant: &[&str]) -> (String, String, String) {
    let client = register(app).await;
    let (code, verifier) = code_for(app, who, &client, "read draft", grant).await;
    let res = exchange(app, &client, &code, &verifier, REDIRECT).await;
    assert_eq!(res.status, 200, "{}", res.text);
    (
        client,
        res.body["access_token"].as_str().unwrap().to_owned(),
        res.body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

fn oauth_error(res: &Res, status: u16, error: &str) {
    assert_eq!(res.status.as_u16(), status, "{}", res.text);
    assert_eq!(res.body["error"], json!(error), "{}", res.text);
    assert!(res.body["error_description"].is_string());
    assert_eq!(res.header("cache-control"), Some("no-store"));
}

async fn metadata_and_registration(b: Backend) {
    let Some(app) = app(b).await else { return };
    let asm = app.get("/.well-known/oauth-authorization-server", None).await;
    assert_eq!(asm.status, 200);
    assert_eq!(asm.body["issuer"], BASE);
    assert_eq!(asm.body["token_endpoint"], format!("{BASE}/api/oauth/token"));
    assert_eq!(asm.body["registration_endpoint"], format!("{BASE}/api/oauth/register"));
    assert_eq!(asm.body["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(asm.body["scopes_supported"], json!(["read", "draft"]));
    for path in ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/api/mcp"] {
        let prm = app.get(path, None).await;
        assert_eq!(prm.status, 200);
        assert_eq!(prm.body["resource"], format!("{BASE}/api/mcp"));
        assert_eq!(prm.body["authorization_servers"], json!([BASE]));
    }
    // without a configured origin, the request's Host is the issuer
    let Some(plain) = TestApp::new(b).await else { return };
    let res = plain
        .call(Method::GET, "/.well-known/oauth-authorization-server", None, &[("host", "mcp.example:8080")])
        .await;
    assert_eq!(res.body["issuer"], "http://mcp.example:8080");

    let res = app
        .post(
            "/api/oauth/register",
            json!({"redirect_uris": ["https://agent.example.com/cb", "http://localhost:3000/cb"],
                   "token_endpoint_auth_method": "client_secret_basic", "scope": "read"}),
            None,
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert!(res.body["client_id"].as_str().unwrap().starts_with("oac_"));
    assert_eq!(res.body["token_endpoint_auth_method"], "none");
    assert_eq!(res.body["grant_types"], json!(["authorization_code", "refresh_token"]));
    assert_eq!(res.body["scope"], "read");
    assert!(res.body.get("client_secret").is_none());

    for (body, error) in [
        (json!({"redirect_uris": ["http://agent.example.com/cb"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["https://agent.example.com/cb#x"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]}),
            "invalid_client_metadata",
        ),
        (json!({"redirect_uris": [REDIRECT], "scope": "admin"}), "invalid_client_metadata"),
    ] {
        let res = app.post("/api/oauth/register", body, None).await;
        oauth_error(&res, 400, error);
    }
    let res =
        app.call_from("127.0.0.1", Method::POST, "/api/oauth/register", Some("{nope".into()), &[]).await;
    oauth_error(&res, 400, "invalid_client_metadata");
}

async fn code_flow_issues_tokens_bound_to_the_organization(b: Backend) {
    let Some(app) = app(b).await else { return };
    let biz = app.signup("business").await;
    let other = app.signup("business").await;
    let mine = app.post("/api/jobs", study_body(), Some(&biz.bearer())).await.ok()["jobId"].clone();
    let theirs = app.post("/api/jobs", study_body(), Some(&other.bearer())).await.ok()["jobId"].clone();

    let client = register(&app).await;
    let (verifier, challenge) = pkce();
    let req = request(&client, &challenge, "read draft");
    // the page says who asks and for what, escapes the client's name, and forbids scripts
    let page = app.get(&format!("/api/oauth/authorize?{}", query(&req)), None).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Test &lt;Agent&gt;"), "{}", page.text);
    assert!(page.text.contains("<strong>draft</strong>"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("frame-ancestors 'none'")
            && !csp.contains("script")
    );
    assert!(csp.contains("form-action 'self' http://127.0.0.1:7777"), "{csp}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("cache-control"), Some("no-store"));

    // a wrong password shows the form again; a tester cannot connect a workspace
    let res = sign_in(&app, &req, &biz.email, "wrong password!").await;
    assert_eq!(res.status, 200);
    assert!(res.text.contains("role=\"alert\"") && res.text.contains("Invalid email or password"));
    let tester = app.signup("tester").await;
    let res = sign_in(&app, &req, &tester.email, PASSWORD).await;
    assert_eq!(res.status, 403, "{}", res.text);

    let signed = sign_in(&app, &req, &biz.email, PASSWORD).await;
    assert!(signed.text.contains("Acme Research"), "the workspace is named");
    let set_cookie = signed.header("set-cookie").unwrap();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    assert!(set_cookie.contains("; Secure"), "https origin: {set_cookie}");
    let (cookie, csrf) = consent_parts(&signed);
    // the user unticks `draft`
    let back = location_params(&decide(&app, &cookie, &csrf, "allow", &["read"]).await);
    let code = param(&back, "code").unwrap().to_owned();
    assert_eq!(param(&back, "iss"), Some(BASE));
    let res = exchange(&app, &client, &code, &verifier, REDIRECT).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(res.body["token_type"], "Bearer");
    assert_eq!(res.body["scope"], "read");
    assert_eq!(res.body["expires_in"], 3600);
    let access = res.body["access_token"].as_str().unwrap();
    assert!(access.starts_with("osat_"));
    assert!(res.body["refresh_token"].as_str().unwrap().starts_with("osrt_"));
    let bearer = format!("Bearer {access}");

    // who it acts for, and only that organization's data
    let me = app.get("/api/me", Some(&bearer)).await;
    assert_eq!(me.ok()["authMethod"], "oauth");
    assert_eq!(me.ok()["user"]["userId"], json!(biz.user_id));
    let list = app.get("/api/jobs", Some(&bearer)).await;
    let ids: Vec<Value> = list.ok().as_array().unwrap().iter().map(|s| s["jobId"].clone()).collect();
    assert_eq!(ids, vec![mine.clone()]);
    app.get(&format!("/api/jobs/{}", theirs.as_str().unwrap()), Some(&bearer)).await.assert_error(404);
    // `read` reads; REST writes, account routes and token minting are not for OAuth tokens
    app.post("/api/jobs", study_body(), Some(&bearer)).await.assert_error(403);
    app.post("/api/tokens", json!({"name": "x", "scopes": ["read"]}), Some(&bearer)).await.assert_error(403);
    app.get("/api/me", Some("Bearer osat_forged")).await.assert_error(401);
}

async fn pkce_redirect_and_code_reuse_are_refused(b: Backend) {
    let Some(app) = app(b).await else { return };
    let biz = app.signup("business").await;
    let client = register(&app).await;

    // an unregistered redirect URI gets an error page, never a redirect
    let (_, challenge) = pkce();
    let mut req = request(&client, &challenge, "read");
    req[2].1 = "http://127.0.0.1:7777/elsewhere".into();
    let res = app.get(&format!("/api/oauth/authorize?{}", query(&req)), None).await;
    assert_eq!(res.status, 400);
    assert!(res.header("location").is_none());
    assert!(res.text.contains("redirect_uri"));
    // unknown client: the same
    let res = app
        .get(&format!("/api/oauth/authorize?{}", query(&request("oac_nope", &challenge, "read"))), None)
        .await;
    assert_eq!(res.status, 400);
    // a loopback redirect may come back on another port (RFC 8252 §7.3)
    let mut req = request(&client, &challenge, "read");
    req[2].1 = "http://127.0.0.1:49152/callback".into();
    assert_eq!(app.get(&format!("/api/oauth/authorize?{}", query(&req)), None).await.status, 200);

    // An invalid request never redirects, even to a registered URI: anyone can register any
    // https URI, so before a person has signed in and decided it is an error page (RFC 9700
    // §4.11.2). The attack pass's reproduction: register evil.example, then `scope=nope`.
    for (k, v, error) in [
        ("state", "", "invalid_request"),
        ("code_challenge_method", "plain", "invalid_request"),
        ("code_challenge", "short", "invalid_request"),
        ("response_type", "token", "unsupported_response_type"),
        ("scope", "read admin", "invalid_scope"),
        ("scope", "nope", "invalid_scope"),
    ] {
        let mut req = request(&client, &challenge, "read");
        for p in req.iter_mut().filter(|(n, _)| n == k) {
            p.1 = v.to_owned();
        }
        let res = app.get(&format!("/api/oauth/authorize?{}", query(&req)), None).await;
        assert_eq!(res.status, 400, "{k}={v}: {}", res.text);
        assert!(res.header("location").is_none(), "{k}={v}");
        assert!(res.text.contains(error), "{k}={v}: {}", res.text);
    }
    let mut req = request(&client, &challenge, "read");
    req.push(("resource".into(), "https://elsewhere.example/api/mcp".into()));
    let res = app.get(&format!("/api/oauth/authorize?{}", query(&req)), None).await;
    assert_eq!(res.status, 400);
    assert!(res.header("location").is_none() && res.text.contains("invalid_target"));
    let res =
        app.post("/api/oauth/register", json!({"redirect_uris": ["https://evil.example/phish"]}), None).await;
    assert_eq!(res.status, 201, "{}", res.text);
    let evil = res.body["client_id"].as_str().unwrap().to_owned();
    let mut req = request(&evil, &challenge, "nope");
    req[2].1 = "https://evil.example/phish".into();
    let res = app.get(&format!("/api/oauth/authorize?{}", query(&req)), None).await;
    assert_eq!(res.status, 400);
    assert!(res.header("location").is_none(), "an open redirector again: {:?}", res.header("location"));
    // The page shows where a valid request would go, and that nobody vouched for the client.
    let req = {
        let mut r = request(&evil, &challenge, "read");
        r[2].1 = "https://evil.example/phish".into();
        r
    };
    let res = app.get(&format!("/api/oauth/authorize?{}", query(&req)), None).await;
    assert_eq!(res.status, 200);
    assert!(res.text.contains("evil.example") && res.text.contains("not verified"), "{}", res.text);

    // wrong verifier: refused, and the code is spent
    let (code, verifier) = code_for(&app, &biz, &client, "read", &["read"]).await;
    let (other_verifier, _) = pkce();
    oauth_error(&exchange(&app, &client, &code, &other_verifier, REDIRECT).await, 400, "invalid_grant");
    oauth_error(&exchange(&app, &client, &code, &verifier, REDIRECT).await, 400, "invalid_grant");

    // redirect mismatch at the token endpoint
    let (code, verifier) = code_for(&app, &biz, &client, "read", &["read"]).await;
    let res = exchange(&app, &client, &code, &verifier, "http://127.0.0.1:7777/other").await;
    oauth_error(&res, 400, "invalid_grant");

    // another client cannot redeem it
    let (code, verifier) = code_for(&app, &biz, &client, "read", &["read"]).await;
    let thief = register(&app).await;
    oauth_error(&exchange(&app, &thief, &code, &verifier, REDIRECT).await, 400, "invalid_grant");

    // a reused code is refused and revokes what it issued
    let (code, verifier) = code_for(&app, &biz, &client, "read", &["read"]).await;
    let first = exchange(&app, &client, &code, &verifier, REDIRECT).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let bearer = format!("Bearer {}", first.body["access_token"].as_str().unwrap());
    app.get("/api/me", Some(&bearer)).await.ok();
    oauth_error(&exchange(&app, &client, &code, &verifier, REDIRECT).await, 400, "invalid_grant");
    app.get("/api/me", Some(&bearer)).await.assert_error(401);
    oauth_error(
        &refresh(&app, &client, first.body["refresh_token"].as_str().unwrap()).await,
        400,
        "invalid_grant",
    );

    // request validation of the token endpoint
    oauth_error(
        &post_form(&app, "/api/oauth/token", &[("client_id", &client)], &[]).await,
        400,
        "invalid_request",
    );
    let res =
        post_form(&app, "/api/oauth/token", &[("grant_type", "password"), ("client_id", &client)], &[]).await;
    oauth_error(&res, 400, "unsupported_grant_type");
    oauth_error(&exchange(&app, "oac_unknown", "osac_x", &verifier, REDIRECT).await, 401, "invalid_client");
    oauth_error(&exchange(&app, &client, "osac_unknown", &verifier, REDIRECT).await, 400, "invalid_grant");
}

async fn expired_code_is_refused(b: Backend) {
    let Some(app) = app(b).await else { return };
    let biz = app.signup("business").await;
    let client = register(&app).await;
    let (code, verifier) = code_for(&app, &biz, &client, "read", &["read"]).await;
    app.clock.advance_ms(60_000);
    let res = exchange(&app, &client, &code, &verifier, REDIRECT).await;
    oauth_error(&res, 400, "invalid_grant");
    assert!(res.body["error_description"].as_str().unwrap().contains("expired"));
    // just inside the minute is fine
    let (code, verifier) = code_for(&app, &biz, &client, "read", &["read"]).await;
    app.clock.advance_ms(59_000);
    assert_eq!(exchange(&app, &client, &code, &verifier, REDIRECT).await.status, 200);
    // an access token lives an hour, on the injected clock
    let (_, access, _) = tokens_for(&app, &biz, &["read"]).await;
    let bearer = format!("Bearer {access}");
    app.get("/api/me", Some(&bearer)).await.ok();
    app.clock.advance_ms(3_600_000);
    app.get("/api/me", Some(&bearer)).await.assert_error(401);
}

async fn refresh_rotates_and_reuse_revokes_the_family(b: Backend) {
    let Some(app) = app(b).await else { return };
    let biz = app.signup("business").await;
    let (client, a1, r1) = tokens_for(&app, &biz, &["read", "draft"]).await;

    // narrowing is allowed, widening is not
    let pairs = [
        ("grant_type", "refresh_token"),
        ("refresh_token", r1.as_str()),
        ("client_id", &client),
        ("scope", "read admin"),
    ];
    oauth_error(&post_form(&app, "/api/oauth/token", &pairs, &[]).await, 400, "invalid_scope");
    // another client cannot use it
    let thief = register(&app).await;
    oauth_error(&refresh(&app, &thief, &r1).await, 400, "invalid_grant");

    let res = refresh(&app, &client, &r1).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["scope"], "read draft");
    let a2 = res.body["access_token"].as_str().unwrap().to_owned();
    let r2 = res.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    for a in [&a1, &a2] {
        app.get("/api/me", Some(&format!("Bearer {a}"))).await.ok();
    }
    let pairs = [
        ("grant_type", "refresh_token"),
        ("refresh_token", r2.as_str()),
        ("client_id", &client),
        ("scope", "read"),
    ];
    let res = post_form(&app, "/api/oauth/token", &pairs, &[]).await;
    assert_eq!(res.body["scope"], "read", "{}", res.text);
    let r3 = res.body["refresh_token"].as_str().unwrap().to_owned();

    // r1 again: reuse — the whole family goes, r3 included
    let res = refresh(&app, &client, &r1).await;
    oauth_error(&res, 400, "invalid_grant");
    assert!(res.body["error_description"].as_str().unwrap().contains("reuse"));
    for a in [&a1, &a2] {
        app.get("/api/me", Some(&format!("Bearer {a}"))).await.assert_error(401);
    }
    oauth_error(&refresh(&app, &client, &r3).await, 400, "invalid_grant");
    // a different grant of the same user is untouched
    let (_, other, _) = tokens_for(&app, &biz, &["read"]).await;
    app.get("/api/me", Some(&format!("Bearer {other}"))).await.ok();
}

async fn consent_page_is_csrf_protected(b: Backend) {
    let Some(app) = app(b).await else { return };
    let biz = app.signup("business").await;
    let client = register(&app).await;
    let (_, challenge) = pkce();
    let req = request(&client, &challenge, "read draft");

    // no cookie, wrong cookie, wrong CSRF token: an error page, no code
    let (cookie, csrf) = consent_parts(&sign_in(&app, &req, &biz.email, PASSWORD).await);
    let res = decide(&app, "osc_oauth=forged", &csrf, "allow", &["read"]).await;
    assert_eq!(res.status, 400);
    let mut pairs = vec![("step", "consent"), ("csrf", csrf.as_str()), ("decision", "allow")];
    pairs.push(("scope", "read"));
    let res = post_form(&app, "/api/oauth/authorize", &pairs, &[]).await;
    assert_eq!(res.status, 400);
    let res = decide(&app, &cookie, "forged-csrf", "allow", &["read"]).await;
    assert_eq!(res.status, 400);
    assert!(res.header("location").is_none());
    // a refused attempt spends the sign-in
    assert_eq!(decide(&app, &cookie, &csrf, "allow", &["read"]).await.status, 400);

    // deny → access_denied at the client, with its state
    let (cookie, csrf) = consent_parts(&sign_in(&app, &req, &biz.email, PASSWORD).await);
    let back = location_params(&decide(&app, &cookie, &csrf, "deny", &[]).await);
    assert_eq!(param(&back, "error"), Some("access_denied"));
    assert_eq!(param(&back, "state"), Some("st4te"));
    assert!(param(&back, "code").is_none());
    // nothing ticked is a denial too
    let (cookie, csrf) = consent_parts(&sign_in(&app, &req, &biz.email, PASSWORD).await);
    let back = location_params(&decide(&app, &cookie, &csrf, "allow", &[]).await);
    assert_eq!(param(&back, "error"), Some("access_denied"));

    // a consent lives ten minutes
    let (cookie, csrf) = consent_parts(&sign_in(&app, &req, &biz.email, PASSWORD).await);
    app.clock.advance_ms(10 * 60_000);
    assert_eq!(decide(&app, &cookie, &csrf, "allow", &["read"]).await.status, 400);
}

async fn revocation_ends_the_grant(b: Backend) {
    let Some(app) = app(b).await else { return };
    let biz = app.signup("business").await;
    let (client, access, refresh_token) = tokens_for(&app, &biz, &["read"]).await;
    let bearer = format!("Bearer {access}");
    app.get("/api/me", Some(&bearer)).await.ok();
    // another client's revocation does nothing (and says nothing)
    let other = register(&app).await;
    let res =
        post_form(&app, "/api/oauth/revoke", &[("token", &refresh_token), ("client_id", &other)], &[]).await;
    assert_eq!(res.status, 200);
    app.get("/api/me", Some(&bearer)).await.ok();
    // unknown tokens: 200
    let res =
        post_form(&app, "/api/oauth/revoke", &[("token", "osrt_nope"), ("client_id", &client)], &[]).await;
    assert_eq!(res.status, 200);
    oauth_error(
        &post_form(&app, "/api/oauth/revoke", &[("client_id", &client)], &[]).await,
        400,
        "invalid_request",
    );
    oauth_error(
        &post_form(&app, "/api/oauth/revoke", &[("token", "x"), ("client_id", "oac_x")], &[]).await,
        401,
        "invalid_client",
    );
    // revoking the refresh token ends the access token too
    let res =
        post_form(&app, "/api/oauth/revoke", &[("token", &refresh_token), ("client_id", &client)], &[]).await;
    assert_eq!(res.status, 200);
    app.get("/api/me", Some(&bearer)).await.assert_error(401);
    oauth_error(&refresh(&app, &client, &refresh_token).await, 400, "invalid_grant");
}

/// Anonymous registration is bounded: its own per-IP rate (429 with `Retry-After`, the OAuth
/// error shape), names that claim to be OpenScouter are refused, and a client that never
/// completed an authorisation expires after a day while a used one stays.
async fn registration_is_bounded_and_unused_clients_expire(b: Backend) {
    let Some(app) = app(b).await else { return };
    let biz = app.signup("business").await;
    for name in ["OpenScouter Official", "Open Scouter", "openscouter-helper"] {
        let res = app
            .post("/api/oauth/register", json!({"client_name": name, "redirect_uris": [REDIRECT]}), None)
            .await;
        oauth_error(&res, 400, "invalid_client_metadata");
    }
    let used = register(&app).await;
    // Redeeming the code completes the authorisation (a grant).
    let (code, verifier) = code_for(&app, &biz, &used, "read", &["read"]).await;
    assert_eq!(exchange(&app, &used, &code, &verifier, REDIRECT).await.status, 200);
    let unused = register(&app).await;
    // Registration's own tier: at most 10 a minute from one IP, whatever the edge allows.
    let mut limited = None;
    for i in 0..12 {
        let res = app
            .call_from(
                "198.51.100.7",
                Method::POST,
                "/api/oauth/register",
                Some(json!({"client_name": format!("Agent {i}"), "redirect_uris": [REDIRECT]}).to_string()),
                &[],
            )
            .await;
        if res.status == 429 {
            limited = Some(res);
            break;
        }
        assert_eq!(res.status, 201, "{}", res.text);
    }
    let res = limited.expect("the per-IP registration limit answers 429");
    assert_eq!(res.body["error"], "temporarily_unavailable");
    assert!(res.header("retry-after").is_some());
    // Another IP still registers.
    let res = app
        .call_from(
            "198.51.100.8",
            Method::POST,
            "/api/oauth/register",
            Some(json!({"redirect_uris": [REDIRECT]}).to_string()),
            &[],
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);

    // A day later the unused client is gone; the used one still works.
    app.clock.advance_ms(24 * 3_600_000 + 1_000);
    let (_, challenge) = pkce();
    let res = app
        .get(&format!("/api/oauth/authorize?{}", query(&request(&unused, &challenge, "read"))), None)
        .await;
    assert_eq!(res.status, 400);
    assert!(res.header("location").is_none() && res.text.contains("expired"), "{}", res.text);
    let res =
        app.get(&format!("/api/oauth/authorize?{}", query(&request(&used, &challenge, "read"))), None).await;
    assert_eq!(res.status, 200, "{}", res.text);
    // The next registration sweeps the expired ones out of the store.
    register(&app).await;
    let res = app
        .get(&format!("/api/oauth/authorize?{}", query(&request(&unused, &challenge, "read"))), None)
        .await;
    assert!(res.text.contains("not registered"), "{}", res.text);
}
