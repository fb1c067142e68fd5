//! Testers and governance (api.md §8, issue #13): the capacity quiz, special-category consent
//! (GDPR Art. 9), who may take studies (eligibility, in one place), the admin's tester list and
//! status changes (audited), and erasure of a person.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::principal::Principal;
use crate::auth::secrets::new_hex_token;
use crate::domain::ids::{OrgId, SessionId, UserId, new_id, prefix};
use crate::domain::study::Profile;
use crate::domain::{QueueKind, Role, SessionStatus, Tenant, UserStatus};
use crate::error::{AppError, AppResult};
use crate::services::queue::{self, Done, Work};
use crate::store::{
    AttemptLimit, AuditEntry, EnqueueGuard, FollowUps, Guarded, NewQuizAttempt, NewUser, Page, QueueItem,
    QuizRow, SessionChange, SessionTransition, TesterFilter, TesterProfile, TesterSummary,
};

/// Quiz attempts a tester may make per window.
const MAX_ATTEMPTS: i64 = 3;
/// The window: 24 hours.
const ATTEMPT_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;
/// Quiz ids are `quiz_v<version>` (as the docs show).
const QUIZ_PREFIX: &str = "quiz_v";
/// A tester status an admin may set, parsed (a 422 names the accepted spellings).
pub fn tester_status(s: &str) -> AppResult<UserStatus> {
    UserStatus::parse(s)
        .ok_or_else(|| AppError::Unprocessable(format!("status: must be one of {}", UserStatus::list())))
}
/// Sessions that count as a completed test for the admin list.
const COMPLETED: [SessionStatus; 3] =
    [SessionStatus::Completed, SessionStatus::Analyzed, SessionStatus::Confirmed];

// ---- eligibility --------------------------------------------------------------------------

/// Why a tester may not take new studies, or `None` when they may. The one rule that both the
/// offer list (`studies::scope_for`) and every single-tester check (accept, session start) use;
/// the profile's match with a study's targeting is the store's matching query on top of it.
pub fn ineligibility(row: Option<&TesterProfile>) -> Option<&'static str> {
    let Some(row) = row else { return Some("Complete your tester profile before accepting a study") };
    if row.status != UserStatus::Active {
        return Some("Your tester account is not active");
    }
    if !row.capacity_verified {
        return Some("Pass the capacity quiz before accepting a study");
    }
    if row.consent_version.is_none() {
        return Some("Give special-category consent before accepting a study");
    }
    if !row.profile.available {
        return Some("Your profile says you are not available for new studies");
    }
    None
}

/// 422 naming the first unmet rule, for a tester about to take a seat or start a session.
pub async fn require_eligible(state: &App, tester_id: &UserId) -> AppResult<()> {
    match ineligibility(state.store.get_profile(tester_id).await?.as_ref()) {
        None => Ok(()),
        Some(why) => Err(AppError::Unprocessable(why.into())),
    }
}

// ---- quiz ---------------------------------------------------------------------------------

/// A quiz option.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct QuizOption {
    pub id: String,
    pub text: String,
}

/// A question with its answer (what admins publish and read).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuizQuestion {
    /// Assigned (`q_001`, …) when absent on publication.
    #[serde(default)]
    pub question_id: String,
    pub text: String,
    /// `multiple_choice`.
    #[serde(rename = "type", default = "multiple_choice")]
    pub kind: String,
    pub options: Vec<QuizOption>,
    pub correct_option_id: String,
    #[serde(default = "ten")]
    pub points: i64,
}

fn multiple_choice() -> String {
    "multiple_choice".into()
}
fn ten() -> i64 {
    10
}

/// A quiz version with answers.
pub struct Quiz {
    pub quiz_id: String,
    pub version: i64,
    pub passing_score: i64,
    pub questions: Vec<QuizQuestion>,
    pub updated_at: i64,
}

fn quiz_of(row: QuizRow) -> AppResult<Quiz> {
    let questions = serde_json::from_str(&row.questions).map_err(AppError::internal)?;
    Ok(Quiz {
        quiz_id: row.id,
        version: row.version,
        passing_score: row.passing_score,
        questions,
        updated_at: row.created_at,
    })
}

