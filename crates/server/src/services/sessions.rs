//! Sessions (tests): creation with test tokens and variant assignment, who may read or control
//! a session, the state machine, consent, notes, feedback and the event read-back.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::principal::{AuthMethod, Principal};
use crate::auth::secrets::{new_hex_token, sha256_hex};
use crate::domain::ids::{SessionId, StudyId, UserId, new_id, prefix};
use crate::domain::stream::{check_window, parse_time};
use crate::domain::study::{ConsentRecord, ConsentStreams};
use crate::domain::{PipelineStatus, Role, SessionStatus, StudyStatus, Tenant, WebhookEvent, format_ms};
use crate::error::{AppError, AppResult};
use crate::services::{flow, studies, webhooks};
use crate::store::{
    CreateSessionOutcome, EventFilter, EventRow, FollowUps, Guarded, NewSession, NoteRow, Page, Session,
    SessionChange, SessionStart, SessionTransition, Study, TaskAttemptRow,
};

/// Test-token lifetime (spec §1.4: 24 h).
pub const TEST_TOKEN_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// A completion time may be this far in the future (client clocks drift).
const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// What the caller wants to do with a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read it, its events, notes, export: owner tester, the study's business, admin.
    Read,
    /// Pause, resume, complete, consent, notes, feedback: owner tester, its test token, admin.
    Control,
    /// Stream data in: owner tester or its test token; nobody else.
    Ingest,
}

/// The tenant a caller reads and writes a session's data in: test tokens are confined to
/// their one session (and may not read it back).
pub fn session_tenant(p: &Principal, session_id: &SessionId, access: Access) -> AppResult<Tenant> {
    if let AuthMethod::TestToken { session_id: bound } = &p.method {
        if bound != session_id {
            return Err(AppError::Forbidden("This test token belongs to another session".into()));
        }
        if access == Access::Read {
            return Err(AppError::Forbidden("A test token cannot read session data".into()));
        }
    }
    p.tenant()
}

/// The session if `p` may do `access` on it; 404 when it is not visible, 403 when visible but
/// not allowed.
pub async fn authorize(
    state: &App,
    p: &Principal,
    session_id: &SessionId,
    access: Access,
) -> AppResult<Session> {
    Ok(authorize_in(state, p, session_id, access).await?.1)
}

/// `authorize`, also returning the tenant it derived (for the write that follows).
async fn authorize_in(
    state: &App,
    p: &Principal,
    session_id: &SessionId,
    access: Access,
) -> AppResult<(Tenant, Session)> {
    let tenant = session_tenant(p, session_id, access)?;
    let session =
        state.store.get_session(&tenant, session_id).await?.ok_or_else(|| AppError::not_found("Session"))?;
    let allowed = matches!(
        (access, p.role),
        (Access::Read, _) | (Access::Control, Role::Tester | Role::Admin) | (Access::Ingest, Role::Tester)
    );
    if allowed {
        Ok((tenant, session))
    } else {
        Err(AppError::Forbidden("You may not change this session".into()))
    }
}

/// A session the caller may read.
pub async fn get(state: &App, p: &Principal, session_id: &SessionId) -> AppResult<Session> {
    let mut s = authorize(state, p, session_id, Access::Read).await?;
    redact_rare_categories(state, p, std::slice::from_mut(&mut s)).await?;
    Ok(s)
}

/// What `GET /api/sessions/:id` answers.
pub enum SessionView {
    /// The session, for its tester, the study's business and admins.
    Full(Box<Session>),
    /// The recorder's briefing, for the session's own test token (api.md §11).
    Briefing(Box<Briefing>),
}

/// What a recorder needs to run a session and nothing more.
pub struct Briefing {
    pub session: Session,
    pub study: crate::store::Study,
    /// The page to open: the A/B variant's `url` when it has one, else the prototype.
    pub start_url: String,
    pub token_expires_at: i64,
    pub batch_max: usize,
    pub events_per_minute: u32,
}

impl Briefing {
    /// The streams the recorder may send: the study's setting AND the tester's consent.
    pub fn streams(&self) -> crate::domain::study::ConsentStreams {
        let s = &self.session;
        let settings = &self.study.definition.settings;
        let screen = s.consent.as_ref().is_some_and(|c| c.streams.screenshots);
        crate::domain::study::ConsentStreams {
            events: s.consent_events,
            facial: settings.record_facial && s.consent_facial,
            voice: settings.record_voice && s.consent_voice,
            screenshots: settings.record_screen && screen,
        }
    }
}

