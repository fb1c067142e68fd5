//! `/api/sessions`: tests — create (with the test token), read, list, pause/resume/complete,
//! consent, notes, feedback, events read-back and export.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Uri, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::ids::{new_id, prefix};
use crate::domain::{Role, format_ms};
use crate::envelope::{Envelope, ok};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::pagination::{PageQuery, form_pairs};
use crate::http::extract::{ApiJson, Authed, OptionalJson, Pagination, SessionActor};
use crate::services::ingest::{EventItem, parse_time};
use crate::services::sessions::{self, Access, duration_seconds};
use crate::services::{export, studies};
use crate::state::AppState;
use crate::store::{EventFilter, NoteRow, Session, SessionChange, SessionScope, TaskAttemptRow};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_session, list_sessions))
        .routes(routes!(get_session))
        .routes(routes!(pause_session))
        .routes(routes!(resume_session))
        .routes(routes!(complete_session))
        .routes(routes!(consent))
        .routes(routes!(add_note, list_notes))
        .routes(routes!(feedback))
        .routes(routes!(session_events))
        .routes(routes!(export_session))
}

/// Consent given for the session's streams.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsentStreams {
    pub events: bool,
    pub facial: bool,
    pub voice: bool,
    pub screenshots: bool,
}

/// A session (test). Businesses see the tester only as `testerLabel` and ND categories.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionOut {
    pub id: String,
    pub job_id: String,
    /// Only for the tester themself and admins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tester_id: Option<String>,
    /// `Tester N`, stable within the study.
    pub tester_label: String,
    pub nd_categories: Vec<String>,
    pub variant: Option<String>,
    /// `active`, `paused`, `completed`, `analyzed`, `confirmed`, `abandoned`.
    pub status: String,
    /// `collecting`, `queued`, `analyzing`, `awaiting_confirmation`, `confirmed`, `reported`, `failed`.
    pub pipeline_status: String,
    pub started_at: String,
    pub completed_at: Option<String>,
    /// Time spent testing, pauses excluded.
    pub duration_seconds: i64,
    pub consent: Option<ConsentOut>,
    /// Latest insights `{overallFrustrationScore, attentionDropTimestamps, criticalMoments,
    /// summary}`: the real-time snapshot (Agent 1) if any, else the session analysis (Agent 2).
    #[schema(value_type = Option<Object>)]
    pub analysis: Option<serde_json::Value>,
    pub created_at: String,
    pub updated_at: String,
}

/// Consent as recorded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentOut {
    pub version: String,
    pub streams: ConsentStreams,
    pub given_at: String,
}

/// The latest insights: Agent 1's real-time snapshot if there is one, else Agent 2's.
fn latest_insights(realtime: Option<&str>, analysis: Option<&str>) -> Option<serde_json::Value> {
    realtime
        .or(analysis)
        .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
        .map(|mut a| a["insights"].take())
}

/// Builds the view of a session for a viewer.
pub fn session_out(s: Session, viewer: Role, viewer_id: &str, now: i64) -> SessionOut {
    let nd_categories = s
        .tester_profile
        .as_deref()
        .and_then(|p| serde_json::from_str::<studies::ProfileIn>(p).ok())
        .map(|p| p.nd_categories)
        .unwrap_or_default();
    let show_identity = viewer == Role::Admin || viewer_id == s.tester_id;
    SessionOut {
        duration_seconds: duration_seconds(&s, now),
        tester_id: show_identity.then(|| s.tester_id.clone()),
        tester_label: s.label_no.map_or_else(|| "Tester".to_owned(), |n| format!("Tester {n}")),
        nd_categories,
        consent: s.consent.as_deref().and_then(|c| serde_json::from_str(c).ok()),
        id: s.id,
        job_id: s.study_id,
        variant: s.variant,
        status: s.status,
        pipeline_status: s.pipeline_status,
        started_at: format_ms(s.started_at),
        completed_at: s.completed_at.map(format_ms),
        analysis: latest_insights(s.realtime.as_deref(), s.analysis.as_deref()),
        created_at: format_ms(s.created_at),
        updated_at: format_ms(s.updated_at),
    }
}

/// Start a session.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionIn {
    pub job_id: String,
    /// Testers pass their own id; admins any tester's.
    pub tester_id: String,
    /// A/B label; assigned by `splitRatio` (keeping arms balanced) when absent.
    pub variant: Option<String>,
}

