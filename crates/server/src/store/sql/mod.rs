//! `Store` over sqlx, written once for both dialects: each query text is valid SQLite and
//! PostgreSQL (`$n` placeholders, `BIGINT` epoch-millisecond times), and the `read!`/`write!`
//! macros expand a body once per backend so the compiler checks both.

use async_trait::async_trait;
use sqlx::{PgPool, QueryBuilder, SqlitePool};

use super::migrate::{self, Migration};
use super::*;
pub(super) use crate::domain::ids::{FindingId, OrgId, QueueItemId, SessionId, StudyId, UserId};
pub(super) use crate::domain::study::{ConsentRecord, Profile};
pub(super) use crate::domain::{
    Decision, PipelineStatus, QueueKind, QueueStatus, ReportKind, SessionStatus, StudyStatus,
};

/// The pools of one backend. SQLite has one writer connection (no SQLITE_BUSY on
/// read-then-write transactions) and a pool of readers (WAL lets them run alongside).
#[derive(Debug, Clone)]
pub(super) enum Db {
    Sqlite { reader: SqlitePool, writer: SqlitePool, groups: ingest_group::Groups },
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

    /// After a write that applied `then` (committed or not: a needless bump costs only a cache
    /// miss), the cached unread counts are stale when it notified anyone.
    fn after_follow_ups(&self, then: &super::FollowUps) {
        if !then.notify.is_empty() {
            self.cache.invalidate(Invalidation::Notifications);
        }
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

/// The outbox: records `$ev` (an `OutboundEvent`) for every endpoint of `$org` subscribed to
/// it, one delivery row and one queue row each, inside the caller's transaction. So a webhook
/// goes out if and only if the state change that caused it committed.
macro_rules! emit_event {
    ($tx:ident, $org:expr, $ev:expr, $now:expr) => {{
        let ev: &OutboundEvent = $ev;
        let endpoints: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM webhook_endpoints WHERE organization_id = $1 AND deleted_at IS NULL \
             AND (' ' || events || ' ') LIKE ('% ' || $2 || ' %')",
        )
        .bind($org)
        .bind(ev.event.as_str())
        .fetch_all(&mut *$tx)
        .await?;
        if !endpoints.is_empty() {
            let payload = serde_json::json!({
                "type": ev.event.as_str(),
                "timestamp": crate::domain::format_ms($now),
                "data": ev.data,
            })
            .to_string();
            let plan = ev.delivery;
            for (endpoint_id,) in endpoints {
                let delivery_id = crate::domain::ids::new_id(plan.delivery_prefix, $now);
                sqlx::query(
                    "INSERT INTO webhook_deliveries (id, endpoint_id, organization_id, event_type, payload, status, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $7, $6)",
                )
                .bind(&delivery_id)
                .bind(&endpoint_id)
                .bind($org)
                .bind(ev.event.as_str())
                .bind(&payload)
                .bind($now)
                .bind(crate::domain::DeliveryStatus::Pending)
                .execute(&mut *$tx)
                .await?;
                sqlx::query(
                    "INSERT INTO analysis_jobs (id, kind, subject_id, organization_id, status, attempts, max_attempts, run_at, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $7, $7)",
                )
                .bind(crate::domain::ids::new_id(plan.queue_prefix, $now))
                .bind(plan.kind)
                .bind(&delivery_id)
                .bind($org)
                .bind(QueueStatus::Queued)
                .bind(plan.max_attempts)
                .bind($now)
                .execute(&mut *$tx)
                .await?;
            }
        }
    }};
}

/// `emit_event!` for an optional event.
macro_rules! maybe_emit {
    ($tx:ident, $org:expr, $ev:expr, $now:expr) => {{
        if let Some(ev) = $ev {
            emit_event!($tx, $org, ev, $now);
        }
    }};
}

/// Selects the session's status inside the transaction, filtered by `$tenant`; returns early
/// with `Guarded::NotFound` when it is absent or another tenant's.
macro_rules! session_status_in_tx {
    ($tx:ident, $tenant:expr, $id:expr) => {{
        let (cond, who) = session_tenant_clause("x.id", 2, $tenant);
        let sql = format!(
            "SELECT x.status FROM sessions x JOIN studies s ON s.id = x.study_id WHERE x.id = $1{cond}"
        );
        let mut q = sqlx::query_as::<_, (SessionStatus,)>(sqlx::AssertSqlSafe(sql)).bind($id);
        if let Some(w) = who {
            q = q.bind(w);
        }
        match q.fetch_optional(&mut *$tx).await? {
            Some((status,)) => status,
            None => return Ok(Guarded::NotFound),
        }
    }};
}

/// Takes a seat for `$tester` in study `$study` (whose `tester_count` is `$capacity`) inside the
/// caller's transaction, keeping an earlier label number; evaluates to `Some(label_no)`, or
/// `None` when every seat is taken. The study row must already be locked (PostgreSQL
/// `FOR UPDATE`; SQLite has one writer), so two accepts cannot both take the last seat.
macro_rules! take_seat {
    ($tx:ident, $study:expr, $tester:expr, $capacity:expr, $now:expr) => {{
        let existing: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT label_no FROM study_testers WHERE study_id = $1 AND tester_id = $2")
                .bind($study)
                .bind($tester)
                .fetch_optional(&mut *$tx)
                .await?;
        let (taken,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM study_testers WHERE study_id = $1 AND status = $2")
                .bind($study)
                .bind(crate::domain::SeatStatus::Accepted)
                .fetch_one(&mut *$tx)
                .await?;
        if taken >= $capacity {
            None
        } else {
            let label_no = match existing.and_then(|(l,)| l) {
                Some(l) => l,
                None => {
                    let (max,): (Option<i64>,) =
                        sqlx::query_as("SELECT MAX(label_no) FROM study_testers WHERE study_id = $1")
                            .bind($study)
                            .fetch_one(&mut *$tx)
                            .await?;
                    max.unwrap_or(0) + 1
                }
            };
            sqlx::query(
                "INSERT INTO study_testers (study_id, tester_id, status, label_no, created_at, updated_at) \
                 VALUES ($1, $2, $5, $3, $4, $4) \
                 ON CONFLICT (study_id, tester_id) DO UPDATE SET status = $5, label_no = $3, updated_at = $4",
            )
            .bind($study)
            .bind($tester)
            .bind(label_no)
            .bind($now)
            .bind(crate::domain::SeatStatus::Accepted)
            .execute(&mut *$tx)
            .await?;
            Some(label_no)
        }
    }};
}

/// Runs a page query and its count with the same filters; evaluates to `(rows, total)`.
/// `$filters` is a closure pushing ` AND …` conditions onto a `QueryBuilder` whose text
/// already has a `WHERE`; `$decode` maps each row.
macro_rules! fetch_page {
    ($p:expr, $select:expr, $count:expr, $filters:expr, $order:expr, $page:expr, |$row:ident| $decode:expr) => {{
        let filters = $filters;
        let mut qb = QueryBuilder::new($select);
        filters(&mut qb);
        qb.push(" ORDER BY ").push($order).push(" LIMIT ").push_bind(i64::from($page.limit));
        qb.push(" OFFSET ").push_bind($page.offset());
        let rows = qb.build().fetch_all($p).await?;
        let mut out = Vec::with_capacity(rows.len());
        for $row in &rows {
            out.push($decode);
        }
        let mut qc = QueryBuilder::new($count);
        filters(&mut qc);
        let (total,): (i64,) = qc.build_query_as().fetch_one($p).await?;
        (out, to_u64(total))
    }};
}

/// `sqlx` encoding of the wire enums: stored as their text spelling, decoded strictly.
macro_rules! text_enum_sql {
    ($($t:ty),+) => {$(
        impl<DB: sqlx::Database> sqlx::Type<DB> for $t
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $t
        where
            &'q str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&'q str as sqlx::Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $t
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: <DB as sqlx::Database>::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                <$t>::parse(text).ok_or_else(|| format!("unknown {} {text:?}", stringify!($t)).into())
            }
        }
    )+};
}

