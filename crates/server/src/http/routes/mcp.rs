//! `/api/mcp`: MCP over Streamable HTTP. The edge reads the transport (credentials, headers,
//! `Accept`, the JSON body), hands the message to `services::mcp`, and writes the answer as
//! JSON or as a one-event SSE stream. Unauthenticated calls get the RFC 9728 challenge.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::well_known::public_base;
use crate::auth::principal::{AuthMethod, AuthOutcome, Principal};
use crate::error::AppError;
use crate::http::error::status_of;
use crate::http::paths::MCP_PATHS;
use crate::http::state::AppState;
use crate::services::mcp::{self, McpCall, McpError, Outcome, Reply};
use crate::services::oauth::resource_metadata_url;

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";
const METHOD_HEADER: &str = "mcp-method";
const NAME_HEADER: &str = "mcp-name";

pub fn router() -> OpenApiRouter<AppState> {
    let documented = OpenApiRouter::new()
        .routes(routes!(mcp_post, mcp_delete))
        .route(MCP_PATHS[0], axum::routing::get(mcp_get));
    MCP_PATHS[1..].iter().fold(documented, |r, path| {
        r.route(path, axum::routing::post(mcp_post).get(mcp_get).delete(mcp_delete))
    })
}

/// What the auth middleware found (the endpoint answers 401 itself, with its challenge).
struct Caller(AuthOutcome);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<AuthOutcome>().cloned().unwrap_or(AuthOutcome::Anonymous)))
    }
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn jsonrpc(status: StatusCode, body: &Value) -> Response {
    let mut res = (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// RFC 6750 §3 challenge naming the protected-resource metadata (RFC 9728 §5.1).
fn challenge(res: &mut Response, base: &str, params: &str) {
    let value = format!("Bearer {params}resource_metadata=\"{}\"", resource_metadata_url(base));
    if let Ok(v) = HeaderValue::from_str(&value) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
}

fn quoted(s: &str) -> String {
    s.chars().filter(|c| *c != '"' && *c != '\\' && !c.is_control()).collect()
}

/// Why a call is not authenticated: the message and the challenge's parameters.
struct Unauthenticated(String, String);

/// The principal, or what the 401 says.
fn authenticated(caller: Caller) -> Result<Principal, Unauthenticated> {
    match caller.0 {
        AuthOutcome::Authenticated(p) => Ok(std::sync::Arc::unwrap_or_clone(p)),
        AuthOutcome::Anonymous => {
            Err(Unauthenticated("Authentication required".to_owned(), "scope=\"read draft\", ".to_owned()))
        }
        AuthOutcome::Rejected(m) => {
            let params = format!("error=\"invalid_token\", error_description=\"{}\", ", quoted(&m));
            Err(Unauthenticated(m, params))
        }
    }
}

/// The 401 with the challenge an MCP client starts OAuth from.
fn unauthorized(u: Unauthenticated, base: &str) -> Response {
    let mut res = jsonrpc(StatusCode::UNAUTHORIZED, &mcp::error_body(Value::Null, -32001, &u.0, None));
    challenge(&mut res, base, &u.1);
    res
}

/// `(json, sse)`: which of the two response types the client accepts (wildcards included).
fn accepts(headers: &HeaderMap) -> (bool, bool) {
    let types: Vec<String> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .collect();
    let any = types.iter().any(|t| t == "*/*");
    let json = any || types.iter().any(|t| t == "application/json" || t == "application/*");
    let sse = any || types.iter().any(|t| t == "text/event-stream" || t == "text/*");
    (json, sse)
}

/// A routing header sent more than once (first and last readers would disagree).
fn duplicated(headers: &HeaderMap) -> Option<String> {
    [VERSION_HEADER, METHOD_HEADER, NAME_HEADER]
        .into_iter()
        .find(|h| headers.get_all(*h).iter().count() > 1)
        .map(str::to_owned)
}

fn failure(e: McpError, id: Value, principal: &Principal, base: &str) -> Response {
    match e {
        McpError::InsufficientScope { needed, message } => {
            let mut res = jsonrpc(StatusCode::FORBIDDEN, &mcp::error_body(id, -32003, &message, None));
            if matches!(principal.method, AuthMethod::OAuth { .. }) {
                let params = format!(
                    "error=\"insufficient_scope\", scope=\"{needed}\", error_description=\"{}\", ",
                    quoted(&message)
                );
                challenge(&mut res, base, &params);
            }
            res
        }
        McpError::App(e) => {
            let status = status_of(&e);
            let (code, message) = match &e {
                AppError::Internal(cause) => {
                    tracing::error!(error = %cause, "MCP request failed");
                    (-32603, "Internal error".to_owned())
                }
                AppError::Unavailable(_) | AppError::StoreOutage { .. } => {
                    (-32603, "Service temporarily unavailable".to_owned())
                }
                AppError::BadRequest(m) => (-32600, m.clone()),
                other => (-32001, other.to_string()),
            };
            jsonrpc(status, &mcp::error_body(id, code, &message, None))
        }
    }
}

/// One JSON-RPC message (request, notification or response) per POST. Requests are answered
/// with `application/json`, or with a one-event `text/event-stream` when that is all the client
/// accepts; `initialize` opens a session (`Mcp-Session-Id`); notifications get 202. The same
/// endpoint answers at `/api/mcp/` and `/api/mcp/mcp`; browsers may call it from any origin.
#[utoipa::path(post, path = "/api/mcp", tag = "mcp", security(("oauth" = ["read"]), ("token" = ["read"])),
    request_body(content = Object, description = "A JSON-RPC 2.0 message: initialize, ping, tools/list, tools/call, server/discover"),
    responses((status = 200, description = "JSON-RPC response (application/json or text/event-stream)", body = Object),
        (status = 202, description = "Notification accepted"),
        (status = 400, description = "Parse error, invalid request, missing Mcp-Session-Id, header mismatch, unsupported protocol version", body = Object),
        (status = 401, description = "No valid credential; WWW-Authenticate names the protected-resource metadata", body = Object),
        (status = 403, description = "Insufficient scope (WWW-Authenticate: error=\"insufficient_scope\"), or a credential MCP does not take", body = Object),
        (status = 404, description = "Unknown or ended session; unknown method (2026-07-28)", body = Object),
        (status = 406, description = "Accept allows neither application/json nor text/event-stream")))]
