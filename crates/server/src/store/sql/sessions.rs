//! `SessionStore` over SQLite and PostgreSQL.

use async_trait::async_trait;
use sqlx::{Database, Encode, QueryBuilder, Row, Type};

use super::*;

const SESSION_SELECT: &str = "SELECT x.id, x.study_id, s.organization_id, x.tester_id, st.label_no, x.variant, x.status, \
     x.pipeline_status, x.started_at, x.paused_at, x.paused_ms, x.completed_at, x.consent, x.consent_events, \
     x.consent_facial, x.consent_voice, x.sus, x.nps, x.created_at, x.updated_at, tp.profile, x.analysis, x.realtime \
     FROM sessions x JOIN studies s ON s.id = x.study_id \
     LEFT JOIN tester_profiles tp ON tp.user_id = x.tester_id \
     LEFT JOIN study_testers st ON st.study_id = x.study_id AND st.tester_id = x.tester_id WHERE 1 = 1";

/// Decodes a `SESSION_SELECT` row (more columns than sqlx's tuple decoding takes).
macro_rules! session_from_row {
    ($r:expr) => {{
        let r = $r;
        Session {
            id: r.try_get(0)?,
            study_id: r.try_get(1)?,
            organization_id: r.try_get(2)?,
            tester_id: r.try_get(3)?,
            label_no: r.try_get(4)?,
            variant: r.try_get(5)?,
            status: r.try_get(6)?,
            pipeline_status: r.try_get(7)?,
            started_at: r.try_get(8)?,
            paused_at: r.try_get(9)?,
            paused_ms: r.try_get(10)?,
            completed_at: r.try_get(11)?,
            consent: r.try_get(12)?,
            consent_events: r.try_get(13)?,
            consent_facial: r.try_get(14)?,
            consent_voice: r.try_get(15)?,
            sus: r.try_get(16)?,
            nps: r.try_get(17)?,
            created_at: r.try_get(18)?,
            updated_at: r.try_get(19)?,
            tester_profile: r.try_get(20)?,
            analysis: r.try_get(21)?,
            realtime: r.try_get(22)?,
        }
    }};
}

const EVENT_COLS: &str = "id, client_id, ts, event_type, target_selector, x, y, scroll_y, input_length, \
     viewport_width, viewport_height, url, target_text, task_id, hover_ms, error_message";

macro_rules! event_from_row {
    ($r:expr, $o:expr) => {{
        let r = $r;
        EventRow {
            id: r.try_get($o)?,
            client_id: r.try_get($o + 1)?,
            ts: r.try_get($o + 2)?,
            event_type: r.try_get($o + 3)?,
            target_selector: r.try_get($o + 4)?,
            x: r.try_get($o + 5)?,
            y: r.try_get($o + 6)?,
            scroll_y: r.try_get($o + 7)?,
            input_length: r.try_get($o + 8)?,
            viewport_width: r.try_get($o + 9)?,
            viewport_height: r.try_get($o + 10)?,
            url: r.try_get($o + 11)?,
            target_text: r.try_get($o + 12)?,
            task_id: r.try_get($o + 13)?,
            hover_ms: r.try_get($o + 14)?,
            error_message: r.try_get($o + 15)?,
        }
    }};
}

fn push_session_scope<DB: Database>(qb: &mut QueryBuilder<DB>, scope: &SessionScope)
where
    String: for<'t> Encode<'t, DB> + Type<DB>,
{
    match scope {
        SessionScope::All => {}
        SessionScope::Organization(org) => {
            qb.push(" AND s.organization_id = ").push_bind(org.clone());
        }
        SessionScope::Tester(t) => {
            qb.push(" AND x.tester_id = ").push_bind(t.clone());
        }
    }
}

/// Inserts a stream's rows (chunked under the bind-parameter limits), skipping rows whose
/// `(session_id, client_id)` is already stored; evaluates to `(new rows, rows offered)`.
macro_rules! insert_stream {
    ($tx:ident, $insert:expr, $rows:expr, |$b:ident, $r:ident| $binds:expr) => {{
        let mut stored = 0u64;
        for chunk in $rows.chunks(1000) {
            let mut qb = QueryBuilder::new($insert);
            qb.push_values(chunk, |mut $b, $r| {
                $binds;
            });
            qb.push(" ON CONFLICT (session_id, client_id) DO NOTHING");
            stored += qb.build().execute(&mut *$tx).await?.rows_affected();
        }
        (stored, $rows.len() as u64)
    }};
}

