//! The MCP server of spec §9 over Streamable HTTP: JSON-RPC 2.0 messages in, results out.
//!
//! Two eras of the protocol share the endpoint. The handshake era (2025-03-26 … 2025-11-25):
//! `initialize` opens a session (`Mcp-Session-Id`, kept in the store so any API node serves
//! it), then `ping`, `tools/list`, `tools/call`. The per-request era (2026-07-28, chosen by the
//! `MCP-Protocol-Version` header): no session, `server/discover`, and every request carries its
//! protocol version and client capabilities in `params._meta`, mirrored in headers.
//!
//! The seven tools of published-docs §3.11 call the same services as the REST routes; this
//! module only adapts arguments and results (snake_case, testers as labels only).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa::openapi::schema::{Array, ArrayBuilder, Object, ObjectBuilder, Type};

use crate::app::App;
use crate::auth::principal::{AuthMethod, Principal};
use crate::domain::codes::ND_CATEGORIES;
use crate::domain::ids::{SessionId, StudyId, new_id, prefix};
use crate::domain::study::{
    Compensation, CompensationType, PrototypeType, Settings, StudyDefinition, Targeting, TaskIn,
};
use crate::domain::{OAuthScope, PipelineStatus, Scope, SessionStatus, StudyStatus, format_ms};
use crate::error::AppError;
use crate::services::analysis_input::{nd_categories, tester_label};
use crate::services::sessions::{SessionFilter, duration_seconds};
use crate::services::{pipeline, reports, sessions, studies};
use crate::store::{FindingRow, McpSession, Page, Session, Study};

/// Handshake-era revisions served, newest first.
pub const HANDSHAKE_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];
/// Per-request-era revisions served.
pub const MODERN_VERSIONS: [&str; 1] = ["2026-07-28"];
/// A handshake-era session lasts a day; then the client is told 404 and initializes again.
pub const SESSION_TTL_MS: i64 = 24 * 60 * 60 * 1000;

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const HEADER_MISMATCH: i64 = -32020;
const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
const PROTOCOL_VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
const CLIENT_CAPABILITIES_KEY: &str = "io.modelcontextprotocol/clientCapabilities";
const SERVER_INFO_KEY: &str = "io.modelcontextprotocol/serverInfo";

const INSTRUCTIONS: &str = "OpenScouter runs usability studies with neurodivergent testers. A study (study_id, job_…) \
has tests (test_id, sess_…), one per tester; testers appear only as labels such as \"Tester 2\". \
Insights are barriers found in tests, each with a severity and a recommendation. create_draft_study \
only drafts: a person reviews, pays and launches it in the dashboard.";

/// The transport facts of one POST, read from its headers at the edge.
#[derive(Debug, Clone, Default)]
pub struct McpCall {
    /// The public origin (for `dashboard_url`).
    pub base: String,
    /// `MCP-Protocol-Version`.
    pub protocol_version: Option<String>,
    /// `Mcp-Session-Id`.
    pub session_id: Option<String>,
    /// `Mcp-Method` (per-request era).
    pub method: Option<String>,
    /// `Mcp-Name` (per-request era).
    pub name: Option<String>,
    /// A routing header that came more than once, if any.
    pub duplicated: Option<String>,
}

impl McpCall {
    /// True when the request speaks the per-request era (a version header that is not a
    /// handshake revision; unknown values go there too, to be told what is supported).
    pub fn modern(&self) -> bool {
        self.protocol_version.as_deref().is_some_and(|v| !HANDSHAKE_VERSIONS.contains(&v))
    }
}

/// How a JSON-RPC answer maps onto HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A result, or an error the protocol answers with 200.
    Ok,
    /// Malformed, header mismatch, unsupported version (400).
    Invalid,
    /// Unknown method in the per-request era (404).
    MethodNotFound,
}

/// What to send back.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A JSON-RPC response, and the session `initialize` opened.
    Message { outcome: Outcome, body: Value, session_id: Option<String> },
    /// A notification or the client's response to us: accepted, no body (202).
    Accepted,
}

/// A request-level failure (the HTTP status says it; the body is a JSON-RPC error).
#[derive(Debug)]
pub enum McpError {
    /// The credential lacks `needed` (403 with an `insufficient_scope` challenge).
    InsufficientScope { needed: &'static str, message: String },
    /// Anything else: missing session (400), unknown session (404), wrong credential kind
    /// (403), store trouble (503), unexpected (500).
    App(AppError),
}

impl From<AppError> for McpError {
    fn from(e: AppError) -> Self {
        Self::App(e)
    }
}

impl From<crate::store::StoreError> for McpError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::App(e.into())
    }
}

/// A JSON-RPC error response.
pub fn error_body(id: Value, code: i64, message: &str, data: Option<Value>) -> Value {
    let mut error = json!({"code": code, "message": message});
    if let Some(d) = data {
        error["data"] = d;
    }
    json!({"jsonrpc": "2.0", "id": id, "error": error})
}

/// The answer to a body that is not JSON.
pub fn parse_error() -> Value {
    error_body(Value::Null, PARSE_ERROR, "Parse error", None)
}

fn result_body(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

fn invalid(id: Value, code: i64, message: &str, data: Option<Value>) -> Reply {
    Reply::Message { outcome: Outcome::Invalid, body: error_body(id, code, message, data), session_id: None }
}

fn ok(id: Value, result: Value) -> Reply {
    Reply::Message { outcome: Outcome::Ok, body: result_body(id, result), session_id: None }
}

// --- who may do what

/// What the caller's credential allows on MCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// The read tools: OAuth `read`, or an API token's `read`.
    Read,
    /// `create_draft_study`: OAuth `draft`, or an API token's `write` (as `POST /api/jobs`).
    Draft,
}

