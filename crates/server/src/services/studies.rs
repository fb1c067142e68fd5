//! Studies: the definition and its rules (spec §3), tester profiles and matching, offers.

use std::collections::BTreeSet;

use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::principal::Principal;
use crate::domain::codes;
use crate::domain::ids::{OrgId, StudyId, new_id, prefix};
pub use crate::domain::study::*;
use crate::domain::{
    PipelineStatus, QueueKind, Role, SessionStatus, StudyStatus, TargetKind, Tenant, WebhookEvent,
};
use crate::error::{AppError, AppResult};
use crate::services::queue::{self, Work};
use crate::services::{billing, flow, governance, webhooks};
use crate::store::{
    AcceptOutcome, EnqueueGuard, FollowUps, Guarded, MatchProfile, Page, ReportRow, Study, StudyScope,
    StudyTask, StudyWrite, TesterProfile,
};

fn invalid(msg: impl Into<String>) -> AppError {
    AppError::Unprocessable(msg.into())
}

/// Changes to a draft; absent fields keep their value, `tasks` replaces the list.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StudyPatch {
    #[schema(min_length = 3, max_length = 100)]
    pub title: Option<String>,
    #[schema(min_length = 1, max_length = 5000)]
    pub description: Option<String>,
    #[schema(max_length = 2048, pattern = "^https?://[^/?#\\s]+")]
    pub prototype_url: Option<String>,
    pub prototype_type: Option<PrototypeType>,
    #[schema(min_items = 1, max_items = 50)]
    pub tasks: Option<Vec<TaskIn>>,
    pub targeting: Option<Targeting>,
    pub nd_categories: Option<Vec<String>>,
    pub ab_test: Option<AbTest>,
    pub compensation: Option<Compensation>,
    pub settings: Option<Settings>,
    #[schema(value_type = Option<Object>)]
    pub analysis: Option<serde_json::Value>,
}

impl StudyDefinition {
    /// Applies a patch.
    pub fn patched(mut self, p: StudyPatch) -> Self {
        macro_rules! take {
            ($($f:ident),*) => {$( if let Some(v) = p.$f { self.$f = v; } )*};
        }
        take!(
            title,
            description,
            prototype_url,
            prototype_type,
            tasks,
            targeting,
            nd_categories,
            compensation,
            settings
        );
        if p.ab_test.is_some() {
            self.ab_test = p.ab_test;
        }
        if p.analysis.is_some() {
            self.analysis = p.analysis;
        }
        self
    }

