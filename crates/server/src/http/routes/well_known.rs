//! `/.well-known/…`: OAuth authorization-server metadata (RFC 8414) and the MCP endpoint's
//! protected-resource metadata (RFC 9728), outside `/api` like `/healthz`. Also the one place
//! the edge works out the server's public origin.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::state::AppState;
use crate::services::oauth;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(authorization_server))
        .routes(routes!(protected_resource))
        .routes(routes!(protected_resource_of_mcp))
}

/// A `Host` value that is a plain `host[:port]` (anything else is ignored).
fn plain_host(h: &str) -> bool {
    !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
}

/// The server's public origin: `OPENSCOUTER_PUBLIC_URL` when set, else the request's `Host`
/// (https when HSTS is configured, i.e. behind a TLS proxy). The OAuth issuer, the MCP
/// resource and dashboard links are built on it.
pub fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        return url.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| plain_host(h))
        .unwrap_or("localhost")
        .to_ascii_lowercase();
    let scheme = if state.config.hsts { "https" } else { "http" };
    format!("{scheme}://{host}")
}

fn metadata(doc: serde_json::Value) -> Response {
    let mut res = Json(doc).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// OAuth 2.0 authorization-server metadata (RFC 8414): endpoints, `read` and `draft` scopes,
/// code flow with PKCE S256, public clients.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "oauth",
    responses((status = 200, description = "RFC 8414 metadata", content_type = "application/json", body = Object)))]
async fn authorization_server(State(state): State<AppState>, headers: HeaderMap) -> Response {
    metadata(oauth::authorization_server_metadata(&public_base(&state, &headers)))
}

/// Protected-resource metadata (RFC 9728) of the MCP endpoint (root form).
#[utoipa::path(get, path = "/.well-known/oauth-protected-resource", tag = "oauth",
    responses((status = 200, description = "RFC 9728 metadata", content_type = "application/json", body = Object)))]
async fn protected_resource(State(state): State<AppState>, headers: HeaderMap) -> Response {
    metadata(oauth::protected_resource_metadata(&public_base(&state, &headers)))
}

/// Protected-resource metadata (RFC 9728) of `/api/mcp` (path-aware form, the one the
/// `WWW-Authenticate` challenge names).
#[utoipa::path(get, path = "/.well-known/oauth-protected-resource/api/mcp", tag = "oauth",
    responses((status = 200, description = "RFC 9728 metadata", content_type = "application/json", body = Object)))]
async fn protected_resource_of_mcp(State(state): State<AppState>, headers: HeaderMap) -> Response {
    metadata(oauth::protected_resource_metadata(&public_base(&state, &headers)))
}
