//! Operations endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::envelope::{Envelope, ok};

use crate::http::state::AppState;

/// Routes outside `/api` (not rate limited: probes and scrapers must not be throttled).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// `/api/openapi.json`.
pub fn api_router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi_json))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub status: &'static str,
    pub store: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Envelope<Health>)))]
pub async fn healthz() -> Envelope<Health> {
    ok(Health { status: "ok" })
}

/// The store is reachable and every migration is applied.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, body = Envelope<Readiness>), (status = 503, description = "Store unreachable or migrations pending")))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    match crate::services::ops::readiness(&state).await {
        Ok(store) => ok(Readiness { status: "ready", store }).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    match &state.metrics {
        Some(handle) => {
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
        }
        None => (StatusCode::NOT_FOUND, "metrics disabled").into_response(),
    }
}

/// The OpenAPI 3.1 document of this server.
#[utoipa::path(get, path = "/api/openapi.json", tag = "ops", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], crate::http::OPENAPI_JSON.as_str()).into_response()
}
