//! Telegram: a tester links their chat with a one-time code; the bot's webhook handles
//! `/start <code>`, `/stop` and the offer buttons (accepting through the same services as the
//! REST API, then sending the test link and token); offers go to one tester (`job-notify`) or
//! to every eligible linked tester (`send-job`, and at launch) through the queue, paced below
//! Telegram's ~30 messages a second across every node and paused when Telegram answers 429.

use serde::Deserialize;
use serde_json::Value;

use crate::app::App;
use crate::auth::principal::{AuthMethod, Principal};
use crate::auth::secrets::{new_hex_token, sha256_hex};
use crate::domain::ids::{OrgId, StudyId, UserId, new_id, prefix};
use crate::domain::study::CompensationType;
use crate::domain::{Plan, QueueKind, Role, SeatStatus, SessionStatus, TelegramStatus, Tenant, UserStatus};
use crate::error::{AppError, AppResult};
use crate::integrations::telegram::{Button, OutgoingMessage, Telegram, TelegramError};
use crate::services::notifications::{PACER, SEND_ATTEMPTS, SEND_INTERVAL_MS};
use crate::services::queue::{Done, Outcome};
use crate::services::{governance, sessions, studies};
use crate::store::{NewOffer, NewTelegramMessage, QueueItem, SendPlan, Study, StudyScope, TelegramCopy};

/// A one-time link code lives this long (spec: 15 minutes).
pub const LINK_CODE_TTL_MS: i64 = 15 * 60 * 1000;
/// Offers: paced.
const OFFER_PLAN: SendPlan = SendPlan {
    kind: QueueKind::TelegramOffer,
    max_attempts: SEND_ATTEMPTS,
    queue_prefix: prefix::ANALYSIS_JOB,
    pacing: Some((PACER, SEND_INTERVAL_MS)),
};
/// Replies to what a tester just did in the chat: due at once, not behind a broadcast (still
/// held back while Telegram's 429 pause lasts).
const REPLY_PLAN: SendPlan = SendPlan {
    kind: QueueKind::TelegramMessage,
    max_attempts: SEND_ATTEMPTS,
    queue_prefix: prefix::ANALYSIS_JOB,
    pacing: None,
};

/// The bot, or 503 when Telegram is not configured.
fn bot(state: &App) -> AppResult<&std::sync::Arc<dyn Telegram>> {
    state.telegram.as_ref().ok_or_else(|| AppError::Unavailable("Telegram is not configured".into()))
}

// --- linking

/// A one-time link code and the bot link that carries it.
#[derive(Debug, Clone)]
pub struct LinkCode {
    pub code: String,
    pub url: String,
    pub expires_at: i64,
}

/// Issues a link code for the calling tester: opening `https://t.me/<bot>?start=<code>` sends
/// `/start <code>` to the bot, which links that chat. Single use, 15 minutes.
pub async fn create_link(state: &App, p: &Principal) -> AppResult<LinkCode> {
    let Some(cfg) = &state.config.telegram else {
        return Err(AppError::Unavailable("Telegram is not configured".into()));
    };
    if p.role != Role::Tester {
        return Err(AppError::Forbidden("Only testers link a Telegram chat".into()));
    }
    let now = state.now();
    let code = new_hex_token(16);
    let expires_at = now + LINK_CODE_TTL_MS;
    state.store.create_link_code(&p.user_id, &sha256_hex(&code), expires_at, now).await?;
    let url = format!("https://t.me/{}?start={code}", cfg.bot_username);
    Ok(LinkCode { code, url, expires_at })
}

// --- the webhook

/// The parts of a Bot API `Update` the bot reads; everything else is ignored.
#[derive(Debug, Deserialize)]
struct Update {
    update_id: i64,
    message: Option<Message>,
    callback_query: Option<CallbackQuery>,
}

