//! Notifications: one call tells a user, an organization or staff about something. Every notice
//! lands in the in-app list (`GET /api/notifications`); a user with a linked Telegram chat also
//! gets it there (queued and paced); an organization's notice may carry an outbound webhook
//! event. Recorded at most once per `once` key, so a job that runs twice tells nobody twice.
//! Billing and analysis call `notify` too.

use serde_json::Value;

use crate::app::App;
use crate::auth::principal::Principal;
use crate::domain::ids::{OrgId, new_id, prefix};
use crate::domain::{NotificationKind, QueueKind, TelegramStatus};
use crate::error::AppResult;
use crate::store::{
    NewNotification, NewTelegramMessage, NotificationRow, OutboundEvent, Page, Recipient, SendPlan,
    TelegramCopy,
};

// Telegram pacing: every copy sent through the bot (offers, replies, notices) shares it.

/// Telegram's broadcast limit for one bot; we stay just under it.
pub const MESSAGES_PER_SECOND: i64 = 30;
/// Gap between two paced sends (34 ms: at most 30 in any second).
pub const SEND_INTERVAL_MS: i64 = (1000 + MESSAGES_PER_SECOND - 1) / MESSAGES_PER_SECOND;
/// The pacer every node shares for this bot.
pub const PACER: &str = "telegram";
/// Attempts at one send before it is marked failed (network trouble; 429s do not count).
pub const SEND_ATTEMPTS: i64 = 8;

/// Notifications' copies (reminders, timeouts): paced like offers.
pub const NOTICE_PLAN: SendPlan = SendPlan {
    kind: QueueKind::TelegramMessage,
    max_attempts: SEND_ATTEMPTS,
    queue_prefix: prefix::ANALYSIS_JOB,
    pacing: Some((PACER, SEND_INTERVAL_MS)),
};
/// What to tell.
#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    /// Ids the reader may follow (`{"jobId": …}`); never a tester's personal data when the
    /// recipient is a business.
    pub data: Value,
    /// Deduplication key: a second notice with the same key is dropped.
    pub once: Option<String>,
}

/// The rows a notice becomes: the in-app notification and, for a user with a linked chat
/// (and a configured bot), its Telegram copy. `organization` is the tenancy of the queued
/// send (the study's organization, or none).
pub async fn prepare(
    state: &App,
    to: Recipient,
    notice: Notice,
    organization: Option<&OrgId>,
) -> AppResult<(NewNotification, Option<TelegramCopy>)> {
    let now = state.now();
    let chat = match (&to, &state.telegram) {
        (Recipient::User(user_id), Some(_)) => state.store.chat_of(user_id).await?,
        _ => None,
    };
    let copy = match (&to, chat) {
        (Recipient::User(user_id), Some(chat_id)) => Some(TelegramCopy {
            message: NewTelegramMessage {
                id: new_id(prefix::TELEGRAM_MESSAGE, now),
                user_id: Some(user_id.clone()),
                chat_id,
                text: format!("{}\n\n{}", notice.title, notice.body),
                sensitive: false,
                status: TelegramStatus::Queued,
            },
            plan: NOTICE_PLAN,
            organization_id: organization.cloned().unwrap_or_default(),
        }),
        _ => None,
    };
    let n = NewNotification {
        id: new_id(prefix::NOTIFICATION, now),
        recipient: to,
        kind: notice.kind,
        title: notice.title,
        body: notice.body,
        data: notice.data,
        dedup_key: notice.once,
        created_at: now,
    };
    Ok((n, copy))
}

/// Tells `to`; `event` is an outbound webhook of organization `.0`, recorded with the notice.
/// Returns false when a notice with the same `once` key was recorded before.
pub async fn notify(
    state: &App,
    to: Recipient,
    notice: Notice,
    organization: Option<&OrgId>,
    event: Option<(String, OutboundEvent)>,
) -> AppResult<bool> {
    let (n, copy) = prepare(state, to, notice, organization).await?;
    let queued = copy.is_some();
    let created = state.store.create_notification(n, copy, event).await?;
    if created && queued {
        state.queue_ready.notify_one();
    }
    Ok(created)
}

/// The caller's notifications, newest first: their own, their organization's (business
/// members) and staff's (admins).
pub async fn list(state: &App, p: &Principal, page: Page) -> AppResult<(Vec<NotificationRow>, u64)> {
    Ok(state.store.list_notifications(&p.tenant()?, &p.user_id, false, page).await?)
}
