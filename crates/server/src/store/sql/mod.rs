//! `Store` over sqlx, written once for both dialects: each query text is valid SQLite and
//! PostgreSQL (`$n` placeholders, `BIGINT` epoch-millisecond times), and the `read!`/`write!`
//! macros expand a body once per backend so the compiler checks both.

use async_trait::async_trait;
use sqlx::{PgPool, SqlitePool};

use super::migrate::{self, Migration};
use super::*;
use crate::domain::ids::{self, prefix};

/// The pools of one backend. SQLite has one writer connection (no SQLITE_BUSY on
/// read-then-write transactions) and a pool of readers (WAL lets them run alongside).
#[derive(Debug, Clone)]
pub(super) enum Db {
    Sqlite { reader: SqlitePool, writer: SqlitePool },
    Postgres(PgPool),
}

/// The store implementation used in production and tests.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(super) db: Db,
    pub(super) cache: std::sync::Arc<super::cache::IdentityCache>,
}

impl SqlStore {
    pub(super) fn new(db: Db) -> Self {
        Self {
            db,
            cache: std::sync::Arc::new(super::cache::IdentityCache::new(std::time::Duration::from_secs(5))),
        }
    }

    /// Sets the identity cache's lifetime (zero turns it off).
    pub fn with_identity_cache(mut self, ttl: std::time::Duration) -> Self {
        self.cache = std::sync::Arc::new(super::cache::IdentityCache::new(ttl));
        self
    }
}

/// Runs `$body` with `$p` bound to a pool that may only read.
macro_rules! read {
    ($self:ident, $p:ident => $body:expr) => {
        match &$self.db {
            Db::Sqlite { reader: $p, .. } => $body,
            Db::Postgres($p) => $body,
        }
    };
}

/// Runs `$body` with `$p` bound to the pool that writes.
macro_rules! write {
    ($self:ident, $p:ident => $body:expr) => {
        match &$self.db {
            Db::Sqlite { writer: $p, .. } => $body,
            Db::Postgres($p) => $body,
        }
    };
}

/// The outbox: queues `event` for every endpoint of `org` subscribed to it, one delivery row
/// and one delivery job each, inside the caller's transaction. So a webhook goes out if and
/// only if the state change that caused it committed.
macro_rules! emit_event {
    ($tx:ident, $org:expr, $event:expr, $data:expr, $now:expr) => {{
        let endpoints: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM webhook_endpoints WHERE organization_id = $1 AND deleted_at IS NULL \
             AND (' ' || events || ' ') LIKE ('% ' || $2 || ' %')",
        )
        .bind($org)
        .bind($event)
        .fetch_all(&mut *$tx)
        .await?;
        if !endpoints.is_empty() {
            let payload =
                serde_json::json!({"type": $event, "timestamp": crate::domain::format_ms($now), "data": $data})
                    .to_string();
            for (endpoint_id,) in endpoints {
                let msg = crate::domain::ids::new_id("msg", $now);
                sqlx::query(
                    "INSERT INTO webhook_deliveries (id, endpoint_id, organization_id, event_type, payload, status, created_at) \
                     VALUES ($1, $2, $3, $4, $5, 'pending', $6)",
                )
                .bind(&msg)
                .bind(&endpoint_id)
                .bind($org)
                .bind($event)
                .bind(&payload)
                .bind($now)
                .execute(&mut *$tx)
                .await?;
                sqlx::query(
                    "INSERT INTO analysis_jobs (id, kind, subject_id, organization_id, status, attempts, max_attempts, run_at, \
                     created_at, updated_at) VALUES ($1, 'webhook_delivery', $2, $3, 'queued', 0, 8, $4, $4, $4)",
                )
                .bind(crate::domain::ids::new_id("ajob", $now))
                .bind(&msg)
                .bind($org)
                .bind($now)
                .execute(&mut *$tx)
                .await?;
            }
        }
    }};
}

/// `(organization_id, study_id)` of a session, read in the transaction.
macro_rules! session_owner {
    ($tx:ident, $session_id:expr) => {{
        let row: (String, String) = sqlx::query_as(
            "SELECT s.organization_id, x.study_id FROM sessions x JOIN studies s ON s.id = x.study_id WHERE x.id = $1",
        )
        .bind($session_id)
        .fetch_one(&mut *$tx)
        .await?;
        row
    }};
}

mod accounts;
mod pipeline;
mod sessions;
mod studies;
mod webhooks;

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Maps a unique-constraint violation to `Conflict(message)`, anything else as usual.
fn conflict_as(message: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(message.into()),
        _ => e.into(),
    }
}

impl SqlStore {
    fn migrations(&self) -> &'static [Migration] {
        match self.db {
            Db::Sqlite { .. } => migrate::SQLITE,
            Db::Postgres(_) => migrate::POSTGRES,
        }
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        match self.db {
            Db::Sqlite { .. } => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    async fn migrate(&self) -> StoreResult<usize> {
        let migrations = self.migrations();
        write!(self, p => {
            sqlx::raw_sql(migrate::CREATE_TABLE).execute(p).await?;
            let done: Vec<(i64,)> = sqlx::query_as("SELECT version FROM schema_migrations").fetch_all(p).await?;
            let mut applied = 0;
            for m in migrations {
                if done.iter().any(|(v,)| *v == m.version) {
                    continue;
                }
                let mut tx = p.begin().await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(m.sql)).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                    .bind(m.version)
                    .bind(m.name)
                    .bind(chrono::Utc::now().timestamp_millis())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                tracing::info!(version = m.version, name = m.name, "migration applied");
                applied += 1;
            }
            Ok(applied)
        })
    }

    async fn ready(&self) -> StoreResult<bool> {
        let latest = self.migrations().last().map_or(0, |m| m.version);
        read!(self, p => {
            let row: Option<(i64,)> = sqlx::query_as("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                .fetch_optional(p)
                .await?;
            Ok(row.is_some_and(|(v,)| v >= latest))
        })
    }
}

/// A fresh audit entry id.
pub fn audit_id(now: i64) -> String {
    ids::new_id(prefix::AUDIT, now)
}