/// A created session and its test token.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionCreatedOut {
    #[serde(flatten)]
    pub session: SessionOut,
    /// `Authorization: Token <testToken>` for the browser extension: this session only, 24 h.
    /// Shown once.
    pub test_token: String,
}

/// Start a session (status `active`); the study moves to `in_progress`.
#[utoipa::path(post, path = "/api/sessions", tag = "sessions", security(("jwt" = [])), request_body = SessionIn,
    responses((status = 200, body = Envelope<SessionCreatedOut>), (status = 403, description = "Not this tester"), (status = 422, description = "Not accepted, study not open, or a session exists")))]
async fn create_session(
    State(state): State<AppState>,
    caller: crate::http::extract::UserJwt,
    ApiJson(b): ApiJson<SessionIn>,
) -> ApiResult<Envelope<SessionCreatedOut>> {
    let created = sessions::create(&state, &caller, &b.job_id, &b.tester_id, b.variant).await?;
    let session = session_out(created.session, caller.role, &caller.user_id, state.now());
    Ok(ok(SessionCreatedOut { session, test_token: created.test_token }))
}

/// Filters of the session list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct SessionsQuery {
    pub job_id: Option<String>,
    pub status: Option<String>,
}

const SESSION_STATUSES: [&str; 6] = ["active", "paused", "completed", "analyzed", "confirmed", "abandoned"];

/// Sessions the caller may see, newest first.
#[utoipa::path(get, path = "/api/sessions", tag = "sessions", security(("jwt" = []), ("token" = ["read"])), params(SessionsQuery, PageQuery),
    responses((status = 200, body = Envelope<Vec<SessionOut>>)))]
async fn list_sessions(
    State(state): State<AppState>,
    caller: Authed,
    page: Pagination,
    uri: Uri,
) -> ApiResult<Envelope<Vec<SessionOut>>> {
    let pairs = form_pairs(uri.query().unwrap_or(""));
    let job_id = pairs.iter().find(|(k, _)| k == "jobId").map(|(_, v)| v.clone());
    let status = pairs.iter().find(|(k, _)| k == "status").map(|(_, v)| v.clone());
    if let Some(s) = &status
        && !SESSION_STATUSES.contains(&s.as_str())
    {
        return Err(ApiError::BadRequest(format!(
            "status: must be one of {}, got {s:?}",
            SESSION_STATUSES.join(", ")
        )));
    }
    let scope = match caller.role {
        Role::Admin => SessionScope::All,
        Role::Tester => SessionScope::Tester(caller.user_id.clone()),
        Role::Business => SessionScope::Organization(caller.organization_id.clone().unwrap_or_default()),
    };
    let (rows, total) =
        state.store.list_sessions(&scope, job_id.as_deref(), status.as_deref(), page.0).await?;
    let now = state.now();
    Ok(Envelope::page(
        rows.into_iter().map(|s| session_out(s, caller.role, &caller.user_id, now)).collect(),
        page.meta(total),
    ))
}

/// A session with its duration and pipeline status.
#[utoipa::path(get, path = "/api/sessions/{id}", tag = "sessions", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Session id (`sess_…`)")),
    responses((status = 200, body = Envelope<SessionOut>), (status = 404, description = "Absent or not visible")))]
async fn get_session(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<String>,
) -> ApiResult<Envelope<SessionOut>> {
    let s = sessions::authorize(&state, &caller, &id, Access::Read).await?;
    Ok(ok(session_out(s, caller.role, &caller.user_id, state.now())))
}

async fn control(
    state: &AppState,
    caller: &SessionActor,
    id: &str,
    change: SessionChange,
) -> ApiResult<Envelope<SessionOut>> {
    let s = sessions::authorize(state, caller, id, Access::Control).await?;
    let s = sessions::change(state, &s, change).await?;
    Ok(ok(session_out(s, caller.role, &caller.user_id, state.now())))
}

/// Pause an active session.
#[utoipa::path(post, path = "/api/sessions/{id}/pause", tag = "sessions", security(("jwt" = []), ("testToken" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = Envelope<SessionOut>), (status = 422, description = "Not active")))]
async fn pause_session(
    State(state): State<AppState>,
    caller: SessionActor,
    Path(id): Path<String>,
) -> ApiResult<Envelope<SessionOut>> {
    control(&state, &caller, &id, SessionChange::Pause).await
}

