//! Agent 2 over HTTP: request an analysis, follow its job, read findings and analytics, and
//! let the tester confirm or reject each finding.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::ids::{QueueItemId, SessionId};
use crate::domain::{Decision, QueueKind, QueueStatus, SessionStatus, format_ms};
use crate::error::{AppError, AppResult};
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::{ApiJson, Authed, UserJwt};
use crate::http::state::AppState;
use crate::services::pipeline::{self, ConfirmIn};
use crate::services::queue;
use crate::store::QueueItem;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(analyze))
        .routes(routes!(analysis_job))
        .routes(routes!(findings))
        .routes(routes!(analytics))
        .routes(routes!(confirm))
        .routes(routes!(realtime))
}

/// Agent 1 request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AiIn {
    pub session_id: String,
    /// Streams to analyse: any of `events`, `facial`, `voice` (default: all; only consented
    /// streams are ever stored).
    pub include_signals: Option<Vec<String>>,
    /// RFC 3339; only data up to this time (default now).
    pub snapshot_at: Option<String>,
}

/// Agent 1: real-time insights of an active or paused session (asynchronous; the result is
/// attached to the session as `analysis`).
#[utoipa::path(post, path = "/api/ai", tag = "analysis", security(("jwt" = []), ("token" = ["write"])), request_body = AiIn,
    responses((status = 200, body = Envelope<QueuedOut>), (status = 422, description = "Session not active or paused")))]
async fn realtime(
    State(state): State<AppState>,
    caller: Authed,
    ApiJson(b): ApiJson<AiIn>,
) -> AppResult<Envelope<QueuedOut>> {
    let job = pipeline::request_snapshot(
        &state,
        &caller,
        &SessionId::from(b.session_id.as_str()),
        b.include_signals,
        b.snapshot_at.as_deref(),
    )
    .await?;
    Ok(ok(QueuedOut {
        analysis_job_id: job.id.into(),
        session_id: b.session_id,
        status: job.status,
        estimated_completion_seconds: 2,
    }))
}

/// An accepted request for an asynchronous agent run.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueuedOut {
    pub analysis_job_id: String,
    pub session_id: String,
    /// `queued` or `running` (an earlier request's job, when one is still pending).
    pub status: QueueStatus,
    pub estimated_completion_seconds: u32,
}

/// A durable analysis job.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisJobOut {
    pub analysis_job_id: String,
    pub kind: QueueKind,
    /// `queued`, `running`, `complete`, `failed`.
    pub status: QueueStatus,
    pub attempts: i64,
    pub error: Option<String>,
    /// What the job produced (the analysed session's id, or the report's).
    pub result_ref: Option<String>,
    /// The result once complete: Agent 1 and 2 `{analysisJobId, status, snapshotAt, insights}`,
    /// Agents 3 and 4 `{reportId}`.
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    pub created_at: String,
    pub updated_at: String,
}

fn job_out(j: QueueItem) -> AnalysisJobOut {
    AnalysisJobOut {
        analysis_job_id: j.id.into(),
        kind: j.kind,
        status: j.status,
        attempts: j.attempts,
        // Failure causes are internal; clients learn that it failed and how often it was tried.
        error: j.error.map(|_| "Analysis failed".to_owned()),
        result: j.result.as_deref().and_then(|r| serde_json::from_str(r).ok()),
        result_ref: j.result_ref,
        created_at: format_ms(j.created_at),
        updated_at: format_ms(j.updated_at),
    }
}

/// Run Agent 2 on a completed session: candidate findings (awaiting the tester's
/// confirmation) and analytics. Asynchronous: poll `GET /api/analysis-jobs/:id`. Completion
/// already queues it (api.md §11): while that item is pending this returns it; afterwards a
/// request is a re-run.
#[utoipa::path(post, path = "/api/sessions/{id}/analyze", tag = "analysis", security(("jwt" = []), ("token" = ["write"])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = Envelope<QueuedOut>), (status = 422, description = "Session not completed")))]
async fn analyze(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<SessionId>,
) -> AppResult<Envelope<QueuedOut>> {
    let job = pipeline::request_analysis(&state, &caller, &id).await?;
    Ok(ok(QueuedOut {
        analysis_job_id: job.id.into(),
        session_id: id.into(),
        status: job.status,
        estimated_completion_seconds: 5,
    }))
}

