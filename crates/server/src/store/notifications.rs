//! In-app notifications in the store: one row per notice, for a user, an organization or
//! staff, recorded at most once per deduplication key.

use async_trait::async_trait;

use super::{OutboundEvent, Page, StoreResult, TelegramCopy};
use crate::domain::ids::{OrgId, UserId};
use crate::domain::{NotificationKind, Tenant};

/// Who a notification is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    User(UserId),
    /// Every member of the organization.
    Organization(OrgId),
    /// Every admin.
    Staff,
}

/// A notification to record.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub id: String,
    pub recipient: Recipient,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    pub data: serde_json::Value,
    /// Recorded at most once per key.
    pub dedup_key: Option<String>,
    pub created_at: i64,
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRow {
    pub id: String,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    /// JSON object.
    pub data: String,
    pub created_at: i64,
    /// When this reader marked it read.
    pub read_at: Option<i64>,
}

/// Notifications.
#[async_trait]
pub trait NotificationStore: Send + Sync + 'static {
    /// Records `n` (unless its key exists: `false`), queues `telegram` and records the
    /// outbound `event` of organization `.0`, in one transaction.
    async fn create_notification(
        &self,
        n: NewNotification,
        telegram: Option<TelegramCopy>,
        event: Option<(String, OutboundEvent)>,
    ) -> StoreResult<bool>;
    /// What `user_id` may read, newest first: their own, plus their organization's
    /// (`Tenant::Organization`) or staff's (`Tenant::All`); only unread ones with `unread_only`.
    async fn list_notifications(
        &self,
        tenant: &Tenant,
        user_id: &UserId,
        unread_only: bool,
        page: Page,
    ) -> StoreResult<(Vec<NotificationRow>, u64)>;
}
