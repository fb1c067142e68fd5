//! Who is calling: the principal resolved once per request by the auth middleware.

use crate::domain::{OAuthScope, Plan, Role, Scope, Tenant};
use crate::error::{AppError, AppResult};

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// A user's access token (JWT); `session_id` is its sign-in session.
    Jwt { session_id: String },
    /// A server-to-server API token with scopes.
    ApiToken { token_id: String, scopes: Vec<Scope> },
    /// A session test token: one session's ingestion and controls only.
    TestToken { session_id: crate::domain::ids::SessionId },
    /// A tester acting through their linked Telegram chat (the bot's offer buttons); never
    /// an HTTP credential.
    Telegram { chat_id: i64 },
    /// An OAuth access token (`osat_…`) of an external client, bound to the organization of
    /// its grant.
    OAuth { grant_id: String, client_id: String, scopes: Vec<OAuthScope> },
}

/// An authenticated caller, with role, organization and plan read fresh from the store.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: crate::domain::ids::UserId,
    pub role: Role,
    pub organization_id: Option<crate::domain::ids::OrgId>,
    pub plan: Plan,
    pub method: AuthMethod,
}

impl Principal {
    /// Rate-limit identity: the token for API tokens, else the user (spec §1.6 "user or token").
    pub fn rate_limit_key(&self) -> String {
        let (kind, id) = match &self.method {
            AuthMethod::ApiToken { token_id, .. } => ("tok:", token_id.as_str()),
            AuthMethod::TestToken { session_id } => ("sess:", session_id.as_str()),
            AuthMethod::OAuth { grant_id, .. } => ("oauth:", grant_id.as_str()),
            AuthMethod::Jwt { .. } | AuthMethod::Telegram { .. } => ("user:", self.user_id.as_str()),
        };
        // On every request's path: one allocation, no formatting machinery.
        let mut key = String::with_capacity(kind.len() + id.len());
        key.push_str(kind);
        key.push_str(id);
        key
    }

    /// `Ok` for a tester; for anyone else 403 with `refusal` (a tester's own actions).
    pub fn require_tester(&self, refusal: &str) -> AppResult<()> {
        if self.role == Role::Tester { Ok(()) } else { Err(AppError::Forbidden(refusal.into())) }
    }

    /// The tenant whose data this caller may see; the one place a role becomes a scope. A
    /// business account without an organization sees nothing (403), never everything.
    pub fn tenant(&self) -> AppResult<Tenant> {
        match self.role {
            Role::Admin => Ok(Tenant::All),
            Role::Tester => Ok(Tenant::Tester(self.user_id.clone())),
            Role::Business => self
                .organization_id
                .clone()
                .map(Tenant::Organization)
                .ok_or_else(|| AppError::Forbidden("This account belongs to no organization".into())),
        }
    }

    /// True when the principal may use `scope`: always for JWTs (their limits are the role's),
    /// for API tokens only when the token carries it. An OAuth token's `read` reads the REST
    /// API like an API token's; its `draft` only works through the MCP tool that drafts.
    pub fn has_scope(&self, scope: Scope) -> bool {
        match &self.method {
            AuthMethod::Jwt { .. } => true,
            AuthMethod::ApiToken { scopes, .. } => scopes.contains(&scope),
            AuthMethod::TestToken { .. } | AuthMethod::Telegram { .. } => false,
            AuthMethod::OAuth { scopes, .. } => scope == Scope::Read && scopes.contains(&OAuthScope::Read),
        }
    }
}

/// What the auth middleware found for a request; stored in request extensions for extractors.
#[derive(Debug, Clone)]
pub enum AuthOutcome {
    /// No `Authorization` header.
    Anonymous,
    /// Credentials that verified (shared: every extractor of the request reads the same one).
    Authenticated(std::sync::Arc<Principal>),
    /// Credentials present but invalid; the message is safe to send.
    Rejected(String),
}
