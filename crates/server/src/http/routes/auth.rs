//! `/api/auth/*`: sign-up (also with an invitation), sign-in, refresh (rotating), sign-out,
//! email verification and password reset (api.md §12).

use axum::extract::State;
use axum::http::StatusCode;
use garde::Validate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::UserOut;
use crate::auth::principal::AuthMethod;
use crate::domain::{Role, format_ms};
use crate::error::{AppError, AppResult};
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::{UserJwt, ValidatedJson};
use crate::http::state::AppState;
use crate::services::accounts::{self, IssuedTokens, Signup};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(signin))
        .routes(routes!(refresh))
        .routes(routes!(signout))
        .routes(routes!(verify_email_request))
        .routes(routes!(verify_email))
        .routes(routes!(password_reset_request))
        .routes(routes!(password_reset))
        .routes(routes!(confirm_email_change))
}

/// Sign-up body.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignupIn {
    #[garde(length(min = 3, max = 254))]
    #[schema(example = "ada@example.com", min_length = 3, max_length = 254)]
    pub email: String,
    /// At least 10 characters.
    #[garde(length(chars, min = 10, max = 256))]
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
    #[garde(length(chars, min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub full_name: String,
    /// `business` or `tester` (admins are created with `openscouter admin create-user`).
    #[garde(skip)]
    pub role: Role,
    /// Business accounts: the organization to create (default: "<fullName>'s organization").
    #[garde(inner(length(chars, min = 1, max = 100)))]
    #[schema(min_length = 1, max_length = 100)]
    pub organization_name: Option<String>,
    /// The token of an invitation mailed to this address: the business account joins the
    /// inviting organization (with the invitation's role) instead of creating one.
    #[garde(inner(length(min = 1, max = 256)))]
    #[schema(min_length = 1, max_length = 256)]
    pub invitation_token: Option<String>,
}

/// Sign-in body.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigninIn {
    #[garde(length(min = 1, max = 254))]
    pub email: String,
    #[garde(length(min = 1, max = 1024))]
    pub password: String,
}

/// Refresh body.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshIn {
    #[garde(length(min = 1, max = 256))]
    pub refresh_token: String,
}

/// A token pair.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokensOut {
    /// JWT for `Authorization: Bearer …`, valid 24 h.
    pub access_token: String,
    /// Opaque, 30 days, single use: every refresh returns a new one.
    pub refresh_token: String,
    pub expires_at: String,
}

/// Sign-up and sign-in answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthOut {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: String,
    pub user: UserOut,
}

fn tokens_out(t: IssuedTokens) -> TokensOut {
    TokensOut {
        access_token: t.access_token,
        refresh_token: t.refresh_token,
        expires_at: format_ms(t.expires_at),
    }
}

fn auth_out(user: crate::store::User, t: IssuedTokens) -> AuthOut {
    let t = tokens_out(t);
    AuthOut {
        access_token: t.access_token,
        refresh_token: t.refresh_token,
        expires_at: t.expires_at,
        user: user.into(),
    }
}

/// Create an account. A business account also creates its organization (plan `free`) and
/// becomes its owner; with `invitationToken` it joins the inviting organization instead.
#[utoipa::path(post, path = "/api/auth/signup", tag = "auth", request_body = SignupIn,
    responses((status = 200, body = Envelope<AuthOut>), (status = 422, description = "Validation failed or email already registered")))]
async fn signup(
    State(state): State<AppState>,
    ValidatedJson(b): ValidatedJson<SignupIn>,
) -> AppResult<Envelope<AuthOut>> {
    let signup = Signup {
        email: b.email,
        password: b.password,
        full_name: b.full_name,
        role: b.role,
        organization_name: b.organization_name,
    };
    let (user, tokens) = match b.invitation_token {
        Some(token) => accounts::signup_invited(&state, signup, &token).await?,
        None => accounts::signup(&state, signup).await?,
    };
    Ok(ok(auth_out(user, tokens)))
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/api/auth/signin", tag = "auth", request_body = SigninIn,
    responses((status = 200, body = Envelope<AuthOut>), (status = 401, description = "Invalid email or password")))]
async fn signin(
    State(state): State<AppState>,
    ValidatedJson(b): ValidatedJson<SigninIn>,
) -> AppResult<Envelope<AuthOut>> {
    let (user, tokens) = accounts::signin(&state, &b.email, b.password).await?;
    Ok(ok(auth_out(user, tokens)))
}

/// Exchange a refresh token for a new pair. Presenting a spent token revokes the whole sign-in.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshIn,
    responses((status = 200, body = Envelope<TokensOut>), (status = 401, description = "Invalid, expired or reused refresh token")))]
async fn refresh(
    State(state): State<AppState>,
    ValidatedJson(b): ValidatedJson<RefreshIn>,
) -> AppResult<Envelope<TokensOut>> {
    Ok(ok(tokens_out(accounts::refresh(&state, &b.refresh_token).await?)))
}

