//! Accounts in the store: users, organizations, sign-in sessions, API tokens, audit log.

use async_trait::async_trait;

use super::{Page, StoreResult};
use crate::domain::ids::{OrgId, UserId};
use crate::domain::{Plan, Role, Scope, UserStatus};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub plan: Plan,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    pub organization_id: Option<OrgId>,
    pub status: UserStatus,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the current address was proven (a link mailed to it was used).
    pub email_verified_at: Option<i64>,
    /// Owner or member, for a business account in an organization.
    pub org_role: Option<crate::domain::OrgRole>,
}

/// A user together with the stored password hash (sign-in only).
#[derive(Debug, Clone)]
pub struct UserCredentials {
    pub user: User,
    pub password_hash: String,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    pub password_hash: String,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub id: OrgId,
    pub name: String,
    pub created_at: i64,
}

/// A refresh token to insert (its hash only).
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub id: String,
    pub token_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// The identity facts the auth middleware needs, read fresh per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalRecord {
    pub user_id: UserId,
    pub role: Role,
    pub organization_id: Option<OrgId>,
    pub plan: Plan,
}

/// Result of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// Exchanged: the old token is spent, the new one stored in the same family.
    Rotated { session_id: String, principal: PrincipalRecord },
    /// A spent token came back: the whole family has now been revoked.
    ReuseDetected,
    /// Unknown, expired or revoked.
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: String,
    pub user_id: UserId,
    pub name: String,
    pub token_prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub id: String,
    pub user_id: UserId,
    pub name: String,
    pub token_hash: String,
    pub token_prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

/// An API token resolved for authentication.
#[derive(Debug, Clone)]
pub struct ApiTokenAuth {
    pub token_id: String,
    pub scopes: Vec<Scope>,
    pub last_used_at: Option<i64>,
    pub principal: PrincipalRecord,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: String,
    /// Who made the change; `None` for the system.
    pub actor_id: Option<UserId>,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    /// JSON text (admin writes: `{before, after}`).
    pub details: String,
    pub created_at: i64,
    /// The HTTP request that made the change, when there was one.
    pub request_id: Option<String>,
}

/// Accounts: users, organizations, sign-in sessions, refresh and API tokens, audit.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    // --- users and organizations
    /// Creates a user, and its organization when given, in one transaction.
    async fn create_user(&self, user: NewUser, org: Option<NewOrganization>) -> StoreResult<User>;
    async fn get_user(&self, user_id: &UserId) -> StoreResult<Option<User>>;
    async fn find_credentials(&self, email: &str) -> StoreResult<Option<UserCredentials>>;
    async fn update_user_name(&self, user_id: &UserId, full_name: &str, now: i64) -> StoreResult<User>;
    async fn get_organization(&self, org_id: &OrgId) -> StoreResult<Option<Organization>>;
    /// Admin action: changes the plan and writes the audit entry in the same transaction.
    async fn set_organization_plan(
        &self,
        org_id: &OrgId,
        plan: Plan,
        audit: AuditEntry,
    ) -> StoreResult<Organization>;

    // --- sign-in sessions and refresh tokens
    async fn create_auth_session(
        &self,
        session_id: &str,
        user_id: &UserId,
        refresh: NewRefreshToken,
    ) -> StoreResult<()>;
    /// Rotation with reuse detection, atomically.
    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        next: NewRefreshToken,
        now: i64,
    ) -> StoreResult<RefreshOutcome>;
    /// Revokes a sign-in session of `user_id` (no-op if already revoked or not theirs).
    async fn revoke_auth_session(
        &self,
        session_id: &str,
        user_id: &UserId,
        reason: crate::domain::Revocation,
        now: i64,
    ) -> StoreResult<()>;
    /// The principal behind a live sign-in session of an active user.
    async fn principal_for_session(
        &self,
        session_id: &str,
        user_id: &UserId,
    ) -> StoreResult<Option<PrincipalRecord>>;

    // --- API tokens (tenant: the owning user)
    async fn create_api_token(&self, token: NewApiToken) -> StoreResult<ApiToken>;
    async fn list_api_tokens(&self, user_id: &UserId, page: Page) -> StoreResult<(Vec<ApiToken>, u64)>;
    /// Revokes the token if it belongs to `user_id`; `None` when absent or another user's.
    async fn revoke_api_token(
        &self,
        user_id: &UserId,
        token_id: &str,
        now: i64,
    ) -> StoreResult<Option<ApiToken>>;
    /// A live (unrevoked, unexpired) token of an active user, by hash.
    async fn api_token_for_auth(&self, token_hash: &str, now: i64) -> StoreResult<Option<ApiTokenAuth>>;
    async fn touch_api_token(&self, token_id: &str, now: i64) -> StoreResult<()>;

    // --- audit
    async fn list_audit(&self, page: Page) -> StoreResult<(Vec<AuditEntry>, u64)>;
}
