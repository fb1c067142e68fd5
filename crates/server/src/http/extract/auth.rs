//! Authorisation as extractors: if a handler compiles with `Authed<P>`, policy `P` was checked.
//!
//! The auth middleware resolves credentials once per request and leaves an `AuthOutcome` in
//! the request extensions; these extractors only read it and apply the policy.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::request::Parts;

use crate::auth::principal::{AuthMethod, AuthOutcome, Principal};
use crate::domain::{Role, Scope};
use crate::error::AppError;

/// A rule about who may call a route.
pub trait Policy: Send + Sync + 'static {
    /// Checks the principal; `parts` gives the method for scope checks.
    fn check(principal: &Principal, parts: &Parts) -> Result<(), AppError>;
}

/// An authenticated caller who satisfies policy `P`.
#[derive(Debug, Clone)]
pub struct Authed<P: Policy = AnyRole> {
    pub principal: std::sync::Arc<Principal>,
    _policy: PhantomData<P>,
}

impl<P: Policy> std::ops::Deref for Authed<P> {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.principal
    }
}

/// The scope an API token needs for this request: reads need `read`, everything else `write`.
fn required_scope(method: &Method) -> Scope {
    if method == Method::GET || method == Method::HEAD { Scope::Read } else { Scope::Write }
}

fn insufficient_scope(scope: Scope) -> AppError {
    AppError::Forbidden(format!("This token lacks the {} scope", scope.as_str()))
}

/// The resolved principal, or 401.
pub fn principal_of(parts: &Parts) -> Result<std::sync::Arc<Principal>, AppError> {
    match parts.extensions.get::<AuthOutcome>() {
        Some(AuthOutcome::Authenticated(p)) => Ok(std::sync::Arc::clone(p)),
        Some(AuthOutcome::Rejected(msg)) => Err(AppError::Unauthorized(msg.clone())),
        Some(AuthOutcome::Anonymous) | None => Err(AppError::Unauthorized("Authentication required".into())),
    }
}

impl<S: Send + Sync, P: Policy> FromRequestParts<S> for Authed<P> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let principal = principal_of(parts)?;
        P::check(&principal, parts)?;
        Ok(Self { principal, _policy: PhantomData })
    }
}

/// Any authenticated caller (API tokens need `read` for GET, `write` otherwise). Test tokens
/// are refused: they only work where a route opts in with `SessionActor`.
#[derive(Debug, Clone, Copy)]
pub struct AnyRole;
impl Policy for AnyRole {
    fn check(p: &Principal, parts: &Parts) -> Result<(), AppError> {
        if matches!(p.method, AuthMethod::TestToken { .. }) {
            return Err(test_token_refused());
        }
        let scope = required_scope(&parts.method);
        if p.has_scope(scope) { Ok(()) } else { Err(insufficient_scope(scope)) }
    }
}

fn test_token_refused() -> AppError {
    AppError::Forbidden("A test token only works for its session's ingestion and controls".into())
}

/// A signed-in user (JWT), any role. API tokens cannot manage accounts or mint tokens.
#[derive(Debug, Clone, Copy)]
pub struct JwtOnly;
impl Policy for JwtOnly {
    fn check(p: &Principal, _: &Parts) -> Result<(), AppError> {
        match p.method {
            AuthMethod::Jwt { .. } => Ok(()),
            AuthMethod::ApiToken { .. } | AuthMethod::Telegram { .. } | AuthMethod::OAuth { .. } => {
                Err(AppError::Forbidden("This endpoint needs a signed-in user (JWT)".into()))
            }
            AuthMethod::TestToken { .. } => Err(test_token_refused()),
        }
    }
}

/// A session actor: a signed-in user (JWT) or a session test token. The service then checks
/// that the session is theirs (`services::sessions::authorize`).
#[derive(Debug, Clone, Copy)]
pub struct SessionActorPolicy;
impl Policy for SessionActorPolicy {
    fn check(p: &Principal, parts: &Parts) -> Result<(), AppError> {
        match p.method {
            AuthMethod::TestToken { .. } => Ok(()),
            _ => JwtOnly::check(p, parts),
        }
    }
}

/// A reader (as `AnyRole`) or a session test token, which the service confines to its own
/// session's briefing (`GET /api/sessions/:id`).
#[derive(Debug, Clone, Copy)]
pub struct ReaderOrTestTokenPolicy;
impl Policy for ReaderOrTestTokenPolicy {
    fn check(p: &Principal, parts: &Parts) -> Result<(), AppError> {
        match p.method {
            AuthMethod::TestToken { .. } => Ok(()),
            _ => AnyRole::check(p, parts),
        }
    }
}

/// A signed-in business member or admin (JWT).
#[derive(Debug, Clone, Copy)]
pub struct BusinessOrAdminJwt;
impl Policy for BusinessOrAdminJwt {
    fn check(p: &Principal, parts: &Parts) -> Result<(), AppError> {
        JwtOnly::check(p, parts)?;
        match p.role {
            Role::Business | Role::Admin => Ok(()),
            Role::Tester => Err(AppError::Forbidden("Only business accounts and admins may do this".into())),
        }
    }
}

/// An admin: a JWT with role admin, or an admin's token with the `admin` scope.
#[derive(Debug, Clone, Copy)]
pub struct AdminRole;
impl Policy for AdminRole {
    fn check(p: &Principal, _: &Parts) -> Result<(), AppError> {
        if p.role != Role::Admin || matches!(p.method, AuthMethod::TestToken { .. }) {
            return Err(AppError::Forbidden("Admin role required".into()));
        }
        if p.has_scope(Scope::Admin) { Ok(()) } else { Err(insufficient_scope(Scope::Admin)) }
    }
}

/// Any signed-in user (JWT).
pub type UserJwt = Authed<JwtOnly>;
/// Business member or admin, signed in.
pub type BusinessOrAdmin = Authed<BusinessOrAdminJwt>;
/// Admin.
pub type Admin = Authed<AdminRole>;
/// A signed-in user or a session test token.
pub type SessionActor = Authed<SessionActorPolicy>;
/// Any reader, or a session test token (for its briefing).
pub type ReaderOrTestToken = Authed<ReaderOrTestTokenPolicy>;
