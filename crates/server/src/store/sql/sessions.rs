//! `SessionStore` over SQLite and PostgreSQL.

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};

use super::ingest_group::{DROP_RECORDED_TWINS, Job, StreamKind, refusal};
use super::*;
use crate::domain::SeatStatus;

const SESSION_SELECT: &str = "SELECT x.id, x.study_id, s.organization_id, x.tester_id, st.label_no, x.variant, x.status, \
     x.pipeline_status, x.started_at, x.paused_at, x.paused_ms, x.completed_at, x.consent, x.consent_events, \
     x.consent_facial, x.consent_voice, x.sus, x.nps, x.created_at, x.updated_at, tp.profile, x.analysis, x.realtime, \
     x.added_notes, x.excluded_reason, x.excluded_at \
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
            consent: r.try_get::<Option<String>, _>(12)?.and_then(|c| serde_json::from_str(&c).ok()),
            consent_events: r.try_get(13)?,
            consent_facial: r.try_get(14)?,
            consent_voice: r.try_get(15)?,
            sus: r.try_get(16)?,
            nps: r.try_get(17)?,
            created_at: r.try_get(18)?,
            updated_at: r.try_get(19)?,
            tester_profile: r.try_get::<Option<String>, _>(20)?.and_then(|p| serde_json::from_str(&p).ok()),
            analysis: r.try_get(21)?,
            realtime: r.try_get(22)?,
            added_notes: r.try_get(23)?,
            excluded_reason: r.try_get(24)?,
            excluded_at: r.try_get(25)?,
        }
    }};
}

const EVENT_COLS: &str = "id, client_id, ts, event_type, target_selector, x, y, scroll_y, input_length, \
     viewport_width, viewport_height, url, target_text, task_id, hover_ms, error_message, \
     deletions, selection_length, mutations, opens_new_context, role, word_count";

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
            extra: EventExtra {
                deletions: r.try_get($o + 16)?,
                selection_length: r.try_get($o + 17)?,
                mutations: r.try_get($o + 18)?,
                opens_new_context: r.try_get($o + 19)?,
                role: r.try_get($o + 20)?,
                word_count: r.try_get($o + 21)?,
            },
        }
    }};
}

/// Events read for the engine travel in chunks of this many, one row per chunk.
const EVENT_CHUNK: usize = 2000;

/// The query behind `session_streams`' events: the next `EVENT_CHUNK` events after
/// `($2, $3)` = `(ts, seq)` in that order, as one JSON array of `[seq, EVENT_COLS…]` arrays
/// that the database builds. Row by row, a 20,000-event session was 20,000 hand-offs between
/// SQLite's connection thread and the task (a futex wake and an allocation freed across
/// threads each), most of an analysis's time (perf, bench/pipeline.sh); in chunks it is ten
/// index range scans. The coordinates (REAL) go as text that Rust parses exactly: SQLite's
/// `quote()` (its JSON would keep only 15 digits) and PostgreSQL's shortest round-trip
/// output (serde_json's own float parsing is not exact).
fn events_json_sql(sqlite: bool) -> String {
    let (agg, array) =
        if sqlite { ("json_group_array", "json_array") } else { ("json_agg", "json_build_array") };
    let real = |col: &str| if sqlite { format!("quote({col})") } else { format!("CAST({col} AS TEXT)") };
    let (x, y, scroll_y) = (real("x"), real("y"), real("scroll_y"));
    format!(
        "SELECT COALESCE(CAST({agg}({array}(seq, id, client_id, ts, event_type, target_selector, {x}, {y}, {scroll_y}, \
         input_length, viewport_width, viewport_height, url, target_text, task_id, hover_ms, error_message, \
         deletions, selection_length, mutations, opens_new_context, role, word_count) ORDER BY ts, seq) AS TEXT), '[]') \
         FROM (SELECT * FROM events WHERE session_id = $1 AND (ts, seq) > ($2, $3) ORDER BY ts, seq \
         LIMIT {EVENT_CHUNK}) e"
    )
}

