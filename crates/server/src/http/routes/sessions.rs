//! `/api/sessions`: tests — create (with the test token), read, list, pause/resume/abandon/complete,
//! consent, notes, feedback, events read-back and export.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Uri, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::ids::{SessionId, StudyId};
use crate::domain::stream::parse_time;
use crate::domain::study::ConsentRecord;
use crate::domain::{PipelineStatus, Role, SessionStatus, format_ms};
use crate::error::{AppError, AppResult};
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::pagination::PageQuery;
use crate::http::extract::query::{ApiQuery, parse_query};
use crate::http::extract::{ApiJson, Authed, OptionalJson, Pagination, ReaderOrTestToken, SessionActor};
use crate::http::state::AppState;
use crate::services::analysis_input::{nd_categories, tester_label};
use crate::services::export;
use crate::services::ingest::EventItem;
use crate::services::pipeline::latest_analysis;
use crate::services::sessions::{
    self, ConsentIn, Feedback, FeedbackIn, NoteIn, SessionFilter, SessionIn, duration_seconds,
};
use crate::store::{EventFilter, NoteRow, Session};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_session, list_sessions))
        .routes(routes!(get_session))
        .routes(routes!(pause_session))
        .routes(routes!(resume_session))
        .routes(routes!(abandon_session))
        .routes(routes!(complete_session))
        .routes(routes!(consent))
        .routes(routes!(add_note, list_notes))
        .routes(routes!(feedback))
        .routes(routes!(session_events))
        .routes(routes!(export_session))
}

/// A session (test). Businesses see the tester only as `testerLabel` and ND categories.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionOut {
    pub session_id: String,
    pub job_id: String,
    /// Only for the tester themself and admins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tester_id: Option<String>,
    /// `Tester N`, stable within the study.
    pub tester_label: String,
    pub nd_categories: Vec<String>,
    pub variant: Option<String>,
    pub status: SessionStatus,
    pub pipeline_status: PipelineStatus,
    pub started_at: String,
    pub completed_at: Option<String>,
    /// Time spent testing, pauses excluded.
    pub duration_seconds: i64,
    pub consent: Option<ConsentRecord>,
    /// The latest analysis `{analysisJobId, status, snapshotAt, insights{overallFrustrationScore,
    /// attentionDropTimestamps, criticalMoments, summary}}`: Agent 2's once the session is
    /// analysed, else Agent 1's latest real-time snapshot; null before either.
    #[schema(value_type = Option<Object>)]
    pub analysis: Option<serde_json::Value>,
    /// The screen recording's totals and health (api.md §5.1) on `GET /api/sessions/:id`;
    /// absent when the session has none (and in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording: Option<crate::services::recording::RecordingOut>,
    pub created_at: String,
    pub updated_at: String,
}

/// Builds the view of a session for a viewer.
pub fn session_out(s: Session, viewer: Role, viewer_id: &str, now: i64) -> SessionOut {
    let show_identity = viewer == Role::Admin || viewer_id == s.tester_id;
    let analysis = latest_analysis(&s);
    SessionOut {
        duration_seconds: duration_seconds(&s, now),
        tester_id: show_identity.then(|| s.tester_id.to_string()),
        tester_label: tester_label(&s),
        nd_categories: nd_categories(&s),
        consent: s.consent.clone(),
        session_id: s.id.into(),
        job_id: s.study_id.into(),
        variant: s.variant,
        status: s.status,
        pipeline_status: s.pipeline_status,
        started_at: format_ms(s.started_at),
        completed_at: s.completed_at.map(format_ms),
        analysis,
        recording: None,
        created_at: format_ms(s.created_at),
        updated_at: format_ms(s.updated_at),
    }
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
) -> AppResult<Envelope<SessionCreatedOut>> {
    let created = sessions::create(&state, &caller, b).await?;
    let session = session_out(created.session, caller.role, &caller.user_id, state.now());
    Ok(ok(SessionCreatedOut { session, test_token: created.test_token }))
}

/// Filters of the session list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct SessionsQuery {
    /// Only this study's sessions.
    pub job_id: Option<String>,
    /// Only sessions in this status.
    #[param(value_type = Option<SessionStatus>)]
    pub status: Option<String>,
}