/// MCP takes OAuth access tokens and API tokens (spec §9); signed-in users and test tokens
/// use the REST API.
fn check_credential(p: &Principal) -> Result<(), McpError> {
    match p.method {
        AuthMethod::OAuth { .. } | AuthMethod::ApiToken { .. } => Ok(()),
        AuthMethod::Jwt { .. } | AuthMethod::TestToken { .. } | AuthMethod::Telegram { .. } => {
            Err(McpError::App(AppError::Forbidden(
                "MCP takes an OAuth access token (Bearer osat_…) or an API token (Token ost_…)".into(),
            )))
        }
    }
}

fn require(p: &Principal, need: Need) -> Result<(), McpError> {
    let (allowed, needed) = match (&p.method, need) {
        (AuthMethod::OAuth { scopes, .. }, Need::Read) => (scopes.contains(&OAuthScope::Read), "read"),
        (AuthMethod::OAuth { scopes, .. }, Need::Draft) => (scopes.contains(&OAuthScope::Draft), "draft"),
        (AuthMethod::ApiToken { scopes, .. }, Need::Read) => (scopes.contains(&Scope::Read), "read"),
        (AuthMethod::ApiToken { scopes, .. }, Need::Draft) => (scopes.contains(&Scope::Write), "write"),
        _ => (false, "read"),
    };
    if allowed {
        Ok(())
    } else {
        Err(McpError::InsufficientScope { needed, message: format!("This token lacks the {needed} scope") })
    }
}

// --- sessions

/// Ends a handshake-era session of the caller (`DELETE /api/mcp`).
pub async fn end_session(state: &App, p: &Principal, session_id: Option<&str>) -> Result<(), McpError> {
    check_credential(p)?;
    let id = session_id.ok_or_else(|| AppError::BadRequest("Mcp-Session-Id header is required".into()))?;
    if state.store.end_mcp_session(id, &p.user_id, state.now()).await? {
        Ok(())
    } else {
        Err(AppError::NotFound("Session not found".into()).into())
    }
}

/// The caller's live session named by the header: 400 without one, 404 when unknown, ended,
/// older than a day, or another user's.
async fn session_of(state: &App, p: &Principal, call: &McpCall) -> Result<McpSession, McpError> {
    let id = call
        .session_id
        .as_deref()
        .ok_or_else(|| AppError::BadRequest("Mcp-Session-Id header is required".into()))?;
    let now = state.now();
    match state.store.get_mcp_session(id).await? {
        Some(s) if s.ended_at.is_none() && s.user_id == p.user_id && now - s.created_at < SESSION_TTL_MS => {
            Ok(s)
        }
        _ => Err(AppError::NotFound("Session not found".into()).into()),
    }
}

// --- dispatch

/// Handles one JSON-RPC message from an authenticated caller.
pub async fn handle(state: &App, p: &Principal, call: &McpCall, message: Value) -> Result<Reply, McpError> {
    check_credential(p)?;
    let Value::Object(msg) = message else {
        return Ok(invalid(
            Value::Null,
            INVALID_REQUEST,
            "Body must be a single JSON-RPC request or notification",
            None,
        ));
    };
    if msg.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        let id = msg.get("id").cloned().unwrap_or(Value::Null);
        return Ok(invalid(id, INVALID_REQUEST, "jsonrpc must be \"2.0\"", None));
    }
    let method = msg.get("method").and_then(Value::as_str).map(str::to_owned);
    let Some(method) = method else {
        // A response to a server request: we send none, so there is nothing to match it to.
        if msg.contains_key("result") || msg.contains_key("error") {
            return Ok(Reply::Accepted);
        }
        let id = msg.get("id").cloned().unwrap_or(Value::Null);
        return Ok(invalid(id, INVALID_REQUEST, "method is required", None));
    };
    let params = msg.get("params").cloned().unwrap_or(Value::Null);
    let Some(id) = msg.get("id").cloned() else {
        return notification(state, p, call).await;
    };
    if !(id.is_string() || id.is_i64() || id.is_u64()) {
        return Ok(invalid(Value::Null, INVALID_REQUEST, "id must be a string or an integer", None));
    }
    if call.modern() {
        modern_request(state, p, call, id, &method, params).await
    } else {
        handshake_request(state, p, call, id, &method, params).await
    }
}

async fn notification(state: &App, p: &Principal, call: &McpCall) -> Result<Reply, McpError> {
    if call.modern() {
        let v = call.protocol_version.as_deref().unwrap_or_default();
        if !MODERN_VERSIONS.contains(&v) {
            return Ok(unsupported_version(Value::Null, v));
        }
    } else {
        session_of(state, p, call).await?;
    }
    Ok(Reply::Accepted)
}

/// `-32022`, naming every revision served (handshake ones too, so a client can fall back to
/// `initialize`).
fn unsupported_version(id: Value, requested: &str) -> Reply {
    let mut supported: Vec<&str> = MODERN_VERSIONS.to_vec();
    supported.extend(HANDSHAKE_VERSIONS);
    invalid(
        id,
        UNSUPPORTED_PROTOCOL_VERSION,
        "Unsupported protocol version",
        Some(json!({"supported": supported, "requested": requested})),
    )
}

fn server_info() -> Value {
    json!({"name": "openscouter", "title": "OpenScouter", "version": env!("CARGO_PKG_VERSION")})
}

fn capabilities() -> Value {
    json!({"tools": {"listChanged": false}})
}

