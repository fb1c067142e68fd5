//! Organisations with owners and members (api.md §12), the caller's notification read state
//! and the OAuth clients they connected. Members act on all of the organization's studies
//! (the store scopes every study query to the organization); owners also manage members.

use crate::app::App;
use crate::auth::principal::Principal;
use crate::auth::secrets::sha256_hex;
use crate::domain::ids::{OrgId, UserId, new_id, prefix};
use crate::domain::{Email, OrgRole, Role, Tenant};
use crate::error::{AppError, AppResult};
use crate::services::mail::{self, MailJob};
use crate::store::{
    Connection, Invitation, JoinOutcome, NewInvitation, NotificationRow, Page, RemoveOutcome, User,
};

/// How long an invitation works (api.md §12: 7 days).
pub const INVITATION_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// The caller's organization (a business account in one).
fn org_of(p: &Principal) -> AppResult<OrgId> {
    match (&p.role, &p.organization_id) {
        (Role::Business, Some(org)) => Ok(org.clone()),
        _ => Err(AppError::Forbidden("This needs a business account in an organization".into())),
    }
}

/// The caller's organization, if they are one of its owners.
pub async fn owned_org(state: &App, p: &Principal) -> AppResult<OrgId> {
    let org = org_of(p)?;
    let user = state.store.get_user(&p.user_id).await?;
    if user.and_then(|u| u.org_role) != Some(OrgRole::Owner) {
        return Err(AppError::Forbidden("Only an owner of the organization can do this".into()));
    }
    Ok(org)
}

/// The members of the caller's organization, owners first.
pub async fn members(state: &App, p: &Principal) -> AppResult<Vec<User>> {
    Ok(state.store.list_members(&org_of(p)?).await?)
}

/// Pending invitations of the caller's organization.
pub async fn invitations(state: &App, p: &Principal) -> AppResult<Vec<Invitation>> {
    Ok(state.store.list_invitations(&org_of(p)?, state.now()).await?)
}

/// Invites `email` as `role` (owners only) and mails the link.
pub async fn invite(state: &App, p: &Principal, email: &str, role: OrgRole) -> AppResult<Invitation> {
    let org = owned_org(state, p).await?;
    let email = Email::parse(email).map_err(|m| AppError::Unprocessable(format!("email: {m}")))?;
    let members = state.store.list_members(&org).await?;
    if members.iter().any(|m| m.email == email.as_str()) {
        return Err(AppError::Unprocessable("email: is already a member of the organization".into()));
    }
    let now = state.now();
    let inv = state
        .store
        .create_invitation(NewInvitation {
            id: new_id(prefix::INVITATION, now),
            organization_id: org.clone(),
            email: email.as_str().to_owned(),
            org_role: role,
            invited_by: p.user_id.to_string(),
            created_at: now,
            expires_at: now + INVITATION_TTL_MS,
        })
        .await?;
    mail::enqueue(state, &MailJob::Invitation { invitation_id: inv.id.clone() }, Some(&org)).await?;
    Ok(inv)
}

/// Withdraws a pending invitation (owners only).
pub async fn revoke_invitation(state: &App, p: &Principal, invitation_id: &str) -> AppResult<()> {
    let org = owned_org(state, p).await?;
    if state.store.revoke_invitation(&org, invitation_id, state.now()).await? {
        Ok(())
    } else {
        Err(AppError::not_found("Invitation"))
    }
}

/// The live invitation behind a link (the dashboard's accept page).
pub async fn invitation_for(state: &App, token: &str) -> AppResult<Invitation> {
    state.store.invitation_by_token(&sha256_hex(token.trim()), state.now()).await?.ok_or_else(bad_invitation)
}

fn bad_invitation() -> AppError {
    AppError::Unprocessable(
        "token: this invitation is invalid, used, expired or addressed to another email".into(),
    )
}

/// A signed-in business account joins the organization of an invitation sent to its address.
pub async fn accept(state: &App, p: &Principal, token: &str) -> AppResult<User> {
    if p.role != Role::Business {
        return Err(AppError::Forbidden("Only business accounts can join an organization".into()));
    }
    let user = state
        .store
        .get_user(&p.user_id)
        .await?
        .ok_or_else(|| AppError::Unauthorized("Account no longer exists".into()))?;
    match state.store.join_organization(&sha256_hex(token.trim()), &user.id, &user.email, state.now()).await?
    {
        JoinOutcome::Joined(user) => Ok(user),
        JoinOutcome::Invalid => Err(bad_invitation()),
        JoinOutcome::LastOwner => Err(AppError::Unprocessable(
            "You are the last owner of your current organization: make another member an owner first".into(),
        )),
    }
}

/// Takes a member out of the caller's organization: owners remove anyone, anyone may leave;
/// the last owner cannot go.
pub async fn remove_member(state: &App, p: &Principal, user_id: &UserId) -> AppResult<()> {
    let org = if *user_id == p.user_id { org_of(p)? } else { owned_org(state, p).await? };
    match state.store.remove_member(&org, user_id, state.now()).await? {
        RemoveOutcome::Removed => Ok(()),
        RemoveOutcome::NotFound => Err(AppError::not_found("Member")),
        RemoveOutcome::LastOwner => Err(AppError::Unprocessable(
            "The last owner cannot leave: make another member an owner first".into(),
        )),
    }
}

/// Whose notifications the caller reads: a business account outside any organization reads
/// only its own.
fn reader(p: &Principal) -> Tenant {
    p.tenant().unwrap_or_else(|_| Tenant::Tester(p.user_id.clone()))
}

/// The caller's notifications, newest first (only unread ones with `unread_only`).
pub async fn notifications(
    state: &App,
    p: &Principal,
    unread_only: bool,
    page: Page,
) -> AppResult<(Vec<NotificationRow>, u64)> {
    Ok(state.store.list_notifications(&reader(p), &p.user_id, unread_only, page).await?)
}

/// How many notifications the caller has not read.
pub async fn unread_count(state: &App, p: &Principal) -> AppResult<u64> {
    Ok(state.store.unread_notifications(&reader(p), &p.user_id).await?)
}

/// Marks one of the caller's notifications read (again is fine).
pub async fn mark_read(state: &App, p: &Principal, notification_id: &str) -> AppResult<()> {
    if state.store.mark_notification_read(&reader(p), &p.user_id, notification_id, state.now()).await? {
        Ok(())
    } else {
        Err(AppError::not_found("Notification"))
    }
}

/// Marks every notification of the caller read; returns how many were unread.
pub async fn mark_all_read(state: &App, p: &Principal) -> AppResult<u64> {
    Ok(state.store.mark_all_notifications_read(&reader(p), &p.user_id, state.now()).await?)
}

/// The applications the caller authorised (OAuth), most recently used first.
pub async fn connections(state: &App, p: &Principal) -> AppResult<Vec<Connection>> {
    Ok(state.store.list_connections(&p.user_id).await?)
}

/// Revokes every token the caller gave `client_id`.
pub async fn revoke_connection(state: &App, p: &Principal, client_id: &str) -> AppResult<()> {
    if state
        .store
        .revoke_connection(&p.user_id, client_id, crate::domain::Revocation::RevokedByUser, state.now())
        .await?
    {
        Ok(())
    } else {
        Err(AppError::not_found("Connection"))
    }
}
