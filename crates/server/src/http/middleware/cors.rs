//! CORS: allowed origins from configuration (exact or `https://*.domain`), `http://localhost:*`
//! in development; a preflight from any other origin gets 403 and no allow-origin header.
//! Open to every origin (see `OriginPolicy::allows_request`): ingestion (`/api/data/*`), as the
//! recorder runs inside the product under test on the product's own origin, and a session's
//! briefing (`/api/sessions/:id`, which the recorder reads first; decision 209); the MCP endpoint,
//! which browser-based MCP clients (inspectors, web assistants) call directly; and the public
//! discovery documents under `/.well-known/`; and the OAuth registration, token and revocation
//! endpoints a browser MCP client calls to connect. All of them authenticate by header tokens or
//! form secrets only (no cookies, no credentials mode).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::Environment;
use crate::error::AppError;
use crate::http::paths::{INGEST_PREFIX, MCP_PATHS, OAUTH_CLIENT_PATHS, WELL_KNOWN_PREFIX};
pub use crate::origin::OriginPattern;
use crate::origin::split_origin;

/// The set of allowed origins; the one rule used by both the preflight guard and the CORS layer.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    patterns: Vec<OriginPattern>,
    allow_localhost: bool,
}

impl OriginPolicy {
    pub fn new(configured: &[String], env: Environment) -> Self {
        Self {
            patterns: configured.iter().filter_map(|s| OriginPattern::parse(s).ok()).collect(),
            allow_localhost: env == Environment::Development,
        }
    }

    /// True when `origin` may call the API from a browser.
    pub fn allows(&self, origin: &str) -> bool {
        if self.allow_localhost
            && split_origin(origin)
                .is_some_and(|(s, h, _)| s == "http" && h.eq_ignore_ascii_case("localhost"))
        {
            return true;
        }
        self.patterns.iter().any(|p| p.matches(origin))
    }

    /// True when `origin` may call `path` from a browser. Ingestion, MCP and the discovery
    /// documents are open to every origin: they authenticate by a header token only (no
    /// cookie, no credentials mode) or hold nothing secret, so allowing a foreign origin gives
    /// that page nothing it does not already hold.
    pub fn allows_request(&self, origin: &str, path: &str) -> bool {
        open_to_any_origin(path) || self.allows(origin)
    }
}

/// A session's briefing, `/api/sessions/<id>` (one segment, nothing below it): the recorder
/// reads it with its test token before sending (api.md §11).
fn session_briefing(path: &str) -> bool {
    path.strip_prefix("/api/sessions/").is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

/// Ingestion, a session's briefing, the MCP endpoint (every path it answers on), the discovery
/// documents and the OAuth endpoints a browser MCP client needs to connect on its own.
fn open_to_any_origin(path: &str) -> bool {
    path.starts_with(INGEST_PREFIX)
        || session_briefing(path)
        || path.starts_with(WELL_KNOWN_PREFIX)
        || MCP_PATHS.contains(&path)
        || OAUTH_CLIENT_PATHS.contains(&path)
}

/// The CORS layer; credentials are not used (bearer tokens), so no cookie mode.
///
/// One header list for every path: MCP's Streamable HTTP transport sends `mcp-protocol-version`,
/// `mcp-session-id` and `last-event-id` and reads `mcp-session-id` and the `www-authenticate`
/// challenge. Listing them for the whole API widens nothing: which *origins* may call a path
/// is the allow-list above, and these headers mean nothing to other routes.
pub fn layer(policy: std::sync::Arc<OriginPolicy>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, parts| {
            origin.to_str().is_ok_and(|o| policy.allows_request(o, parts.uri.path()))
        }))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("mcp-protocol-version"),
            header::HeaderName::from_static("mcp-session-id"),
            header::HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            header::RETRY_AFTER,
            header::WWW_AUTHENTICATE,
            header::HeaderName::from_static("mcp-session-id"),
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("x-ratelimit-limit"),
            header::HeaderName::from_static("x-ratelimit-remaining"),
            header::HeaderName::from_static("x-ratelimit-reset"),
        ])
        .max_age(Duration::from_secs(600))
}

/// Answers a preflight from a disallowed origin with 403 before the CORS layer sees it.
pub async fn reject_foreign_preflight(
    State(policy): State<std::sync::Arc<OriginPolicy>>,
    req: Request,
    next: Next,
) -> Response {
    if req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
        let allowed = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .is_some_and(|o| policy.allows_request(o, req.uri().path()));
        if !allowed {
            return AppError::Forbidden("Origin not allowed".into()).into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(env: Environment) -> OriginPolicy {
        OriginPolicy::new(&["https://openscouter.com".into(), "https://*.openscouter.com".into()], env)
    }

    #[test]
    fn exact_wildcard_and_localhost() {
        let p = policy(Environment::Production);
        assert!(p.allows("https://openscouter.com"));
        assert!(p.allows("https://app.openscouter.com"));
        assert!(p.allows("https://a.b.openscouter.com"));
        assert!(!p.allows("http://app.openscouter.com"));
        assert!(!p.allows("https://evilopenscouter.com"));
        assert!(!p.allows("https://openscouter.com.evil.io"));
        assert!(!p.allows("https://app.openscouter.com:8443"));
        assert!(!p.allows("http://localhost:3000"));
        assert!(policy(Environment::Development).allows("http://localhost:3000"));
        assert!(policy(Environment::Development).allows("http://localhost"));
        assert!(!policy(Environment::Development).allows("http://localhost.evil.io:3000"));
        let p = policy(Environment::Production);
        assert!(p.allows_request("https://shop.example", "/api/data/events"));
        assert!(!p.allows_request("https://shop.example", "/api/sessions"));
        assert!(p.allows_request("https://shop.example", "/api/sessions/sess_01abc"));
        for closed in
            ["/api/sessions/", "/api/sessions/sess_01abc/findings", "/api/sessions/sess_01abc/confirm"]
        {
            assert!(!p.allows_request("https://shop.example", closed), "{closed}");
        }
        assert!(!p.allows_request("https://shop.example", "/api/dataset"));
        for open in [
            "/api/mcp",
            "/api/mcp/",
            "/api/mcp/mcp",
            "/.well-known/oauth-authorization-server",
            "/api/oauth/register",
            "/api/oauth/token",
            "/api/oauth/revoke",
        ] {
            assert!(p.allows_request("https://inspector.example", open), "{open}");
        }
        for closed in
            ["/api/mcpx", "/api/mcp/other", "/api/oauth/authorize", "/api/oauth/tokens", "/.well-knownx"]
        {
            assert!(!p.allows_request("https://inspector.example", closed), "{closed}");
        }
    }

    #[test]
    fn parse_rejects_nonsense() {
        for bad in ["ftp://x.io", "https://", "https://a.*.io", "openscouter.com", "https://x.io/path"] {
            assert!(OriginPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