/// One event as `events_json_sql` spells it (an array: `seq`, then `EVENT_COLS` in order).
#[derive(serde::Deserialize)]
struct EventJson {
    seq: i64,
    id: String,
    client_id: Option<String>,
    ts: i64,
    event_type: String,
    target_selector: String,
    x: Real,
    y: Real,
    scroll_y: Real,
    input_length: Option<i64>,
    viewport_width: Option<i64>,
    viewport_height: Option<i64>,
    url: Option<String>,
    target_text: Option<String>,
    task_id: Option<String>,
    hover_ms: Option<i64>,
    error_message: Option<String>,
    deletions: Option<i64>,
    selection_length: Option<i64>,
    mutations: Option<i64>,
    opens_new_context: Option<Flag>,
    role: Option<String>,
    word_count: Option<i64>,
}

impl From<EventJson> for EventRow {
    fn from(e: EventJson) -> Self {
        EventRow {
            id: e.id,
            client_id: e.client_id,
            ts: e.ts,
            event_type: e.event_type,
            target_selector: e.target_selector,
            x: e.x.0,
            y: e.y.0,
            scroll_y: e.scroll_y.0,
            input_length: e.input_length,
            viewport_width: e.viewport_width,
            viewport_height: e.viewport_height,
            url: e.url,
            target_text: e.target_text,
            task_id: e.task_id,
            hover_ms: e.hover_ms,
            error_message: e.error_message,
            extra: EventExtra {
                deletions: e.deletions,
                selection_length: e.selection_length,
                mutations: e.mutations,
                opens_new_context: e.opens_new_context.map(|f| f.0),
                role: e.role,
                word_count: e.word_count,
            },
        }
    }
}

/// A nullable REAL as `events_json_sql` writes it: its text (SQLite's `quote()`: `123.5`,
/// `1.2333333333333332e+02`, `NULL`; PostgreSQL's: `123.5`) or null; a plain number is taken too.
struct Real(Option<f64>);

