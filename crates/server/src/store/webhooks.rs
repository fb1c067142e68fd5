//! Outbound webhooks in the store: endpoints, deliveries, and the event outbox.

use async_trait::async_trait;

use super::{Page, StoreResult};

/// Event types a business may subscribe to.
pub const EVENT_TYPES: [&str; 6] = [
    "study.launched",
    "session.completed",
    "session.analyzed",
    "session.confirmed",
    "report.ready",
    "study.report_ready",
];

/// An endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub organization_id: String,
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
    pub status: String,
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
    async fn list_endpoints(&self, org_id: &str, page: Page) -> StoreResult<(Vec<WebhookEndpoint>, u64)>;
    /// Soft-deletes; `false` when absent or another organization's.
    async fn delete_endpoint(&self, org_id: &str, id: &str, now: i64) -> StoreResult<bool>;
    /// The endpoint's deliveries, newest first; `None` when the endpoint is not the org's.
    async fn list_deliveries(
        &self,
        org_id: &str,
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
