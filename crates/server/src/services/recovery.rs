//! Accounts people can recover (api.md §12): email verification, password reset, password
//! change and email change. Every link is single-use, expiring and stored hashed
//! (`services::mail` mints and mails it); a reset or a change of password signs out the
//! other sign-ins.

use crate::app::App;
use crate::auth::principal::{AuthMethod, Principal};
use crate::auth::secrets::sha256_hex;
use crate::domain::{Email, Role};
use crate::error::{AppError, AppResult};
use crate::services::accounts::check_password_rules;
use crate::services::mail::{self, MailJob};
use crate::store::{StoreError, User};

fn bad_link() -> AppError {
    AppError::Unprocessable("token: this link is invalid, used or expired".into())
}

/// The caller's account.
async fn user_of(state: &App, p: &Principal) -> AppResult<User> {
    state
        .store
        .get_user(&p.user_id)
        .await?
        .ok_or_else(|| AppError::Unauthorized("Account no longer exists".into()))
}

/// With `OPENSCOUTER_REQUIRE_VERIFIED_EMAIL=true`, refuses `action` to an unverified account
/// (a business launching or paying, a tester accepting). Admins are never held.
pub async fn require_verified(state: &App, p: &Principal, action: &str) -> AppResult<()> {
    if !state.config.require_verified_email || p.role == Role::Admin {
        return Ok(());
    }
    if user_of(state, p).await?.email_verified_at.is_none() {
        return Err(AppError::Forbidden(format!("Verify your email address before you {action}")));
    }
    Ok(())
}

/// Mails a verification link to the caller's address; false when it is already verified.
pub async fn request_verification(state: &App, p: &Principal) -> AppResult<bool> {
    let user = user_of(state, p).await?;
    send_verification(state, user).await
}

/// Mails a verification link to `user` (a new account, from the dashboard's sign-up); false
/// when the address is already verified.
pub async fn send_verification(state: &App, user: User) -> AppResult<bool> {
    if user.email_verified_at.is_some() {
        return Ok(false);
    }
    mail::enqueue(state, &MailJob::VerifyEmail { user_id: user.id.into() }, None).await?;
    Ok(true)
}

/// Uses a verification link.
pub async fn verify_email(state: &App, token: &str) -> AppResult<User> {
    state.store.verify_email(&sha256_hex(token.trim()), state.now()).await?.ok_or_else(bad_link)
}

/// Queues a reset mail for `email`. The same answer, and the same work here, for every
/// address: whether it belongs to an account is only looked up by the mail job.
pub async fn request_password_reset(state: &App, email: &str) -> AppResult<()> {
    let email = email.trim().to_lowercase();
    mail::enqueue(state, &MailJob::PasswordReset { email }, None).await
}

/// Uses a reset link: the new password applies and every sign-in of the account ends.
pub async fn reset_password(state: &App, token: &str, password: String) -> AppResult<User> {
    check_password_rules(&password)?;
    let hash = state.passwords.hash(state.config.password_cost, password).await?;
    state.store.reset_password(&sha256_hex(token.trim()), &hash, state.now()).await?.ok_or_else(bad_link)
}

/// Changes the caller's password after checking the current one; every other sign-in ends
/// (this one stays).
pub async fn change_password(state: &App, p: &Principal, current: String, password: String) -> AppResult<()> {
    let AuthMethod::Jwt { session_id } = &p.method else {
        return Err(AppError::Forbidden("This endpoint needs a signed-in user (JWT)".into()));
    };
    check_password_rules(&password)?;
    let stored = state.store.password_hash(&p.user_id).await?.filter(|h| !h.starts_with('!'));
    let Some(stored) = stored else {
        return Err(AppError::Unauthorized("Account no longer exists".into()));
    };
    if !state.passwords.verify(current, stored).await? {
        return Err(AppError::Unprocessable("currentPassword: is not the account's password".into()));
    }
    let hash = state.passwords.hash(state.config.password_cost, password).await?;
    state.store.set_password(&p.user_id, &hash, Some(session_id), state.now()).await?;
    Ok(())
}

/// Mails a link to `new_email` that moves the caller's account to it. Whether another account
/// already uses the address is not said here (it is when the link is used).
pub async fn request_email_change(state: &App, p: &Principal, new_email: &str) -> AppResult<()> {
    let email = Email::parse(new_email).map_err(|m| AppError::Unprocessable(format!("email: {m}")))?;
    let user = user_of(state, p).await?;
    if user.email == email.as_str() {
        return Err(AppError::Unprocessable("email: is already the account's address".into()));
    }
    let job = MailJob::EmailChange { user_id: user.id.into(), new_email: email.as_str().to_owned() };
    mail::enqueue(state, &job, None).await
}

/// Uses an email-change link: the account moves to the new address (verified by the link)
/// and the old address is told.
pub async fn confirm_email_change(state: &App, token: &str) -> AppResult<User> {
    match state.store.change_email(&sha256_hex(token.trim()), state.now()).await {
        Ok(Some((old, user))) => {
            let job = MailJob::EmailChanged { to: old, new_email: user.email.clone() };
            mail::enqueue(state, &job, None).await?;
            Ok(user)
        }
        Ok(None) => Err(bad_link()),
        Err(StoreError::Conflict(m)) => Err(AppError::Unprocessable(m)),
        Err(e) => Err(e.into()),
    }
}
