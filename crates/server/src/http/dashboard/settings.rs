//! Settings (api.md §12): the account (verify the address, change it, change the password),
//! the organization's members and invitations, API tokens (the secret shown once), webhook
//! endpoints with their recent deliveries, and connected AI applications with revoke. Every
//! form carries the sign-in's CSRF token; a refused submit shows the page again, with its
//! navigation, the message next to its form and what was typed (never a password).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, Viewer, when};
use super::web::{Form, Pressed, check_csrf, see_other, shown_refusal};
use crate::domain::ids::UserId;
use crate::domain::{DeliveryStatus, OrgRole, Role, Scope, WebhookEvent};
use crate::error::{AppError, AppResult};
use crate::http::extract::UserJwt;
use crate::http::state::AppState;
use crate::services::{accounts, recovery, team, tokens, webhooks};
use crate::store::Page;

/// What the page says besides its content.
#[derive(Default)]
struct Flash {
    notice: Option<String>,
    /// The section (`account`, `password`, `members`, `tokens`, `webhooks`) and the message.
    error: Option<(&'static str, String)>,
    /// A secret shown once: what it is, and its value.
    secret: Option<(String, String)>,
    email: String,
    invite_email: String,
    token_name: String,
    webhook_url: String,
}

#[derive(Debug, Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

/// Success messages by code (the query never carries text to show).
fn saved_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "verify" => "A verification link is on its way to your address.",
        "email" => "A link is on its way to the new address; the change applies when you open it.",
        "password" => "Password changed. Every other sign-in has ended.",
        "invited" => "Invitation sent. It works for 7 days.",
        "withdrawn" => "Invitation withdrawn.",
        "removed" => "Member removed.",
        "revoked" => "Token revoked.",
        "webhook-deleted" => "Webhook endpoint deleted.",
        "disconnected" => "Application disconnected: its tokens no longer work.",
        _ => return None,
    })
}

fn section_error(flash: &Flash, section: &str) -> Markup {
    html! {
        @if let Some((s, msg)) = &flash.error {
            @if *s == section {
                div.error role="alert" id={(section) "-error"} { p { (msg) } }
            }
        }
    }
}

/// `GET /app/settings`.
pub async fn page(
    State(state): State<AppState>,
    caller: UserJwt,
    Query(q): Query<SavedQuery>,
) -> AppResult<Response> {
    let flash =
        Flash { notice: q.saved.as_deref().and_then(saved_text).map(str::to_owned), ..Flash::default() };
    render(&state, &caller, StatusCode::OK, flash).await
}