async fn active_quiz(state: &App) -> AppResult<Quiz> {
    quiz_of(state.store.active_quiz().await?.ok_or_else(|| AppError::not_found("Quiz"))?)
}

/// The active quiz with its answers (admins).
pub async fn admin_quiz(state: &App) -> AppResult<Quiz> {
    active_quiz(state).await
}

/// A new quiz version (admins); active at once, older versions kept for their attempts.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuizIn {
    /// Percent of the points needed to pass, 1..100.
    pub passing_score: i64,
    /// 1..50 questions, each with 2..8 options and the id of the correct one.
    pub questions: Vec<QuizQuestion>,
}

/// Publishes a new version, audited.
pub async fn publish_quiz(
    state: &App,
    admin: &Principal,
    body: QuizIn,
    request_id: Option<String>,
) -> AppResult<Quiz> {
    let bad = |m: String| AppError::Unprocessable(m);
    if !(1..=100).contains(&body.passing_score) {
        return Err(bad("passingScore: must be 1-100".into()));
    }
    if body.questions.is_empty() || body.questions.len() > 50 {
        return Err(bad("questions: must have 1-50 questions".into()));
    }
    let mut questions = body.questions;
    for (i, q) in questions.iter_mut().enumerate() {
        let at = |m: &str| bad(format!("questions[{i}].{m}"));
        if !(1..=500).contains(&q.text.trim().chars().count()) {
            return Err(at("text: must be 1-500 characters"));
        }
        if q.kind != "multiple_choice" {
            return Err(at("type: must be multiple_choice"));
        }
        if !(2..=8).contains(&q.options.len()) {
            return Err(at("options: must have 2-8 options"));
        }
        let mut ids = std::collections::BTreeSet::new();
        for o in &q.options {
            if o.id.is_empty() || o.id.len() > 8 || !ids.insert(o.id.as_str()) || o.text.trim().is_empty() {
                return Err(at("options: each needs a unique id (1-8 characters) and a text"));
            }
        }
        if !ids.contains(q.correct_option_id.as_str()) {
            return Err(at("correctOptionId: must be one of the options"));
        }
        if !(1..=100).contains(&q.points) {
            return Err(at("points: must be 1-100"));
        }
        if q.question_id.is_empty() {
            q.question_id = format!("q_{:03}", i + 1);
        }
    }
    let now = state.now();
    let json = serde_json::to_string(&questions).map_err(AppError::internal)?;
    let audit = audit(
        admin,
        "quiz.published",
        "quiz",
        "",
        serde_json::json!({"after": {"passingScore": body.passing_score, "questions": questions.len()}}),
        request_id,
        now,
    );
    quiz_of(state.store.publish_quiz(QUIZ_PREFIX, body.passing_score, &json, audit, now).await?)
}

/// The quiz as a tester sees it: no answers, questions and options in a fresh random order.
pub async fn tester_quiz(state: &App, p: &Principal) -> AppResult<Quiz> {
    p.require_tester(ONLY_TESTERS)?;
    let mut quiz = active_quiz(state).await?;
    shuffle(&mut quiz.questions);
    for q in &mut quiz.questions {
        shuffle(&mut q.options);
        q.correct_option_id.clear();
    }
    Ok(quiz)
}

