//! Studies in the store: studies with tasks and targeting, tester profiles, offers.

use async_trait::async_trait;

use super::{Page, StoreResult};
use crate::domain::ids::{OrgId, StudyId, UserId};
use crate::domain::study::{Profile, StudyDefinition};
use crate::domain::{PaymentStatus, SessionStatus, StudyStatus, Tenant};

/// Who is asking, for tenant filtering in SQL.
#[derive(Debug, Clone)]
pub enum StudyScope {
    /// A business member: only this organization's studies.
    Organization(OrgId),
    /// A tester: studies they answered, plus studies in `offered_in` matching their profile.
    Tester { tester_id: UserId, profile: MatchProfile, offered_in: Vec<StudyStatus> },
    /// An admin: everything.
    All,
}

/// The profile facts used to match a tester to studies.
#[derive(Debug, Clone, Default)]
pub struct MatchProfile {
    pub country: Option<String>,
    pub languages: Vec<String>,
    pub devices: Vec<String>,
    pub nd_categories: Vec<String>,
    /// Age this year, when the birth year is known.
    pub age: Option<i64>,
}

/// A task of a study.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudyTask {
    pub id: String,
    pub order: i64,
    pub title: String,
    pub description: String,
    pub success_criteria: String,
}

/// A study row with its tasks and counts.
#[derive(Debug, Clone)]
pub struct Study {
    pub id: StudyId,
    pub organization_id: OrgId,
    pub created_by: UserId,
    pub status: StudyStatus,
    /// The study definition (tasks are in `tasks`).
    pub definition: StudyDefinition,
    pub tester_count: i64,
    pub tasks: Vec<StudyTask>,
    pub seats_taken: i64,
    pub sessions_total: i64,
    pub sessions_confirmed: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub launched_at: Option<i64>,
    pub closed_at: Option<i64>,
}

impl Study {
    /// The owning organization's tenant: how code already holding this study (authorised, or
    /// run by the worker for this study's queue item) reads what hangs off it, still filtered
    /// by organization in the query.
    pub fn owner(&self) -> Tenant {
        Tenant::Organization(self.organization_id.clone())
    }
}

impl From<&Tenant> for StudyScope {
    /// The studies a tenant reaches without a profile match: all (the system, an admin), the
    /// organization's, or a tester's answered ones (`services::studies::scope_for` adds the
    /// open studies their profile matches).
    fn from(t: &Tenant) -> Self {
        match t {
            Tenant::All => StudyScope::All,
            Tenant::Organization(o) => StudyScope::Organization(o.clone()),
            Tenant::Tester(t) => StudyScope::Tester {
                tester_id: t.clone(),
                profile: MatchProfile::default(),
                offered_in: Vec::new(),
            },
        }
    }
}

/// A study to write: the definition plus the columns matching uses.
#[derive(Debug, Clone)]
pub struct StudyWrite {
    pub definition: StudyDefinition,
    pub tester_count: i64,
    pub min_age: Option<i64>,
    pub max_age: Option<i64>,
    /// `(kind, value)`: kind is `country`, `language`, `device` or `nd`.
    pub targets: Vec<(crate::domain::TargetKind, String)>,
    /// Tasks with fresh ids.
    pub tasks: Vec<StudyTask>,
}

/// Result of a guarded change.
#[derive(Debug, Clone)]
pub enum Guarded<T> {
    Done(T),
    NotFound,
    /// The resource exists but the change does not apply to it now.
    WrongState(Refusal),
}

/// Why a guarded change was refused although its resource exists: typed, so a service matches
/// the refusal itself and never a status's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The session is in this status.
    Session(SessionStatus),
    /// The study is in this status.
    Study(StudyStatus),
    /// The study's payment is in this status.
    Payment(PaymentStatus),
    /// The study has no session in this status.
    NoSessionIn(SessionStatus),
    /// The stream written to is not consented.
    NoConsent,
    /// An attempt limit is reached.
    Limit,
    /// The tester already started a session.
    Started,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Session(s) => f.write_str(s.as_str()),
            Refusal::Study(s) => f.write_str(s.as_str()),
            Refusal::Payment(s) => f.write_str(s.as_str()),
            Refusal::NoSessionIn(s) => write!(f, "none {s}"),
            Refusal::NoConsent => f.write_str("no consent"),
            Refusal::Limit => f.write_str("limit"),
            Refusal::Started => f.write_str("started"),
        }
    }
}

/// Result of accepting an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptOutcome {
    Accepted { label_no: i64 },
    AlreadyAccepted,
    Full,
    NotOpen(StudyStatus),
    NotFound,
}

/// A tester's stored profile.
#[derive(Debug, Clone)]
pub struct TesterProfile {
    pub user_id: UserId,
    pub profile: Profile,
    pub capacity_verified: bool,
    /// The special-category consent in force (its version), if any.
    pub consent_version: Option<String>,
    /// Set by admins.
    pub status: crate::domain::UserStatus,
    pub updated_at: i64,
}

/// Studies, tester profiles and offers.
#[async_trait]
pub trait StudyStore: Send + Sync + 'static {
    async fn create_study(
        &self,
        id: &StudyId,
        org_id: &OrgId,
        created_by: &UserId,
        w: StudyWrite,
        now: i64,
    ) -> StoreResult<Study>;
    async fn get_study(&self, scope: &StudyScope, id: &StudyId) -> StoreResult<Option<Study>>;
    async fn list_studies(
        &self,
        scope: &StudyScope,
        status: Option<StudyStatus>,
        page: Page,
    ) -> StoreResult<(Vec<Study>, u64)>;
    /// Replaces the definition and tasks of a study in one of `from` (organization-scoped
    /// unless `org_id` is None).
    async fn update_draft(
        &self,
        org_id: Option<&OrgId>,
        id: &StudyId,
        from: &[StudyStatus],
        w: StudyWrite,
        now: i64,
    ) -> StoreResult<Guarded<Study>>;
    /// Moves a study from one of `from` to `to` (organization-scoped unless `org_id` is None),
    /// writing `then` (events, the flow's next steps) in the same transaction.
    async fn set_study_status(
        &self,
        org_id: Option<&OrgId>,
        id: &StudyId,
        from: &[StudyStatus],
        to: StudyStatus,
        then: crate::store::FollowUps,
        now: i64,
    ) -> StoreResult<Guarded<Study>>;
    /// Takes a seat for the tester if the study is in one of `open_in` and not full.
    async fn accept_study(
        &self,
        tester_id: &UserId,
        id: &StudyId,
        open_in: &[StudyStatus],
        now: i64,
    ) -> StoreResult<AcceptOutcome>;
    /// Declines an offer (frees the seat of an accepted one without a session).
    async fn decline_study(&self, tester_id: &UserId, id: &StudyId, now: i64) -> StoreResult<Guarded<()>>;
    /// Whether a study with this id exists, whoever owns it: all it tells is existence, so a
    /// caller can answer 404 for an unknown id and 422 for a study out of their reach.
    async fn study_exists(&self, id: &StudyId) -> StoreResult<bool>;
    /// The tester's answer to a study: `accepted` or `declined`, with the label number.
    async fn offer_status(
        &self,
        tester_id: &UserId,
        study_id: &StudyId,
    ) -> StoreResult<Option<(String, Option<i64>)>>;

    async fn get_profile(&self, user_id: &UserId) -> StoreResult<Option<TesterProfile>>;
    async fn put_profile(&self, user_id: &UserId, profile: &Profile, now: i64) -> StoreResult<TesterProfile>;
}
