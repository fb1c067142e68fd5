//! The tester's page: open offers that match their profile, with accept and decline, and their
//! own sessions (those awaiting their confirmation first) with a link to each session's
//! confirmation page.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::layout::{self, Viewer, when};
use super::web::{Pressed, see_other, shown_refusal};
use crate::domain::ids::StudyId;
use crate::domain::{Role, SessionStatus, StudyStatus};
use crate::error::{AppError, AppResult};
use crate::http::extract::UserJwt;
use crate::http::state::AppState;
use crate::services::sessions::{self, SessionFilter};
use crate::services::studies;
use crate::store::Page;

/// What the page says after an action.
#[derive(Debug, serde::Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// `/app/tester`.
pub async fn home(
    State(state): State<AppState>,
    caller: UserJwt,
    Query(q): Query<DoneQuery>,
) -> AppResult<Response> {
    let notice = match q.done.as_deref() {
        Some("accepted") => {
            Some("Offer accepted. Start the session in the browser extension when you are ready.")
        }
        Some("declined") => Some("Offer declined. It will not be offered to you again."),
        _ => None,
    };
    render(&state, &caller, StatusCode::OK, notice, None).await
}

/// Accepts an offer (the API's rules: eligibility, seats, verified address when required).
pub async fn accept(
    State(state): State<AppState>,
    Path(id): Path<StudyId>,
    Pressed(caller): Pressed<UserJwt>,
) -> AppResult<Response> {
    match studies::accept(&state, &caller, &id).await {
        Ok(_) => Ok(see_other("/app/tester?done=accepted", None)),
        Err(e) => {
            let (status, message) = shown_refusal(e)?;
            render(&state, &caller, status, None, Some(&message)).await
        }
    }
}

/// Declines an offer.
pub async fn decline(
    State(state): State<AppState>,
    Path(id): Path<StudyId>,
    Pressed(caller): Pressed<UserJwt>,
) -> AppResult<Response> {
    match studies::decline(&state, &caller, &id).await {
        Ok(()) => Ok(see_other("/app/tester?done=declined", None)),
        Err(e) => {
            let (status, message) = shown_refusal(e)?;
            render(&state, &caller, status, None, Some(&message)).await
        }
    }
}

/// A session's status in words.
pub fn session_words(s: SessionStatus) -> &'static str {
    match s {
        SessionStatus::Active => "In progress",
        SessionStatus::Paused => "Paused",
        SessionStatus::Completed => "Completed, being analysed",
        SessionStatus::Analyzed => "Waiting for your confirmation",
        SessionStatus::Confirmed => "Confirmed",
        SessionStatus::Abandoned => "Abandoned",
    }
}

async fn render(
    state: &AppState,
    caller: &UserJwt,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> AppResult<Response> {
    let state = state.clone();
    if caller.role != Role::Tester {
        return Err(AppError::Forbidden("This page is for testers".into()));
    }
    let first = Page { page: 1, limit: 100 };
    let (visible, _) = studies::list(&state, caller, None, first).await?;
    let filter = SessionFilter { study_id: None, status: None };
    let (mut mine, total) = sessions::list(&state, caller, &filter, first).await?;
    // What waits for the tester comes first.
    mine.sort_by_key(|s| s.status != SessionStatus::Analyzed);
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
    let viewer = Viewer::new(&state, caller);
    let mut res = layout::page(
        "Offers and sessions",
        &viewer,
        "/app/tester",
        html! {
            h1 { "Offers and sessions" }
            @if let Some(n) = notice { div.notice role="status" { p { (n) } } }
            @if let Some(e) = error { div.error role="alert" { p { (e) } } }
            h2 { "Open offers" }
            @if offers.is_empty() {
                p { "No open offer matches your profile right now. New offers also arrive on Telegram when you link it." }
            } @else {
                ul {
                    @for s in &offers {
                        li {
                            strong { (s.definition.title) }
                            " — " (s.definition.compensation.amount) " " (s.definition.compensation.currency)
                            ", " (seats((s.tester_count - s.seats_taken).max(0))) " left. "
                            span.muted { (s.definition.description) }
                            div.actions {
                                form method="post" action={"/app/offers/" (s.id) "/accept"} {
                                    input type="hidden" name="csrf" value=(viewer.csrf);
                                    button type="submit" aria-label={"Accept " (s.definition.title)} { "Accept" }
                                }
                                form method="post" action={"/app/offers/" (s.id) "/decline"} {
                                    input type="hidden" name="csrf" value=(viewer.csrf);
                                    button.secondary type="submit" aria-label={"Decline " (s.definition.title)} { "Decline" }
                                }
                            }
                        }
                    }
                }
                p.muted { "After accepting, start the session in the browser extension; it records the session." }
            }
            h2 { "Your sessions" }
            @if mine.is_empty() {
                p { "You have no session yet." }
            } @else {
                div.table-wrap { table {
                    caption { (if total == 1 { "1 session".to_owned() } else { format!("{total} sessions") }) }
                    thead { tr { th scope="col" { "Study" } th scope="col" { "Status" } th scope="col" { "Started" } th scope="col" { "Next step" } } }
                    tbody { @for s in &mine { tr {
                        th scope="row" { (titles.get(s.study_id.as_str()).copied().unwrap_or("Study")) }
                        td { (session_words(s.status)) }
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
    );
    *res.status_mut() = status;
    Ok(res)
}

/// `1 seat`, `3 seats`.
fn seats(n: i64) -> String {
    if n == 1 { "1 seat".into() } else { format!("{n} seats") }
}
