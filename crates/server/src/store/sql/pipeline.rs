//! `PipelineStore` over SQLite and PostgreSQL: the queue, findings, reports.

use async_trait::async_trait;

use super::*;

impl SqlStore {
    /// The newest report matching `condition` (on `$1`) within `scope`.
    async fn find_report(
        &self,
        scope: &Tenant,
        condition: &str,
        value: &str,
    ) -> StoreResult<Option<ReportRow>> {
        // Reports are the business's; testers see their findings, not reports.
        let Some((filter, org)) = org_clause("organization_id", 2, scope) else { return Ok(None) };
        let sql = format!(
            "SELECT id, kind, subject_id, study_id, data, created_at FROM reports WHERE {condition}{filter} \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        );
        read!(self, p => {
            let mut q = sqlx::query_as::<_, (String, ReportKind, String, String, String, i64)>(sqlx::AssertSqlSafe(sql)).bind(value);
            if let Some(o) = org {
                q = q.bind(o);
            }
            Ok(q.fetch_optional(p).await?.map(|r| ReportRow {
                id: r.0,
                kind: r.1,
                subject_id: r.2,
                study_id: r.3.into(),
                data: r.4,
                created_at: r.5,
            }))
        })
    }
}

#[async_trait]
impl PipelineStore for SqlStore {
    async fn enqueue(&self, job: NewQueueItem, guard: EnqueueGuard<'_>) -> StoreResult<Guarded<QueueItem>> {
        let id = write!(self, p => {
            let mut tx = p.begin().await?;
            match guard_refusal!(tx, guard, &job.subject_id, job.now) {
                Some(Guarded::NotFound) => return Ok(Guarded::NotFound),
                Some(Guarded::WrongState(s)) => return Ok(Guarded::WrongState(s)),
                Some(Guarded::Done(())) | None => {}
            }
            if let Some(existing) = insert_item!(tx, &job) {
                // A pipeline move made by the guard is rolled back with the transaction.
                return Ok(Guarded::Done(job_from(existing)));
            }
            tx.commit().await?;
            job.id.clone()
        });
        Ok(self.get_queue_item(&Tenant::All, &id).await?.map_or(Guarded::NotFound, Guarded::Done))
    }

    async fn claim_next(&self, worker: &str, now: i64, lease_ms: i64) -> StoreResult<Option<QueueItem>> {
        // One statement: pick the oldest due job (or one whose worker's lease ran out) and take
        // it. PostgreSQL skips rows other workers hold; SQLite has a single writer.
        let lock = if matches!(self.db, Db::Postgres(_)) { " FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE analysis_jobs SET status = $5, attempts = attempts + 1, lease_until = $1, worker = $2, updated_at = $3 \
             WHERE id = (SELECT id FROM analysis_jobs \
               WHERE (status = $4 AND run_at <= $3) OR (status = $5 AND lease_until < $3) \
               ORDER BY run_at, id LIMIT 1{lock}) \
             RETURNING {JOB_COLS}"
        );
        write!(self, p => {
            let row: Option<JobRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(now + lease_ms)
                .bind(worker)
                .bind(now)
                .bind(crate::domain::QueueStatus::Queued)
                .bind(crate::domain::QueueStatus::Running)
                .fetch_optional(p)
                .await?;
            Ok(row.map(job_from))
        })
    }