    /// Every rule of spec §3; the first violation, named by its field.
    pub fn validate(&self) -> AppResult<()> {
        let chars = |s: &str| s.trim().chars().count();
        if !(3..=100).contains(&chars(&self.title)) {
            return Err(invalid("title: must be 3-100 characters"));
        }
        if !(1..=5000).contains(&chars(&self.description)) {
            return Err(invalid("description: must be 1-5000 characters"));
        }
        crate::domain::address::validate_http_url(&self.prototype_url)
            .map_err(|m| invalid(format!("prototypeUrl: {m}")))?;
        if self.tasks.is_empty() || self.tasks.len() > 50 {
            return Err(invalid("tasks: must have 1-50 tasks"));
        }
        let mut orders = BTreeSet::new();
        for (i, t) in self.tasks.iter().enumerate() {
            if !(1..=200).contains(&chars(&t.title)) {
                return Err(invalid(format!("tasks[{i}].title: must be 1-200 characters")));
            }
            if !(1..=2000).contains(&chars(&t.description)) {
                return Err(invalid(format!("tasks[{i}].description: must be 1-2000 characters")));
            }
            if !(1..=1000).contains(&chars(&t.success_criteria)) {
                return Err(invalid(format!("tasks[{i}].successCriteria: must be 1-1000 characters")));
            }
            if !(0..=1000).contains(&t.order) {
                return Err(invalid(format!("tasks[{i}].order: must be 0-1000")));
            }
            if !orders.insert(t.order) {
                return Err(invalid(format!("tasks[{i}].order: {} is used twice", t.order)));
            }
        }
        let tg = &self.targeting;
        if tg.countries.is_empty() {
            return Err(invalid("targeting.countries: at least one country is required"));
        }
        if let Some(c) = tg.countries.iter().find(|c| !codes::is_country(c)) {
            return Err(invalid(format!("targeting.countries: {c:?} is not an ISO 3166-1 alpha-2 code")));
        }
        if let Some(r) = tg.age_range
            && !(16 <= r.min && r.min <= r.max && r.max <= 120)
        {
            return Err(invalid("targeting.ageRange: must satisfy 16 <= min <= max <= 120"));
        }
        if let Some(d) = tg.devices.iter().find(|d| !codes::is_device(d)) {
            return Err(invalid(format!("targeting.devices: {d:?} is not one of desktop, mobile, tablet")));
        }
        if let Some(l) = tg.languages.iter().find(|l| !codes::is_language(l)) {
            return Err(invalid(format!("targeting.languages: {l:?} is not an ISO 639-1 code")));
        }
        if !(3..=100).contains(&tg.tester_count) {
            return Err(invalid("targeting.testerCount: must be 3-100"));
        }
        if let Some(c) = self.nd_categories.iter().find(|c| !codes::is_nd_category(c)) {
            return Err(invalid(format!("ndCategories: {c:?} is not a known category")));
        }
        if let Some(ab) = &self.ab_test {
            validate_ab(ab)?;
        }
        let comp = &self.compensation;
        if !codes::is_currency(&comp.currency) {
            return Err(invalid(format!(
                "compensation.currency: {:?} is not an ISO 4217 code",
                comp.currency
            )));
        }
        let cents = comp.amount * 100.0;
        if !(comp.amount > 0.0
            && comp.amount.is_finite()
            && (cents - cents.round()).abs() < 1e-6
            && comp.amount < 1e9)
        {
            return Err(invalid("compensation.amount: must be greater than 0 with at most 2 decimals"));
        }
        // Billing converts to the currency's minor unit once; an amount that has none (15.5 JPY)
        // could never be paid exactly.
        if crate::domain::money::to_minor(comp.amount, &comp.currency).is_none() {
            let places = codes::currency_exponent(&comp.currency).unwrap_or(0);
            return Err(invalid(format!(
                "compensation.amount: {} allows at most {places} decimals",
                comp.currency
            )));
        }
        if !(5..=240).contains(&self.settings.max_duration_minutes) {
            return Err(invalid("settings.maxDurationMinutes: must be 5-240"));
        }
        if !(1..=168).contains(&self.settings.reminder_after_hours) {
            return Err(invalid("settings.reminderAfterHours: must be 1-168"));
        }
        if let Some(a) = &self.analysis {
            if !a.is_object() {
                return Err(invalid("analysis: must be an object of threshold overrides"));
            }
            serde_json::from_value::<openscouter_analysis::Thresholds>(a.clone())
                .map_err(|e| invalid(format!("analysis: {e}")))?;
        }
        Ok(())
    }

    /// The rows the store writes: definition JSON, matching columns, tasks with fresh ids.
    pub fn to_write(&self, now: i64) -> StudyWrite {
        let mut targets: Vec<(TargetKind, String)> = Vec::new();
        targets.extend(self.targeting.countries.iter().map(|v| (TargetKind::Country, v.clone())));
        targets.extend(self.targeting.languages.iter().map(|v| (TargetKind::Language, v.clone())));
        targets.extend(self.targeting.devices.iter().map(|v| (TargetKind::Device, v.clone())));
        targets.extend(self.nd_categories.iter().map(|v| (TargetKind::Nd, v.clone())));
        let mut tasks: Vec<StudyTask> = self
            .tasks
            .iter()
            .map(|t| StudyTask {
                id: new_id(prefix::TASK, now),
                order: t.order,
                title: t.title.trim().to_owned(),
                description: t.description.clone(),
                success_criteria: t.success_criteria.clone(),
            })
            .collect();
        tasks.sort_by_key(|t| t.order);
        let mut definition = self.clone();
        definition.tasks.clear();
        StudyWrite {
            definition,
            tester_count: self.targeting.tester_count,
            min_age: self.targeting.age_range.map(|r| r.min),
            max_age: self.targeting.age_range.map(|r| r.max),
            targets,
            tasks,
        }
    }
}

