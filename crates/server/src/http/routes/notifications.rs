//! `/api/notifications`: the caller's in-app notifications and their read state (per reader:
//! an organization's notification is read or unread for each member).

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{NotificationKind, format_ms};
use crate::error::{AppError, AppResult};
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::pagination::PageQuery;
use crate::http::extract::query::ApiQuery;
use crate::http::extract::{Authed, Pagination, UserJwt};
use crate::http::state::AppState;
use crate::services::team;
use crate::store::NotificationRow;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(mark_read)).routes(routes!(mark_all_read))
}

/// A notification.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationOut {
    #[schema(example = "ntf_01jf3k9x6q7t1v2w3y4z5a6b7c")]
    pub notification_id: String,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    /// Ids to follow, e.g. `{"jobId": "job_…"}`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: String,
    pub read: bool,
    pub read_at: Option<String>,
}

/// The list's filter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnreadQuery {
    /// `true`: only the ones not marked read.
    #[param(value_type = Option<bool>)]
    pub unread: Option<String>,
}

/// How many were marked.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarkedOut {
    pub marked: u64,
}

fn out(n: NotificationRow) -> NotificationOut {
    NotificationOut {
        notification_id: n.id,
        kind: n.kind,
        title: n.title,
        body: n.body,
        data: serde_json::from_str(&n.data).unwrap_or_default(),
        created_at: format_ms(n.created_at),
        read: n.read_at.is_some(),
        read_at: n.read_at.map(format_ms),
    }
}

/// The caller's notifications, newest first: their own, their organization's (business
/// members: e.g. `study.stalled`) and staff follow-ups (admins). Testers get reminders and
/// timeouts here and, when linked, on Telegram.
#[utoipa::path(get, path = "/api/notifications", tag = "notifications", security(("jwt" = []), ("token" = ["read"])),
    params(PageQuery, UnreadQuery), responses((status = 200, body = Envelope<Vec<NotificationOut>>)))]
async fn list(
    State(state): State<AppState>,
    caller: Authed,
    page: Pagination,
    ApiQuery(q): ApiQuery<UnreadQuery>,
) -> AppResult<Envelope<Vec<NotificationOut>>> {
    let unread = match q.unread.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => return Err(AppError::BadRequest(format!("unread: must be true or false, got {v:?}"))),
    };
    let (rows, total) = team::notifications(&state, &caller, unread, page.0).await?;
    Ok(Envelope::page(rows.into_iter().map(out).collect(), page.meta(total)))
}

/// Mark one notification read (again is harmless).
#[utoipa::path(post, path = "/api/notifications/{id}/read", tag = "notifications", security(("jwt" = [])),
    params(("id" = String, Path, description = "Notification id (`ntf_…`)")),
    responses((status = 200, body = Envelope<serde_json::Value>, description = "`data` is null"),
        (status = 404, description = "No such notification of yours")))]
async fn mark_read(
    State(state): State<AppState>,
    caller: UserJwt,
    Path(id): Path<String>,
) -> AppResult<Envelope<()>> {
    team::mark_read(&state, &caller, &id).await?;
    Ok(Envelope { success: true, data: None, error: None, metadata: None })
}

/// Mark every notification read.
#[utoipa::path(post, path = "/api/notifications/read-all", tag = "notifications", security(("jwt" = [])),
    responses((status = 200, body = Envelope<MarkedOut>)))]
async fn mark_all_read(State(state): State<AppState>, caller: UserJwt) -> AppResult<Envelope<MarkedOut>> {
    Ok(ok(MarkedOut { marked: team::mark_all_read(&state, &caller).await? }))
}
