//! The scheduled jobs (spec §7 cron): session timeouts, reminders, the 72 h study follow-up,
//! retention of raw streams, payout retry. Each is idempotent, runs from the built-in
//! scheduler (through the queue) and from `POST /api/cron/<job>`, and returns how many things
//! it changed.

use std::collections::HashMap;

use serde_json::json;

use crate::app::App;
use crate::domain::ids::StudyId;
use crate::domain::stream::parse_time;
use crate::domain::study::StudyDefinition;
use crate::domain::{
    CronJob, NotificationKind, PipelineStatus, SeatStatus, SessionStatus, StudyStatus, Tenant, WebhookEvent,
    format_ms,
};
use crate::error::AppResult;
use crate::services::notifications::{self, Notice};
use crate::services::sessions::{self, TEST_TOKEN_TTL_MS};
use crate::services::{flow, studies, webhooks};
use crate::store::{
    FollowUps, Guarded, Recipient, RunningSession, SessionChange, SessionTransition, StudyScope,
};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
/// A study open this long without completing is followed up (spec: 72 h).
pub const FOLLOW_UP_AFTER_MS: i64 = 72 * HOUR_MS;
/// Sessions whose streams one retention run purges (the next run continues).
const PURGE_BATCH: i64 = 500;
/// Studies one follow-up run flags.
const FOLLOW_UP_BATCH: i64 = 100;
/// Handled Telegram update ids are kept this long (Telegram retries for up to a day).
const UPDATE_IDS_KEPT_MS: i64 = 7 * DAY_MS;
/// Studies whose slow progress is followed up.
const UNDERWAY: [StudyStatus; 2] = [StudyStatus::Open, StudyStatus::InProgress];

/// Runs one job now with `authority` (the system's, from the worker or the operator's cron
/// route: the jobs sweep every organization); returns how many items it processed.
pub async fn run(state: &App, authority: &Tenant, job: CronJob) -> AppResult<u64> {
    let n = match job {
        CronJob::SessionTimeouts => session_timeouts(state, authority).await?,
        CronJob::Reminders => reminders(state, authority).await?,
        CronJob::StudyFollowups => study_followups(state, authority).await?,
        CronJob::Retention => retention(state).await?,
        CronJob::PayoutRetry => payout_retry(state, authority).await?,
    };
    tracing::info!(job = %job, processed = n, "scheduled job ran");
    Ok(n)
}

/// Study definitions, loaded once per run.
struct Definitions<'a> {
    state: &'a App,
    scope: StudyScope,
    cache: HashMap<StudyId, Option<StudyDefinition>>,
}

impl<'a> Definitions<'a> {
    fn new(state: &'a App, authority: &Tenant) -> Self {
        Self { state, scope: authority.into(), cache: HashMap::new() }
    }

    async fn get(&mut self, study_id: &StudyId) -> AppResult<Option<&StudyDefinition>> {
        if !self.cache.contains_key(study_id) {
            let d = self.state.store.get_study(&self.scope, study_id).await?.map(|s| s.definition);
            self.cache.insert(study_id.to_owned(), d);
        }
        Ok(self.cache.get(study_id).and_then(Option::as_ref))
    }
}

/// Whether a running session has timed out at `now`.
///
/// The clock starts when the tester consents in the briefing (the test really starts then;
/// a session created by accepting on Telegram may wait hours for it) and stops while paused:
/// past `max_duration + grace` of testing, it is abandoned. A session never consented to is
/// abandoned once its test token has expired (plus grace), and a pause longer than the token's
/// lifetime ends the session too.
pub fn timed_out(s: &RunningSession, max_duration_ms: i64, grace_ms: i64, now: i64) -> bool {
    let paused_now = s.paused_at.map_or(0, |p| (now - p).max(0));
    let began = s.consent.as_ref().and_then(|c| parse_time(&c.given_at).ok());
    match began {
        None => now - s.started_at > TEST_TOKEN_TTL_MS + grace_ms,
        Some(_) if paused_now > TEST_TOKEN_TTL_MS => true,
        Some(began) => now - began.max(s.started_at) - s.paused_ms - paused_now > max_duration_ms + grace_ms,
    }
}

