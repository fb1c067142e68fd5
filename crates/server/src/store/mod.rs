//! The `Store` trait: the only door to the database. Implemented once over SQLite and PostgreSQL.
//!
//! Every method that reads tenant data takes the tenant (organization or owning user) and
//! filters on it in SQL, so a handler bug cannot leak another tenant's rows.

pub mod accounts;
pub mod backup;
pub mod billing;
pub mod cache;
pub mod governance;
pub mod migrate;
pub mod notifications;
pub mod oauth;
pub mod pipeline;
pub mod postgres;
pub mod recordings;
pub mod scheduler;
pub mod sessions;
pub(crate) mod sql;
pub mod sqlite;
pub mod studies;
pub mod telegram;
pub mod webhooks;

use async_trait::async_trait;

pub use accounts::*;
pub use backup::ErasureJournalStore;
pub use billing::*;
pub use cache::Invalidation;
pub use governance::*;
pub use notifications::*;
pub use oauth::*;
pub use pipeline::*;
pub use recordings::*;
pub use scheduler::*;
pub use sessions::*;
pub use sql::SqlStore;
pub use studies::*;
pub use telegram::*;
pub use webhooks::*;

pub use crate::domain::Tenant;

/// Store failures, mapped to HTTP in `error.rs`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness clash; the message names the field (`email: already registered`).
    #[error("{0}")]
    Conflict(String),
    /// The database cannot be reached (pool timeout, I/O).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store error: {0}")]
    Other(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Self::Unavailable(e.to_string())
            }
            other => Self::Other(other.to_string()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// One page of a list: `page` ≥ 1, `limit` 1..=100 (validated at the edge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: u32,
    pub limit: u32,
}

impl Page {
    pub fn offset(self) -> i64 {
        i64::from(self.page.saturating_sub(1)) * i64::from(self.limit)
    }

    /// This page of rows filtered in memory, with the full count.
    pub fn slice<T: Clone>(self, rows: &[T]) -> (Vec<T>, u64) {
        let start = usize::try_from(self.offset()).unwrap_or(usize::MAX).min(rows.len());
        let end = start.saturating_add(self.limit as usize).min(rows.len());
        (rows[start..end].to_vec(), rows.len() as u64)
    }
}

/// The store: one trait per domain, all implemented by `SqlStore`. Object-safe so the
/// backend is chosen at start-up (`Arc<dyn Store>`).
#[async_trait]
pub trait Store:
    AccountStore
    + StudyStore
    + SessionStore
    + PipelineStore
    + WebhookStore
    + GovernanceStore
    + TelegramStore
    + NotificationStore
    + SchedulerStore
    + OAuthStore
    + BillingStore
    + ErasureJournalStore
    + RecordingStore
{
    /// Which backend this is (`sqlite` or `postgres`), for logs and `/readyz`.
    fn backend(&self) -> &'static str;
    /// Applies pending migrations; returns how many were applied.
    async fn migrate(&self) -> StoreResult<usize>;
    /// Ready: reachable, and every known migration applied.
    async fn ready(&self) -> StoreResult<bool>;
    /// Hands every identity-cache invalidation this node makes to `tx` (the cluster bus);
    /// false if already connected.
    fn forward_invalidations(&self, tx: tokio::sync::mpsc::UnboundedSender<Invalidation>) -> bool;
    /// Applies an invalidation another node published (this node's cache only).
    fn apply_invalidation(&self, inv: &Invalidation);
    /// Publishes through the database (PostgreSQL `NOTIFY`); nothing on SQLite (one node).
    async fn notify_invalidation(&self, inv: &Invalidation) -> StoreResult<()>;
    /// PostgreSQL: `LISTEN`s and applies other nodes' invalidations, reconnecting by itself;
    /// returns only when it cannot (re)connect. SQLite: never returns (nothing to hear).
    async fn listen_invalidations(&self) -> StoreResult<()>;
}