async fn render(state: &AppState, caller: &UserJwt, status: StatusCode, flash: Flash) -> AppResult<Response> {
    let (user, org) = accounts::me(state, caller).await?;
    let first = Page { page: 1, limit: 50 };
    let in_org = user.role == Role::Business && user.organization_id.is_some();
    let owner = user.org_role == Some(OrgRole::Owner);
    let members = if in_org { team::members(state, caller).await? } else { Vec::new() };
    let invitations = if in_org { team::invitations(state, caller).await? } else { Vec::new() };
    let api_tokens =
        if user.role == Role::Tester { Vec::new() } else { tokens::list(state, caller, first).await?.0 };
    let endpoints = if in_org { webhooks::list(state, caller, first).await?.0 } else { Vec::new() };
    let mut deliveries = Vec::new();
    for e in &endpoints {
        let (rows, _) = webhooks::deliveries(state, caller, &e.id, Page { page: 1, limit: 5 }).await?;
        deliveries.push(rows);
    }
    let connections = team::connections(state, caller).await?;
    let viewer = Viewer::new(state, caller);
    let csrf = viewer.csrf.clone();
    let body = html! {
        h1 { "Settings" }
        @if let Some(n) = &flash.notice { div.notice role="status" { p { (n) } } }
        @if let Some((what, secret)) = &flash.secret {
            div.notice role="status" {
                p { strong { (what) } " — copy it now: it is shown only once." }
                p { code #secret { (secret) } }
            }
        }

        h2 #account { "Your account" }
        (section_error(&flash, "account"))
        dl.facts {
            dt { "Name" } dd { (user.full_name) }
            dt { "Email" } dd {
                (user.email) " "
                @if user.email_verified_at.is_some() { span.badge { "Verified" } } @else { span.badge { "Not verified" } }
            }
            @if let Some(o) = &org {
                dt { "Organization" } dd { (o.name) " (" (if owner { "owner" } else { "member" }) ")" }
            }
        }
        @if user.email_verified_at.is_none() {
            form method="post" action="/app/settings/verify-email" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "Mail me a verification link" }
            }
        }
        form.stack method="post" action="/app/settings/email" {
            input type="hidden" name="csrf" value=(csrf);
            div {
                label for="new-email" { "New email address" }
                input #new-email type="email" name="email" value=(flash.email) autocomplete="email" required;
            }
            div { button.secondary type="submit" { "Change my address" } }
        }

        h2 #password { "Change password" }
        (section_error(&flash, "password"))
        form.stack method="post" action="/app/settings/password" {
            input type="hidden" name="csrf" value=(csrf);
            div {
                label for="current-password" { "Current password" }
                input #current-password type="password" name="current_password" autocomplete="current-password" required;
            }
            div {
                label for="new-password" { "New password" }
                input #new-password type="password" name="password" autocomplete="new-password" required minlength="10" aria-describedby="new-password-hint";
                p.muted #new-password-hint { "At least 10 characters. Other sign-ins end; this one stays." }
            }
            div { button type="submit" { "Change password" } }
        }

        @if in_org {
            h2 #members { "Members" }
            (section_error(&flash, "members"))
            div.table-wrap { table {
                caption { (plural(members.len(), "member", "members")) }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { "Action" } } }
                tbody { @for m in &members { tr {
                    th scope="row" { (m.full_name) }
                    td { (m.email) }
                    td { (if m.org_role == Some(OrgRole::Owner) { "Owner" } else { "Member" }) }
                    td {
                        @if m.id == user.id || owner {
                            form method="post" action={"/app/settings/members/" (m.id) "/remove"} {
                                input type="hidden" name="csrf" value=(csrf);
                                button.secondary type="submit" aria-label={(if m.id == user.id { "Leave the organization" } else { "Remove " }) (if m.id == user.id { "" } else { m.full_name.as_str() })} {
                                    (if m.id == user.id { "Leave" } else { "Remove" })
                                }
                            }
                        } @else { "—" }
                    }
                } } }
            } }
            @if owner {
                h3 { "Invite a colleague" }
                form.stack method="post" action="/app/settings/invitations" {
                    input type="hidden" name="csrf" value=(csrf);
                    div {
                        label for="invite-email" { "Their email" }
                        input #invite-email type="email" name="email" value=(flash.invite_email) required;
                    }
                    fieldset {
                        legend { "Role" }
                        label.choice { input type="radio" name="role" value="member" checked; "Member: works on every study" }
                        label.choice { input type="radio" name="role" value="owner"; "Owner: also manages members" }
                    }
                    div { button type="submit" { "Send the invitation" } }
                }
            }
            @if !invitations.is_empty() {
                div.table-wrap { table {
                    caption { (plural(invitations.len(), "pending invitation", "pending invitations")) }
                    thead { tr { th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { "Expires" } th scope="col" { "Action" } } }
                    tbody { @for i in &invitations { tr {
                        th scope="row" { (i.email) }
                        td { (if i.org_role == OrgRole::Owner { "Owner" } else { "Member" }) }
                        td { (when(i.expires_at)) }
                        td { @if owner {
                            form method="post" action={"/app/settings/invitations/" (i.id) "/withdraw"} {
                                input type="hidden" name="csrf" value=(csrf);
                                button.secondary type="submit" aria-label={"Withdraw the invitation of " (i.email)} { "Withdraw" }
                            }
                        } @else { "—" } }
                    } } }
                } }
            }
        }

        @if user.role != Role::Tester { (tokens_section(&flash, &csrf, &api_tokens)) }

        @if in_org { (webhooks_section(&flash, &csrf, &endpoints, &deliveries)) }

        (connections_section(&csrf, &connections))
    };
    let mut res = layout::page("Settings", &viewer, "/app/settings", body);
    *res.status_mut() = status;
    Ok(res)
}

