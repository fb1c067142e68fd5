//! `/api/tokens`: server-to-server API tokens of the signed-in business member or admin.

use axum::extract::{Path, State};
use garde::Validate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{Scope, format_ms};
use crate::error::AppResult;
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::pagination::PageQuery;
use crate::http::extract::{BusinessOrAdmin, Pagination, ValidatedJson};
use crate::http::state::AppState;
use crate::services;
use crate::store::ApiToken;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_token, list_tokens)).routes(routes!(revoke_token))
}

/// New token.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenIn {
    #[garde(length(chars, min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Any of `read`, `write`, `ingest`, `admin` (admin only for admins).
    #[garde(length(min = 1, max = 4))]
    #[schema(min_items = 1, max_items = 4)]
    pub scopes: Vec<Scope>,
    /// Lifetime in days (1..365); no expiry when absent.
    #[garde(inner(range(min = 1, max = 365)))]
    #[schema(minimum = 1, maximum = 365)]
    pub expires_in_days: Option<u32>,
}

/// A token as listed (never the secret).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenOut {
    pub token_id: String,
    pub name: String,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// A created token: the only time `token` is shown.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenCreatedOut {
    #[serde(flatten)]
    pub meta: TokenOut,
    /// Send as `Authorization: Token <token>`. Shown once; stored only as a hash.
    pub token: String,
}

impl From<ApiToken> for TokenOut {
    fn from(t: ApiToken) -> Self {
        Self {
            token_id: t.id,
            name: t.name,
            prefix: t.token_prefix,
            scopes: t.scopes,
            created_at: format_ms(t.created_at),
            expires_at: t.expires_at.map(format_ms),
            last_used_at: t.last_used_at.map(format_ms),
            revoked_at: t.revoked_at.map(format_ms),
        }
    }
}

/// Create an API token. The plaintext is in this response only.
#[utoipa::path(post, path = "/api/tokens", tag = "tokens", security(("jwt" = [])), request_body = TokenIn,
    responses((status = 200, body = Envelope<TokenCreatedOut>), (status = 403, description = "Testers cannot create tokens")))]
async fn create_token(
    State(state): State<AppState>,
    caller: BusinessOrAdmin,
    ValidatedJson(b): ValidatedJson<TokenIn>,
) -> AppResult<Envelope<TokenCreatedOut>> {
    let mut scopes = b.scopes;
    scopes.sort_unstable();
    scopes.dedup();
    let (token, plaintext) =
        services::tokens::create(&state, &caller, b.name, scopes, b.expires_in_days).await?;
    Ok(ok(TokenCreatedOut { meta: token.into(), token: plaintext }))
}

/// The caller's tokens, newest first (revoked ones included, marked `revokedAt`).
#[utoipa::path(get, path = "/api/tokens", tag = "tokens", security(("jwt" = [])), params(PageQuery),
    responses((status = 200, body = Envelope<Vec<TokenOut>>)))]
async fn list_tokens(
    State(state): State<AppState>,
    caller: BusinessOrAdmin,
    page: Pagination,
) -> AppResult<Envelope<Vec<TokenOut>>> {
    let (rows, total) = services::tokens::list(&state, &caller, page.0).await?;
    Ok(Envelope::page(rows.into_iter().map(Into::into).collect(), page.meta(total)))
}

/// Revoke a token at once. Revoking twice is harmless.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "tokens", security(("jwt" = [])),
    params(("id" = String, Path, description = "Token id (`tok_…`)")),
    responses((status = 200, body = Envelope<TokenOut>), (status = 404, description = "No such token of yours")))]
async fn revoke_token(
    State(state): State<AppState>,
    caller: BusinessOrAdmin,
    Path(id): Path<String>,
) -> AppResult<Envelope<TokenOut>> {
    Ok(ok(services::tokens::revoke(&state, &caller, &id).await?.into()))
}
