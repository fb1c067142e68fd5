//! `/api/jobs`: studies (the wire calls a study a job) — create (draft), list, get, patch
//! (drafts), launch, close, accept, decline, the study's sessions.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::sessions::{SessionOut, session_out};
use crate::domain::ids::StudyId;
use crate::domain::{StudyStatus, format_ms};
use crate::error::{AppError, AppResult};
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::pagination::PageQuery;
use crate::http::extract::query::ApiQuery;
use crate::http::extract::{ApiJson, Authed, Pagination, UserJwt};
use crate::http::state::AppState;
use crate::services::sessions;
use crate::services::studies::{self, ReportSummary, StudyDefinition, StudyPatch};
use crate::store::Study;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_study, list_studies))
        .routes(routes!(get_study, patch_study))
        .routes(routes!(launch_study))
        .routes(routes!(close_study))
        .routes(routes!(accept_offer))
        .routes(routes!(decline_offer))
        .routes(routes!(study_sessions))
}

/// A task as stored.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskOut {
    pub task_id: String,
    pub title: String,
    pub description: String,
    pub success_criteria: String,
    pub order: i64,
}

/// A study.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StudyOut {
    pub job_id: String,
    pub organization_id: String,
    pub status: StudyStatus,
    #[serde(flatten)]
    pub definition: StudyDefinition,
    pub tasks: Vec<TaskOut>,
    pub sessions_total: i64,
    pub sessions_confirmed: i64,
    /// Testers who accepted (seats taken out of `targeting.testerCount`).
    pub seats_taken: i64,
    pub created_at: String,
    pub updated_at: String,
    pub launched_at: Option<String>,
    pub closed_at: Option<String>,
    /// Latest study-report summary `{reportId, score, band, createdAt}` (null until a study
    /// report exists; only on `GET /api/jobs/:id` for the business and admins).
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
    /// Where the study's sessions are in the flow (only on `GET /api/jobs/:id`, for the
    /// business and admins): how many sessions are at each `pipelineStatus`, abandoned sessions
    /// apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<ProgressOut>,
}

/// Sessions per `pipelineStatus` (every status present, zeros included) and abandoned sessions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProgressOut {
    /// `{collecting, queued, analyzing, awaiting_confirmation, confirmed, reported, failed}` → count.
    #[schema(value_type = Object, example = json!({"collecting": 1, "queued": 0, "analyzing": 0, "awaiting_confirmation": 1, "confirmed": 0, "reported": 1, "failed": 0}))]
    pub pipeline: std::collections::BTreeMap<String, i64>,
    /// Sessions abandoned (timed out without data): never analysed, their seats freed.
    pub abandoned: i64,
}

fn study_out(s: Study) -> StudyOut {
    StudyOut {
        definition: s.definition,
        tasks: s
            .tasks
            .into_iter()
            .map(|t| TaskOut {
                task_id: t.id,
                title: t.title,
                description: t.description,
                success_criteria: t.success_criteria,
                order: t.order,
            })
            .collect(),
        job_id: s.id.into(),
        organization_id: s.organization_id.into(),
        status: s.status,
        sessions_total: s.sessions_total,
        sessions_confirmed: s.sessions_confirmed,
        seats_taken: s.seats_taken,
        created_at: format_ms(s.created_at),
        updated_at: format_ms(s.updated_at),
        launched_at: s.launched_at.map(format_ms),
        closed_at: s.closed_at.map(format_ms),
        report: None,
        progress: None,
    }
}

fn report_out(r: ReportSummary) -> serde_json::Value {
    serde_json::json!({"reportId": r.report_id, "score": r.score, "band": r.band, "createdAt": format_ms(r.created_at)})
}

/// Create a study as a draft (business accounts, JWT or a token with `write`).
#[utoipa::path(post, path = "/api/jobs", operation_id = "create_job", tag = "studies", security(("jwt" = []), ("token" = ["write"])), request_body = StudyDefinition,
    responses((status = 200, body = Envelope<StudyOut>), (status = 403, description = "Not a business account"), (status = 422, description = "Validation failed")))]
async fn create_study(
    State(state): State<AppState>,
    caller: Authed,
    ApiJson(body): ApiJson<StudyDefinition>,
) -> AppResult<Envelope<StudyOut>> {
    Ok(ok(study_out(studies::create(&state, &caller, body).await?)))
}

/// Filters of the study list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// `draft`, `open`, `in_progress`, `completed` or `closed`.
    #[param(value_type = Option<StudyStatus>)]
    pub status: Option<String>,
}

impl JobsQuery {
    /// The status asked for; an unknown one is a 400 naming the accepted ones.
    fn status(self) -> AppResult<Option<StudyStatus>> {
        self.status
            .map(|v| {
                StudyStatus::parse(&v).ok_or_else(|| {
                    AppError::BadRequest(format!("status: must be one of {}, got {v:?}", StudyStatus::list()))
                })
            })
            .transpose()
    }
}

/// Studies the caller may see, newest first: a business its organization's, a tester the open
/// studies matching their profile (and those they accepted), an admin all.
#[utoipa::path(get, path = "/api/jobs", operation_id = "list_jobs", tag = "studies", security(("jwt" = []), ("token" = ["read"])), params(JobsQuery, PageQuery),
    responses((status = 200, body = Envelope<Vec<StudyOut>>)))]
