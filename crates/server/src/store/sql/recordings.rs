//! `RecordingStore` over SQLite and PostgreSQL.

use async_trait::async_trait;
use sqlx::Row;

use super::*;

const SUMMARY_COLS: &str = "chunks, events, raw_bytes, stored_bytes, first_ts, last_ts, full_snapshots, gaps";

type SummaryTuple = (i64, i64, i64, i64, Option<i64>, Option<i64>, i64, String, Vec<u8>);

fn head_from(r: SummaryTuple) -> RecordingHead {
    RecordingHead {
        summary: RecordingSummary {
            chunks: r.0,
            events: r.1,
            raw_bytes: r.2,
            stored_bytes: r.3,
            first_ts: r.4,
            last_ts: r.5,
            full_snapshots: r.6,
            gaps: r.7,
        },
        state: r.8,
    }
}

/// Upserts one derived event unless the recorder sent the same action (a non-derived event
/// of the same type within `TWIN_MS`).
const DERIVED_UPSERT: &str = "INSERT INTO events (session_id, id, client_id, ts, event_type, target_selector, x, y, \
     scroll_y, input_length, viewport_width, viewport_height, url, target_text, task_id, hover_ms, error_message, \
     deletions, selection_length, mutations, opens_new_context, role, word_count) \
     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23 \
     WHERE NOT EXISTS (SELECT 1 FROM events o WHERE o.session_id = $1 AND o.event_type = $5 \
     AND (o.client_id IS NULL OR o.client_id NOT LIKE 'rr:%') AND o.ts >= $4 - $24 AND o.ts <= $4 + $24) \
     ON CONFLICT (session_id, client_id) DO UPDATE SET ts = excluded.ts, input_length = excluded.input_length, \
     deletions = excluded.deletions, selection_length = excluded.selection_length, mutations = excluded.mutations, \
     word_count = excluded.word_count, scroll_y = excluded.scroll_y";

#[async_trait]
impl RecordingStore for SqlStore {
    async fn recording_head(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
    ) -> StoreResult<Option<RecordingHead>> {
        let (cond, who) = session_tenant_clause("r.session_id", 2, tenant);
        let sql = format!("SELECT {SUMMARY_COLS}, state FROM recordings r WHERE r.session_id = $1{cond}");
        read!(self, p => {
            let mut q = sqlx::query_as::<_, SummaryTuple>(sqlx::AssertSqlSafe(sql)).bind(session_id);
            if let Some(w) = who {
                q = q.bind(w);
            }
            Ok(q.fetch_optional(p).await?.map(head_from))
        })
    }