impl SessionsQuery {
    /// The service's filter; an unknown status is a 400 naming the accepted ones.
    fn filter(self) -> AppResult<SessionFilter> {
        let status = match self.status {
            Some(v) => Some(SessionStatus::parse(&v).ok_or_else(|| {
                AppError::BadRequest(format!("status: must be one of {}, got {v:?}", SessionStatus::list()))
            })?),
            None => None,
        };
        Ok(SessionFilter { study_id: self.job_id.map(StudyId::from), status })
    }
}

/// Sessions the caller may see, newest first.
#[utoipa::path(get, path = "/api/sessions", tag = "sessions", security(("jwt" = []), ("token" = ["read"])), params(SessionsQuery, PageQuery),
    responses((status = 200, body = Envelope<Vec<SessionOut>>)))]
async fn list_sessions(
    State(state): State<AppState>,
    caller: Authed,
    page: Pagination,
    ApiQuery(q): ApiQuery<SessionsQuery>,
) -> AppResult<Envelope<Vec<SessionOut>>> {
    let filter = q.filter()?;
    let (rows, total) = sessions::list(&state, &caller, &filter, page.0).await?;
    let now = state.now();
    Ok(Envelope::page(
        rows.into_iter().map(|s| session_out(s, caller.role, &caller.user_id, now)).collect(),
        page.meta(total),
    ))
}

/// A task in a briefing.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BriefingTaskOut {
    pub task_id: String,
    pub title: String,
    pub description: String,
    pub success_criteria: String,
    pub order: i64,
}

/// The study as a recorder needs it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BriefingJobOut {
    pub job_id: String,
    pub title: String,
    pub description: String,
    pub prototype_type: crate::domain::study::PrototypeType,
    pub tasks: Vec<BriefingTaskOut>,
}

/// The study's recording settings.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BriefingSettingsOut {
    pub require_think_aloud: bool,
    pub record_screen: bool,
    pub record_facial: bool,
    pub record_voice: bool,
    pub max_duration_minutes: i64,
}

/// The streams the recorder may send: the study's setting AND the tester's consent.
#[derive(Debug, Serialize, ToSchema)]
pub struct BriefingStreamsOut {
    pub events: bool,
    pub facial: bool,
    pub voice: bool,
    pub screen: bool,
}

/// Ingestion limits.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BriefingLimitsOut {
    /// Items per batch.
    pub batch_max: usize,
    /// Items per minute for this session.
    pub events_per_minute: u32,
}

/// The recorder's briefing (api.md §11): what `GET /api/sessions/:id` answers to the session's
/// own test token, and nothing more.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BriefingOut {
    pub session_id: String,
    pub status: SessionStatus,
    pub variant: Option<String>,
    /// The A/B variant's `url` when it has one, else the study's `prototypeUrl`.
    pub start_url: String,
    pub job: BriefingJobOut,
    pub settings: BriefingSettingsOut,
    pub streams: BriefingStreamsOut,
    pub consent: Option<ConsentRecord>,
    pub token_expires_at: String,
    pub limits: BriefingLimitsOut,
}

fn briefing_out(b: sessions::Briefing) -> BriefingOut {
    let streams = b.streams();
    let def = &b.study.definition;
    let settings = &def.settings;
    BriefingOut {
        job: BriefingJobOut {
            job_id: b.study.id.to_string(),
            title: def.title.clone(),
            description: def.description.clone(),
            prototype_type: def.prototype_type,
            tasks: b
                .study
                .tasks
                .iter()
                .map(|t| BriefingTaskOut {
                    task_id: t.id.clone(),
                    title: t.title.clone(),
                    description: t.description.clone(),
                    success_criteria: t.success_criteria.clone(),
                    order: t.order,
                })
                .collect(),
        },
        settings: BriefingSettingsOut {
            require_think_aloud: settings.require_think_aloud,
            record_screen: settings.record_screen,
            record_facial: settings.record_facial,
            record_voice: settings.record_voice,
            max_duration_minutes: settings.max_duration_minutes,
        },
        streams: BriefingStreamsOut {
            events: streams.events,
            facial: streams.facial,
            voice: streams.voice,
            screen: streams.screenshots,
        },
        session_id: b.session.id.into(),
        status: b.session.status,
        variant: b.session.variant,
        start_url: b.start_url,
        consent: b.session.consent,
        token_expires_at: format_ms(b.token_expires_at),
        limits: BriefingLimitsOut { batch_max: b.batch_max, events_per_minute: b.events_per_minute },
    }
}

/// `GET /api/sessions/:id`: the session, or the briefing for a test token.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SessionReadOut {
    Session(Box<SessionOut>),
    Briefing(Box<BriefingOut>),
}

