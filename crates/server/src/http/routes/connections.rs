//! `/api/oauth/connections`: the applications (OAuth clients, e.g. AI assistants over MCP)
//! the signed-in user authorised, and revoking them (api.md §12).

use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::format_ms;
use crate::error::AppResult;
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::UserJwt;
use crate::http::state::AppState;
use crate::services::team;
use crate::store::Connection;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(revoke))
}

/// A connected application.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionOut {
    #[schema(example = "oac_01jf3k9x6q7t1v2w3y4z5a6b7c")]
    pub client_id: String,
    /// The name the client registered with.
    pub client_name: String,
    pub scopes: Vec<String>,
    pub connected_at: String,
    /// When it last obtained a token (an authorization or a refresh).
    pub last_used_at: String,
}

fn out(c: Connection) -> ConnectionOut {
    ConnectionOut {
        client_id: c.client_id,
        client_name: c.client_name,
        scopes: c.scopes.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        connected_at: format_ms(c.connected_at),
        last_used_at: format_ms(c.last_used_at),
    }
}

/// Applications you authorised, most recently used first.
#[utoipa::path(get, path = "/api/oauth/connections", tag = "oauth", security(("jwt" = [])),
    responses((status = 200, body = Envelope<Vec<ConnectionOut>>), (status = 401, description = "No valid credentials"),
        (status = 403, description = "Not a signed-in user (an API or OAuth token)")))]
async fn list(State(state): State<AppState>, caller: UserJwt) -> AppResult<Envelope<Vec<ConnectionOut>>> {
    Ok(ok(team::connections(&state, &caller).await?.into_iter().map(out).collect()))
}

/// Revoke an application: every access and refresh token you gave it stops working at once.
#[utoipa::path(delete, path = "/api/oauth/connections/{clientId}", tag = "oauth", security(("jwt" = [])),
    params(("clientId" = String, Path, description = "The client id (`oac_…`)")),
    responses((status = 200, body = Envelope<serde_json::Value>, description = "`data` is null"),
        (status = 401, description = "No valid credentials"),
        (status = 403, description = "Not a signed-in user (an API or OAuth token)"),
        (status = 404, description = "No live connection to this client")))]
async fn revoke(
    State(state): State<AppState>,
    caller: UserJwt,
    Path(client_id): Path<String>,
) -> AppResult<Envelope<()>> {
    team::revoke_connection(&state, &caller, &client_id).await?;
    Ok(Envelope { success: true, data: None, error: None, metadata: None })
}