fn validate_ab(ab: &AbTest) -> AppResult<()> {
    if !(2..=4).contains(&ab.variants.len()) {
        return Err(invalid("abTest.variants: must have 2-4 variants"));
    }
    let allowed = ["A", "B", "C", "D"];
    let mut labels = BTreeSet::new();
    for (i, v) in ab.variants.iter().enumerate() {
        if !allowed.contains(&v.label.as_str()) {
            return Err(invalid(format!("abTest.variants[{i}].label: must be A, B, C or D")));
        }
        if !labels.insert(v.label.as_str()) {
            return Err(invalid(format!("abTest.variants[{i}].label: {} is used twice", v.label)));
        }
        if let Some(url) = &v.url {
            crate::domain::address::validate_http_url(url)
                .map_err(|m| invalid(format!("abTest.variants[{i}].url: {m}")))?;
        }
    }
    let keys: BTreeSet<&str> = ab.split_ratio.keys().map(String::as_str).collect();
    if keys != labels {
        return Err(invalid("abTest.splitRatio: must give a ratio for exactly the variant labels"));
    }
    if ab.split_ratio.values().any(|r| !(r.is_finite() && *r > 0.0)) {
        return Err(invalid("abTest.splitRatio: every ratio must be greater than 0"));
    }
    let sum: f64 = ab.split_ratio.values().sum();
    if (sum - 1.0).abs() > 0.001 {
        return Err(invalid(format!("abTest.splitRatio: ratios must sum to 1 (got {sum})")));
    }
    Ok(())
}

/// Picks the next variant: the arm furthest below its share (spec §4: balanced by `splitRatio`);
/// ties go to the first label. `None` when the study has no enabled A/B test.
pub fn choose_variant(ab: Option<&AbTest>, counts: &[(String, i64)]) -> Option<String> {
    let ab = ab.filter(|a| a.enabled)?;
    let n: i64 = counts.iter().map(|(_, c)| c).sum();
    let count = |label: &str| counts.iter().find(|(l, _)| l == label).map_or(0, |(_, c)| *c);
    let mut best: Option<(&str, f64)> = None;
    for (label, ratio) in &ab.split_ratio {
        let deficit = ratio * (n + 1) as f64 - count(label) as f64;
        if best.is_none_or(|(_, d)| deficit > d + 1e-12) {
            best = Some((label.as_str(), deficit));
        }
    }
    best.map(|(l, _)| l.to_owned())
}

// --- tester profiles

impl Profile {
    /// Validates against the current year (testers are at least 16).
    pub fn validate(&self, this_year: i64) -> AppResult<()> {
        if let Some(c) = self.nd_categories.iter().find(|c| !codes::is_nd_category(c)) {
            return Err(invalid(format!("ndCategories: {c:?} is not a known category")));
        }
        if self.assistive_tech.len() > 20
            || self.assistive_tech.iter().any(|a| a.is_empty() || a.chars().count() > 100)
        {
            return Err(invalid("assistiveTech: at most 20 entries of 1-100 characters"));
        }
        if let Some(d) = self.devices.iter().find(|d| !codes::is_device(d)) {
            return Err(invalid(format!("devices: {d:?} is not one of desktop, mobile, tablet")));
        }
        if let Some(c) = self.country.as_deref().filter(|c| !codes::is_country(c)) {
            return Err(invalid(format!("country: {c:?} is not an ISO 3166-1 alpha-2 code")));
        }
        if let Some(l) = self.languages.iter().find(|l| !codes::is_language(l)) {
            return Err(invalid(format!("languages: {l:?} is not an ISO 639-1 code")));
        }
        if let Some(y) = self.birth_year
            && !(this_year - 120 <= y && y <= this_year - 16)
        {
            return Err(invalid(format!(
                "birthYear: must be between {} and {}",
                this_year - 120,
                this_year - 16
            )));
        }
        if let Some(tz) = &self.timezone {
            let ok = tz.len() <= 64
                && !tz.is_empty()
                && tz.chars().all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c))
                && (tz.contains('/') || tz == "UTC");
            if !ok {
                return Err(invalid("timezone: must be an IANA time zone such as Europe/London"));
            }
        }
        if self.bio.as_deref().is_some_and(|b| b.chars().count() > 1000) {
            return Err(invalid("bio: must be at most 1000 characters"));
        }
        Ok(())
    }

    /// The facts matching uses; an unavailable tester matches no new study.
    pub fn match_profile(&self, this_year: i64) -> MatchProfile {
        if !self.available {
            return MatchProfile::default();
        }
        MatchProfile {
            country: self.country.clone(),
            languages: self.languages.clone(),
            devices: self.devices.clone(),
            nd_categories: self.nd_categories.clone(),
            age: self.birth_year.map(|y| this_year - y),
        }
    }
}

