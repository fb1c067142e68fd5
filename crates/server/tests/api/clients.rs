//! What real clients trip on (#30): a browser-based MCP client from an origin outside the
//! allow-list (preflight, the 401 challenge it can read, the discovery documents), the MCP
//! endpoint under its aliases, and authorization schemes in any case.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::Method;
use serde_json::{Value, json};

use super::oauth::{app, tokens_for};
use crate::both;
use crate::helpers::{Backend, TestApp};

both!(browser_mcp_client_from_any_origin, mcp_answers_on_its_aliases, auth_schemes_ignore_case);

const INSPECTOR: &str = "https://inspector.example";
const MCP_PATHS: [&str; 3] = ["/api/mcp", "/api/mcp/", "/api/mcp/mcp"];

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "web", "version": "1"}}})
}

fn listed(header: Option<&str>) -> Vec<String> {
    header.unwrap_or("").split(',').map(|s| s.trim().to_ascii_lowercase()).collect()
}

async fn browser_mcp_client_from_any_origin(b: Backend) {
    // Production: the allow-list is openscouter.com and its subdomains only.
    let Some(app) = TestApp::with(
        b,
        &[("OPENSCOUTER_ENV", "production"), ("OPENSCOUTER_PUBLIC_URL", "https://openscouter.com")],
    )
    .await
    else {
        return;
    };
    let wanted = "authorization, content-type, mcp-protocol-version, mcp-session-id, last-event-id";
    for path in MCP_PATHS {
        let res = app
            .call(
                Method::OPTIONS,
                path,
                None,
                &[
                    ("origin", INSPECTOR),
                    ("access-control-request-method", "POST"),
                    ("access-control-request-headers", wanted),
                ],
            )
            .await;
        assert_eq!(res.status, 200, "{path}: {}", res.text);
        assert_eq!(res.header("access-control-allow-origin"), Some(INSPECTOR), "{path}");
        assert!(res.header("access-control-allow-credentials").is_none(), "bearer tokens, no cookies");
        let allowed = listed(res.header("access-control-allow-headers"));
        for h in wanted.split(", ") {
            assert!(allowed.iter().any(|a| a == h), "{path}: {h} not in {allowed:?}");
        }

        // The call itself reaches the 401 challenge, and the page may read it.
        let res = app
            .call(
                Method::POST,
                path,
                Some(initialize()),
                &[("origin", INSPECTOR), ("accept", "application/json, text/event-stream")],
            )
            .await;
        assert_eq!(res.status, 401, "{path}: {}", res.text);
        assert_eq!(res.header("access-control-allow-origin"), Some(INSPECTOR), "{path}");
        let exposed = listed(res.header("access-control-expose-headers"));
        for h in ["www-authenticate", "mcp-session-id"] {
            assert!(exposed.iter().any(|e| e == h), "{path}: {h} not exposed: {exposed:?}");
        }
        assert!(res.header("www-authenticate").unwrap().contains("resource_metadata="));
    }

    // The discovery documents the challenge points to: readable from any origin.
    for doc in ["/.well-known/oauth-protected-resource/api/mcp", "/.well-known/oauth-authorization-server"] {
        let res = app.call(Method::GET, doc, None, &[("origin", INSPECTOR)]).await;
        assert_eq!(res.status, 200, "{doc}: {}", res.text);
        assert_eq!(res.header("access-control-allow-origin"), Some(INSPECTOR), "{doc}");
        let res = app
            .call(
                Method::OPTIONS,
                doc,
                None,
                &[("origin", INSPECTOR), ("access-control-request-method", "GET")],
            )
            .await;
        assert_eq!(res.status, 200, "{doc}");
    }

    // A browser MCP client connects on its own: registration, the token exchange and
    // revocation take no cookie, so they are open too.
    for path in ["/api/oauth/register", "/api/oauth/token", "/api/oauth/revoke"] {
        let res = app
            .call(
                Method::OPTIONS,
                path,
                None,
                &[("origin", INSPECTOR), ("access-control-request-method", "POST")],
            )
            .await;
        assert_eq!(res.status, 200, "{path}");
        assert_eq!(res.header("access-control-allow-origin"), Some(INSPECTOR), "{path}");
    }

    // The rest of the API keeps its allow-list (the authorization page is a navigation).
    for path in ["/api/jobs", "/api/me", "/api/oauth/authorize", "/api/mcp/other"] {
        let res = app
            .call(
                Method::OPTIONS,
                path,
                None,
                &[("origin", INSPECTOR), ("access-control-request-method", "POST")],
            )
            .await;
        assert_eq!(res.status, 403, "{path}");
        assert!(res.header("access-control-allow-origin").is_none(), "{path}");
    }
    let res = app.call(Method::GET, "/api/me", None, &[("origin", INSPECTOR)]).await;
    assert!(res.header("access-control-allow-origin").is_none());
    let res = app.call(Method::GET, "/api/me", None, &[("origin", "https://app.openscouter.com")]).await;
    assert_eq!(res.header("access-control-allow-origin"), Some("https://app.openscouter.com"));
}

