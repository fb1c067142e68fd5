//! The OAuth authorization server and MCP sessions in the store: clients, consents, codes,
//! grants with their tokens, and handshake-era MCP sessions. Secrets arrive hashed; the rules
//! (lifetimes, PKCE, redirect matching, scopes) are the services'; the SQL only makes each
//! write atomic.

use async_trait::async_trait;

use super::{PrincipalRecord, StoreResult};
use crate::domain::OAuthScope;
use crate::domain::ids::{OrgId, UserId};

/// A registered (public) client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    pub id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<OAuthScope>,
    /// JSON of the accepted registration metadata.
    pub metadata: String,
    pub created_at: i64,
}

/// A sign-in on the authorization page waiting for the user's decision.
#[derive(Debug, Clone)]
pub struct NewConsent {
    pub id: String,
    pub secret_hash: String,
    pub csrf_hash: String,
    pub user_id: UserId,
    pub organization_id: OrgId,
    pub client_id: String,
    /// JSON of the validated authorization request.
    pub request: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A consent taken for a decision (it cannot be taken twice).
#[derive(Debug, Clone)]
pub struct ConsentRow {
    pub id: String,
    pub csrf_hash: String,
    pub user_id: UserId,
    pub organization_id: OrgId,
    pub client_id: String,
    pub request: String,
    pub expires_at: i64,
}

/// An authorization code (its hash) and what it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthCode {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: UserId,
    pub organization_id: OrgId,
    pub redirect_uri: String,
    pub scopes: Vec<OAuthScope>,
    pub code_challenge: String,
    pub resource: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// A token to store (its hash only).
#[derive(Debug, Clone)]
pub struct NewOAuthToken {
    pub id: String,
    pub token_hash: String,
    pub scopes: Vec<OAuthScope>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A new grant: the family the first token pair belongs to.
#[derive(Debug, Clone)]
pub struct NewGrant {
    pub id: String,
    pub client_id: String,
    pub user_id: UserId,
    pub organization_id: OrgId,
    pub scopes: Vec<OAuthScope>,
    pub resource: Option<String>,
    pub created_at: i64,
}

/// The access and refresh token issued together.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access: NewOAuthToken,
    pub refresh: NewOAuthToken,
}

/// A refresh token as presented, with its grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRow {
    pub grant_id: String,
    pub client_id: String,
    /// The grant's scopes (a refresh may narrow, never widen them).
    pub scopes: Vec<OAuthScope>,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    pub grant_revoked: bool,
}

/// What presenting a refresh token for rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The presented token is spent and `next` stored in the same grant.
    Rotated,
    /// It had been spent before: the whole grant is now revoked.
    ReuseDetected,
    /// Unknown, expired, or its grant is revoked.
    Invalid,
}

/// An access token resolved for authentication.
#[derive(Debug, Clone)]
pub struct OAuthTokenAuth {
    pub grant_id: String,
    pub client_id: String,
    pub scopes: Vec<OAuthScope>,
    /// The user, with the organization the grant is bound to.
    pub principal: PrincipalRecord,
}

/// A handshake-era MCP session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpSession {
    pub id: String,
    pub user_id: UserId,
    pub protocol_version: String,
    pub client_name: Option<String>,
    pub created_at: i64,
    pub ended_at: Option<i64>,
}

/// OAuth clients, consents, codes, grants and tokens; MCP sessions.
#[async_trait]
pub trait OAuthStore: Send + Sync + 'static {
    // --- clients
    async fn get_oauth_client(&self, client_id: &str) -> StoreResult<Option<OAuthClient>>;
    /// Dynamic registration with a bound: first drops the clients registered before
    /// `unused_before` that never completed an authorisation (no grant; their consents and
    /// codes go too), then inserts `client` unless `max_unused` unused clients remain (`false`).
    /// Two registrations racing on PostgreSQL may overshoot the bound by one each.
    async fn register_oauth_client(
        &self,
        client: OAuthClient,
        unused_before: i64,
        max_unused: u64,
    ) -> StoreResult<bool>;
    /// True once the client has completed an authorisation (a grant exists).
    async fn oauth_client_used(&self, client_id: &str) -> StoreResult<bool>;

    // --- the authorization page
    async fn create_oauth_consent(&self, consent: NewConsent) -> StoreResult<()>;
    /// Marks the consent whose cookie hashes to `secret_hash` used and returns it; `None` when
    /// unknown or already used (a consent is decided once).
    async fn take_oauth_consent(&self, secret_hash: &str, now: i64) -> StoreResult<Option<ConsentRow>>;
    async fn create_oauth_code(&self, code: OAuthCode) -> StoreResult<()>;

    // --- the token endpoint
    async fn get_oauth_code(&self, code_hash: &str) -> StoreResult<Option<OAuthCode>>;
    /// Spends the code without issuing anything (a failed redemption burns it).
    async fn spend_oauth_code(&self, code_hash: &str, now: i64) -> StoreResult<()>;
    /// Spends an unspent code and issues its grant and first token pair, atomically: `false`
    /// (and nothing written) when the code was spent meanwhile.
    async fn redeem_oauth_code(
        &self,
        code_hash: &str,
        grant: NewGrant,
        tokens: TokenPair,
        now: i64,
    ) -> StoreResult<bool>;
    /// Revokes the grant a spent code issued (reuse of a code).
    async fn revoke_oauth_code_grant(
        &self,
        code_hash: &str,
        reason: crate::domain::Revocation,
        now: i64,
    ) -> StoreResult<()>;
    async fn get_oauth_refresh(&self, token_hash: &str) -> StoreResult<Option<RefreshRow>>;
    /// Rotation with reuse detection, atomically (as for sign-in refresh tokens).
    async fn rotate_oauth_refresh(
        &self,
        presented_hash: &str,
        next: TokenPair,
        now: i64,
    ) -> StoreResult<RotateOutcome>;
    /// Revokes the grant of a token (access or refresh) issued to `client_id`; nothing when the
    /// token is unknown or another client's. Returns whether a grant was revoked.
    async fn revoke_oauth_token(
        &self,
        token_hash: &str,
        client_id: &str,
        reason: crate::domain::Revocation,
        now: i64,
    ) -> StoreResult<bool>;
    /// A live access token of an active user whose organization is still the grant's.
    async fn oauth_access_for_auth(&self, token_hash: &str, now: i64) -> StoreResult<Option<OAuthTokenAuth>>;

    // --- MCP sessions
    async fn create_mcp_session(&self, session: McpSession) -> StoreResult<()>;
    async fn get_mcp_session(&self, session_id: &str) -> StoreResult<Option<McpSession>>;
    /// Ends a live session of `user_id`; `false` when there is none.
    async fn end_mcp_session(&self, session_id: &str, user_id: &UserId, now: i64) -> StoreResult<bool>;
}