/// The year of `now_ms` (UTC).
pub fn year_of(now_ms: i64) -> i64 {
    use chrono::Datelike;
    chrono::DateTime::from_timestamp_millis(now_ms).map_or(1970, |d| i64::from(d.year()))
}

/// Study states in which testers see offers, accept seats and start sessions.
pub const TAKING_SESSIONS: [StudyStatus; 2] = [StudyStatus::Open, StudyStatus::InProgress];

/// The study scope of a principal (testers: studies they answered, and the open ones their
/// profile matches).
pub async fn scope_for(state: &App, p: &Principal) -> AppResult<StudyScope> {
    Ok(match p.tenant()? {
        Tenant::Tester(tester_id) => {
            let year = year_of(state.now());
            let row = state.store.get_profile(&tester_id).await?;
            // An ineligible tester (governance::ineligibility) is offered nothing new; the
            // studies they already answered stay visible.
            let offered_in = if governance::ineligibility(row.as_ref()).is_none() {
                TAKING_SESSIONS.to_vec()
            } else {
                Vec::new()
            };
            let profile = row.map(|r| r.profile.match_profile(year)).unwrap_or_default();
            StudyScope::Tester { tester_id, profile, offered_in }
        }
        other => StudyScope::from(&other),
    })
}

/// The seam for billing: launching needs a confirmed payment once billing is configured
/// (`services::billing::launch_gate`); without billing every draft may launch.
pub async fn payment_gate(state: &App, org: &OrgId, study_id: &StudyId) -> AppResult<()> {
    if !billing::configured(state) {
        return Ok(());
    }
    let study = state
        .store
        .get_study(&StudyScope::Organization(org.to_owned()), study_id)
        .await?
        .ok_or_else(|| AppError::not_found("Study"))?;
    billing::launch_gate(state, &study).await
}

/// The organization of a business member; 403 for everyone else.
fn business_org(p: &Principal) -> AppResult<OrgId> {
    match (p.role, p.tenant()?) {
        (Role::Business, Tenant::Organization(org)) => Ok(org),
        _ => Err(AppError::Forbidden("Only business accounts may do this".into())),
    }
}

/// The organization filter of a business member (`None` for admins); 403 for testers.
fn managing_org(p: &Principal) -> AppResult<Option<OrgId>> {
    match p.tenant()? {
        Tenant::All => Ok(None),
        Tenant::Organization(org) => Ok(Some(org)),
        Tenant::Tester(_) => Err(AppError::Forbidden("Only business accounts and admins may do this".into())),
    }
}

fn guarded(g: Guarded<Study>, action: &str) -> AppResult<Study> {
    match g {
        Guarded::Done(s) => Ok(s),
        Guarded::NotFound => Err(AppError::not_found("Study")),
        Guarded::WrongState(state) => {
            Err(AppError::Unprocessable(format!("Cannot {action} a study that is {state}")))
        }
    }
}

/// A study the caller may see (404 otherwise).
pub async fn get_visible(state: &App, p: &Principal, id: &StudyId) -> AppResult<Study> {
    let scope = scope_for(state, p).await?;
    state.store.get_study(&scope, id).await?.ok_or_else(|| AppError::not_found("Study"))
}

/// Creates a study as a draft.
pub async fn create(state: &App, p: &Principal, definition: StudyDefinition) -> AppResult<Study> {
    let org = business_org(p)?;
    definition.validate()?;
    let now = state.now();
    let write = definition.to_write(now);
    Ok(state.store.create_study(&StudyId::new(now), &org, &p.user_id, write, now).await?)
}

/// Studies the caller may see, newest first.
pub async fn list(
    state: &App,
    p: &Principal,
    status: Option<StudyStatus>,
    page: Page,
) -> AppResult<(Vec<Study>, u64)> {
    let scope = scope_for(state, p).await?;
    Ok(state.store.list_studies(&scope, status, page).await?)
}

