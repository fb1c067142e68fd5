//! The flow of a study (api.md §11) in one place: what each finished step triggers next.
//!
//! | when (the step)                                   | then (written in the step's own transaction)                 |
//! |---------------------------------------------------|--------------------------------------------------------------|
//! | a session completes (any way, the duration limit) | Agent 2 queued, pipeline `queued`                            |
//! | Agent 2 finishes (session `analyzed`)             | the tester is told (in-app, Telegram when linked)            |
//! | the tester has decided every finding              | the study completed when settled; Agent 3; the payout (billing, study completed); Agent 4 when due |
//! | the study is closed                               | Agent 4 when at least one session is confirmed               |
//! | a report is written                               | the business is told in-app (webhooks as before)             |
//! | a step fails after its retries                    | pipeline `failed`; business + admins told, `pipeline.failed`; the study completed when settled, Agent 4 and the payout when due without it |
//!
//! Each function below is one row: the services that own the step call it and hand what it
//! returns to the store method that commits the step, so a follow-up exists if and only if its
//! step committed, and exists once (the step's state guard, the queue's one-pending-item rule,
//! notification keys). "Settled": every seat's session is confirmed, or failed after its
//! retries, with at least one confirmed; "Agent 4 when due": the study is completed or closed,
//! or settled. An abandoned session holds no seat and never enters the flow.

use serde_json::json;

use crate::app::App;
use crate::domain::ids::{OrgId, SessionId, StudyId, UserId};
use crate::domain::{
    NotificationKind, PipelineStatus, QueueKind, ReportKind, SessionStatus, StudyStatus, WebhookEvent,
};
use crate::error::AppResult;
use crate::services::notifications::{self, Notice};
use crate::services::queue::Work;
use crate::services::{billing, queue, webhooks};
use crate::store::{
    EnqueueGuard, FollowUps, NewQueueItem, QueueItem, Recipient, Session, Study, StudySettles, Tenant,
};

/// Sessions Agent 2 may (re)analyse: a confirmed session keeps its findings.
pub const ANALYSABLE: [SessionStatus; 2] = [SessionStatus::Completed, SessionStatus::Analyzed];
/// Sessions Agent 3 reports on.
pub const REPORTABLE: [SessionStatus; 1] = [SessionStatus::Confirmed];
/// Studies whose synthesis is due whatever their sessions' count.
const FINISHED: [StudyStatus; 2] = [StudyStatus::Completed, StudyStatus::Closed];
/// Studies whose testers are paid (a completed study; see `billing::pay_study`).
const PAID_OUT: [StudyStatus; 1] = [StudyStatus::Completed];

/// The dashboard page where a tester confirms a session's findings.
pub fn confirm_page(state: &App, session_id: &str) -> String {
    format!("{}/app/sessions/{session_id}", state.config.public_url.as_deref().unwrap_or(""))
}

fn item(
    state: &App,
    kind: QueueKind,
    subject: &str,
    organization: &OrgId,
    tester: Option<&UserId>,
) -> NewQueueItem {
    let work = Work {
        kind,
        subject_id: subject,
        organization_id: Some(organization),
        tester_id: tester,
        payload: None,
    };
    queue::prepare(state, work)
}

/// Agent 2 for a session (its pipeline `queued`), while it is completed or analysed.
pub fn analysis_of(state: &App, s: &Session) -> (NewQueueItem, EnqueueGuard<'static>) {
    let work = item(state, QueueKind::AnalyzeSession, &s.id, &s.organization_id, Some(&s.tester_id));
    (work, EnqueueGuard::Session { within: &ANALYSABLE, pipeline: Some(PipelineStatus::Queued) })
}

/// Agent 3 for a confirmed session.
pub fn session_report_of(state: &App, s: &Session) -> (NewQueueItem, EnqueueGuard<'static>) {
    let work = item(state, QueueKind::SessionReport, &s.id, &s.organization_id, None);
    (work, EnqueueGuard::Session { within: &REPORTABLE, pipeline: None })
}

/// Agent 4 for a study, when its synthesis is due.
fn study_report_when_due(state: &App, study: &Study) -> (NewQueueItem, EnqueueGuard<'static>) {
    let work = item(state, QueueKind::StudyReport, &study.id, &study.organization_id, None);
    let guard = EnqueueGuard::StudySettled {
        confirmed: SessionStatus::Confirmed,
        failed: PipelineStatus::Failed,
        target: study.tester_count,
        or_in: &FINISHED,
    };
    (work, guard)
}