text_enum_sql!(
    crate::domain::StudyStatus,
    crate::domain::SessionStatus,
    crate::domain::PipelineStatus,
    crate::domain::QueueKind,
    crate::domain::QueueStatus,
    crate::domain::ReportKind,
    crate::domain::Decision,
    crate::domain::UserStatus,
    crate::domain::DeliveryStatus,
    crate::domain::Role,
    crate::domain::OrgRole,
    crate::domain::Revocation,
    crate::domain::TargetKind,
    crate::domain::ConsentAction,
    crate::domain::Plan
);

/// `sqlx` encoding of the typed ids (`domain::ids`): stored as the bare string.
macro_rules! text_id_sql {
    ($($t:ty),+) => {$(
        impl<DB: sqlx::Database> sqlx::Type<DB> for $t
        where
            String: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $t
        where
            String: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                // The owned string: `&str` borrows for `'q`, which `&self` does not outlive.
                <String as sqlx::Encode<'q, DB>>::encode(self.as_str().to_owned(), buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $t
        where
            String: sqlx::Decode<'r, DB>,
        {
            fn decode(value: <DB as sqlx::Database>::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(<$t>::from(<String as sqlx::Decode<'r, DB>>::decode(value)?))
            }
        }
    )+};
}

text_id_sql!(
    crate::domain::ids::OrgId,
    crate::domain::ids::UserId,
    crate::domain::ids::StudyId,
    crate::domain::ids::SessionId,
    crate::domain::ids::FindingId,
    crate::domain::ids::QueueItemId
);

/// ` AND …`: the session whose id is in column `col` belongs to `tenant` (bind placeholder
/// `$n`, value returned). The query must join `sessions x` and `studies s` for `x.id = col`,
/// or `col` is `x.id`.
fn session_tenant_clause(col: &str, n: usize, tenant: &Tenant) -> (String, Option<String>) {
    match tenant {
        Tenant::All => (String::new(), None),
        Tenant::Organization(o) => (
            format!(
                " AND EXISTS (SELECT 1 FROM sessions tx JOIN studies ts ON ts.id = tx.study_id \
                 WHERE tx.id = {col} AND ts.organization_id = ${n})"
            ),
            Some(o.to_string()),
        ),
        Tenant::Tester(t) => (
            format!(" AND EXISTS (SELECT 1 FROM sessions tx WHERE tx.id = {col} AND tx.tester_id = ${n})"),
            Some(t.to_string()),
        ),
    }
}

/// ` AND {col} = $n` for an organization's tenant (its id returned to bind), nothing for the
/// system's; `None` for a tester, who reaches no row an organization owns outright.
fn org_clause<'t>(col: &str, n: usize, tenant: &'t Tenant) -> Option<(String, Option<&'t OrgId>)> {
    match tenant {
        Tenant::All => Some((String::new(), None)),
        Tenant::Organization(o) => Some((format!(" AND {col} = ${n}"), Some(o))),
        Tenant::Tester(_) => None,
    }
}

/// ` AND …`: the study whose id is in column `col` is `tenant`'s: its organization's, or one
/// the tester answered (bind placeholder `$n`, value returned).
fn study_tenant_clause(col: &str, n: usize, tenant: &Tenant) -> (String, Option<String>) {
    match tenant {
        Tenant::All => (String::new(), None),
        Tenant::Organization(o) => (
            format!(
                " AND EXISTS (SELECT 1 FROM studies ts WHERE ts.id = {col} AND ts.organization_id = ${n})"
            ),
            Some(o.to_string()),
        ),
        Tenant::Tester(t) => (
            format!(
                " AND EXISTS (SELECT 1 FROM study_testers tst WHERE tst.study_id = {col} AND tst.tester_id = ${n})"
            ),
            Some(t.to_string()),
        ),
    }
}

/// Appends the tenant condition on the session aliased `x` (joined with its study `s`).
fn push_session_tenant<DB: sqlx::Database>(qb: &mut QueryBuilder<DB>, tenant: &Tenant)
where
    String: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    match tenant {
        Tenant::All => {}
        Tenant::Organization(org) => {
            qb.push(" AND s.organization_id = ").push_bind(org.clone());
        }
        Tenant::Tester(t) => {
            qb.push(" AND x.tester_id = ").push_bind(t.clone());
        }
    }
}