/// Resume a paused session.
#[utoipa::path(post, path = "/api/sessions/{id}/resume", tag = "sessions", security(("jwt" = []), ("testToken" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = Envelope<SessionOut>), (status = 422, description = "Not paused")))]
async fn resume_session(
    State(state): State<AppState>,
    caller: SessionActor,
    Path(id): Path<String>,
) -> ApiResult<Envelope<SessionOut>> {
    control(&state, &caller, &id, SessionChange::Resume).await
}

/// Completion time.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompleteIn {
    /// When the tester finished (default now); not before the start, not in the future.
    pub completed_at: Option<String>,
}

/// Complete an active or paused session.
#[utoipa::path(post, path = "/api/sessions/{id}/complete", tag = "sessions", security(("jwt" = []), ("testToken" = [])),
    params(("id" = String, Path, description = "Session id")), request_body(content = CompleteIn, description = "Optional"),
    responses((status = 200, body = Envelope<SessionOut>), (status = 422, description = "Not active or paused")))]
async fn complete_session(
    State(state): State<AppState>,
    caller: SessionActor,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<CompleteIn>,
) -> ApiResult<Envelope<SessionOut>> {
    let now = state.now();
    let at = match body.completed_at {
        Some(t) => {
            let ms = parse_time(&t)
                .map_err(|_| ApiError::Unprocessable("completedAt: must be an RFC 3339 time".into()))?;
            let s = sessions::authorize(&state, &caller, &id, Access::Control).await?;
            if ms < s.started_at || ms > now + 5 * 60 * 1000 {
                return Err(ApiError::Unprocessable(
                    "completedAt: must be between the session start and now".into(),
                ));
            }
            ms
        }
        None => now,
    };
    control(&state, &caller, &id, SessionChange::Complete { completed_at: at }).await
}

/// Consent body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ConsentIn {
    /// Version of the consent text shown (1–32 characters).
    pub version: String,
    pub streams: ConsentStreams,
}

/// Record consent per stream; ingestion of a stream without consent is rejected per item.
#[utoipa::path(post, path = "/api/sessions/{id}/consent", tag = "sessions", security(("jwt" = []), ("testToken" = [])),
    params(("id" = String, Path, description = "Session id")), request_body = ConsentIn,
    responses((status = 200, body = Envelope<SessionOut>), (status = 422, description = "Validation failed or session finished")))]
async fn consent(
    State(state): State<AppState>,
    caller: SessionActor,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ConsentIn>,
) -> ApiResult<Envelope<SessionOut>> {
    let v = b.version.trim();
    if v.is_empty() || v.chars().count() > 32 {
        return Err(ApiError::Unprocessable("version: must be 1-32 characters".into()));
    }
    let s = sessions::authorize(&state, &caller, &id, Access::Control).await?;
    if s.status != "active" && s.status != "paused" {
        return Err(ApiError::Unprocessable(format!(
            "Cannot change consent of a session that is {}",
            s.status
        )));
    }
    let now = state.now();
    let record = ConsentOut { version: v.to_owned(), streams: b.streams.clone(), given_at: format_ms(now) };
    let json = serde_json::to_string(&record).map_err(ApiError::internal)?;
    state.store.set_consent(&id, &json, [b.streams.events, b.streams.facial, b.streams.voice], now).await?;
    let s = state
        .store
        .get_session(&SessionScope::All, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Session"))?;
    Ok(ok(session_out(s, caller.role, &caller.user_id, now)))
}

/// A think-aloud note.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NoteIn {
    /// 1–5,000 characters.
    pub text: String,
    /// When it was said (default now).
    pub timestamp: Option<String>,
}

/// A stored note.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoteOut {
    pub id: String,
    pub timestamp: String,
    pub text: String,
    pub created_at: String,
}

fn note_out(n: NoteRow) -> NoteOut {
    NoteOut { id: n.id, timestamp: format_ms(n.ts), text: n.text, created_at: format_ms(n.created_at) }
}

/// Add a timestamped note (the think-aloud alternative).
#[utoipa::path(post, path = "/api/sessions/{id}/notes", tag = "sessions", security(("jwt" = []), ("testToken" = [])),
    params(("id" = String, Path, description = "Session id")), request_body = NoteIn,
    responses((status = 200, body = Envelope<NoteOut>), (status = 422, description = "Validation failed")))]
