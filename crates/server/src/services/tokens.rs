//! API tokens: created with scopes, shown once, stored as SHA-256, revocable.

use crate::app::App;
use crate::auth::principal::Principal;
use crate::auth::secrets::{new_opaque_token, sha256_hex};
use crate::domain::ids::{new_id, prefix};
use crate::domain::{Role, Scope};
use crate::error::{AppError, AppResult};
use crate::store::{ApiToken, NewApiToken, Page};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Creates a token for `owner`; returns the stored record and the plaintext (shown once).
pub async fn create(
    state: &App,
    owner: &Principal,
    name: String,
    scopes: Vec<Scope>,
    expires_in_days: Option<u32>,
) -> AppResult<(ApiToken, String)> {
    if scopes.contains(&Scope::Admin) && owner.role != Role::Admin {
        return Err(AppError::Forbidden("Only admins may create tokens with the admin scope".into()));
    }
    // api.md §12: owners manage the organisation's API tokens; a member acts through the
    // dashboard and connected apps, and may still list and revoke tokens of their own.
    if owner.role == Role::Business {
        crate::services::team::owned_org(state, owner).await?;
    }
    let now = state.now();
    let plaintext = new_opaque_token("ost_");
    let token = NewApiToken {
        id: new_id(prefix::TOKEN, now),
        user_id: owner.user_id.clone(),
        name,
        token_hash: sha256_hex(&plaintext),
        token_prefix: plaintext.chars().take(10).collect(),
        scopes,
        created_at: now,
        expires_at: expires_in_days.map(|d| now + i64::from(d) * DAY_MS),
    };
    Ok((state.store.create_api_token(token).await?, plaintext))
}

/// The owner's tokens, newest first (revoked ones included).
pub async fn list(state: &App, owner: &Principal, page: Page) -> AppResult<(Vec<ApiToken>, u64)> {
    Ok(state.store.list_api_tokens(&owner.user_id, page).await?)
}

/// Revokes one of the owner's tokens at once; revoking twice is harmless.
pub async fn revoke(state: &App, owner: &Principal, id: &str) -> AppResult<ApiToken> {
    state
        .store
        .revoke_api_token(&owner.user_id, id, state.now())
        .await?
        .ok_or_else(|| AppError::not_found("Token"))
}