async fn mcp_post(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let base = public_base(&state, &headers);
    let principal = match authenticated(caller) {
        Ok(p) => p,
        Err(u) => return unauthorized(u, &base),
    };
    let (json_ok, sse_ok) = accepts(&headers);
    if !json_ok && !sse_ok {
        return jsonrpc(
            StatusCode::NOT_ACCEPTABLE,
            &mcp::error_body(Value::Null, -32600, "Accept application/json or text/event-stream", None),
        );
    }
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return jsonrpc(StatusCode::BAD_REQUEST, &mcp::parse_error());
    };
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    let call = McpCall {
        protocol_version: header_str(&headers, VERSION_HEADER),
        session_id: header_str(&headers, SESSION_HEADER),
        method: header_str(&headers, METHOD_HEADER),
        name: header_str(&headers, NAME_HEADER),
        duplicated: duplicated(&headers),
        base,
    };
    match mcp::handle(&state, &principal, &call, message).await {
        Ok(Reply::Accepted) => StatusCode::ACCEPTED.into_response(),
        Ok(Reply::Message { outcome, body, session_id }) => {
            let status = match outcome {
                Outcome::Ok => StatusCode::OK,
                Outcome::Invalid => StatusCode::BAD_REQUEST,
                Outcome::MethodNotFound => StatusCode::NOT_FOUND,
            };
            let mut res = if json_ok || status != StatusCode::OK {
                jsonrpc(status, &body)
            } else {
                let frame = format!("event: message\ndata: {body}\n\n");
                let mut res = (status, [(header::CONTENT_TYPE, "text/event-stream")], frame).into_response();
                res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                res
            };
            if let Some(sid) = session_id.and_then(|s| HeaderValue::from_str(&s).ok()) {
                res.headers_mut().insert(HeaderName::from_static(SESSION_HEADER), sid);
            }
            res
        }
        Err(e) => failure(e, id, &principal, &call.base),
    }
}

/// Ends the session named by `Mcp-Session-Id`.
#[utoipa::path(delete, path = "/api/mcp", tag = "mcp", security(("oauth" = ["read"]), ("token" = ["read"])),
    params(("Mcp-Session-Id" = String, Header, description = "The session to end")),
    responses((status = 204, description = "Session ended"),
        (status = 400, description = "No Mcp-Session-Id", body = Object),
        (status = 401, description = "No valid credential", body = Object),
        (status = 403, description = "A credential MCP does not take", body = Object),
        (status = 404, description = "Unknown or already ended session", body = Object)))]
async fn mcp_delete(State(state): State<AppState>, caller: Caller, headers: HeaderMap) -> Response {
    let base = public_base(&state, &headers);
    let principal = match authenticated(caller) {
        Ok(p) => p,
        Err(u) => return unauthorized(u, &base),
    };
    match mcp::end_session(&state, &principal, header_str(&headers, SESSION_HEADER).as_deref()).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => failure(e, Value::Null, &principal, &base),
    }
}

/// No server-initiated stream: every answer travels on its POST (Streamable HTTP allows 405).
async fn mcp_get() -> Response {
    let mut res = jsonrpc(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "This server opens no SSE stream on GET; POST messages instead"}}),
    );
    res.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST, DELETE"));
    res
}