async fn handshake_request(
    state: &App,
    p: &Principal,
    call: &McpCall,
    id: Value,
    method: &str,
    params: Value,
) -> Result<Reply, McpError> {
    if method == "initialize" {
        let requested = params.get("protocolVersion").and_then(Value::as_str).unwrap_or_default();
        // The client's revision when served, else our newest; the client then decides.
        let version =
            HANDSHAKE_VERSIONS.iter().find(|v| **v == requested).copied().unwrap_or(HANDSHAKE_VERSIONS[0]);
        let client_name =
            params.pointer("/clientInfo/name").and_then(Value::as_str).map(|n| n.chars().take(100).collect());
        let now = state.now();
        let session = McpSession {
            id: new_id(prefix::MCP_SESSION, now),
            user_id: p.user_id.clone(),
            protocol_version: version.to_owned(),
            client_name,
            created_at: now,
            ended_at: None,
        };
        state.store.create_mcp_session(session.clone()).await?;
        let result = json!({
            "protocolVersion": version,
            "capabilities": capabilities(),
            "serverInfo": server_info(),
            "instructions": INSTRUCTIONS,
        });
        return Ok(Reply::Message {
            outcome: Outcome::Ok,
            body: result_body(id, result),
            session_id: Some(session.id),
        });
    }
    session_of(state, p, call).await?;
    match method {
        "ping" => Ok(ok(id, json!({}))),
        "tools/list" => Ok(ok(id, json!({"tools": tool_list()}))),
        "tools/call" => {
            let result = call_tool(state, p, call, &id, &params).await?;
            Ok(match result {
                Ok(r) => ok(id, r),
                Err(reply) => reply,
            })
        }
        _ => Ok(Reply::Message {
            outcome: Outcome::Ok,
            body: error_body(id, METHOD_NOT_FOUND, &format!("Method not found: {method}"), None),
            session_id: None,
        }),
    }
}

async fn modern_request(
    state: &App,
    p: &Principal,
    call: &McpCall,
    id: Value,
    method: &str,
    params: Value,
) -> Result<Reply, McpError> {
    if let Some(h) = &call.duplicated {
        return Ok(invalid(id, HEADER_MISMATCH, &format!("{h} header appears more than once"), None));
    }
    let meta = params.get("_meta").and_then(Value::as_object);
    let Some(meta) =
        meta.filter(|m| m.contains_key(PROTOCOL_VERSION_KEY) && m.contains_key(CLIENT_CAPABILITIES_KEY))
    else {
        return Ok(invalid(
            id,
            INVALID_PARAMS,
            &format!("params._meta must carry {PROTOCOL_VERSION_KEY} and {CLIENT_CAPABILITIES_KEY}"),
            None,
        ));
    };
    let version = meta.get(PROTOCOL_VERSION_KEY).and_then(Value::as_str);
    if version.is_none() || call.protocol_version.as_deref() != version {
        return Ok(invalid(
            id,
            HEADER_MISMATCH,
            "mcp-protocol-version header does not match params._meta",
            None,
        ));
    }
    if call.method.as_deref() != Some(method) {
        return Ok(invalid(
            id,
            HEADER_MISMATCH,
            "mcp-method header does not match the request's method",
            None,
        ));
    }
    if method == "tools/call"
        && let Some(name) = params.get("name").and_then(Value::as_str)
        && call.name.as_deref() != Some(name)
    {
        return Ok(invalid(id, HEADER_MISMATCH, "mcp-name header does not match the tool's name", None));
    }
    let version = version.unwrap_or_default();
    if !MODERN_VERSIONS.contains(&version) {
        return Ok(unsupported_version(id, version));
    }
    let stamp = |mut result: Value| {
        result["resultType"] = json!("complete");
        result["_meta"] = json!({ SERVER_INFO_KEY: server_info() });
        result
    };
    match method {
        "server/discover" => {
            let result = json!({
                "supportedVersions": MODERN_VERSIONS,
                "capabilities": capabilities(),
                "instructions": INSTRUCTIONS,
                "ttlMs": 0,
                "cacheScope": "private",
            });
            Ok(ok(id, stamp(result)))
        }
        "tools/list" => Ok(ok(id, stamp(json!({"tools": tool_list(), "ttlMs": 0, "cacheScope": "private"})))),
        "tools/call" => {
            let result = call_tool(state, p, call, &id, &params).await?;
            Ok(match result {
                Ok(r) => ok(id, stamp(r)),
                Err(reply) => reply,
            })
        }
        _ => Ok(Reply::Message {
            outcome: Outcome::MethodNotFound,
            body: error_body(id, METHOD_NOT_FOUND, &format!("Method not found: {method}"), None),
            session_id: None,
        }),
    }
}

// --- tools

/// A tool's declaration for `tools/list`: its schemas are generated from the Rust types that
/// parse its arguments and serialise its result ([`json_schema`]), so they cannot drift.
struct ToolDef {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    read_only: bool,
    input: Value,
    output: Value,
}

impl ToolDef {
    fn of<I: ToSchema, O: ToSchema>(
        name: &'static str,
        title: &'static str,
        description: &'static str,
        read_only: bool,
    ) -> Self {
        ToolDef { name, title, description, read_only, input: json_schema::<I>(), output: json_schema::<O>() }
    }
}

/// A self-contained JSON Schema (2020-12, as OpenAPI 3.1 writes it) for `T`: utoipa's schema
/// with every `#/components/schemas/…` reference replaced by the schema it names, since a
/// tool's `inputSchema`/`outputSchema` has no components to point into (decision 211).
fn json_schema<T: ToSchema>() -> Value {
    let mut parts = Vec::new();
    T::schemas(&mut parts);
    let defs: BTreeMap<String, Value> = parts
        .into_iter()
        .map(|(name, schema)| (name, serde_json::to_value(schema).unwrap_or(Value::Null)))
        .collect();
    let mut root = serde_json::to_value(T::schema()).unwrap_or(Value::Null);
    inline_refs(&mut root, &defs, 0);
    root
}