impl SqlStore {
    async fn session_by_id(&self, id: &str) -> StoreResult<Option<Session>> {
        self.get_session(&SessionScope::All, id).await
    }
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(
        &self,
        s: NewSession,
        choose_variant: &VariantChooser,
    ) -> StoreResult<CreateSessionOutcome> {
        let lock = if matches!(self.db, Db::Postgres(_)) { " FOR UPDATE" } else { "" };
        let select = format!("SELECT status FROM studies WHERE id = $1{lock}");
        write!(self, p => {
            let mut tx = p.begin().await?;
            let study: Option<(String,)> =
                sqlx::query_as(sqlx::AssertSqlSafe(select)).bind(&s.study_id).fetch_optional(&mut *tx).await?;
            let Some((status,)) = study else { return Ok(CreateSessionOutcome::StudyNotFound) };
            if status != "open" && status != "in_progress" {
                return Ok(CreateSessionOutcome::StudyNotOpen(status));
            }
            let offer: Option<(String,)> =
                sqlx::query_as("SELECT status FROM study_testers WHERE study_id = $1 AND tester_id = $2")
                    .bind(&s.study_id)
                    .bind(&s.tester_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if offer.is_none_or(|(o,)| o != "accepted") {
                return Ok(CreateSessionOutcome::NotAccepted);
            }
            let (existing,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions WHERE study_id = $1 AND tester_id = $2")
                .bind(&s.study_id)
                .bind(&s.tester_id)
                .fetch_one(&mut *tx)
                .await?;
            if existing > 0 {
                return Ok(CreateSessionOutcome::AlreadyExists);
            }
            let counts: Vec<(Option<String>, i64)> =
                sqlx::query_as("SELECT variant, COUNT(*) FROM sessions WHERE study_id = $1 GROUP BY variant")
                    .bind(&s.study_id)
                    .fetch_all(&mut *tx)
                    .await?;
            let counts: Vec<(String, i64)> = counts.into_iter().filter_map(|(v, n)| v.map(|v| (v, n))).collect();
            let variant = choose_variant(&counts);
            sqlx::query(
                "INSERT INTO sessions (id, study_id, tester_id, variant, status, pipeline_status, test_token_hash, \
                 test_token_expires_at, started_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'active', 'collecting', $5, $6, $7, $7, $7)",
            )
            .bind(&s.id)
            .bind(&s.study_id)
            .bind(&s.tester_id)
            .bind(&variant)
            .bind(&s.token_hash)
            .bind(s.token_expires_at)
            .bind(s.now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE studies SET status = 'in_progress', updated_at = $1 WHERE id = $2 AND status = 'open'")
                .bind(s.now)
                .bind(&s.study_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(CreateSessionOutcome::Created(s.id.clone()))
        })
    }

    async fn get_session(&self, scope: &SessionScope, id: &str) -> StoreResult<Option<Session>> {
        read!(self, p => {
            let mut qb = QueryBuilder::new(SESSION_SELECT);
            qb.push(" AND x.id = ").push_bind(id.to_owned());
            push_session_scope(&mut qb, scope);
            match qb.build().fetch_optional(p).await? {
                Some(row) => Ok(Some(session_from_row!(&row))),
                None => Ok(None),
            }
        })
    }

    async fn list_sessions(
        &self,
        scope: &SessionScope,
        study_id: Option<&str>,
        status: Option<&str>,
        page: Page,
    ) -> StoreResult<(Vec<Session>, u64)> {
        read!(self, p => {
            let filters = |qb: &mut QueryBuilder<_>| {
                push_session_scope(qb, scope);
                if let Some(j) = study_id {
                    qb.push(" AND x.study_id = ").push_bind(j.to_owned());
                }
                if let Some(st) = status {
                    qb.push(" AND x.status = ").push_bind(st.to_owned());
                }
            };
            let mut qb = QueryBuilder::new(SESSION_SELECT);
            filters(&mut qb);
            qb.push(" ORDER BY x.created_at DESC, x.id DESC LIMIT ").push_bind(i64::from(page.limit));
            qb.push(" OFFSET ").push_bind(page.offset());
            let rows = qb.build().fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(session_from_row!(row));
            }
            let mut qc = QueryBuilder::new(
                "SELECT COUNT(*) FROM sessions x JOIN studies s ON s.id = x.study_id WHERE 1 = 1",
            );
            filters(&mut qc);
            let (total,): (i64,) = qc.build_query_as().fetch_one(p).await?;
            Ok((out, to_u64(total)))
        })
    }

    async fn session_for_test_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<(String, String)>> {
        read!(self, p => {
            Ok(sqlx::query_as(
                "SELECT id, tester_id FROM sessions WHERE test_token_hash = $1 AND test_token_expires_at > $2",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(p)
            .await?)
        })
    }

    async fn change_session(
        &self,
        id: &str,
        from: &[&str],
        change: SessionChange,
        now: i64,
    ) -> StoreResult<Guarded<Session>> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            let current: Option<(String,)> =
                sqlx::query_as("SELECT status FROM sessions WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
            match current {
                None => return Ok(Guarded::NotFound),
                Some((status,)) if !from.contains(&status.as_str()) => return Ok(Guarded::WrongState(status)),
                Some(_) => {}
            }
            let q = match change {
                SessionChange::Pause => {
                    sqlx::query("UPDATE sessions SET status = 'paused', paused_at = $1, updated_at = $1 WHERE id = $2")
                        .bind(now)
                }
                SessionChange::Resume => sqlx::query(
                    "UPDATE sessions SET status = 'active', paused_ms = paused_ms + ($1 - COALESCE(paused_at, $1)), \
                     paused_at = NULL, updated_at = $1 WHERE id = $2",
                )
                .bind(now),
                SessionChange::Complete { completed_at } => sqlx::query(
                    "UPDATE sessions SET status = 'completed', \
                     paused_ms = paused_ms + (CASE WHEN paused_at IS NULL THEN 0 ELSE $1 - paused_at END), \
                     paused_at = NULL, completed_at = $1, updated_at = $1 WHERE id = $2",
                )
                .bind(completed_at),
            };
            q.bind(id).execute(&mut *tx).await?;
            if matches!(change, SessionChange::Complete { .. }) {
                let (org, study) = session_owner!(tx, id);
                emit_event!(tx, &org, "session.completed", serde_json::json!({"sessionId": id, "jobId": study}), now);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        Ok(self.session_by_id(id).await?.map_or(Guarded::NotFound, Guarded::Done))
    }

    async fn set_consent(
        &self,
        id: &str,
        consent_json: &str,
        streams: [bool; 3],
        now: i64,
    ) -> StoreResult<()> {
        write!(self, p => {
            sqlx::query(
                "UPDATE sessions SET consent = $1, consent_events = $2, consent_facial = $3, consent_voice = $4, updated_at = $5 WHERE id = $6",
            )
            .bind(consent_json)
            .bind(streams[0])
            .bind(streams[1])
            .bind(streams[2])
            .bind(now)
            .bind(id)
            .execute(p)
            .await?;
            Ok(())
        })
    }

    async fn ingest(&self, session_id: &str, batch: StreamBatch) -> StoreResult<Guarded<IngestCounts>> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            // Checked inside the transaction: a concurrent `complete` cannot slip between.
            let status: Option<(String,)> =
                sqlx::query_as("SELECT status FROM sessions WHERE id = $1").bind(session_id).fetch_optional(&mut *tx).await?;
            match status {
                None => return Ok(Guarded::NotFound),
                Some((s,)) if s != "active" => return Ok(Guarded::WrongState(s)),
                Some(_) => {}
            }
            let (stored, total) = match batch {
                StreamBatch::Events(rows) => {
                    insert_stream!(tx, format!("INSERT INTO events (session_id, {EVENT_COLS}) "), rows, |b, e| {
                        b.push_bind(session_id.to_owned())
                            .push_bind(e.id.clone())
                            .push_bind(e.client_id.clone())
                            .push_bind(e.ts)
                            .push_bind(e.event_type.clone())
                            .push_bind(e.target_selector.clone())
                            .push_bind(e.x)
                            .push_bind(e.y)
                            .push_bind(e.scroll_y)
                            .push_bind(e.input_length)
                            .push_bind(e.viewport_width)
                            .push_bind(e.viewport_height)
                            .push_bind(e.url.clone())
                            .push_bind(e.target_text.clone())
                            .push_bind(e.task_id.clone())
                            .push_bind(e.hover_ms)
                            .push_bind(e.error_message.clone())
                    })
                }
                StreamBatch::Facial(rows) => insert_stream!(
                    tx,
                    "INSERT INTO facial (session_id, id, client_id, ts, emotion, confidence, face_detected, action_units, capture_interval_ms) ",
                    rows,
                    |b, f| {
                        b.push_bind(session_id.to_owned())
                            .push_bind(f.id.clone())
                            .push_bind(f.client_id.clone())
                            .push_bind(f.ts)
                            .push_bind(f.emotion.clone())
                            .push_bind(f.confidence)
                            .push_bind(f.face_detected)
                            .push_bind(f.action_units.clone())
                            .push_bind(f.capture_interval_ms)
                    }
                ),
                StreamBatch::Voice(rows) => insert_stream!(
                    tx,
                    "INSERT INTO voice (session_id, id, client_id, ts, duration_ms, transcript, confidence) ",
                    rows,
                    |b, v| {
                        b.push_bind(session_id.to_owned())
                            .push_bind(v.id.clone())
                            .push_bind(v.client_id.clone())
                            .push_bind(v.ts)
                            .push_bind(v.duration_ms)
                            .push_bind(v.transcript.clone())
                            .push_bind(v.confidence)
                    }
                ),
            };
            tx.commit().await?;
            Ok(Guarded::Done(IngestCounts { stored, duplicates: total - stored }))
        })
    }

    async fn list_events(
        &self,
        session_id: &str,
        filter: &EventFilter,
        page: Page,
    ) -> StoreResult<(Vec<EventRow>, u64)> {
        read!(self, p => {
            let filters = |qb: &mut QueryBuilder<_>| {
                qb.push(" WHERE session_id = ").push_bind(session_id.to_owned());
                if let Some(t) = &filter.event_type {
                    qb.push(" AND event_type = ").push_bind(t.clone());
                }
                if let Some(from) = filter.from {
                    qb.push(" AND ts >= ").push_bind(from);
                }
                if let Some(to) = filter.to {
                    qb.push(" AND ts <= ").push_bind(to);
                }
            };
            let mut qb = QueryBuilder::new(format!("SELECT {EVENT_COLS} FROM events"));
            filters(&mut qb);
            qb.push(" ORDER BY ts, seq LIMIT ").push_bind(i64::from(page.limit));
            qb.push(" OFFSET ").push_bind(page.offset());
            let rows = qb.build().fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(event_from_row!(row, 0));
            }
            let mut qc = QueryBuilder::new("SELECT COUNT(*) FROM events");
            filters(&mut qc);
            let (total,): (i64,) = qc.build_query_as().fetch_one(p).await?;
            Ok((out, to_u64(total)))
        })
    }

    async fn events_after(
        &self,
        session_id: &str,
        after: (i64, i64),
        limit: i64,
    ) -> StoreResult<Vec<(i64, EventRow)>> {
        let sql = format!(
            "SELECT seq, {EVENT_COLS} FROM events WHERE session_id = $1 AND (ts > $2 OR (ts = $2 AND seq > $3)) \
             ORDER BY ts, seq LIMIT $4"
        );
        read!(self, p => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(session_id)
                .bind(after.0)
                .bind(after.1)
                .bind(limit)
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push((row.try_get(0)?, event_from_row!(row, 1)));
            }
            Ok(out)
        })
    }

    async fn facial_after(
        &self,
        session_id: &str,
        after: (i64, i64),
        limit: i64,
    ) -> StoreResult<Vec<(i64, FacialRow)>> {
        read!(self, p => {
            let rows: Vec<(i64, String, Option<String>, i64, String, f64, bool, Option<String>, Option<i64>)> = sqlx::query_as(
                "SELECT seq, id, client_id, ts, emotion, confidence, face_detected, action_units, capture_interval_ms \
                 FROM facial WHERE session_id = $1 AND (ts > $2 OR (ts = $2 AND seq > $3)) ORDER BY ts, seq LIMIT $4",
            )
            .bind(session_id)
            .bind(after.0)
            .bind(after.1)
            .bind(limit)
            .fetch_all(p)
            .await?;
            Ok(rows
                .into_iter()
                .map(|r| {
                    (r.0, FacialRow {
                        id: r.1,
                        client_id: r.2,
                        ts: r.3,
                        emotion: r.4,
                        confidence: r.5,
                        face_detected: r.6,
                        action_units: r.7,
                        capture_interval_ms: r.8,
                    })
                })
                .collect())
        })
    }

    async fn voice_after(
        &self,
        session_id: &str,
        after: (i64, i64),
        limit: i64,
    ) -> StoreResult<Vec<(i64, VoiceRow)>> {
        read!(self, p => {
            let rows: Vec<(i64, String, Option<String>, i64, i64, String, f64)> = sqlx::query_as(
                "SELECT seq, id, client_id, ts, duration_ms, transcript, confidence \
                 FROM voice WHERE session_id = $1 AND (ts > $2 OR (ts = $2 AND seq > $3)) ORDER BY ts, seq LIMIT $4",
            )
            .bind(session_id)
            .bind(after.0)
            .bind(after.1)
            .bind(limit)
            .fetch_all(p)
            .await?;
            Ok(rows
                .into_iter()
                .map(|r| {
                    (r.0, VoiceRow { id: r.1, client_id: r.2, ts: r.3, duration_ms: r.4, transcript: r.5, confidence: r.6 })
                })
                .collect())
        })
    }

    async fn add_note(&self, session_id: &str, note: NoteRow) -> StoreResult<()> {
        write!(self, p => {
            sqlx::query("INSERT INTO session_notes (id, session_id, ts, text, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&note.id)
                .bind(session_id)
                .bind(note.ts)
                .bind(&note.text)
                .bind(note.created_at)
                .execute(p)
                .await?;
            Ok(())
        })
    }

    async fn list_notes(&self, session_id: &str, page: Page) -> StoreResult<(Vec<NoteRow>, u64)> {
        read!(self, p => {
            let rows: Vec<(String, i64, String, i64)> = sqlx::query_as(
                "SELECT id, ts, text, created_at FROM session_notes WHERE session_id = $1 ORDER BY ts, id LIMIT $2 OFFSET $3",
            )
            .bind(session_id)
            .bind(i64::from(page.limit))
            .bind(page.offset())
            .fetch_all(p)
            .await?;
            let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM session_notes WHERE session_id = $1")
                .bind(session_id)
                .fetch_one(p)
                .await?;
            Ok((rows.into_iter().map(|r| NoteRow { id: r.0, ts: r.1, text: r.2, created_at: r.3 }).collect(), to_u64(total)))
        })
    }

    async fn put_feedback(
        &self,
        session_id: &str,
        attempts: &[TaskAttemptRow],
        sus: Option<&str>,
        nps: Option<i64>,
        now: i64,
    ) -> StoreResult<()> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            for a in attempts {
                sqlx::query(
                    "INSERT INTO task_attempts (session_id, task_id, outcome, seq_score, started_at, ended_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (session_id, task_id) DO UPDATE SET \
                     outcome = $3, seq_score = $4, started_at = $5, ended_at = $6",
                )
                .bind(session_id)
                .bind(&a.task_id)
                .bind(&a.outcome)
                .bind(a.seq_score)
                .bind(a.started_at)
                .bind(a.ended_at)
                .execute(&mut *tx)
                .await?;
            }
            if sus.is_some() || nps.is_some() {
                sqlx::query("UPDATE sessions SET sus = COALESCE($1, sus), nps = COALESCE($2, nps), updated_at = $3 WHERE id = $4")
                    .bind(sus)
                    .bind(nps)
                    .bind(now)
                    .bind(session_id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    async fn list_attempts(&self, session_id: &str) -> StoreResult<Vec<TaskAttemptRow>> {
        read!(self, p => {
            let rows: Vec<(String, String, Option<i64>, i64, i64)> = sqlx::query_as(
                "SELECT task_id, outcome, seq_score, started_at, ended_at FROM task_attempts WHERE session_id = $1 ORDER BY started_at, task_id",
            )
            .bind(session_id)
            .fetch_all(p)
            .await?;
            Ok(rows
                .into_iter()
                .map(|r| TaskAttemptRow { task_id: r.0, outcome: r.1, seq_score: r.2, started_at: r.3, ended_at: r.4 })
                .collect())
        })
    }
}
