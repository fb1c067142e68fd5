//! Testers and governance in the store: capacity-quiz versions and attempts, special-category
//! consent history, the tester's status, the admin's tester list, and erasure.

use async_trait::async_trait;

use super::{AuditEntry, Guarded, NewUser, StoreResult};
use crate::domain::ids::UserId;
use crate::domain::study::Profile;

/// A quiz version as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuizRow {
    pub id: String,
    pub version: i64,
    pub passing_score: i64,
    /// JSON of the questions with their answers.
    pub questions: String,
    pub created_at: i64,
}

/// A quiz attempt to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewQuizAttempt {
    pub id: String,
    pub quiz_id: String,
    pub tester_id: UserId,
    pub score: i64,
    pub passed: bool,
    pub now: i64,
}

/// How many attempts a tester may make in a window (the rule is the service's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimit {
    pub max: i64,
    /// Attempts at or after this time count.
    pub since: i64,
}

/// What a tester said and wrote, read before erasure: their sessions and the texts that are
/// theirs alone (think-aloud transcripts, notes, added notes, confirmation comments).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TesterWords {
    /// `(session id, study id, status)` of every session of theirs.
    pub sessions: Vec<(String, String, crate::domain::SessionStatus)>,
    pub texts: Vec<String>,
}

/// Where a stored text that may quote a tester lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotePlace {
    /// `findings.data` (JSON) of one of the tester's sessions.
    FindingData,
    /// `findings.comment`: the tester's own confirmation comment.
    FindingComment,
    /// `sessions.analysis` (JSON) of one of their sessions.
    SessionAnalysis,
    /// `sessions.realtime` (JSON) of one of their sessions.
    SessionRealtime,
    /// `reports.data` (JSON): their sessions' reports and their studies' reports.
    ReportData,
    /// `analysis_jobs.result` (JSON) of a queue item about their session or study.
    QueueResult,
    /// `analysis_jobs.payload` (JSON) of such an item.
    QueuePayload,
}

/// One stored text that may quote a tester: its place, its row id, and the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotedText {
    pub place: QuotePlace,
    pub id: String,
    /// True when the row is about the tester's own session (not a whole study).
    pub own: bool,
    pub text: String,
}

/// A tester as the admin list shows them.
#[derive(Debug, Clone)]
pub struct TesterSummary {
    pub user_id: UserId,
    pub email: String,
    pub full_name: String,
    /// `pending` while there is no profile yet.
    pub status: crate::domain::UserStatus,
    pub profile: Option<Profile>,
    pub capacity_verified: bool,
    pub consent_version: Option<String>,
    /// Sessions that reached `completed` or later.
    pub completed_sessions: i64,
    pub joined_at: i64,
}

/// Filters of the admin's tester list that SQL applies (the profile's fields are matched by the
/// service, which owns the profile's shape).
#[derive(Debug, Clone, Default)]
pub struct TesterFilter {
    pub status: Option<crate::domain::UserStatus>,
    pub min_sessions: Option<i64>,
}

/// Session states that count as a completed test for `completedSessions`.
pub type CompletedStates<'a> = &'a [crate::domain::SessionStatus];

/// Governance of testers.
#[async_trait]
pub trait GovernanceStore: Send + Sync + 'static {
    /// The newest quiz version.
    async fn active_quiz(&self) -> StoreResult<Option<QuizRow>>;
    async fn quiz(&self, id: &str) -> StoreResult<Option<QuizRow>>;
    /// Publishes the next version (its id `<id_prefix><version>`), audited in the same transaction
    /// (the audit entry's target becomes that id).
    async fn publish_quiz(
        &self,
        id_prefix: &str,
        passing_score: i64,
        questions: &str,
        audit: AuditEntry,
        now: i64,
    ) -> StoreResult<QuizRow>;
    /// Records an attempt unless `limit` is reached (`WrongState(Refusal::Limit)`); a pass sets the
    /// tester's `capacity_verified` (creating an empty profile if there is none).
    async fn record_quiz_attempt(&self, a: NewQuizAttempt, limit: AttemptLimit) -> StoreResult<Guarded<()>>;
    /// Gives special-category consent (`version`), with a history row.
    async fn give_special_consent(
        &self,
        tester_id: &UserId,
        history_id: &str,
        version: &str,
        now: i64,
    ) -> StoreResult<()>;
    /// Withdraws it: history row, no consent in force, the profile replaced by `cleared` (the
    /// service removes the special-category fields), and the tester's facial and voice items
    /// deleted — in one transaction. `NotFound` when no consent is in force.
    async fn withdraw_special_consent(
        &self,
        tester_id: &UserId,
        history_id: &str,
        cleared: &Profile,
        now: i64,
    ) -> StoreResult<Guarded<()>>;
    /// The consent history, oldest first: `(version, action, at)`.
    async fn consent_history(
        &self,
        tester_id: &UserId,
    ) -> StoreResult<Vec<(String, crate::domain::ConsentAction, i64)>>;
    /// Every tester matching `filter`, newest first (the admin list; the service pages it after
    /// applying the profile filters).
    async fn list_testers(
        &self,
        filter: &TesterFilter,
        completed: CompletedStates<'_>,
    ) -> StoreResult<Vec<TesterSummary>>;
    /// Sets a tester's status, audited with before/after in the same transaction; with
    /// `drop_open_offers`, accepted seats without a session are given back.
    async fn set_tester_status(
        &self,
        tester_id: &UserId,
        status: crate::domain::UserStatus,
        drop_open_offers: bool,
        audit: AuditEntry,
    ) -> StoreResult<Guarded<crate::domain::UserStatus>>;
    /// The tester's sessions and their own words (see [`TesterWords`]).
    async fn tester_words(&self, tester_id: &UserId) -> StoreResult<TesterWords>;
    /// Every stored text that may quote the testers of `sessions` (`(session id, study id)`):
    /// their findings, analyses and snapshots, the reports of those sessions and studies, and
    /// the queue items about them.
    async fn texts_quoting(&self, sessions: &[(String, String)]) -> StoreResult<Vec<QuotedText>>;
    /// Writes texts back (the service redacted them); a `FindingComment` of `None` clears it.
    async fn rewrite_texts(&self, texts: &[(QuotePlace, String, Option<String>)]) -> StoreResult<()>;
    /// Stops a user at once before erasure: no sign-in, no token, no session works any more.
    async fn lock_user(&self, user_id: &UserId, now: i64) -> StoreResult<()>;
    /// Erases a person: their rows are deleted, or re-pointed at `tombstone` (an anonymous user
    /// with no personal data) where the row must outlive them (sessions under findings and
    /// reports, seats, audit entries). One transaction.
    async fn erase_user(&self, user_id: &UserId, tombstone: NewUser, now: i64) -> StoreResult<Guarded<()>>;
}
