//! The study report's researcher tools over HTTP (issue #26): exclude a session from the
//! synthesis with a reason, a segment of the report, the report's tables as CSV, and
//! revocable read-only share links.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Uri, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::ids::{SessionId, StudyId};
use crate::domain::{SegmentStatus, format_ms};
use crate::error::{AppError, AppResult};
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::{ApiJson, Authed};
use crate::http::state::AppState;
use crate::services::research::{self, CsvTable, ReportFilter, Segment, ShareOut};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(exclude_session, include_session))
        .routes(routes!(report_segment))
        .routes(routes!(report_csv))
        .routes(routes!(create_share, list_shares))
        .routes(routes!(revoke_share))
}

/// Why a session is left out of the synthesis.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExclusionIn {
    /// 1 to 500 characters; kept and shown in the study report.
    #[schema(max_length = 500)]
    pub reason: String,
}

/// A session's place in the synthesis.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExclusionOut {
    pub session_id: String,
    pub excluded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded_at: Option<String>,
}

fn exclusion_out(s: crate::store::Session) -> ExclusionOut {
    ExclusionOut {
        session_id: s.id.into(),
        excluded: s.excluded_reason.is_some(),
        reason: s.excluded_reason,
        excluded_at: s.excluded_at.map(format_ms),
    }
}

/// Leave a session out of the study's synthesis, keeping the reason; the study report is
/// queued again and lists what was excluded (`excludedSessions`).
#[utoipa::path(put, path = "/api/sessions/{id}/exclusion", tag = "reports", security(("jwt" = []), ("token" = ["write"])),
    params(("id" = String, Path, description = "Session id")), request_body = ExclusionIn,
    responses((status = 200, body = Envelope<ExclusionOut>), (status = 403, description = "Testers cannot"), (status = 404, description = "No such session of yours"), (status = 422, description = "Reason missing or too long")))]
async fn exclude_session(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<SessionId>,
    ApiJson(b): ApiJson<ExclusionIn>,
) -> AppResult<Envelope<ExclusionOut>> {
    let s = research::set_exclusion(&state, &caller, &id, Some(&b.reason)).await?;
    Ok(ok(exclusion_out(s)))
}

/// Take an excluded session into the synthesis again (the study report is queued again).
#[utoipa::path(delete, path = "/api/sessions/{id}/exclusion", tag = "reports", security(("jwt" = []), ("token" = ["write"])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = Envelope<ExclusionOut>), (status = 404, description = "No such session of yours")))]
async fn include_session(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<SessionId>,
) -> AppResult<Envelope<ExclusionOut>> {
    let s = research::set_exclusion(&state, &caller, &id, None).await?;
    Ok(ok(exclusion_out(s)))
}

/// Parses a query string into a serde struct; a malformed one is a 400 in the envelope.
pub fn parse_query<T: serde::de::DeserializeOwned>(uri: &Uri) -> AppResult<T> {
    serde_urlencoded::from_str(uri.query().unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("Query string: {e}")))
}

/// A segment of the study report.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SegmentOut {
    pub status: SegmentStatus,
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<serde_json::Value>,
}

/// The study report synthesised live from a segment of its confirmed, not excluded sessions:
/// `?nd=<category>&variant=<label>&outcome=success|indirect|fail|abandon`.
#[utoipa::path(get, path = "/api/reports/job/{id}/segment", tag = "reports", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Study id"),
        ("nd" = Option<String>, Query, description = "ND category"), ("variant" = Option<String>, Query, description = "A/B variant"),
        ("outcome" = Option<String>, Query, description = "Sessions with an attempt of this outcome")),
    responses((status = 200, body = Envelope<SegmentOut>), (status = 404, description = "No such study of yours"), (status = 422, description = "An unknown outcome, or a variant label over 40 characters")))]