/// Sign out: revokes this sign-in's refresh tokens and access tokens.
#[utoipa::path(post, path = "/api/auth/signout", tag = "auth", security(("jwt" = [])),
    responses((status = 200, body = Envelope<serde_json::Value>, description = "`data` is null")))]
async fn signout(State(state): State<AppState>, user: UserJwt) -> AppResult<Envelope<()>> {
    let AuthMethod::Jwt { session_id } = &user.method else {
        return Err(AppError::Forbidden("This endpoint needs a signed-in user (JWT)".into()));
    };
    accounts::signout(&state, &user.user_id, session_id).await?;
    Ok(Envelope { success: true, data: None, error: None, metadata: None })
}

/// A one-time link, as mailed.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkTokenIn {
    #[garde(length(min = 1, max = 256))]
    #[schema(min_length = 1, max_length = 256)]
    pub token: String,
}

/// Password-reset request.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResetRequestIn {
    #[garde(length(min = 1, max = 254))]
    #[schema(example = "ada@example.com", min_length = 1, max_length = 254)]
    pub email: String,
}

/// A new password through a reset link.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResetIn {
    #[garde(length(min = 1, max = 256))]
    #[schema(min_length = 1, max_length = 256)]
    pub token: String,
    /// At least 10 characters.
    #[garde(length(chars, min = 10, max = 256))]
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
}

/// What a request that mails a link answers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MailQueuedOut {
    /// True when a mail was queued; false when nothing needed sending (already verified).
    pub queued: bool,
    pub message: String,
}

/// Mail me a link that verifies my email address (valid 24 h, single use).
#[utoipa::path(post, path = "/api/auth/verify-email/request", tag = "auth", security(("jwt" = [])),
    responses((status = 200, body = Envelope<MailQueuedOut>)))]
async fn verify_email_request(
    State(state): State<AppState>,
    caller: UserJwt,
) -> AppResult<Envelope<MailQueuedOut>> {
    let queued = crate::services::recovery::request_verification(&state, &caller).await?;
    let message =
        if queued { "A verification link is on its way" } else { "Your address is already verified" };
    Ok(ok(MailQueuedOut { queued, message: message.into() }))
}

/// Verify an email address with the mailed token.
#[utoipa::path(post, path = "/api/auth/verify-email", tag = "auth", request_body = LinkTokenIn,
    responses((status = 200, body = Envelope<UserOut>), (status = 422, description = "Invalid, used or expired link")))]
async fn verify_email(
    State(state): State<AppState>,
    ValidatedJson(b): ValidatedJson<LinkTokenIn>,
) -> AppResult<Envelope<UserOut>> {
    Ok(ok(crate::services::recovery::verify_email(&state, &b.token).await?.into()))
}

/// Ask for a password-reset link. Always 202 with the same body, whether or not the address
/// has an account; an account gets at most one link a minute, valid 30 minutes, single use.
#[utoipa::path(post, path = "/api/auth/password-reset/request", tag = "auth", request_body = ResetRequestIn,
    responses((status = 202, body = Envelope<MailQueuedOut>, description = "The same answer for every address")))]
async fn password_reset_request(
    State(state): State<AppState>,
    ValidatedJson(b): ValidatedJson<ResetRequestIn>,
) -> AppResult<(StatusCode, Envelope<MailQueuedOut>)> {
    crate::services::recovery::request_password_reset(&state, &b.email).await?;
    let out = MailQueuedOut {
        queued: true,
        message: "If an account uses this address, a reset link is on its way".into(),
    };
    Ok((StatusCode::ACCEPTED, ok(out)))
}

/// Set a new password with the mailed token. Every sign-in of the account ends (its refresh
/// tokens stop working).
#[utoipa::path(post, path = "/api/auth/password-reset", tag = "auth", request_body = ResetIn,
    responses((status = 200, body = Envelope<UserOut>), (status = 422, description = "Invalid, used or expired link, or a password too short")))]
async fn password_reset(
    State(state): State<AppState>,
    ValidatedJson(b): ValidatedJson<ResetIn>,
) -> AppResult<Envelope<UserOut>> {
    Ok(ok(crate::services::recovery::reset_password(&state, &b.token, b.password).await?.into()))
}

/// Use an email-change link (mailed to the new address by `PATCH /api/me {email}`): the
/// account moves to the new address, verified, and the old address is told.
#[utoipa::path(post, path = "/api/auth/email-change", tag = "auth", request_body = LinkTokenIn,
    responses((status = 200, body = Envelope<UserOut>),
        (status = 422, description = "Invalid, used or expired link, or the address is taken meanwhile")))]
async fn confirm_email_change(
    State(state): State<AppState>,
    ValidatedJson(b): ValidatedJson<LinkTokenIn>,
) -> AppResult<Envelope<UserOut>> {
    Ok(ok(crate::services::recovery::confirm_email_change(&state, &b.token).await?.into()))
}