/// An analysis job's state.
#[utoipa::path(get, path = "/api/analysis-jobs/{id}", tag = "analysis", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Job id (`ajob_…`)")),
    responses((status = 200, body = Envelope<AnalysisJobOut>), (status = 404, description = "Absent or not visible")))]
async fn analysis_job(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<QueueItemId>,
) -> AppResult<Envelope<AnalysisJobOut>> {
    Ok(ok(job_out(queue::get(&state, &caller, &id).await?)))
}

/// A finding with the tester's decision.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FindingOut {
    /// The finding: findingId, title, severity, wcag, evidence, recommendation, …
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub finding: serde_json::Value,
    /// `confirm`, `reject`, or null while undecided.
    pub decision: Option<Decision>,
    pub comment: Option<String>,
    pub decided_at: Option<String>,
}

/// The session's findings (candidates until the tester decides).
#[utoipa::path(get, path = "/api/sessions/{id}/findings", tag = "analysis", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = Envelope<Vec<FindingOut>>)))]
async fn findings(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<SessionId>,
) -> AppResult<Envelope<Vec<FindingOut>>> {
    let out = pipeline::findings(&state, &caller, &id)
        .await?
        .into_iter()
        .map(|r| {
            Ok(FindingOut {
                finding: serde_json::from_str(&r.data).map_err(AppError::internal)?,
                decision: r.decision,
                comment: r.comment,
                decided_at: r.decided_at.map(format_ms),
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(ok(out))
}

/// Sub-scores 0–100, higher is better (null for a stream that was not recorded), and the
/// tester's own pace the hesitation thresholds came from (absent from analyses made before it).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AnalyticsOut {
    pub overall: f64,
    pub emotion: Option<f64>,
    pub interaction: f64,
    pub voice: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineOut>,
}

/// Each tester's own pace (analysis.md §1.1): hesitation counted beyond
/// `clamp(median + 4 × 1.4826 × MAD, 5 s, 30 s)` of the session's own gaps with at least 20
/// of them (else 8 s), a hover beyond `clamp(3 × median hover, 3 s, 15 s)` with at least 10
/// hovered clicks (else 3 s), and a page's first pause allowed `wordCount / readingWpm`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BaselineOut {
    /// Clicks, inputs, scrolls and navigations.
    pub actions: u64,
    /// Gaps between them measured (page focused, not a page's first).
    pub gaps: u64,
    pub median_gap_ms: Option<f64>,
    pub mad_gap_ms: Option<f64>,
    pub gap_threshold_ms: f64,
    pub hover_threshold_ms: f64,
    pub reading_wpm: f64,
    /// Whether each threshold is the tester's own (else the default or the study's).
    pub personal_gap: bool,
    pub personal_hover: bool,
    pub personal_reading: bool,
    /// The plain sentence of the session report's technical section.
    #[serde(default)]
    pub sentence: String,
}

/// The session's analytics from its latest analysis.
#[utoipa::path(get, path = "/api/sessions/{id}/analytics", tag = "analysis", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = Envelope<AnalyticsOut>), (status = 422, description = "Not analysed yet")))]
async fn analytics(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<SessionId>,
) -> AppResult<Envelope<AnalyticsOut>> {
    let analytics = pipeline::analytics(&state, &caller, &id).await?;
    let out = serde_json::from_value(analytics).map_err(AppError::internal)?;
    Ok(ok(out))
}

/// One decision.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmOut {
    pub session_id: String,
    /// `confirmed` once every finding is decided, else `analyzed`.
    pub status: crate::domain::SessionStatus,
}

/// The tester confirms or rejects findings; when every finding is decided the session is
/// `confirmed`. Rejected findings never reach a report.
#[utoipa::path(post, path = "/api/sessions/{id}/confirm", tag = "analysis", security(("jwt" = [])), request_body = ConfirmIn,
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = Envelope<ConfirmOut>), (status = 403, description = "Not the session's tester"), (status = 422, description = "Not analyzed, unknown finding, or invalid decision")))]
async fn confirm(
    State(state): State<AppState>,
    caller: UserJwt,
    Path(id): Path<SessionId>,
    ApiJson(b): ApiJson<ConfirmIn>,
) -> AppResult<Envelope<ConfirmOut>> {
    let confirmed = pipeline::confirm(&state, &caller, &id, b).await?;
    Ok(ok(ConfirmOut {
        session_id: id.into(),
        status: if confirmed { SessionStatus::Confirmed } else { SessionStatus::Analyzed },
    }))
}
