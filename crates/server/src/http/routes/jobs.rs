//! `/api/jobs`: studies — create (draft), list, get, patch (drafts), launch, close, accept, decline.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::sessions::{SessionOut, session_out};
use crate::domain::ids::{new_id, prefix};
use crate::domain::{Role, format_ms};
use crate::envelope::{Envelope, ok};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::pagination::{PageQuery, form_pairs};
use crate::http::extract::{ApiJson, Authed, Pagination, UserJwt};
use crate::services::studies::{self, StudyIn, StudyPatch, onboarding_gate, payment_gate};
use crate::state::AppState;
use crate::store::{AcceptOutcome, Guarded, JobScope, SessionScope, Study, StudyScope};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_job, list_jobs))
        .routes(routes!(get_job, patch_job))
        .routes(routes!(launch_job))
        .routes(routes!(close_job))
        .routes(routes!(accept_job))
        .routes(routes!(decline_job))
        .routes(routes!(job_sessions))
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
    pub id: String,
    pub organization_id: String,
    /// `draft`, `open`, `in_progress`, `completed`, `closed`.
    pub status: String,
    #[serde(flatten)]
    pub definition: StudyIn,
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
}

/// Parses the stored definition back.
pub fn definition_of(s: &Study) -> ApiResult<StudyIn> {
    serde_json::from_str(&s.definition).map_err(ApiError::internal)
}

fn study_out(s: Study) -> ApiResult<StudyOut> {
    let mut definition = definition_of(&s)?;
    definition.tasks.clear();
    Ok(StudyOut {
        definition,
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
        id: s.id,
        organization_id: s.organization_id,
        status: s.status,
        sessions_total: s.sessions_total,
        sessions_confirmed: s.sessions_confirmed,
        seats_taken: s.seats_taken,
        created_at: format_ms(s.created_at),
        updated_at: format_ms(s.updated_at),
        launched_at: s.launched_at.map(format_ms),
        closed_at: s.closed_at.map(format_ms),
        report: None,
    })
}

fn business_org(p: &crate::auth::principal::Principal) -> ApiResult<String> {
    match p.role {
        Role::Business => {
            p.organization_id.clone().ok_or_else(|| ApiError::Forbidden("No organization".into()))
        }
        _ => Err(ApiError::Forbidden("Only business accounts may do this".into())),
    }
}

/// The organization filter for business members; `None` for admins.
fn org_filter(p: &crate::auth::principal::Principal) -> ApiResult<Option<String>> {
    match p.role {
        Role::Admin => Ok(None),
        Role::Business => business_org(p).map(Some),
        Role::Tester => Err(ApiError::Forbidden("Only business accounts and admins may do this".into())),
    }
}

fn guarded(g: Guarded<Study>, action: &str) -> ApiResult<Envelope<StudyOut>> {
    match g {
        Guarded::Done(s) => Ok(ok(study_out(s)?)),
        Guarded::NotFound => Err(ApiError::not_found("Study")),
        Guarded::WrongState(state) => {
            Err(ApiError::Unprocessable(format!("Cannot {action} a study that is {state}")))
        }
    }
}

/// Create a study as a draft (business accounts, JWT or a token with `write`).
#[utoipa::path(post, path = "/api/jobs", tag = "studies", security(("jwt" = []), ("token" = ["write"])), request_body = StudyIn,
    responses((status = 200, body = Envelope<StudyOut>), (status = 403, description = "Not a business account"), (status = 422, description = "Validation failed")))]
async fn create_job(
    State(state): State<AppState>,
    caller: Authed,
    ApiJson(body): ApiJson<StudyIn>,
) -> ApiResult<Envelope<StudyOut>> {
    let org = business_org(&caller)?;
    body.validate()?;
    let now = state.now();
    let write = body.to_write(now)?;
    let study =
        state.store.create_study(&new_id(prefix::JOB, now), &org, &caller.user_id, write, now).await?;
    Ok(ok(study_out(study)?))
}

/// Filters of the study list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// `draft`, `open`, `in_progress`, `completed` or `closed`.
    pub status: Option<String>,
}

const STUDY_STATUSES: [&str; 5] = ["draft", "open", "in_progress", "completed", "closed"];

fn status_filter(query: Option<&str>, allowed: &[&str]) -> ApiResult<Option<String>> {
    match form_pairs(query.unwrap_or("")).into_iter().find(|(k, _)| k == "status") {
        Some((_, v)) if allowed.contains(&v.as_str()) => Ok(Some(v)),
        Some((_, v)) => {
            Err(ApiError::BadRequest(format!("status: must be one of {}, got {v:?}", allowed.join(", "))))
        }
        None => Ok(None),
    }
}