fn inline_refs(v: &mut Value, defs: &BTreeMap<String, Value>, depth: usize) {
    match v {
        Value::Object(m) => {
            let named = m
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .and_then(|n| defs.get(n));
            if let Some(def) = named.filter(|_| depth < 16) {
                let mut def = def.clone();
                inline_refs(&mut def, defs, depth + 1);
                *v = def;
                return;
            }
            for x in m.values_mut() {
                inline_refs(x, defs, depth);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| inline_refs(x, defs, depth)),
        _ => {}
    }
}

/// `string`, one of the engine's severities.
fn severity_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["critical", "major", "moderate", "minor"]))
        .build()
}

/// An array of ND categories, each one of `ND_CATEGORIES`.
fn nd_categories_schema() -> Array {
    ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(ND_CATEGORIES)))
        .build()
}

/// The described tools, in `tools/list` order.
fn tools() -> Vec<ToolDef> {
    vec![
        ToolDef::of::<ListStudiesArgs, StudyList>(
            "list_studies",
            "List studies",
            "The workspace's studies, newest first, optionally by status.",
            true,
        ),
        ToolDef::of::<StudyArgs, StudyOut>(
            "get_study",
            "Get a study",
            "One study with its tasks, test count, and its aggregated cross-tester report and findings once produced.",
            true,
        ),
        ToolDef::of::<ListTestsArgs, TestList>(
            "list_tests",
            "List tests",
            "Tests (one per tester), newest first, each with its pipeline status; optionally of one study. Testers appear only as labels.",
            true,
        ),
        ToolDef::of::<TestArgs, TestOut>(
            "get_test",
            "Get a test",
            "One test: its status, pipeline stage and latest analysis summary.",
            true,
        ),
        ToolDef::of::<TestArgs, AnalyticsOut>(
            "get_analytics",
            "Get a test's analytics",
            "Composite scores of an analysed test: overall, emotion, interaction, voice (0–1).",
            true,
        ),
        ToolDef::of::<InsightsArgs, InsightsOut>(
            "get_insights",
            "Get insights",
            "Insights (barriers) of one test, or the combined findings of a study's report. Give exactly one of test_id and study_id. Each has a severity and a recommendation.",
            true,
        ),
        ToolDef::of::<DraftArgs, DraftOut>(
            "create_draft_study",
            "Create a draft study",
            "Creates a study as a draft and returns its dashboard_url, where a person reviews, pays for and launches it. Never launches, pays, spends or recruits. Defaults: one exploratory task, 5 testers, GBP 24.00 per session, testers in GB, any ND category.",
            false,
        ),
    ]
}

/// `tools/list`'s `tools`.
pub fn tool_list() -> Vec<Value> {
    tools()
        .into_iter()
        .map(|t| {
            json!({
                "name": t.name,
                "title": t.title,
                "description": t.description,
                "inputSchema": t.input,
                "outputSchema": t.output,
                "annotations": {
                    "title": t.title,
                    "readOnlyHint": t.read_only,
                    "destructiveHint": false,
                    "idempotentHint": t.read_only,
                    "openWorldHint": false,
                },
            })
        })
        .collect()
}

/// A tool's successful result: a text summary, the JSON (for clients that only read text),
/// and `structuredContent` matching the tool's `outputSchema`.
fn tool_result(summary: String, structured: Value) -> Value {
    json!({
        "content": [
            {"type": "text", "text": summary},
            {"type": "text", "text": structured.to_string()},
        ],
        "structuredContent": structured,
        "isError": false,
    })
}

/// A tool's failure the model can act on ("Study not found", a validation message).
fn tool_error(message: &str) -> Value {
    json!({"content": [{"type": "text", "text": message}], "isError": true})
}

/// Runs `tools/call`. `Ok(Err(reply))` is a protocol error (unknown tool); request-level
/// failures (scope, store) are `Err`; a tool's own failure is a result with `isError`.
async fn call_tool(
    state: &App,
    p: &Principal,
    call: &McpCall,
    id: &Value,
    params: &Value,
) -> Result<Result<Value, Reply>, McpError> {
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        return Ok(Err(invalid(id.clone(), INVALID_PARAMS, "params.name is required", None)));
    };
    let args = match params.get("arguments") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(a @ Value::Object(_)) => a.clone(),
        Some(_) => return Ok(Ok(tool_error("Invalid arguments: arguments must be an object"))),
    };
    let Some(def) = tools().into_iter().find(|t| t.name == name) else {
        let body = error_body(id.clone(), INVALID_PARAMS, &format!("Unknown tool: {name}"), None);
        // The handshake era answers protocol errors with 200, the per-request era with 400.
        let outcome = if call.modern() { Outcome::Invalid } else { Outcome::Ok };
        return Ok(Err(Reply::Message { outcome, body, session_id: None }));
    };
    require(p, if def.read_only { Need::Read } else { Need::Draft })?;
    let run = run_tool(state, p, &call.base, name, args).await;
    match run {
        Ok((summary, structured)) => Ok(Ok(tool_result(summary, structured))),
        Err(e @ (AppError::Internal(_) | AppError::Unavailable(_) | AppError::StoreOutage { .. })) => {
            Err(McpError::App(e))
        }
        Err(e) => Ok(Ok(tool_error(&e.to_string()))),
    }
}

fn args<T: for<'de> Deserialize<'de>>(v: Value) -> Result<T, AppError> {
    serde_json::from_value(v).map_err(|e| AppError::BadRequest(format!("Invalid arguments: {e}")))
}

/// A tool's result: the summary text and the structured content, serialised from its type.
fn done<T: Serialize>(summary: String, out: &T) -> Result<(String, Value), AppError> {
    let v = serde_json::to_value(out).map_err(|e| AppError::Internal(format!("tool result: {e}")))?;
    Ok((summary, v))
}

