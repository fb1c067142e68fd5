//! Admin pages: testers (filtered by status, country and ND category, with suspend and
//! reinstate), the published quiz, and the audit log.

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use maud::html;

use super::web::{Form, check_csrf, see_other, urlencode};
use crate::domain::UserStatus;
use crate::domain::codes::ND_CATEGORIES;
use crate::domain::ids::UserId;
use crate::http::extract::query::parse_query;

use super::layout::{self, Viewer, when};
use crate::error::AppResult;
use crate::http::extract::{Admin, Pagination};
use crate::http::state::AppState;
use crate::services::{accounts, governance};

/// `/app/admin/testers` (`?status=&country=&ndCategory=`, the API's filters).
pub async fn testers(
    State(state): State<AppState>,
    caller: Admin,
    Pagination(page): Pagination,
    uri: Uri,
) -> AppResult<Response> {
    let mut query = governance::TesterQuery::default();
    // The same documented struct as the API's list; the page ignores what does not fit instead
    // of refusing it, so a hand-edited address still shows the list.
    let q: crate::http::routes::admin::TestersQuery = parse_query(uri.query()).unwrap_or_default();
    let given = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    query.status = given(q.status).and_then(|v| UserStatus::parse(&v));
    query.country = given(q.country).map(|v| v.to_uppercase());
    query.nd_category = given(q.nd_category).filter(|v| ND_CATEGORIES.contains(&v.as_str()));
    let (rows, total) = governance::list_testers(&state, &query, page).await?;
    let viewer = Viewer::new(&state, &caller);
    let status = query.status.map(UserStatus::as_str).unwrap_or_default();
    let country = query.country.clone().unwrap_or_default();
    let nd = query.nd_category.clone().unwrap_or_default();
    let back = format!(
        "/app/admin/testers?status={}&country={}&ndCategory={}",
        urlencode(status),
        urlencode(&country),
        urlencode(&nd)
    );
    Ok(layout::page(
        "Testers",
        &viewer,
        "/app/admin/testers",
        html! {
            h1 { "Testers" }
            form.toolbar method="get" action="/app/admin/testers" {
                div {
                    label for="f-status" { "Status" }
                    select #f-status name="status" {
                        option value="" selected[status.is_empty()] { "Any" }
                        @for (v, l) in [("active", "Active"), ("suspended", "Suspended"), ("pending", "Pending")] {
                            option value=(v) selected[status == v] { (l) }
                        }
                    }
                }
                div {
                    label for="f-country" { "Country (two letters)" }
                    input #f-country type="text" name="country" value=(country) maxlength="2";
                }
                div {
                    label for="f-nd" { "ND category" }
                    select #f-nd name="ndCategory" {
                        option value="" selected[nd.is_empty()] { "Any" }
                        @for c in ND_CATEGORIES { option value=(c) selected[nd == c] { (c.replace('_', " ")) } }
                    }
                }
                div { button type="submit" { "Filter" } }
            }
            div.table-wrap { table {
                caption { (if total == 1 { "1 tester".to_owned() } else { format!("{total} testers") }) ", newest first" }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Status" } th scope="col" { "ND categories" }
                    th scope="col" { "Consent" } th scope="col" { "Capacity verified" } th scope="col" class="num" { "Completed sessions" } th scope="col" { "Joined" }
                    th scope="col" { "Action" }
                } }
                tbody { @for t in &rows { tr {
                    th scope="row" { (t.full_name) } td { (t.email) }
                    td { (match t.status { UserStatus::Active => "Active", UserStatus::Suspended => "Suspended", UserStatus::Pending => "Pending" }) }
                    td { (t.profile.as_ref().map(|p| p.nd_categories.join(", ").replace('_', " ")).unwrap_or_default()) }
                    td { (t.consent_version.clone().unwrap_or_else(|| "None".into())) }
                    td { (if t.capacity_verified { "Yes" } else { "No" }) }
                    td.num { (t.completed_sessions) } td { (when(t.joined_at)) }
                    td {
                        form method="post" action={"/app/admin/testers/" (t.user_id) (if t.status == UserStatus::Suspended { "/reinstate" } else { "/suspend" })} {
                            input type="hidden" name="csrf" value=(viewer.csrf);
                            input type="hidden" name="back" value=(back);
                            button.secondary type="submit" aria-label={(if t.status == UserStatus::Suspended { "Reinstate " } else { "Suspend " }) (t.full_name)} {
                                (if t.status == UserStatus::Suspended { "Reinstate" } else { "Suspend" })
                            }
                        }
                    }
                } } }
            } }
            (layout::pager("/app/admin/testers", page.page, page.limit, total))
        },
    ))
}

/// A one-button status change, back to the filtered list.
#[derive(Debug, serde::Deserialize)]
pub struct StatusForm {
    csrf: String,
    #[serde(default)]
    back: String,
}

async fn set_status(
    state: &AppState,
    caller: &Admin,
    id: &str,
    f: &StatusForm,
    status: UserStatus,
) -> AppResult<Response> {
    check_csrf(state, caller, &f.csrf)?;
    governance::set_tester_status(state, caller, &UserId::from(id), status, None).await?;
    Ok(see_other(&super::web::safe_next(Some(&f.back)), None))
}

/// Suspends a tester (audited, as `PATCH /api/admin/testers/:id`).
pub async fn suspend(
    State(state): State<AppState>,
    caller: Admin,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> AppResult<Response> {
    set_status(&state, &caller, &id, &f, UserStatus::Suspended).await
}

/// Reinstates a suspended tester.
pub async fn reinstate(
    State(state): State<AppState>,
    caller: Admin,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> AppResult<Response> {
    set_status(&state, &caller, &id, &f, UserStatus::Active).await
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
