//! Visitors' pages (api.md §12): sign up as a business or a tester (also from an invitation),
//! forgotten password and reset, the links mailed to verify or change an address, and joining
//! an organization from its invitation. Forms of visitors carry the token bound to this
//! browser's pre-sign-in cookie (as the sign-in form does); a signed-in user's forms carry the
//! sign-in's token. An invalid submit shows the form again with what was typed.

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, Viewer};
use super::web::{self, Form, see_other};
use crate::auth::principal::{AuthMethod, AuthOutcome, Principal};
use crate::domain::Role;
use crate::error::{AppError, AppResult};
use crate::http::extract::UserJwt;
use crate::http::state::AppState;
use crate::services::accounts::{self, IssuedTokens, Signup};
use crate::services::{recovery, team};

/// The signed-in user (JWT), if any: pages that serve visitors and users alike.
pub struct MaybeUser(pub Option<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        Ok(Self(match parts.extensions.get::<AuthOutcome>() {
            Some(AuthOutcome::Authenticated(p)) if matches!(p.method, AuthMethod::Jwt { .. }) => {
                Some(Principal::clone(p))
            }
            _ => None,
        }))
    }
}

/// A visitor's page with its form token: the pre-sign-in cookie is set when missing.
fn visitor_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    title: &str,
    body: impl FnOnce(&str) -> Markup,
) -> Response {
    let (presession, set) = web::signin_presession(state, headers);
    let csrf = web::signin_csrf(state, &presession);
    let mut res = layout::public(status, title, body(&csrf));
    if let Some(c) = set.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// Signs the browser in with `tokens` and sends it to `to`.
fn signed_in(state: &AppState, tokens: &IssuedTokens, to: &str) -> Response {
    let max_age = (tokens.expires_at - state.now()) / 1000;
    let mut res = see_other(to, Some(web::session_cookie(state, &tokens.access_token, max_age)));
    if let Ok(c) = HeaderValue::from_str(&web::clear_signin_cookie(state)) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

fn alert(error: Option<&str>, id: &str) -> Markup {
    html! {
        @if let Some(e) = error {
            div.error role="alert" id=(id) { p { (e) } }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
    #[serde(default)]
    invitation: String,
}

// ---------------------------------------------------------------- sign-up

#[derive(Debug, Default, Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    organization_name: String,
    #[serde(default)]
    invitation: String,
}

fn signup_form(csrf: &str, f: &SignupForm, joining: Option<&str>, error: Option<&str>) -> Markup {
    let described = error.map(|_| "signup-error");
    html! {
        @if let Some(org) = joining {
            h1 { "Join " (org) " on OpenScouter" }
            p { "Create your business account to join your colleagues. It uses the address the invitation was sent to." }
        } @else {
            h1 { "Create an account" }
            p { "Businesses run usability studies; testers take part in them and are paid for each session." }
        }
        (alert(error, "signup-error"))
        form.stack method="post" action="/app/signup" novalidate {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="invitation" value=(f.invitation);
            div {
                label for="full_name" { "Your name" }
                input #full_name type="text" name="full_name" value=(f.full_name) autocomplete="name" required maxlength="100" aria-describedby=[described];
            }
            div {
                label for="email" { "Email" }
                @if joining.is_some() {
                    input #email type="email" name="email" value=(f.email) autocomplete="email" required readonly;
                } @else {
                    input #email type="email" name="email" value=(f.email) autocomplete="email" required aria-describedby=[described];
                }
            }
            div {
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="new-password" required minlength="10" aria-describedby="password-hint";
                p.muted #password-hint { "At least 10 characters." }
            }
            @if joining.is_some() {
                input type="hidden" name="role" value="business";
            } @else {
                fieldset {
                    legend { "I am signing up as" }
                    label.choice { input type="radio" name="role" value="business" checked[f.role != "tester"]; "A business running studies" }
                    label.choice { input type="radio" name="role" value="tester" checked[f.role == "tester"]; "A tester taking part in studies" }
                }
                div {
                    label for="organization_name" { "Organization name (businesses)" }
                    input #organization_name type="text" name="organization_name" value=(f.organization_name) autocomplete="organization" maxlength="100";
                }
            }
            div { button type="submit" { "Create the account" } }
        }
        p { "Already have an account? " a href="/app/signin" { "Sign in" } }
    }
}

/// `GET /app/signup` (`?invitation=` when coming from an invitation).
pub async fn signup_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> AppResult<Response> {
    let mut f = SignupForm { invitation: q.invitation.clone(), ..SignupForm::default() };
    let joining = if q.invitation.is_empty() {
        None
    } else {
        match team::invitation_for(&state, &q.invitation).await {
            Ok(inv) => {
                f.email = inv.email;
                Some(inv.organization_name)
            }
            Err(AppError::Unprocessable(_)) => {
                return Ok(layout::error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "This invitation is invalid, used, expired or withdrawn. Ask for a new one.",
                ));
            }
            Err(e) => return Err(e),
        }
    };
    Ok(visitor_page(&state, &headers, StatusCode::OK, "Create an account", |csrf| {
        signup_form(csrf, &f, joining.as_deref(), None)
    }))
}

/// `POST /app/signup`: the API's sign-up (or joining with the invitation), then signed in.
pub async fn signup(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<SignupForm>,
) -> AppResult<Response> {
    let joining = if f.invitation.is_empty() {
        None
    } else {
        team::invitation_for(&state, &f.invitation).await.ok().map(|i| i.organization_name)
    };
    let again = |status: StatusCode, msg: &str| {
        visitor_page(&state, &headers, status, "Create an account", |csrf| {
            signup_form(csrf, &f, joining.as_deref(), Some(msg))
        })
    };
    if let Err(AppError::Forbidden(msg)) = web::check_signin_csrf(&state, &headers, &f.csrf) {
        return Ok(again(StatusCode::FORBIDDEN, &msg));
    }
    let role = match f.role.as_str() {
        "business" => Role::Business,
        "tester" => Role::Tester,
        _ => {
            return Ok(again(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Choose whether you are a business or a tester",
            ));
        }
    };
    let name = f.full_name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Ok(again(StatusCode::UNPROCESSABLE_ENTITY, "Your name: give 1 to 100 characters"));
    }
    if f.email.len() > 254 || f.password.chars().count() > 256 || f.organization_name.chars().count() > 100 {
        return Ok(again(StatusCode::UNPROCESSABLE_ENTITY, "A field is too long"));
    }
    let org = f.organization_name.trim();
    let s = Signup {
        email: f.email.clone(),
        password: f.password.clone(),
        full_name: name.to_owned(),
        role,
        organization_name: (role == Role::Business && !org.is_empty()).then(|| org.to_owned()),
    };
    let done = if f.invitation.is_empty() {
        accounts::signup(&state, s).await
    } else {
        accounts::signup_invited(&state, s, &f.invitation).await
    };
    match done {
        Ok((user, tokens)) => {
            // A new account's address is unproven: the verification link goes out at once
            // (an invitation already proved it).
            recovery::send_verification(&state, user).await?;
            Ok(signed_in(&state, &tokens, "/app"))
        }
        Err(AppError::Unprocessable(msg)) => Ok(again(StatusCode::UNPROCESSABLE_ENTITY, &words_of(&msg))),
        Err(e) => Err(e),
    }
}

/// The API's field names (`password: must be…`) in the form's words.
fn words_of(msg: &str) -> String {
    msg.replacen("email:", "Email:", 1)
        .replacen("password:", "Password:", 1)
        .replacen("organizationName:", "Organization name:", 1)
        .replacen("invitationToken:", "Invitation:", 1)
        .replacen("token:", "Link:", 1)
        .replacen("currentPassword:", "Current password:", 1)
}

// ---------------------------------------------------------------- forgotten password

#[derive(Debug, Default, Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

fn forgot_form(csrf: &str, email: &str, sent: bool, error: Option<&str>) -> Markup {
    html! {
        h1 { "Forgot your password?" }
        @if sent {
            div.notice role="status" { p { "If an account uses this address, a link to choose a new password is on its way. It works once, for 30 minutes." } }
        }
        (alert(error, "forgot-error"))
        p { "Give the address of your account; we mail you a link to choose a new password." }
        form.stack method="post" action="/app/forgot-password" {
            input type="hidden" name="csrf" value=(csrf);
            div {
                label for="email" { "Email" }
                input #email type="email" name="email" value=(email) autocomplete="email" required;
            }
            div { button type="submit" { "Mail me a link" } }
        }
        p { a href="/app/signin" { "Back to sign in" } }
    }
}

pub async fn forgot_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    visitor_page(&state, &headers, StatusCode::OK, "Forgot your password?", |csrf| {
        forgot_form(csrf, "", false, None)
    })
}