/// `GET /api/sessions/:id`: the session for its readers, the briefing for its own test token.
pub async fn view(state: &App, p: &Principal, session_id: &SessionId) -> AppResult<SessionView> {
    let AuthMethod::TestToken { session_id: bound } = &p.method else {
        return get(state, p, session_id).await.map(|s| SessionView::Full(Box::new(s)));
    };
    if bound != session_id {
        return Err(AppError::Forbidden("This test token belongs to another session".into()));
    }
    let session = state
        .store
        .get_session(&p.tenant()?, session_id)
        .await?
        .ok_or_else(|| AppError::not_found("Session"))?;
    let study = study_of(state, &session).await?;
    let def = &study.definition;
    let variant_url = def
        .ab_test
        .as_ref()
        .filter(|a| a.enabled)
        .and_then(|a| a.variants.iter().find(|v| Some(&v.label) == session.variant.as_ref()))
        .and_then(|v| v.url.clone());
    Ok(SessionView::Briefing(Box::new(Briefing {
        start_url: variant_url.unwrap_or_else(|| def.prototype_url.clone()),
        token_expires_at: session.created_at + TEST_TOKEN_TTL_MS,
        batch_max: crate::domain::stream::MAX_BATCH,
        events_per_minute: state.config.rate_limits.ingest,
        session,
        study,
    })))
}

/// Testers of a study who must share an ND category before a business may read it next to a
/// session (analysis.md §4: a stratum of one ties a health category to one person).
pub const MIN_TESTERS_PER_CATEGORY: usize = 2;

/// The ND categories of `study_id` a business may read: those at least
/// `MIN_TESTERS_PER_CATEGORY` of its testers share.
pub async fn nameable_categories(
    state: &App,
    owner: &Tenant,
    study_id: &StudyId,
) -> AppResult<std::collections::BTreeSet<String>> {
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for categories in state.store.study_tester_categories(owner, study_id).await? {
        for c in categories.into_iter().collect::<std::collections::BTreeSet<_>>() {
            *counts.entry(c).or_default() += 1;
        }
    }
    Ok(counts.into_iter().filter(|(_, n)| *n >= MIN_TESTERS_PER_CATEGORY).map(|(c, _)| c).collect())
}

/// For a business reader, removes from each session the ND categories too few testers of its
/// study share; testers (their own sessions) and admins see them all.
pub async fn redact_rare_categories(state: &App, p: &Principal, sessions: &mut [Session]) -> AppResult<()> {
    if p.role != Role::Business {
        return Ok(());
    }
    let mut nameable: std::collections::BTreeMap<StudyId, std::collections::BTreeSet<String>> =
        Default::default();
    for s in sessions.iter_mut() {
        if !nameable.contains_key(&s.study_id) {
            let set = nameable_categories(state, &s.owner(), &s.study_id).await?;
            nameable.insert(s.study_id.clone(), set);
        }
        if let (Some(profile), Some(allowed)) = (s.tester_profile.as_mut(), nameable.get(&s.study_id)) {
            profile.nd_categories.retain(|c| allowed.contains(c));
        }
    }
    Ok(())
}

/// Start a session. Unknown extra fields are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionIn {
    pub job_id: String,
    /// Testers pass their own id; admins any tester's.
    pub tester_id: String,
    /// A/B label; assigned by `splitRatio` (keeping arms balanced) when absent.
    pub variant: Option<String>,
    /// Consent given with the creation (same shape as `POST /api/sessions/:id/consent`).
    pub consent: Option<ConsentIn>,
}

/// A created session with its test token (shown once).
pub struct Created {
    pub session: Session,
    pub test_token: String,
}