/// `list_studies` arguments.
#[derive(Deserialize, ToSchema)]
struct ListStudiesArgs {
    /// Only the studies in this status.
    #[schema(value_type = Option<StudyStatus>)]
    status: Option<String>,
    /// How many (1-100, default 20).
    #[schema(minimum = 1, maximum = 100, default = 20)]
    limit: Option<u32>,
}

/// One study's id.
#[derive(Deserialize, ToSchema)]
struct StudyArgs {
    /// The study (job_…)
    study_id: String,
}

/// `list_tests` arguments.
#[derive(Deserialize, ToSchema)]
struct ListTestsArgs {
    /// The study (job_…)
    study_id: Option<String>,
    /// How many (1-100, default 20).
    #[schema(minimum = 1, maximum = 100, default = 20)]
    limit: Option<u32>,
}

/// One test's id.
#[derive(Deserialize, ToSchema)]
struct TestArgs {
    /// The test (sess_…)
    test_id: String,
}

/// `get_insights` arguments: exactly one of the two.
#[derive(Deserialize, ToSchema)]
struct InsightsArgs {
    /// The test (sess_…)
    test_id: Option<String>,
    /// The study (job_…)
    study_id: Option<String>,
}

/// A task: a title alone, or a title with its description and success criteria.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
enum TaskArg {
    Title(String),
    Full { title: String, description: Option<String>, success_criteria: Option<String> },
}

/// `create_draft_study` arguments; what is not given takes the defaults of the description.
#[derive(Deserialize, ToSchema)]
struct DraftArgs {
    #[schema(min_length = 3, max_length = 100)]
    title: String,
    /// The site or prototype to test
    #[schema(pattern = "^https?://")]
    target_url: String,
    #[schema(max_length = 5000)]
    description: Option<String>,
    #[schema(minimum = 3, maximum = 100, default = 5)]
    max_testers: Option<i64>,
    /// Per tester, in `currency` (default GBP 24.00)
    #[schema(exclusive_minimum = 0)]
    pay_per_session: Option<f64>,
    /// ISO 4217, default GBP
    currency: Option<String>,
    #[schema(max_items = 50)]
    tasks: Option<Vec<TaskArg>>,
    #[schema(schema_with = nd_categories_schema)]
    required_nd_categories: Option<Vec<String>>,
}

/// A study as the tools list it.
#[derive(Serialize, ToSchema)]
struct StudySummary {
    /// job_…
    study_id: String,
    title: String,
    status: StudyStatus,
    target_url: String,
    /// Testers wanted
    max_testers: i64,
    testers_joined: i64,
    test_count: i64,
    tests_confirmed: i64,
    nd_categories: Vec<String>,
    created_at: String,
    launched_at: Option<String>,
    dashboard_url: String,
}

/// `list_studies` result.
#[derive(Serialize, ToSchema)]
struct StudyList {
    studies: Vec<StudySummary>,
    total: u64,
}

/// A study's task.
#[derive(Serialize, ToSchema)]
struct TaskOut {
    task_id: String,
    title: String,
    description: String,
    success_criteria: String,
    order: i64,
}

/// Pay per session.
#[derive(Serialize, ToSchema)]
struct PayOut {
    amount: f64,
    currency: String,
    #[serde(rename = "type")]
    kind: CompensationType,
}

/// A study with its tasks and pay.
#[derive(Serialize, ToSchema)]
struct StudyDetail {
    #[serde(flatten)]
    summary: StudySummary,
    description: String,
    tasks: Vec<TaskOut>,
    pay_per_session: PayOut,
    closed_at: Option<String>,
}

/// The head of a study's latest report.
#[derive(Serialize, ToSchema)]
struct ReportHead {
    report_id: String,
    score: Option<f64>,
    band: Option<String>,
    created_at: String,
}

/// `get_study` result.
#[derive(Serialize, ToSchema)]
struct StudyOut {
    study: StudyDetail,
    report: Option<ReportHead>,
    findings: Vec<Insight>,
}

/// A barrier found: an engine finding, for a model to read.
#[derive(Serialize, ToSchema)]
struct Insight {
    insight_id: String,
    title: String,
    #[schema(schema_with = severity_schema)]
    severity: String,
    recommendation: String,
    description: String,
    wcag: Option<String>,
    testers_affected: i64,
    nd_categories: Vec<String>,
    /// The tester's confirm/reject (tests only)
    decision: Option<String>,
}

/// A test as the tools list it: testers appear only as labels.
#[derive(Serialize, ToSchema)]
struct TestSummary {
    /// sess_…
    test_id: String,
    study_id: String,
    /// Anonymous, stable within the study
    tester_label: String,
    nd_categories: Vec<String>,
    status: SessionStatus,
    pipeline_status: PipelineStatus,
    variant: Option<String>,
    started_at: String,
    completed_at: Option<String>,
    duration_seconds: i64,
}

/// `list_tests` result.
#[derive(Serialize, ToSchema)]
struct TestList {
    tests: Vec<TestSummary>,
    total: u64,
}

/// The head of a test's latest analysis.
#[derive(Serialize, ToSchema)]
struct AnalysisHead {
    status: String,
    overall_frustration_score: Option<f64>,
    summary: Option<String>,
}

/// `get_test` result.
#[derive(Serialize, ToSchema)]
struct TestOut {
    test: TestSummary,
    analysis: Option<AnalysisHead>,
}

/// `get_analytics` result: composite scores, 0–1.
#[derive(Serialize, ToSchema)]
struct AnalyticsOut {
    test_id: String,
    overall: f64,
    emotion: Option<f64>,
    interaction: f64,
    voice: Option<f64>,
}

/// `get_insights` result.
#[derive(Serialize, ToSchema)]
struct InsightsOut {
    test_id: Option<String>,
    study_id: Option<String>,
    insights: Vec<Insight>,
    total: usize,
}