    async fn has_chunk(&self, tenant: &Tenant, session_id: &SessionId, chunk_id: &str) -> StoreResult<bool> {
        let (cond, who) = session_tenant_clause("c.session_id", 3, tenant);
        let sql =
            format!("SELECT seq FROM recording_chunks c WHERE c.session_id = $1 AND c.chunk_id = $2{cond}");
        read!(self, p => {
            let mut q = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql)).bind(session_id).bind(chunk_id);
            if let Some(w) = who {
                q = q.bind(w);
            }
            Ok(q.fetch_optional(p).await?.is_some())
        })
    }

    async fn append_chunk(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        accepting: SessionStatus,
        a: ChunkAppend,
    ) -> StoreResult<Guarded<AppendOutcome>> {
        let (cond, who) = match tenant {
            Tenant::Tester(t) => (" AND tester_id = $2", Some(t.as_str())),
            Tenant::Organization(_) => return Ok(Guarded::NotFound),
            Tenant::All => ("", None),
        };
        // PostgreSQL: the session row is locked, so appends to one recording run one at a time
        // (SQLite has one writer).
        let lock = if matches!(self.db, Db::Postgres(_)) { " FOR UPDATE" } else { "" };
        let select =
            format!("SELECT status, consent, consent_events FROM sessions WHERE id = $1{cond}{lock}");
        write!(self, p => {
            let mut tx = p.begin().await?;
            let mut q = sqlx::query_as::<_, (SessionStatus, Option<String>, bool)>(sqlx::AssertSqlSafe(select.clone()))
                .bind(session_id);
            if let Some(w) = who {
                q = q.bind(w);
            }
            let consent_events = match q.fetch_optional(&mut *tx).await? {
                None => return Ok(Guarded::NotFound),
                Some((s, _, _)) if s != accepting => return Ok(Guarded::WrongState(Refusal::Session(s))),
                Some((_, consent, events)) => {
                    let screen = consent
                        .and_then(|c| serde_json::from_str::<ConsentRecord>(&c).ok())
                        .is_some_and(|c| c.streams.screenshots);
                    if !screen {
                        return Ok(Guarded::WrongState(Refusal::NoConsent));
                    }
                    events
                }
            };
            if let Some(id) = &a.chunk_id {
                let dup: Option<(i64,)> =
                    sqlx::query_as("SELECT seq FROM recording_chunks WHERE session_id = $1 AND chunk_id = $2")
                        .bind(session_id)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                if dup.is_some() {
                    return Ok(Guarded::Done(AppendOutcome::Duplicate));
                }
            }
            let current: Option<(i64,)> = sqlx::query_as("SELECT chunks FROM recordings WHERE session_id = $1")
                .bind(session_id)
                .fetch_optional(&mut *tx)
                .await?;
            if current.map_or(0, |(c,)| c) != a.after_chunks {
                return Ok(Guarded::Done(AppendOutcome::Raced));
            }
            sqlx::query(
                "INSERT INTO recording_chunks (session_id, seq, chunk_id, first_ts, last_ts, events, raw_bytes, data, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(session_id)
            .bind(a.after_chunks + 1)
            .bind(&a.chunk_id)
            .bind(a.first_ts)
            .bind(a.last_ts)
            .bind(a.events)
            .bind(a.raw_bytes)
            .bind(&a.data)
            .bind(a.now)
            .execute(&mut *tx)
            .await?;
            let s = &a.summary;
            let sql = if current.is_some() {
                "UPDATE recordings SET chunks = $2, events = $3, raw_bytes = $4, stored_bytes = $5, first_ts = $6, \
                 last_ts = $7, full_snapshots = $8, gaps = $9, state = $10, updated_at = $11 WHERE session_id = $1"
            } else {
                "INSERT INTO recordings (session_id, chunks, events, raw_bytes, stored_bytes, first_ts, last_ts, \
                 full_snapshots, gaps, state, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            };
            sqlx::query(sql)
                .bind(session_id)
                .bind(s.chunks)
                .bind(s.events)
                .bind(s.raw_bytes)
                .bind(s.stored_bytes)
                .bind(s.first_ts)
                .bind(s.last_ts)
                .bind(s.full_snapshots)
                .bind(&s.gaps)
                .bind(&a.state)
                .bind(a.now)
                .execute(&mut *tx)
                .await?;
            let mut derived = 0;
            if consent_events {
                for e in &a.derived {
                    derived += sqlx::query(DERIVED_UPSERT)
                        .bind(session_id)
                        .bind(&e.id)
                        .bind(&e.client_id)
                        .bind(e.ts)
                        .bind(&e.event_type)
                        .bind(&e.target_selector)
                        .bind(e.x)
                        .bind(e.y)
                        .bind(e.scroll_y)
                        .bind(e.input_length)
                        .bind(e.viewport_width)
                        .bind(e.viewport_height)
                        .bind(&e.url)
                        .bind(&e.target_text)
                        .bind(&e.task_id)
                        .bind(e.hover_ms)
                        .bind(&e.error_message)
                        .bind(e.extra.deletions)
                        .bind(e.extra.selection_length)
                        .bind(e.extra.mutations)
                        .bind(e.extra.opens_new_context)
                        .bind(&e.extra.role)
                        .bind(e.extra.word_count)
                        .bind(TWIN_MS)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
            }
            tx.commit().await?;
            Ok(Guarded::Done(AppendOutcome::Stored { derived }))
        })
    }

    async fn recording_chunks(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<(i64, Vec<u8>)>> {
        let (cond, who) = session_tenant_clause("c.session_id", 4, tenant);
        let sql = format!(
            "SELECT seq, data FROM recording_chunks c WHERE c.session_id = $1 AND c.seq > $2{cond} ORDER BY seq LIMIT $3"
        );
        read!(self, p => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(session_id).bind(after_seq).bind(limit);
            if let Some(w) = who {
                q = q.bind(w);
            }
            let rows = q.fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push((r.try_get(0)?, r.try_get(1)?));
            }
            Ok(out)
        })
    }
}