/// The AI applications the caller authorised, each with a button that disconnects it.
fn connections_section(csrf: &str, connections: &[crate::store::Connection]) -> Markup {
    html! {
    h2 #connections { "Connected AI applications" }
    @if connections.is_empty() { p { "No application is connected to your account." } } @else {
        div.table-wrap { table {
            caption { (plural(connections.len(), "connected application", "connected applications")) }
            thead { tr { th scope="col" { "Application" } th scope="col" { "May" } th scope="col" { "Last used" } th scope="col" { "Action" } } }
            tbody { @for c in connections { tr {
                th scope="row" { (c.client_name) }
                td { (scope_words(&c.scopes)) }
                td { (when(c.last_used_at)) }
                td {
                    form method="post" action={"/app/settings/connections/" (c.client_id) "/revoke"} {
                        input type="hidden" name="csrf" value=(csrf);
                        button.secondary type="submit" aria-label={"Disconnect " (c.client_name)} { "Disconnect" }
                    }
                }
            } } }
        } }
    }
    }
}

/// The caller's API tokens and the form that creates one (its secret shown once, in the flash).
fn tokens_section(flash: &Flash, csrf: &str, api_tokens: &[crate::store::ApiToken]) -> Markup {
    html! {
    h2 #tokens { "API tokens" }
    (section_error(flash, "tokens"))
    p.muted { "For servers and scripts: send " code { "Authorization: Token <token>" } "." }
    @if api_tokens.is_empty() { p { "No API token yet." } } @else {
        div.table-wrap { table {
            caption { (plural(api_tokens.len(), "token", "tokens")) }
            thead { tr { th scope="col" { "Name" } th scope="col" { "Starts with" } th scope="col" { "Scopes" } th scope="col" { "Last used" } th scope="col" { "Action" } } }
            tbody { @for t in api_tokens { tr {
                th scope="row" { (t.name) }
                td { code { (t.token_prefix) "…" } }
                td { (t.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) }
                td { (t.last_used_at.map_or_else(|| "Never".to_owned(), when)) }
                td {
                    @if t.revoked_at.is_some() { "Revoked" } @else {
                        form method="post" action={"/app/settings/tokens/" (t.id) "/revoke"} {
                            input type="hidden" name="csrf" value=(csrf);
                            button.secondary type="submit" aria-label={"Revoke " (t.name)} { "Revoke" }
                        }
                    }
                }
            } } }
        } }
    }
    form.stack method="post" action="/app/settings/tokens" {
        input type="hidden" name="csrf" value=(csrf);
        div {
            label for="token-name" { "Token name" }
            input #token-name type="text" name="name" value=(flash.token_name) required maxlength="100";
        }
        fieldset {
            legend { "Scopes" }
            label.choice { input type="checkbox" name="scope" value="read" checked; "Read" }
            label.choice { input type="checkbox" name="scope" value="write"; "Write" }
            label.choice { input type="checkbox" name="scope" value="ingest"; "Ingest" }
        }
        div { button type="submit" { "Create a token" } }
    }
    }
}

/// The webhook endpoints, each with its last deliveries, and the form that adds one.
fn webhooks_section(
    flash: &Flash,
    csrf: &str,
    endpoints: &[crate::store::WebhookEndpoint],
    deliveries: &[Vec<crate::store::WebhookDelivery>],
) -> Markup {
    html! {
    h2 #webhooks { "Webhook endpoints" }
    (section_error(flash, "webhooks"))
    @if endpoints.is_empty() { p { "No webhook endpoint yet." } }
    @for (e, ds) in endpoints.iter().zip(deliveries) {
        section.endpoint aria-labelledby={"wh-" (e.id)} {
            h3 id={"wh-" (e.id)} { (e.url) }
            p { "Events: " (e.events.join(", ")) }
            @if ds.is_empty() { p.muted { "No delivery yet." } } @else {
                div.table-wrap { table {
                    caption { "Recent deliveries" }
                    thead { tr { th scope="col" { "Event" } th scope="col" { "Status" } th scope="col" { "Attempts" } th scope="col" { "Created" } } }
                    tbody { @for d in ds { tr {
                        th scope="row" { (d.event_type) }
                        td { (delivery_words(d.status)) @if let Some(code) = d.last_status { " (HTTP " (code) ")" } }
                        td.num { (d.attempts) }
                        td { (when(d.created_at)) }
                    } } }
                } }
            }
            form method="post" action={"/app/settings/webhooks/" (e.id) "/delete"} {
                input type="hidden" name="csrf" value=(csrf);
                button.secondary type="submit" aria-label={"Delete the endpoint " (e.url)} { "Delete" }
            }
        }
    }
    form.stack method="post" action="/app/settings/webhooks" {
        input type="hidden" name="csrf" value=(csrf);
        div {
            label for="webhook-url" { "Endpoint URL" }
            input #webhook-url type="text" inputmode="url" name="url" value=(flash.webhook_url) required;
        }
        fieldset {
            legend { "Events" }
            @for ev in WebhookEvent::ALL {
                label.choice { input type="checkbox" name="event" value=(ev.as_str()) checked; (ev.as_str()) }
            }
        }
        div { button type="submit" { "Add the endpoint" } }
    }
    }
}