/// `create_draft_study` result.
#[derive(Serialize, ToSchema)]
struct DraftOut {
    study_id: String,
    status: StudyStatus,
    title: String,
    target_url: String,
    max_testers: i64,
    pay_per_session: PayOut,
    nd_categories: Vec<String>,
    task_count: usize,
    dashboard_url: String,
}

fn page(limit: Option<u32>) -> Result<Page, AppError> {
    let limit = limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(AppError::BadRequest("limit: must be 1-100".into()));
    }
    Ok(Page { page: 1, limit })
}

fn dashboard_url(base: &str, study_id: &str) -> String {
    format!("{base}/app/studies/{study_id}")
}

fn study_summary(base: &str, s: &Study) -> StudySummary {
    StudySummary {
        study_id: s.id.to_string(),
        title: s.definition.title.clone(),
        status: s.status,
        target_url: s.definition.prototype_url.clone(),
        max_testers: s.definition.targeting.tester_count,
        testers_joined: s.seats_taken,
        test_count: s.sessions_total,
        tests_confirmed: s.sessions_confirmed,
        nd_categories: s.definition.nd_categories.clone(),
        created_at: format_ms(s.created_at),
        launched_at: s.launched_at.map(format_ms),
        dashboard_url: dashboard_url(base, &s.id),
    }
}

fn test_summary(s: &Session, now: i64) -> TestSummary {
    // Labels only: never the tester's id, name or email.
    TestSummary {
        test_id: s.id.to_string(),
        study_id: s.study_id.to_string(),
        tester_label: tester_label(s),
        nd_categories: nd_categories(s),
        status: s.status,
        pipeline_status: s.pipeline_status,
        variant: s.variant.clone(),
        started_at: format_ms(s.started_at),
        completed_at: s.completed_at.map(format_ms),
        duration_seconds: duration_seconds(s, now),
    }
}

/// An engine finding (camelCase JSON) as an MCP insight.
fn insight(f: &Value, decision: Option<&str>) -> Insight {
    let text = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    Insight {
        insight_id: text("findingId"),
        title: text("title"),
        severity: text("severity"),
        recommendation: text("recommendation"),
        description: text("plainDescription"),
        wcag: f.pointer("/wcag/criterion").and_then(Value::as_str).map(str::to_owned),
        testers_affected: f.get("testersAffected").and_then(Value::as_i64).unwrap_or(0),
        nd_categories: f
            .get("ndCategories")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default(),
        decision: decision.map(str::to_owned),
    }
}

fn session_insight(row: &FindingRow) -> Insight {
    let data: Value = serde_json::from_str(&row.data).unwrap_or(Value::Null);
    insight(&data, row.decision.map(|d| d.as_str()))
}

fn count_by_severity(insights: &[Insight]) -> String {
    if insights.is_empty() {
        return "no insights".into();
    }
    let mut parts = Vec::new();
    for sev in ["critical", "major", "moderate", "minor"] {
        let n = insights.iter().filter(|i| i.severity == sev).count();
        if n > 0 {
            parts.push(format!("{n} {sev}"));
        }
    }
    format!("{} insight(s): {}", insights.len(), parts.join(", "))
}

/// The tools themselves: each calls the services the REST routes call.
async fn run_tool(
    state: &App,
    p: &Principal,
    base: &str,
    name: &str,
    a: Value,
) -> Result<(String, Value), AppError> {
    match name {
        "list_studies" => tool_list_studies(state, p, base, args(a)?).await,
        "get_study" => tool_get_study(state, p, base, args(a)?).await,
        "list_tests" => tool_list_tests(state, p, args(a)?).await,
        "get_test" => tool_get_test(state, p, args(a)?).await,
        "get_analytics" => tool_get_analytics(state, p, args(a)?).await,
        "get_insights" => tool_get_insights(state, p, args(a)?).await,
        "create_draft_study" => tool_create_draft_study(state, p, base, args(a)?).await,
        _ => Err(AppError::NotFound(format!("Unknown tool: {name}"))),
    }
}

/// The `list_studies` tool.
async fn tool_list_studies(
    state: &App,
    p: &Principal,
    base: &str,
    a: ListStudiesArgs,
) -> Result<(String, Value), AppError> {
    let status = match a.status.as_deref() {
        Some(s) => Some(StudyStatus::parse(s).ok_or_else(|| {
            AppError::BadRequest(format!("status: must be one of {}", StudyStatus::list()))
        })?),
        None => None,
    };
    let (rows, total) = studies::list(state, p, status, page(a.limit)?).await?;
    let mut summary = format!("{total} stud{} in the workspace", if total == 1 { "y" } else { "ies" });
    for s in &rows {
        summary.push_str(&format!(
            "\n- {} ({}, {}): {}",
            s.definition.title,
            s.status,
            s.id,
            dashboard_url(base, &s.id)
        ));
    }
    let studies = rows.iter().map(|s| study_summary(base, s)).collect();
    done(summary, &StudyList { studies, total })
}