/// The latest study report, as the study page summarises it.
pub struct ReportSummary {
    pub report_id: String,
    pub score: serde_json::Value,
    pub band: serde_json::Value,
    pub created_at: i64,
}

/// A study with its latest report summary (business and admins only; testers never see
/// reports).
pub async fn get(state: &App, p: &Principal, id: &StudyId) -> AppResult<(Study, Option<ReportSummary>)> {
    let (study, report) = get_with_report(state, p, id).await?;
    let summary = report.and_then(|r| {
        let data: serde_json::Value = serde_json::from_str(&r.data).ok()?;
        Some(ReportSummary {
            report_id: r.id,
            score: data["score"].clone(),
            band: data["band"].clone(),
            created_at: r.created_at,
        })
    });
    Ok((study, summary))
}

/// Where a study's sessions are in the flow (api.md §11): how many are at each
/// `pipelineStatus`, abandoned sessions counted apart (they never enter the flow).
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Every `PipelineStatus`, in order, with its count.
    pub pipeline: Vec<(PipelineStatus, i64)>,
    pub abandoned: i64,
}

/// `GET /api/jobs/:id`: the study, its latest report summary and, for the business and admins,
/// its sessions' progress through the flow.
pub async fn view(
    state: &App,
    p: &Principal,
    id: &StudyId,
) -> AppResult<(Study, Option<ReportSummary>, Option<Progress>)> {
    let (study, report) = get(state, p, id).await?;
    if p.role == Role::Tester {
        return Ok((study, report, None));
    }
    let mut progress =
        Progress { pipeline: PipelineStatus::ALL.iter().map(|s| (*s, 0)).collect(), abandoned: 0 };
    for (status, pipeline, n) in state.store.pipeline_counts(&study.owner(), &study.id).await? {
        if status == SessionStatus::Abandoned {
            progress.abandoned += n;
        } else if let Some(slot) = progress.pipeline.iter_mut().find(|(p, _)| *p == pipeline) {
            slot.1 += n;
        }
    }
    Ok((study, report, Some(progress)))
}

/// A study with its latest full report (None for testers, who never see reports).
pub async fn get_with_report(
    state: &App,
    p: &Principal,
    id: &StudyId,
) -> AppResult<(Study, Option<ReportRow>)> {
    let study = get_visible(state, p, id).await?;
    let report = match p.tenant()? {
        Tenant::Tester(_) => None,
        tenant => state.store.latest_report(&tenant, id).await?,
    };
    Ok((study, report))
}

/// Changes a draft (422 once launched); `tasks`, when given, replaces the list.
pub async fn patch(state: &App, p: &Principal, id: &StudyId, patch: StudyPatch) -> AppResult<Study> {
    let org = managing_org(p)?;
    let scope = StudyScope::from(&p.tenant()?);
    let current = state.store.get_study(&scope, id).await?.ok_or_else(|| AppError::not_found("Study"))?;
    if current.status != StudyStatus::Draft {
        return Err(AppError::Unprocessable(format!(
            "Only drafts can be changed; this study is {}",
            current.status
        )));
    }
    let mut definition = current.definition;
    definition.tasks = current
        .tasks
        .iter()
        .map(|t| TaskIn {
            title: t.title.clone(),
            description: t.description.clone(),
            success_criteria: t.success_criteria.clone(),
            order: t.order,
        })
        .collect();
    let next = definition.patched(patch);
    next.validate()?;
    let now = state.now();
    let write = next.to_write(now);
    guarded(state.store.update_draft(org.as_ref(), id, &[StudyStatus::Draft], write, now).await?, "change")
}

/// Launches a draft: it opens to matching testers (`study.launched`).
pub async fn launch(state: &App, p: &Principal, id: &StudyId) -> AppResult<Study> {
    let org = business_org(p)?;
    crate::services::recovery::require_verified(state, p, "launch a study").await?;
    payment_gate(state, &org, id).await?;
    let event = webhooks::event(WebhookEvent::StudyLaunched, serde_json::json!({"jobId": id}));
    let moved = state
        .store
        .set_study_status(
            Some(&org),
            id,
            &[StudyStatus::Draft],
            StudyStatus::Open,
            FollowUps { events: vec![(org.clone(), event)], ..FollowUps::none() },
            state.now(),
        )
        .await?;
    let study = guarded(moved, "launch")?;
    // Matched testers hear of it at once (spec: offers go out at launch).
    offer_at_launch(state, &study).await;
    Ok(study)
}

