//! The HTTP edge: router assembly, middleware order and the OpenAPI document.

pub mod dashboard;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod openapi;
pub mod paths;
pub mod routes;
pub mod state;

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::{Router, middleware::from_fn, middleware::from_fn_with_state};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, AuthorizationCode, Flow, Http, HttpAuthScheme, OAuth2, Scopes, SecurityScheme,
};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::AppError;
use crate::http::state::AppState;

const DESCRIPTION: &str = "OpenScouter: usability testing with neurodivergent testers.

Every JSON response uses the envelope {success, data, error, metadata}; errors carry a message in `error` and the HTTP status says what kind: 400 malformed input, 401 credentials, 403 permission, 404 absent or another tenant's, 413 body too large, 422 validation or wrong state, 429 rate limited (see Retry-After), 503 store or integration unavailable. Creates answer 200 (one style for every endpoint). Lists take ?page (1..2147483647) and ?limit (1..100); out-of-range values are a 400, never clamped. A body whose declared Content-Length is over the limit (1 MiB; 2 MiB on /api/data/*) is refused with a 413 before it is read. No JSON string may contain U+0000 (422 naming the field); a body with bytes after its JSON document is malformed (400).

Rate limits: every /api response carries X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (seconds until the bucket is full). Admins are exempt and get no such headers. /healthz, /readyz and /metrics are never limited.

Times are RFC 3339 UTC with milliseconds. Ids are prefixed ULIDs (user_…, org_…, tok_…).";

