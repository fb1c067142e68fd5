//! Helpers the queue and the flow's steps share inside a transaction: checking an
//! `EnqueueGuard`, inserting a queue item unless one of its kind is pending for its subject, and
//! writing a step's `FollowUps` (queue items, notifications, outbound events) with the step.

/// Checks `$guard` for the subject `$subject` inside the transaction (a `Session` guard with a
/// pipeline also moves the session's pipeline); evaluates to `None` when it holds, else to the
/// refusal (`Guarded::NotFound` or `Guarded::WrongState`).
macro_rules! guard_refusal {
    ($tx:ident, $guard:expr, $subject:expr, $now:expr) => {{
        let subject: &str = $subject;
        let refusal: Option<Guarded<()>> = match $guard {
            EnqueueGuard::Session { within, pipeline } => {
                let status: Option<(SessionStatus,)> =
                    sqlx::query_as("SELECT status FROM sessions WHERE id = $1")
                        .bind(subject)
                        .fetch_optional(&mut *$tx)
                        .await?;
                match status {
                    None => Some(Guarded::NotFound),
                    Some((s,)) if !within.contains(&s) => Some(Guarded::WrongState(Refusal::Session(s))),
                    Some(_) => {
                        if let Some(pipeline) = pipeline {
                            sqlx::query(
                                "UPDATE sessions SET pipeline_status = $1, updated_at = $2 WHERE id = $3",
                            )
                            .bind(pipeline)
                            .bind($now)
                            .bind(subject)
                            .execute(&mut *$tx)
                            .await?;
                        }
                        None
                    }
                }
            }
            EnqueueGuard::StudyHasSession { with } => {
                let (n,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM sessions WHERE study_id = $1 AND status = $2")
                        .bind(subject)
                        .bind(with)
                        .fetch_one(&mut *$tx)
                        .await?;
                (n == 0).then(|| Guarded::WrongState(Refusal::NoSessionIn(with)))
            }
            EnqueueGuard::StudyIn { within } => {
                let status: Option<(StudyStatus,)> =
                    sqlx::query_as("SELECT status FROM studies WHERE id = $1")
                        .bind(subject)
                        .fetch_optional(&mut *$tx)
                        .await?;
                match status {
                    None => Some(Guarded::NotFound),
                    Some((s,)) if !within.contains(&s) => Some(Guarded::WrongState(Refusal::Study(s))),
                    Some(_) => None,
                }
            }
            EnqueueGuard::StudySettled { confirmed, failed, target, or_in } => {
                // Locks the study row (PostgreSQL waits for a concurrent step on the same study
                // to commit; the counts below are then read after it).
                let status: Option<(StudyStatus,)> = sqlx::query_as(
                    "UPDATE studies SET updated_at = updated_at WHERE id = $1 RETURNING status",
                )
                .bind(subject)
                .fetch_optional(&mut *$tx)
                .await?;
                match status {
                    None => Some(Guarded::NotFound),
                    Some((status,)) => {
                        let (done, lost): (i64, i64) = sqlx::query_as(
                            "SELECT COUNT(CASE WHEN status = $2 THEN 1 END), \
                             COUNT(CASE WHEN status <> $2 AND pipeline_status = $3 THEN 1 END) \
                             FROM sessions WHERE study_id = $1",
                        )
                        .bind(subject)
                        .bind(confirmed)
                        .bind(failed)
                        .fetch_one(&mut *$tx)
                        .await?;
                        if done == 0 {
                            Some(Guarded::WrongState(Refusal::NoSessionIn(confirmed)))
                        } else if or_in.contains(&status) || done + lost >= target {
                            None
                        } else {
                            Some(Guarded::WrongState(Refusal::Study(status)))
                        }
                    }
                }
            }
            EnqueueGuard::Unconditional => None,
        };
        refusal
    }};
}

/// Inserts the `NewQueueItem` `$item` unless an item of its kind is queued or running for its
/// subject; evaluates to that pending row, or `None` when it inserted.
macro_rules! insert_item {
    ($tx:ident, $item:expr) => {{
        let job: &NewQueueItem = $item;
        let select = format!(
            "SELECT {JOB_COLS} FROM analysis_jobs WHERE subject_id = $1 AND kind = $2 AND status IN ($3, $4)"
        );
        let pending: Option<JobRow> = sqlx::query_as(sqlx::AssertSqlSafe(select))
            .bind(&job.subject_id)
            .bind(job.kind)
            .bind(QueueStatus::Queued)
            .bind(QueueStatus::Running)
            .fetch_optional(&mut *$tx)
            .await?;
        if pending.is_none() {
            sqlx::query(
                "INSERT INTO analysis_jobs (id, kind, subject_id, organization_id, tester_id, status, attempts, max_attempts, \
                 run_at, created_at, updated_at, payload) VALUES ($1, $2, $3, $4, $5, $9, 0, $6, $7, $7, $7, $8)",
            )
            .bind(&job.id)
            .bind(job.kind)
            .bind(&job.subject_id)
            .bind(&job.organization_id)
            .bind(&job.tester_id)
            .bind(job.max_attempts)
            .bind(job.now)
            .bind(&job.payload)
            .bind(QueueStatus::Queued)
            .execute(&mut *$tx)
            .await?;
        }
        pending
    }};
}

/// Moves a study `from → to` when it is settled (`StudySettles`), its row locked first.
macro_rules! settle_study {
    ($tx:ident, $settles:expr, $now:expr) => {{
        let st: &StudySettles = $settles;
        let status: Option<(StudyStatus,)> =
            sqlx::query_as("UPDATE studies SET updated_at = updated_at WHERE id = $1 RETURNING status")
                .bind(&st.study_id)
                .fetch_optional(&mut *$tx)
                .await?;
        if status.is_some_and(|(s,)| s == st.from) {
            let (done, lost): (i64, i64) = sqlx::query_as(
                "SELECT COUNT(CASE WHEN status = $2 THEN 1 END), \
                 COUNT(CASE WHEN status <> $2 AND pipeline_status = $3 THEN 1 END) \
                 FROM sessions WHERE study_id = $1",
            )
            .bind(&st.study_id)
            .bind(st.confirmed)
            .bind(st.failed)
            .fetch_one(&mut *$tx)
            .await?;
            if done > 0 && done + lost >= st.target {
                sqlx::query("UPDATE studies SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
                    .bind(st.to)
                    .bind($now)
                    .bind(&st.study_id)
                    .bind(st.from)
                    .execute(&mut *$tx)
                    .await?;
            }
        }
    }};
}

/// Writes a step's `FollowUps` inside the step's transaction.
macro_rules! apply_follow_ups {
    ($tx:ident, $then:expr, $now:expr) => {{
        let then: &FollowUps = $then;
        if let Some(settles) = &then.study_settles {
            settle_study!($tx, settles, $now);
        }
        for (item, guard) in &then.enqueue {
            if guard_refusal!($tx, *guard, &item.subject_id, $now).is_none() {
                let _ = insert_item!($tx, item);
            }
        }
        for (n, copy) in &then.notify {
            if insert_notification!($tx, n)
                && let Some(copy) = copy
            {
                insert_message!($tx, copy, $now);
            }
        }
        for (org, ev) in &then.events {
            emit_event!($tx, org, ev, $now);
        }
    }};
}