/// `1 member`, `2 members`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn delivery_words(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Delivered => "Delivered",
        DeliveryStatus::Pending => "Waiting",
        DeliveryStatus::Failed => "Failed",
    }
}

fn scope_words(scopes: &str) -> String {
    let words: Vec<&str> = scopes
        .split(' ')
        .filter_map(|s| match s {
            "read" => Some("read your studies"),
            "draft" => Some("draft studies"),
            _ => None,
        })
        .collect();
    words.join(" and ")
}

/// Runs `action`; a refusal renders the page again with the message in `section`.
async fn submit(
    state: &AppState,
    caller: &UserJwt,
    section: &'static str,
    mut flash: Flash,
    result: AppResult<&'static str>,
) -> AppResult<Response> {
    match result {
        Ok(code) => Ok(see_other(&format!("/app/settings?saved={code}#{section}"), None)),
        Err(e) => {
            let (status, message) = shown_refusal(e)?;
            flash.error = Some((section, message));
            render(state, caller, status, flash).await
        }
    }
}

pub async fn verify_email(
    State(state): State<AppState>,
    Pressed(caller): Pressed<UserJwt>,
) -> AppResult<Response> {
    let r = recovery::request_verification(&state, &caller).await.map(|_| "verify");
    submit(&state, &caller, "account", Flash::default(), r).await
}

#[derive(Debug, Deserialize)]
pub struct EmailForm {
    csrf: String,
    #[serde(default)]
    email: String,
}

pub async fn change_email(
    State(state): State<AppState>,
    caller: UserJwt,
    Form(f): Form<EmailForm>,
) -> AppResult<Response> {
    check_csrf(&state, &caller, &f.csrf)?;
    let r = if f.email.len() > 254 {
        Err(AppError::Unprocessable("Email: at most 254 characters".into()))
    } else {
        recovery::request_email_change(&state, &caller, &f.email).await.map(|()| "email")
    };
    let flash = Flash { email: f.email.chars().take(254).collect(), ..Flash::default() };
    submit(&state, &caller, "account", flash, r).await
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    caller: UserJwt,
    Form(f): Form<PasswordForm>,
) -> AppResult<Response> {
    check_csrf(&state, &caller, &f.csrf)?;
    let r = if f.current_password.len() > 1024 || f.password.chars().count() > 256 {
        Err(AppError::Unprocessable("Password: at most 256 characters".into()))
    } else {
        recovery::change_password(&state, &caller, f.current_password, f.password).await.map(|()| "password")
    };
    let r = r.map_err(|e| match e {
        AppError::Unprocessable(m) if m.starts_with("currentPassword") => {
            AppError::Unprocessable("Current password: this is not your password".into())
        }
        AppError::Unprocessable(m) => AppError::Unprocessable(m.replacen("password:", "New password:", 1)),
        other => other,
    });
    submit(&state, &caller, "password", Flash::default(), r).await
}

