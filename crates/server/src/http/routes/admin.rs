//! `/api/admin/*`: operator actions; every change is written to the audit log in its transaction.

use axum::extract::{Path, State};
use garde::Validate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::OrganizationOut;
use crate::domain::{Plan, format_ms};
use crate::error::AppResult;
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::pagination::PageQuery;
use crate::http::extract::{Admin, Pagination, ValidatedJson};
use crate::http::state::AppState;
use crate::services::accounts;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(patch_organization)).routes(routes!(audit_log))
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
}

/// Change an organization's plan.
#[utoipa::path(patch, path = "/api/admin/organizations/{id}", tag = "admin", security(("jwt" = []), ("token" = ["admin"])),
    params(("id" = String, Path, description = "Organization id (`org_…`)")), request_body = OrganizationPatch,
    responses((status = 200, body = Envelope<OrganizationOut>), (status = 403, description = "Not an admin"), (status = 404, description = "No such organization")))]
async fn patch_organization(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    ValidatedJson(b): ValidatedJson<OrganizationPatch>,
) -> AppResult<Envelope<OrganizationOut>> {
    Ok(ok(accounts::set_plan(&state, &admin, &id, b.plan).await?.into()))
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
            actor_id: a.actor_id,
            action: a.action,
            target_type: a.target_type,
            target_id: a.target_id,
            created_at: format_ms(a.created_at),
        })
        .collect();
    Ok(Envelope::page(out, page.meta(total)))
}