/// A session with its duration and pipeline status; with the session's own test token, the
/// recorder's briefing instead (`BriefingOut`: study title, tasks and their ids, settings, the
/// effective streams, consent, limits).
#[utoipa::path(get, path = "/api/sessions/{id}", tag = "sessions", security(("jwt" = []), ("token" = ["read"]), ("testToken" = [])),
    params(("id" = String, Path, description = "Session id (`sess_…`)")),
    responses((status = 200, body = Envelope<SessionReadOut>), (status = 403, description = "A test token of another session"), (status = 404, description = "Absent or not visible")))]
async fn get_session(
    State(state): State<AppState>,
    caller: ReaderOrTestToken,
    Path(id): Path<SessionId>,
) -> AppResult<Envelope<SessionReadOut>> {
    Ok(ok(match sessions::view(&state, &caller, &id).await? {
        sessions::SessionView::Full(s) => {
            let recording = crate::services::recording::summary_of(&state, &s).await?;
            let mut out = session_out(*s, caller.role, &caller.user_id, state.now());
            out.recording = recording;
            SessionReadOut::Session(Box::new(out))
        }
        sessions::SessionView::Briefing(b) => SessionReadOut::Briefing(Box::new(briefing_out(*b))),
    }))
}

fn controlled(state: &AppState, caller: &SessionActor, s: Session) -> Envelope<SessionOut> {
    ok(session_out(s, caller.role, &caller.user_id, state.now()))
}

/// Pause an active session.
#[utoipa::path(post, path = "/api/sessions/{id}/pause", tag = "sessions", security(("jwt" = []), ("testToken" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = Envelope<SessionOut>), (status = 422, description = "Not active")))]
async fn pause_session(
    State(state): State<AppState>,
    caller: SessionActor,
    Path(id): Path<SessionId>,
) -> AppResult<Envelope<SessionOut>> {
    Ok(controlled(&state, &caller, sessions::pause(&state, &caller, &id).await?))
}

/// Resume a paused session.
#[utoipa::path(post, path = "/api/sessions/{id}/resume", tag = "sessions", security(("jwt" = []), ("testToken" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = Envelope<SessionOut>), (status = 422, description = "Not paused")))]
async fn resume_session(
    State(state): State<AppState>,
    caller: SessionActor,
    Path(id): Path<SessionId>,
) -> AppResult<Envelope<SessionOut>> {
    Ok(controlled(&state, &caller, sessions::resume(&state, &caller, &id).await?))
}

/// Give up an active or paused session: `abandoned` at once, its seat freed; the tester may
/// start a new session for the study while a seat is free.
#[utoipa::path(post, path = "/api/sessions/{id}/abandon", tag = "sessions", security(("jwt" = []), ("testToken" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = Envelope<SessionOut>), (status = 422, description = "Not active or paused")))]
async fn abandon_session(
    State(state): State<AppState>,
    caller: SessionActor,
    Path(id): Path<SessionId>,
) -> AppResult<Envelope<SessionOut>> {
    Ok(controlled(&state, &caller, sessions::abandon(&state, &caller, &id).await?))
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
    Path(id): Path<SessionId>,
    OptionalJson(body): OptionalJson<CompleteIn>,
) -> AppResult<Envelope<SessionOut>> {
    let s = sessions::complete(&state, &caller, &id, body.completed_at.as_deref()).await?;
    Ok(controlled(&state, &caller, s))
}

/// Record consent per stream; ingestion of a stream without consent is rejected per item.
#[utoipa::path(post, path = "/api/sessions/{id}/consent", tag = "sessions", security(("jwt" = []), ("testToken" = [])),
    params(("id" = String, Path, description = "Session id")), request_body = ConsentIn,
    responses((status = 200, body = Envelope<SessionOut>), (status = 422, description = "Validation failed or session finished")))]
async fn consent(
    State(state): State<AppState>,
    caller: SessionActor,
    Path(id): Path<SessionId>,
    ApiJson(b): ApiJson<ConsentIn>,
) -> AppResult<Envelope<SessionOut>> {
    let s = sessions::set_consent(&state, &caller, &id, b).await?;
    Ok(controlled(&state, &caller, s))
}

/// A stored note.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoteOut {
    pub note_id: String,
    pub timestamp: String,
    pub text: String,
    pub created_at: String,
}

fn note_out(n: NoteRow) -> NoteOut {
    NoteOut { note_id: n.id, timestamp: format_ms(n.ts), text: n.text, created_at: format_ms(n.created_at) }
}