impl<'de> serde::Deserialize<'de> for Real {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Real;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number, its text or null")
            }
            fn visit_unit<E>(self) -> Result<Real, E> {
                Ok(Real(None))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Real, E> {
                Ok(Real(Some(n)))
            }
            #[allow(clippy::cast_precision_loss)]
            fn visit_i64<E>(self, n: i64) -> Result<Real, E> {
                Ok(Real(Some(n as f64)))
            }
            #[allow(clippy::cast_precision_loss)]
            fn visit_u64<E>(self, n: u64) -> Result<Real, E> {
                Ok(Real(Some(n as f64)))
            }
            fn visit_str<E: serde::de::Error>(self, t: &str) -> Result<Real, E> {
                if t == "NULL" {
                    return Ok(Real(None));
                }
                t.parse().map(|n| Real(Some(n))).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A nullable BOOLEAN: `true`/`false` (PostgreSQL) or SQLite's `1`/`0`.
struct Flag(bool);

impl<'de> serde::Deserialize<'de> for Flag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a boolean, or 0 or 1")
            }
            fn visit_bool<E>(self, b: bool) -> Result<Flag, E> {
                Ok(Flag(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Flag, E> {
                Ok(Flag(n != 0))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Flag, E> {
                Ok(Flag(n != 0))
            }
        }
        d.deserialize_any(V)
    }
}

/// A stream's insert statements (1,000 rows each, under the bind-parameter limits), skipping
/// rows whose `(session_id, client_id)` is already stored when run. Built before the writer is
/// taken, so a request's binding overlaps the previous request's transaction; the rows are
/// moved in (no copy of their strings). Evaluates to `(statements, rows offered)`.
macro_rules! stream_inserts {
    ($insert:expr, $rows:expr, |$b:ident, $r:ident| $binds:expr) => {{
        let rows = $rows;
        let total = rows.len() as u64;
        let mut statements = Vec::with_capacity(rows.len().div_ceil(1000));
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let mut qb = QueryBuilder::new($insert);
            qb.push_values(rows.by_ref().take(1000), |mut $b, $r| {
                $binds;
            });
            qb.push(" ON CONFLICT (session_id, client_id) DO NOTHING");
            statements.push(qb);
        }
        (statements, total)
    }};
}

/// The `INSERT … ON CONFLICT DO NOTHING` statements of one batch, and its item count
/// (expands per backend, like the `write!` bodies).
macro_rules! ingest_statements {
    ($session_id:expr, $batch:expr) => {
        match $batch {
            StreamBatch::Events(rows) => {
                stream_inserts!(format!("INSERT INTO events (session_id, {EVENT_COLS}) "), rows, |b, e| {
                    b.push_bind($session_id)
                        .push_bind(e.id)
                        .push_bind(e.client_id)
                        .push_bind(e.ts)
                        .push_bind(e.event_type)
                        .push_bind(e.target_selector)
                        .push_bind(e.x)
                        .push_bind(e.y)
                        .push_bind(e.scroll_y)
                        .push_bind(e.input_length)
                        .push_bind(e.viewport_width)
                        .push_bind(e.viewport_height)
                        .push_bind(e.url)
                        .push_bind(e.target_text)
                        .push_bind(e.task_id)
                        .push_bind(e.hover_ms)
                        .push_bind(e.error_message)
                        .push_bind(e.extra.deletions)
                        .push_bind(e.extra.selection_length)
                        .push_bind(e.extra.mutations)
                        .push_bind(e.extra.opens_new_context)
                        .push_bind(e.extra.role)
                        .push_bind(e.extra.word_count)
                })
            }
            StreamBatch::Facial(rows) => stream_inserts!(
                "INSERT INTO facial (session_id, id, client_id, ts, emotion, confidence, face_detected, action_units, capture_interval_ms) ",
                rows,
                |b, f| {
                    b.push_bind($session_id)
                        .push_bind(f.id)
                        .push_bind(f.client_id)
                        .push_bind(f.ts)
                        .push_bind(f.emotion)
                        .push_bind(f.confidence)
                        .push_bind(f.face_detected)
                        .push_bind(f.action_units)
                        .push_bind(f.capture_interval_ms)
                }
            ),
            StreamBatch::Voice(rows) => stream_inserts!(
                "INSERT INTO voice (session_id, id, client_id, ts, duration_ms, transcript, confidence) ",
                rows,
                |b, v| {
                    b.push_bind($session_id)
                        .push_bind(v.id)
                        .push_bind(v.client_id)
                        .push_bind(v.ts)
                        .push_bind(v.duration_ms)
                        .push_bind(v.transcript)
                        .push_bind(v.confidence)
                }
            ),
        }
    };
}

/// Keyset page of a stream after `(ts, seq)`, tenant-checked: the shared body of the three
/// export cursors. `$cols` are the stream's columns after `seq`.
macro_rules! stream_after {
    ($self:ident, $table:literal, $cols:expr, $tenant:expr, $session_id:expr, $after:expr, $limit:expr, |$row:ident| $decode:expr) => {{
        let (cond, who) = session_tenant_clause("$1", 5, $tenant);
        let sql = format!(
            "SELECT seq, {} FROM {} WHERE session_id = $1 AND (ts > $2 OR (ts = $2 AND seq > $3)){cond} \
             ORDER BY ts, seq LIMIT $4",
            $cols, $table
        );
        read!($self, p => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind($session_id).bind($after.0).bind($after.1).bind($limit);
            if let Some(w) = who {
                q = q.bind(w);
            }
            let rows = q.fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for $row in &rows {
                out.push((Row::try_get($row, 0)?, $decode));
            }
            Ok(out)
        })
    }};
}

const FACIAL_COLS: &str =
    "id, client_id, ts, emotion, confidence, face_detected, action_units, capture_interval_ms";
const VOICE_COLS: &str = "id, client_id, ts, duration_ms, transcript, confidence";

macro_rules! facial_from_row {
    ($r:expr, $o:expr) => {{
        let r = $r;
        FacialRow {
            id: r.try_get($o)?,
            client_id: r.try_get($o + 1)?,
            ts: r.try_get($o + 2)?,
            emotion: r.try_get($o + 3)?,
            confidence: r.try_get($o + 4)?,
            face_detected: r.try_get($o + 5)?,
            action_units: r.try_get($o + 6)?,
            capture_interval_ms: r.try_get($o + 7)?,
        }
    }};
}

macro_rules! voice_from_row {
    ($r:expr, $o:expr) => {{
        let r = $r;
        VoiceRow {
            id: r.try_get($o)?,
            client_id: r.try_get($o + 1)?,
            ts: r.try_get($o + 2)?,
            duration_ms: r.try_get($o + 3)?,
            transcript: r.try_get($o + 4)?,
            confidence: r.try_get($o + 5)?,
        }
    }};
}

