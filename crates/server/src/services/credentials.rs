//! Turns an `Authorization` header value into a principal: JWT (`Bearer`), OAuth access token
//! (`Bearer osat_…`), API token (`Token ost_…`) or session test token (`Token <48 hex>`); the
//! scheme in any case (`auth::scheme`).

use crate::app::App;
use crate::auth::principal::{AuthMethod, AuthOutcome, Principal};
use crate::auth::scheme::credentials;
use crate::auth::secrets::sha256_hex;
use crate::domain::ids::UserId;
use crate::error::AppError;
use crate::store::PrincipalRecord;

/// `last_used_at` is refreshed at most this often, keeping writes off the hot path.
const TOUCH_EVERY_MS: i64 = 60_000;

fn principal(r: PrincipalRecord, method: AuthMethod) -> Principal {
    Principal { user_id: r.user_id, role: r.role, organization_id: r.organization_id, plan: r.plan, method }
}

/// Resolves the raw `Authorization` header value (`None`: no header). Store failures are
/// errors (503/500), not 401s.
pub async fn resolve(state: &App, authorization: Option<&[u8]>) -> Result<AuthOutcome, AppError> {
    let Some(value) = authorization else {
        return Ok(AuthOutcome::Anonymous);
    };
    let Ok(value) = std::str::from_utf8(value) else {
        return Ok(AuthOutcome::Rejected("Malformed Authorization header".into()));
    };
    if let Some(bearer) = credentials(value, "Bearer")
        && bearer.starts_with(crate::services::oauth::ACCESS_PREFIX)
    {
        // An OAuth access token (a JWT never starts with `osat_`: its first part is base64 JSON).
        let Some(t) = state.store.oauth_access_for_auth(&sha256_hex(bearer), state.now()).await? else {
            return Ok(AuthOutcome::Rejected("Invalid, expired or revoked access token".into()));
        };
        let method = AuthMethod::OAuth { grant_id: t.grant_id, client_id: t.client_id, scopes: t.scopes };
        return Ok(AuthOutcome::Authenticated(std::sync::Arc::new(principal(t.principal, method))));
    }
    if let Some(jwt) = credentials(value, "Bearer") {
        let Ok(claims) = state.jwt.verify(jwt, state.now()) else {
            return Ok(AuthOutcome::Rejected("Invalid or expired access token".into()));
        };
        // Fresh role, organization and plan; a revoked sign-in or suspended user ends here.
        return Ok(
            match state.store.principal_for_session(&claims.sid, &UserId::from(claims.sub.as_str())).await? {
                Some(r) => AuthOutcome::Authenticated(std::sync::Arc::new(principal(
                    r,
                    AuthMethod::Jwt { session_id: claims.sid.clone() },
                ))),
                None => AuthOutcome::Rejected("Session has been revoked".into()),
            },
        );
    }
    if let Some(token) = credentials(value, "Token") {
        if token.starts_with("ost_") {
            let now = state.now();
            let Some(t) = state.store.api_token_for_auth(&sha256_hex(token), now).await? else {
                return Ok(AuthOutcome::Rejected("Invalid or revoked API token".into()));
            };
            if t.last_used_at.is_none_or(|at| now - at > TOUCH_EVERY_MS) {
                let store = state.store.clone();
                let id = t.token_id.clone();
                tokio::spawn(async move {
                    if let Err(e) = store.touch_api_token(&id, now).await {
                        tracing::warn!(error = %e, "could not record API token use");
                    }
                });
            }
            let method = AuthMethod::ApiToken { token_id: t.token_id, scopes: t.scopes };
            return Ok(AuthOutcome::Authenticated(std::sync::Arc::new(principal(t.principal, method))));
        }
        // A session test token: 48 lowercase hex characters.
        if token.len() == 48 && token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Ok(match state.store.session_for_test_token(&sha256_hex(token), state.now()).await? {
                Some((session_id, tester_id)) => AuthOutcome::Authenticated(std::sync::Arc::new(Principal {
                    user_id: tester_id,
                    role: crate::domain::Role::Tester,
                    organization_id: None,
                    plan: crate::domain::Plan::Free,
                    method: AuthMethod::TestToken { session_id },
                })),
                None => AuthOutcome::Rejected("Invalid or expired test token".into()),
            });
        }
        return Ok(AuthOutcome::Rejected("Invalid or revoked API token".into()));
    }
    Ok(AuthOutcome::Rejected("Unsupported Authorization scheme (use Bearer or Token)".into()))
}