    async fn renew_lease(&self, id: &QueueItemId, worker: &str, until: i64) -> StoreResult<bool> {
        write!(self, p => {
            let done = sqlx::query(
                "UPDATE analysis_jobs SET lease_until = $1 WHERE id = $2 AND worker = $3 AND status = $4",
            )
            .bind(until)
            .bind(id)
            .bind(worker)
            .bind(QueueStatus::Running)
            .execute(p)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    async fn complete_item(
        &self,
        id: &QueueItemId,
        result_ref: &str,
        result: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        write!(self, p => {
            sqlx::query(
                "UPDATE analysis_jobs SET status = $5, result_ref = $1, result = $4, error = NULL, lease_until = NULL, \
                 updated_at = $2 WHERE id = $3",
            )
            .bind(result_ref)
            .bind(now)
            .bind(id)
            .bind(result)
            .bind(crate::domain::QueueStatus::Complete)
            .execute(p)
            .await?;
            Ok(())
        })
    }

    async fn fail_item(
        &self,
        id: &QueueItemId,
        error: &str,
        retry_at: Option<i64>,
        on_final: Option<PipelineStatus>,
        then: FollowUps,
        now: i64,
    ) -> StoreResult<()> {
        let out = write!(self, p => {
            let mut tx = p.begin().await?;
            let row: Option<(String,)> = sqlx::query_as(
                "UPDATE analysis_jobs SET status = $1, error = $2, run_at = COALESCE($3, run_at), lease_until = NULL, updated_at = $4 \
                 WHERE id = $5 RETURNING subject_id",
            )
            .bind(if retry_at.is_some() { QueueStatus::Queued } else { QueueStatus::Failed })
            .bind(error)
            .bind(retry_at)
            .bind(now)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            if let (Some((subject,)), None) = (row, retry_at) {
                if let Some(pipeline) = on_final {
                    sqlx::query("UPDATE sessions SET pipeline_status = $1, updated_at = $2 WHERE id = $3")
                        .bind(pipeline)
                        .bind(now)
                        .bind(subject)
                        .execute(&mut *tx)
                        .await?;
                }
                apply_follow_ups!(tx, &then, now);
            }
            tx.commit().await?;
            Ok(())
        });
        self.after_follow_ups(&then);
        out
    }

    async fn get_queue_item(&self, tenant: &Tenant, id: &QueueItemId) -> StoreResult<Option<QueueItem>> {
        let (filter, who) = match tenant {
            Tenant::All => ("", None),
            Tenant::Organization(o) => (" AND organization_id = $2", Some(o.as_str())),
            Tenant::Tester(t) => (" AND tester_id = $2", Some(t.as_str())),
        };
        let sql = format!("SELECT {JOB_COLS} FROM analysis_jobs WHERE id = $1{filter}");
        read!(self, p => {
            let mut q = sqlx::query_as::<_, JobRow>(sqlx::AssertSqlSafe(sql)).bind(id);
            if let Some(w) = who {
                q = q.bind(w);
            }
            Ok(q.fetch_optional(p).await?.map(job_from))
        })
    }

    #[allow(clippy::too_many_arguments)] // tenant, session, study, what is saved, its guard, the time
    async fn save_session_analysis(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        study_id: &StudyId,
        findings: &[(FindingId, String)],
        analysis_json: &str,
        saved: AnalysisSaved<'_>,
        now: i64,
    ) -> StoreResult<Guarded<()>> {
        let out = write!(self, p => {
            let mut tx = p.begin().await?;
            let status = session_status_in_tx!(tx, tenant, session_id);
            if !saved.from.contains(&status) {
                return Ok(Guarded::WrongState(Refusal::Session(status)));
            }
            // A re-run replaces the previous result: never two copies of a finding.
            sqlx::query("DELETE FROM findings WHERE session_id = $1").bind(session_id).execute(&mut *tx).await?;
            for (id, data) in findings {
                sqlx::query("INSERT INTO findings (id, session_id, study_id, data, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(id)
                    .bind(session_id)
                    .bind(study_id)
                    .bind(data)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "UPDATE sessions SET status = $4, pipeline_status = $5, analysis = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(analysis_json)
            .bind(now)
            .bind(session_id)
            .bind(saved.to)
            .bind(saved.pipeline)
            .execute(&mut *tx)
            .await?;
            if saved.event.is_some() {
                let (org, _) = session_owner!(tx, session_id);
                maybe_emit!(tx, &org, &saved.event, now);
            }
            apply_follow_ups!(tx, &saved.then, now);
            tx.commit().await?;
            Ok(Guarded::Done(()))
        });
        self.after_follow_ups(&saved.then);
        out
    }

    async fn list_findings(&self, tenant: &Tenant, session_id: &SessionId) -> StoreResult<Vec<FindingRow>> {
        let (cond, who) = session_tenant_clause("session_id", 2, tenant);
        let sql = format!(
            "SELECT id, session_id, data, decision, comment, decided_at FROM findings WHERE session_id = $1{cond} ORDER BY id"
        );
        read!(self, p => {
            let mut q = sqlx::query_as::<_, (String, String, String, Option<Decision>, Option<String>, Option<i64>)>(
                sqlx::AssertSqlSafe(sql),
            )
            .bind(session_id);
            if let Some(w) = who {
                q = q.bind(w);
            }
            let rows = q.fetch_all(p).await?;
            Ok(rows
                .into_iter()
                .map(|r| FindingRow { id: r.0.into(), session_id: r.1.into(), data: r.2, decision: r.3, comment: r.4, decided_at: r.5 })
                .collect())
        })
    }

    async fn save_report(&self, r: NewReport) -> StoreResult<bool> {
        let out = write!(self, p => {
            let mut tx = p.begin().await?;
            let done = sqlx::query(
                "INSERT INTO reports (id, kind, subject_id, study_id, organization_id, data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&r.id)
            .bind(r.kind)
            .bind(&r.subject_id)
            .bind(&r.study_id)
            .bind(&r.organization_id)
            .bind(&r.data)
            .bind(r.now)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                // Written by an earlier run of the same item: its effects are already there.
                return Ok(false);
            }
            if let Some(pipeline) = r.session_pipeline {
                sqlx::query("UPDATE sessions SET pipeline_status = $1, updated_at = $2 WHERE id = $3")
                    .bind(pipeline)
                    .bind(r.now)
                    .bind(&r.subject_id)
                    .execute(&mut *tx)
                    .await?;
            }
            maybe_emit!(tx, &r.organization_id, &r.event, r.now);
            apply_follow_ups!(tx, &r.then, r.now);
            tx.commit().await?;
            Ok(true)
        });
        self.after_follow_ups(&r.then);
        out
    }

    async fn get_report(&self, scope: &Tenant, id: &str) -> StoreResult<Option<ReportRow>> {
        self.find_report(scope, "id = $1", id).await
    }

    async fn latest_report(&self, scope: &Tenant, subject_id: &str) -> StoreResult<Option<ReportRow>> {
        self.find_report(scope, "subject_id = $1", subject_id).await
    }

    async fn save_realtime(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        snapshot_json: &str,
        now: i64,
    ) -> StoreResult<()> {
        let (cond, who) = session_tenant_clause("sessions.id", 4, tenant);
        let sql = format!("UPDATE sessions SET realtime = $1, updated_at = $2 WHERE id = $3{cond}");
        write!(self, p => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(snapshot_json).bind(now).bind(session_id);
            if let Some(w) = who {
                q = q.bind(w);
            }
            q.execute(p).await?;
            Ok(())
        })
    }

    async fn sessions_in(
        &self,
        tenant: &Tenant,
        study_id: &StudyId,
        status: SessionStatus,
    ) -> StoreResult<Vec<SessionId>> {
        let (cond, who) = session_tenant_clause("sessions.id", 3, tenant);
        let sql = format!(
            "SELECT id FROM sessions WHERE study_id = $1 AND status = $2{cond} ORDER BY created_at, id"
        );
        read!(self, p => {
            let mut q = sqlx::query_as::<_, (SessionId,)>(sqlx::AssertSqlSafe(sql)).bind(study_id).bind(status);
            if let Some(w) = who {
                q = q.bind(w);
            }
            Ok(q.fetch_all(p).await?.into_iter().map(|(id,)| id).collect())
        })
    }

    async fn sessions_with_pipeline(
        &self,
        tenant: &Tenant,
        study_id: &StudyId,
        pipeline: PipelineStatus,
        except: SessionStatus,
    ) -> StoreResult<Vec<SessionId>> {
        let (cond, who) = session_tenant_clause("sessions.id", 4, tenant);
        let sql = format!(
            "SELECT id FROM sessions WHERE study_id = $1 AND pipeline_status = $2 AND status <> $3{cond} \
             ORDER BY created_at, id"
        );
        read!(self, p => {
            let mut q =
                sqlx::query_as::<_, (SessionId,)>(sqlx::AssertSqlSafe(sql)).bind(study_id).bind(pipeline).bind(except);
            if let Some(w) = who {
                q = q.bind(w);
            }
            Ok(q.fetch_all(p).await?.into_iter().map(|(id,)| id).collect())
        })
    }

    async fn sessions_waiting(
        &self,
        status: SessionStatus,
        pipeline: PipelineStatus,
        before: i64,
        limit: i64,
    ) -> StoreResult<Vec<(SessionId, StudyId, String, String, i64)>> {
        read!(self, p => {
            Ok(sqlx::query_as(
                "SELECT x.id, x.study_id, s.organization_id, x.tester_id, x.updated_at FROM sessions x \
                 JOIN studies s ON s.id = x.study_id WHERE x.status = $1 AND x.pipeline_status = $2 \
                 AND x.updated_at < $3 ORDER BY x.updated_at, x.id LIMIT $4",
            )
            .bind(status)
            .bind(pipeline)
            .bind(before)
            .bind(limit)
            .fetch_all(p)
            .await?)
        })
    }

    async fn pipeline_counts(
        &self,
        tenant: &Tenant,
        study_id: &StudyId,
    ) -> StoreResult<Vec<(SessionStatus, PipelineStatus, i64)>> {
        let (cond, who) = study_tenant_clause("sessions.study_id", 2, tenant);
        let sql = format!(
            "SELECT status, pipeline_status, COUNT(*) FROM sessions WHERE study_id = $1{cond} \
             GROUP BY status, pipeline_status"
        );
        read!(self, p => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(study_id);
            if let Some(w) = who {
                q = q.bind(w);
            }
            Ok(q.fetch_all(p).await?)
        })
    }

    async fn confirm_findings(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        decisions: &[FindingDecision],
        added_notes: Option<&str>,
        c: Confirmation,
        now: i64,
    ) -> StoreResult<Guarded<bool>> {
        let out = write!(self, p => {
            let mut tx = p.begin().await?;
            let status = session_status_in_tx!(tx, tenant, session_id);
            if status != c.from {
                return Ok(Guarded::WrongState(Refusal::Session(status)));
            }
            for d in decisions {
                let done = sqlx::query(
                    "UPDATE findings SET decision = $1, comment = $2, decided_at = $3 WHERE id = $4 AND session_id = $5",
                )
                .bind(d.decision)
                .bind(&d.comment)
                .bind(now)
                .bind(&d.finding_id)
                .bind(session_id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    // Rolls back every decision of this request.
                    return Err(StoreError::Conflict(format!("decisions: unknown finding {}", d.finding_id)));
                }
            }
            if let Some(notes) = added_notes {
                sqlx::query("UPDATE sessions SET added_notes = $1 WHERE id = $2").bind(notes).bind(session_id).execute(&mut *tx).await?;
            }
            let (open,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM findings WHERE session_id = $1 AND decision IS NULL")
                .bind(session_id)
                .fetch_one(&mut *tx)
                .await?;
            let confirmed = open == 0;
            if confirmed {
                sqlx::query("UPDATE sessions SET status = $1, pipeline_status = $2, updated_at = $3 WHERE id = $4")
                    .bind(c.to)
                    .bind(c.pipeline)
                    .bind(now)
                    .bind(session_id)
                    .execute(&mut *tx)
                    .await?;
                let (org, _) = session_owner!(tx, session_id);
                maybe_emit!(tx, &org, &c.event, now);
                apply_follow_ups!(tx, &c.then, now);
            }
            tx.commit().await?;
            Ok(Guarded::Done(confirmed))
        });
        self.after_follow_ups(&c.then);
        out
    }
}