impl SqlStore {
    /// True when the session exists and belongs to `tenant`.
    async fn session_visible(&self, tenant: &Tenant, id: &SessionId) -> StoreResult<bool> {
        let (cond, who) = session_tenant_clause("x.id", 2, tenant);
        let sql = format!("SELECT 1 FROM sessions x WHERE x.id = $1{cond}");
        read!(self, p => {
            let mut q = sqlx::query_as::<_, (i32,)>(sqlx::AssertSqlSafe(sql)).bind(id);
            if let Some(w) = who {
                q = q.bind(w);
            }
            Ok(q.fetch_optional(p).await?.is_some())
        })
    }
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(
        &self,
        s: NewSession,
        start: SessionStart<'_>,
        choose_variant: &VariantChooser,
    ) -> StoreResult<CreateSessionOutcome> {
        let lock = if matches!(self.db, Db::Postgres(_)) { " FOR UPDATE" } else { "" };
        let select = format!("SELECT status, tester_count FROM studies WHERE id = $1{lock}");
        let consent = s
            .consent
            .as_ref()
            .map(|c| serde_json::to_string(c).map_err(|e| StoreError::Other(e.to_string())))
            .transpose()?;
        let streams = s.consent.as_ref().map(|c| c.streams).unwrap_or_default();
        write!(self, p => {
            let mut tx = p.begin().await?;
            // PostgreSQL: the row lock serialises seat-taking on one study; SQLite has one writer.
            let study: Option<(StudyStatus, i64)> =
                sqlx::query_as(sqlx::AssertSqlSafe(select)).bind(&s.study_id).fetch_optional(&mut *tx).await?;
            let Some((status, capacity)) = study else { return Ok(CreateSessionOutcome::StudyNotFound) };
            if !start.study_in.contains(&status) {
                return Ok(CreateSessionOutcome::StudyNotOpen(status.to_string()));
            }
            let offer: Option<(String,)> =
                sqlx::query_as("SELECT status FROM study_testers WHERE study_id = $1 AND tester_id = $2")
                    .bind(&s.study_id)
                    .bind(&s.tester_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if offer.is_none_or(|(o,)| o != "accepted") {
                if !start.take_seat {
                    return Ok(CreateSessionOutcome::NotAccepted);
                }
                if take_seat!(tx, &s.study_id, &s.tester_id, capacity, s.now).is_none() {
                    return Ok(CreateSessionOutcome::Full);
                }
            }
            // One running or finished session per tester and study; an abandoned one leaves room
            // for a new try (the partial unique index `sessions_one_open_per_tester` backs this).
            let (existing,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM sessions WHERE study_id = $1 AND tester_id = $2 AND status <> $3",
            )
            .bind(&s.study_id)
            .bind(&s.tester_id)
            .bind(SessionStatus::Abandoned)
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
            let inserted = sqlx::query(
                "INSERT INTO sessions (id, study_id, tester_id, variant, status, pipeline_status, test_token_hash, \
                 test_token_expires_at, started_at, created_at, updated_at, consent, consent_events, consent_facial, \
                 consent_voice) \
                 VALUES ($1, $2, $3, $4, $8, $9, $5, $6, $7, $7, $7, $10, $11, $12, $13)",
            )
            .bind(&s.id)
            .bind(&s.study_id)
            .bind(&s.tester_id)
            .bind(&variant)
            .bind(&s.token_hash)
            .bind(s.token_expires_at)
            .bind(s.now)
            .bind(start.status)
            .bind(start.pipeline)
            .bind(&consent)
            .bind(streams.events)
            .bind(streams.facial)
            .bind(streams.voice)
            .execute(&mut *tx)
            .await;
            match inserted {
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() && db.message().contains("tester") => {
                    return Ok(CreateSessionOutcome::AlreadyExists);
                }
                other => {
                    other?;
                }
            }
            sqlx::query("UPDATE studies SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
                .bind(start.study_moves.1)
                .bind(s.now)
                .bind(&s.study_id)
                .bind(start.study_moves.0)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(CreateSessionOutcome::Created(s.id.clone()))
        })
    }

    async fn get_session(&self, tenant: &Tenant, id: &SessionId) -> StoreResult<Option<Session>> {
        read!(self, p => {
            let mut qb = QueryBuilder::new(SESSION_SELECT);
            qb.push(" AND x.id = ").push_bind(id.to_owned());
            push_session_tenant(&mut qb, tenant);
            match qb.build().fetch_optional(p).await? {
                Some(row) => Ok(Some(session_from_row!(&row))),
                None => Ok(None),
            }
        })
    }

    async fn list_sessions(
        &self,
        tenant: &Tenant,
        study_id: Option<&StudyId>,
        status: Option<SessionStatus>,
        page: Page,
    ) -> StoreResult<(Vec<Session>, u64)> {
        read!(self, p => {
            let filters = |qb: &mut QueryBuilder<_>| {
                push_session_tenant(qb, tenant);
                if let Some(j) = study_id {
                    qb.push(" AND x.study_id = ").push_bind(j.to_owned());
                }
                if let Some(st) = status {
                    qb.push(" AND x.status = ").push_bind(st);
                }
            };
            let page = fetch_page!(
                p,
                SESSION_SELECT,
                "SELECT COUNT(*) FROM sessions x JOIN studies s ON s.id = x.study_id WHERE 1 = 1",
                filters,
                "x.created_at DESC, x.id DESC",
                page,
                |row| session_from_row!(row)
            );
            Ok(page)
        })
    }

    async fn session_for_test_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<(SessionId, UserId)>> {
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
        tenant: &Tenant,
        id: &SessionId,
        t: SessionTransition<'_>,
        now: i64,
    ) -> StoreResult<Guarded<Session>> {
        let done = write!(self, p => {
            let mut tx = p.begin().await?;
            let status = session_status_in_tx!(tx, tenant, id);
            if !t.from.contains(&status) {
                return Ok(Guarded::WrongState(Refusal::Session(status)));
            }
            if let SessionChange::Abandon { .. } = t.change {
                // An abandoned session never holds a seat: it is given back as a decline gives it
                // (the tester may take one again, keeping their label).
                sqlx::query(
                    "UPDATE study_testers SET status = $1, updated_at = $2 WHERE status = $4 \
                     AND study_id = (SELECT study_id FROM sessions WHERE id = $3) \
                     AND tester_id = (SELECT tester_id FROM sessions WHERE id = $3)",
                )
                .bind(SeatStatus::Declined)
                .bind(now)
                .bind(id)
                .bind(SeatStatus::Accepted)
                .execute(&mut *tx)
                .await?;
            }
            let q = match t.change {
                SessionChange::Pause { to } => {
                    sqlx::query("UPDATE sessions SET status = $3, paused_at = $1, updated_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(id)
                        .bind(to)
                }
                SessionChange::Resume { to } => sqlx::query(
                    "UPDATE sessions SET status = $3, paused_ms = paused_ms + ($1 - COALESCE(paused_at, $1)), \
                     paused_at = NULL, updated_at = $1 WHERE id = $2",
                )
                .bind(now)
                .bind(id)
                .bind(to),
                SessionChange::Complete { to, completed_at } => sqlx::query(
                    "UPDATE sessions SET status = $3, \
                     paused_ms = paused_ms + (CASE WHEN paused_at IS NULL THEN 0 ELSE $1 - paused_at END), \
                     paused_at = NULL, completed_at = $1, updated_at = $1 WHERE id = $2",
                )
                .bind(completed_at)
                .bind(id)
                .bind(to),
                SessionChange::Abandon { to } => sqlx::query(
                    "UPDATE sessions SET status = $3, \
                     paused_ms = paused_ms + (CASE WHEN paused_at IS NULL THEN 0 ELSE $1 - paused_at END), \
                     paused_at = NULL, updated_at = $1 WHERE id = $2",
                )
                .bind(now)
                .bind(id)
                .bind(to),
            };
            q.execute(&mut *tx).await?;
            if t.event.is_some() {
                let (org, _) = session_owner!(tx, id);
                maybe_emit!(tx, &org, &t.event, now);
            }
            apply_follow_ups!(tx, &t.then, now);
            tx.commit().await?;
            Ok::<_, StoreError>(Guarded::Done(()))
        })?;
        self.after_follow_ups(&t.then);
        match done {
            Guarded::Done(()) => {
                Ok(self.get_session(tenant, id).await?.map_or(Guarded::NotFound, Guarded::Done))
            }
            Guarded::NotFound => Ok(Guarded::NotFound),
            Guarded::WrongState(s) => Ok(Guarded::WrongState(s)),
        }
    }

    async fn last_item_at(&self, tenant: &Tenant, session_id: &SessionId) -> StoreResult<Option<i64>> {
        // One row when the session is the tenant's, none otherwise.
        let (cond, who) = session_tenant_clause("x.id", 2, tenant);
        let sql = format!(
            "SELECT (SELECT MAX(ts) FROM (SELECT MAX(ts) AS ts FROM events WHERE session_id = $1 \
             UNION ALL SELECT MAX(ts) FROM facial WHERE session_id = $1 \
             UNION ALL SELECT MAX(ts) FROM voice WHERE session_id = $1 \
             UNION ALL SELECT MAX(ts) FROM session_notes WHERE session_id = $1) AS items) \
             FROM sessions x WHERE x.id = $1{cond}"
        );
        read!(self, p => {
            let mut q = sqlx::query_as::<_, (Option<i64>,)>(sqlx::AssertSqlSafe(sql)).bind(session_id);
            if let Some(w) = who {
                q = q.bind(w);
            }
            Ok(q.fetch_optional(p).await?.and_then(|(at,)| at))
        })
    }

    async fn think_aloud_items(&self, tenant: &Tenant, session_id: &SessionId) -> StoreResult<i64> {
        let (cond, who) = session_tenant_clause("x.id", 2, tenant);
        let sql = format!(
            "SELECT (SELECT COUNT(*) FROM voice WHERE session_id = $1) \
             + (SELECT COUNT(*) FROM session_notes WHERE session_id = $1) \
             FROM sessions x WHERE x.id = $1{cond}"
        );
        read!(self, p => {
            let mut q = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql)).bind(session_id);
            if let Some(w) = who {
                q = q.bind(w);
            }
            Ok(q.fetch_optional(p).await?.map_or(0, |(n,)| n))
        })
    }

    async fn set_consent(
        &self,
        tenant: &Tenant,
        id: &SessionId,
        from: &[SessionStatus],
        consent: &ConsentRecord,
        now: i64,
    ) -> StoreResult<Guarded<()>> {
        let record = serde_json::to_string(consent).map_err(|e| StoreError::Other(e.to_string()))?;
        write!(self, p => {
            let mut tx = p.begin().await?;
            let status = session_status_in_tx!(tx, tenant, id);
            if !from.contains(&status) {
                return Ok(Guarded::WrongState(Refusal::Session(status)));
            }
            sqlx::query(
                "UPDATE sessions SET consent = $1, consent_events = $2, consent_facial = $3, consent_voice = $4, updated_at = $5 WHERE id = $6",
            )
            .bind(&record)
            .bind(consent.streams.events)
            .bind(consent.streams.facial)
            .bind(consent.streams.voice)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Guarded::Done(()))
        })
    }