/// Running sessions past their study's `maxDurationMinutes` + grace (api.md §11, duration
/// limit): one holding any item is completed at its last item's time and flows on (Agent 2);
/// one holding none is `abandoned` (its seat freed) and its tester told.
async fn session_timeouts(state: &App, authority: &Tenant) -> AppResult<u64> {
    let now = state.now();
    let grace = state.config.session_grace_minutes * MINUTE_MS;
    // No study allows less than 5 minutes, so younger sessions cannot be due.
    let candidates =
        state.store.running_sessions(&SessionStatus::RUNNING, now - 5 * MINUTE_MS - grace).await?;
    let mut definitions = Definitions::new(state, authority);
    let mut ended = 0;
    for s in candidates {
        let Some(d) = definitions.get(&s.study_id).await? else { continue };
        let title = d.title.trim().to_owned();
        if !timed_out(&s, d.settings.max_duration_minutes * MINUTE_MS, grace, now) {
            continue;
        }
        if let Some(last) = state.store.last_item_at(authority, &s.id).await? {
            if sessions::complete_at_limit(state, authority, &s.id, last.max(s.started_at)).await? {
                ended += 1;
            }
            continue;
        }
        let t = SessionTransition {
            from: &SessionStatus::RUNNING,
            change: SessionChange::Abandon { to: SessionStatus::Abandoned },
            event: None,
            then: FollowUps::none(),
        };
        let Guarded::Done(session) = state.store.change_session(authority, &s.id, t, now).await? else {
            continue;
        };
        ended += 1;
        let notice = Notice {
            kind: NotificationKind::SessionAbandoned,
            title: format!("Your test of \"{title}\" has timed out"),
            body: "It was open longer than the study allows, so it has been closed. What you recorded before is \
                   kept. Nothing is held against you."
                .into(),
            data: json!({"jobId": session.study_id, "sessionId": session.id}),
            once: Some(format!("session.abandoned:{}", session.id)),
        };
        notifications::notify(
            state,
            Recipient::User(s.tester_id.clone()),
            notice,
            Some(&session.organization_id),
            None,
        )
        .await?;
    }
    Ok(ended)
}

/// Testers whose findings await their confirmation (api.md §11): reminded once
/// `reminderAfterHours` after the analysis and once at 72 h.
async fn confirmation_reminders(state: &App, authority: &Tenant, now: i64) -> AppResult<u64> {
    let waiting = state
        .store
        .sessions_waiting(SessionStatus::Analyzed, PipelineStatus::AwaitingConfirmation, now - HOUR_MS, 500)
        .await?;
    let mut definitions = Definitions::new(state, authority);
    let mut sent = 0;
    for (session_id, study_id, org, tester_id, analysed_at) in waiting {
        let Some(d) = definitions.get(&study_id).await? else { continue };
        let (title, hours) = (d.title.clone(), d.settings.reminder_after_hours);
        let who = (session_id.as_str(), tester_id.as_str(), org.as_str());
        if now - analysed_at >= hours * HOUR_MS
            && flow::confirmation_reminder(state, who, &title, false).await?
        {
            sent += 1;
        }
        if now - analysed_at >= FOLLOW_UP_AFTER_MS
            && flow::confirmation_reminder(state, who, &title, true).await?
        {
            sent += 1;
        }
    }
    Ok(sent)
}

/// One reminder to each tester who accepted a study `reminderAfterHours` ago and has not
/// started it (no session, or one created on Telegram but never consented to); then the
/// reminders of findings awaiting confirmation.
async fn reminders(state: &App, authority: &Tenant) -> AppResult<u64> {
    let now = state.now();
    // The shortest allowed `reminderAfterHours` is 1.
    let pending = state
        .store
        .pending_starts(&studies::TAKING_SESSIONS, SeatStatus::Accepted, SessionStatus::Active, now - HOUR_MS)
        .await?;
    let mut definitions = Definitions::new(state, authority);
    let mut sent = 0;
    for p in pending {
        let Some(d) = definitions.get(&p.study_id).await? else { continue };
        let hours = d.settings.reminder_after_hours;
        if now - p.accepted_at < hours * HOUR_MS {
            continue;
        }
        let notice = Notice {
            kind: NotificationKind::OfferReminder,
            title: format!("Reminder: \"{}\" is waiting for you", d.title.trim()),
            body: format!(
                "You accepted this study {hours} hours ago and have not started it yet. Open your test link when \
                 you are ready, or decline it if you cannot take part; there is no penalty."
            ),
            data: json!({"jobId": p.study_id}),
            once: Some(format!("offer.reminder:{}:{}", p.study_id, p.tester_id)),
        };
        let (n, copy) = notifications::prepare(
            state,
            Recipient::User(p.tester_id.clone()),
            notice,
            Some(&p.organization_id),
        )
        .await?;
        let queued = copy.is_some();
        if state.store.mark_reminded(&p.study_id, &p.tester_id, n, copy, now).await? {
            sent += 1;
            if queued {
                state.queue_ready.notify_one();
            }
        }
    }
    Ok(sent + confirmation_reminders(state, authority, now).await?)
}