#[derive(Debug, Deserialize)]
struct Message {
    chat: Chat,
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Chat {
    id: i64,
    /// `private`, `group`, `supergroup` or `channel`.
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Sender {
    id: i64,
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    id: String,
    /// Who tapped: in the private chat a tester links, their user id is the chat id.
    from: Sender,
    data: Option<String>,
}

/// Handles one webhook update (the caller checked the secret). An update seen before is
/// ignored; one whose handling fails is forgotten again, so Telegram's retry is handled. What
/// goes wrong for the tester (an expired code, a full study) is answered in the chat, not as
/// an HTTP error.
pub async fn handle_update(state: &App, body: Value) -> AppResult<()> {
    bot(state)?;
    // Telegram retries any non-2xx for a day; a body we cannot read will not improve.
    let Ok(update) = serde_json::from_value::<Update>(body) else {
        tracing::warn!("ignoring a Telegram update without a readable update_id");
        return Ok(());
    };
    if !state.store.record_update(update.update_id, state.now()).await? {
        return Ok(());
    }
    let handled = match (&update.message, &update.callback_query) {
        (_, Some(cb)) => on_button(state, cb).await,
        (Some(m), None) => on_message(state, m).await,
        (None, None) => Ok(()),
    };
    if handled.is_err() {
        state.store.forget_update(update.update_id).await?;
    }
    handled
}

const NOT_LINKED: &str = "This chat is not connected to an OpenScouter account. Open the Telegram link in your \
     OpenScouter tester profile to connect it.";

async fn on_message(state: &App, m: &Message) -> AppResult<()> {
    let text = m.text.as_deref().unwrap_or("").trim();
    let (command, arg) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    // In groups commands may be addressed as `/start@bot`.
    let command = command.split('@').next().unwrap_or("");
    let chat = m.chat.id;
    let reply = match command {
        // A link belongs to one person: in a group, anyone could tap Accept for them.
        "/start" | "/stop" if m.chat.kind.as_deref().is_some_and(|k| k != "private") => {
            "Please open the link in a private chat with this bot.".to_owned()
        }
        "/start" if arg.trim().is_empty() => NOT_LINKED.to_owned(),
        "/start" => match state.store.redeem_link_code(&sha256_hex(arg.trim()), chat, state.now()).await? {
            Some(_) => "Connected. Study offers that match your profile will arrive here; tap Accept to get \
                 your test link, or Decline (there is no penalty). Send /stop to disconnect."
                .to_owned(),
            None => "This link has expired or was already used. Create a new one in your OpenScouter tester \
                 profile."
                .to_owned(),
        },
        "/stop" => match state.store.unlink_chat(chat).await? {
            Some(_) => {
                "Disconnected. You will get no more offers here; connect again from your tester profile \
                 at any time."
                    .to_owned()
            }
            None => NOT_LINKED.to_owned(),
        },
        _ => match state.store.user_of_chat(chat).await? {
            Some(_) => {
                "Use the Accept and Decline buttons under an offer. Send /stop to disconnect.".to_owned()
            }
            None => NOT_LINKED.to_owned(),
        },
    };
    reply_in_chat(state, chat, None, reply, false, None).await
}

/// The tester linked to `chat`, as a principal for the studies and sessions services, if the
/// account may act (an active tester).
async fn tester_of_chat(state: &App, chat: i64) -> AppResult<Option<Principal>> {
    let Some(user_id) = state.store.user_of_chat(chat).await? else { return Ok(None) };
    let Some(user) = state.store.get_user(&user_id).await? else { return Ok(None) };
    if user.role != Role::Tester || user.status != UserStatus::Active {
        return Ok(None);
    }
    Ok(Some(Principal {
        user_id,
        role: Role::Tester,
        organization_id: None,
        plan: Plan::Free,
        method: AuthMethod::Telegram { chat_id: chat },
    }))
}

async fn on_button(state: &App, cb: &CallbackQuery) -> AppResult<()> {
    // Stops the button's spinner; a failure here changes nothing for the tester.
    if let Err(e) = bot(state)?.answer_callback(&cb.id, None).await {
        tracing::debug!(error = %e, "answerCallbackQuery failed");
    }
    // The tester who tapped, whose private chat is linked (never the chat the button sits in).
    let chat = cb.from.id;
    let data = cb.data.as_deref().unwrap_or("");
    let (action, job_id) = data.split_once(':').unwrap_or((data, ""));
    let job_id = &StudyId::from(job_id);
    let Some(p) = tester_of_chat(state, chat).await? else {
        return reply_in_chat(state, chat, None, NOT_LINKED.to_owned(), false, None).await;
    };
    // The organization the reply is filed under: the study's, as far as this tester may see it.
    let org = match studies::get_visible(state, &p, job_id).await {
        Ok(study) => Some(study.organization_id),
        Err(AppError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    let reply = match action {
        "accept" => match accept_and_start(state, &p, job_id).await {
            Ok(text) => return reply_in_chat(state, chat, Some(&p.user_id), text, true, org.as_ref()).await,
            Err(e) => user_facing(e)?,
        },
        "decline" => match studies::decline(state, &p, job_id).await {
            Ok(()) => "Declined. Thanks for letting us know; there is no penalty.".to_owned(),
            Err(e) => user_facing(e)?,
        },
        _ => "This button is no longer valid.".to_owned(),
    };
    reply_in_chat(state, chat, Some(&p.user_id), reply, false, org.as_ref()).await
}

/// An error the tester should read in the chat (wrong state, not found, not allowed); store
/// and internal failures stay errors (Telegram retries the update).
fn user_facing(e: AppError) -> AppResult<String> {
    match e {
        AppError::Unprocessable(m) | AppError::NotFound(m) | AppError::Forbidden(m) => Ok(m),
        other => Err(other),
    }
}

/// Accepts the study exactly as `POST /api/jobs/:id/accept` does (a seat already taken is
/// fine), starts the session as `POST /api/sessions` does, and returns the message with the
/// test link and token.
async fn accept_and_start(state: &App, p: &Principal, job_id: &StudyId) -> AppResult<String> {
    let page = crate::store::Page { page: 1, limit: 1 };
    let mine = Tenant::Tester(p.user_id.clone());
    let (_, started) = state.store.list_sessions(&mine, Some(job_id), None, page).await?;
    // An abandoned try does not count: its tester may start again (api.md §11).
    let (_, abandoned) =
        state.store.list_sessions(&mine, Some(job_id), Some(SessionStatus::Abandoned), page).await?;
    if started > abandoned {
        return Err(AppError::invalid(
            "You have already started this study; use the test link and token sent with your acceptance",
        ));
    }
    let answered = state.store.offer_status(&p.user_id, job_id).await?;
    if answered.as_ref().is_none_or(|(status, _)| status != SeatStatus::Accepted.as_str()) {
        studies::accept(state, p, job_id).await?;
    }
    let body = sessions::SessionIn {
        job_id: job_id.to_string(),
        tester_id: p.user_id.to_string(),
        variant: None,
        consent: None,
    };
    let created = sessions::create(state, p, body).await?;
    let study = state
        .store
        .get_study(&created.session.study_scope(), job_id)
        .await?
        .ok_or_else(|| AppError::not_found("Study"))?;
    Ok(format!(
        "You're in: \"{}\".\n\nTest link: {}\n\nTest token (this test only, valid 24 hours): {}\n\nOpen the link in \
         Chrome with the OpenScouter extension and paste the token when it asks. You can pause at any time.",
        study.definition.title.trim(),
        test_link(&study.definition.prototype_url, &created.session.id),
        created.test_token
    ))
}

/// The study's URL with `_os_session=<session id>`, which makes the extension show the briefing.
pub fn test_link(prototype_url: &str, session_id: &str) -> String {
    match reqwest::Url::parse(prototype_url) {
        Ok(mut url) => {
            url.query_pairs_mut().append_pair("_os_session", session_id);
            url.to_string()
        }
        Err(_) => prototype_url.to_owned(),
    }
}

/// Queues a reply in `chat` (due at once; `sensitive` texts are blanked after sending).
async fn reply_in_chat(
    state: &App,
    chat: i64,
    user_id: Option<&UserId>,
    text: String,
    sensitive: bool,
    organization: Option<&OrgId>,
) -> AppResult<()> {
    let now = state.now();
    let copy = TelegramCopy {
        message: NewTelegramMessage {
            id: new_id(prefix::TELEGRAM_MESSAGE, now),
            user_id: user_id.cloned(),
            chat_id: chat,
            text,
            sensitive,
            status: TelegramStatus::Queued,
        },
        plan: REPLY_PLAN,
        organization_id: organization.cloned().unwrap_or_default(),
    };
    state.store.queue_message(copy, now).await?;
    state.queue_ready.notify_one();
    Ok(())
}

// --- offers

/// The offer text: the caller's `message`, or the platform template with the study's brief,
/// time and pay; always with Accept and Decline buttons.
fn offer_message(study: &Study, chat_id: i64, message: Option<&str>) -> OutgoingMessage {
    let d = &study.definition;
    let text = match message {
        Some(m) => m.to_owned(),
        None => {
            let mut brief: String = d.description.trim().chars().take(300).collect();
            if d.description.trim().chars().count() > 300 {
                brief.push('…');
            }
            let pay = match d.compensation.kind {
                CompensationType::Hourly => "per hour",
                CompensationType::Flat => "flat",
            };
            format!(
                "A new study matching your profile is available.\n\n{}\n{}\n\nTime: up to {} minutes\nPay: {:.2} {} ({})\n\n\
                 Tap Accept to get your test link, or Decline (there is no penalty).",
                d.title.trim(),
                brief,
                d.settings.max_duration_minutes,
                d.compensation.amount,
                d.compensation.currency,
                pay
            )
        }
    };
    OutgoingMessage {
        chat_id,
        text,
        buttons: vec![vec![
            Button { text: "Accept".into(), callback_data: format!("accept:{}", study.id) },
            Button { text: "Decline".into(), callback_data: format!("decline:{}", study.id) },
        ]],
    }
}

/// Holds off while Telegram's 429 pause lasts: `Some(wait in whole seconds)`.
async fn paused_for(state: &App, now: i64) -> AppResult<Option<u64>> {
    let pacer = state.store.pacer(PACER).await?;
    Ok((pacer.paused_until > now)
        .then(|| u64::try_from((pacer.paused_until - now + 999) / 1000).unwrap_or(1)))
}

/// Records Telegram's 429: nothing is sent by any node until `retry_after` has passed.
async fn pause(state: &App, now: i64, retry_after_secs: u64) -> AppResult<()> {
    let until = now + i64::try_from(retry_after_secs).unwrap_or(60).saturating_mul(1000);
    tracing::warn!(retry_after_secs, "Telegram rate limit: pausing sends");
    Ok(state.store.pause_pacer(PACER, until).await?)
}

/// What `job-notify` answers.
#[derive(Debug, Clone)]
pub struct Notified {
    pub tester_id: String,
    pub chat_id: i64,
    pub message_id: i64,
    pub sent_at: i64,
}

/// Sends one tester an offer now (staff only: the answer carries the tester's chat id). 404
/// when the tester has no Telegram linked.
pub async fn notify_job(
    state: &App,
    p: &Principal,
    tester_id: &UserId,
    job_id: &StudyId,
    message: Option<&str>,
) -> AppResult<Notified> {
    let bot = bot(state)?;
    if p.role != Role::Admin {
        return Err(AppError::Forbidden("Only admins may message a tester directly".into()));
    }
    if let Some(m) = message
        && (m.trim().is_empty() || m.chars().count() > 1000)
    {
        return Err(AppError::invalid("message: must be 1-1000 characters"));
    }
    let study = state
        .store
        .get_study(&(&p.tenant()?).into(), job_id)
        .await?
        .ok_or_else(|| AppError::not_found("Study"))?;
    if !studies::TAKING_SESSIONS.contains(&study.status) {
        return Err(AppError::invalid(format!("The study is {}; offers need an open study", study.status)));
    }
    let Some(chat_id) = state.store.chat_of(tester_id).await? else {
        return Err(AppError::NotFound("Tester has no Telegram linked".into()));
    };
    let now = state.now();
    if let Some(wait) = paused_for(state, now).await? {
        return Err(AppError::RateLimited(wait));
    }
    match bot.send_message(&offer_message(&study, chat_id, message)).await {
        Ok(sent) => {
            let offer = NewOffer {
                id: new_id(prefix::OFFER, now),
                tester_id: tester_id.clone(),
                chat_id: sent.chat_id,
                status: TelegramStatus::Sent,
            };
            state.store.record_sent_offer(job_id, &offer, sent.message_id, now).await?;
            Ok(Notified {
                tester_id: tester_id.to_string(),
                chat_id: sent.chat_id,
                message_id: sent.message_id,
                sent_at: now,
            })
        }
        Err(TelegramError::RateLimited { retry_after_secs }) => {
            pause(state, now, retry_after_secs).await?;
            Err(AppError::RateLimited(retry_after_secs))
        }
        Err(TelegramError::ChatUnavailable(_)) => {
            state.store.unlink_chat(chat_id).await?;
            Err(AppError::invalid("The tester's Telegram chat is no longer reachable; it has been unlinked"))
        }
        Err(e) => {
            tracing::warn!(error = %e, "Telegram refused a job notification");
            Err(AppError::Unavailable("Telegram did not accept the message".into()))
        }
    }
}

/// What `send-job` answers: offers queued by this call, and where the study's offers stand.
#[derive(Debug, Clone, Default)]
pub struct Broadcast {
    pub job_id: String,
    pub queued: u64,
    pub pending: u64,
    pub sent: u64,
    pub failed: u64,
    pub skipped: u64,
}

/// Offers the study to every eligible linked tester not offered it yet (business for its own
/// study, or admin). The sends are queued and paced; the counts say where they stand.
pub async fn send_job(state: &App, p: &Principal, job_id: &StudyId) -> AppResult<Broadcast> {
    bot(state)?;
    let tenant = p.tenant()?;
    let allowed = match tenant {
        Tenant::All => true,
        Tenant::Organization(_) => p.role == Role::Business,
        Tenant::Tester(_) => false,
    };
    if !allowed {
        return Err(AppError::Forbidden("Only business accounts and admins may do this".into()));
    }
    let scope = StudyScope::from(&tenant);
    let study = state.store.get_study(&scope, job_id).await?.ok_or_else(|| AppError::not_found("Study"))?;
    if !studies::TAKING_SESSIONS.contains(&study.status) {
        return Err(AppError::invalid(format!("The study is {}; offers need an open study", study.status)));
    }
    let queued = fan_out(state, &study).await?;
    let mut out = Broadcast { job_id: study.id.to_string(), queued, ..Broadcast::default() };
    for (status, n) in state.store.offer_counts(&study.owner(), &study.id).await? {
        match status {
            TelegramStatus::Queued => out.pending = n,
            TelegramStatus::Sent => out.sent = n,
            TelegramStatus::Failed => out.failed = n,
            TelegramStatus::Skipped => out.skipped = n,
        }
    }
    Ok(out)
}

/// Records and queues an offer for every linked, available, onboarded tester whom the study
/// matches (the same rule as the tester's study list) and who has neither answered nor been
/// offered it. Returns how many were queued.
async fn fan_out(state: &App, study: &Study) -> AppResult<u64> {
    let now = state.now();
    let year = studies::year_of(now);
    let mut offers = Vec::new();
    for c in state.store.offer_candidates(&study.id, Role::Tester, crate::domain::UserStatus::Active).await? {
        // The one eligibility rule, on the row the query already read (no second read per tester).
        if governance::ineligibility(Some(&c.tester)).is_some() {
            continue;
        }
        let scope = StudyScope::Tester {
            tester_id: c.tester.user_id.clone(),
            profile: c.tester.profile.match_profile(year),
            offered_in: studies::TAKING_SESSIONS.to_vec(),
        };
        if state.store.study_visible(&scope, &study.id).await? {
            offers.push(NewOffer {
                id: new_id(prefix::OFFER, now),
                tester_id: c.tester.user_id,
                chat_id: c.chat_id,
                status: TelegramStatus::Queued,
            });
        }
    }
    let n = state.store.create_offers(&study.id, &study.organization_id, &offers, &OFFER_PLAN, now).await?;
    if n > 0 {
        state.queue_ready.notify_one();
    }
    Ok(n)
}

/// Queue handler of the launch fan-out.
pub async fn run_broadcast(state: &App, authority: &Tenant, item: &QueueItem) -> AppResult<String> {
    if state.telegram.is_none() {
        return Ok("telegram not configured".into());
    }
    let Some(study) =
        state.store.get_study(&authority.into(), &StudyId::from(item.subject_id.as_str())).await?
    else {
        return Ok("study gone".into());
    };
    if !studies::TAKING_SESSIONS.contains(&study.status) {
        return Ok(format!("study {}", study.status));
    }
    Ok(format!("{} offers queued", fan_out(state, &study).await?))
}

/// What one send attempt came to.
enum Sent {
    Yes(i64),
    /// Failed for good (the chat is gone, the request is refused).
    Never(String),
}

/// Sends `message` unless Telegram's pause is on; `Err(Later)` to wait, `Err(Fail)` to retry.
async fn attempt(state: &App, item: &QueueItem, message: &OutgoingMessage) -> Result<Sent, Retry> {
    let now = state.now();
    let bot = match bot(state) {
        Ok(b) => b,
        Err(_) => return Ok(Sent::Never("Telegram is not configured".into())),
    };
    if paused_for(state, now).await?.is_some() {
        return Err(Retry::Later(state.store.take_slot(PACER, now, SEND_INTERVAL_MS).await?));
    }
    match bot.send_message(message).await {
        Ok(sent) => Ok(Sent::Yes(sent.message_id)),
        Err(TelegramError::RateLimited { retry_after_secs }) => {
            pause(state, now, retry_after_secs).await?;
            Err(Retry::Later(state.store.take_slot(PACER, now, SEND_INTERVAL_MS).await?))
        }
        Err(TelegramError::ChatUnavailable(e)) => {
            state.store.unlink_chat(message.chat_id).await?;
            Ok(Sent::Never(e))
        }
        Err(TelegramError::Rejected(e)) => Ok(Sent::Never(e)),
        Err(TelegramError::Transient(e)) if item.attempts >= item.max_attempts => Ok(Sent::Never(e)),
        Err(TelegramError::Transient(e)) => {
            Err(Retry::Fail(AppError::Internal(format!("telegram send: {e}"))))
        }
    }
}

/// Why a send did not finish now.
enum Retry {
    /// Due again at this time (the pause or pacing), the attempt not counted.
    Later(i64),
    /// A failure the queue retries with backoff.
    Fail(AppError),
}

impl From<crate::store::StoreError> for Retry {
    fn from(e: crate::store::StoreError) -> Self {
        Retry::Fail(e.into())
    }
}

impl From<AppError> for Retry {
    fn from(e: AppError) -> Self {
        Retry::Fail(e)
    }
}

/// Queue handler of one offer: skipped when the tester unlinked or answered, or the study
/// stopped taking sessions; sent to the tester's current chat otherwise.
pub async fn deliver_offer(state: &App, authority: &Tenant, item: &QueueItem) -> AppResult<Outcome> {
    let Some(offer) = state.store.get_offer(&item.subject_id).await? else {
        return Ok(Outcome::Done(Done::referring_to(item.subject_id.clone())));
    };
    if offer.status != TelegramStatus::Queued {
        return Ok(Outcome::Done(Done::referring_to(offer.id)));
    }
    let skip = |why: &'static str| skip_offer(state, &offer.id, why);
    let Some(chat_id) = state.store.chat_of(&offer.tester_id).await? else {
        return skip("tester unlinked").await;
    };
    let study = match state.store.get_study(&authority.into(), &offer.study_id).await? {
        Some(s) if studies::TAKING_SESSIONS.contains(&s.status) => s,
        _ => return skip("study not taking sessions").await,
    };
    if state.store.offer_status(&offer.tester_id, &offer.study_id).await?.is_some() {
        return skip("tester already answered").await;
    }
    match attempt(state, item, &offer_message(&study, chat_id, None)).await {
        Ok(Sent::Yes(message_id)) => {
            state
                .store
                .finish_offer(&offer.id, TelegramStatus::Sent, Some(message_id), None, state.now())
                .await?;
            Ok(Outcome::Done(Done::referring_to(offer.id)))
        }
        Ok(Sent::Never(why)) => {
            state
                .store
                .finish_offer(&offer.id, TelegramStatus::Failed, None, Some(&why), state.now())
                .await?;
            Ok(Outcome::Done(Done::referring_to(offer.id)))
        }
        Err(Retry::Later(at)) => Ok(Outcome::Later(at)),
        Err(Retry::Fail(e)) => Err(e),
    }
}

async fn skip_offer(state: &App, id: &str, why: &str) -> AppResult<Outcome> {
    state.store.finish_offer(id, TelegramStatus::Skipped, None, Some(why), state.now()).await?;
    Ok(Outcome::Done(Done::referring_to(id.to_owned())))
}

/// Queue handler of one other message (a reply or a notification's copy).
pub async fn deliver_message(state: &App, item: &QueueItem) -> AppResult<Outcome> {
    let Some(m) = state.store.get_message(&item.subject_id).await? else {
        return Ok(Outcome::Done(Done::referring_to(item.subject_id.clone())));
    };
    if m.status != TelegramStatus::Queued {
        return Ok(Outcome::Done(Done::referring_to(m.id)));
    }
    // A notice for a tester who has since sent /stop (or moved to another chat) stays unsent.
    if let Some(user_id) = &m.user_id
        && state.store.chat_of(user_id).await? != Some(m.chat_id)
    {
        state
            .store
            .finish_message(&m.id, TelegramStatus::Skipped, None, Some("chat unlinked"), state.now())
            .await?;
        return Ok(Outcome::Done(Done::referring_to(m.id)));
    }
    let message = OutgoingMessage { chat_id: m.chat_id, text: m.text.clone(), buttons: Vec::new() };
    match attempt(state, item, &message).await {
        Ok(Sent::Yes(message_id)) => {
            state
                .store
                .finish_message(&m.id, TelegramStatus::Sent, Some(message_id), None, state.now())
                .await?;
            Ok(Outcome::Done(Done::referring_to(m.id)))
        }
        Ok(Sent::Never(why)) => {
            state.store.finish_message(&m.id, TelegramStatus::Failed, None, Some(&why), state.now()).await?;
            Ok(Outcome::Done(Done::referring_to(m.id)))
        }
        Err(Retry::Later(at)) => Ok(Outcome::Later(at)),
        Err(Retry::Fail(e)) => Err(e),
    }
}
