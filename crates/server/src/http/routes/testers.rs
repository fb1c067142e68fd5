//! `/api/testers/me/profile`: the tester profile that study matching reads.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{Role, format_ms};
use crate::envelope::{Envelope, ok};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, UserJwt};
use crate::services::studies::{ProfileIn, load_profile, year_of};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_profile, put_profile))
}

/// The stored profile.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileOut {
    #[serde(flatten)]
    pub profile: ProfileIn,
    /// Passed the capacity quiz.
    pub capacity_verified: bool,
    pub updated_at: String,
}

fn tester(caller: &UserJwt) -> ApiResult<()> {
    if caller.role == Role::Tester {
        Ok(())
    } else {
        Err(ApiError::Forbidden("Only testers have a tester profile".into()))
    }
}

/// The caller's tester profile (404 until it is first saved).
#[utoipa::path(get, path = "/api/testers/me/profile", tag = "testers", security(("jwt" = [])),
    responses((status = 200, body = Envelope<ProfileOut>), (status = 404, description = "No profile yet")))]
async fn get_profile(State(state): State<AppState>, caller: UserJwt) -> ApiResult<Envelope<ProfileOut>> {
    tester(&caller)?;
    let row =
        state.store.get_profile(&caller.user_id).await?.ok_or_else(|| ApiError::not_found("Profile"))?;
    let profile =
        load_profile(&state, &caller.user_id).await?.ok_or_else(|| ApiError::not_found("Profile"))?;
    Ok(ok(ProfileOut {
        profile,
        capacity_verified: row.capacity_verified,
        updated_at: format_ms(row.updated_at),
    }))
}

/// Create or replace the caller's tester profile.
#[utoipa::path(put, path = "/api/testers/me/profile", tag = "testers", security(("jwt" = [])), request_body = ProfileIn,
    responses((status = 200, body = Envelope<ProfileOut>), (status = 422, description = "Validation failed")))]
async fn put_profile(
    State(state): State<AppState>,
    caller: UserJwt,
    ApiJson(b): ApiJson<ProfileIn>,
) -> ApiResult<Envelope<ProfileOut>> {
    tester(&caller)?;
    let now = state.now();
    b.validate(year_of(now))?;
    let json = serde_json::to_string(&b).map_err(ApiError::internal)?;
    let row = state.store.put_profile(&caller.user_id, &json, now).await?;
    Ok(ok(ProfileOut {
        profile: b,
        capacity_verified: row.capacity_verified,
        updated_at: format_ms(row.updated_at),
    }))
}