async fn add_note(
    State(state): State<AppState>,
    caller: SessionActor,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<NoteIn>,
) -> ApiResult<Envelope<NoteOut>> {
    let n = b.text.trim().chars().count();
    if !(1..=5000).contains(&n) {
        return Err(ApiError::Unprocessable("text: must be 1-5000 characters".into()));
    }
    let s = sessions::authorize(&state, &caller, &id, Access::Control).await?;
    let now = state.now();
    let ts = match b.timestamp {
        Some(t) => parse_time(&t)
            .map_err(|_| ApiError::Unprocessable("timestamp: must be an RFC 3339 time".into()))?,
        None => now,
    };
    crate::services::ingest::check_window(ts, s.started_at, now)
        .map_err(|m| ApiError::Unprocessable(format!("timestamp: {m}")))?;
    let note = NoteRow { id: new_id(prefix::NOTE, now), ts, text: b.text.trim().to_owned(), created_at: now };
    state.store.add_note(&id, note.clone()).await?;
    Ok(ok(note_out(note)))
}

/// The session's notes in time order.
#[utoipa::path(get, path = "/api/sessions/{id}/notes", tag = "sessions", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Session id"), PageQuery),
    responses((status = 200, body = Envelope<Vec<NoteOut>>)))]
async fn list_notes(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<String>,
    page: Pagination,
) -> ApiResult<Envelope<Vec<NoteOut>>> {
    sessions::authorize(&state, &caller, &id, Access::Read).await?;
    let (rows, total) = state.store.list_notes(&id, page.0).await?;
    Ok(Envelope::page(rows.into_iter().map(note_out).collect(), page.meta(total)))
}

/// One task's outcome.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskFeedbackIn {
    pub task_id: String,
    /// `success`, `indirect`, `fail`, `abandon`.
    pub outcome: String,
    /// Single Ease Question, 1..7.
    pub seq: Option<i64>,
    pub started_at: String,
    pub ended_at: String,
}

/// Feedback: task outcomes and the post-test survey.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackIn {
    #[serde(default)]
    pub tasks: Vec<TaskFeedbackIn>,
    /// System Usability Scale: 10 answers, each 1..5.
    pub sus: Option<Vec<i64>>,
    /// Net Promoter Score answer, 0..10.
    pub nps: Option<i64>,
}

/// Stored feedback.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackOut {
    pub tasks: Vec<TaskAttemptOut>,
    pub sus: Option<Vec<i64>>,
    pub nps: Option<i64>,
}

/// A stored task attempt.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskAttemptOut {
    pub task_id: String,
    pub outcome: String,
    pub seq: Option<i64>,
    pub started_at: String,
    pub ended_at: String,
}

/// Record task outcomes (one per task; sending a task again replaces it) and the survey.
#[utoipa::path(post, path = "/api/sessions/{id}/feedback", tag = "sessions", security(("jwt" = []), ("testToken" = [])),
    params(("id" = String, Path, description = "Session id")), request_body = FeedbackIn,
    responses((status = 200, body = Envelope<FeedbackOut>), (status = 422, description = "Validation failed")))]