/// The same page for every address (no account enumeration).
pub async fn forgot(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<EmailForm>,
) -> AppResult<Response> {
    if let Err(AppError::Forbidden(msg)) = web::check_signin_csrf(&state, &headers, &f.csrf) {
        return Ok(visitor_page(&state, &headers, StatusCode::FORBIDDEN, "Forgot your password?", |csrf| {
            forgot_form(csrf, &f.email, false, Some(&msg))
        }));
    }
    if f.email.trim().is_empty() || f.email.len() > 254 {
        return Ok(visitor_page(
            &state,
            &headers,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Forgot your password?",
            |csrf| forgot_form(csrf, &f.email, false, Some("Email: give the address of your account")),
        ));
    }
    recovery::request_password_reset(&state, &f.email).await?;
    Ok(visitor_page(&state, &headers, StatusCode::OK, "Forgot your password?", |csrf| {
        forgot_form(csrf, &f.email, true, None)
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
}

fn reset_form(csrf: &str, token: &str, error: Option<&str>) -> Markup {
    html! {
        h1 { "Choose a new password" }
        (alert(error, "reset-error"))
        p { "Setting a new password signs you out on every other device." }
        form.stack method="post" action="/app/reset-password" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="token" value=(token);
            div {
                label for="password" { "New password" }
                input #password type="password" name="password" autocomplete="new-password" required minlength="10" aria-describedby="password-hint";
                p.muted #password-hint { "At least 10 characters." }
            }
            div { button type="submit" { "Set the new password" } }
        }
        p { a href="/app/forgot-password" { "Ask for a new link" } }
    }
}

/// The page the reset mail links to.
pub async fn reset_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    visitor_page(&state, &headers, StatusCode::OK, "Choose a new password", |csrf| {
        reset_form(csrf, &q.token, None)
    })
}

pub async fn reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<ResetForm>,
) -> AppResult<Response> {
    let again = |status: StatusCode, msg: &str| {
        visitor_page(&state, &headers, status, "Choose a new password", |csrf| {
            reset_form(csrf, &f.token, Some(msg))
        })
    };
    if let Err(AppError::Forbidden(msg)) = web::check_signin_csrf(&state, &headers, &f.csrf) {
        return Ok(again(StatusCode::FORBIDDEN, &msg));
    }
    if f.token.len() > 256 || f.password.chars().count() > 256 {
        return Ok(again(StatusCode::UNPROCESSABLE_ENTITY, "A field is too long"));
    }
    match recovery::reset_password(&state, &f.token, f.password.clone()).await {
        Ok(_) => Ok(layout::public(
            StatusCode::OK,
            "Password changed",
            html! {
                h1 { "Password changed" }
                div.notice role="status" { p { "Your new password is set, and every other sign-in has ended." } }
                p { a.button href="/app/signin" { "Sign in" } }
            },
        )),
        Err(AppError::Unprocessable(msg)) => Ok(again(StatusCode::UNPROCESSABLE_ENTITY, &words_of(&msg))),
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------- mailed address links

#[derive(Debug, Default, Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
}

/// A mailed link's page: one button that uses it (a GET never spends a link, so mail
/// scanners that open links change nothing).
fn link_form(
    csrf: &str,
    action: &str,
    token: &str,
    title: &str,
    text: &str,
    button: &str,
    error: Option<&str>,
) -> Markup {
    html! {
        h1 { (title) }
        (alert(error, "link-error"))
        p { (text) }
        form method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="token" value=(token);
            button type="submit" { (button) }
        }
    }
}