/// Fisher–Yates with the operating system's generator.
fn shuffle<T>(v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let mut b = [0u8; 8];
        crate::random::fill_random(&mut b);
        let j = (u64::from_le_bytes(b) % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// A quiz attempt.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptIn {
    pub quiz_id: String,
    /// `{questionId: optionId}`; unanswered questions score nothing.
    pub answers: BTreeMap<String, String>,
}

/// The outcome of an attempt.
pub struct Attempt {
    /// Percent of the points.
    pub score: i64,
    pub passed: bool,
}

/// Scores an attempt against the version it names (older versions stay valid); a pass makes
/// the tester capacity-verified. At most three attempts in 24 hours.
pub async fn attempt(state: &App, p: &Principal, body: AttemptIn) -> AppResult<Attempt> {
    p.require_tester(ONLY_TESTERS)?;
    let quiz = quiz_of(state.store.quiz(&body.quiz_id).await?.ok_or_else(|| AppError::not_found("Quiz"))?)?;
    if let Some(unknown) = body.answers.keys().find(|k| !quiz.questions.iter().any(|q| &q.question_id == *k))
    {
        return Err(AppError::Unprocessable(format!("answers: {unknown:?} is not a question of this quiz")));
    }
    let total: i64 = quiz.questions.iter().map(|q| q.points).sum();
    let earned: i64 = quiz
        .questions
        .iter()
        .filter(|q| body.answers.get(&q.question_id) == Some(&q.correct_option_id))
        .map(|q| q.points)
        .sum();
    let score = if total == 0 { 0 } else { earned * 100 / total };
    let passed = score >= quiz.passing_score;
    let now = state.now();
    let a = NewQuizAttempt {
        id: new_id(prefix::QUIZ_ATTEMPT, now),
        quiz_id: quiz.quiz_id,
        tester_id: p.user_id.clone(),
        score,
        passed,
        now,
    };
    match state
        .store
        .record_quiz_attempt(a, AttemptLimit { max: MAX_ATTEMPTS, since: now - ATTEMPT_WINDOW_MS })
        .await?
    {
        Guarded::Done(()) => Ok(Attempt { score, passed }),
        _ => Err(AppError::RateLimited(retry_after_secs(ATTEMPT_WINDOW_MS))),
    }
}

fn retry_after_secs(ms: i64) -> u64 {
    u64::try_from(ms / 1000).unwrap_or(0)
}

/// The 403 for a non-tester calling a tester's own action.
const ONLY_TESTERS: &str = "Only testers do this";

// ---- special-category consent ------------------------------------------------------------

/// Special-category consent (GDPR Art. 9) to process the tester's ND categories.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpecialConsentIn {
    /// Version of the consent text shown (1–32 characters), e.g. `v1.1`.
    pub version: String,
    /// Must be `true`: the explicit consent.
    pub special_category: bool,
}

/// Gives consent; the version is kept in the history.
pub async fn give_consent(state: &App, p: &Principal, body: SpecialConsentIn) -> AppResult<TesterProfile> {
    p.require_tester(ONLY_TESTERS)?;
    let version = body.version.trim();
    if version.is_empty() || version.chars().count() > 32 {
        return Err(AppError::Unprocessable("version: must be 1-32 characters".into()));
    }
    if !body.special_category {
        return Err(AppError::Unprocessable("specialCategory: must be true (explicit consent)".into()));
    }
    let now = state.now();
    state.store.give_special_consent(&p.user_id, &new_id(prefix::CONSENT, now), version, now).await?;
    state.store.get_profile(&p.user_id).await?.ok_or_else(|| AppError::not_found("Profile"))
}

/// Withdraws consent: ND categories and assistive tech leave the profile, the tester's facial and
/// voice items are deleted, and no new offers reach them (eligibility needs consent).
pub async fn withdraw_consent(state: &App, p: &Principal) -> AppResult<TesterProfile> {
    p.require_tester(ONLY_TESTERS)?;
    let row = state.store.get_profile(&p.user_id).await?.ok_or_else(|| AppError::not_found("Consent"))?;
    let mut cleared: Profile = row.profile;
    cleared.nd_categories.clear();
    cleared.assistive_tech.clear();
    let now = state.now();
    match state
        .store
        .withdraw_special_consent(&p.user_id, &new_id(prefix::CONSENT, now), &cleared, now)
        .await?
    {
        Guarded::Done(()) => {
            state.store.get_profile(&p.user_id).await?.ok_or_else(|| AppError::not_found("Profile"))
        }
        _ => Err(AppError::not_found("Consent")),
    }
}

/// The consent history: `(version, given|withdrawn, at)`, oldest first.
pub async fn consent_history(
    state: &App,
    p: &Principal,
) -> AppResult<Vec<(String, crate::domain::ConsentAction, i64)>> {
    p.require_tester(ONLY_TESTERS)?;
    Ok(state.store.consent_history(&p.user_id).await?)
}

