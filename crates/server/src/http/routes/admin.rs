//! `/api/admin/*`: operator actions; every change is written to the audit log in its transaction.

use axum::extract::{Path, State};
use garde::Validate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::OrganizationOut;
use crate::domain::ids::{OrgId, UserId};
use crate::domain::{Plan, format_ms};
use crate::error::{AppError, AppResult};
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::pagination::PageQuery;
use crate::http::extract::query::ApiQuery;
use crate::http::extract::{Admin, ApiJson, Pagination, RequestId, ValidatedJson};
use crate::http::state::AppState;
use crate::services::{accounts, governance};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(patch_organization))
        .routes(routes!(audit_log))
        .routes(routes!(get_quiz, publish_quiz))
        .routes(routes!(list_testers))
        .routes(routes!(patch_tester))
}

pub use crate::services::governance::{QuizIn, QuizQuestion};

/// A quiz version as admins see it (with the answers).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuizOut {
    pub quiz_id: String,
    pub version: i64,
    pub passing_score: i64,
    pub questions: Vec<QuizQuestion>,
    pub updated_at: String,
}

/// Maps a quiz (with answers unless they were cleared for a tester).
pub fn quiz_out(q: governance::Quiz) -> QuizOut {
    QuizOut {
        quiz_id: q.quiz_id,
        version: q.version,
        passing_score: q.passing_score,
        questions: q.questions,
        updated_at: format_ms(q.updated_at),
    }
}

/// The active capacity quiz with its correct answers.
#[utoipa::path(get, path = "/api/admin/quiz", tag = "admin", security(("jwt" = []), ("token" = ["admin"])),
    responses((status = 200, body = Envelope<QuizOut>)))]
async fn get_quiz(State(state): State<AppState>, _admin: Admin) -> AppResult<Envelope<QuizOut>> {
    Ok(ok(quiz_out(governance::admin_quiz(&state).await?)))
}

/// Publish a new quiz version: active at once for every later attempt; older versions are kept
/// for the attempts that used them. Audited.
#[utoipa::path(post, path = "/api/admin/quiz", tag = "admin", security(("jwt" = []), ("token" = ["admin"])), request_body = QuizIn,
    responses((status = 200, body = Envelope<QuizOut>)))]
async fn publish_quiz(
    State(state): State<AppState>,
    admin: Admin,
    RequestId(request_id): RequestId,
    ApiJson(b): ApiJson<QuizIn>,
) -> AppResult<Envelope<QuizOut>> {
    Ok(ok(quiz_out(governance::publish_quiz(&state, &admin, b, request_id).await?)))
}

/// A tester as admins see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TesterOut {
    pub tester_id: String,
    pub email: String,
    pub display_name: String,
    pub country: Option<String>,
    pub status: crate::domain::UserStatus,
    pub nd_categories: Vec<String>,
    pub capacity_verified: bool,
    pub consent_version: Option<String>,
    pub completed_sessions: i64,
    /// Not collected yet: always null.
    pub avg_rating: Option<f64>,
    pub joined_at: String,
}

/// Filters of the tester list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct TestersQuery {
    /// `active`, `suspended`, `pending`.
    #[param(pattern = "^(active|suspended|pending)$")]
    pub status: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// An ND category (`adhd`, `autism`, …).
    pub nd_category: Option<String>,
    /// Minimum completed sessions.
    #[param(value_type = Option<i64>, minimum = 0)]
    pub min_sessions: Option<String>,
}

impl TestersQuery {
    /// The service's query; an unknown status or a negative count is a 400.
    fn query(self) -> AppResult<governance::TesterQuery> {
        let status = self
            .status
            .map(|v| {
                crate::domain::UserStatus::parse(&v).ok_or_else(|| {
                    AppError::BadRequest(format!("status: must be active, suspended or pending, got {v:?}"))
                })
            })
            .transpose()?;
        let min_sessions = self
            .min_sessions
            .map(|v| {
                v.parse().ok().filter(|n: &i64| *n >= 0).ok_or_else(|| {
                    AppError::BadRequest(format!("minSessions: must be a whole number ≥ 0, got {v:?}"))
                })
            })
            .transpose()?;
        Ok(governance::TesterQuery {
            status,
            country: self.country,
            nd_category: self.nd_category,
            min_sessions,
        })
    }
}