/// The `get_study` tool.
async fn tool_get_study(
    state: &App,
    p: &Principal,
    base: &str,
    a: StudyArgs,
) -> Result<(String, Value), AppError> {
    let (study, report) = studies::get(state, p, &StudyId::from(a.study_id.as_str())).await?;
    let findings: Vec<Insight> = if report.is_some() {
        reports::study_findings(state, p, &study.id).await?.iter().map(|f| insight(f, None)).collect()
    } else {
        Vec::new()
    };
    let def = &study.definition;
    let detail = StudyDetail {
        summary: study_summary(base, &study),
        description: def.description.clone(),
        tasks: study
            .tasks
            .iter()
            .map(|t| TaskOut {
                task_id: t.id.clone(),
                title: t.title.clone(),
                description: t.description.clone(),
                success_criteria: t.success_criteria.clone(),
                order: t.order,
            })
            .collect(),
        pay_per_session: pay(&def.compensation),
        closed_at: study.closed_at.map(format_ms),
    };
    let report = report.map(|r| ReportHead {
        report_id: r.report_id,
        score: r.score.as_f64(),
        band: r.band.as_str().map(str::to_owned),
        created_at: format_ms(r.created_at),
    });
    let headline = match &report {
        Some(r) => format!(
            "score {} ({})",
            r.score.map_or_else(|| "null".to_owned(), |s| s.to_string()),
            r.band.as_deref().unwrap_or("-")
        ),
        None => "no study report yet".into(),
    };
    let summary = format!(
        "{} ({}), {}: {} of {} testers joined, {} test(s); {}; {}.\nDashboard: {}",
        def.title,
        study.id,
        study.status,
        study.seats_taken,
        def.targeting.tester_count,
        study.sessions_total,
        headline,
        count_by_severity(&findings),
        dashboard_url(base, &study.id)
    );
    done(summary, &StudyOut { study: detail, report, findings })
}

/// The `list_tests` tool.
async fn tool_list_tests(state: &App, p: &Principal, a: ListTestsArgs) -> Result<(String, Value), AppError> {
    let page = page(a.limit)?;
    let (rows, total) = match &a.study_id {
        Some(study) => sessions::list_of_study(state, p, &StudyId::from(study.as_str()), page).await?,
        None => sessions::list(state, p, &SessionFilter::default(), page).await?,
    };
    let now = state.now();
    let mut summary = format!("{total} test(s)");
    for s in &rows {
        summary.push_str(&format!(
            "\n- {} ({}): {}, pipeline {}",
            tester_label(s),
            s.id,
            s.status,
            s.pipeline_status
        ));
    }
    let tests = rows.iter().map(|s| test_summary(s, now)).collect();
    done(summary, &TestList { tests, total })
}

/// The `get_test` tool.
async fn tool_get_test(state: &App, p: &Principal, a: TestArgs) -> Result<(String, Value), AppError> {
    let s = sessions::get(state, p, &SessionId::from(a.test_id.as_str())).await?;
    let analysis = pipeline::latest_analysis(&s).map(|v| AnalysisHead {
        status: v["status"].as_str().unwrap_or("complete").to_owned(),
        overall_frustration_score: v.pointer("/insights/overallFrustrationScore").and_then(Value::as_f64),
        summary: v.pointer("/insights/summary").and_then(Value::as_str).map(str::to_owned),
    });
    let summary = format!(
        "{} ({}) in study {}: {}, pipeline {}{}",
        tester_label(&s),
        s.id,
        s.study_id,
        s.status,
        s.pipeline_status,
        analysis.as_ref().and_then(|a| a.summary.as_deref()).map(|t| format!(". {t}")).unwrap_or_default()
    );
    done(summary, &TestOut { test: test_summary(&s, state.now()), analysis })
}

/// The `get_analytics` tool.
async fn tool_get_analytics(state: &App, p: &Principal, a: TestArgs) -> Result<(String, Value), AppError> {
    let v = pipeline::analytics(state, p, &SessionId::from(a.test_id.as_str())).await?;
    let out = AnalyticsOut {
        overall: v["overall"].as_f64().unwrap_or(0.0),
        emotion: v["emotion"].as_f64(),
        interaction: v["interaction"].as_f64().unwrap_or(0.0),
        voice: v["voice"].as_f64(),
        test_id: a.test_id,
    };
    let show = |x: Option<f64>| x.map_or_else(|| "n/a".to_owned(), |x| format!("{x:.2}"));
    let summary = format!(
        "Test {}: overall {}, emotion {}, interaction {}, voice {}",
        out.test_id,
        show(Some(out.overall)),
        show(out.emotion),
        show(Some(out.interaction)),
        show(out.voice)
    );
    done(summary, &out)
}

/// The `get_insights` tool.
async fn tool_get_insights(state: &App, p: &Principal, a: InsightsArgs) -> Result<(String, Value), AppError> {
    let (insights, subject) = match (&a.test_id, &a.study_id) {
        (Some(test), None) => {
            let rows = pipeline::findings(state, p, &SessionId::from(test.as_str())).await?;
            (rows.iter().map(session_insight).collect::<Vec<_>>(), format!("test {test}"))
        }
        (None, Some(study)) => {
            // Visibility first, so another workspace's study is "not found", not empty.
            let study = StudyId::from(study.as_str());
            studies::get_visible(state, p, &study).await?;
            let f = reports::study_findings(state, p, &study).await?;
            (f.iter().map(|f| insight(f, None)).collect(), format!("study {study}"))
        }
        _ => return Err(AppError::BadRequest("Give exactly one of test_id and study_id".into())),
    };
    let mut summary = format!("{} for {subject}", count_by_severity(&insights));
    for i in &insights {
        summary.push_str(&format!("\n- [{}] {}: {}", i.severity, i.title, i.recommendation));
    }
    let total = insights.len();
    done(summary, &InsightsOut { test_id: a.test_id, study_id: a.study_id, insights, total })
}

/// The `create_draft_study` tool.
async fn tool_create_draft_study(
    state: &App,
    p: &Principal,
    base: &str,
    a: DraftArgs,
) -> Result<(String, Value), AppError> {
    let definition = draft_definition(a);
    let study = studies::create(state, p, definition).await?;
    let def = &study.definition;
    let url = dashboard_url(base, &study.id);
    let summary = format!(
        "Draft study \"{}\" created ({}). Nothing was launched or paid: review, pay for and launch it at {url}",
        def.title, study.id
    );
    let out = DraftOut {
        study_id: study.id.to_string(),
        status: study.status,
        title: def.title.clone(),
        target_url: def.prototype_url.clone(),
        max_testers: def.targeting.tester_count,
        pay_per_session: pay(&def.compensation),
        nd_categories: def.nd_categories.clone(),
        task_count: study.tasks.len(),
        dashboard_url: url,
    };
    done(summary, &out)
}