    async fn ingest(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        accepting: SessionStatus,
        batch: StreamBatch,
    ) -> StoreResult<Guarded<IngestCounts>> {
        let kind = StreamKind::of(&batch);
        let tester = match tenant {
            Tenant::Tester(t) => Some(t.as_str()),
            Tenant::Organization(_) => return Ok(Guarded::NotFound),
            Tenant::All => None,
        };
        let p = match &self.db {
            Db::Sqlite { groups, .. } => {
                // SQLite: the batch joins the writer's next group commit (decision 234).
                let (statements, total) = ingest_statements!(session_id, batch);
                let job = Job {
                    tester: tester.map(str::to_owned),
                    session_id: session_id.clone(),
                    accepting,
                    kind,
                    statements,
                    total,
                };
                return groups.submit(job).await;
            }
            Db::Postgres(p) => p,
        };
        let cond = if tester.is_some() { " AND tester_id = $2" } else { "" };
        let select = format!("SELECT status, {} FROM sessions WHERE id = $1{cond}", kind.consent_column());
        let (mut statements, total) = ingest_statements!(session_id, batch);
        let mut tx = p.begin().await?;
        // Checked inside the transaction: a concurrent `complete` or consent withdrawal
        // cannot slip between the check and the insert.
        let mut q = sqlx::query_as::<_, (SessionStatus, bool)>(sqlx::AssertSqlSafe(select)).bind(session_id);
        if let Some(w) = tester {
            q = q.bind(w);
        }
        let Some((status, consented)) = q.fetch_optional(&mut *tx).await? else {
            return Ok(Guarded::NotFound);
        };
        if let Some(r) = refusal(status, consented, accepting) {
            return Ok(Guarded::WrongState(r));
        }
        let mut stored = 0u64;
        for qb in &mut statements {
            stored += qb.build().execute(&mut *tx).await?.rows_affected();
        }
        let recorded = kind == StreamKind::Events
            && stored > 0
            && sqlx::query_as::<_, (i32,)>("SELECT 1 FROM recordings WHERE session_id = $1")
                .bind(session_id)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
        if recorded {
            // An action the screen recording already gave (a derived `rr:` event of the same
            // type within TWIN_MS) is now the recorder's own: the derived copy goes.
            sqlx::query(DROP_RECORDED_TWINS)
                .bind(session_id)
                .bind(crate::store::TWIN_MS)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Guarded::Done(IngestCounts { stored, duplicates: total - stored }))
    }