async fn list_studies(
    State(state): State<AppState>,
    caller: Authed,
    page: Pagination,
    ApiQuery(q): ApiQuery<JobsQuery>,
) -> AppResult<Envelope<Vec<StudyOut>>> {
    let (rows, total) = studies::list(&state, &caller, q.status()?, page.0).await?;
    Ok(Envelope::page(rows.into_iter().map(study_out).collect(), page.meta(total)))
}

/// A study with its tasks and counts.
#[utoipa::path(get, path = "/api/jobs/{id}", operation_id = "get_job", tag = "studies", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Study id (`job_…`)")),
    responses((status = 200, body = Envelope<StudyOut>), (status = 404, description = "Absent or not visible to the caller")))]
async fn get_study(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<StudyId>,
) -> AppResult<Envelope<StudyOut>> {
    let (study, report, progress) = studies::view(&state, &caller, &id).await?;
    let mut out = study_out(study);
    out.report = report.map(report_out);
    out.progress = progress.map(|p| ProgressOut {
        pipeline: p.pipeline.into_iter().map(|(k, v)| (k.as_str().to_owned(), v)).collect(),
        abandoned: p.abandoned,
    });
    Ok(ok(out))
}

/// Change a draft (422 once launched). `tasks`, when given, replaces the list.
#[utoipa::path(patch, path = "/api/jobs/{id}", operation_id = "patch_job", tag = "studies", security(("jwt" = []), ("token" = ["write"])), request_body = StudyPatch,
    params(("id" = String, Path, description = "Study id")),
    responses((status = 200, body = Envelope<StudyOut>), (status = 404, description = "No such study of yours"), (status = 422, description = "Not a draft, or validation failed")))]
async fn patch_study(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<StudyId>,
    ApiJson(patch): ApiJson<StudyPatch>,
) -> AppResult<Envelope<StudyOut>> {
    Ok(ok(study_out(studies::patch(&state, &caller, &id, patch).await?)))
}

/// Launch a draft: it opens to matching testers.
#[utoipa::path(post, path = "/api/jobs/{id}/launch", operation_id = "launch_job", tag = "studies", security(("jwt" = []), ("token" = ["write"])),
    params(("id" = String, Path, description = "Study id")),
    responses((status = 200, body = Envelope<StudyOut>), (status = 422, description = "Not a draft, or payment not confirmed")))]
async fn launch_study(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<StudyId>,
) -> AppResult<Envelope<StudyOut>> {
    Ok(ok(study_out(studies::launch(&state, &caller, &id).await?)))
}

/// Close a study: no new sessions.
#[utoipa::path(post, path = "/api/jobs/{id}/close", operation_id = "close_job", tag = "studies", security(("jwt" = []), ("token" = ["write"])),
    params(("id" = String, Path, description = "Study id")),
    responses((status = 200, body = Envelope<StudyOut>), (status = 422, description = "A draft or already closed")))]
async fn close_study(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<StudyId>,
) -> AppResult<Envelope<StudyOut>> {
    Ok(ok(study_out(studies::close(&state, &caller, &id).await?)))
}

/// The tester's seat.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OfferOut {
    pub job_id: String,
    pub status: crate::domain::SeatStatus,
    /// The tester's anonymous label in this study.
    pub tester_label: Option<String>,
}

/// Accept an offer: needs a tester profile that matches the study and a free seat.
#[utoipa::path(post, path = "/api/jobs/{id}/accept", operation_id = "accept_job", tag = "studies", security(("jwt" = [])),
    params(("id" = String, Path, description = "Study id")),
    responses((status = 200, body = Envelope<OfferOut>), (status = 404, description = "Absent or not matching the tester"), (status = 422, description = "Full, not open, already accepted, or profile missing")))]
async fn accept_offer(
    State(state): State<AppState>,
    caller: UserJwt,
    Path(id): Path<StudyId>,
) -> AppResult<Envelope<OfferOut>> {
    let label_no = studies::accept(&state, &caller, &id).await?;
    Ok(ok(OfferOut {
        job_id: id.into(),
        status: crate::domain::SeatStatus::Accepted,
        tester_label: Some(format!("Tester {label_no}")),
    }))
}

/// Decline an offer (also gives back an accepted seat, until a session starts).
#[utoipa::path(post, path = "/api/jobs/{id}/decline", operation_id = "decline_job", tag = "studies", security(("jwt" = [])),
    params(("id" = String, Path, description = "Study id")),
    responses((status = 200, body = Envelope<OfferOut>), (status = 404, description = "Absent or not visible"), (status = 422, description = "A session already started")))]
async fn decline_offer(
    State(state): State<AppState>,
    caller: UserJwt,
    Path(id): Path<StudyId>,
) -> AppResult<Envelope<OfferOut>> {
    studies::decline(&state, &caller, &id).await?;
    Ok(ok(OfferOut { job_id: id.into(), status: crate::domain::SeatStatus::Declined, tester_label: None }))
}

/// The study's sessions, testers shown only by label and ND categories.
#[utoipa::path(get, path = "/api/jobs/{id}/sessions", operation_id = "job_sessions", tag = "studies", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Study id"), PageQuery),
    responses((status = 200, body = Envelope<Vec<SessionOut>>), (status = 404, description = "No such study of yours")))]
async fn study_sessions(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<StudyId>,
    page: Pagination,
) -> AppResult<Envelope<Vec<SessionOut>>> {
    let (rows, total) = sessions::list_of_study(&state, &caller, &id, page.0).await?;
    let now = state.now();
    let out = rows.into_iter().map(|s| session_out(s, caller.role, &caller.user_id, now)).collect();
    Ok(Envelope::page(out, page.meta(total)))
}