const VERIFY: (&str, &str, &str) = (
    "Confirm your email address",
    "Confirm that this address belongs to your OpenScouter account.",
    "Confirm my address",
);
const CHANGE: (&str, &str, &str) = (
    "Use your new email address",
    "Your account moves to this address when you confirm; the old address is told.",
    "Use this address",
);

pub async fn verify_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    visitor_page(&state, &headers, StatusCode::OK, VERIFY.0, |csrf| {
        link_form(csrf, "/app/verify-email", &q.token, VERIFY.0, VERIFY.1, VERIFY.2, None)
    })
}

pub async fn change_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    visitor_page(&state, &headers, StatusCode::OK, CHANGE.0, |csrf| {
        link_form(csrf, "/app/confirm-email", &q.token, CHANGE.0, CHANGE.1, CHANGE.2, None)
    })
}

async fn use_link(state: &AppState, headers: &HeaderMap, f: &LinkForm, verify: bool) -> AppResult<Response> {
    let (action, texts) = if verify { ("/app/verify-email", VERIFY) } else { ("/app/confirm-email", CHANGE) };
    let again = |status: StatusCode, msg: &str| {
        visitor_page(state, headers, status, texts.0, |csrf| {
            link_form(csrf, action, &f.token, texts.0, texts.1, texts.2, Some(msg))
        })
    };
    if let Err(AppError::Forbidden(msg)) = web::check_signin_csrf(state, headers, &f.csrf) {
        return Ok(again(StatusCode::FORBIDDEN, &msg));
    }
    let done = if verify {
        recovery::verify_email(state, &f.token).await
    } else {
        recovery::confirm_email_change(state, &f.token).await
    };
    match done {
        Ok(user) => Ok(layout::public(
            StatusCode::OK,
            "Address confirmed",
            html! {
                h1 { "Address confirmed" }
                div.notice role="status" { p { "Your account's address is now " strong { (user.email) } ", and it is verified." } }
                p { a.button href="/app" { "Go to the dashboard" } }
            },
        )),
        Err(AppError::Unprocessable(msg)) => Ok(again(StatusCode::UNPROCESSABLE_ENTITY, &words_of(&msg))),
        Err(e) => Err(e),
    }
}