/// Registered testers, newest first.
#[utoipa::path(get, path = "/api/admin/testers", tag = "admin", security(("jwt" = []), ("token" = ["admin"])), params(TestersQuery, PageQuery),
    responses((status = 200, body = Envelope<Vec<TesterOut>>)))]
async fn list_testers(
    State(state): State<AppState>,
    _admin: Admin,
    page: Pagination,
    ApiQuery(q): ApiQuery<TestersQuery>,
) -> AppResult<Envelope<Vec<TesterOut>>> {
    let q = q.query()?;
    let (rows, total) = governance::list_testers(&state, &q, page.0).await?;
    let out = rows
        .into_iter()
        .map(|t| TesterOut {
            country: t.profile.as_ref().and_then(|p| p.country.clone()),
            nd_categories: t.profile.map(|p| p.nd_categories).unwrap_or_default(),
            tester_id: t.user_id.into(),
            email: t.email,
            display_name: t.full_name,
            status: t.status,
            capacity_verified: t.capacity_verified,
            consent_version: t.consent_version,
            completed_sessions: t.completed_sessions,
            avg_rating: None,
            joined_at: format_ms(t.joined_at),
        })
        .collect();
    Ok(Envelope::page(out, page.meta(total)))
}

/// A tester's new status.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TesterPatch {
    /// `active`, `suspended` or `pending`.
    pub status: String,
}

/// The status change.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TesterStatusOut {
    pub tester_id: String,
    pub status: crate::domain::UserStatus,
    pub previous_status: crate::domain::UserStatus,
}

/// Set a tester's status: a suspended tester loses open offers (running sessions are kept) and
/// gets no new ones. Audited with before/after and the request id.
#[utoipa::path(patch, path = "/api/admin/testers/{id}", tag = "admin", security(("jwt" = []), ("token" = ["admin"])), request_body = TesterPatch,
    params(("id" = String, Path, description = "Tester id (`user_…`)")),
    responses((status = 200, body = Envelope<TesterStatusOut>)))]
async fn patch_tester(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<UserId>,
    RequestId(request_id): RequestId,
    ApiJson(b): ApiJson<TesterPatch>,
) -> AppResult<Envelope<TesterStatusOut>> {
    let status = governance::tester_status(&b.status)?;
    let before = governance::set_tester_status(&state, &admin, &id, status, request_id).await?;
    Ok(ok(TesterStatusOut { tester_id: id.into(), status, previous_status: before }))
}

/// Plan change.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationPatch {
    /// `free` or `pro`; changes the members' rate-limit tier on their next request.
    #[garde(skip)]
    pub plan: Plan,
}

/// One audit-log entry.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditOut {
    pub audit_entry_id: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub details: serde_json::Value,
    pub created_at: String,
    /// The request that made the change.
    pub request_id: Option<String>,
}

/// Change an organization's plan.
#[utoipa::path(patch, path = "/api/admin/organizations/{id}", tag = "admin", security(("jwt" = []), ("token" = ["admin"])),
    params(("id" = String, Path, description = "Organization id (`org_…`)")), request_body = OrganizationPatch,
    responses((status = 200, body = Envelope<OrganizationOut>), (status = 403, description = "Not an admin"), (status = 404, description = "No such organization")))]
async fn patch_organization(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<OrgId>,
    RequestId(request_id): RequestId,
    ValidatedJson(b): ValidatedJson<OrganizationPatch>,
) -> AppResult<Envelope<OrganizationOut>> {
    Ok(ok(accounts::set_plan(&state, &admin, &id, b.plan, request_id).await?.into()))
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/admin/audit-log", tag = "admin", security(("jwt" = []), ("token" = ["admin"])), params(PageQuery),
    responses((status = 200, body = Envelope<Vec<AuditOut>>)))]
async fn audit_log(
    State(state): State<AppState>,
    _admin: Admin,
    page: Pagination,
) -> AppResult<Envelope<Vec<AuditOut>>> {
    let (rows, total) = accounts::audit_log(&state, page.0).await?;
    let out = rows
        .into_iter()
        .map(|a| AuditOut {
            details: serde_json::from_str(&a.details).unwrap_or(serde_json::Value::Null),
            audit_entry_id: a.id,
            actor_id: a.actor_id.map(String::from),
            action: a.action,
            target_type: a.target_type,
            target_id: a.target_id,
            created_at: format_ms(a.created_at),
            request_id: a.request_id,
        })
        .collect();
    Ok(Envelope::page(out, page.meta(total)))
}