async fn mcp_answers_on_its_aliases(b: Backend) {
    let Some(app) = app(b).await else { return };
    let biz = app.signup("business").await;
    let (_, access, _) = tokens_for(&app, &biz, &["read"]).await;
    let auth = format!("Bearer {access}");
    for path in MCP_PATHS {
        let res = app
            .call(
                Method::POST,
                path,
                Some(initialize()),
                &[("authorization", &auth), ("accept", "application/json, text/event-stream")],
            )
            .await;
        assert_eq!(res.status, 200, "{path}: {}", res.text);
        assert_eq!(res.body["result"]["serverInfo"]["name"], "openscouter", "{path}");
        let sid = res.header("mcp-session-id").unwrap().to_owned();
        let res = app
            .call(
                Method::POST,
                path,
                Some(json!({"jsonrpc": "2.0", "id": 2, "method": "ping"})),
                &[("authorization", &auth), ("accept", "application/json"), ("mcp-session-id", &sid)],
            )
            .await;
        assert_eq!(res.status, 200, "{path}: {}", res.text);
        assert_eq!(res.body["result"], json!({}), "{path}");
        let res = app.get(path, Some(&auth)).await;
        assert_eq!(res.status, 405, "{path}");
        assert_eq!(res.header("allow"), Some("POST, DELETE"));
        let res =
            app.call(Method::DELETE, path, None, &[("authorization", &auth), ("mcp-session-id", &sid)]).await;
        assert_eq!(res.status, 204, "{path}: {}", res.text);
        // Errors keep MCP's JSON-RPC body (not the envelope) on every alias.
        let res = app.call(Method::POST, path, Some(initialize()), &[("accept", "application/json")]).await;
        assert_eq!(res.status, 401);
        assert_eq!(res.body["jsonrpc"], "2.0", "{path}: {}", res.text);
    }
}

async fn auth_schemes_ignore_case(b: Backend) {
    let overrides = [
        ("OPENSCOUTER_PUBLIC_URL", super::oauth::BASE),
        ("OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED", "1000"),
        ("OPENSCOUTER_CRON_SECRET", "cron-secret-for-tests"),
    ];
    let Some(app) = TestApp::with(b, &overrides).await else { return };
    let live = app.live_session().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let res = app.get("/api/me", Some(&format!("{scheme} {}", live.biz.access))).await;
        assert_eq!(res.ok()["user"]["userId"], live.biz.user_id, "{scheme}");
    }
    let res =
        app.post("/api/tokens", json!({"name": "ci", "scopes": ["read"]}), Some(&live.biz.bearer())).await;
    let token = res.ok()["token"].as_str().unwrap().to_owned();
    for scheme in ["Token", "token", "TOKEN"] {
        let res = app.get("/api/me", Some(&format!("{scheme} {token}"))).await;
        assert_eq!(res.ok()["user"]["userId"], live.biz.user_id, "{scheme}");
    }
    // The session's test token, in lower case.
    let test_token = live.tt.strip_prefix("Token ").unwrap();
    let res = app
        .post(
            &format!("/api/sessions/{}/notes", live.sid),
            json!({"text": "hm"}),
            Some(&format!("token {test_token}")),
        )
        .await;
    res.ok();
    // OAuth access tokens through MCP.
    let (_, access, _) = tokens_for(&app, &live.biz, &["read"]).await;
    let res = app
        .call(
            Method::POST,
            "/api/mcp",
            Some(initialize()),
            &[("authorization", &format!("bearer {access}")), ("accept", "application/json")],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    // The cron secret.
    let res = app.post("/api/cron/session-timeouts", json!({}), Some("bearer cron-secret-for-tests")).await;
    res.ok();
    // Another scheme is still refused, by name.
    let res = app.get("/api/me", Some(&format!("Basic {}", live.biz.access))).await;
    assert!(res.assert_error(401).contains("Unsupported Authorization scheme"));
}
