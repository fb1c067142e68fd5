//! Admin pages, read-only: testers, the published quiz, and the audit log.

use axum::extract::State;
use axum::response::Response;
use maud::html;

use super::layout::{self, Viewer, when};
use crate::error::AppResult;
use crate::http::extract::{Admin, Pagination};
use crate::http::state::AppState;
use crate::services::{accounts, governance};

/// `/app/admin/testers`.
pub async fn testers(
    State(state): State<AppState>,
    caller: Admin,
    Pagination(page): Pagination,
) -> AppResult<Response> {
    let query =
        governance::TesterQuery { status: None, country: None, nd_category: None, min_sessions: None };
    let (rows, total) = governance::list_testers(&state, &query, page).await?;
    let viewer = Viewer::new(&state, &caller);
    Ok(layout::page(
        "Testers",
        &viewer,
        "/app/admin/testers",
        html! {
            h1 { "Testers" }
            div.table-wrap { table {
                caption { (total) " testers, newest first" }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Status" } th scope="col" { "ND categories" }
                    th scope="col" { "Consent" } th scope="col" { "Capacity verified" } th scope="col" class="num" { "Completed sessions" } th scope="col" { "Joined" }
                } }
                tbody { @for t in &rows { tr {
                    th scope="row" { (t.full_name) } td { (t.email) } td { (t.status) }
                    td { (t.profile.as_ref().map(|p| p.nd_categories.join(", ")).unwrap_or_default()) }
                    td { (t.consent_version.clone().unwrap_or_else(|| "none".into())) }
                    td { (if t.capacity_verified { "yes" } else { "no" }) }
                    td.num { (t.completed_sessions) } td { (when(t.joined_at)) }
                } } }
            } }
            (layout::pager("/app/admin/testers", page.page, page.limit, total))
        },
    ))
}

/// `/app/admin/quiz`.
pub async fn quiz(State(state): State<AppState>, caller: Admin) -> AppResult<Response> {
    let q = governance::admin_quiz(&state).await?;
    let viewer = Viewer::new(&state, &caller);
    Ok(layout::page(
        "Quiz",
        &viewer,
        "/app/admin/quiz",
        html! {
            h1 { "Tester quiz" }
            dl.facts {
                dt { "Version" } dd { (q.version) }
                dt { "Passing score" } dd { (q.passing_score) }
                dt { "Updated" } dd { (when(q.updated_at)) }
            }
            ol { @for question in &q.questions { li {
                p { strong { (question.text) } " (" (question.points) " points)" }
                ul { @for o in &question.options { li {
                    (o.text) @if o.id == question.correct_option_id { " — " strong { "correct answer" } }
                } } }
            } } }
            p.muted { "Publish a new version with " code { "POST /api/admin/quiz" } " (an admin token or sign-in); the new version applies to the next attempts." }
        },
    ))
}

/// `/app/admin/audit`.
pub async fn audit(
    State(state): State<AppState>,
    caller: Admin,
    Pagination(page): Pagination,
) -> AppResult<Response> {
    let (rows, total) = accounts::audit_log(&state, page).await?;
    let viewer = Viewer::new(&state, &caller);
    Ok(layout::page(
        "Audit log",
        &viewer,
        "/app/admin/audit",
        html! {
            h1 { "Audit log" }
            div.table-wrap { table {
                caption { (total) " entries, newest first" }
                thead { tr { th scope="col" { "When" } th scope="col" { "Actor" } th scope="col" { "Action" } th scope="col" { "Target" } th scope="col" { "Request" } th scope="col" { "Details" } } }
                tbody { @for e in &rows { tr {
                    td { (when(e.created_at)) }
                    td { code { (e.actor_id.clone().unwrap_or_else(|| "system".into())) } }
                    td { (e.action) }
                    td { (e.target_type) " " code { (e.target_id) } }
                    td { @if let Some(r) = &e.request_id { code { (r) } } @else { "—" } }
                    td { details { summary { "Show" } code { (e.details) } } }
                } } }
            } }
            (layout::pager("/app/admin/audit", page.page, page.limit, total))
        },
    ))
}
