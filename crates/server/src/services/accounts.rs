//! Accounts: sign-up, sign-in, refresh-token rotation with reuse detection, sign-out, profile.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::app::App;
use crate::auth::jwt::{ACCESS_TTL_MS, Claims};
use crate::auth::principal::Principal;
pub use crate::auth::rotations::IssuedTokens;
use crate::auth::rotations::Rotation;
use crate::auth::secrets::{new_opaque_token, sha256_hex};
use crate::domain::ids::{OrgId, UserId, new_id, prefix};
use crate::domain::{Email, Plan, Role, UserStatus};
use crate::error::{AppError, AppResult};
use crate::store::{
    AuditEntry, NewOrganization, NewRefreshToken, NewUser, Organization, Page, PrincipalRecord,
    RefreshOutcome, StoreError, User,
};

/// Refresh-token lifetime (spec §1.4: 30 days).
pub const REFRESH_TTL_MS: i64 = 30 * 24 * 60 * 60 * 1000;
/// Minimum password length (spec §2).
pub const MIN_PASSWORD_CHARS: usize = 10;

/// What sign-up asks for, already shape-checked at the edge.
#[derive(Debug, Clone)]
pub struct Signup {
    pub email: String,
    pub password: String,
    pub full_name: String,
    pub role: Role,
    pub organization_name: Option<String>,
}

fn new_refresh(now: i64) -> (String, NewRefreshToken) {
    let token = new_opaque_token("osr_");
    let row = NewRefreshToken {
        id: new_id(prefix::REFRESH, now),
        token_hash: sha256_hex(&token),
        created_at: now,
        expires_at: now + REFRESH_TTL_MS,
    };
    (token, row)
}

fn access_token(state: &App, p: &PrincipalRecord, session_id: &str, now: i64) -> AppResult<(String, i64)> {
    let exp = now + ACCESS_TTL_MS;
    let claims = Claims {
        sub: p.user_id.to_string(),
        role: p.role,
        org: p.organization_id.clone().map(String::from),
        tier: p.plan,
        exp: exp / 1000,
        iat: now / 1000,
        jti: crate::auth::secrets::new_hex_token(16),
        sid: session_id.to_owned(),
    };
    Ok((state.jwt.sign(&claims)?, exp))
}

/// Starts a sign-in session for `user` and issues its first token pair.
async fn start_session(state: &App, user: &User) -> AppResult<IssuedTokens> {
    let now = state.now();
    let session_id = new_id(prefix::AUTH_SESSION, now);
    let (refresh_token, row) = new_refresh(now);
    state.store.create_auth_session(&session_id, &user.id, row).await?;
    let plan = match &user.organization_id {
        Some(org) => state.store.get_organization(org).await?.map_or(Plan::Free, |o| o.plan),
        None => Plan::Free,
    };
    let p = PrincipalRecord {
        user_id: user.id.clone(),
        role: user.role,
        organization_id: user.organization_id.clone(),
        plan,
    };
    let (access_token, expires_at) = access_token(state, &p, &session_id, now)?;
    Ok(IssuedTokens { access_token, refresh_token, expires_at })
}

