//! The agent pipeline in the store: the durable job queue and session findings.

use async_trait::async_trait;

use super::{Guarded, StoreResult};

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: String,
    /// `analyze_session`, …
    pub kind: String,
    pub subject_id: String,
    pub organization_id: String,
    pub tester_id: Option<String>,
    /// Parameters of the run (JSON), if any.
    pub payload: Option<String>,
    pub max_attempts: i64,
    pub now: i64,
}

/// A job row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub subject_id: String,
    pub organization_id: String,
    pub tester_id: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub error: Option<String>,
    pub result_ref: Option<String>,
    pub payload: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Who reads a job: its organization, the session's tester, or everyone (admin).
#[derive(Debug, Clone)]
pub enum JobScope {
    Organization(String),
    Tester(String),
    All,
}

/// A stored finding with the tester's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingRow {
    pub id: String,
    pub session_id: String,
    /// JSON of the engine's finding.
    pub data: String,
    pub decision: Option<String>,
    pub comment: Option<String>,
    pub decided_at: Option<i64>,
}

/// One decision of the tester.
#[derive(Debug, Clone)]
pub struct FindingDecision {
    pub finding_id: String,
    /// `confirm` or `reject`.
    pub decision: String,
    pub comment: Option<String>,
}

/// What must hold, in the enqueueing transaction, for a job to be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueGuard {
    /// Agent 2: the session is `completed` or `analyzed`; its pipeline becomes `queued`.
    AnalyzeSession,
    /// Agent 3: the session is `confirmed`.
    SessionReport,
    /// Agent 4: the study has at least one confirmed session (`WrongState("none confirmed")`).
    StudyReport,
    /// Agent 1: the session is `active` or `paused`.
    Snapshot,
}

/// A report to store.
#[derive(Debug, Clone)]
pub struct NewReport {
    pub id: String,
    /// `session` or `study`.
    pub kind: String,
    pub subject_id: String,
    pub study_id: String,
    pub organization_id: String,
    pub data: String,
    pub now: i64,
}

/// A stored report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub id: String,
    pub kind: String,
    pub subject_id: String,
    pub study_id: String,
    pub data: String,
    pub created_at: i64,
}

/// The queue and the results.
#[async_trait]
pub trait PipelineStore: Send + Sync + 'static {
    /// Checks `guard` and enqueues the job in one transaction; if a job of the same kind for
    /// the same subject is already queued or running, returns that one instead.
    async fn enqueue_job(&self, job: NewJob, guard: EnqueueGuard) -> StoreResult<Guarded<Job>>;
    /// Claims the next due job (or one whose lease expired): PostgreSQL `FOR UPDATE SKIP
    /// LOCKED`, SQLite through its single writer.
    async fn claim_job(&self, worker: &str, now: i64, lease_ms: i64) -> StoreResult<Option<Job>>;
    async fn complete_job(&self, id: &str, result_ref: &str, now: i64) -> StoreResult<()>;
    /// Records a failure: back to `queued` at `retry_at`, or `failed` when `retry_at` is None.
    async fn fail_job(&self, id: &str, error: &str, retry_at: Option<i64>, now: i64) -> StoreResult<()>;
    async fn get_job(&self, scope: &JobScope, id: &str) -> StoreResult<Option<Job>>;
    /// Stores an analysis: replaces the session's findings and analysis, session → `analyzed`,
    /// pipeline → `awaiting_confirmation`. Idempotent; refuses (`WrongState`) once confirmed.
    async fn save_session_analysis(
        &self,
        session_id: &str,
        study_id: &str,
        findings: &[(String, String)],
        analysis_json: &str,
        now: i64,
    ) -> StoreResult<Guarded<()>>;
    async fn list_findings(&self, session_id: &str) -> StoreResult<Vec<FindingRow>>;
    /// Records decisions; when every finding is decided the session becomes `confirmed` and
    /// the study `completed` once `testerCount` sessions are confirmed. Returns whether the
    /// session is now confirmed. Errors name an unknown finding.
    /// Stores a report; a session report also moves the session's pipeline to `reported`.
    async fn save_report(&self, report: NewReport) -> StoreResult<()>;
    /// A report by id, tenant-scoped (`Tester` scope sees none).
    async fn get_report(&self, scope: &JobScope, id: &str) -> StoreResult<Option<ReportRow>>;
    /// The newest report about a session or study.
    async fn latest_report(&self, scope: &JobScope, subject_id: &str) -> StoreResult<Option<ReportRow>>;
    /// Attaches a real-time snapshot (Agent 1) to the session.
    async fn save_realtime(&self, session_id: &str, snapshot_json: &str, now: i64) -> StoreResult<()>;
    /// Ids of the study's confirmed sessions, oldest first.
    async fn confirmed_sessions(&self, study_id: &str) -> StoreResult<Vec<String>>;
    async fn confirm_findings(
        &self,
        session_id: &str,
        decisions: &[FindingDecision],
        added_notes: Option<&str>,
        now: i64,
    ) -> StoreResult<Guarded<bool>>;
}
