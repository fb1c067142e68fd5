//! The mail the accounts send (api.md §12): what each says, queued as one `send_mail` item
//! each, and written when the worker runs it. The one-time link in a mail is minted when the
//! mail is written, so its plaintext exists only in the mail itself; the database keeps its
//! SHA-256 (a retry mints a new link and the unsent one is superseded).

use maud::html;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::auth::secrets::{new_opaque_token, sha256_hex};
use crate::domain::Tenant;
use crate::domain::ids::{OrgId, UserId, new_id, prefix};
use crate::domain::{AccountTokenPurpose, Email, QueueKind, UserStatus};
use crate::error::{AppError, AppResult};
use crate::integrations::mail::Mail;
use crate::services::queue::{self, Done, Work};
use crate::store::{EnqueueGuard, NewAccountToken, QueueItem, User};

/// How long a password-reset link works (api.md §12: 30 minutes).
pub const RESET_TTL_MS: i64 = 30 * 60 * 1000;
/// How long an email-verification or email-change link works.
pub const ADDRESS_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// At most one reset mail per account in this window (a flood of requests sends one).
const RESET_EVERY_MS: i64 = 60 * 1000;

/// One mail to write, as queued (the payload of its `send_mail` item).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mail", rename_all = "snake_case")]
pub enum MailJob {
    /// A link proving the account's current address.
    VerifyEmail { user_id: String },
    /// A reset link, if the address belongs to an active account (looked up when sending, so
    /// the request answers alike for every address).
    PasswordReset { email: String },
    /// A link, to the new address, that moves the account to it.
    EmailChange { user_id: String, new_email: String },
    /// Tells the old address that the account moved.
    EmailChanged { to: String, new_email: String },
    /// The invitation's link.
    Invitation { invitation_id: String },
}

/// Queues `job`; `organization` is the tenancy of the queue item (none: staff only).
pub async fn enqueue(state: &App, job: &MailJob, organization: Option<&OrgId>) -> AppResult<()> {
    let now = state.now();
    let subject = new_id(prefix::MAIL, now);
    let payload = serde_json::to_string(job).map_err(AppError::internal)?;
    let work = Work {
        kind: QueueKind::SendMail,
        subject_id: &subject,
        organization_id: organization,
        tester_id: None,
        payload: Some(payload),
    };
    queue::enqueue(state, work, EnqueueGuard::Unconditional).await?;
    Ok(())
}

/// The worker's handler of `send_mail`: writes the mail and hands it to the mailer. A mail
/// with nobody to go to (unknown address, already verified, invitation withdrawn) is done
/// without sending.
pub async fn run(state: &App, authority: &Tenant, item: &QueueItem) -> AppResult<Done> {
    let job: MailJob = serde_json::from_str(item.payload.as_deref().unwrap_or_default())
        .map_err(|e| AppError::internal(format!("bad mail payload: {e}")))?;
    // A retry is the same mail: the throttle that drops repeated requests does not apply.
    let retry = item.attempts > 1;
    if let Some(mail) = compose(state, authority, job, retry).await? {
        state.mailer.send(&mail).await.map_err(AppError::Unavailable)?;
        // Never the body: it holds the link.
        tracing::info!(to = %mail.to, subject = %mail.subject, via = state.mailer.kind(), "mail sent");
    }
    Ok(Done::referring_to(item.subject_id.clone()))
}

/// The public origin links point at.
pub fn base_url(state: &App) -> String {
    state.config.public_url.clone().unwrap_or_else(|| format!("http://{}", state.config.listen))
}

/// Mints a link of `purpose` for `user` proving `email`, storing only its hash.
async fn mint(
    state: &App,
    user: &User,
    purpose: AccountTokenPurpose,
    email: &str,
    ttl_ms: i64,
    token_prefix: &str,
) -> AppResult<String> {
    let now = state.now();
    let token = new_opaque_token(token_prefix);
    state
        .store
        .create_account_token(NewAccountToken {
            id: new_id(prefix::ACCOUNT_TOKEN, now),
            user_id: user.id.clone(),
            purpose,
            token_hash: sha256_hex(&token),
            email: email.to_owned(),
            created_at: now,
            expires_at: now + ttl_ms,
        })
        .await?;
    Ok(token)
}

fn link(state: &App, path: &str, token: &str) -> String {
    format!("{}{path}?token={token}", base_url(state))
}

/// A mail with one call to action: the text part and the HTML part say the same.
fn with_link(to: &str, subject: &str, greeting: &str, lines: &[&str], action: &str, url: &str) -> Mail {
    let mut text = format!("{greeting}\n\n");
    for l in lines {
        text.push_str(l);
        text.push_str("\n\n");
    }
    text.push_str(&format!(
        "{action}: {url}\n\nIf you did not ask for this, ignore this mail.\n\n— OpenScouter\n"
    ));
    let html = html! {
        p { (greeting) }
        @for l in lines { p { (l) } }
        p { a href=(url) { (action) } }
        p { "Or copy this address into your browser: " (url) }
        p { "If you did not ask for this, ignore this mail." }
        p { "— OpenScouter" }
    };
    Mail { to: to.to_owned(), subject: subject.to_owned(), text, html: html.into_string() }
}

