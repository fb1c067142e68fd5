//! The agent pipeline in the store: the durable work queue, session findings and reports.

use async_trait::async_trait;

use crate::domain::ids::{FindingId, OrgId, QueueItemId, SessionId, StudyId, UserId};

use super::{Guarded, NewNotification, OutboundEvent, StoreResult, TelegramCopy};
use crate::domain::{
    Decision, PipelineStatus, QueueKind, QueueStatus, ReportKind, SessionStatus, StudyStatus, Tenant,
};

/// Work to enqueue.
#[derive(Debug, Clone)]
pub struct NewQueueItem {
    pub id: QueueItemId,
    pub kind: QueueKind,
    pub subject_id: String,
    pub organization_id: OrgId,
    pub tester_id: Option<UserId>,
    /// Parameters of the run (JSON), if any.
    pub payload: Option<String>,
    pub max_attempts: i64,
    pub now: i64,
}

/// A queue row (the wire calls it an analysis job: `ajob_…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueItem {
    pub id: QueueItemId,
    pub kind: QueueKind,
    pub subject_id: String,
    pub organization_id: OrgId,
    pub tester_id: Option<UserId>,
    pub status: QueueStatus,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub error: Option<String>,
    pub result_ref: Option<String>,
    /// JSON of what the run produced, when it has something to show.
    pub result: Option<String>,
    pub payload: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A stored finding with the tester's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingRow {
    pub id: FindingId,
    pub session_id: SessionId,
    /// JSON of the engine's finding.
    pub data: String,
    pub decision: Option<Decision>,
    pub comment: Option<String>,
    pub decided_at: Option<i64>,
}

/// One decision of the tester.
#[derive(Debug, Clone)]
pub struct FindingDecision {
    pub finding_id: FindingId,
    pub decision: Decision,
    pub comment: Option<String>,
}

