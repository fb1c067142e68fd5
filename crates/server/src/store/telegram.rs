//! Telegram in the store: chat links and their one-time codes, handled updates, offers and
//! other outgoing messages, and the shared pacer that spaces sends out across every node.

use async_trait::async_trait;

use crate::domain::ids::{OrgId, StudyId, UserId};

use super::{StoreResult, StudyScope};
use crate::domain::{QueueKind, TelegramStatus, Tenant};
use crate::store::TesterProfile;

/// How sends are queued: the queue kind and its retry budget, and the pacer that spaces them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendPlan {
    pub kind: QueueKind,
    pub max_attempts: i64,
    /// Id prefix of the queue rows.
    pub queue_prefix: &'static str,
    /// `Some((pacer, interval_ms))`: each send takes the pacer's next slot, `interval_ms`
    /// after the previous one. `None`: due at once (interactive replies).
    pub pacing: Option<(&'static str, i64)>,
}

/// A linked tester who could be offered a study.
#[derive(Debug, Clone)]
pub struct OfferCandidate {
    pub chat_id: i64,
    /// The tester's profile row, with what eligibility reads (status, quiz, consent).
    pub tester: TesterProfile,
}

/// An offer to record.
#[derive(Debug, Clone)]
pub struct NewOffer {
    pub id: String,
    pub tester_id: UserId,
    pub chat_id: i64,
    pub status: TelegramStatus,
}

/// A stored offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub id: String,
    pub study_id: StudyId,
    pub tester_id: UserId,
    pub status: TelegramStatus,
    pub chat_id: Option<i64>,
    pub message_id: Option<i64>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewTelegramMessage {
    pub id: String,
    pub user_id: Option<UserId>,
    pub chat_id: i64,
    pub text: String,
    /// Holds a secret (a test token): the text is blanked once sent or given up.
    pub sensitive: bool,
    pub status: TelegramStatus,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramMessageRow {
    pub id: String,
    pub user_id: Option<UserId>,
    pub chat_id: i64,
    pub text: String,
    pub sensitive: bool,
    pub status: TelegramStatus,
}

/// A message with the plan its queue row follows (a notification's Telegram copy).
#[derive(Debug, Clone)]
pub struct TelegramCopy {
    pub message: NewTelegramMessage,
    pub plan: SendPlan,
    /// Tenancy of the queue row.
    pub organization_id: OrgId,
}

/// Where a pacer is: the next free slot and the end of a pause Telegram imposed (epoch ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pacer {
    pub next_at: i64,
    pub paused_until: i64,
}

/// Chat links, updates, offers, messages, pacing.
#[async_trait]
pub trait TelegramStore: Send + Sync + 'static {
    async fn create_link_code(
        &self,
        user_id: &UserId,
        code_hash: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<()>;
    /// Uses a code that is unused and unexpired at `now`, linking `chat_id` to its user (the
    /// chat leaves any other user; the user's previous chat is replaced), in one transaction.
    /// Returns the user, or None for an unknown, used or expired code.
    async fn redeem_link_code(&self, code_hash: &str, chat_id: i64, now: i64) -> StoreResult<Option<String>>;
    /// Unlinks the chat; returns the user it belonged to.
    async fn unlink_chat(&self, chat_id: i64) -> StoreResult<Option<String>>;
    /// The user's linked chat.
    async fn chat_of(&self, user_id: &UserId) -> StoreResult<Option<i64>>;
    /// The user a chat is linked to.
    async fn user_of_chat(&self, chat_id: i64) -> StoreResult<Option<UserId>>;
    /// Records a handled update; `false` when it was recorded before.
    async fn record_update(&self, update_id: i64, now: i64) -> StoreResult<bool>;
    /// Forgets an update whose handling failed, so Telegram's retry is handled.
    async fn forget_update(&self, update_id: i64) -> StoreResult<()>;
    /// Drops update records older than `before` (Telegram stops retrying within a day).
    async fn prune_updates(&self, before: i64) -> StoreResult<u64>;

    /// Linked users with `role` and `user_status` and a tester profile who have neither
    /// answered the study nor been offered it.
    async fn offer_candidates(
        &self,
        study_id: &StudyId,
        role: crate::domain::Role,
        user_status: crate::domain::UserStatus,
    ) -> StoreResult<Vec<OfferCandidate>>;
    /// True when the study is visible in `scope` (the tester-matching rule, without loading it).
    async fn study_visible(&self, scope: &StudyScope, study_id: &StudyId) -> StoreResult<bool>;
    /// Records the offers (a pair already offered is skipped) and queues one send each,
    /// paced as `plan` says, in one transaction. Returns how many were new.
    async fn create_offers(
        &self,
        study_id: &StudyId,
        organization_id: &OrgId,
        offers: &[NewOffer],
        plan: &SendPlan,
        now: i64,
    ) -> StoreResult<u64>;
    /// Records an offer sent directly (job-notify), creating or completing the pair's row.
    async fn record_sent_offer(
        &self,
        study_id: &StudyId,
        offer: &NewOffer,
        message_id: i64,
        now: i64,
    ) -> StoreResult<()>;
    async fn get_offer(&self, id: &str) -> StoreResult<Option<Offer>>;
    /// Sets an offer's final state (`message_id` when sent).
    async fn finish_offer(
        &self,
        id: &str,
        status: TelegramStatus,
        message_id: Option<i64>,
        error: Option<&str>,
        now: i64,
    ) -> StoreResult<()>;
    /// How many of the study's offers are in each state.
    async fn offer_counts(
        &self,
        tenant: &Tenant,
        study_id: &StudyId,
    ) -> StoreResult<Vec<(TelegramStatus, u64)>>;

    /// Stores a message and queues its send, in one transaction.
    async fn queue_message(&self, copy: TelegramCopy, now: i64) -> StoreResult<()>;
    async fn get_message(&self, id: &str) -> StoreResult<Option<TelegramMessageRow>>;
    /// Sets a message's final state; a sensitive message's text is blanked.
    async fn finish_message(
        &self,
        id: &str,
        status: TelegramStatus,
        message_id: Option<i64>,
        error: Option<&str>,
        now: i64,
    ) -> StoreResult<()>;

    async fn pacer(&self, name: &str) -> StoreResult<Pacer>;
    /// Takes the pacer's next slot: `max(next_at, paused_until, now)`; the next one is
    /// `interval_ms` later.
    async fn take_slot(&self, name: &str, now: i64, interval_ms: i64) -> StoreResult<i64>;
    /// Nothing is sent before `until` (slots move past it too).
    async fn pause_pacer(&self, name: &str, until: i64) -> StoreResult<()>;
}
