//! Sessions in the store: tests, test tokens, consent, streams, notes, feedback.

use async_trait::async_trait;

use crate::domain::ids::{OrgId, SessionId, StudyId, UserId};

use super::{Guarded, OutboundEvent, Page, StoreResult};
use crate::domain::study::{ConsentRecord, Profile};
use crate::domain::{PipelineStatus, SessionStatus, Tenant};

/// A session row with the tester's anonymous label number.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: SessionId,
    pub study_id: StudyId,
    pub organization_id: OrgId,
    pub tester_id: UserId,
    pub label_no: Option<i64>,
    pub variant: Option<String>,
    pub status: SessionStatus,
    pub pipeline_status: PipelineStatus,
    pub started_at: i64,
    pub paused_at: Option<i64>,
    pub paused_ms: i64,
    pub completed_at: Option<i64>,
    pub consent: Option<ConsentRecord>,
    pub consent_events: bool,
    pub consent_facial: bool,
    pub consent_voice: bool,
    pub sus: Option<String>,
    pub nps: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The tester's profile (for their ND categories), if any.
    pub tester_profile: Option<Profile>,
    /// JSON of the latest analysis (`{insights, analytics, toneProfile}`), once analysed.
    pub analysis: Option<String>,
    /// JSON of the latest real-time snapshot (Agent 1).
    pub realtime: Option<String>,
    /// What the tester added when confirming ("anything else you want to tell us").
    pub added_notes: Option<String>,
    /// Why the business left this session out of the study's synthesis, if it did.
    pub excluded_reason: Option<String>,
    /// When it was excluded.
    pub excluded_at: Option<i64>,
}

impl Session {
    /// The owning organization's tenant, for reading what hangs off a session already
    /// authorised (or loaded by the worker for its queue item), still filtered in the query.
    pub fn owner(&self) -> Tenant {
        Tenant::Organization(self.organization_id.clone())
    }

    /// The scope that finds this session's study (its organization's studies).
    pub fn study_scope(&self) -> super::StudyScope {
        super::StudyScope::Organization(self.organization_id.clone())
    }
}

/// A session to create.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub study_id: StudyId,
    pub tester_id: UserId,
    pub token_hash: String,
    pub token_expires_at: i64,
    pub now: i64,
    /// Consent given together with the creation, if any.
    pub consent: Option<ConsentRecord>,
}

/// Why a session could not be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateSessionOutcome {
    Created(SessionId),
    StudyNotFound,
    StudyNotOpen(String),
    NotAccepted,
    /// The tester had no seat and none is free.
    Full,
    AlreadyExists,
}

/// The guards and effects of creating a session, decided by the sessions service and
/// applied by the store in one transaction.
#[derive(Debug, Clone, Copy)]
pub struct SessionStart<'a> {
    /// The study must be in one of these states.
    pub study_in: &'a [crate::domain::StudyStatus],
    /// The study moves from the first state to the second when the session starts.
    pub study_moves: (crate::domain::StudyStatus, crate::domain::StudyStatus),
    pub status: SessionStatus,
    pub pipeline: PipelineStatus,
    /// A tester without an accepted seat takes one in the same transaction (implicit accept).
    pub take_seat: bool,
}

/// A guarded state change of a session: allowed current states, the change, and the
/// outbound event it causes (recorded in the same transaction).
#[derive(Debug, Clone)]
pub struct SessionTransition<'a> {
    pub from: &'a [SessionStatus],
    pub change: SessionChange,
    pub event: Option<OutboundEvent>,
    /// Written with the change (the flow's next steps).
    pub then: crate::store::FollowUps,
}

/// Picks the variant from the per-variant session counts (`None`: no A/B test).
pub type VariantChooser = dyn Fn(&[(String, i64)]) -> Option<String> + Send + Sync;

/// State changes of a session (to `to`), with the bookkeeping each needs.
#[derive(Debug, Clone, Copy)]
pub enum SessionChange {
    /// Starts a pause clock.
    Pause { to: SessionStatus },
    /// Adds the pause to the paused total.
    Resume { to: SessionStatus },
    /// Closes the pause clock and records the completion time.
    Complete { to: SessionStatus, completed_at: i64 },
    /// Closes the pause clock without a completion time, and gives the tester's seat back
    /// (as a decline does), whoever abandons the session: an abandoned session never holds a seat.
    Abandon { to: SessionStatus },
}

/// An event item as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub id: String,
    pub client_id: Option<String>,
    pub ts: i64,
    pub event_type: String,
    pub target_selector: String,
    pub x: Option<f64>,
    pub y: Option<f64>,
    pub scroll_y: Option<f64>,
    pub input_length: Option<i64>,
    pub viewport_width: Option<i64>,
    pub viewport_height: Option<i64>,
    pub url: Option<String>,
    pub target_text: Option<String>,
    pub task_id: Option<String>,
    pub hover_ms: Option<i64>,
    pub error_message: Option<String>,
    /// The engine's optional fields (api.md §5): deletions in an `input` burst, text selected
    /// after a click, DOM mutations within 1 s after a click, a click opening a new context,
    /// the target's role, the words on a page.
    pub extra: EventExtra,
}

/// The optional event fields the engine's baselines and false-alarm rules read (api.md §5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventExtra {
    pub deletions: Option<i64>,
    pub selection_length: Option<i64>,
    pub mutations: Option<i64>,
    pub opens_new_context: Option<bool>,
    pub role: Option<String>,
    pub word_count: Option<i64>,
}

