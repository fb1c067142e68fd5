//! `/api/me`: who the caller is (any credential) and profile changes (signed-in users).

use axum::extract::State;
use garde::Validate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{OrganizationOut, UserOut};
use crate::auth::principal::AuthMethod;
use crate::domain::Scope;
use crate::error::AppResult;
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::{Authed, UserJwt, ValidatedJson};
use crate::http::state::AppState;
use crate::services::accounts;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_me, patch_me, delete_me))
}

/// The caller: the user, their organization, and how they authenticated.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeOut {
    pub user: UserOut,
    pub organization: Option<OrganizationOut>,
    /// `jwt`, `token` or `oauth` (an OAuth access token of an external client).
    pub auth_method: String,
    /// Scopes of the API token (absent for JWTs, which carry the role's full rights).
    pub scopes: Option<Vec<Scope>>,
}

/// Profile changes.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MePatch {
    #[garde(length(chars, min = 1, max = 100))]
    pub full_name: String,
}

/// Who am I? Also answers for API tokens, telling an integration whom it acts for.
#[utoipa::path(get, path = "/api/me", tag = "me", security(("jwt" = []), ("token" = [])),
    responses((status = 200, body = Envelope<MeOut>), (status = 401, description = "No valid credentials")))]
async fn get_me(State(state): State<AppState>, caller: Authed) -> AppResult<Envelope<MeOut>> {
    let (user, organization) = accounts::me(&state, &caller).await?;
    let organization = organization.map(Into::into);
    let (auth_method, scopes) = match &caller.method {
        AuthMethod::Jwt { .. } => ("jwt", None),
        AuthMethod::ApiToken { scopes, .. } => ("token", Some(scopes.clone())),
        AuthMethod::TestToken { .. } => ("test_token", None),
        AuthMethod::Telegram { .. } => ("telegram", None),
        AuthMethod::OAuth { .. } => ("oauth", None),
    };
    Ok(ok(MeOut { user: user.into(), organization, auth_method: auth_method.into(), scopes }))
}

/// Update the profile (`fullName`).
#[utoipa::path(patch, path = "/api/me", tag = "me", security(("jwt" = [])), request_body = MePatch,
    responses((status = 200, body = Envelope<UserOut>), (status = 422, description = "Validation failed")))]
async fn patch_me(
    State(state): State<AppState>,
    caller: UserJwt,
    ValidatedJson(b): ValidatedJson<MePatch>,
) -> AppResult<Envelope<UserOut>> {
    let user = accounts::rename(&state, &caller, &b.full_name).await?;
    Ok(ok(user.into()))
}

/// The erasure request.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErasureOut {
    /// The erasure job (follow it with `GET /api/analysis-jobs/:id` as an admin).
    pub analysis_job_id: String,
    pub status: crate::domain::QueueStatus,
}

/// Erase my account: sign-ins, tokens and test tokens stop working at once; an erasure job then
/// deletes the person's profile, consent records, streams, notes, feedback and credentials.
/// Findings and reports keep only the anonymous `Tester N` label.
#[utoipa::path(delete, path = "/api/me", tag = "me", security(("jwt" = [])),
    responses((status = 200, body = Envelope<ErasureOut>)))]
async fn delete_me(State(state): State<AppState>, caller: UserJwt) -> AppResult<Envelope<ErasureOut>> {
    let item = crate::services::governance::request_erasure(&state, &caller).await?;
    Ok(ok(ErasureOut { analysis_job_id: item.id, status: item.status }))
}
