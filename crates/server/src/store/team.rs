//! Accounts people can recover and organisations with members (api.md §12), in the store:
//! one-time account links (stored as SHA-256 only), members and invitations, per-reader
//! notification read state, and the OAuth clients a user connected.
//!
//! Every write that checks a rule (a live link, the last owner) does it in the transaction
//! that writes, so two requests cannot both pass the check.

use async_trait::async_trait;

use super::{NewUser, StoreResult, User};
use crate::domain::ids::{OrgId, UserId};
use crate::domain::{AccountTokenPurpose, OrgRole, Tenant};

/// A one-time link to store (its hash only).
#[derive(Debug, Clone)]
pub struct NewAccountToken {
    pub id: String,
    pub user_id: UserId,
    pub purpose: AccountTokenPurpose,
    pub token_hash: String,
    /// The address the link proves (verification: the current one; change: the new one).
    pub email: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// An invitation to join an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: String,
    pub organization_id: OrgId,
    pub organization_name: String,
    pub email: String,
    pub org_role: OrgRole,
    pub invited_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// An invitation to insert.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub id: String,
    pub organization_id: OrgId,
    pub email: String,
    pub org_role: OrgRole,
    pub invited_by: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What using an invitation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinOutcome {
    /// The user is now in the organization (the user as they are now).
    Joined(User),
    /// Unknown, spent, revoked or expired.
    Invalid,
    /// The user is the last owner of another organization that has other members.
    LastOwner,
}

/// What removing a member did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveOutcome {
    Removed,
    /// No such member of this organization.
    NotFound,
    /// The member is the organization's last owner.
    LastOwner,
}

/// An OAuth client the user authorised, with its live grants summed up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub client_id: String,
    pub client_name: String,
    /// Space-separated union of the live grants' scopes.
    pub scopes: String,
    pub connected_at: i64,
    /// When the client last obtained a token (an authorization or a refresh).
    pub last_used_at: i64,
}

/// Account links, members, invitations, read state, connected applications.
#[async_trait]
pub trait TeamStore: Send + Sync + 'static {
    // --- one-time account links
    /// Stores a link; the user's earlier unspent links of the same purpose are superseded.
    async fn create_account_token(&self, t: NewAccountToken) -> StoreResult<()>;
    /// When the user's newest link of `purpose` was made.
    async fn last_account_token_at(
        &self,
        user_id: &UserId,
        purpose: AccountTokenPurpose,
    ) -> StoreResult<Option<i64>>;
    /// Spends a live reset link: sets the password hash, marks the address verified and
    /// revokes every sign-in of the user, in one transaction. `None`: no live link.
    async fn reset_password(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: i64,
    ) -> StoreResult<Option<User>>;
    /// Spends a live verification link whose address is still the user's.
    async fn verify_email(&self, token_hash: &str, now: i64) -> StoreResult<Option<User>>;
    /// Spends a live email-change link and moves the user to its address (verified); returns
    /// the old address with the user. `Conflict` when another account took the address.
    async fn change_email(&self, token_hash: &str, now: i64) -> StoreResult<Option<(String, User)>>;
    /// The stored password hash.
    async fn password_hash(&self, user_id: &UserId) -> StoreResult<Option<String>>;
    /// Sets the password hash and revokes every sign-in of the user except `keep_session`.
    async fn set_password(
        &self,
        user_id: &UserId,
        password_hash: &str,
        keep_session: Option<&str>,
        now: i64,
    ) -> StoreResult<()>;

    // --- members and invitations (tenant: the organization)
    /// Active and suspended members, owners first, then by joining.
    async fn list_members(&self, org_id: &OrgId) -> StoreResult<Vec<User>>;
    async fn create_invitation(&self, inv: NewInvitation) -> StoreResult<Invitation>;
    /// Invitations neither accepted, revoked nor expired, newest first.
    async fn list_invitations(&self, org_id: &OrgId, now: i64) -> StoreResult<Vec<Invitation>>;
    /// Any invitation by id (the mail job; no tenant).
    async fn get_invitation(&self, tenant: &Tenant, invitation_id: &str) -> StoreResult<Option<Invitation>>;
    /// Records the hash of the link just mailed (a newer mail replaces the older link).
    async fn set_invitation_token(
        &self,
        tenant: &Tenant,
        invitation_id: &str,
        token_hash: &str,
    ) -> StoreResult<()>;
    /// A live invitation by its link.
    async fn invitation_by_token(&self, token_hash: &str, now: i64) -> StoreResult<Option<Invitation>>;
    /// Revokes a pending invitation of `org_id`; false when there is none.
    async fn revoke_invitation(&self, org_id: &OrgId, invitation_id: &str, now: i64) -> StoreResult<bool>;
    /// A signed-in business account joins with a live invitation addressed to `email`.
    async fn join_organization(
        &self,
        token_hash: &str,
        user_id: &UserId,
        email: &str,
        now: i64,
    ) -> StoreResult<JoinOutcome>;
    /// Sign-up with an invitation: the user is created in the inviting organization with its
    /// role and a verified address, and the invitation spent, in one transaction. `None`: no
    /// live invitation for this address.
    async fn create_invited_user(
        &self,
        user: NewUser,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<User>>;
    /// Takes `user_id` out of `org_id` unless they are its last owner.
    async fn remove_member(&self, org_id: &OrgId, user_id: &UserId, now: i64) -> StoreResult<RemoveOutcome>;

    // --- notification read state (per reader)
    /// Marks one notification the reader may see as read; false when they may not see it.
    async fn mark_notification_read(
        &self,
        tenant: &Tenant,
        user_id: &UserId,
        notification_id: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// Marks everything the reader may see as read; returns how many were unread.
    async fn mark_all_notifications_read(
        &self,
        tenant: &Tenant,
        user_id: &UserId,
        now: i64,
    ) -> StoreResult<u64>;
    async fn unread_notifications(&self, tenant: &Tenant, user_id: &UserId) -> StoreResult<u64>;

    // --- connected applications
    /// Clients with a live grant of the user, most recently used first.
    async fn list_connections(&self, user_id: &UserId) -> StoreResult<Vec<Connection>>;
    /// Revokes every grant (so every token) of the user to `client_id`; false when none was live.
    async fn revoke_connection(
        &self,
        user_id: &UserId,
        client_id: &str,
        reason: crate::domain::Revocation,
        now: i64,
    ) -> StoreResult<bool>;
}