/// A facial-emotion snapshot as stored (labels only, never images).
#[derive(Debug, Clone, PartialEq)]
pub struct FacialRow {
    pub id: String,
    pub client_id: Option<String>,
    pub ts: i64,
    pub emotion: String,
    pub confidence: f64,
    pub face_detected: bool,
    /// JSON object text.
    pub action_units: Option<String>,
    pub capture_interval_ms: Option<i64>,
}

/// A think-aloud transcript segment as stored (text only, never audio).
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceRow {
    pub id: String,
    pub client_id: Option<String>,
    pub ts: i64,
    pub duration_ms: i64,
    pub transcript: String,
    pub confidence: f64,
}

/// Every stream of a session, in timestamp order: what the analysis engine reads.
#[derive(Debug, Clone, Default)]
pub struct SessionStreams {
    pub events: Vec<EventRow>,
    pub facial: Vec<FacialRow>,
    pub voice: Vec<VoiceRow>,
    pub notes: Vec<NoteRow>,
    pub attempts: Vec<TaskAttemptRow>,
}

/// A batch of one stream.
#[derive(Debug, Clone)]
pub enum StreamBatch {
    Events(Vec<EventRow>),
    Facial(Vec<FacialRow>),
    Voice(Vec<VoiceRow>),
}

/// What an ingestion stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IngestCounts {
    pub stored: u64,
    pub duplicates: u64,
}

/// A text note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteRow {
    pub id: String,
    pub ts: i64,
    pub text: String,
    pub created_at: i64,
}

/// A task attempt (feedback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskAttemptRow {
    pub task_id: String,
    pub outcome: String,
    pub seq_score: Option<i64>,
    pub started_at: i64,
    pub ended_at: i64,
}

/// Filters of the events read-back.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub event_type: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// Sessions, their streams and feedback. Every method that touches a session's data takes
/// the caller's `Tenant` and filters on it in SQL (`Tenant::All` for admins and workers).
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Creates the session if the study is in one of `start.study_in` and the tester holds a
    /// seat (or, with `start.take_seat`, takes a free one); applies `start.study_moves` and
    /// records the consent given with it. Atomic.
    async fn create_session(
        &self,
        s: NewSession,
        start: SessionStart<'_>,
        choose_variant: &VariantChooser,
    ) -> StoreResult<CreateSessionOutcome>;
    async fn get_session(&self, tenant: &Tenant, id: &SessionId) -> StoreResult<Option<Session>>;
    async fn list_sessions(
        &self,
        tenant: &Tenant,
        study_id: Option<&StudyId>,
        status: Option<SessionStatus>,
        page: Page,
    ) -> StoreResult<(Vec<Session>, u64)>;
    /// The live session a test token belongs to: `(session_id, tester_id)`.
    async fn session_for_test_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<(SessionId, UserId)>>;
    /// Applies a state change if the session is in one of `t.from`.
    async fn change_session(
        &self,
        tenant: &Tenant,
        id: &SessionId,
        t: SessionTransition<'_>,
        now: i64,
    ) -> StoreResult<Guarded<Session>>;
    /// The time of the session's last stored item (event, facial, voice or note), if any.
    async fn last_item_at(&self, tenant: &Tenant, session_id: &SessionId) -> StoreResult<Option<i64>>;
    /// How many voice segments and notes (think-aloud) the session holds.
    async fn think_aloud_items(&self, tenant: &Tenant, session_id: &SessionId) -> StoreResult<i64>;
    /// Records consent if the session is in one of `from` (checked in the same transaction).
    async fn set_consent(
        &self,
        tenant: &Tenant,
        id: &SessionId,
        from: &[SessionStatus],
        consent: &ConsentRecord,
        now: i64,
    ) -> StoreResult<Guarded<()>>;
    /// Stores a batch in one transaction if the session is in `accepting` and its stream is
    /// consented, both read in that transaction (so a concurrent completion or consent
    /// withdrawal cannot slip between); `WrongState(Refusal::NoConsent)` when the stream is not.
    async fn ingest(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        accepting: SessionStatus,
        batch: StreamBatch,
    ) -> StoreResult<Guarded<IngestCounts>>;
    async fn list_events(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        filter: &EventFilter,
        page: Page,
    ) -> StoreResult<(Vec<EventRow>, u64)>;
    /// Export cursors: rows after `(ts, seq)` in timestamp order, with their seq.
    async fn events_after(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        after: (i64, i64),
        limit: i64,
    ) -> StoreResult<Vec<(i64, EventRow)>>;
    async fn facial_after(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        after: (i64, i64),
        limit: i64,
    ) -> StoreResult<Vec<(i64, FacialRow)>>;
    async fn voice_after(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        after: (i64, i64),
        limit: i64,
    ) -> StoreResult<Vec<(i64, VoiceRow)>>;
    /// Every stream of the session at once, typed, in timestamp order (the engine's input).
    async fn session_streams(&self, tenant: &Tenant, session_id: &SessionId) -> StoreResult<SessionStreams>;
    async fn add_note(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        note: NoteRow,
    ) -> StoreResult<Guarded<()>>;
    async fn list_notes(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        page: Page,
    ) -> StoreResult<(Vec<NoteRow>, u64)>;
    /// Upserts task attempts (by task) and the survey, in one transaction.
    async fn put_feedback(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        attempts: &[TaskAttemptRow],
        sus: Option<&str>,
        nps: Option<i64>,
        now: i64,
    ) -> StoreResult<Guarded<()>>;
    async fn list_attempts(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
    ) -> StoreResult<Vec<TaskAttemptRow>>;
    /// The ND categories of each tester with a session in the study (one entry per tester).
    async fn study_tester_categories(
        &self,
        tenant: &Tenant,
        study_id: &StudyId,
    ) -> StoreResult<Vec<Vec<String>>>;
}