/// Studies the caller may see, newest first: a business its organization's, a tester the open
/// studies matching their profile (and those they accepted), an admin all.
#[utoipa::path(get, path = "/api/jobs", tag = "studies", security(("jwt" = []), ("token" = ["read"])), params(JobsQuery, PageQuery),
    responses((status = 200, body = Envelope<Vec<StudyOut>>)))]
async fn list_jobs(
    State(state): State<AppState>,
    caller: Authed,
    page: Pagination,
    uri: axum::http::Uri,
) -> ApiResult<Envelope<Vec<StudyOut>>> {
    let status = status_filter(uri.query(), &STUDY_STATUSES)?;
    let scope = studies::scope_for(&state, &caller).await?;
    let (rows, total) = state.store.list_studies(&scope, status.as_deref(), page.0).await?;
    let out = rows.into_iter().map(study_out).collect::<ApiResult<Vec<_>>>()?;
    Ok(Envelope::page(out, page.meta(total)))
}

/// A study with its tasks and counts.
#[utoipa::path(get, path = "/api/jobs/{id}", tag = "studies", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Study id (`job_…`)")),
    responses((status = 200, body = Envelope<StudyOut>), (status = 404, description = "Absent or not visible to the caller")))]
async fn get_job(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<String>,
) -> ApiResult<Envelope<StudyOut>> {
    let scope = studies::scope_for(&state, &caller).await?;
    let study = state.store.get_study(&scope, &id).await?.ok_or_else(|| ApiError::not_found("Study"))?;
    let report_scope = match &scope {
        StudyScope::Organization(o) => Some(JobScope::Organization(o.clone())),
        StudyScope::All => Some(JobScope::All),
        StudyScope::Tester { .. } => None,
    };
    let report = match report_scope {
        Some(rs) => state.store.latest_report(&rs, &id).await?,
        None => None,
    };
    let mut out = study_out(study)?;
    out.report = report.and_then(|r| {
        let data: serde_json::Value = serde_json::from_str(&r.data).ok()?;
        Some(serde_json::json!({"reportId": r.id, "score": data["score"], "band": data["band"], "createdAt": format_ms(r.created_at)}))
    });
    Ok(ok(out))
}

/// Change a draft (422 once launched). `tasks`, when given, replaces the list.
#[utoipa::path(patch, path = "/api/jobs/{id}", tag = "studies", security(("jwt" = []), ("token" = ["write"])), request_body = StudyPatch,
    params(("id" = String, Path, description = "Study id")),
    responses((status = 200, body = Envelope<StudyOut>), (status = 404, description = "No such study of yours"), (status = 422, description = "Not a draft, or validation failed")))]
async fn patch_job(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<StudyPatch>,
) -> ApiResult<Envelope<StudyOut>> {
    let org = org_filter(&caller)?;
    let scope = org.clone().map_or(StudyScope::All, StudyScope::Organization);
    let current = state.store.get_study(&scope, &id).await?.ok_or_else(|| ApiError::not_found("Study"))?;
    if current.status != "draft" {
        return Err(ApiError::Unprocessable(format!(
            "Only drafts can be changed; this study is {}",
            current.status
        )));
    }
    let mut definition = definition_of(&current)?;
    definition.tasks = current
        .tasks
        .iter()
        .map(|t| studies::TaskIn {
            title: t.title.clone(),
            description: t.description.clone(),
            success_criteria: t.success_criteria.clone(),
            order: t.order,
        })
        .collect();
    let next = definition.patched(patch);
    next.validate()?;
    let now = state.now();
    guarded(state.store.update_draft(org.as_deref(), &id, next.to_write(now)?, now).await?, "change")
}

/// Launch a draft: it opens to matching testers.
#[utoipa::path(post, path = "/api/jobs/{id}/launch", tag = "studies", security(("jwt" = []), ("token" = ["write"])),
    params(("id" = String, Path, description = "Study id")),
    responses((status = 200, body = Envelope<StudyOut>), (status = 422, description = "Not a draft, or payment not confirmed")))]
async fn launch_job(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<String>,
) -> ApiResult<Envelope<StudyOut>> {
    let org = business_org(&caller)?;
    payment_gate(&state, &id)?;
    guarded(state.store.set_study_status(Some(&org), &id, &["draft"], "open", state.now()).await?, "launch")
}

/// Close a study: no new sessions.
#[utoipa::path(post, path = "/api/jobs/{id}/close", tag = "studies", security(("jwt" = []), ("token" = ["write"])),
    params(("id" = String, Path, description = "Study id")),
    responses((status = 200, body = Envelope<StudyOut>), (status = 422, description = "A draft or already closed")))]