/// Starts a session for `tester_id` in `job_id`. A tester who matches the study but has not
/// accepted it yet is accepted by this call (the seat is taken in the same transaction); an
/// admin may start a session for any tester.
pub async fn create(state: &App, p: &Principal, body: SessionIn) -> AppResult<Created> {
    let SessionIn { job_id: study_id, tester_id, variant, consent } = body;
    let study_id = StudyId::from(study_id);
    let tester_id = UserId::from(tester_id);
    match p.role {
        Role::Tester if p.user_id == tester_id => {}
        Role::Tester => return Err(AppError::Forbidden("Testers can only start their own sessions".into())),
        Role::Admin => {}
        Role::Business => return Err(AppError::Forbidden("Only testers (or admins) start sessions".into())),
    }
    let now = state.now();
    let consent = consent.map(|c| consent_record(c, now, "consent.")).transpose()?;
    let study = if p.role == Role::Tester {
        let visible = match studies::get_visible(state, p, &study_id).await {
            Ok(study) => Some(study),
            Err(AppError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        if visible.is_none() && !state.store.study_exists(&study_id).await? {
            return Err(AppError::not_found("Study"));
        }
        crate::services::governance::require_eligible(state, &tester_id).await?;
        visible.ok_or_else(|| {
            AppError::Unprocessable("The tester does not match this study's targeting".into())
        })?
    } else {
        state
            .store
            .get_study(&(&p.tenant()?).into(), &study_id)
            .await?
            .ok_or_else(|| AppError::not_found("Study"))?
    };
    let ab = study.definition.ab_test.filter(|a| a.enabled);
    if let Some(v) = &variant {
        let known = ab.as_ref().is_some_and(|a| a.split_ratio.contains_key(v));
        if !known {
            return Err(AppError::Unprocessable(format!(
                "variant: {v:?} is not a variant of this study's A/B test"
            )));
        }
    }
    let test_token = new_hex_token(24);
    let new = NewSession {
        id: SessionId::new(now),
        study_id,
        tester_id,
        token_hash: sha256_hex(&test_token),
        token_expires_at: now + TEST_TOKEN_TTL_MS,
        now,
        consent,
    };
    let start = SessionStart {
        study_in: &studies::TAKING_SESSIONS,
        study_moves: (StudyStatus::Open, StudyStatus::InProgress),
        status: SessionStatus::Active,
        pipeline: PipelineStatus::Collecting,
        take_seat: true,
    };
    let chooser = move |counts: &[(String, i64)]| {
        variant.clone().or_else(|| studies::choose_variant(ab.as_ref(), counts))
    };
    match state.store.create_session(new, start, &chooser).await? {
        CreateSessionOutcome::Created(id) => {
            let session = state
                .store
                .get_session(&p.tenant()?, &id)
                .await?
                .ok_or_else(|| AppError::not_found("Session"))?;
            Ok(Created { session, test_token })
        }
        CreateSessionOutcome::StudyNotFound => Err(AppError::not_found("Study")),
        CreateSessionOutcome::StudyNotOpen(s) => {
            Err(AppError::Unprocessable(format!("The study is {s}; sessions need an open study")))
        }
        CreateSessionOutcome::NotAccepted => {
            Err(AppError::Unprocessable("The tester has not accepted this study".into()))
        }
        CreateSessionOutcome::Full => Err(AppError::Unprocessable("This study has no free seat".into())),
        CreateSessionOutcome::AlreadyExists => {
            Err(AppError::Unprocessable("The tester already has a session in this study".into()))
        }
    }
}

/// Filters of a session list.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub study_id: Option<StudyId>,
    pub status: Option<SessionStatus>,
}

/// Sessions the caller may see, newest first.
pub async fn list(
    state: &App,
    p: &Principal,
    filter: &SessionFilter,
    page: Page,
) -> AppResult<(Vec<Session>, u64)> {
    let tenant = p.tenant()?;
    let (mut rows, total) =
        state.store.list_sessions(&tenant, filter.study_id.as_ref(), filter.status, page).await?;
    redact_rare_categories(state, p, &mut rows).await?;
    Ok((rows, total))
}

/// A study's sessions, for its business (or an admin).
pub async fn list_of_study(
    state: &App,
    p: &Principal,
    study_id: &StudyId,
    page: Page,
) -> AppResult<(Vec<Session>, u64)> {
    if p.role == Role::Tester {
        return Err(AppError::Forbidden("Only business accounts and admins may do this".into()));
    }
    studies::get_visible(state, p, study_id).await?;
    let (mut rows, total) = state.store.list_sessions(&p.tenant()?, Some(study_id), None, page).await?;
    redact_rare_categories(state, p, &mut rows).await?;
    Ok((rows, total))
}

async fn transition(
    state: &App,
    p: &Principal,
    id: &SessionId,
    from: &[SessionStatus],
    change: SessionChange,
    verb: &str,
) -> AppResult<Session> {
    let (tenant, session) = authorize_in(state, p, id, Access::Control).await?;
    let event = matches!(change, SessionChange::Complete { .. }).then(|| {
        webhooks::event(
            WebhookEvent::SessionCompleted,
            serde_json::json!({"sessionId": id, "jobId": session.study_id}),
        )
    });
    let then = match change {
        SessionChange::Complete { .. } => flow::session_completed(state, &session),
        _ => FollowUps::none(),
    };
    let t = SessionTransition { from, change, event, then };
    match state.store.change_session(&tenant, id, t, state.now()).await? {
        Guarded::Done(s) => {
            state.queue_ready.notify_one();
            Ok(s)
        }
        Guarded::NotFound => Err(AppError::not_found("Session")),
        Guarded::WrongState(s) => {
            Err(AppError::Unprocessable(format!("Cannot {verb} a session that is {s}")))
        }
    }
}

/// Pauses an active session.
pub async fn pause(state: &App, p: &Principal, id: &SessionId) -> AppResult<Session> {
    let change = SessionChange::Pause { to: SessionStatus::Paused };
    transition(state, p, id, &[SessionStatus::Active], change, "pause").await
}

/// Resumes a paused session.
pub async fn resume(state: &App, p: &Principal, id: &SessionId) -> AppResult<Session> {
    let change = SessionChange::Resume { to: SessionStatus::Active };
    transition(state, p, id, &[SessionStatus::Paused], change, "resume").await
}

/// The tester gives up an active or paused session (decision 207): it is `abandoned` at once,
/// its seat freed, never analysed, reported or paid; the tester may start a new session for
/// the study while a seat is free.
pub async fn abandon(state: &App, p: &Principal, id: &SessionId) -> AppResult<Session> {
    let change = SessionChange::Abandon { to: SessionStatus::Abandoned };
    transition(state, p, id, &SessionStatus::RUNNING, change, "abandon").await
}

/// Completes an active or paused session at `completed_at` (RFC 3339; default now), which
/// must lie between the start and a few minutes from now.
pub async fn complete(
    state: &App,
    p: &Principal,
    id: &SessionId,
    completed_at: Option<&str>,
) -> AppResult<Session> {
    let now = state.now();
    let at = match completed_at {
        Some(t) => {
            let ms = parse_time(t)
                .map_err(|_| AppError::Unprocessable("completedAt: must be an RFC 3339 time".into()))?;
            let s = authorize(state, p, id, Access::Control).await?;
            if ms < s.started_at || ms > now + CLOCK_SKEW_MS {
                return Err(AppError::Unprocessable(
                    "completedAt: must be between the session start and now".into(),
                ));
            }
            ms
        }
        None => now,
    };
    require_think_aloud(state, p, id).await?;
    let change = SessionChange::Complete { to: SessionStatus::Completed, completed_at: at };
    transition(state, p, id, &SessionStatus::RUNNING, change, "complete").await
}

/// `requireThinkAloud: true` (api.md §11): a session completes with at least one voice segment
/// or note.
async fn require_think_aloud(state: &App, p: &Principal, id: &SessionId) -> AppResult<()> {
    let s = authorize(state, p, id, Access::Control).await?;
    let study = study_of(state, &s).await?;
    if study.definition.settings.require_think_aloud
        && state.store.think_aloud_items(&s.owner(), id).await? == 0
    {
        return Err(AppError::Unprocessable(
            "This study requires think-aloud (requireThinkAloud): add a voice segment (POST /api/data/voice) or a \
             note (POST /api/sessions/:id/notes) before completing"
                .into(),
        ));
    }
    Ok(())
}

/// The study of a session already in hand: its organization's, so still filtered by tenant.
pub async fn study_of(state: &App, s: &Session) -> AppResult<Study> {
    state.store.get_study(&s.study_scope(), &s.study_id).await?.ok_or_else(|| AppError::not_found("Study"))
}

/// The duration limit: completes a running session at `completed_at` (its last item's time)
/// as a completion by the tester would (webhook, Agent 2 queued). `false` when it was no
/// longer running.
pub async fn complete_at_limit(
    state: &App,
    authority: &Tenant,
    id: &SessionId,
    completed_at: i64,
) -> AppResult<bool> {
    let Some(session) = state.store.get_session(authority, id).await? else { return Ok(false) };
    let event = webhooks::event(
        WebhookEvent::SessionCompleted,
        serde_json::json!({"sessionId": id, "jobId": session.study_id, "reason": "duration_limit"}),
    );
    let t = SessionTransition {
        from: &SessionStatus::RUNNING,
        change: SessionChange::Complete { to: SessionStatus::Completed, completed_at },
        event: Some(event),
        then: flow::session_completed(state, &session),
    };
    let done = matches!(state.store.change_session(authority, id, t, state.now()).await?, Guarded::Done(_));
    if done {
        state.queue_ready.notify_one();
    }
    Ok(done)
}

/// Consent body: a stream left out is not consented.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ConsentIn {
    /// Version of the consent text shown (1–32 characters).
    #[schema(min_length = 1, max_length = 32)]
    pub version: String,
    #[serde(default)]
    pub streams: ConsentStreams,
}