fn pay(c: &Compensation) -> PayOut {
    PayOut { amount: c.amount, currency: c.currency.clone(), kind: c.kind }
}

/// The study definition a draft gets from the tool's simple arguments; what is not given takes
/// the defaults of docs/decisions.md ("create_draft_study defaults"). The study service then
/// validates it exactly as for `POST /api/jobs`.
fn draft_definition(a: DraftArgs) -> StudyDefinition {
    let url = a.target_url.trim().to_owned();
    let tasks: Vec<TaskIn> = match a.tasks.filter(|t| !t.is_empty()) {
        Some(tasks) => tasks
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let (title, description, success) = match t {
                    TaskArg::Title(title) => (title.clone(), title, None),
                    TaskArg::Full { title, description, success_criteria } => {
                        let d = description.filter(|d| !d.trim().is_empty()).unwrap_or_else(|| title.clone());
                        (title, d, success_criteria)
                    }
                };
                TaskIn {
                    title,
                    description,
                    success_criteria: success
                        .filter(|s| !s.trim().is_empty())
                        .unwrap_or_else(|| "The tester says the task is done".into()),
                    order: i64::try_from(i + 1).unwrap_or(i64::MAX),
                }
            })
            .collect(),
        None => vec![TaskIn {
            title: "Explore the site".into(),
            description: format!(
                "Use {url} as you normally would, thinking aloud about anything that gets in your way."
            ),
            success_criteria: "The tester has tried the site's main journey".into(),
            order: 1,
        }],
    };
    let description = a.description.filter(|d| !d.trim().is_empty()).unwrap_or_else(|| {
        format!("Draft created from an AI assistant for {url}. Review the tasks, targeting and pay before launching.")
    });
    StudyDefinition {
        title: a.title,
        description,
        prototype_url: url,
        prototype_type: PrototypeType::Url,
        tasks,
        targeting: Targeting {
            countries: vec!["GB".into()],
            age_range: None,
            devices: Vec::new(),
            languages: Vec::new(),
            tester_count: a.max_testers.unwrap_or(5),
        },
        nd_categories: a.required_nd_categories.unwrap_or_default(),
        ab_test: None,
        compensation: Compensation {
            currency: a.currency.unwrap_or_else(|| "GBP".into()).to_uppercase(),
            amount: a.pay_per_session.unwrap_or(24.0),
            kind: CompensationType::Flat,
        },
        settings: Settings::default(),
        analysis: None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_declares_object_schemas() {
        let list = tool_list();
        let names: Vec<&str> = list.iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "list_studies",
                "get_study",
                "list_tests",
                "get_test",
                "get_analytics",
                "get_insights",
                "create_draft_study"
            ]
        );
        for t in &list {
            assert_eq!(t["inputSchema"]["type"], "object", "{t}");
            assert_eq!(t["outputSchema"]["type"], "object", "{t}");
            // Self-contained: nothing points into an OpenAPI document's components.
            assert!(!t.to_string().contains("$ref"), "{t}");
        }
    }

    #[test]
    fn schemas_come_from_the_types() {
        let list = tool_list();
        let tool = |n: &str| list.iter().find(|t| t["name"] == n).unwrap().clone();
        let studies = tool("list_studies");
        let status = &studies["inputSchema"]["properties"]["status"];
        assert!(status.to_string().contains("\"in_progress\""), "{status}");
        let limit = &studies["inputSchema"]["properties"]["limit"];
        assert_eq!(
            (limit["minimum"].as_f64(), limit["maximum"].as_f64()),
            (Some(1.0), Some(100.0)),
            "{limit}"
        );
        let summary = studies["outputSchema"]["properties"]["studies"]["items"].clone();
        assert!(summary["properties"]["dashboard_url"].is_object(), "{summary}");
        let draft = tool("create_draft_study");
        let input = &draft["inputSchema"];
        let required: Vec<&str> =
            input["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert_eq!(required, ["title", "target_url"]);
        assert_eq!(input["properties"]["title"]["minLength"], 3);
        assert!(input["properties"]["required_nd_categories"].to_string().contains("\"adhd\""), "{input}");
        let insights = tool("get_insights");
        let sev = &insights["outputSchema"]["properties"]["insights"]["items"]["properties"]["severity"];
        assert!(sev.to_string().contains("\"critical\""), "{sev}");
        // A study's detail carries the summary's fields (flattened) and its own.
        let study = tool("get_study")["outputSchema"]["properties"]["study"].to_string();
        assert!(study.contains("\"study_id\"") && study.contains("\"pay_per_session\""), "{study}");
    }

    #[test]
    fn draft_defaults_validate() {
        let a: DraftArgs =
            serde_json::from_value(json!({"title": "Checkout", "target_url": "https://shop.example.com"}))
                .unwrap();
        let d = draft_definition(a);
        d.validate().unwrap();
        assert_eq!(d.targeting.tester_count, 5);
        assert_eq!(d.compensation.currency, "GBP");
        let a: DraftArgs = serde_json::from_value(json!({
            "title": "Checkout", "target_url": "https://shop.example.com", "max_testers": 8, "pay_per_session": 30,
            "tasks": ["Find socks", {"title": "Pay", "success_criteria": "Paid"}],
            "required_nd_categories": ["adhd"]
        }))
        .unwrap();
        let d = draft_definition(a);
        d.validate().unwrap();
        assert_eq!(d.tasks.len(), 2);
        assert_eq!(d.tasks[1].order, 2);
    }
}