/// What must hold, in the enqueueing transaction, for work to be accepted (the services
/// decide the states; the store checks them atomically).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueGuard<'a> {
    /// The subject session is in one of `within`; its pipeline becomes `pipeline` if given.
    Session { within: &'a [SessionStatus], pipeline: Option<PipelineStatus> },
    /// The subject study has at least one session in `with` (`WrongState(Refusal::NoSessionIn(with))`).
    StudyHasSession { with: SessionStatus },
    /// The subject study is in one of `within`.
    StudyIn { within: &'a [StudyStatus] },
    /// The subject study's synthesis is due: at least one of its sessions is `confirmed`, and
    /// either the study is in one of `or_in`, or `target` of its sessions are settled (in
    /// `confirmed`, or out of it with the pipeline `failed`). The study row is locked first, so
    /// of two concurrent last steps the later one sees the earlier.
    StudySettled { confirmed: SessionStatus, failed: PipelineStatus, target: i64, or_in: &'a [StudyStatus] },
    /// No precondition (scheduled work).
    Unconditional,
}

/// What a step of the flow triggers (api.md §11; decided in `services::flow`), written in the
/// step's own transaction, so it happens if and only if the step committed: queue items (each
/// under its guard, skipped when the guard does not hold, never a second one of a kind pending
/// for a subject), notifications (once per key) with their Telegram copies, outbound events of
/// organization `.0`.
#[derive(Debug, Clone, Default)]
pub struct FollowUps {
    /// Written first, so the guards of `enqueue` see the study's new state.
    pub study_settles: Option<StudySettles>,
    pub enqueue: Vec<(NewQueueItem, EnqueueGuard<'static>)>,
    pub notify: Vec<(NewNotification, Option<TelegramCopy>)>,
    pub events: Vec<(OrgId, OutboundEvent)>,
}

/// A study moving `from → to` once `target` of its sessions are settled: `confirmed`, or out
/// of `confirmed` with the pipeline `failed` (decision 208), at least one of them confirmed.
/// Checked inside the step's transaction, the study row locked.
#[derive(Debug, Clone)]
pub struct StudySettles {
    pub study_id: StudyId,
    pub from: StudyStatus,
    pub to: StudyStatus,
    pub confirmed: SessionStatus,
    pub failed: PipelineStatus,
    pub target: i64,
}

impl FollowUps {
    /// Nothing follows.
    pub fn none() -> Self {
        Self::default()
    }

    /// Both lists of follow-ups.
    pub fn and(mut self, other: FollowUps) -> Self {
        self.study_settles = self.study_settles.or(other.study_settles);
        self.enqueue.extend(other.enqueue);
        self.notify.extend(other.notify);
        self.events.extend(other.events);
        self
    }
}

/// A session's move after its analysis is stored.
#[derive(Debug, Clone)]
pub struct AnalysisSaved<'a> {
    /// States in which an analysis may be stored (a confirmed session keeps its findings).
    pub from: &'a [SessionStatus],
    pub to: SessionStatus,
    pub pipeline: PipelineStatus,
    pub event: Option<OutboundEvent>,
    /// Written with the move (not when the session was already analysed by the same run).
    pub then: FollowUps,
}

/// A session's move once every finding is decided, and the study's when enough sessions are.
#[derive(Debug, Clone)]
pub struct Confirmation {
    /// The session must be in this state to take decisions.
    pub from: SessionStatus,
    pub to: SessionStatus,
    pub pipeline: PipelineStatus,
    pub event: Option<OutboundEvent>,
    /// Written once the session is confirmed (the study's move to `completed` among them).
    pub then: FollowUps,
}

/// A report to store.
#[derive(Debug, Clone)]
pub struct NewReport {
    pub id: String,
    pub kind: ReportKind,
    pub subject_id: String,
    pub study_id: StudyId,
    pub organization_id: OrgId,
    pub data: String,
    pub now: i64,
    /// A session report moves the session's pipeline here.
    pub session_pipeline: Option<PipelineStatus>,
    pub event: Option<OutboundEvent>,
    pub then: FollowUps,
}

/// A stored report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub id: String,
    pub kind: ReportKind,
    pub subject_id: String,
    pub study_id: StudyId,
    pub data: String,
    pub created_at: i64,
}

/// The queue and the results.
#[async_trait]
pub trait PipelineStore: Send + Sync + 'static {
    /// Checks `guard` and enqueues the work in one transaction; if work of the same kind for
    /// the same subject is already queued or running, returns that one instead.
    async fn enqueue(&self, item: NewQueueItem, guard: EnqueueGuard<'_>) -> StoreResult<Guarded<QueueItem>>;
    /// Claims the next due item (or one whose lease expired): PostgreSQL `FOR UPDATE SKIP
    /// LOCKED`, SQLite through its single writer.
    async fn claim_next(&self, worker: &str, now: i64, lease_ms: i64) -> StoreResult<Option<QueueItem>>;
    /// Extends the lease of an item `worker` is running to `until`; `false` when the item is no
    /// longer this worker's (taken over, or finished).
    async fn renew_lease(&self, id: &QueueItemId, worker: &str, until: i64) -> StoreResult<bool>;
    async fn complete_item(
        &self,
        id: &QueueItemId,
        result_ref: &str,
        result: Option<&str>,
        now: i64,
    ) -> StoreResult<()>;
    /// Records a failure: back to `queued` at `retry_at`, or `failed` when `retry_at` is None;
    /// a final failure also sets the subject session's pipeline to `on_final`, if given, and
    /// writes `then`, in the same transaction.
    async fn fail_item(
        &self,
        id: &QueueItemId,
        error: &str,
        retry_at: Option<i64>,
        on_final: Option<PipelineStatus>,
        then: FollowUps,
        now: i64,
    ) -> StoreResult<()>;
    async fn get_queue_item(&self, tenant: &Tenant, id: &QueueItemId) -> StoreResult<Option<QueueItem>>;
    /// Stores an analysis: replaces the session's findings and analysis and moves the session
    /// as `saved` says, in one transaction; `WrongState` outside `saved.from`.
    #[allow(clippy::too_many_arguments)] // tenant, session, study, what is saved, its guard, the time
    async fn save_session_analysis(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        study_id: &StudyId,
        findings: &[(FindingId, String)],
        analysis_json: &str,
        saved: AnalysisSaved<'_>,
        now: i64,
    ) -> StoreResult<Guarded<()>>;
    async fn list_findings(&self, tenant: &Tenant, session_id: &SessionId) -> StoreResult<Vec<FindingRow>>;
    /// Records decisions; when every finding is decided, applies `c` (session, study, event).
    /// Returns whether the session is now confirmed. An unknown finding rolls back all.
    async fn confirm_findings(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        decisions: &[FindingDecision],
        added_notes: Option<&str>,
        c: Confirmation,
        now: i64,
    ) -> StoreResult<Guarded<bool>>;
    /// Stores a report with its effects; `false` (and no effect) when a report with its id
    /// exists (the same queue item ran before).
    async fn save_report(&self, report: NewReport) -> StoreResult<bool>;
    /// A report by id, tenant-scoped (a tester tenant sees none: reports are the business's).
    async fn get_report(&self, tenant: &Tenant, id: &str) -> StoreResult<Option<ReportRow>>;
    /// The newest report about a session or study.
    async fn latest_report(&self, tenant: &Tenant, subject_id: &str) -> StoreResult<Option<ReportRow>>;
    /// Attaches a real-time snapshot (Agent 1) to the session.
    async fn save_realtime(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        snapshot_json: &str,
        now: i64,
    ) -> StoreResult<()>;
    /// Ids of the study's sessions in `status`, oldest first.
    async fn sessions_in(
        &self,
        tenant: &Tenant,
        study_id: &StudyId,
        status: SessionStatus,
    ) -> StoreResult<Vec<SessionId>>;
    /// Ids of the study's sessions whose pipeline is `pipeline` and whose status is not
    /// `except`, oldest first.
    async fn sessions_with_pipeline(
        &self,
        tenant: &Tenant,
        study_id: &StudyId,
        pipeline: PipelineStatus,
        except: SessionStatus,
    ) -> StoreResult<Vec<SessionId>>;
    /// Sessions in `status` with pipeline `pipeline` last changed before `before`, oldest first,
    /// at most `limit`: `(session, study, organization, tester, changed at)`.
    async fn sessions_waiting(
        &self,
        status: SessionStatus,
        pipeline: PipelineStatus,
        before: i64,
        limit: i64,
    ) -> StoreResult<Vec<(SessionId, StudyId, String, String, i64)>>;
    /// How many of the study's sessions are in each `(status, pipeline)` pair.
    async fn pipeline_counts(
        &self,
        tenant: &Tenant,
        study_id: &StudyId,
    ) -> StoreResult<Vec<(SessionStatus, PipelineStatus, i64)>>;
}
