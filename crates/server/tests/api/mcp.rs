//! The MCP endpoint through the router: the challenge, both protocol eras (handshake with
//! sessions; 2026-07-28 per-request envelope), every tool on real data, scopes, tenancy, and
//! the transport's JSON/SSE/202 answers. The official SDK client drives it in `mcp_sdk.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::Method;
use serde_json::{Value, json};

use super::oauth::{BASE, app, tokens_for};
use crate::both;
use crate::helpers::{Backend, Live, Res, TestApp};

both!(
    unauthenticated_calls_get_the_challenge,
    handshake_sessions_and_every_tool,
    per_request_era,
    scopes_and_tenancy,
);

const ACCEPT: (&str, &str) = ("accept", "application/json, text/event-stream");

async fn rpc(app: &TestApp, auth: &str, body: Value, headers: &[(&str, &str)]) -> Res {
    let mut h = vec![("authorization", auth), ACCEPT];
    h.extend_from_slice(headers);
    app.call(Method::POST, "/api/mcp", Some(body), &h).await
}

fn request(id: i64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// Opens a handshake-era session; returns its id.
pub(crate) async fn initialize(app: &TestApp, auth: &str) -> String {
    let params = json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}});
    let res = rpc(app, auth, request(0, "initialize", params), &[]).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["result"]["protocolVersion"], "2025-11-25");
    assert_eq!(res.body["result"]["serverInfo"]["name"], "openscouter");
    assert!(res.body["result"]["capabilities"]["tools"].is_object());
    let sid = res.header("mcp-session-id").unwrap().to_owned();
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let res = rpc(app, auth, note, &[("mcp-session-id", &sid), ("mcp-protocol-version", "2025-11-25")]).await;
    assert_eq!(res.status, 202, "{}", res.text);
    sid
}

/// `tools/call` in a session; returns the result.
pub(crate) async fn call(app: &TestApp, auth: &str, sid: &str, name: &str, args: Value) -> Value {
    let res = rpc(
        app,
        auth,
        request(7, "tools/call", json!({"name": name, "arguments": args})),
        &[("mcp-session-id", sid)],
    )
    .await;
    assert_eq!(res.status, 200, "{name}: {}", res.text);
    assert_eq!(res.body["id"], 7);
    res.body["result"].clone()
}

fn structured(result: &Value) -> &Value {
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(result["content"][0]["type"], "text");
    let json_text: Value = serde_json::from_str(result["content"][1]["text"].as_str().unwrap()).unwrap();
    assert_eq!(&json_text, &result["structuredContent"]);
    &result["structuredContent"]
}

fn tool_error(result: &Value) -> String {
    assert_eq!(result["isError"], true, "{result}");
    result["content"][0]["text"].as_str().unwrap().to_owned()
}

/// A launched study with one analysed, confirmed session and a study report.
async fn analysed(app: &TestApp) -> Live {
    let live = app.live_session().await;
    let study = app.get(&format!("/api/jobs/{}", live.job), Some(&live.biz.bearer())).await;
    let task = study.ok()["tasks"][1]["taskId"].as_str().unwrap().to_owned();
    app.broken_checkout(&live.sid, &live.tt, &task).await;
    app.analyze_and_confirm_all(&live.sid, &live.biz.bearer(), &live.tester.bearer()).await;
    app.post(&format!("/api/reports/job/{}", live.job), json!({}), Some(&live.biz.bearer())).await.ok();
    app.drain_jobs().await;
    live
}

async fn unauthenticated_calls_get_the_challenge(b: Backend) {
    let Some(app) = app(b).await else { return };
    let body = request(1, "initialize", json!({"protocolVersion": "2025-11-25", "capabilities": {}}));
    let res = app.call(Method::POST, "/api/mcp", Some(body.clone()), &[ACCEPT]).await;
    assert_eq!(res.status, 401);
    let challenge = res.header("www-authenticate").unwrap();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge
            .contains(&format!("resource_metadata=\"{BASE}/.well-known/oauth-protected-resource/api/mcp\"")),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"read draft\""), "{challenge}");
    assert_eq!(res.body["jsonrpc"], "2.0", "a JSON-RPC body, not the envelope: {}", res.text);

    let res = rpc(&app, "Bearer osat_not-a-token", body.clone(), &[]).await;
    assert_eq!(res.status, 401);
    assert!(res.header("www-authenticate").unwrap().contains("error=\"invalid_token\""));

    // a signed-in user's JWT is for the REST API
    let biz = app.signup("business").await;
    let res = rpc(&app, &biz.bearer(), body, &[]).await;
    assert_eq!(res.status, 403, "{}", res.text);
    // no stream on GET
    let res = app.get("/api/mcp", Some(&biz.bearer())).await;
    assert_eq!(res.status, 405);
    assert_eq!(res.header("allow"), Some("POST, DELETE"));
}

