//! Outbound webhooks: endpoint management (secrets shown once, SSRF-checked targets) and the
//! worker side of a delivery.

use crate::app::App;
use crate::auth::principal::Principal;
use crate::domain::ids::{OrgId, new_id, prefix};
use crate::domain::{QueueKind, Role, WebhookEvent};
use crate::error::{AppError, AppResult};
use crate::integrations::webhooks as client;
use crate::services::queue::Done;
use crate::store::{DeliveryPlan, OutboundEvent, Page, QueueItem, WebhookDelivery, WebhookEndpoint};

/// Attempts at one delivery before it is marked failed (2^n s backoff: about 4 minutes in all).
pub const DELIVERY_ATTEMPTS: i64 = 8;

/// How every delivery is queued.
const DELIVERY: DeliveryPlan = DeliveryPlan {
    kind: QueueKind::WebhookDelivery,
    max_attempts: DELIVERY_ATTEMPTS,
    delivery_prefix: prefix::DELIVERY,
    queue_prefix: prefix::ANALYSIS_JOB,
};

/// An outbound event to record with the state change that causes it.
pub fn event(event: WebhookEvent, data: serde_json::Value) -> OutboundEvent {
    OutboundEvent { event, data, delivery: DELIVERY }
}

/// The caller's organization (business members only).
pub fn organization_of(p: &Principal) -> AppResult<OrgId> {
    match (p.role, &p.organization_id) {
        (Role::Business, Some(org)) => Ok(org.clone()),
        _ => Err(AppError::Forbidden("Webhook endpoints belong to a business organization".into())),
    }
}

/// Registers an endpoint; returns it with its secret (shown once).
pub async fn create(
    state: &App,
    caller: &Principal,
    url: &str,
    mut events: Vec<String>,
    description: Option<String>,
) -> AppResult<(WebhookEndpoint, String)> {
    let org = organization_of(caller)?;
    let bad = |m: String| AppError::Unprocessable(m);
    if url.len() > 2048 {
        return Err(bad("url: at most 2048 characters".into()));
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| bad("url: must be an http or https URL".into()))?;
    client::resolve_target(&parsed, state.config.webhook_allow_private)
        .await
        .map_err(|e| bad(format!("url: {e}")))?;
    events.sort();
    events.dedup();
    if events.is_empty() {
        return Err(bad("events: at least one event type is required".into()));
    }
    if let Some(e) = events.iter().find(|e| WebhookEvent::parse(e).is_none()) {
        return Err(bad(format!("events: unknown event type {e:?} (one of {})", WebhookEvent::list())));
    }
    if description.as_deref().is_some_and(|d| d.chars().count() > 500) {
        return Err(bad("description: at most 500 characters".into()));
    }
    let now = state.now();
    let secret = client::new_secret();
    let endpoint = WebhookEndpoint {
        id: new_id(prefix::WEBHOOK_ENDPOINT, now),
        organization_id: org,
        url: url.to_owned(),
        events,
        description,
        created_at: now,
    };
    Ok((state.store.create_endpoint(endpoint, &secret).await?, secret))
}

/// The organization's endpoints, newest first.
pub async fn list(state: &App, caller: &Principal, page: Page) -> AppResult<(Vec<WebhookEndpoint>, u64)> {
    let org = organization_of(caller)?;
    Ok(state.store.list_endpoints(&org, page).await?)
}

/// Deletes an endpoint; pending deliveries to it stop.
pub async fn delete(state: &App, caller: &Principal, id: &str) -> AppResult<()> {
    let org = organization_of(caller)?;
    if state.store.delete_endpoint(&org, id, state.now()).await? {
        Ok(())
    } else {
        Err(AppError::not_found("Webhook endpoint"))
    }
}

/// An endpoint's deliveries, newest first.
pub async fn deliveries(
    state: &App,
    caller: &Principal,
    id: &str,
    page: Page,
) -> AppResult<(Vec<WebhookDelivery>, u64)> {
    let org = organization_of(caller)?;
    state.store.list_deliveries(&org, id, page).await?.ok_or_else(|| AppError::not_found("Webhook endpoint"))
}

/// Worker side: one attempt at a delivery. An error makes the queue retry with backoff; the
/// last attempt, a deleted endpoint or a refused (internal) target end it as `failed`.
pub async fn deliver(state: &App, job: &QueueItem) -> AppResult<Done> {
    let Some(target) = state.store.delivery_target(&job.subject_id).await? else {
        return Ok(Done::referring_to(&job.subject_id));
    };
    let now = state.now();
    if target.endpoint_deleted {
        state.store.record_attempt(&job.subject_id, None, Some("endpoint deleted"), false, true, now).await?;
        return Ok(Done::referring_to(&job.subject_id));
    }
    let attempt = client::send(
        &target.url,
        &target.secret,
        &target.delivery.id,
        now / 1000,
        &target.delivery.payload,
        state.config.webhook_allow_private,
    )
    .await;
    let delivered = attempt.delivered();
    let last = job.attempts >= job.max_attempts;
    let status = attempt.status.map(i64::from);
    state
        .store
        .record_attempt(&job.subject_id, status, attempt.error.as_deref(), delivered, !delivered && last, now)
        .await?;
    if delivered {
        Ok(Done::referring_to(&job.subject_id))
    } else {
        Err(AppError::Internal(format!("webhook delivery failed: {}", attempt.error.unwrap_or_default())))
    }
}
