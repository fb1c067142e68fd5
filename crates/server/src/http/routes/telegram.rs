//! `/api/telegram/*` and `/api/testers/me/telegram-link`: linking a tester's chat, the bot's
//! webhook, and offers to one tester or every eligible one. All answer 503 while Telegram is
//! not configured.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::format_ms;
use crate::domain::ids::{StudyId, UserId};
use crate::error::AppResult;
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::{ApiJson, Authed, TelegramWebhookAuth, UserJwt};
use crate::http::state::AppState;
use crate::services::telegram;

/// Routes under the usual authentication and per-caller rate limits.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(telegram_link)).routes(routes!(job_notify)).routes(routes!(send_job))
}

/// The webhook: authenticated by its secret and limited per source, outside the per-IP limit.
pub fn webhook_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(webhook))
}

/// A one-time link code.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TelegramLinkOut {
    /// Single use; expires after 15 minutes.
    #[schema(example = "3f9c2a7be1d04c55a0e6b2d9c8f1a4e7")]
    pub link_code: String,
    /// `https://t.me/<bot>?start=<linkCode>`: opening it sends `/start <linkCode>` to the bot.
    pub link_url: String,
    pub expires_at: String,
}

/// Create a link code for the calling tester's Telegram chat. Opening `linkUrl` in Telegram
/// starts the bot with the code, which links the chat; offers then arrive there.
#[utoipa::path(post, path = "/api/testers/me/telegram-link", tag = "telegram", security(("jwt" = [])),
    responses((status = 200, body = Envelope<TelegramLinkOut>), (status = 403, description = "Not a tester"),
        (status = 503, description = "Telegram is not configured")))]
async fn telegram_link(
    State(state): State<AppState>,
    caller: UserJwt,
) -> AppResult<Envelope<TelegramLinkOut>> {
    let l = telegram::create_link(&state, &caller).await?;
    Ok(ok(TelegramLinkOut { link_code: l.code, link_url: l.url, expires_at: format_ms(l.expires_at) }))
}

/// Telegram's webhook: bot updates (`/start <linkCode>` links the chat, `/stop` unlinks it,
/// the offer buttons accept or decline a study). Authenticated by `X-Telegram-Bot-Api-Secret-Token`
/// (the `secret_token` given to `setWebhook`) or `x-webhook-secret`; 401 otherwise. Answers
/// `{"ok": true}` (not the envelope); an update already handled is acknowledged and ignored.
#[utoipa::path(post, path = "/api/telegram/webhook", tag = "telegram",
    request_body(content = Object, description = "A Telegram Bot API Update"),
    params(("X-Telegram-Bot-Api-Secret-Token" = Option<String>, Header, description = "The webhook secret (or send it as x-webhook-secret)")),
    responses((status = 200, description = "`{\"ok\": true}`", body = Object), (status = 401, description = "Bad or missing secret"),
        (status = 429, description = "Over the webhook's per-minute limit"), (status = 503, description = "Telegram or its webhook secret is not configured")))]
async fn webhook(
    State(state): State<AppState>,
    _telegram: TelegramWebhookAuth,
    ApiJson(update): ApiJson<Value>,
) -> AppResult<Json<Value>> {
    telegram::handle_update(&state, update).await?;
    Ok(Json(json!({"ok": true})))
}

/// `job-notify` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobNotifyIn {
    pub tester_id: String,
    pub job_id: String,
    /// Custom text (1–1,000 characters); defaults to the platform template with the study's
    /// brief, time and pay. Accept and Decline buttons are always attached.
    #[schema(example = "A new study matching your profile is available. Tap below to view details.")]
    pub message: Option<String>,
}

/// The sent message.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobNotifyOut {
    #[schema(example = "user_xyz789")]
    pub tester_id: String,
    #[schema(example = 123456789)]
    pub telegram_chat_id: i64,
    #[schema(example = 42)]
    pub message_id: i64,
    #[schema(example = "2026-03-16T09:05:00.000Z")]
    pub sent_at: String,
}

/// Tell one tester that a study is available, now (admins: the answer carries the tester's
/// chat id). 404 when the tester has no Telegram linked; 422 when the study is not open.
#[utoipa::path(post, path = "/api/telegram/job-notify", tag = "telegram", security(("jwt" = []), ("token" = ["admin"])),
    request_body = JobNotifyIn,
    responses((status = 200, body = Envelope<JobNotifyOut>), (status = 403, description = "Not an admin"),
        (status = 404, description = "No such study, or the tester has no Telegram linked"),
        (status = 422, description = "Study not open, bad message, or the chat is no longer reachable"),
        (status = 429, description = "Telegram asked us to slow down; see Retry-After"),
        (status = 503, description = "Telegram is not configured or refused the message")))]
async fn job_notify(
    State(state): State<AppState>,
    caller: Authed,
    ApiJson(b): ApiJson<JobNotifyIn>,
) -> AppResult<Envelope<JobNotifyOut>> {
    let n = telegram::notify_job(
        &state,
        &caller,
        &UserId::from(b.tester_id.as_str()),
        &StudyId::from(b.job_id.as_str()),
        b.message.as_deref(),
    )
    .await?;
    Ok(ok(JobNotifyOut {
        tester_id: n.tester_id,
        telegram_chat_id: n.chat_id,
        message_id: n.message_id,
        sent_at: format_ms(n.sent_at),
    }))
}

/// `send-job` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendJobIn {
    pub job_id: String,
    /// Accepted for compatibility. Offers always follow the study's targeting: a tester
    /// outside it could not accept.
    pub filter_by_segment: Option<bool>,
}

/// Where the study's Telegram offers stand.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendJobOut {
    pub job_id: String,
    /// Offers this call queued (testers not offered the study before).
    pub queued: u64,
    /// Offers of the study waiting in the queue (paced at about 30 messages a second).
    pub pending: u64,
    pub sent: u64,
    pub failed: u64,
    /// Not sent: the tester unlinked or answered, or the study closed, before their turn.
    pub skipped: u64,
}

/// Offer the study to every eligible tester with Telegram linked (matching its targeting,
/// available, not offered it before: at most one offer per tester and study). Sends are
/// queued and paced; call again to see the counts move. Also runs at launch.
#[utoipa::path(post, path = "/api/telegram/send-job", tag = "telegram", security(("jwt" = []), ("token" = ["write"])),
    request_body = SendJobIn,
    responses((status = 200, body = Envelope<SendJobOut>), (status = 403, description = "Not the study's business or an admin"),
        (status = 404, description = "No such study of yours"), (status = 422, description = "Study not open"),
        (status = 503, description = "Telegram is not configured")))]
async fn send_job(
    State(state): State<AppState>,
    caller: Authed,
    ApiJson(b): ApiJson<SendJobIn>,
) -> AppResult<Envelope<SendJobOut>> {
    let _ = b.filter_by_segment;
    let r = telegram::send_job(&state, &caller, &StudyId::from(b.job_id.as_str())).await?;
    Ok(ok(SendJobOut {
        job_id: r.job_id,
        queued: r.queued,
        pending: r.pending,
        sent: r.sent,
        failed: r.failed,
        skipped: r.skipped,
    }))
}
