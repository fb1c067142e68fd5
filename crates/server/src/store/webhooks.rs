//! Outbound webhooks in the store: endpoints, deliveries, and the event outbox.

use async_trait::async_trait;

use super::{Page, StoreResult};
use crate::domain::ids::OrgId;
use crate::domain::{QueueKind, WebhookEvent};

/// An outbound webhook event, recorded in the same transaction as the change that causes it
/// (the outbox): the store writes one delivery per subscribed endpoint of the session's or
/// study's organization and queues each as `delivery` says. What to emit, with which data,
/// is the services' decision.
#[derive(Debug, Clone)]
pub struct OutboundEvent {
    pub event: WebhookEvent,
    pub data: serde_json::Value,
    pub delivery: DeliveryPlan,
}

/// How each delivery of an event is queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPlan {
    pub kind: QueueKind,
    pub max_attempts: i64,
    /// Id prefix of the delivery rows.
    pub delivery_prefix: &'static str,
    /// Id prefix of the queue rows.
    pub queue_prefix: &'static str,
}

/// An endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub organization_id: OrgId,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub created_at: i64,
}

/// A delivery and its latest attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: String,
    pub endpoint_id: String,
    pub event_type: String,
    pub payload: String,
    pub status: crate::domain::DeliveryStatus,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// What a worker needs to send one delivery.
#[derive(Debug, Clone)]
pub struct DeliveryTarget {
    pub delivery: WebhookDelivery,
    pub url: String,
    pub secret: String,
    pub endpoint_deleted: bool,
}

/// Endpoints (tenant: the organization) and deliveries.
#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    async fn create_endpoint(&self, e: WebhookEndpoint, secret: &str) -> StoreResult<WebhookEndpoint>;
    async fn list_endpoints(&self, org_id: &OrgId, page: Page) -> StoreResult<(Vec<WebhookEndpoint>, u64)>;
    /// Soft-deletes; `false` when absent or another organization's.
    async fn delete_endpoint(&self, org_id: &OrgId, id: &str, now: i64) -> StoreResult<bool>;
    /// The endpoint's deliveries, newest first; `None` when the endpoint is not the org's.
    async fn list_deliveries(
        &self,
        org_id: &OrgId,
        endpoint_id: &str,
        page: Page,
    ) -> StoreResult<Option<(Vec<WebhookDelivery>, u64)>>;
    async fn delivery_target(&self, delivery_id: &str) -> StoreResult<Option<DeliveryTarget>>;
    /// Records an attempt: `delivered` or not (`failed` when `final_failure`).
    async fn record_attempt(
        &self,
        delivery_id: &str,
        status_code: Option<i64>,
        error: Option<&str>,
        delivered: bool,
        final_failure: bool,
        now: i64,
    ) -> StoreResult<()>;
}