async fn handshake_sessions_and_every_tool(b: Backend) {
    let Some(app) = app(b).await else { return };
    let live = analysed(&app).await;
    let (_, access, _) = tokens_for(&app, &live.biz, &["read", "draft"]).await;
    let auth = format!("Bearer {access}");

    // sessions: required after initialize, and bound to their user
    let res = rpc(&app, &auth, request(1, "tools/list", json!({})), &[]).await;
    assert_eq!(res.status, 400, "{}", res.text);
    let res =
        rpc(&app, &auth, request(1, "tools/list", json!({})), &[("mcp-session-id", "mcps_unknown")]).await;
    assert_eq!(res.status, 404);
    let sid = initialize(&app, &auth).await;
    let other = app.signup("business").await;
    let (_, other_access, _) = tokens_for(&app, &other, &["read"]).await;
    let res = rpc(
        &app,
        &format!("Bearer {other_access}"),
        request(1, "ping", json!({})),
        &[("mcp-session-id", &sid)],
    )
    .await;
    assert_eq!(res.status, 404, "another user's session is unknown to them");

    let res = rpc(&app, &auth, request(1, "ping", json!({})), &[("mcp-session-id", &sid)]).await;
    assert_eq!(res.body, json!({"jsonrpc": "2.0", "id": 1, "result": {}}));
    let res = rpc(&app, &auth, request(2, "tools/list", json!({})), &[("mcp-session-id", &sid)]).await;
    let tools = res.body["result"]["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 7);
    for t in tools {
        assert!(t["outputSchema"].is_object() && t["inputSchema"].is_object(), "{t}");
    }
    let res = rpc(&app, &auth, request(3, "resources/list", json!({})), &[("mcp-session-id", &sid)]).await;
    assert_eq!(res.body["error"]["code"], -32601);

    let s = structured(&call(&app, &auth, &sid, "list_studies", json!({})).await).clone();
    assert_eq!(s["total"], 1);
    assert_eq!(s["studies"][0]["study_id"], json!(live.job));
    assert_eq!(s["studies"][0]["dashboard_url"], format!("{BASE}/app/studies/{}", live.job));
    let s = structured(&call(&app, &auth, &sid, "list_studies", json!({"status": "draft"})).await).clone();
    assert_eq!(s["total"], 0);
    let err = tool_error(&call(&app, &auth, &sid, "list_studies", json!({"status": "nope"})).await);
    assert!(err.starts_with("status:"), "{err}");

    let result = call(&app, &auth, &sid, "get_study", json!({"study_id": live.job})).await;
    let s = structured(&result).clone();
    assert_eq!(s["study"]["tasks"].as_array().unwrap().len(), 2);
    assert!(s["report"]["score"].is_number(), "{s}");
    assert!(!s["findings"].as_array().unwrap().is_empty(), "{s}");
    assert!(result["content"][0]["text"].as_str().unwrap().contains("score"));

    let s = structured(&call(&app, &auth, &sid, "list_tests", json!({"study_id": live.job})).await).clone();
    assert_eq!(s["total"], 1);
    assert_eq!(s["tests"][0]["test_id"], json!(live.sid));
    assert_eq!(s["tests"][0]["tester_label"], "Tester 1");
    assert!(["confirmed", "reported"].contains(&s["tests"][0]["pipeline_status"].as_str().unwrap()), "{s}");
    let s = structured(&call(&app, &auth, &sid, "list_tests", json!({})).await).clone();
    assert_eq!(s["total"], 1);

    let s = structured(&call(&app, &auth, &sid, "get_test", json!({"test_id": live.sid})).await).clone();
    assert_eq!(s["test"]["status"], "confirmed");
    assert!(s["analysis"]["overall_frustration_score"].is_number(), "{s}");

    let s = structured(&call(&app, &auth, &sid, "get_analytics", json!({"test_id": live.sid})).await).clone();
    assert!(s["overall"].is_number() && s["interaction"].is_number(), "{s}");

    let s = structured(&call(&app, &auth, &sid, "get_insights", json!({"test_id": live.sid})).await).clone();
    let insight = &s["insights"][0];
    assert!(insight["severity"].is_string() && insight["recommendation"].is_string(), "{s}");
    assert_eq!(insight["decision"], "confirm");
    let s = structured(&call(&app, &auth, &sid, "get_insights", json!({"study_id": live.job})).await).clone();
    assert!(s["total"].as_u64().unwrap() >= 1);
    let err = tool_error(&call(&app, &auth, &sid, "get_insights", json!({})).await);
    assert!(err.contains("exactly one"), "{err}");

    let result = call(
        &app,
        &auth,
        &sid,
        "create_draft_study",
        json!({"title": "Sign-up flow", "target_url": "https://app.example.com/signup", "max_testers": 4,
               "pay_per_session": 30, "tasks": ["Create an account"], "required_nd_categories": ["adhd"]}),
    )
    .await;
    let s = structured(&result).clone();
    assert_eq!(s["status"], "draft");
    let draft = s["study_id"].as_str().unwrap();
    assert_eq!(s["dashboard_url"], format!("{BASE}/app/studies/{draft}"));
    let rest = app.get(&format!("/api/jobs/{draft}"), Some(&live.biz.bearer())).await;
    assert_eq!(rest.ok()["status"], "draft", "never launched");
    assert_eq!(rest.ok()["targeting"]["testerCount"], 4);
    // the study rules of POST /api/jobs apply as they are
    let err = tool_error(
        &call(&app, &auth, &sid, "create_draft_study", json!({"title": "No", "target_url": "https://x.io"}))
            .await,
    );
    assert_eq!(err, "title: must be 3-100 characters");
    let err = tool_error(
        &call(
            &app,
            &auth,
            &sid,
            "create_draft_study",
            json!({"title": "Fine title", "target_url": "ftp://x"}),
        )
        .await,
    );
    assert!(err.starts_with("prototypeUrl:"), "{err}");

    // unknown tool: a protocol error
    let res = rpc(
        &app,
        &auth,
        request(9, "tools/call", json!({"name": "launch_study", "arguments": {}})),
        &[("mcp-session-id", &sid)],
    )
    .await;
    assert_eq!(res.body["error"]["code"], -32602);

    // testers never appear but as labels
    let res = rpc(
        &app,
        &auth,
        request(8, "tools/call", json!({"name": "list_tests", "arguments": {}})),
        &[("mcp-session-id", &sid)],
    )
    .await;
    assert!(!res.text.contains(&live.tester.user_id) && !res.text.contains(&live.tester.email));

    // SSE when that is all the client takes; 406 when it takes neither
    let res = app
        .call(
            Method::POST,
            "/api/mcp",
            Some(request(4, "ping", json!({}))),
            &[("authorization", &auth), ("accept", "text/event-stream"), ("mcp-session-id", &sid)],
        )
        .await;
    assert_eq!(res.header("content-type"), Some("text/event-stream"));
    assert!(res.text.starts_with("event: message\ndata: {"), "{}", res.text);
    assert!(res.text.contains("\"id\":4"));
    let res = app
        .call(
            Method::POST,
            "/api/mcp",
            Some(request(4, "ping", json!({}))),
            &[("authorization", &auth), ("accept", "text/html")],
        )
        .await;
    assert_eq!(res.status, 406);
    // malformed bodies
    let res = app
        .call_from(
            "127.0.0.1",
            Method::POST,
            "/api/mcp",
            Some("{nope".into()),
            &[("authorization", &auth), ACCEPT],
        )
        .await;
    assert_eq!((res.status.as_u16(), res.body["error"]["code"].clone()), (400, json!(-32700)));
    let res = rpc(&app, &auth, json!([request(1, "ping", json!({}))]), &[]).await;
    assert_eq!((res.status.as_u16(), res.body["error"]["code"].clone()), (400, json!(-32600)));

    // DELETE ends the session
    let end = app.send(Method::DELETE, "/api/mcp", None, &auth).await;
    assert_eq!(end.status, 400, "no session named");
    let res = app
        .call(Method::DELETE, "/api/mcp", None, &[("authorization", &auth), ("mcp-session-id", &sid)])
        .await;
    assert_eq!(res.status, 204);
    let res = rpc(&app, &auth, request(1, "ping", json!({})), &[("mcp-session-id", &sid)]).await;
    assert_eq!(res.status, 404);
    let res = app
        .call(Method::DELETE, "/api/mcp", None, &[("authorization", &auth), ("mcp-session-id", &sid)])
        .await;
    assert_eq!(res.status, 404);
}

fn modern(id: i64, method: &str, mut params: Value) -> Value {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
    });
    request(id, method, params)
}