#[derive(Debug, Deserialize)]
pub struct InviteForm {
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

pub async fn invite(
    State(state): State<AppState>,
    caller: UserJwt,
    Form(f): Form<InviteForm>,
) -> AppResult<Response> {
    check_csrf(&state, &caller, &f.csrf)?;
    let role = if f.role == "owner" { OrgRole::Owner } else { OrgRole::Member };
    let r = if f.email.len() > 254 {
        Err(AppError::Unprocessable("email: at most 254 characters".into()))
    } else {
        team::invite(&state, &caller, &f.email, role).await.map(|_| "invited")
    };
    let r = r.map_err(|e| match e {
        AppError::Unprocessable(m) => AppError::Unprocessable(m.replacen("email:", "Email:", 1)),
        other => other,
    });
    let flash = Flash { invite_email: f.email.chars().take(254).collect(), ..Flash::default() };
    submit(&state, &caller, "members", flash, r).await
}

pub async fn withdraw(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Pressed(caller): Pressed<UserJwt>,
) -> AppResult<Response> {
    let r = team::revoke_invitation(&state, &caller, &id).await.map(|()| "withdrawn");
    submit(&state, &caller, "members", Flash::default(), r).await
}

pub async fn remove_member(
    State(state): State<AppState>,
    Path(id): Path<UserId>,
    Pressed(caller): Pressed<UserJwt>,
) -> AppResult<Response> {
    let r = team::remove_member(&state, &caller, &id).await.map(|()| "removed");
    submit(&state, &caller, "members", Flash::default(), r).await
}

pub async fn create_token(
    State(state): State<AppState>,
    caller: UserJwt,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let field = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    check_csrf(&state, &caller, &field("csrf"))?;
    let name = field("name").trim().to_owned();
    let mut scopes: Vec<Scope> = pairs
        .iter()
        .filter(|(k, _)| k == "scope")
        .filter_map(|(_, v)| Scope::parse(v))
        .filter(|s| *s != Scope::Admin)
        .collect();
    scopes.sort_unstable();
    scopes.dedup();
    let flash = Flash { token_name: name.chars().take(100).collect(), ..Flash::default() };
    let refused = if name.is_empty() || name.chars().count() > 100 {
        Some("Token name: give 1 to 100 characters")
    } else if scopes.is_empty() {
        Some("Scopes: choose at least one")
    } else {
        None
    };
    if let Some(msg) = refused {
        return submit(&state, &caller, "tokens", flash, Err(AppError::Unprocessable(msg.into()))).await;
    }
    match tokens::create(&state, &caller, name.clone(), scopes, None).await {
        Ok((_, secret)) => {
            let flash =
                Flash { secret: Some((format!("Your new token “{name}”"), secret)), ..Flash::default() };
            render(&state, &caller, StatusCode::OK, flash).await
        }
        Err(e) => submit(&state, &caller, "tokens", flash, Err(e)).await,
    }
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Pressed(caller): Pressed<UserJwt>,
) -> AppResult<Response> {
    let r = tokens::revoke(&state, &caller, &id).await.map(|_| "revoked");
    submit(&state, &caller, "tokens", Flash::default(), r).await
}

pub async fn create_webhook(
    State(state): State<AppState>,
    caller: UserJwt,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let field = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    check_csrf(&state, &caller, &field("csrf"))?;
    let url = field("url").trim().to_owned();
    let events: Vec<String> = pairs.iter().filter(|(k, _)| k == "event").map(|(_, v)| v.clone()).collect();
    let flash = Flash { webhook_url: url.chars().take(2048).collect(), ..Flash::default() };
    match webhooks::create(&state, &caller, &url, events, None).await {
        Ok((e, secret)) => {
            let flash = Flash {
                secret: Some((format!("The signing secret of {}", e.url), secret)),
                ..Flash::default()
            };
            render(&state, &caller, StatusCode::OK, flash).await
        }
        Err(e) => submit(&state, &caller, "webhooks", flash, Err(e)).await,
    }
}

pub async fn delete_webhook(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Pressed(caller): Pressed<UserJwt>,
) -> AppResult<Response> {
    let r = webhooks::delete(&state, &caller, &id).await.map(|()| "webhook-deleted");
    submit(&state, &caller, "webhooks", Flash::default(), r).await
}

pub async fn revoke_connection(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Pressed(caller): Pressed<UserJwt>,
) -> AppResult<Response> {
    let r = team::revoke_connection(&state, &caller, &id).await.map(|()| "disconnected");
    submit(&state, &caller, "connections", Flash::default(), r).await
}
