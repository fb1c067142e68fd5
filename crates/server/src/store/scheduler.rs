//! Scheduled work in the store: the tick claims that keep two nodes from running one tick,
//! giving a claimed queue item back, and the queries and guarded writes of the jobs
//! (timeouts, reminders, follow-ups, retention).

use async_trait::async_trait;

use crate::domain::ids::{OrgId, QueueItemId, SessionId, StudyId, UserId};

use super::{NewNotification, OutboundEvent, StoreResult, TelegramCopy};
use crate::domain::study::ConsentRecord;
use crate::domain::{CronJob, SeatStatus, SessionStatus, StudyStatus};

/// A running session, as the timeout job reads it.
#[derive(Debug, Clone)]
pub struct RunningSession {
    pub id: SessionId,
    pub study_id: StudyId,
    pub tester_id: UserId,
    pub status: SessionStatus,
    pub started_at: i64,
    pub paused_at: Option<i64>,
    pub paused_ms: i64,
    pub consent: Option<ConsentRecord>,
}

/// A tester who accepted a study and has not started it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingStart {
    pub study_id: StudyId,
    pub organization_id: OrgId,
    pub tester_id: UserId,
    pub accepted_at: i64,
}

/// A study open too long, not flagged yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StalledStudy {
    pub study_id: StudyId,
    pub organization_id: OrgId,
    pub launched_at: i64,
}

/// Ticks and the scheduled jobs' reads and writes.
#[async_trait]
pub trait SchedulerStore: Send + Sync + 'static {
    /// Claims `job`'s tick at `tick_at` for `node`: true for exactly one caller per tick,
    /// however many nodes ask (compare-and-set on the job's last claimed tick).
    async fn claim_tick(&self, job: CronJob, tick_at: i64, node: &str, now: i64) -> StoreResult<bool>;
    /// Gives a claimed queue item back to the queue, due at `run_at`, without counting the
    /// attempt its claim took (waiting for a rate limit is not a failure).
    async fn defer_item(&self, id: &QueueItemId, run_at: i64, now: i64) -> StoreResult<()>;

    /// Sessions in `within` started before `started_before`, oldest first.
    async fn running_sessions(
        &self,
        within: &[SessionStatus],
        started_before: i64,
    ) -> StoreResult<Vec<RunningSession>>;
    /// Seats in `seat` taken before `accepted_before` in studies in `study_in`, not reminded,
    /// whose tester has no session or only one still in `untouched` without consent.
    async fn pending_starts(
        &self,
        study_in: &[StudyStatus],
        seat: SeatStatus,
        untouched: SessionStatus,
        accepted_before: i64,
    ) -> StoreResult<Vec<PendingStart>>;
    /// Marks the seat reminded (once) and records the reminder with its Telegram copy, in one
    /// transaction; false when it was reminded before.
    async fn mark_reminded(
        &self,
        study_id: &StudyId,
        tester_id: &UserId,
        notification: NewNotification,
        telegram: Option<TelegramCopy>,
        now: i64,
    ) -> StoreResult<bool>;
    /// Studies in `within` launched before `launched_before` and never flagged, oldest first.
    async fn stalled_studies(
        &self,
        within: &[StudyStatus],
        launched_before: i64,
        limit: i64,
    ) -> StoreResult<Vec<StalledStudy>>;
    /// Flags the study for staff (once), records the notifications and the outbound event, in
    /// one transaction; false when it was flagged before.
    async fn flag_stalled(
        &self,
        study: &StalledStudy,
        notifications: Vec<NewNotification>,
        event: OutboundEvent,
        now: i64,
    ) -> StoreResult<bool>;
    /// Sessions started before `started_before` whose raw streams are still kept.
    async fn sessions_to_purge(&self, started_before: i64, limit: i64) -> StoreResult<Vec<SessionId>>;
    /// Deletes the session's events, facial and voice rows and marks it purged; returns the
    /// rows deleted.
    async fn purge_streams(&self, session_id: &SessionId, now: i64) -> StoreResult<u64>;
}