/// Studies open 72 h without completing: the business is notified (outbound `study.stalled`
/// and its in-app list) and the study is flagged for staff, once.
async fn study_followups(state: &App, authority: &Tenant) -> AppResult<u64> {
    let now = state.now();
    let stalled = state.store.stalled_studies(&UNDERWAY, now - FOLLOW_UP_AFTER_MS, FOLLOW_UP_BATCH).await?;
    let mut flagged = 0;
    for s in stalled {
        let Some(study) = state.store.get_study(&authority.into(), &s.study_id).await? else { continue };
        let title = study.definition.title.trim().to_owned();
        let data = json!({
            "jobId": study.id,
            "status": study.status,
            "launchedAt": format_ms(s.launched_at),
            "testerCount": study.tester_count,
            "sessionsTotal": study.sessions_total,
            "sessionsConfirmed": study.sessions_confirmed,
        });
        let to_business = Notice {
            kind: NotificationKind::StudyStalled,
            title: format!("\"{title}\" has not completed after 72 hours"),
            body: format!(
                "{} of {} testers have confirmed their sessions. Our team will follow up with you.",
                study.sessions_confirmed, study.tester_count
            ),
            data: data.clone(),
            once: Some(format!("study.stalled:{}", study.id)),
        };
        let to_staff = Notice {
            kind: NotificationKind::StudyStalled,
            title: format!("Follow up: \"{title}\" open 72 h without completing"),
            body: format!("{} of {} sessions confirmed.", study.sessions_confirmed, study.tester_count),
            data: data.clone(),
            once: Some(format!("staff.study.stalled:{}", study.id)),
        };
        let (business_note, _) = notifications::prepare(
            state,
            Recipient::Organization(s.organization_id.clone()),
            to_business,
            None,
        )
        .await?;
        let (staff_note, _) = notifications::prepare(state, Recipient::Staff, to_staff, None).await?;
        let event = webhooks::event(WebhookEvent::StudyStalled, data);
        if state.store.flag_stalled(&s, vec![business_note, staff_note], event, now).await? {
            flagged += 1;
        }
    }
    Ok(flagged)
}

/// Deletes raw streams (events, facial, voice) of sessions started more than the retention
/// period ago; session rows, notes, findings and reports stay.
async fn retention(state: &App) -> AppResult<u64> {
    let now = state.now();
    let cutoff = now - state.config.retention_days.saturating_mul(DAY_MS);
    let mut purged = 0;
    for id in state.store.sessions_to_purge(cutoff, PURGE_BATCH).await? {
        let rows = state.store.purge_streams(&id, now).await?;
        tracing::info!(session = %id, rows, "raw streams purged");
        purged += 1;
    }
    state.store.prune_updates(now - UPDATE_IDS_KEPT_MS).await?;
    Ok(purged)
}

/// Pays what a lost trigger missed: completed studies' confirmed sessions without a paid
/// transfer (skipped testers whose account is now payout-enabled included). Failed bank payouts
/// are retried by the queue as `payout.failed` arrives.
async fn payout_retry(state: &App, authority: &Tenant) -> AppResult<u64> {
    if state.billing.is_none() {
        return Ok(0);
    }
    Ok(u64::try_from(crate::services::billing::sweep_payouts(state, authority).await?).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::study::{ConsentRecord, ConsentStreams};

    fn running(
        started_at: i64,
        consent_at: Option<i64>,
        paused_at: Option<i64>,
        paused_ms: i64,
    ) -> RunningSession {
        RunningSession {
            id: "sess_x".into(),
            study_id: "job_x".into(),
            tester_id: "user_x".into(),
            status: SessionStatus::Active,
            started_at,
            paused_at,
            paused_ms,
            consent: consent_at.map(|t| ConsentRecord {
                version: "v1".into(),
                streams: ConsentStreams::default(),
                given_at: format_ms(t),
            }),
        }
    }

    #[test]
    fn the_clock_runs_from_consent_and_stops_while_paused() {
        let (max, grace) = (45 * MINUTE_MS, 30 * MINUTE_MS);
        let t0 = 1_800_000_000_000;
        // Consented at once: due after 75 minutes of testing.
        let s = running(t0, Some(t0), None, 0);
        assert!(!timed_out(&s, max, grace, t0 + 75 * MINUTE_MS));
        assert!(timed_out(&s, max, grace, t0 + 75 * MINUTE_MS + 1));
        // A 20-minute pause already taken moves the deadline.
        let s = running(t0, Some(t0), None, 20 * MINUTE_MS);
        assert!(!timed_out(&s, max, grace, t0 + 90 * MINUTE_MS));
        // Accepted on Telegram at t0, consented 5 hours later.
        let s = running(t0, Some(t0 + 5 * HOUR_MS), None, 0);
        assert!(!timed_out(&s, max, grace, t0 + 6 * HOUR_MS));
        // Never consented: only once the test token has expired.
        let s = running(t0, None, None, 0);
        assert!(!timed_out(&s, max, grace, t0 + 20 * HOUR_MS));
        assert!(timed_out(&s, max, grace, t0 + TEST_TOKEN_TTL_MS + grace + 1));
        // Paused for longer than a day.
        let s = running(t0, Some(t0), Some(t0 + MINUTE_MS), 0);
        assert!(!timed_out(&s, max, grace, t0 + 10 * HOUR_MS));
        assert!(timed_out(&s, max, grace, t0 + MINUTE_MS + TEST_TOKEN_TTL_MS + 1));
    }
}