// ---- admin --------------------------------------------------------------------------------

/// Filters of the admin's tester list.
#[derive(Debug, Clone, Default)]
pub struct TesterQuery {
    pub status: Option<UserStatus>,
    pub country: Option<String>,
    pub nd_category: Option<String>,
    pub min_sessions: Option<i64>,
}

/// Testers, newest first, filtered and paged.
pub async fn list_testers(state: &App, q: &TesterQuery, page: Page) -> AppResult<(Vec<TesterSummary>, u64)> {
    let filter = TesterFilter { status: q.status, min_sessions: q.min_sessions };
    let rows: Vec<TesterSummary> = state
        .store
        .list_testers(&filter, &COMPLETED)
        .await?
        .into_iter()
        .filter(|t| {
            let p = t.profile.as_ref();
            q.country.as_ref().is_none_or(|c| p.and_then(|p| p.country.as_ref()) == Some(c))
                && q.nd_category.as_ref().is_none_or(|c| p.is_some_and(|p| p.nd_categories.contains(c)))
        })
        .collect();
    Ok(page.slice(&rows))
}

/// Sets a tester's status (audited with before/after); a suspended tester loses open offers,
/// running sessions are kept. Returns the status before.
pub async fn set_tester_status(
    state: &App,
    admin: &Principal,
    tester_id: &UserId,
    status: UserStatus,
    request_id: Option<String>,
) -> AppResult<UserStatus> {
    let now = state.now();
    let entry = audit(
        admin,
        "tester.status_changed",
        "user",
        tester_id,
        serde_json::json!({"after": status}),
        request_id,
        now,
    );
    match state.store.set_tester_status(tester_id, status, status == UserStatus::Suspended, entry).await? {
        Guarded::Done(before) => Ok(before),
        _ => Err(AppError::not_found("Tester")),
    }
}

/// An audit entry of an admin's write.
pub fn audit(
    actor: &Principal,
    action: &str,
    target_type: &str,
    target_id: &str,
    details: serde_json::Value,
    request_id: Option<String>,
    now: i64,
) -> AuditEntry {
    AuditEntry {
        id: new_id(prefix::AUDIT, now),
        actor_id: Some(actor.user_id.clone()),
        action: action.into(),
        target_type: target_type.into(),
        target_id: target_id.into(),
        details: details.to_string(),
        created_at: now,
        request_id,
    }
}

// ---- erasure ------------------------------------------------------------------------------

/// `DELETE /api/me`: the person is locked out at once (sign-ins, tokens and test tokens stop
/// working), and an erasure job removes their data through the queue.
/// The request is journaled first (`services::backup`), so a restore of an older backup
/// erases the person again.
pub async fn request_erasure(state: &App, p: &Principal) -> AppResult<QueueItem> {
    crate::services::journal::journal_erasure(state, &p.user_id).await?;
    queue_erasure(state, &p.user_id, p.organization_id.as_ref()).await
}

/// Locks the person out and queues their erasure (the request, and a restore re-applying it).
pub async fn queue_erasure(
    state: &App,
    user_id: &UserId,
    organization: Option<&OrgId>,
) -> AppResult<QueueItem> {
    let now = state.now();
    let work = Work {
        kind: QueueKind::Erasure,
        subject_id: user_id,
        organization_id: organization,
        tester_id: None,
        payload: None,
    };
    let item = match queue::enqueue(state, work, EnqueueGuard::Unconditional).await? {
        Guarded::Done(item) => item,
        _ => return Err(AppError::internal("erasure could not be queued")),
    };
    state.store.lock_user(user_id, now).await?;
    Ok(item)
}

/// What replaces a tester's words wherever they were copied.
pub const ERASED_WORDS: &str = "[removed at the tester's request]";

/// Evidence kinds whose `detail` is the tester's own words (a transcript or note excerpt, or
/// the quoted transcript of a `negative_speech` signal).
const WORD_EVIDENCE: [&str; 3] = ["transcript", "note", "negative_speech"];

