//! The dashboard at `/app`: server-rendered pages (maud, compiled into the binary) for
//! businesses, testers and admins, over the same services as the JSON API. No script but two
//! first-party ones where they earn their place (a running study's progress, the replay player),
//! every asset embedded, a strict CSP; signed in with a cookie that carries the ordinary access token,
//! so the API's own authentication, rate limits and revocation apply unchanged.
//!
//! Handlers follow the API's rule: extract, call one service, render. Errors are the one
//! `AppError`; `web::pages` renders them as pages.

mod account;
mod admin;
mod business;
mod charts;
mod inbox;
mod layout;
pub mod progress;
mod replay;
mod session;
mod settings;
mod study_form;
pub mod svg;
mod tester;
pub mod web;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;

use crate::domain::Role;
use crate::error::{AppError, AppResult};
use crate::http::extract::UserJwt;
use crate::http::state::AppState;
use crate::services::accounts;
use web::{Form, Pressed, see_other};

/// The dashboard's routes (the caller wraps them in `web::pages`, auth and rate limits).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app", get(home))
        .route("/app/", get(home))
        .route("/app/signin", get(signin_page).post(signin))
        .route("/app/signout", post(signout))
        .route("/app/assets/app.css", get(stylesheet))
        .route("/app/studies", get(business::studies))
        .route("/app/studies/new", get(study_form::new_page).post(study_form::create))
        .route("/app/studies/{id}", get(business::study))
        .route("/app/studies/{id}/progress", get(progress::progress))
        .route("/app/assets/progress.js", get(progress::script))
        .route("/app/studies/{id}/edit", get(study_form::edit_page).post(study_form::edit))
        .route("/app/studies/{id}/launch", post(study_form::launch))
        .route("/app/studies/{id}/close", post(study_form::close))
        .route("/app/studies/{id}/report", post(business::request_report))
        .route("/app/studies/{id}/report.csv", get(business::report_csv))
        .route("/app/studies/{id}/shares", post(business::create_share))
        .route("/app/studies/{id}/shares/{share_id}/revoke", post(business::revoke_share))
        .route("/app/sessions/{id}/exclusion", post(business::exclusion))
        .route("/app/share/{token}", get(business::shared))
        .route("/app/sessions/{id}", get(session::page))
        .route("/app/sessions/{id}/confirm", post(session::confirm))
        .route("/app/sessions/{id}/export", get(session::export))
        .route("/app/sessions/{id}/replay", get(replay::page))
        .route("/app/sessions/{id}/recording.json", get(replay::data))
        .route("/app/assets/rrweb-replay.js", get(replay::player_js))
        .route("/app/assets/rrweb-replay.css", get(replay::player_css))
        .route("/app/assets/replay.js", get(replay::page_js))
        .route("/app/tester", get(tester::home))
        .route("/app/admin/testers", get(admin::testers))
        .route("/app/admin/testers/{id}/suspend", post(admin::suspend))
        .route("/app/admin/testers/{id}/reinstate", post(admin::reinstate))
        .route("/app/admin/quiz", get(admin::quiz))
        .route("/app/admin/audit", get(admin::audit))
        // Accounts and organisations (api.md §12).
        .route("/app/signup", get(account::signup_page).post(account::signup))
        .route("/app/forgot-password", get(account::forgot_page).post(account::forgot))
        .route("/app/reset-password", get(account::reset_page).post(account::reset))
        .route("/app/verify-email", get(account::verify_page).post(account::verify))
        .route("/app/confirm-email", get(account::change_page).post(account::change))
        .route("/app/invitations/accept", get(account::invitation_page).post(account::accept_invitation))
        .route("/app/settings", get(settings::page))
        .route("/app/settings/verify-email", post(settings::verify_email))
        .route("/app/settings/email", post(settings::change_email))
        .route("/app/settings/password", post(settings::change_password))
        .route("/app/settings/invitations", post(settings::invite))
        .route("/app/settings/invitations/{id}/withdraw", post(settings::withdraw))
        .route("/app/settings/members/{id}/remove", post(settings::remove_member))
        .route("/app/settings/tokens", post(settings::create_token))
        .route("/app/settings/tokens/{id}/revoke", post(settings::revoke_token))
        .route("/app/settings/webhooks", post(settings::create_webhook))
        .route("/app/settings/webhooks/{id}/delete", post(settings::delete_webhook))
        .route("/app/settings/connections/{id}/revoke", post(settings::revoke_connection))
        .route("/app/notifications", get(inbox::page))
        .route("/app/notifications/read-all", post(inbox::mark_all_read))
        .route("/app/notifications/{id}/read", post(inbox::mark_read))
        .route("/app/offers/{id}/accept", post(tester::accept))
        .route("/app/offers/{id}/decline", post(tester::decline))
}