/// The consent record of a consent body, validated; `field` prefixes the error (`consent.`
/// when it comes with the session's creation).
fn consent_record(body: ConsentIn, now: i64, field: &str) -> AppResult<ConsentRecord> {
    let version = body.version.trim();
    if version.is_empty() || version.chars().count() > 32 {
        return Err(AppError::Unprocessable(format!("{field}version: must be 1-32 characters")));
    }
    Ok(ConsentRecord { version: version.to_owned(), streams: body.streams, given_at: format_ms(now) })
}

/// Records consent per stream while the session runs; ingestion of a stream without consent
/// is rejected per item (checked again inside the ingest transaction).
pub async fn set_consent(state: &App, p: &Principal, id: &SessionId, body: ConsentIn) -> AppResult<Session> {
    let now = state.now();
    let record = consent_record(body, now, "")?;
    let (tenant, _) = authorize_in(state, p, id, Access::Control).await?;
    match state.store.set_consent(&tenant, id, &SessionStatus::RUNNING, &record, now).await? {
        Guarded::Done(()) => {}
        Guarded::NotFound => return Err(AppError::not_found("Session")),
        Guarded::WrongState(s) => {
            return Err(AppError::Unprocessable(format!("Cannot change consent of a session that is {s}")));
        }
    }
    state.store.get_session(&tenant, id).await?.ok_or_else(|| AppError::not_found("Session"))
}

