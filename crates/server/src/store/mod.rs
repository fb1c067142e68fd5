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
pub mod research;
pub mod scheduler;
pub mod sessions;
pub(crate) mod sql;
pub mod sqlite;
pub mod studies;
pub mod team;
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
pub use research::*;
pub use scheduler::*;
pub use sessions::*;
pub use sql::SqlStore;
pub use studies::*;
pub use team::*;
pub use telegram::*;
pub use webhooks::*;

pub use crate::domain::Tenant;

/// Store failures, mapped to HTTP in `error.rs`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness clash; the message names the field (`email: already registered`).
    #[error("{0}")]
    Conflict(String),
    /// The database cannot be reached or is restarting (pool timeout, I/O, a connection the
    /// server closed, `57P01`, …).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The database's volume is full (SQLite `SQLITE_FULL`, PostgreSQL `disk_full`): reads
    /// still work, writes fail until space returns.
    #[error("store full: {0}")]
    Full(String),
    #[error("store error: {0}")]
    Other(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => Self::Unavailable(e.to_string()),
            sqlx::Error::Database(ref db) => match db
                .code()
                .as_deref()
                .map(|c| outage_of_code(c, db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()))
            {
                Some(Some(Outage::Full)) => Self::Full(e.to_string()),
                Some(Some(Outage::Down)) => Self::Unavailable(e.to_string()),
                _ => Self::Other(e.to_string()),
            },
            other => Self::Other(other.to_string()),
        }
    }
}

/// What a database error code says about the database itself, when it is not the query's
/// fault: out of space, or down/restarting/overloaded (retrying later will work).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outage {
    Full,
    Down,
}

/// Classifies a database error code: SQLite's (extended) result codes as decimal numbers
/// (`sqlite`), else PostgreSQL's SQLSTATEs. `None`: the query's own failure (constraint,
/// syntax, …).
fn outage_of_code(code: &str, sqlite: bool) -> Option<Outage> {
    if sqlite {
        let Ok(n) = code.parse::<i32>() else { return None };
        // SQLite: the primary code is the low byte of the extended one.
        return match n & 0xff {
            13 => Some(Outage::Full),    // SQLITE_FULL: the volume is full
            10 => Some(Outage::Down),    // SQLITE_IOERR: disk I/O error
            5 | 6 => Some(Outage::Down), // SQLITE_BUSY / SQLITE_LOCKED after the busy timeout
            _ => None,
        };
    }
    match code {
        // disk_full
        "53100" => Some(Outage::Full),
        // insufficient_resources (out of memory, too many connections), admin/crash shutdown,
        // cannot connect now (starting up or shutting down), connection exceptions,
        // read-only transaction on a standby after a failover
        c if c.starts_with("53") || c.starts_with("57P") || c.starts_with("08") || c == "25006" => {
            Some(Outage::Down)
        }
        _ => None,
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
    + ResearchStore
    + TeamStore
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
    /// A number that moves whenever anything the identity reads answer (users, organizations,
    /// sign-in sessions, unread counts) may have changed, here or on another node. Read it
    /// before the reads; what was drawn from them is current while it has not moved (and the
    /// identity cache's TTL, the safety net for a lost message, has not passed).
    fn identity_version(&self) -> u64;
    /// Publishes through the database (PostgreSQL `NOTIFY`); nothing on SQLite (one node).
    async fn notify_invalidation(&self, inv: &Invalidation) -> StoreResult<()>;
    /// PostgreSQL: `LISTEN`s and applies other nodes' invalidations, reconnecting by itself;
    /// returns only when it cannot (re)connect. SQLite: never returns (nothing to hear).
    async fn listen_invalidations(&self) -> StoreResult<()>;
}

#[cfg(test)]
mod outage_tests {
    use super::{Outage, outage_of_code};

    #[test]
    fn database_codes_that_are_outages_not_bugs() {
        assert_eq!(outage_of_code("13", true), Some(Outage::Full)); // SQLITE_FULL
        assert_eq!(outage_of_code("778", true), Some(Outage::Down)); // SQLITE_IOERR_WRITE
        assert_eq!(outage_of_code("5", true), Some(Outage::Down)); // SQLITE_BUSY
        assert_eq!(outage_of_code("2067", true), None); // SQLITE_CONSTRAINT_UNIQUE
        assert_eq!(outage_of_code("53100", false), Some(Outage::Full));
        assert_eq!(outage_of_code("57P01", false), Some(Outage::Down)); // admin_shutdown
        assert_eq!(outage_of_code("57P03", false), Some(Outage::Down)); // cannot_connect_now
        assert_eq!(outage_of_code("08006", false), Some(Outage::Down));
        assert_eq!(outage_of_code("23505", false), None); // unique_violation
        assert_eq!(outage_of_code("42P01", false), None); // undefined_table: a bug, stays a 500
    }
}
