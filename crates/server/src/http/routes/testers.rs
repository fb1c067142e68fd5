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
use crate::services::studies::{self, Profile};
use crate::store::TesterProfile;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_profile, put_profile))
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