/// A needle shorter than this is only removed where it is a whole string: as a substring it
/// would cut into other testers' words in a study report ("ok" in "book").
const MIN_SUBSTRING_NEEDLE: usize = 8;

/// The forms in which the engine copies a text: whole, and its excerpts (the first 160 and 500
/// characters, which it ends with "…").
fn needles(texts: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in texts {
        let t = t.trim();
        if t.is_empty() {
            continue;
        }
        out.push(t.to_owned());
        for max in [160, 500] {
            if let Some((i, _)) = t.char_indices().nth(max) {
                out.push(t[..i].to_owned());
            }
        }
    }
    // Longest first, so a text is removed before a shorter one inside it.
    out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out.dedup();
    out
}

/// Removes the needles from one string; true when it changed.
fn scrub(s: &mut String, needles: &[String]) -> bool {
    if s == ERASED_WORDS {
        return false;
    }
    let mut changed = false;
    for n in needles {
        if s.trim() == n.as_str() {
            *s = ERASED_WORDS.to_owned();
            return true;
        }
        if n.chars().count() >= MIN_SUBSTRING_NEEDLE && s.contains(n.as_str()) {
            *s = s.replace(n.as_str(), ERASED_WORDS);
            changed = true;
        }
    }
    changed
}

/// Redacts a stored JSON document: on the tester's own rows every word-carrying evidence
/// detail, everywhere every copy of their texts. Signals, counts and ids stay.
fn redact_value(v: &mut serde_json::Value, own: bool, needles: &[String]) -> bool {
    use serde_json::Value;
    match v {
        Value::String(s) => scrub(s, needles),
        Value::Array(items) => items.iter_mut().fold(false, |c, i| redact_value(i, own, needles) | c),
        Value::Object(map) => {
            let words = own
                && map.get("type").and_then(Value::as_str).is_some_and(|t| WORD_EVIDENCE.contains(&t))
                && map.get("detail").is_some_and(Value::is_string);
            let mut changed = false;
            if words && map.get("detail").and_then(Value::as_str) != Some(ERASED_WORDS) {
                map.insert("detail".into(), Value::from(ERASED_WORDS));
                changed = true;
            }
            map.values_mut().fold(changed, |c, v| redact_value(v, own, needles) | c)
        }
        _ => false,
    }
}