/// A think-aloud note.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NoteIn {
    /// 1–5,000 characters.
    #[schema(min_length = 1, max_length = 5000)]
    pub text: String,
    /// When it was said (default now).
    pub timestamp: Option<String>,
}

/// Adds a timestamped note (the think-aloud alternative).
pub async fn add_note(state: &App, p: &Principal, id: &SessionId, body: NoteIn) -> AppResult<NoteRow> {
    let text = body.text.trim();
    if !(1..=5000).contains(&text.chars().count()) {
        return Err(AppError::Unprocessable("text: must be 1-5000 characters".into()));
    }
    let s = authorize(state, p, id, Access::Control).await?;
    let now = state.now();
    let ts = match body.timestamp {
        Some(t) => parse_time(&t)
            .map_err(|_| AppError::Unprocessable("timestamp: must be an RFC 3339 time".into()))?,
        None => now,
    };
    check_window(ts, s.started_at, now).map_err(|m| AppError::Unprocessable(format!("timestamp: {m}")))?;
    let note = NoteRow { id: new_id(prefix::NOTE, now), ts, text: text.to_owned(), created_at: now };
    let tenant = session_tenant(p, id, Access::Control)?;
    match state.store.add_note(&tenant, id, note.clone()).await? {
        Guarded::Done(()) => Ok(note),
        Guarded::NotFound | Guarded::WrongState(_) => Err(AppError::not_found("Session")),
    }
}

/// The session's notes in time order.
pub async fn list_notes(
    state: &App,
    p: &Principal,
    id: &SessionId,
    page: Page,
) -> AppResult<(Vec<NoteRow>, u64)> {
    authorize(state, p, id, Access::Read).await?;
    Ok(state.store.list_notes(&p.tenant()?, id, page).await?)
}

/// One task's outcome.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskFeedbackIn {
    pub task_id: String,
    /// `success`, `indirect`, `fail`, `abandon`.
    pub outcome: String,
    /// Single Ease Question, 1..7.
    #[schema(minimum = 1, maximum = 7)]
    pub seq: Option<i64>,
    pub started_at: String,
    pub ended_at: String,
}