#[derive(OpenApi)]
#[openapi(
    info(title = "OpenScouter API", description = DESCRIPTION),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Sign-up, sign-in, refresh-token rotation, sign-out"),
        (name = "me", description = "The caller's account"),
        (name = "tokens", description = "Server-to-server API tokens"),
        (name = "admin", description = "Operator actions, audited"),
        (name = "studies", description = "Studies (jobs): drafts, launch, offers"),
        (name = "sessions", description = "Sessions (tests): lifecycle, consent, notes, feedback, export"),
        (name = "ingestion", description = "The browser extension's streams"),
        (name = "testers", description = "Tester profiles"),
        (name = "analysis", description = "Agent 2: findings, analytics, the tester's confirmation"),
        (name = "reports", description = "Agents 3 and 4: session and study reports"),
        (name = "webhooks", description = "Outbound webhooks, signed with Standard Webhooks"),
        (name = "telegram", description = "The Telegram bot: chat links, offers, its webhook"),
        (name = "notifications", description = "In-app notifications"),
        (name = "cron", description = "Scheduled jobs on demand (the built-in scheduler runs them too)"),
        (name = "billing", description = "Stripe: study checkout, tester Connect onboarding, payouts, the signed Stripe webhook"),
        (name = "ops", description = "Health, readiness, metrics, this document"),
        (name = "oauth", description = "OAuth 2.1 authorization server for external clients (RFC 6749 error bodies, not the envelope)"),
        (name = "mcp", description = "MCP over Streamable HTTP (JSON-RPC 2.0, not the envelope)"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "jwt",
            SecurityScheme::Http(Http::builder().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        components.add_security_scheme(
            "token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Token ost_…`: an API token from POST /api/tokens",
            ))),
        );
        components.add_security_scheme(
            "cron",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`Bearer <cron secret>` (OPENSCOUTER_CRON_SECRET)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "oauth",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::AuthorizationCode(AuthorizationCode::new(
                    "/api/oauth/authorize",
                    "/api/oauth/token",
                    Scopes::from_iter([
                        ("read", "Read the workspace's studies, tests and results"),
                        ("draft", "Create draft studies (never launch or pay)"),
                    ]),
                ))],
                "`Bearer osat_…`: an OAuth access token (PKCE S256, public clients; see /.well-known/oauth-authorization-server)",
            )),
        );
        components.add_security_scheme(
            "testToken",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Token <48 hex>`: the session's test token from POST /api/sessions (that session only, 24 h)",
            ))),
        );
    }
}

/// The routers (API under auth + rate limits, ops outside) and the OpenAPI document.
/// The ingestion routers: `/api/data/*` (2 MiB) and the screen recordings (their own limit).
type IngestGroups = (Router<AppState>, Router<AppState>);

fn parts() -> (Router<AppState>, IngestGroups, Router<AppState>, utoipa::openapi::OpenApi) {
    let (api, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::auth::router())
        .merge(routes::me::router())
        .merge(routes::tokens::router())
        .merge(routes::admin::router())
        .merge(routes::studies::router())
        .merge(routes::sessions::router())
        .merge(routes::recording::router())
        .merge(routes::analysis::router())
        .merge(routes::reports::router())
        .merge(routes::research::router())
        .merge(routes::webhooks::router())
        .merge(routes::testers::router())
        .merge(routes::quiz::router())
        .merge(routes::telegram::router())
        .merge(routes::notifications::router())
        .merge(routes::cron::router())
        .merge(routes::oauth::router())
        .merge(routes::connections::router())
        .merge(routes::org::router())
        .merge(routes::mcp::router())
        .merge(routes::billing::router())
        .routes(routes!(routes::ops::openapi_json))
        .routes(routes!(routes::docs::docs))
        .split_for_parts();
    let (ingest, ingest_doc) = routes::ingest::router().split_for_parts();
    doc.merge(ingest_doc);
    // Screen recordings: their own, larger body limit (api.md §5.1).
    let (screen, screen_doc) = routes::recording::screen_router().split_for_parts();
    doc.merge(screen_doc);
    let ingest = (ingest, screen);
    let (ops, ops_doc) = OpenApiRouter::new()
        .routes(routes!(routes::ops::healthz))
        .routes(routes!(routes::ops::readyz))
        .routes(routes!(routes::ops::metrics))
        // Telegram's webhook checks its own secret and limit (per source, not per IP).
        .merge(routes::telegram::webhook_router())
        .merge(routes::well_known::router())
        // Inbound webhooks: signed, with their own rate tier instead of the per-caller limiter.
        .merge(routes::billing::inbound_router())
        // The recorder script: public, loaded by the product under test.
        .merge(routes::sdk::router())
        .split_for_parts();
    doc.merge(ops_doc);
    openapi::document_errors(&mut doc);
    openapi::document_links(&mut doc);
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    (api, ingest, ops, doc)
}

/// The OpenAPI document (what `openscouter openapi` prints and CI diffs).
pub fn openapi() -> utoipa::openapi::OpenApi {
    parts().3
}

/// Pretty JSON of the document, as committed in `openapi.json`.
pub fn openapi_json() -> String {
    openapi().to_pretty_json().unwrap_or_else(|_| "{}".into())
}

/// The document, rendered once per process (it only changes with the code).
pub static OPENAPI_JSON: std::sync::LazyLock<String> = std::sync::LazyLock::new(openapi_json);

/// The reference page, rendered once per process from the document.
pub static DOCS_HTML: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let doc: serde_json::Value = serde_json::from_str(&OPENAPI_JSON).unwrap_or_default();
    routes::docs::render(&doc)
});

/// Request ids: ULIDs, unless the client sent a plain `x-request-id` (kept for correlation).
#[derive(Clone, Copy, Default)]
struct MakeUlid;

impl MakeRequestId for MakeUlid {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let id = crate::domain::ids::new_id("req", chrono::Utc::now().timestamp_millis());
        axum::http::HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// A client's `x-request-id` is kept for correlation only when it is short and plain
/// (`[A-Za-z0-9._-]{1,64}`); anything else is replaced, so logs cannot be forged through it.
async fn drop_unsafe_request_id(mut req: Request, next: axum::middleware::Next) -> axum::response::Response {
    let unsafe_id = req.headers().get("x-request-id").is_some_and(|v| {
        let b = v.as_bytes();
        b.is_empty() || b.len() > 64 || !b.iter().all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
    });
    if unsafe_id {
        req.headers_mut().remove("x-request-id");
    }
    next.run(req).await
}

async fn not_found() -> AppError {
    AppError::NotFound("Not found".into())
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

/// The whole application with its middleware, ready to serve.
pub fn router(state: AppState) -> Router {
    let (api, ingest, ops, _) = parts();
    assemble(api, ingest, ops, state)
}

/// Wraps `api` (auth, rate limits, body limit) and `ops` routes in the shared middleware
/// stack. Public so tests can mount extra routes (e.g. one that panics) under the real stack.
pub fn with_middleware(api: Router<AppState>, ops: Router<AppState>, state: AppState) -> Router {
    assemble(api, (Router::new(), Router::new()), ops, state)
}

/// A route group with its body limit: a declared length over it is refused before reading,
/// a chunked body is cut at it.
fn limited(routes: Router<AppState>, limit: usize) -> Router<AppState> {
    routes
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::body_limit::EnforceLayer(middleware::body_limit::BodyLimit(limit)))
}

fn assemble(
    api: Router<AppState>,
    (ingest, screen): IngestGroups,
    ops: Router<AppState>,
    state: AppState,
) -> Router {
    let config = state.config.clone();
    // Ingestion has its own, larger body limit.
    let api = limited(api, config.max_body_bytes)
        .merge(limited(ingest, config.ingest_max_body_bytes))
        .merge(limited(screen, crate::services::recording::WIRE_LIMIT))
        .layer(middleware::rate_limit::AuthLayer(state.clone()));
    // The dashboard: the same auth and limits (its cookie becomes the Authorization header in
    // `dashboard::web::pages`, below, which also renders its errors as pages).
    let dashboard = limited(dashboard::router(), config.max_body_bytes)
        .layer(middleware::rate_limit::AuthLayer(state.clone()));

    Router::new()
        .merge(api)
        .merge(ops)
        .merge(dashboard)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(from_fn(drop_unsafe_request_id))
                .layer(SetRequestIdLayer::x_request_id(MakeUlid))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                    // Path only: query strings and headers may carry secrets; so does a share
                    // link's path (its token), which is logged as its template.
                    let path = req.uri().path();
                    let path = if path.starts_with("/app/share/") { "/app/share/{token}" } else { path };
                    tracing::info_span!("request", method = %req.method(), path = %path, request_id = %id)
                }))
                .layer(from_fn_with_state(state.clone(), middleware::headers::security_headers))
                .layer(from_fn(middleware::metrics::track))
                .layer(from_fn(middleware::envelope::envelope_errors))
                .layer(CatchPanicLayer::custom(middleware::envelope::panic_response))
                .layer(from_fn_with_state(state.clone(), dashboard::web::pages))
                .layer(from_fn_with_state(state.origins.clone(), middleware::cors::reject_foreign_preflight))
                .layer(middleware::cors::layer(state.origins.clone()))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(config.request_timeout_secs),
                )),
        )
        .with_state(state)
}