/// The password rules of sign-up, reset and change (spec §2: at least 10 characters).
pub fn check_password_rules(password: &str) -> AppResult<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(AppError::Unprocessable(format!(
            "password: must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if n > 256 {
        return Err(AppError::Unprocessable("password: must be at most 256 characters".into()));
    }
    Ok(())
}

/// Creates any account (API sign-up and the `admin create-user` command).
pub async fn create_user(state: &App, s: Signup) -> AppResult<User> {
    let email = Email::parse(&s.email).map_err(|m| AppError::Unprocessable(format!("email: {m}")))?;
    check_password_rules(&s.password)?;
    let now = state.now();
    let org = match (s.role, s.organization_name) {
        (Role::Business, name) => Some(NewOrganization {
            id: OrgId::new(now),
            name: name.unwrap_or_else(|| format!("{}'s organization", s.full_name)),
            created_at: now,
        }),
        (_, Some(_)) => {
            return Err(AppError::Unprocessable(
                "organizationName: only business accounts have an organization".into(),
            ));
        }
        (_, None) => None,
    };
    let password_hash = state.passwords.hash(state.config.password_cost, s.password).await?;
    let user = NewUser {
        id: UserId::new(now),
        email: email.as_str().to_owned(),
        full_name: s.full_name,
        role: s.role,
        password_hash,
        created_at: now,
    };
    Ok(state.store.create_user(user, org).await?)
}

/// Sign-up through the API: business or tester only, then signed in.
pub async fn signup(state: &App, s: Signup) -> AppResult<(User, IssuedTokens)> {
    if s.role == Role::Admin {
        return Err(AppError::Unprocessable("role: must be business or tester".into()));
    }
    let user = create_user(state, s).await?;
    let tokens = start_session(state, &user).await?;
    Ok((user, tokens))
}

/// Sign-up with an invitation (api.md §12): a business account created straight into the
/// inviting organization, with the invitation's role, instead of a new organization. The
/// address must be the one invited (the link proved it, so it counts as verified).
pub async fn signup_invited(
    state: &App,
    s: Signup,
    invitation_token: &str,
) -> AppResult<(User, IssuedTokens)> {
    if s.role != Role::Business {
        return Err(AppError::Unprocessable("role: an invitation makes a business account".into()));
    }
    let email = Email::parse(&s.email).map_err(|m| AppError::Unprocessable(format!("email: {m}")))?;
    check_password_rules(&s.password)?;
    let now = state.now();
    let password_hash = state.passwords.hash(state.config.password_cost, s.password).await?;
    let user = NewUser {
        id: UserId::new(now),
        email: email.as_str().to_owned(),
        full_name: s.full_name,
        role: Role::Business,
        password_hash,
        created_at: now,
    };
    let hash = sha256_hex(invitation_token.trim());
    let Some(user) = state.store.create_invited_user(user, &hash, now).await? else {
        return Err(AppError::Unprocessable(
            "invitationToken: this invitation is invalid, used, expired or addressed to another email".into(),
        ));
    };
    let tokens = start_session(state, &user).await?;
    Ok((user, tokens))
}

/// Sign-in. One message for unknown email and wrong password, and the same work for both.
pub async fn signin(state: &App, email: &str, password: String) -> AppResult<(User, IssuedTokens)> {
    let user = authenticate(state, email, password).await?;
    let tokens = start_session(state, &user).await?;
    Ok((user, tokens))
}

/// Checks an email and password without starting a session (the sign-in rules, shared by
/// `signin` and the OAuth authorization page).
pub async fn authenticate(state: &App, email: &str, password: String) -> AppResult<User> {
    let invalid = || AppError::Unauthorized("Invalid email or password".into());
    let found = match Email::parse(email) {
        Ok(e) => state.store.find_credentials(e.as_str()).await?,
        Err(_) => None,
    };
    // An account without a password (an erased person's tombstone stores "!", which is no
    // PHC string) signs in like an unknown email: the same work, the same answer.
    let Some(creds) = found.filter(|c| !c.password_hash.starts_with('!')) else {
        state.passwords.verify_unknown(state.config.password_cost, password).await?;
        return Err(invalid());
    };
    if !state.passwords.verify(password, creds.password_hash).await? {
        return Err(invalid());
    }
    if creds.user.status != UserStatus::Active {
        return Err(AppError::Forbidden("This account is not active".into()));
    }
    Ok(creds.user)
}

/// Exchanges a refresh token for a new pair. A token used twice revokes its whole family,
/// except that the same token presented again within `OPENSCOUTER_REFRESH_REUSE_GRACE_SECS`
/// of its rotation (a double submit, a retry after a lost response) gets the same pair back,
/// as long as that pair's refresh token is unused and the sign-in is live. Concurrent
/// presentations of one token on this node wait for the first and share its answer.
pub async fn refresh(state: &App, presented: &str) -> AppResult<IssuedTokens> {
    let grace_ms =
        i64::try_from(state.config.refresh_reuse_grace_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let hash = sha256_hex(presented);
    if grace_ms == 0 {
        return rotate(state, &hash).await.map(|r| r.tokens);
    }
    let slot = state.rotations.slot(&hash, state.now(), grace_ms);
    let mut recent = slot.lock().await;
    if let Some(r) = recent.as_ref() {
        let fresh = state.now() - r.at <= grace_ms && !r.superseded.load(Ordering::Acquire);
        if fresh
            && state
                .store
                .principal_for_session(&r.session_id, &UserId::from(r.user_id.as_str()))
                .await?
                .is_some()
        {
            return Ok(r.tokens.clone());
        }
    }
    let rotation = rotate(state, &hash).await?;
    state.rotations.rotated(&hash, &rotation);
    let tokens = rotation.tokens.clone();
    *recent = Some(rotation);
    Ok(tokens)
}

/// One rotation in the store.
async fn rotate(state: &App, presented_hash: &str) -> AppResult<Rotation> {
    let now = state.now();
    let (refresh_token, next) = new_refresh(now);
    let successor_hash = next.token_hash.clone();
    match state.store.rotate_refresh_token(presented_hash, next, now).await? {
        RefreshOutcome::Rotated { session_id, principal } => {
            let (access_token, expires_at) = access_token(state, &principal, &session_id, now)?;
            Ok(Rotation {
                tokens: IssuedTokens { access_token, refresh_token, expires_at },
                session_id,
                user_id: principal.user_id.into(),
                successor_hash,
                at: now,
                superseded: Arc::new(AtomicBool::new(false)),
            })
        }
        RefreshOutcome::ReuseDetected => {
            tracing::warn!("refresh token reuse detected; sign-in session revoked");
            Err(AppError::Unauthorized("Refresh token reuse detected; please sign in again".into()))
        }
        RefreshOutcome::Invalid => Err(AppError::Unauthorized("Invalid or expired refresh token".into())),
    }
}

/// Ends a sign-in session: its refresh tokens and access tokens stop working.
pub async fn signout(state: &App, user_id: &UserId, session_id: &str) -> AppResult<()> {
    Ok(state
        .store
        .revoke_auth_session(session_id, user_id, crate::domain::Revocation::Signout, state.now())
        .await?)
}

/// The caller's account and organization (any credential: tells an integration who it acts for).
pub async fn me(state: &App, p: &Principal) -> AppResult<(User, Option<Organization>)> {
    let user = state
        .store
        .get_user(&p.user_id)
        .await?
        .ok_or_else(|| AppError::Unauthorized("Account no longer exists".into()))?;
    let organization = match &user.organization_id {
        Some(id) => state.store.get_organization(id).await?,
        None => None,
    };
    Ok((user, organization))
}

/// The store's identity version: what [`me`] and the unread count answer is current while it
/// has not moved (read it before them; decision 235).
pub fn identity_version(state: &App) -> u64 {
    state.store.identity_version()
}

/// Changes the caller's display name (1–100 characters, checked at the edge).
pub async fn rename(state: &App, p: &Principal, full_name: &str) -> AppResult<User> {
    Ok(state.store.update_user_name(&p.user_id, full_name.trim(), state.now()).await?)
}

/// Admin: changes an organization's plan (its rate-limit tier), audited in the same transaction.
pub async fn set_plan(
    state: &App,
    admin: &Principal,
    org_id: &OrgId,
    plan: Plan,
    request_id: Option<String>,
) -> AppResult<Organization> {
    let now = state.now();
    let before = state.store.get_organization(org_id).await?.map(|o| o.plan);
    let details = serde_json::json!({ "plan": plan, "before": before, "after": plan });
    let audit = crate::services::governance::audit(
        admin,
        "organization.plan_changed",
        "organization",
        org_id,
        details,
        request_id,
        now,
    );
    match state.store.set_organization_plan(org_id, plan, audit).await {
        Ok(org) => Ok(org),
        Err(StoreError::NotFound) => Err(AppError::not_found("Organization")),
        Err(e) => Err(e.into()),
    }
}

/// Admin: the audit log, newest first.
pub async fn audit_log(state: &App, page: Page) -> AppResult<(Vec<AuditEntry>, u64)> {
    Ok(state.store.list_audit(page).await?)
}