    async fn list_events(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        filter: &EventFilter,
        page: Page,
    ) -> StoreResult<(Vec<EventRow>, u64)> {
        if !self.session_visible(tenant, session_id).await? {
            return Ok((Vec::new(), 0));
        }
        read!(self, p => {
            let filters = |qb: &mut QueryBuilder<_>| {
                qb.push(" AND session_id = ").push_bind(session_id.to_owned());
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
            let page = fetch_page!(
                p,
                format!("SELECT {EVENT_COLS} FROM events WHERE 1 = 1"),
                "SELECT COUNT(*) FROM events WHERE 1 = 1",
                filters,
                "ts, seq",
                page,
                |row| event_from_row!(row, 0)
            );
            Ok(page)
        })
    }

    async fn events_after(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        after: (i64, i64),
        limit: i64,
    ) -> StoreResult<Vec<(i64, EventRow)>> {
        stream_after!(self, "events", EVENT_COLS, tenant, session_id, after, limit, |row| event_from_row!(
            row, 1
        ))
    }

    async fn facial_after(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        after: (i64, i64),
        limit: i64,
    ) -> StoreResult<Vec<(i64, FacialRow)>> {
        stream_after!(self, "facial", FACIAL_COLS, tenant, session_id, after, limit, |row| facial_from_row!(
            row, 1
        ))
    }

    async fn voice_after(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        after: (i64, i64),
        limit: i64,
    ) -> StoreResult<Vec<(i64, VoiceRow)>> {
        stream_after!(self, "voice", VOICE_COLS, tenant, session_id, after, limit, |row| voice_from_row!(
            row, 1
        ))
    }

    async fn session_streams(&self, tenant: &Tenant, session_id: &SessionId) -> StoreResult<SessionStreams> {
        if !self.session_visible(tenant, session_id).await? {
            return Err(StoreError::NotFound);
        }
        let events_sql = events_json_sql(matches!(self.db, Db::Sqlite { .. }));
        let facial_sql = format!("SELECT {FACIAL_COLS} FROM facial WHERE session_id = $1 ORDER BY ts, seq");
        let voice_sql = format!("SELECT {VOICE_COLS} FROM voice WHERE session_id = $1 ORDER BY ts, seq");
        let mut out = SessionStreams::default();
        read!(self, p => {
            // Chunks of events as JSON the database builds (see `events_json_sql`), each
            // query starting after the last event of the one before.
            let mut after = (i64::MIN, i64::MIN);
            loop {
                let chunk: String = sqlx::query_scalar(sqlx::AssertSqlSafe(events_sql.clone()))
                    .bind(session_id)
                    .bind(after.0)
                    .bind(after.1)
                    .fetch_one(p)
                    .await?;
                let rows: Vec<EventJson> = serde_json::from_str(&chunk)
                    .map_err(|e| StoreError::Other(format!("stored events of {session_id}: {e}")))?;
                let full = rows.len() == EVENT_CHUNK;
                if let Some(last) = rows.last() {
                    after = (last.ts, last.seq);
                }
                out.events.extend(rows.into_iter().map(EventRow::from));
                if !full {
                    break;
                }
            }
            for row in &sqlx::query(sqlx::AssertSqlSafe(facial_sql)).bind(session_id).fetch_all(p).await? {
                out.facial.push(facial_from_row!(row, 0));
            }
            for row in &sqlx::query(sqlx::AssertSqlSafe(voice_sql)).bind(session_id).fetch_all(p).await? {
                out.voice.push(voice_from_row!(row, 0));
            }
        });
        out.notes = self.list_notes(tenant, session_id, Page { page: 1, limit: u32::MAX }).await?.0;
        out.attempts = self.list_attempts(tenant, session_id).await?;
        Ok(out)
    }

    async fn add_note(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        note: NoteRow,
    ) -> StoreResult<Guarded<()>> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            let _status = session_status_in_tx!(tx, tenant, session_id);
            sqlx::query("INSERT INTO session_notes (id, session_id, ts, text, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&note.id)
                .bind(session_id)
                .bind(note.ts)
                .bind(&note.text)
                .bind(note.created_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Guarded::Done(()))
        })
    }

    async fn list_notes(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        page: Page,
    ) -> StoreResult<(Vec<NoteRow>, u64)> {
        if !self.session_visible(tenant, session_id).await? {
            return Ok((Vec::new(), 0));
        }
        read!(self, p => {
            let filters = |qb: &mut QueryBuilder<_>| {
                qb.push(" AND session_id = ").push_bind(session_id.to_owned());
            };
            let page = fetch_page!(
                p,
                "SELECT id, ts, text, created_at FROM session_notes WHERE 1 = 1",
                "SELECT COUNT(*) FROM session_notes WHERE 1 = 1",
                filters,
                "ts, id",
                page,
                |row| NoteRow { id: row.try_get(0)?, ts: row.try_get(1)?, text: row.try_get(2)?, created_at: row.try_get(3)? }
            );
            Ok(page)
        })
    }

    async fn put_feedback(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        attempts: &[TaskAttemptRow],
        sus: Option<&str>,
        nps: Option<i64>,
        now: i64,
    ) -> StoreResult<Guarded<()>> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            let _status = session_status_in_tx!(tx, tenant, session_id);
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
            Ok(Guarded::Done(()))
        })
    }

    async fn list_attempts(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
    ) -> StoreResult<Vec<TaskAttemptRow>> {
        let (cond, who) = session_tenant_clause("session_id", 2, tenant);
        let sql = format!(
            "SELECT task_id, outcome, seq_score, started_at, ended_at FROM task_attempts WHERE session_id = $1{cond} \
             ORDER BY started_at, task_id"
        );
        read!(self, p => {
            let mut q = sqlx::query_as::<_, (String, String, Option<i64>, i64, i64)>(sqlx::AssertSqlSafe(sql)).bind(session_id);
            if let Some(w) = who {
                q = q.bind(w);
            }
            Ok(q.fetch_all(p)
                .await?
                .into_iter()
                .map(|r| TaskAttemptRow { task_id: r.0, outcome: r.1, seq_score: r.2, started_at: r.3, ended_at: r.4 })
                .collect())
        })
    }

    async fn study_tester_categories(
        &self,
        tenant: &Tenant,
        study_id: &StudyId,
    ) -> StoreResult<Vec<Vec<String>>> {
        let (cond, who) = study_tenant_clause("x.study_id", 2, tenant);
        let sql = format!(
            "SELECT tp.profile FROM sessions x LEFT JOIN tester_profiles tp ON tp.user_id = x.tester_id \
             WHERE x.study_id = $1{cond}"
        );
        read!(self, p => {
            let mut q = sqlx::query_as::<_, (Option<String>,)>(sqlx::AssertSqlSafe(sql)).bind(study_id);
            if let Some(w) = who {
                q = q.bind(w);
            }
            let rows = q.fetch_all(p).await?;
            Ok(rows
                .into_iter()
                .map(|(p,)| {
                    p.and_then(|t| serde_json::from_str::<Profile>(&t).ok()).map(|p| p.nd_categories).unwrap_or_default()
                })
                .collect())
        })
    }
}
