//! Outbound webhooks: endpoint management (secrets shown once, SSRF-checked targets) and the
//! worker side of a delivery.

use crate::auth::principal::Principal;
use crate::domain::Role;
use crate::domain::ids::new_id;
use crate::error::{ApiError, ApiResult};
use crate::integrations::webhooks as client;
use crate::state::AppState;
use crate::store::{EVENT_TYPES, Job, WebhookEndpoint};

/// The caller's organization (business members only).
pub fn organization_of(p: &Principal) -> ApiResult<String> {
    match (p.role, &p.organization_id) {
        (Role::Business, Some(org)) => Ok(org.clone()),
        _ => Err(ApiError::Forbidden("Webhook endpoints belong to a business organization".into())),
    }
}

/// Registers an endpoint; returns it with its secret (shown once).
pub async fn create(
    state: &AppState,
    caller: &Principal,
    url: &str,
    mut events: Vec<String>,
    description: Option<String>,
) -> ApiResult<(WebhookEndpoint, String)> {
    let org = organization_of(caller)?;
    let bad = |m: String| ApiError::Unprocessable(m);
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
    if let Some(e) = events.iter().find(|e| !EVENT_TYPES.contains(&e.as_str())) {
        return Err(bad(format!("events: unknown event type {e:?} (one of {})", EVENT_TYPES.join(", "))));
    }
    if description.as_deref().is_some_and(|d| d.chars().count() > 500) {
        return Err(bad("description: at most 500 characters".into()));
    }
    let now = state.now();
    let secret = client::new_secret();
    let endpoint = WebhookEndpoint {
        id: new_id("whe", now),
        organization_id: org,
        url: url.to_owned(),
        events,
        description,
        created_at: now,
    };
    Ok((state.store.create_endpoint(endpoint, &secret).await?, secret))
}

/// Worker side: one attempt at a delivery. An error makes the queue retry with backoff; the
/// last attempt, a deleted endpoint or a refused (internal) target end it as `failed`.
pub async fn deliver(state: &AppState, job: &Job) -> ApiResult<String> {
    let Some(target) = state.store.delivery_target(&job.subject_id).await? else {
        return Ok(job.subject_id.clone());
    };
    let now = state.now();
    if target.endpoint_deleted {
        state.store.record_attempt(&job.subject_id, None, Some("endpoint deleted"), false, true, now).await?;
        return Ok(job.subject_id.clone());
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
        Ok(job.subject_id.clone())
    } else {
        Err(ApiError::Internal(format!("webhook delivery failed: {}", attempt.error.unwrap_or_default())))
    }
}