async fn compose(state: &App, authority: &Tenant, job: MailJob, retry: bool) -> AppResult<Option<Mail>> {
    let now = state.now();
    Ok(match job {
        MailJob::VerifyEmail { user_id } => {
            let Some(user) = state.store.get_user(&UserId::from(user_id.as_str())).await? else {
                return Ok(None);
            };
            if user.email_verified_at.is_some() || user.status != UserStatus::Active {
                return Ok(None);
            }
            let token =
                mint(state, &user, AccountTokenPurpose::VerifyEmail, &user.email, ADDRESS_TTL_MS, "osv_")
                    .await?;
            Some(with_link(
                &user.email,
                "Confirm your email address",
                &format!("Hello {},", user.full_name),
                &["Please confirm that this address is yours. The link works for 24 hours."],
                "Confirm my address",
                &link(state, "/app/verify-email", &token),
            ))
        }
        MailJob::PasswordReset { email } => {
            let Ok(email) = Email::parse(&email) else { return Ok(None) };
            let Some(creds) = state.store.find_credentials(email.as_str()).await? else { return Ok(None) };
            let user = creds.user;
            // An erased person's tombstone has no password; a suspended account stays shut.
            if creds.password_hash.starts_with('!') || user.status != UserStatus::Active {
                return Ok(None);
            }
            let last =
                state.store.last_account_token_at(&user.id, AccountTokenPurpose::PasswordReset).await?;
            if !retry && last.is_some_and(|at| now - at < RESET_EVERY_MS) {
                return Ok(None);
            }
            let token =
                mint(state, &user, AccountTokenPurpose::PasswordReset, &user.email, RESET_TTL_MS, "osp_")
                    .await?;
            Some(with_link(
                &user.email,
                "Reset your OpenScouter password",
                &format!("Hello {},", user.full_name),
                &[
                    "Someone asked to reset the password of your OpenScouter account. The link works once, for 30 minutes.",
                    "Setting a new password signs you out everywhere else.",
                ],
                "Choose a new password",
                &link(state, "/app/reset-password", &token),
            ))
        }
        MailJob::EmailChange { user_id, new_email } => {
            let Some(user) = state.store.get_user(&UserId::from(user_id.as_str())).await? else {
                return Ok(None);
            };
            let token =
                mint(state, &user, AccountTokenPurpose::EmailChange, &new_email, ADDRESS_TTL_MS, "ose_")
                    .await?;
            Some(with_link(
                &new_email,
                "Confirm your new email address",
                &format!("Hello {},", user.full_name),
                &[
                    "You asked to use this address for your OpenScouter account. The change applies when you open the link (it works for 24 hours).",
                ],
                "Use this address",
                &link(state, "/app/confirm-email", &token),
            ))
        }
        MailJob::EmailChanged { to, new_email } => {
            let text = format!(
                "Hello,\n\nThe email address of your OpenScouter account was changed to {new_email}. \
                 If you did not do this, reset your password and contact support.\n\n— OpenScouter\n"
            );
            let html = html! {
                p { "Hello," }
                p { "The email address of your OpenScouter account was changed to " strong { (new_email) } "." }
                p { "If you did not do this, reset your password and contact support." }
                p { "— OpenScouter" }
            };
            Some(Mail {
                to,
                subject: "Your OpenScouter email address was changed".into(),
                text,
                html: html.into_string(),
            })
        }
        MailJob::Invitation { invitation_id } => {
            let Some(inv) = state.store.get_invitation(authority, &invitation_id).await? else {
                return Ok(None);
            };
            if inv.accepted_at.is_some() || inv.revoked_at.is_some() || inv.expires_at <= now {
                return Ok(None);
            }
            let inviter = state
                .store
                .get_user(&UserId::from(inv.invited_by.as_str()))
                .await?
                .map_or_else(|| "A colleague".to_owned(), |u| u.full_name);
            let token = new_opaque_token("osi_");
            state.store.set_invitation_token(authority, &inv.id, &sha256_hex(&token)).await?;
            let days = (inv.expires_at - now).div_euclid(24 * 60 * 60 * 1000).max(1);
            let role = match inv.org_role {
                crate::domain::OrgRole::Owner => "an owner",
                crate::domain::OrgRole::Member => "a member",
            };
            let invited =
                format!("{inviter} invited you to join {} on OpenScouter as {role}.", inv.organization_name);
            let validity = format!(
                "Open the link to sign up, or to join with your existing business account. It works for {days} {}.",
                if days == 1 { "day" } else { "days" }
            );
            Some(with_link(
                &inv.email,
                &format!("Join {} on OpenScouter", inv.organization_name),
                "Hello,",
                &[&invited, &validity],
                "Accept the invitation",
                &link(state, "/app/invitations/accept", &token),
            ))
        }
    })
}
