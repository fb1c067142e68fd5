//! The tester's page: open offers that match their profile, and their own sessions with a link
//! to each session's confirmation page.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Response;
use maud::html;

use super::layout::{self, Viewer, when};
use crate::domain::{Role, SessionStatus, StudyStatus};
use crate::error::{AppError, AppResult};
use crate::http::extract::UserJwt;
use crate::http::state::AppState;
use crate::services::sessions::{self, SessionFilter};
use crate::services::studies;
use crate::store::Page;

/// `/app/tester`.
pub async fn home(State(state): State<AppState>, caller: UserJwt) -> AppResult<Response> {
    if caller.role != Role::Tester {
        return Err(AppError::Forbidden("This page is for testers".into()));
    }
    let first = Page { page: 1, limit: 100 };
    let (visible, _) = studies::list(&state, &caller, None, first).await?;
    let filter = SessionFilter { study_id: None, status: None };
    let (mine, total) = sessions::list(&state, &caller, &filter, first).await?;
    let titles: HashMap<&str, &str> =
        visible.iter().map(|s| (s.id.as_str(), s.definition.title.as_str())).collect();
    let answered: std::collections::HashSet<&str> = mine.iter().map(|s| s.study_id.as_str()).collect();
    let offers: Vec<_> = visible
        .iter()
        .filter(|s| {
            matches!(s.status, StudyStatus::Open | StudyStatus::InProgress)
                && !answered.contains(s.id.as_str())
        })
        .collect();
    let viewer = Viewer::new(&state, &caller);
    Ok(layout::page(
        "Offers and sessions",
        &viewer,
        "/app/tester",
        html! {
            h1 { "Offers and sessions" }
            h2 { "Open offers" }
            @if offers.is_empty() {
                p { "No open offer matches your profile right now. New offers also arrive on Telegram when you link it." }
            } @else {
                ul {
                    @for s in &offers {
                        li {
                            strong { (s.definition.title) }
                            " — " (s.definition.compensation.amount) " " (s.definition.compensation.currency)
                            ", " ((s.tester_count - s.seats_taken).max(0)) " seats left. "
                            span.muted { (s.definition.description) }
                        }
                    }
                }
                p.muted { "Accept an offer in the browser extension; it starts the session and records it." }
            }
            h2 { "Your sessions" }
            @if mine.is_empty() {
                p { "You have no session yet." }
            } @else {
                div.table-wrap { table {
                    caption { (total) " sessions" }
                    thead { tr { th scope="col" { "Study" } th scope="col" { "Status" } th scope="col" { "Started" } th scope="col" { "Next step" } } }
                    tbody { @for s in &mine { tr {
                        th scope="row" { (titles.get(s.study_id.as_str()).copied().unwrap_or("Study")) }
                        td { (s.status.as_str()) }
                        td { (when(s.started_at)) }
                        td {
                            @if s.status == SessionStatus::Analyzed {
                                a href={"/app/sessions/" (s.id)} { "Check the findings" }
                            } @else if s.status == SessionStatus::Confirmed {
                                a href={"/app/sessions/" (s.id)} { "See your answers" }
                            } @else { "—" }
                        }
                    } } }
                } }
            }
        },
    ))
}
