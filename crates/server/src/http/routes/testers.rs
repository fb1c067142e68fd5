//! `/api/testers/me/profile`: the tester profile that study matching reads.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::format_ms;
use crate::error::AppResult;
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::{ApiJson, UserJwt};
use crate::http::state::AppState;
use crate::services::governance::{self, SpecialConsentIn};
use crate::services::studies::{self, Profile};
use crate::store::TesterProfile;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_profile, put_profile))
        .routes(routes!(give_consent, withdraw_consent))
}

/// A consent event.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentEventOut {
    pub version: String,
    pub action: crate::domain::ConsentAction,
    pub at: String,
}

/// The tester's special-category consent: the version in force and its history.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpecialConsentOut {
    pub special_category: bool,
    pub version: Option<String>,
    pub history: Vec<ConsentEventOut>,
}

async fn consent_out(state: &AppState, caller: &UserJwt, row: TesterProfile) -> AppResult<SpecialConsentOut> {
    let history = governance::consent_history(state, caller)
        .await?
        .into_iter()
        .map(|(version, action, at)| ConsentEventOut { version, action, at: format_ms(at) })
        .collect();
    Ok(SpecialConsentOut {
        special_category: row.consent_version.is_some(),
        version: row.consent_version,
        history,
    })
}

/// Give explicit consent to process special-category data (ND categories, assistive tech; GDPR
/// Art. 9). Needed before adding them to the profile and before taking studies.
#[utoipa::path(post, path = "/api/testers/me/consent", tag = "testers", security(("jwt" = [])), request_body = SpecialConsentIn,
    responses((status = 200, body = Envelope<SpecialConsentOut>)))]
async fn give_consent(
    State(state): State<AppState>,
    caller: UserJwt,
    ApiJson(b): ApiJson<SpecialConsentIn>,
) -> AppResult<Envelope<SpecialConsentOut>> {
    let row = governance::give_consent(&state, &caller, b).await?;
    Ok(ok(consent_out(&state, &caller, row).await?))
}

/// Withdraw that consent: ND categories and assistive tech leave the profile, the tester's
/// facial and voice items are deleted, and no new offers arrive. The history is kept.
#[utoipa::path(delete, path = "/api/testers/me/consent", tag = "testers", security(("jwt" = [])),
    responses((status = 200, body = Envelope<SpecialConsentOut>), (status = 404, description = "No consent in force")))]
async fn withdraw_consent(
    State(state): State<AppState>,
    caller: UserJwt,
) -> AppResult<Envelope<SpecialConsentOut>> {
    let row = governance::withdraw_consent(&state, &caller).await?;
    Ok(ok(consent_out(&state, &caller, row).await?))
}

/// The stored profile.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileOut {
    #[serde(flatten)]
    pub profile: Profile,
    /// Passed the capacity quiz.
    pub capacity_verified: bool,
    pub updated_at: String,
}

fn profile_out(row: TesterProfile) -> ProfileOut {
    ProfileOut {
        profile: row.profile,
        capacity_verified: row.capacity_verified,
        updated_at: format_ms(row.updated_at),
    }
}

/// The caller's tester profile (404 until it is first saved).
#[utoipa::path(get, path = "/api/testers/me/profile", tag = "testers", security(("jwt" = [])),
    responses((status = 200, body = Envelope<ProfileOut>), (status = 404, description = "No profile yet")))]
async fn get_profile(State(state): State<AppState>, caller: UserJwt) -> AppResult<Envelope<ProfileOut>> {
    Ok(ok(profile_out(studies::get_profile(&state, &caller).await?)))
}

/// Create or replace the caller's tester profile.
#[utoipa::path(put, path = "/api/testers/me/profile", tag = "testers", security(("jwt" = [])), request_body = Profile,
    responses((status = 200, body = Envelope<ProfileOut>), (status = 422, description = "Validation failed")))]
async fn put_profile(
    State(state): State<AppState>,
    caller: UserJwt,
    ApiJson(b): ApiJson<Profile>,
) -> AppResult<Envelope<ProfileOut>> {
    Ok(ok(profile_out(studies::put_profile(&state, &caller, b).await?)))
}
