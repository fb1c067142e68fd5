//! `/api/me`: who the caller is (any credential), profile and email changes and the password
//! change (signed-in users).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use garde::Validate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{OrganizationOut, UserOut};
use crate::auth::principal::AuthMethod;
use crate::domain::Scope;
use crate::error::AppResult;
use crate::http::envelope::{Envelope, ok, rendered};
use crate::http::extract::{Authed, UserJwt, ValidatedJson};
use crate::http::state::AppState;
use crate::services::accounts;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_me, patch_me, delete_me)).routes(routes!(change_password))
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
    /// Notifications the user has not marked read.
    pub unread_notifications: u64,
}

/// Profile changes (at least one field).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MePatch {
    #[garde(inner(length(chars, min = 1, max = 100)))]
    #[schema(min_length = 1, max_length = 100)]
    pub full_name: Option<String>,
    /// A new address: a link is mailed to it, and the change applies when the link is used
    /// (the old address is then told). The account keeps its address until then.
    #[garde(inner(length(min = 3, max = 254)))]
    #[schema(min_length = 3, max_length = 254)]
    pub email: Option<String>,
}

/// A password change.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordIn {
    #[garde(length(min = 1, max = 1024))]
    #[schema(min_length = 1, max_length = 1024)]
    pub current_password: String,
    /// At least 10 characters.
    #[garde(length(chars, min = 10, max = 256))]
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
}

/// Who am I? Also answers for API tokens, telling an integration whom it acts for.
#[utoipa::path(get, path = "/api/me", tag = "me", security(("jwt" = []), ("token" = [])),
    responses((status = 200, body = Envelope<MeOut>), (status = 401, description = "No valid credentials")))]
async fn get_me(State(state): State<AppState>, caller: Authed) -> AppResult<Response> {
    let (auth_method, scopes, credential) = match &caller.method {
        AuthMethod::Jwt { .. } => ("jwt", None, caller.user_id.as_str()),
        AuthMethod::ApiToken { scopes, token_id } => ("token", Some(scopes), token_id.as_str()),
        AuthMethod::TestToken { .. } => ("test_token", None, caller.user_id.as_str()),
        AuthMethod::Telegram { .. } => ("telegram", None, caller.user_id.as_str()),
        AuthMethod::OAuth { .. } => ("oauth", None, caller.user_id.as_str()),
    };
    // Integrations poll this: the body is drawn from the identity caches only, so it is sent
    // again as rendered while none of them changed (the store's identity version, read before
    // the reads) and it is younger than their TTL. The key names the credential kind and the
    // user (an API token: the token, whose scopes the body lists).
    let key = [auth_method, ":", credential].concat();
    let version = accounts::identity_version(&state);
    if let Some(body) = state.me_bodies.get_with(&key, |(v, body)| (*v == version).then(|| body.clone())) {
        return Ok(rendered(body));
    }
    let (user, organization) = accounts::me(&state, &caller).await?;
    let unread_notifications = crate::services::team::unread_count(&state, &caller).await?;
    let envelope = ok(MeOut {
        user: user.into(),
        organization: organization.map(Into::into),
        auth_method: auth_method.into(),
        scopes: scopes.cloned(),
        unread_notifications,
    });
    let Some(body) = envelope.render() else {
        return Ok(envelope.into_response());
    };
    state.me_bodies.put(&key, (version, body.clone()));
    Ok(rendered(body))
}

/// Update the profile: `fullName` at once; `email` through a link mailed to the new address.
#[utoipa::path(patch, path = "/api/me", tag = "me", security(("jwt" = [])), request_body = MePatch,
    responses((status = 200, body = Envelope<UserOut>), (status = 422, description = "Validation failed")))]
async fn patch_me(
    State(state): State<AppState>,
    caller: UserJwt,
    ValidatedJson(b): ValidatedJson<MePatch>,
) -> AppResult<Envelope<UserOut>> {
    if b.full_name.is_none() && b.email.is_none() {
        return Err(crate::error::AppError::Unprocessable("body: give fullName or email".into()));
    }
    if let Some(email) = &b.email {
        crate::services::recovery::request_email_change(&state, &caller, email).await?;
    }
    let user = match &b.full_name {
        Some(name) => accounts::rename(&state, &caller, name).await?,
        None => accounts::me(&state, &caller).await?.0,
    };
    Ok(ok(user.into()))
}

/// Change the password (the current one is checked). Every other sign-in of the account ends;
/// this one stays.
#[utoipa::path(post, path = "/api/me/password", tag = "me", security(("jwt" = [])), request_body = PasswordIn,
    responses((status = 200, body = Envelope<serde_json::Value>, description = "`data` is null"),
        (status = 422, description = "Wrong current password, or a new password too short")))]
async fn change_password(
    State(state): State<AppState>,
    caller: UserJwt,
    ValidatedJson(b): ValidatedJson<PasswordIn>,
) -> AppResult<Envelope<()>> {
    crate::services::recovery::change_password(&state, &caller, b.current_password, b.password).await?;
    Ok(Envelope { success: true, data: None, error: None, metadata: None })
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
    Ok(ok(ErasureOut { analysis_job_id: item.id.into(), status: item.status }))
}