/// `/app`: each role's first page.
async fn home(caller: UserJwt) -> Response {
    let to = match caller.role {
        Role::Business | Role::Admin => "/app/studies",
        Role::Tester => "/app/tester",
    };
    see_other(to, None)
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        layout::CSS,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

fn signin_form(next: &str, csrf: &str, email: &str, error: Option<&str>) -> maud::Markup {
    html! {
        h1 { "Sign in" }
        @if let Some(e) = error {
            div.error role="alert" #signin-error { p { (e) } }
        }
        form.stack method="post" action="/app/signin" {
            input type="hidden" name="next" value=(next);
            input type="hidden" name="csrf" value=(csrf);
            div {
                label for="email" { "Email" }
                input #email type="email" name="email" value=(email) autocomplete="username" required
                    aria-describedby=[error.map(|_| "signin-error")];
            }
            div {
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
            }
            div { button type="submit" { "Sign in" } }
        }
        p { a href="/app/forgot-password" { "Forgot your password?" } }
        p { "New to OpenScouter? " a href="/app/signup" { "Create an account" } }
    }
}

/// The sign-in page (or the form again, with a message): its CSRF token is bound to this
/// browser's pre-sign-in cookie, set here when missing.
fn signin_response(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    email: &str,
    error: Option<&str>,
) -> Response {
    let (presession, set) = web::signin_presession(state, headers);
    let csrf = web::signin_csrf(state, &presession);
    let mut res = layout::public(status, "Sign in", signin_form(next, &csrf, email, error));
    if let Some(c) = set.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

async fn signin_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = web::safe_next(q.next.as_deref());
    signin_response(&state, &headers, StatusCode::OK, &next, "", None)
}

#[derive(Debug, Deserialize)]
struct SigninForm {
    email: String,
    password: String,
    next: Option<String>,
    #[serde(default)]
    csrf: String,
}

/// Signs in with the API's rules (same password check, same per-IP limit) and sets the cookie.
/// The form must carry the token of this browser's pre-sign-in cookie (login CSRF); a wrong
/// password re-renders the form with the message and a 401.
async fn signin(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<SigninForm>,
) -> AppResult<Response> {
    let next = web::safe_next(f.next.as_deref());
    if let Err(AppError::Forbidden(msg)) = web::check_signin_csrf(&state, &headers, &f.csrf) {
        return Ok(signin_response(&state, &headers, StatusCode::FORBIDDEN, &next, &f.email, Some(&msg)));
    }
    if f.email.len() > 254 || f.password.chars().count() > 256 {
        return Err(AppError::Unprocessable("Email or password too long".into()));
    }
    match accounts::signin(&state, &f.email, f.password).await {
        Ok((_, tokens)) => {
            let max_age = (tokens.expires_at - state.now()) / 1000;
            let mut res = see_other(&next, Some(web::session_cookie(&state, &tokens.access_token, max_age)));
            if let Ok(c) = HeaderValue::from_str(&web::clear_signin_cookie(&state)) {
                res.headers_mut().append(header::SET_COOKIE, c);
            }
            Ok(res)
        }
        Err(AppError::Unauthorized(msg)) => {
            Ok(signin_response(&state, &headers, StatusCode::UNAUTHORIZED, &next, &f.email, Some(&msg)))
        }
        Err(e) => Err(e),
    }
}

/// Ends the sign-in (its refresh and access tokens) and forgets the cookie.
async fn signout(State(state): State<AppState>, Pressed(caller): Pressed<UserJwt>) -> AppResult<Response> {
    if let crate::auth::principal::AuthMethod::Jwt { session_id } = &caller.method {
        accounts::signout(&state, &caller.user_id, session_id).await?;
    }
    Ok(see_other("/app/signin", Some(web::clear_cookie(&state))))
}