/// Worker side of a launch on payment (api.md §11): the paid draft opens as
/// `POST /api/jobs/:id/launch` would open it (same gate, `study.launched`, offers), and the
/// business is told in-app. A study no longer a draft is left as it is.
pub async fn launch_paid(state: &App, authority: &Tenant, study_id: &StudyId) -> AppResult<StudyId> {
    let Some(study) = state.store.get_study(&authority.into(), study_id).await? else {
        return Ok(study_id.clone());
    };
    if study.status != StudyStatus::Draft {
        return Ok(study.id);
    }
    billing::launch_gate(state, &study).await?;
    let org = study.organization_id.clone();
    let event = webhooks::event(WebhookEvent::StudyLaunched, serde_json::json!({"jobId": study.id}));
    let notice = crate::services::notifications::Notice {
        kind: crate::domain::NotificationKind::StudyLaunched,
        title: format!("\"{}\" is paid and launched", study.definition.title.trim()),
        body: "Stripe confirmed the payment, so the study is open to matching testers.".into(),
        data: serde_json::json!({"jobId": study.id}),
        once: Some(format!("study.launched:{}", study.id)),
    };
    let told = crate::services::notifications::prepare(
        state,
        crate::store::Recipient::Organization(org.clone()),
        notice,
        None,
    )
    .await?;
    let then = FollowUps { events: vec![(org.clone(), event)], notify: vec![told], ..FollowUps::none() };
    let moved = state
        .store
        .set_study_status(Some(&org), &study.id, &[StudyStatus::Draft], StudyStatus::Open, then, state.now())
        .await?;
    if let Guarded::Done(study) = moved {
        offer_at_launch(state, &study).await;
    }
    Ok(study.id)
}

/// Closes a study: no new sessions.
pub async fn close(state: &App, p: &Principal, id: &StudyId) -> AppResult<Study> {
    let org = managing_org(p)?;
    let study = get_visible(state, p, id).await?;
    let from = [StudyStatus::Open, StudyStatus::InProgress, StudyStatus::Completed];
    let then = flow::study_closed(state, &study);
    let moved =
        state.store.set_study_status(org.as_ref(), id, &from, StudyStatus::Closed, then, state.now()).await?;
    state.queue_ready.notify_one();
    guarded(moved, "close")
}

/// The 403 for a non-tester answering an offer.
const ONLY_TESTERS: &str = "Only testers may answer offers";

/// Accepts an offer: needs a tester profile that matches the study and a free seat. Returns
/// the tester's label number in the study.
pub async fn accept(state: &App, p: &Principal, id: &StudyId) -> AppResult<i64> {
    p.require_tester(ONLY_TESTERS)?;
    governance::require_eligible(state, &p.user_id).await?;
    crate::services::recovery::require_verified(state, p, "accept a study").await?;
    get_visible(state, p, id).await?;
    match state.store.accept_study(&p.user_id, id, &TAKING_SESSIONS, state.now()).await? {
        AcceptOutcome::Accepted { label_no } => Ok(label_no),
        AcceptOutcome::AlreadyAccepted => {
            Err(AppError::Unprocessable("You have already accepted this study".into()))
        }
        AcceptOutcome::Full => Err(AppError::Unprocessable("This study has no free seat".into())),
        AcceptOutcome::NotOpen(s) => Err(AppError::Unprocessable(format!("This study is {s}, not open"))),
        AcceptOutcome::NotFound => Err(AppError::not_found("Study")),
    }
}

/// Declines an offer (also gives back an accepted seat, until a session starts).
pub async fn decline(state: &App, p: &Principal, id: &StudyId) -> AppResult<()> {
    p.require_tester(ONLY_TESTERS)?;
    get_visible(state, p, id).await?;
    match state.store.decline_study(&p.user_id, id, state.now()).await? {
        Guarded::Done(()) => Ok(()),
        Guarded::NotFound => Err(AppError::not_found("Study")),
        Guarded::WrongState(_) => {
            Err(AppError::Unprocessable("Your session has started; it can no longer be declined".into()))
        }
    }
}