async fn close_job(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<String>,
) -> ApiResult<Envelope<StudyOut>> {
    let org = org_filter(&caller)?;
    let from = ["open", "in_progress", "completed"];
    guarded(state.store.set_study_status(org.as_deref(), &id, &from, "closed", state.now()).await?, "close")
}

/// The tester's seat.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OfferOut {
    pub job_id: String,
    /// `accepted` or `declined`.
    pub status: String,
    /// The tester's anonymous label in this study.
    pub tester_label: Option<String>,
}

fn tester_only(p: &crate::auth::principal::Principal) -> ApiResult<()> {
    if p.role == Role::Tester {
        Ok(())
    } else {
        Err(ApiError::Forbidden("Only testers may answer offers".into()))
    }
}

/// Accept an offer: needs a tester profile that matches the study and a free seat.
#[utoipa::path(post, path = "/api/jobs/{id}/accept", tag = "studies", security(("jwt" = [])),
    params(("id" = String, Path, description = "Study id")),
    responses((status = 200, body = Envelope<OfferOut>), (status = 404, description = "Absent or not matching the tester"), (status = 422, description = "Full, not open, already accepted, or profile missing")))]
async fn accept_job(
    State(state): State<AppState>,
    caller: UserJwt,
    Path(id): Path<String>,
) -> ApiResult<Envelope<OfferOut>> {
    tester_only(&caller)?;
    onboarding_gate(&state, &caller.user_id).await?;
    let scope = studies::scope_for(&state, &caller).await?;
    state.store.get_study(&scope, &id).await?.ok_or_else(|| ApiError::not_found("Study"))?;
    match state.store.accept_study(&caller.user_id, &id, state.now()).await? {
        AcceptOutcome::Accepted { label_no } => Ok(ok(OfferOut {
            job_id: id,
            status: "accepted".into(),
            tester_label: Some(format!("Tester {label_no}")),
        })),
        AcceptOutcome::AlreadyAccepted => {
            Err(ApiError::Unprocessable("You have already accepted this study".into()))
        }
        AcceptOutcome::Full => Err(ApiError::Unprocessable("This study has no free seat".into())),
        AcceptOutcome::NotOpen(s) => Err(ApiError::Unprocessable(format!("This study is {s}, not open"))),
        AcceptOutcome::NotFound => Err(ApiError::not_found("Study")),
    }
}

/// Decline an offer (also gives back an accepted seat, until a session starts).
#[utoipa::path(post, path = "/api/jobs/{id}/decline", tag = "studies", security(("jwt" = [])),
    params(("id" = String, Path, description = "Study id")),
    responses((status = 200, body = Envelope<OfferOut>), (status = 404, description = "Absent or not visible"), (status = 422, description = "A session already started")))]
async fn decline_job(
    State(state): State<AppState>,
    caller: UserJwt,
    Path(id): Path<String>,
) -> ApiResult<Envelope<OfferOut>> {
    tester_only(&caller)?;
    let scope = studies::scope_for(&state, &caller).await?;
    state.store.get_study(&scope, &id).await?.ok_or_else(|| ApiError::not_found("Study"))?;
    match state.store.decline_study(&caller.user_id, &id, state.now()).await? {
        Guarded::Done(()) => Ok(ok(OfferOut { job_id: id, status: "declined".into(), tester_label: None })),
        Guarded::NotFound => Err(ApiError::not_found("Study")),
        Guarded::WrongState(_) => {
            Err(ApiError::Unprocessable("Your session has started; it can no longer be declined".into()))
        }
    }
}

/// The study's sessions, testers shown only by label and ND categories.
#[utoipa::path(get, path = "/api/jobs/{id}/sessions", tag = "studies", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Study id"), PageQuery),
    responses((status = 200, body = Envelope<Vec<SessionOut>>), (status = 404, description = "No such study of yours")))]
async fn job_sessions(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<String>,
    page: Pagination,
) -> ApiResult<Envelope<Vec<SessionOut>>> {
    let org = org_filter(&caller)?;
    let study_scope = org.clone().map_or(StudyScope::All, StudyScope::Organization);
    state.store.get_study(&study_scope, &id).await?.ok_or_else(|| ApiError::not_found("Study"))?;
    let scope = org.map_or(SessionScope::All, SessionScope::Organization);
    let (rows, total) = state.store.list_sessions(&scope, Some(&id), None, page.0).await?;
    let now = state.now();
    let out = rows.into_iter().map(|s| session_out(s, caller.role, &caller.user_id, now)).collect();
    Ok(Envelope::page(out, page.meta(total)))
}
