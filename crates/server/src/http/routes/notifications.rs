//! `/api/notifications`: the caller's in-app notifications.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{NotificationKind, format_ms};
use crate::error::AppResult;
use crate::http::envelope::Envelope;
use crate::http::extract::pagination::PageQuery;
use crate::http::extract::{Authed, Pagination};
use crate::http::state::AppState;
use crate::services::notifications;
use crate::store::NotificationRow;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
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
}

fn out(n: NotificationRow) -> NotificationOut {
    NotificationOut {
        notification_id: n.id,
        kind: n.kind,
        title: n.title,
        body: n.body,
        data: serde_json::from_str(&n.data).unwrap_or_default(),
        created_at: format_ms(n.created_at),
    }
}

/// The caller's notifications, newest first: their own, their organization's (business
/// members: e.g. `study.stalled`) and staff follow-ups (admins). Testers get reminders and
/// timeouts here and, when linked, on Telegram.
#[utoipa::path(get, path = "/api/notifications", tag = "notifications", security(("jwt" = []), ("token" = ["read"])),
    params(PageQuery), responses((status = 200, body = Envelope<Vec<NotificationOut>>)))]
async fn list(
    State(state): State<AppState>,
    caller: Authed,
    page: Pagination,
) -> AppResult<Envelope<Vec<NotificationOut>>> {
    let (rows, total) = notifications::list(&state, &caller, page.0).await?;
    Ok(Envelope::page(rows.into_iter().map(out).collect(), page.meta(total)))
}