/// Row 1: a session completed → Agent 2.
pub fn session_completed(state: &App, s: &Session) -> FollowUps {
    FollowUps { enqueue: vec![analysis_of(state, s)], ..FollowUps::none() }
}

/// Row 2: Agent 2 finished → the tester is told, with the page where they confirm (a session
/// without findings waits for them too: they may add notes).
pub async fn session_analyzed(
    state: &App,
    s: &Session,
    study: &Study,
    findings: usize,
) -> AppResult<FollowUps> {
    let title = study.definition.title.trim();
    let what = match findings {
        0 => "We found no barrier in your session. Please confirm it, and add a note if something was hard"
            .to_owned(),
        1 => "We found 1 possible barrier in your session. Please confirm or reject it".to_owned(),
        n => format!("We found {n} possible barriers in your session. Please confirm or reject each"),
    };
    let url = confirm_page(state, &s.id);
    let notice = Notice {
        kind: NotificationKind::FindingsReady,
        title: format!("Your findings for \"{title}\" are ready"),
        body: format!("{what}: {url}"),
        data: json!({"jobId": study.id, "sessionId": s.id, "url": url}),
        once: Some(format!("findings.ready:{}", s.id)),
    };
    let told =
        notifications::prepare(state, Recipient::User(s.tester_id.clone()), notice, Some(&s.organization_id))
            .await?;
    Ok(FollowUps { notify: vec![told], ..FollowUps::none() })
}

/// Row 2 (later): findings still undecided `reminderAfterHours` after the analysis, and again
/// at 72 h: the tester is reminded (in-app, Telegram when linked), once each. `late`: the 72 h
/// one.
pub async fn confirmation_reminder(
    state: &App,
    session: (&str, &str, &str),
    title: &str,
    late: bool,
) -> AppResult<bool> {
    let (session_id, tester_id, organization_id) = session;
    let url = confirm_page(state, session_id);
    let notice = Notice {
        kind: NotificationKind::FindingsReady,
        title: format!("Reminder: your findings for \"{}\" await you", title.trim()),
        body: format!(
            "Please confirm or reject each finding of your session (and add notes if you like): {url}"
        ),
        data: json!({"sessionId": session_id, "url": url}),
        once: Some(format!("findings.reminder{}:{session_id}", if late { ".72h" } else { "" })),
    };
    let org = OrgId::from(organization_id);
    notifications::notify(state, Recipient::User(tester_id.into()), notice, Some(&org), None).await
}

/// The study `completed` once `testerCount` of its sessions are settled: confirmed, or failed
/// after their retries (decision 208: a failed session never holds the others' payouts; it
/// stays re-runnable and the study report names it not analysed).
fn study_settles(study: &Study) -> StudySettles {
    StudySettles {
        study_id: study.id.clone(),
        from: StudyStatus::InProgress,
        to: StudyStatus::Completed,
        confirmed: SessionStatus::Confirmed,
        failed: PipelineStatus::Failed,
        target: study.tester_count,
    }
}

/// The study's payout once it is completed (billing only; the ledger pays each confirmed
/// session once, so a later run pays only what is new).
fn payout_when_completed(state: &App, study: &Study) -> Option<(NewQueueItem, EnqueueGuard<'static>)> {
    billing::configured(state).then(|| {
        let payout = item(state, QueueKind::StudyPayout, &study.id, &study.organization_id, None);
        (payout, EnqueueGuard::StudyIn { within: &PAID_OUT })
    })
}

/// Row 3: every finding decided → Agent 3; the study completed when settled; its payout once
/// it is completed (billing only); Agent 4 when due (row 4: the confirmation may complete the
/// study).
pub fn session_confirmed(state: &App, s: &Session, study: &Study) -> FollowUps {
    let mut enqueue = vec![session_report_of(state, s), study_report_when_due(state, study)];
    enqueue.extend(payout_when_completed(state, study));
    FollowUps { study_settles: Some(study_settles(study)), enqueue, ..FollowUps::none() }
}

/// Row 4: the study closed → Agent 4 when at least one session is confirmed.
pub fn study_closed(state: &App, study: &Study) -> FollowUps {
    FollowUps { enqueue: vec![study_report_when_due(state, study)], ..FollowUps::none() }
}