pub async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<LinkForm>,
) -> AppResult<Response> {
    use_link(&state, &headers, &f, true).await
}

pub async fn change(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<LinkForm>,
) -> AppResult<Response> {
    use_link(&state, &headers, &f, false).await
}

// ---------------------------------------------------------------- invitations

/// The page an invitation mail links to: a signed-in business account joins with one button;
/// a visitor signs up (or signs in and comes back here).
pub async fn invitation_page(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Query(q): Query<TokenQuery>,
) -> AppResult<Response> {
    let inv = match team::invitation_for(&state, &q.token).await {
        Ok(inv) => inv,
        Err(AppError::Unprocessable(_)) => {
            return Ok(layout::error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "This invitation is invalid, used, expired or withdrawn. Ask for a new one.",
            ));
        }
        Err(e) => return Err(e),
    };
    let here = format!("/app/invitations/accept?token={}", web::urlencode(&q.token));
    let title = format!("Join {}", inv.organization_name);
    Ok(match user {
        Some(p) => {
            let viewer = Viewer::new(&state, &p);
            layout::page(
                &title,
                &viewer,
                "/app/settings",
                html! {
                    h1 { (title) }
                    p { "You were invited to join " strong { (inv.organization_name) } " as " (if inv.org_role == crate::domain::OrgRole::Owner { "an owner" } else { "a member" }) "." }
                    @if p.role == Role::Business {
                        form method="post" action="/app/invitations/accept" {
                            input type="hidden" name="csrf" value=(viewer.csrf);
                            input type="hidden" name="token" value=(q.token);
                            button type="submit" { "Join " (inv.organization_name) }
                        }
                    } @else {
                        div.error role="alert" { p { "Only business accounts can join an organization. Sign out and create a business account with the invited address." } }
                    }
                },
            )
        }
        None => layout::public(
            StatusCode::OK,
            &title,
            html! {
                h1 { (title) }
                p { "You were invited to join " strong { (inv.organization_name) } " on OpenScouter." }
                p { a.button href={"/app/signup?invitation=" (web::urlencode(&q.token))} { "Create my account" } }
                p { "Already have a business account with " (inv.email) "? " a href={"/app/signin?next=" (web::urlencode(&here))} { "Sign in to join" } }
            },
        ),
    })
}

/// Joins with the invitation (signed in); back to the studies, now the organization's.
pub async fn accept_invitation(
    State(state): State<AppState>,
    caller: UserJwt,
    Form(f): Form<LinkForm>,
) -> AppResult<Response> {
    web::check_csrf(&state, &caller, &f.csrf)?;
    team::accept(&state, &caller, &f.token).await?;
    Ok(see_other("/app/studies", None))
}