/// Add a timestamped note (the think-aloud alternative).
#[utoipa::path(post, path = "/api/sessions/{id}/notes", tag = "sessions", security(("jwt" = []), ("testToken" = [])),
    params(("id" = String, Path, description = "Session id")), request_body = NoteIn,
    responses((status = 200, body = Envelope<NoteOut>), (status = 422, description = "Validation failed")))]
async fn add_note(
    State(state): State<AppState>,
    caller: SessionActor,
    Path(id): Path<SessionId>,
    ApiJson(b): ApiJson<NoteIn>,
) -> AppResult<Envelope<NoteOut>> {
    Ok(ok(note_out(sessions::add_note(&state, &caller, &id, b).await?)))
}

/// The session's notes in time order.
#[utoipa::path(get, path = "/api/sessions/{id}/notes", tag = "sessions", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Session id"), PageQuery),
    responses((status = 200, body = Envelope<Vec<NoteOut>>)))]
async fn list_notes(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<SessionId>,
    page: Pagination,
) -> AppResult<Envelope<Vec<NoteOut>>> {
    let (rows, total) = sessions::list_notes(&state, &caller, &id, page.0).await?;
    Ok(Envelope::page(rows.into_iter().map(note_out).collect(), page.meta(total)))
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
    Path(id): Path<SessionId>,
    ApiJson(b): ApiJson<FeedbackIn>,
) -> AppResult<Envelope<FeedbackOut>> {
    let Feedback { attempts, sus, nps } = sessions::put_feedback(&state, &caller, &id, b).await?;
    Ok(ok(FeedbackOut {
        tasks: attempts
            .into_iter()
            .map(|a| TaskAttemptOut {
                task_id: a.task_id,
                outcome: a.outcome,
                seq: a.seq_score,
                started_at: format_ms(a.started_at),
                ended_at: format_ms(a.ended_at),
            })
            .collect(),
        sus,
        nps,
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
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339; events at or before.
    #[param(format = DateTime)]
    pub to: Option<String>,
}

impl EventsQuery {
    /// The store's filter; an unknown type or a time that is not RFC 3339 is a 400.
    fn filter(self) -> AppResult<EventFilter> {
        if let Some(t) = &self.event_type
            && !crate::services::ingest::EVENT_TYPES.contains(&t.as_str())
        {
            return Err(AppError::BadRequest(format!("type: unknown event type {t:?}")));
        }
        let time = |v: Option<String>, name: &str| -> AppResult<Option<i64>> {
            v.map(|v| {
                parse_time(&v).map_err(|_| AppError::BadRequest(format!("{name}: must be an RFC 3339 time")))
            })
            .transpose()
        };
        Ok(EventFilter {
            from: time(self.from, "from")?,
            to: time(self.to, "to")?,
            event_type: self.event_type,
        })
    }
}

/// Raw stored events in time order.
#[utoipa::path(get, path = "/api/sessions/{id}/events", tag = "sessions", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Session id"), EventsQuery, PageQuery),
    responses((status = 200, body = Envelope<Vec<EventItem>>), (status = 400, description = "Bad filter")))]
async fn session_events(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<SessionId>,
    page: Pagination,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> AppResult<Envelope<Vec<EventItem>>> {
    let filter = q.filter()?;
    let (rows, total) = sessions::events(&state, &caller, &id, &filter, page.0).await?;
    Ok(Envelope::page(rows.into_iter().map(EventItem::from_row).collect(), page.meta(total)))
}

/// Export format.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `ndjson` (default) or `csv`.
    #[param(pattern = "^(ndjson|csv)$")]
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
    Path(id): Path<SessionId>,
    uri: Uri,
) -> AppResult<Response> {
    export_response(&state, &caller, &id, uri.query()).await
}

/// The export as a download (`?format=ndjson|csv`); the dashboard's export links use it too.
pub async fn export_response(
    state: &AppState,
    caller: &crate::auth::principal::Principal,
    id: &SessionId,
    query: Option<&str>,
) -> AppResult<Response> {
    let format = match parse_query::<ExportQuery>(query)?.format.as_deref() {
        None | Some("ndjson") => export::Format::Ndjson,
        Some("csv") => export::Format::Csv,
        Some(f) => return Err(AppError::BadRequest(format!("format: must be ndjson or csv, got {f:?}"))),
    };
    let stream = export::open(state, caller, id, format).await?;
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