/// Rewrites every stored copy of a tester's words (their findings' evidence and comments,
/// their sessions' analyses and snapshots, session and study reports, queue results).
async fn redact_words(state: &App, sessions: &[(String, String)], texts: &[String]) -> AppResult<usize> {
    use crate::store::QuotePlace;
    let needles = needles(texts);
    let mut edits = Vec::new();
    for q in state.store.texts_quoting(sessions).await? {
        if q.place == QuotePlace::FindingComment {
            // The tester's own confirmation comment: theirs alone, cleared.
            edits.push((q.place, q.id, None));
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(&q.text) {
            Ok(mut v) => {
                if redact_value(&mut v, q.own, &needles) {
                    edits.push((q.place, q.id, Some(v.to_string())));
                }
            }
            Err(_) => {
                let mut text = q.text;
                if scrub(&mut text, &needles) {
                    edits.push((q.place, q.id, Some(text)));
                }
            }
        }
    }
    state.store.rewrite_texts(&edits).await?;
    Ok(edits.len())
}

/// Worker side: erases the person. Their running sessions are abandoned (the seats go back),
/// every copy of what they said and wrote is redacted (findings keep their signals and counts),
/// then their rows are deleted or re-pointed at an anonymous tombstone. The words are read
/// before and redacted both before and after the deletion, so a report written meanwhile from
/// words read earlier is caught too. Idempotent: a second run finds no one.
pub async fn run_erasure(state: &App, item: &QueueItem) -> AppResult<Done> {
    let subject = UserId::from(item.subject_id.as_str());
    let words = state.store.tester_words(&subject).await?;
    for (id, _, status) in &words.sessions {
        if SessionStatus::RUNNING.contains(status) {
            abandon_for_erasure(state, &subject, &SessionId::from(id.as_str())).await?;
        }
    }
    let sessions: Vec<(String, String)> =
        words.sessions.iter().map(|(id, st, _)| (id.clone(), st.clone())).collect();
    redact_words(state, &sessions, &words.texts).await?;
    let now = state.now();
    let subject = UserId::from(item.subject_id.as_str());
    let user = state.store.get_user(&subject).await?;
    let role = user.map_or(Role::Tester, |u| u.role);
    let tomb = NewUser {
        id: UserId::new(now),
        email: format!("erased-{}@erased.invalid", new_hex_token(8)),
        full_name: "Erased".into(),
        role,
        password_hash: "!".into(),
        created_at: now,
    };
    let tomb_id = tomb.id.clone();
    let erased = state.store.erase_user(&subject, tomb, now).await?;
    redact_words(state, &sessions, &words.texts).await?;
    match erased {
        Guarded::Done(()) => Ok(Done::referring_to(tomb_id)),
        _ => Ok(Done::referring_to("erased")),
    }
}

/// Abandons a running session of a tester who is being erased,
/// so the study does not wait on it (scoped to the tester's own sessions). `false` when it was
/// no longer running.
async fn abandon_for_erasure(state: &App, tester: &UserId, session_id: &SessionId) -> AppResult<bool> {
    let t = SessionTransition {
        from: &SessionStatus::RUNNING,
        change: SessionChange::Abandon { to: SessionStatus::Abandoned },
        event: None,
        then: FollowUps::none(),
    };
    Ok(matches!(
        state.store.change_session(&Tenant::Tester(tester.clone()), session_id, t, state.now()).await?,
        Guarded::Done(_)
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn own_evidence_loses_its_words_and_keeps_its_signals() {
        let said = vec!["is it broken, zebra-41".to_owned(), "ok".to_owned()];
        let n = needles(&said);
        let mut finding = json!({"findingId": "fnd_1", "severity": "high", "testersAffected": 1, "evidence": [
            {"type": "rage_click", "timestamp": "t", "detail": "4 clicks on #pay"},
            {"type": "transcript", "timestamp": "t", "detail": "something the engine cut differently"},
            {"type": "negative_speech", "timestamp": "t", "detail": "\u{201c}is it broken, zebra-41\u{201d}"},
        ]});
        assert!(redact_value(&mut finding, true, &n));
        let ev = finding["evidence"].as_array().unwrap();
        assert_eq!(ev.len(), 3);
        assert_eq!(ev[0]["detail"], "4 clicks on #pay");
        assert_eq!(ev[1]["detail"], ERASED_WORDS);
        assert_eq!(ev[2]["detail"], ERASED_WORDS);
        assert_eq!(finding["testersAffected"], 1);
        assert!(!redact_value(&mut finding, true, &n), "idempotent");
    }

    #[test]
    fn study_rows_lose_copies_but_short_words_of_others_stay() {
        let said = vec!["is it broken, zebra-41".to_owned(), "ok".to_owned()];
        let n = needles(&said);
        let mut report = json!({"evidence": [
            {"type": "transcript", "detail": "Tester 1: is it broken, zebra-41"},
            {"type": "transcript", "detail": "Tester 2: the book is fine"},
            {"type": "note", "detail": "ok"},
        ]});
        assert!(redact_value(&mut report, false, &n));
        assert_eq!(report["evidence"][0]["detail"], format!("Tester 1: {ERASED_WORDS}"));
        assert_eq!(report["evidence"][1]["detail"], "Tester 2: the book is fine");
        assert_eq!(report["evidence"][2]["detail"], ERASED_WORDS);
    }

    #[test]
    fn excerpts_are_needles_too() {
        let long = "w".repeat(600);
        let n = needles(std::slice::from_ref(&long));
        assert!(n.contains(&"w".repeat(160)) && n.contains(&"w".repeat(500)) && n.contains(&long));
        let mut s = format!("\u{201c}{}\u{2026}\u{201d}", "w".repeat(160));
        assert!(scrub(&mut s, &n));
        assert!(!s.contains("wwww"), "{s}");
    }
}