/// Row 5: a report written → the business is told in-app (the `report.ready` and
/// `study.report_ready` webhooks go with the report as before).
pub async fn report_written(
    state: &App,
    study: &Study,
    kind: ReportKind,
    report_id: &str,
    subject: &str,
) -> AppResult<FollowUps> {
    let title = study.definition.title.trim();
    let (head, data) = match kind {
        ReportKind::Study => (
            format!("The study report of \"{title}\" is ready"),
            json!({"jobId": study.id, "reportId": report_id}),
        ),
        ReportKind::Session => (
            format!("A session report of \"{title}\" is ready"),
            json!({"jobId": study.id, "sessionId": subject, "reportId": report_id}),
        ),
    };
    let notice = Notice {
        kind: NotificationKind::ReportReady,
        title: head,
        body: format!("Read it on the study's page, or at GET /api/reports/{report_id}."),
        data,
        once: Some(format!("report.ready:{report_id}")),
    };
    let told =
        notifications::prepare(state, Recipient::Organization(study.organization_id.clone()), notice, None)
            .await?;
    Ok(FollowUps { notify: vec![told], ..FollowUps::none() })
}

/// Row 6: an agent's item failed after its retries → the session's pipeline `failed`, the
/// business and the admins told (in-app; `pipeline.failed` webhook), and, for Agent 2, the
/// study's synthesis queued when it is due without that session. Other kinds: nothing.
pub async fn step_failed(
    state: &App,
    authority: &Tenant,
    failed: &QueueItem,
) -> AppResult<(Option<PipelineStatus>, FollowUps)> {
    let (session, study_id) = match failed.kind {
        QueueKind::AnalyzeSession | QueueKind::SessionReport => {
            let Some(s) =
                state.store.get_session(authority, &SessionId::from(failed.subject_id.as_str())).await?
            else {
                return Ok((None, FollowUps::none()));
            };
            let study_id = s.study_id.clone();
            (Some(s), study_id)
        }
        QueueKind::StudyReport => (None, StudyId::from(failed.subject_id.as_str())),
        _ => return Ok((None, FollowUps::none())),
    };
    let Some(study) = state.store.get_study(&authority.into(), &study_id).await? else {
        return Ok((None, FollowUps::none()));
    };
    let title = study.definition.title.trim();
    let stage = match failed.kind {
        QueueKind::AnalyzeSession => "the session's analysis",
        QueueKind::SessionReport => "the session's report",
        _ => "the study report",
    };
    let data = json!({
        "jobId": study.id,
        "sessionId": session.as_ref().map(|s| s.id.clone()),
        "stage": failed.kind,
        "analysisJobId": failed.id,
        "attempts": failed.attempts,
    });
    let body = format!(
        "{stage} failed after {} attempts. The study goes on without it; it can be run again \
         (POST /api/sessions/:id/analyze, POST /api/reports or POST /api/reports/job/:id).",
        failed.attempts
    );
    let to_business = Notice {
        kind: NotificationKind::PipelineFailed,
        title: format!("A step of \"{title}\" failed"),
        body: body.clone(),
        data: data.clone(),
        once: Some(format!("pipeline.failed:{}", failed.id)),
    };
    let to_staff = Notice {
        kind: NotificationKind::PipelineFailed,
        title: format!("Pipeline failure in \"{title}\""),
        body,
        data: data.clone(),
        once: Some(format!("staff.pipeline.failed:{}", failed.id)),
    };
    let org = study.organization_id.clone();
    let business =
        notifications::prepare(state, Recipient::Organization(org.clone()), to_business, None).await?;
    let staff = notifications::prepare(state, Recipient::Staff, to_staff, None).await?;
    let mut then = FollowUps {
        notify: vec![business, staff],
        events: vec![(org, webhooks::event(WebhookEvent::PipelineFailed, data))],
        ..FollowUps::none()
    };
    if failed.kind == QueueKind::AnalyzeSession {
        // The failed session settles its seat: the study may be completed without it, its
        // synthesis and the others' payouts go on (decision 208).
        then.study_settles = Some(study_settles(&study));
        then.enqueue.push(study_report_when_due(state, &study));
        then.enqueue.extend(payout_when_completed(state, &study));
    }
    let pipeline = session.is_some().then_some(PipelineStatus::Failed);
    Ok((pipeline, then))
}