/// The caller's tester profile with its verification flag.
pub async fn get_profile(state: &App, p: &Principal) -> AppResult<TesterProfile> {
    profile_owner(p)?;
    state.store.get_profile(&p.user_id).await?.ok_or_else(|| AppError::not_found("Profile"))
}

/// Replaces the caller's tester profile. ND categories and assistive tech are special-category
/// data: they need the tester's consent in force.
pub async fn put_profile(state: &App, p: &Principal, profile: Profile) -> AppResult<TesterProfile> {
    profile_owner(p)?;
    let now = state.now();
    profile.validate(year_of(now))?;
    let special = !profile.nd_categories.is_empty() || !profile.assistive_tech.is_empty();
    if special && state.store.get_profile(&p.user_id).await?.is_none_or(|r| r.consent_version.is_none()) {
        return Err(invalid(
            "ndCategories: give special-category consent (POST /api/testers/me/consent) before adding ND categories or assistive tech",
        ));
    }
    Ok(state.store.put_profile(&p.user_id, &profile, now).await?)
}

fn profile_owner(p: &Principal) -> AppResult<()> {
    if p.role == Role::Tester {
        Ok(())
    } else {
        Err(AppError::Forbidden("Only testers have a tester profile".into()))
    }
}

/// At launch: queues the fan-out (when Telegram is configured). A failure is logged; the
/// launch stands and `send-job` can be called again.
async fn offer_at_launch(state: &App, study: &Study) {
    if state.telegram.is_none() {
        return;
    }
    let work = Work {
        kind: QueueKind::OfferBroadcast,
        subject_id: &study.id,
        organization_id: Some(&study.organization_id),
        tester_id: None,
        payload: None,
    };
    let guard = EnqueueGuard::StudyIn { within: &TAKING_SESSIONS };
    match queue::enqueue(state, work, guard).await {
        Ok(Guarded::Done(_)) => {}
        Ok(_) => tracing::debug!(study = %study.id, "study no longer open; no offers queued"),
        Err(e) => tracing::warn!(study = %study.id, error = %e, "could not queue the launch offers"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ab(ratios: &[(&str, f64)]) -> AbTest {
        AbTest {
            enabled: true,
            variants: ratios
                .iter()
                .map(|(l, _)| Variant { label: (*l).into(), description: String::new(), url: None })
                .collect(),
            split_ratio: ratios.iter().map(|(l, r)| ((*l).to_owned(), *r)).collect(),
        }
    }

    #[test]
    fn variants_stay_balanced_by_ratio() {
        let a = ab(&[("A", 0.5), ("B", 0.5)]);
        let mut counts: Vec<(String, i64)> = vec![];
        let mut seq = vec![];
        for _ in 0..6 {
            let v = choose_variant(Some(&a), &counts).unwrap_or_default();
            match counts.iter_mut().find(|(l, _)| *l == v) {
                Some(c) => c.1 += 1,
                None => counts.push((v.clone(), 1)),
            }
            seq.push(v);
        }
        assert_eq!(seq, ["A", "B", "A", "B", "A", "B"]);
        let skew = ab(&[("A", 0.75), ("B", 0.25)]);
        let picks: Vec<String> = (0..4)
            .scan(vec![("A".to_owned(), 0i64), ("B".to_owned(), 0)], |c, _| {
                let v = choose_variant(Some(&skew), c).unwrap_or_default();
                if let Some(x) = c.iter_mut().find(|(l, _)| *l == v) {
                    x.1 += 1;
                }
                Some(v)
            })
            .collect();
        assert_eq!(picks.iter().filter(|v| *v == "A").count(), 3);
        assert_eq!(choose_variant(None, &[]), None);
    }

    #[test]
    fn urls() {
        assert!(crate::domain::address::validate_http_url("https://example.com/app?x=1").is_ok());
        assert!(crate::domain::address::validate_http_url("ftp://example.com").is_err());
        assert!(crate::domain::address::validate_http_url("https://").is_err());
        assert!(crate::domain::address::validate_http_url("https://exa mple.com").is_err());
    }
}