async fn report_segment(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<StudyId>,
    uri: Uri,
) -> AppResult<Envelope<SegmentOut>> {
    let filter: ReportFilter = parse_query(&uri)?;
    let out = match research::segment(&state, &caller, &id, &filter).await? {
        Segment::Report(r, _) => SegmentOut {
            status: SegmentStatus::Report,
            report: Some(serde_json::to_value(&*r).map_err(AppError::internal)?),
        },
        Segment::Empty => SegmentOut { status: SegmentStatus::Empty, report: None },
        Segment::Suppressed => SegmentOut { status: SegmentStatus::Suppressed, report: None },
    };
    Ok(ok(out))
}

#[derive(Debug, Deserialize)]
struct CsvQuery {
    table: Option<CsvTable>,
}

/// The CSV of one table of a study report (findings, or tasks).
pub async fn csv_response(
    state: &AppState,
    caller: &crate::auth::principal::Principal,
    id: &StudyId,
    uri: &Uri,
) -> AppResult<Response> {
    let q: CsvQuery = parse_query(uri)?;
    let table = q.table.unwrap_or(CsvTable::Findings);
    let Some((row, report)) = research::latest_report(state, caller, id).await? else {
        return Err(AppError::not_found("Report"));
    };
    let name = match table {
        CsvTable::Findings => "findings",
        CsvTable::Tasks => "tasks",
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}-{name}.csv\"", row.study_id)),
        ],
        Body::from(research::report_csv(&report, table)),
    )
        .into_response())
}

/// The newest study report's findings or tasks as CSV (`?table=findings|tasks`).
#[utoipa::path(get, path = "/api/reports/job/{id}/csv", tag = "reports", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Study id"), ("table" = Option<String>, Query, description = "`findings` (default) or `tasks`")),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, description = "No report yet, or no such study of yours")))]
async fn report_csv(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<StudyId>,
    uri: Uri,
) -> AppResult<Response> {
    csv_response(&state, &caller, &id, &uri).await
}

/// A new share link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShareIn {
    /// 1 to 90 days; default 14.
    #[schema(minimum = 1, maximum = 90)]
    pub expires_in_days: Option<i64>,
}

/// Create a read-only link to the study's report for someone without an account: the token is
/// returned once (stored hashed); the page `/app/share/<token>` shows the report without any
/// tester's personal data, and answers 404 once revoked or expired.
#[utoipa::path(post, path = "/api/jobs/{id}/shares", tag = "reports", security(("jwt" = []), ("token" = ["write"])),
    params(("id" = String, Path, description = "Study id")), request_body = ShareIn,
    responses((status = 200, body = Envelope<ShareOut>), (status = 404, description = "No such study of yours"), (status = 422, description = "Expiry out of range")))]
async fn create_share(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<StudyId>,
    ApiJson(b): ApiJson<ShareIn>,
) -> AppResult<Envelope<ShareOut>> {
    Ok(ok(research::create_share(&state, &caller, &id, b.expires_in_days.unwrap_or(14)).await?))
}

/// The study's share links, newest first (without their tokens).
#[utoipa::path(get, path = "/api/jobs/{id}/shares", tag = "reports", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Study id")),
    responses((status = 200, body = Envelope<Vec<ShareOut>>), (status = 404, description = "No such study of yours")))]
async fn list_shares(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<StudyId>,
) -> AppResult<Envelope<Vec<ShareOut>>> {
    Ok(ok(research::list_shares(&state, &caller, &id).await?))
}

/// Revoke a share link at once.
#[utoipa::path(delete, path = "/api/jobs/{id}/shares/{share_id}", tag = "reports", security(("jwt" = []), ("token" = ["write"])),
    params(("id" = String, Path, description = "Study id"), ("share_id" = String, Path, description = "Share id (`shr_…`)")),
    responses((status = 200, body = Envelope<serde_json::Value>, description = "`data` is null"), (status = 404, description = "No such link")))]
async fn revoke_share(
    State(state): State<AppState>,
    caller: Authed,
    Path((id, share_id)): Path<(StudyId, String)>,
) -> AppResult<Envelope<()>> {
    research::revoke_share(&state, &caller, &id, &share_id).await?;
    Ok(Envelope { success: true, data: None, error: None, metadata: None })
}
