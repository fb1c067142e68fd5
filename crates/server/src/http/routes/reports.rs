//! Agents 3 and 4 over HTTP: request session and study reports, read them.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::QueueStatus;
use crate::domain::ids::{SessionId, StudyId};
use crate::error::{AppError, AppResult};
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::{ApiJson, Authed};
use crate::http::state::AppState;
use crate::services::reports;
use crate::store::ReportRow;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_session_report))
        .routes(routes!(get_report))
        .routes(routes!(session_report))
        .routes(routes!(create_study_report, study_report))
        .routes(routes!(study_findings))
}

/// Request body of Agent 3.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportIn {
    pub session_id: String,
}

/// An accepted report request.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportQueuedOut {
    pub analysis_job_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    pub status: QueueStatus,
    pub estimated_completion_seconds: u32,
}

/// A report: `{reportId, kind, sessionId?, jobId, score, band, findings[], tasks[], sus, nps,
/// ndStratification[], abTest?, summary, sessions, testers, createdAt}` (formulas: analysis.md).
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct ReportOut(pub serde_json::Value);

/// A merged, confirmed finding of a study report.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct StudyFindingOut(pub serde_json::Value);

fn report_body(r: ReportRow) -> AppResult<ReportOut> {
    serde_json::from_str(&r.data).map(ReportOut).map_err(AppError::internal)
}

/// Agent 3: write the report of a confirmed session (asynchronous). The confirmation already
/// queues it (api.md §11): while that item is pending this returns it; afterwards, a re-run.
#[utoipa::path(post, path = "/api/reports", tag = "reports", security(("jwt" = []), ("token" = ["write"])), request_body = ReportIn,
    responses((status = 200, body = Envelope<ReportQueuedOut>), (status = 422, description = "Session not confirmed")))]
async fn create_session_report(
    State(state): State<AppState>,
    caller: Authed,
    ApiJson(b): ApiJson<ReportIn>,
) -> AppResult<Envelope<ReportQueuedOut>> {
    let job =
        reports::request_session_report(&state, &caller, &SessionId::from(b.session_id.as_str())).await?;
    Ok(ok(ReportQueuedOut {
        analysis_job_id: job.id.into(),
        session_id: Some(b.session_id),
        job_id: None,
        status: job.status,
        estimated_completion_seconds: 5,
    }))
}

/// A report: `{reportId, kind, score, band, findings[], tasks[], sus, nps, ndStratification[], abTest?, summary}`.
#[utoipa::path(get, path = "/api/reports/{id}", tag = "reports", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Report id (`rep_…`)")),
    responses((status = 200, body = Envelope<ReportOut>), (status = 404, description = "Absent or another organization's")))]
async fn get_report(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<String>,
) -> AppResult<Envelope<ReportOut>> {
    Ok(ok(report_body(reports::get(&state, &caller, &id).await?)?))
}

/// The latest report of a session.
#[utoipa::path(get, path = "/api/sessions/{id}/report", tag = "reports", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = Envelope<ReportOut>), (status = 404, description = "No report yet")))]
async fn session_report(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<SessionId>,
) -> AppResult<Envelope<ReportOut>> {
    Ok(ok(report_body(reports::for_session(&state, &caller, &id).await?)?))
}

/// Agent 4: synthesise the study's confirmed sessions (asynchronous). It is queued by itself
/// once the study is completed or closed (api.md §11); while that item is pending this returns
/// it; afterwards, a re-run.
#[utoipa::path(post, path = "/api/reports/job/{id}", tag = "reports", security(("jwt" = []), ("token" = ["write"])),
    params(("id" = String, Path, description = "Study id")),
    responses((status = 200, body = Envelope<ReportQueuedOut>), (status = 422, description = "No confirmed session")))]
async fn create_study_report(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<StudyId>,
) -> AppResult<Envelope<ReportQueuedOut>> {
    let job = reports::request_study_report(&state, &caller, &id).await?;
    Ok(ok(ReportQueuedOut {
        analysis_job_id: job.id.into(),
        session_id: None,
        job_id: Some(id.into()),
        status: job.status,
        estimated_completion_seconds: 10,
    }))
}

/// The latest study report.
#[utoipa::path(get, path = "/api/reports/job/{id}", tag = "reports", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Study id")),
    responses((status = 200, body = Envelope<ReportOut>), (status = 404, description = "No report yet")))]
async fn study_report(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<StudyId>,
) -> AppResult<Envelope<ReportOut>> {
    Ok(ok(report_body(reports::for_study(&state, &caller, &id).await?)?))
}

/// The study's findings: confirmed findings merged across sessions, from the latest study
/// report (empty until one is written).
#[utoipa::path(get, path = "/api/jobs/{id}/findings", tag = "reports", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Study id")),
    responses((status = 200, body = Envelope<Vec<StudyFindingOut>>)))]
async fn study_findings(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<StudyId>,
) -> AppResult<Envelope<Vec<StudyFindingOut>>> {
    let findings =
        reports::study_findings(&state, &caller, &id).await?.into_iter().map(StudyFindingOut).collect();
    Ok(ok(findings))
}
