//! `SchedulerStore` over SQLite and PostgreSQL.

use async_trait::async_trait;
use sqlx::QueryBuilder;

use super::*;
use crate::domain::{CronJob, SeatStatus};

type RunningRow = (String, String, String, SessionStatus, i64, Option<i64>, i64, Option<String>);

#[async_trait]
impl SchedulerStore for SqlStore {
    async fn claim_tick(&self, job: CronJob, tick_at: i64, node: &str, now: i64) -> StoreResult<bool> {
        write!(self, p => {
            let done = sqlx::query(
                "INSERT INTO scheduler_ticks (job, tick_at, node, claimed_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (job) DO UPDATE SET tick_at = excluded.tick_at, node = excluded.node, \
                 claimed_at = excluded.claimed_at WHERE scheduler_ticks.tick_at < excluded.tick_at",
            )
            .bind(job)
            .bind(tick_at)
            .bind(node)
            .bind(now)
            .execute(p)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    async fn defer_item(&self, id: &QueueItemId, run_at: i64, now: i64) -> StoreResult<()> {
        write!(self, p => {
            sqlx::query(
                "UPDATE analysis_jobs SET status = $1, run_at = $2, lease_until = NULL, updated_at = $3, \
                 attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END WHERE id = $4",
            )
            .bind(QueueStatus::Queued)
            .bind(run_at)
            .bind(now)
            .bind(id)
            .execute(p)
            .await?;
            Ok(())
        })
    }

    async fn running_sessions(
        &self,
        within: &[SessionStatus],
        started_before: i64,
    ) -> StoreResult<Vec<RunningSession>> {
        let rows: Vec<RunningRow> = read!(self, p => {
            let mut qb = QueryBuilder::new(
                "SELECT id, study_id, tester_id, status, started_at, paused_at, paused_ms, consent FROM sessions WHERE started_at < ",
            );
            qb.push_bind(started_before).push(" AND status IN (");
            let mut sep = qb.separated(", ");
            for s in within {
                sep.push_bind(*s);
            }
            qb.push(") ORDER BY started_at, id");
            qb.build_query_as().fetch_all(p).await?
        });
        Ok(rows
            .into_iter()
            .map(|r| RunningSession {
                id: r.0.into(),
                study_id: r.1.into(),
                tester_id: r.2.into(),
                status: r.3,
                started_at: r.4,
                paused_at: r.5,
                paused_ms: r.6,
                consent: r.7.and_then(|c| serde_json::from_str(&c).ok()),
            })
            .collect())
    }

    async fn pending_starts(
        &self,
        study_in: &[StudyStatus],
        seat: SeatStatus,
        untouched: SessionStatus,
        accepted_before: i64,
    ) -> StoreResult<Vec<PendingStart>> {
        let rows: Vec<(String, String, String, i64)> = read!(self, p => {
            let mut qb = QueryBuilder::new(
                "SELECT st.study_id, s.organization_id, st.tester_id, st.updated_at FROM study_testers st \
                 JOIN studies s ON s.id = st.study_id WHERE st.reminded_at IS NULL AND st.status = ",
            );
            qb.push_bind(seat).push(" AND st.updated_at < ").push_bind(accepted_before);
            qb.push(" AND NOT EXISTS (SELECT 1 FROM sessions x WHERE x.study_id = st.study_id AND x.tester_id = st.tester_id \
                     AND (x.consent IS NOT NULL OR x.status <> ");
            qb.push_bind(untouched).push(")) AND s.status IN (");
            let mut sep = qb.separated(", ");
            for s in study_in {
                sep.push_bind(*s);
            }
            qb.push(") ORDER BY st.updated_at, st.study_id, st.tester_id");
            qb.build_query_as().fetch_all(p).await?
        });
        Ok(rows
            .into_iter()
            .map(|r| PendingStart {
                study_id: r.0.into(),
                organization_id: r.1.into(),
                tester_id: r.2.into(),
                accepted_at: r.3,
            })
            .collect())
    }

    async fn mark_reminded(
        &self,
        study_id: &StudyId,
        tester_id: &UserId,
        notification: NewNotification,
        telegram: Option<TelegramCopy>,
        now: i64,
    ) -> StoreResult<bool> {
        let inserted = write!(self, p => {
            let mut tx = p.begin().await?;
            let done = sqlx::query(
                "UPDATE study_testers SET reminded_at = $1 WHERE study_id = $2 AND tester_id = $3 AND reminded_at IS NULL",
            )
            .bind(now)
            .bind(study_id)
            .bind(tester_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            let _ = insert_notification!(tx, &notification);
            if let Some(copy) = &telegram {
                insert_message!(tx, copy, now);
            }
            tx.commit().await?;
            Ok(true)
        });
        if matches!(inserted, Ok(true)) {
            self.cache.invalidate(Invalidation::Notifications);
        }
        inserted
    }

    async fn stalled_studies(
        &self,
        within: &[StudyStatus],
        launched_before: i64,
        limit: i64,
    ) -> StoreResult<Vec<StalledStudy>> {
        let rows: Vec<(String, String, i64)> = read!(self, p => {
            let mut qb = QueryBuilder::new(
                "SELECT s.id, s.organization_id, s.launched_at FROM studies s WHERE s.launched_at < ",
            );
            qb.push_bind(launched_before);
            qb.push(" AND NOT EXISTS (SELECT 1 FROM study_followups f WHERE f.study_id = s.id) AND s.status IN (");
            let mut sep = qb.separated(", ");
            for s in within {
                sep.push_bind(*s);
            }
            qb.push(") ORDER BY s.launched_at, s.id LIMIT ").push_bind(limit);
            qb.build_query_as().fetch_all(p).await?
        });
        Ok(rows
            .into_iter()
            .map(|r| StalledStudy { study_id: r.0.into(), organization_id: r.1.into(), launched_at: r.2 })
            .collect())
    }

    async fn flag_stalled(
        &self,
        study: &StalledStudy,
        notifications: Vec<NewNotification>,
        event: OutboundEvent,
        now: i64,
    ) -> StoreResult<bool> {
        let inserted = write!(self, p => {
            let mut tx = p.begin().await?;
            let done = sqlx::query(
                "INSERT INTO study_followups (study_id, flagged_at) VALUES ($1, $2) ON CONFLICT (study_id) DO NOTHING",
            )
            .bind(&study.study_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            for n in &notifications {
                let _ = insert_notification!(tx, n);
            }
            emit_event!(tx, &study.organization_id, &event, now);
            tx.commit().await?;
            Ok(true)
        });
        if matches!(inserted, Ok(true)) {
            self.cache.invalidate(Invalidation::Notifications);
        }
        inserted
    }

    async fn sessions_to_purge(&self, started_before: i64, limit: i64) -> StoreResult<Vec<SessionId>> {
        read!(self, p => {
            let rows: Vec<(SessionId,)> = sqlx::query_as(
                "SELECT id FROM sessions WHERE started_at < $1 AND streams_purged_at IS NULL ORDER BY started_at, id LIMIT $2",
            )
            .bind(started_before)
            .bind(limit)
            .fetch_all(p)
            .await?;
            Ok(rows.into_iter().map(|(id,)| id).collect())
        })
    }

    async fn purge_streams(&self, session_id: &SessionId, now: i64) -> StoreResult<u64> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            let mut deleted = 0;
            for sql in [
                "DELETE FROM events WHERE session_id = $1",
                "DELETE FROM facial WHERE session_id = $1",
                "DELETE FROM voice WHERE session_id = $1",
                "DELETE FROM recording_chunks WHERE session_id = $1",
                "DELETE FROM recordings WHERE session_id = $1",
            ] {
                deleted += sqlx::query(sql).bind(session_id).execute(&mut *tx).await?.rows_affected();
            }
            sqlx::query("UPDATE sessions SET streams_purged_at = $1 WHERE id = $2")
                .bind(now)
                .bind(session_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(deleted)
        })
    }
}