async fn feedback(
    State(state): State<AppState>,
    caller: SessionActor,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<FeedbackIn>,
) -> ApiResult<Envelope<FeedbackOut>> {
    let s = sessions::authorize(&state, &caller, &id, Access::Control).await?;
    let study = state
        .store
        .get_study(&crate::store::StudyScope::All, &s.study_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Study"))?;
    let mut attempts = Vec::with_capacity(b.tasks.len());
    for (i, t) in b.tasks.iter().enumerate() {
        let bad = |m: &str| ApiError::Unprocessable(format!("tasks[{i}].{m}"));
        if !study.tasks.iter().any(|x| x.id == t.task_id) {
            return Err(bad("taskId: not a task of this study"));
        }
        if !["success", "indirect", "fail", "abandon"].contains(&t.outcome.as_str()) {
            return Err(bad("outcome: must be success, indirect, fail or abandon"));
        }
        if t.seq.is_some_and(|q| !(1..=7).contains(&q)) {
            return Err(bad("seq: must be 1-7"));
        }
        let started = parse_time(&t.started_at).map_err(|_| bad("startedAt: must be an RFC 3339 time"))?;
        let ended = parse_time(&t.ended_at).map_err(|_| bad("endedAt: must be an RFC 3339 time"))?;
        if ended < started {
            return Err(bad("endedAt: must not be before startedAt"));
        }
        attempts.push(TaskAttemptRow {
            task_id: t.task_id.clone(),
            outcome: t.outcome.clone(),
            seq_score: t.seq,
            started_at: started,
            ended_at: ended,
        });
    }
    if let Some(sus) = &b.sus
        && (sus.len() != 10 || sus.iter().any(|x| !(1..=5).contains(x)))
    {
        return Err(ApiError::Unprocessable("sus: must be 10 answers, each 1-5".into()));
    }
    if b.nps.is_some_and(|n| !(0..=10).contains(&n)) {
        return Err(ApiError::Unprocessable("nps: must be 0-10".into()));
    }
    let sus_json = b.sus.as_ref().map(|v| serde_json::to_string(v).unwrap_or_default());
    state.store.put_feedback(&id, &attempts, sus_json.as_deref(), b.nps, state.now()).await?;
    let stored = state.store.list_attempts(&id).await?;
    let s = state
        .store
        .get_session(&SessionScope::All, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Session"))?;
    Ok(ok(FeedbackOut {
        tasks: stored
            .into_iter()
            .map(|a| TaskAttemptOut {
                task_id: a.task_id,
                outcome: a.outcome,
                seq: a.seq_score,
                started_at: format_ms(a.started_at),
                ended_at: format_ms(a.ended_at),
            })
            .collect(),
        sus: s.sus.as_deref().and_then(|x| serde_json::from_str(x).ok()),
        nps: s.nps,
    }))
}

/// Filters of the events read-back.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Event type (`click`, `scroll`, …).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// RFC 3339; events at or after.
    pub from: Option<String>,
    /// RFC 3339; events at or before.
    pub to: Option<String>,
}

/// Raw stored events in time order.
#[utoipa::path(get, path = "/api/sessions/{id}/events", tag = "sessions", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Session id"), EventsQuery, PageQuery),
    responses((status = 200, body = Envelope<Vec<EventItem>>), (status = 400, description = "Bad filter")))]
async fn session_events(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<String>,
    page: Pagination,
    uri: Uri,
) -> ApiResult<Envelope<Vec<EventItem>>> {
    let mut filter = EventFilter::default();
    for (k, v) in form_pairs(uri.query().unwrap_or("")) {
        match k.as_str() {
            "type" => {
                if !crate::services::ingest::EVENT_TYPES.contains(&v.as_str()) {
                    return Err(ApiError::BadRequest(format!("type: unknown event type {v:?}")));
                }
                filter.event_type = Some(v);
            }
            "from" => {
                filter.from = Some(
                    parse_time(&v)
                        .map_err(|_| ApiError::BadRequest("from: must be an RFC 3339 time".into()))?,
                )
            }
            "to" => {
                filter.to = Some(
                    parse_time(&v)
                        .map_err(|_| ApiError::BadRequest("to: must be an RFC 3339 time".into()))?,
                )
            }
            _ => {}
        }
    }
    sessions::authorize(&state, &caller, &id, Access::Read).await?;
    let (rows, total) = state.store.list_events(&id, &filter, page.0).await?;
    Ok(Envelope::page(rows.into_iter().map(EventItem::from_row).collect(), page.meta(total)))
}

/// Export format.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `ndjson` (default) or `csv`.
    pub format: Option<String>,
}

/// Every stream of the session, streamed: NDJSON (spec §4.1, re-analysable offline with
/// `openscouter analyze`) or CSV (one column per field).
#[utoipa::path(get, path = "/api/sessions/{id}/export", tag = "sessions", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Session id"), ExportQuery),
    responses((status = 200, description = "NDJSON or CSV stream", content_type = "application/x-ndjson"), (status = 400, description = "Unknown format")))]
async fn export_session(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Response> {
    let format = match form_pairs(uri.query().unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v)
    {
        None => export::Format::Ndjson,
        Some(f) if f == "ndjson" => export::Format::Ndjson,
        Some(f) if f == "csv" => export::Format::Csv,
        Some(f) => return Err(ApiError::BadRequest(format!("format: must be ndjson or csv, got {f:?}"))),
    };
    let session = sessions::authorize(&state, &caller, &id, Access::Read).await?;
    let header_line = export::session_header(&state, &session).await?;
    let stream = export::stream(state.clone(), session, header_line, format);
    let (ct, ext) = match format {
        export::Format::Ndjson => ("application/x-ndjson", "ndjson"),
        export::Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, ct.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{id}.{ext}\"")),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