async fn per_request_era(b: Backend) {
    let Some(app) = app(b).await else { return };
    let biz = app.signup("business").await;
    let (_, access, _) = tokens_for(&app, &biz, &["read", "draft"]).await;
    let auth = format!("Bearer {access}");
    let v = ("mcp-protocol-version", "2026-07-28");

    let res =
        rpc(&app, &auth, modern(1, "server/discover", json!({})), &[v, ("mcp-method", "server/discover")])
            .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let r = &res.body["result"];
    assert_eq!(r["supportedVersions"], json!(["2026-07-28"]));
    assert_eq!(r["resultType"], "complete");
    assert_eq!(r["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "openscouter");
    assert!(res.header("mcp-session-id").is_none(), "no sessions in this era");

    let res = rpc(&app, &auth, modern(2, "tools/list", json!({})), &[v, ("mcp-method", "tools/list")]).await;
    assert_eq!(res.body["result"]["tools"].as_array().unwrap().len(), 7);
    assert_eq!(res.body["result"]["cacheScope"], "private");
    let call = modern(
        3,
        "tools/call",
        json!({"name": "create_draft_study", "arguments": {"title": "Pricing page", "target_url": "https://x.example.com"}}),
    );
    let res = rpc(
        &app,
        &auth,
        call.clone(),
        &[v, ("mcp-method", "tools/call"), ("mcp-name", "create_draft_study")],
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["result"]["resultType"], "complete");
    assert_eq!(res.body["result"]["structuredContent"]["status"], "draft");

    // the envelope and its headers must agree
    let res =
        rpc(&app, &auth, call.clone(), &[v, ("mcp-method", "tools/call"), ("mcp-name", "list_studies")])
            .await;
    assert_eq!((res.status.as_u16(), res.body["error"]["code"].clone()), (400, json!(-32020)));
    let res = rpc(&app, &auth, call, &[v, ("mcp-method", "tools/list")]).await;
    assert_eq!(res.body["error"]["code"], -32020);
    let res = rpc(&app, &auth, request(4, "tools/list", json!({})), &[v, ("mcp-method", "tools/list")]).await;
    assert_eq!((res.status.as_u16(), res.body["error"]["code"].clone()), (400, json!(-32602)));
    let mut future = modern(5, "tools/list", json!({}));
    future["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
    let res =
        rpc(&app, &auth, future, &[("mcp-protocol-version", "2099-01-01"), ("mcp-method", "tools/list")])
            .await;
    assert_eq!((res.status.as_u16(), res.body["error"]["code"].clone()), (400, json!(-32022)));
    let supported = res.body["error"]["data"]["supported"].as_array().unwrap();
    assert!(supported.contains(&json!("2026-07-28")) && supported.contains(&json!("2025-11-25")));
    // `ping` and `initialize` belong to the handshake era
    let res = rpc(&app, &auth, modern(6, "ping", json!({})), &[v, ("mcp-method", "ping")]).await;
    assert_eq!((res.status.as_u16(), res.body["error"]["code"].clone()), (404, json!(-32601)));
    let note = json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}});
    assert_eq!(rpc(&app, &auth, note, &[v]).await.status, 202);
}