/// Feedback: task outcomes and the post-test survey.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackIn {
    #[serde(default)]
    pub tasks: Vec<TaskFeedbackIn>,
    /// System Usability Scale: 10 answers, each 1..5.
    #[schema(min_items = 10, max_items = 10)]
    pub sus: Option<Vec<i64>>,
    /// Net Promoter Score answer, 0..10.
    #[schema(minimum = 0, maximum = 10)]
    pub nps: Option<i64>,
}

/// Stored feedback of a session.
pub struct Feedback {
    pub attempts: Vec<TaskAttemptRow>,
    pub sus: Option<Vec<i64>>,
    pub nps: Option<i64>,
}

/// Task outcomes allowed in feedback.
const OUTCOMES: [&str; 4] = ["success", "indirect", "fail", "abandon"];

/// Records task outcomes (one per task; sending a task again replaces it) and the survey.
pub async fn put_feedback(state: &App, p: &Principal, id: &SessionId, b: FeedbackIn) -> AppResult<Feedback> {
    let s = authorize(state, p, id, Access::Control).await?;
    let study = study_of(state, &s).await?;
    let mut attempts = Vec::with_capacity(b.tasks.len());
    for (i, t) in b.tasks.iter().enumerate() {
        let bad = |m: &str| AppError::Unprocessable(format!("tasks[{i}].{m}"));
        if !study.tasks.iter().any(|x| x.id == t.task_id) {
            return Err(bad("taskId: not a task of this study"));
        }
        if !OUTCOMES.contains(&t.outcome.as_str()) {
            return Err(bad("outcome: must be success, indirect, fail or abandon"));
        }
        if t.seq.is_some_and(|q| !(1..=7).contains(&q)) {
            return Err(bad("seq: must be 1-7"));
        }
        let started = parse_time(&t.started_at).map_err(|_| bad("startedAt: must be an RFC 3339 time"))?;
        let ended = parse_time(&t.ended_at).map_err(|_| bad("endedAt: must be an RFC 3339 time"))?;
        if ended < started {
            return Err(bad("endedAt: must not be before startedAt"));
        }
        attempts.push(TaskAttemptRow {
            task_id: t.task_id.clone(),
            outcome: t.outcome.clone(),
            seq_score: t.seq,
            started_at: started,
            ended_at: ended,
        });
    }
    if let Some(sus) = &b.sus
        && (sus.len() != 10 || sus.iter().any(|x| !(1..=5).contains(x)))
    {
        return Err(AppError::Unprocessable("sus: must be 10 answers, each 1-5".into()));
    }
    if b.nps.is_some_and(|n| !(0..=10).contains(&n)) {
        return Err(AppError::Unprocessable("nps: must be 0-10".into()));
    }
    let tenant = session_tenant(p, id, Access::Control)?;
    let sus_json = b.sus.as_ref().map(|v| serde_json::to_string(v).unwrap_or_default());
    if let Guarded::NotFound | Guarded::WrongState(_) =
        state.store.put_feedback(&tenant, id, &attempts, sus_json.as_deref(), b.nps, state.now()).await?
    {
        return Err(AppError::not_found("Session"));
    }
    let attempts = state.store.list_attempts(&tenant, id).await?;
    let s = state.store.get_session(&tenant, id).await?.ok_or_else(|| AppError::not_found("Session"))?;
    Ok(Feedback { attempts, sus: s.sus.as_deref().and_then(|x| serde_json::from_str(x).ok()), nps: s.nps })
}

/// Raw stored events in time order.
pub async fn events(
    state: &App,
    p: &Principal,
    id: &SessionId,
    filter: &EventFilter,
    page: Page,
) -> AppResult<(Vec<EventRow>, u64)> {
    authorize(state, p, id, Access::Read).await?;
    Ok(state.store.list_events(&p.tenant()?, id, filter, page).await?)
}

/// Seconds of testing: from start to completion (or now), pauses excluded.
pub fn duration_seconds(s: &Session, now: i64) -> i64 {
    let end = s.completed_at.unwrap_or(now);
    let paused_now = s.paused_at.map_or(0, |p| (now - p).max(0));
    ((end - s.started_at - s.paused_ms - paused_now).max(0)) / 1000
}
