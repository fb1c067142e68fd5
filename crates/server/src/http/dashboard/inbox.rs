//! Everyone's notifications page: newest first, the unread count, mark one or all as read.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::html;

use super::layout::{self, Viewer, when};
use super::web::{Pressed, see_other};
use crate::error::AppResult;
use crate::http::extract::{Pagination, UserJwt};
use crate::http::state::AppState;
use crate::services::team;

/// `GET /app/notifications`.
pub async fn page(
    State(state): State<AppState>,
    caller: UserJwt,
    Pagination(page): Pagination,
) -> AppResult<Response> {
    let (rows, total) = team::notifications(&state, &caller, false, page).await?;
    let unread = team::unread_count(&state, &caller).await?;
    let viewer = Viewer::new(&state, &caller);
    Ok(layout::page(
        "Notifications",
        &viewer,
        "/app/notifications",
        html! {
            h1 { "Notifications" }
            p #unread-count role="status" {
                @match unread { 0 => "Everything is read.", 1 => "1 unread notification.", n => (format!("{n} unread notifications.")) }
            }
            @if unread > 0 {
                form method="post" action="/app/notifications/read-all" {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    button.secondary type="submit" { "Mark all as read" }
                }
            }
            @if rows.is_empty() {
                p { "No notification yet." }
            } @else {
                ul.notifications {
                    @for n in &rows {
                        li.notification {
                            h2.title {
                                (n.title)
                                @if n.read_at.is_none() { " " span.badge { "Unread" } }
                            }
                            p { (n.body) }
                            p.muted { (when(n.created_at)) }
                            @if n.read_at.is_none() {
                                form method="post" action={"/app/notifications/" (n.id) "/read"} {
                                    input type="hidden" name="csrf" value=(viewer.csrf);
                                    button.secondary type="submit" aria-label={"Mark “" (n.title) "” as read"} { "Mark as read" }
                                }
                            }
                        }
                    }
                }
                (layout::pager("/app/notifications", page.page, page.limit, total))
            }
        },
    ))
}

pub async fn mark_read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Pressed(caller): Pressed<UserJwt>,
) -> AppResult<Response> {
    team::mark_read(&state, &caller, &id).await?;
    Ok(see_other("/app/notifications", None))
}

pub async fn mark_all_read(
    State(state): State<AppState>,
    Pressed(caller): Pressed<UserJwt>,
) -> AppResult<Response> {
    team::mark_all_read(&state, &caller).await?;
    Ok(see_other("/app/notifications", None))
}