async fn scopes_and_tenancy(b: Backend) {
    let Some(app) = app(b).await else { return };
    let live = analysed(&app).await;
    let draft_args = json!({"name": "create_draft_study", "arguments": {"title": "Blocked", "target_url": "https://x.example.com"}});

    // a read-only OAuth token: 403 with the insufficient_scope challenge naming `draft`
    let (_, read_only, _) = tokens_for(&app, &live.biz, &["read"]).await;
    let auth = format!("Bearer {read_only}");
    let sid = initialize(&app, &auth).await;
    let res =
        rpc(&app, &auth, request(1, "tools/call", draft_args.clone()), &[("mcp-session-id", &sid)]).await;
    assert_eq!(res.status, 403, "{}", res.text);
    let challenge = res.header("www-authenticate").unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\"") && challenge.contains("scope=\"draft\""),
        "{challenge}"
    );
    assert!(challenge.contains("resource_metadata="), "{challenge}");
    assert_eq!(res.body["id"], 1);
    // a draft-only token cannot read
    let (_, draft_only, _) = tokens_for(&app, &live.biz, &["draft"]).await;
    let dauth = format!("Bearer {draft_only}");
    let dsid = initialize(&app, &dauth).await;
    let res = rpc(
        &app,
        &dauth,
        request(1, "tools/call", json!({"name": "list_studies"})),
        &[("mcp-session-id", &dsid)],
    )
    .await;
    assert_eq!(res.status, 403);
    assert!(res.header("www-authenticate").unwrap().contains("scope=\"read\""));

    // API tokens: `read` for the read tools, `write` to draft (as POST /api/jobs)
    let tok =
        app.post("/api/tokens", json!({"name": "mcp", "scopes": ["read"]}), Some(&live.biz.bearer())).await;
    let tauth = format!("Token {}", tok.ok()["token"].as_str().unwrap());
    let tsid = initialize(&app, &tauth).await;
    let res = rpc(
        &app,
        &tauth,
        request(1, "tools/call", json!({"name": "list_studies"})),
        &[("mcp-session-id", &tsid)],
    )
    .await;
    assert_eq!(res.body["result"]["structuredContent"]["total"], 1, "{}", res.text);
    let res =
        rpc(&app, &tauth, request(2, "tools/call", draft_args.clone()), &[("mcp-session-id", &tsid)]).await;
    assert_eq!(res.status, 403);
    assert!(res.header("www-authenticate").is_none(), "not a bearer token");
    let tok = app
        .post("/api/tokens", json!({"name": "mcp", "scopes": ["read", "write"]}), Some(&live.biz.bearer()))
        .await;
    let wauth = format!("Token {}", tok.ok()["token"].as_str().unwrap());
    let wsid = initialize(&app, &wauth).await;
    let res = rpc(&app, &wauth, request(3, "tools/call", draft_args), &[("mcp-session-id", &wsid)]).await;
    assert_eq!(res.body["result"]["structuredContent"]["status"], "draft", "{}", res.text);
    // a handshake-era session lasts a day
    app.clock.advance_ms(24 * 60 * 60 * 1000 - 1);
    assert_eq!(
        rpc(&app, &wauth, request(4, "ping", json!({})), &[("mcp-session-id", &wsid)]).await.status,
        200
    );
    app.clock.advance_ms(1);
    assert_eq!(
        rpc(&app, &wauth, request(5, "ping", json!({})), &[("mcp-session-id", &wsid)]).await.status,
        404
    );

    // another organization's token sees nothing of this one
    let other = app.signup("business").await;
    let (_, foreign, _) = tokens_for(&app, &other, &["read", "draft"]).await;
    let fauth = format!("Bearer {foreign}");
    let fsid = initialize(&app, &fauth).await;
    let s = structured(&call(&app, &fauth, &fsid, "list_studies", json!({})).await).clone();
    assert_eq!(s["total"], 0);
    let s = structured(&call(&app, &fauth, &fsid, "list_tests", json!({})).await).clone();
    assert_eq!(s["total"], 0);
    for (tool, args, what) in [
        ("get_study", json!({"study_id": live.job}), "Study not found"),
        ("list_tests", json!({"study_id": live.job}), "Study not found"),
        ("get_test", json!({"test_id": live.sid}), "Session not found"),
        ("get_analytics", json!({"test_id": live.sid}), "Session not found"),
        ("get_insights", json!({"test_id": live.sid}), "Session not found"),
        ("get_insights", json!({"study_id": live.job}), "Study not found"),
    ] {
        assert_eq!(tool_error(&call(&app, &fauth, &fsid, tool, args).await), what, "{tool}");
    }
}