/// Writes an `AuditEntry` inside the caller's transaction.
macro_rules! insert_audit {
    ($tx:ident, $audit:expr) => {{
        let a: &AuditEntry = &$audit;
        sqlx::query(
            "INSERT INTO audit_log (id, actor_id, action, target_type, target_id, details, created_at, request_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&a.id)
        .bind(&a.actor_id)
        .bind(&a.action)
        .bind(&a.target_type)
        .bind(&a.target_id)
        .bind(&a.details)
        .bind(a.created_at)
        .bind(&a.request_id)
        .execute(&mut *$tx)
        .await?;
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

/// The columns of a queue row, in `JobRow` order.
const JOB_COLS: &str = "id, kind, subject_id, organization_id, tester_id, status, attempts, max_attempts, run_at, \
     error, result_ref, created_at, updated_at, payload, result";

type JobRow = (
    String,
    QueueKind,
    String,
    String,
    Option<String>,
    QueueStatus,
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
    i64,
    i64,
    Option<String>,
    Option<String>,
);

/// A queue row as the store returns it.
fn job_from(r: JobRow) -> QueueItem {
    QueueItem {
        id: r.0.into(),
        kind: r.1,
        subject_id: r.2,
        organization_id: r.3.into(),
        tester_id: r.4.map(UserId::from),
        status: r.5,
        attempts: r.6,
        max_attempts: r.7,
        run_at: r.8,
        error: r.9,
        result_ref: r.10,
        created_at: r.11,
        updated_at: r.12,
        payload: r.13,
        result: r.14,
    }
}

mod accounts;
mod backup;
mod billing;
mod governance;
pub(super) mod ingest_group;
mod oauth;
// Its helpers (pacing slots, queued sends, notification rows) serve the modules after it.
#[macro_use]
mod telegram;
// The queue's guards and a step's follow-ups, shared by the modules after it.
#[macro_use]
mod flow;
mod notifications;
mod pipeline;
mod recordings;
mod research;
mod scheduler;
mod sessions;
mod studies;
mod team;
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

    fn forward_invalidations(&self, tx: tokio::sync::mpsc::UnboundedSender<Invalidation>) -> bool {
        self.cache.set_outbox(tx)
    }

    fn apply_invalidation(&self, inv: &Invalidation) {
        self.cache.apply(inv);
    }

    fn identity_version(&self) -> u64 {
        self.cache.version()
    }

    async fn notify_invalidation(&self, inv: &Invalidation) -> StoreResult<()> {
        if let Db::Postgres(p) = &self.db {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(super::cache::INVALIDATION_CHANNEL)
                .bind(inv.encode())
                .execute(p)
                .await?;
        }
        Ok(())
    }

    async fn listen_invalidations(&self) -> StoreResult<()> {
        let Db::Postgres(pool) = &self.db else {
            return std::future::pending().await;
        };
        // A dedicated connection (detached from the pool), re-established by `PgListener`.
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen(super::cache::INVALIDATION_CHANNEL).await?;
        // Whatever was sent before this node listened is unknown to it.
        self.cache.apply(&Invalidation::All);
        loop {
            match listener.try_recv().await? {
                Some(n) => {
                    if let Some(inv) = Invalidation::decode(n.payload()) {
                        self.cache.apply(&inv);
                    }
                }
                // The connection dropped; the next `try_recv` reconnects and re-listens, and
                // notifications sent meanwhile are lost.
                None => self.cache.apply(&Invalidation::All),
            }
        }
    }
}
