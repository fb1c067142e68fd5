//! `/api/webhook-endpoints`: a business's outbound webhooks and their delivery log.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::format_ms;
use crate::error::AppResult;
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::pagination::PageQuery;
use crate::http::extract::{ApiJson, Authed, Pagination};
use crate::http::state::AppState;
use crate::services::webhooks;
use crate::store::{WebhookDelivery, WebhookEndpoint};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(delete_endpoint))
        .routes(routes!(deliveries))
}

/// A new endpoint.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EndpointIn {
    /// http(s) URL; private and loopback targets are refused unless configured otherwise.
    pub url: String,
    /// Any of `study.launched`, `session.completed`, `session.analyzed`, `session.confirmed`,
    /// `report.ready`, `study.report_ready`, `study.stalled` (open 72 h without completing).
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// An endpoint (never its secret).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointOut {
    pub webhook_endpoint_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub created_at: String,
}

/// A created endpoint with its signing secret: shown once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointCreatedOut {
    #[serde(flatten)]
    pub endpoint: EndpointOut,
    /// `whsec_…`: verify `webhook-signature` (Standard Webhooks: HMAC-SHA256 over
    /// `{webhook-id}.{webhook-timestamp}.{body}` with the base64-decoded part after `whsec_`).
    pub secret: String,
}

/// One delivery and its latest attempt.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryOut {
    /// Also the `webhook-id` header.
    pub delivery_id: String,
    pub event_type: String,
    pub status: crate::domain::DeliveryStatus,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

fn endpoint_out(e: WebhookEndpoint) -> EndpointOut {
    EndpointOut {
        webhook_endpoint_id: e.id,
        url: e.url,
        events: e.events,
        description: e.description,
        created_at: format_ms(e.created_at),
    }
}

fn delivery_out(d: WebhookDelivery) -> DeliveryOut {
    DeliveryOut {
        delivery_id: d.id,
        event_type: d.event_type,
        status: d.status,
        attempts: d.attempts,
        last_status_code: d.last_status,
        last_error: d.last_error,
        created_at: format_ms(d.created_at),
        delivered_at: d.delivered_at.map(format_ms),
    }
}

/// Register an endpoint. Deliveries are signed (Standard Webhooks) and retried with backoff.
#[utoipa::path(post, path = "/api/webhook-endpoints", tag = "webhooks", security(("jwt" = []), ("token" = ["write"])), request_body = EndpointIn,
    responses((status = 200, body = Envelope<EndpointCreatedOut>), (status = 422, description = "Bad URL, internal target or unknown event")))]
async fn create_endpoint(
    State(state): State<AppState>,
    caller: Authed,
    ApiJson(b): ApiJson<EndpointIn>,
) -> AppResult<Envelope<EndpointCreatedOut>> {
    let (e, secret) = webhooks::create(&state, &caller, &b.url, b.events, b.description).await?;
    Ok(ok(EndpointCreatedOut { endpoint: endpoint_out(e), secret }))
}

/// The organization's endpoints, newest first.
#[utoipa::path(get, path = "/api/webhook-endpoints", tag = "webhooks", security(("jwt" = []), ("token" = ["read"])), params(PageQuery),
    responses((status = 200, body = Envelope<Vec<EndpointOut>>)))]
async fn list_endpoints(
    State(state): State<AppState>,
    caller: Authed,
    page: Pagination,
) -> AppResult<Envelope<Vec<EndpointOut>>> {
    let (rows, total) = webhooks::list(&state, &caller, page.0).await?;
    Ok(Envelope::page(rows.into_iter().map(endpoint_out).collect(), page.meta(total)))
}

/// Delete an endpoint; pending deliveries to it stop.
#[utoipa::path(delete, path = "/api/webhook-endpoints/{id}", tag = "webhooks", security(("jwt" = []), ("token" = ["write"])),
    params(("id" = String, Path, description = "Endpoint id (`whe_…`)")),
    responses((status = 200, body = Envelope<serde_json::Value>, description = "`data` is null"), (status = 404, description = "No such endpoint of yours")))]
async fn delete_endpoint(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<String>,
) -> AppResult<Envelope<()>> {
    webhooks::delete(&state, &caller, &id).await?;
    Ok(Envelope { success: true, data: None, error: None, metadata: None })
}

/// The endpoint's deliveries, newest first.
#[utoipa::path(get, path = "/api/webhook-endpoints/{id}/deliveries", tag = "webhooks", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Endpoint id"), PageQuery),
    responses((status = 200, body = Envelope<Vec<DeliveryOut>>), (status = 404, description = "No such endpoint of yours")))]
async fn deliveries(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<String>,
    page: Pagination,
) -> AppResult<Envelope<Vec<DeliveryOut>>> {
    let (rows, total) = webhooks::deliveries(&state, &caller, &id, page.0).await?;
    Ok(Envelope::page(rows.into_iter().map(delivery_out).collect(), page.meta(total)))
}
