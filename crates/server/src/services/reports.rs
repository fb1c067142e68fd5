//! Agents 3 and 4: a report for one confirmed session, and the synthesis of a study's
//! confirmed sessions. Only confirmed findings reach a report (the notes-confirmed gate).

use std::collections::BTreeSet;

use openscouter_analysis::{ConfirmedSession, StudyMeta, TaskMeta};
use serde_json::json;

use crate::app::App;
use crate::auth::principal::Principal;
use crate::domain::ids::{SessionId, StudyId, prefix};
use crate::domain::{
    Decision, PipelineStatus, QueueKind, ReportKind, SessionStatus, Tenant, WebhookEvent, format_ms,
};
use crate::error::{AppError, AppResult};
use crate::services::queue::{self, Done, Work};
use crate::services::sessions::{self, Access};
use crate::services::{analysis_input, flow, studies, webhooks};
use crate::store::{EnqueueGuard, Guarded, NewQueueItem, NewReport, QueueItem, ReportRow, Session, Study};

/// The tenant reports are read in: business and admins; testers see findings, not reports.
fn report_tenant(p: &Principal) -> AppResult<Tenant> {
    match p.tenant()? {
        Tenant::Tester(_) => Err(AppError::Forbidden("Reports are written for the study's business".into())),
        t => Ok(t),
    }
}

async fn enqueue(
    state: &App,
    work: NewQueueItem,
    guard: EnqueueGuard<'_>,
    wrong_state: &str,
) -> AppResult<QueueItem> {
    match queue::enqueue_item(state, work, guard).await? {
        Guarded::Done(item) => Ok(item),
        Guarded::NotFound => Err(AppError::not_found("Resource")),
        Guarded::WrongState(_) => Err(AppError::Unprocessable(wrong_state.into())),
    }
}

/// Queues Agent 3 for a confirmed session.
pub async fn request_session_report(
    state: &App,
    caller: &Principal,
    session_id: &SessionId,
) -> AppResult<QueueItem> {
    report_tenant(caller)?;
    let s = sessions::authorize(state, caller, session_id, Access::Read).await?;
    let (work, guard) = flow::session_report_of(state, &s);
    enqueue(state, work, guard, "Session must be confirmed before a report is written").await
}

/// Queues Agent 4 for a study with at least one confirmed session.
pub async fn request_study_report(
    state: &App,
    caller: &Principal,
    study_id: &StudyId,
) -> AppResult<QueueItem> {
    report_tenant(caller)?;
    let study = studies::get_visible(state, caller, study_id).await?;
    let work = Work {
        kind: QueueKind::StudyReport,
        subject_id: &study.id,
        organization_id: Some(&study.organization_id),
        tester_id: None,
        payload: None,
    };
    let guard = EnqueueGuard::StudyHasSession { with: SessionStatus::Confirmed };
    let work = queue::prepare(state, work);
    enqueue(state, work, guard, "The study needs at least one confirmed session").await
}

/// A report by id.
pub async fn get(state: &App, caller: &Principal, id: &str) -> AppResult<ReportRow> {
    let tenant = report_tenant(caller)?;
    state.store.get_report(&tenant, id).await?.ok_or_else(|| AppError::not_found("Report"))
}

/// The newest report of a session.
pub async fn for_session(state: &App, caller: &Principal, session_id: &SessionId) -> AppResult<ReportRow> {
    let tenant = report_tenant(caller)?;
    sessions::authorize(state, caller, session_id, Access::Read).await?;
    state.store.latest_report(&tenant, session_id).await?.ok_or_else(|| AppError::not_found("Report"))
}

/// The newest study report, if any.
pub async fn latest_for_study(
    state: &App,
    caller: &Principal,
    study_id: &StudyId,
) -> AppResult<Option<ReportRow>> {
    let tenant = report_tenant(caller)?;
    studies::get_visible(state, caller, study_id).await?;
    Ok(state.store.latest_report(&tenant, study_id).await?)
}

/// The newest study report (404 before the first one).
pub async fn for_study(state: &App, caller: &Principal, study_id: &StudyId) -> AppResult<ReportRow> {
    latest_for_study(state, caller, study_id).await?.ok_or_else(|| AppError::not_found("Report"))
}

/// The findings of the newest study report (empty before the first one).
pub async fn study_findings(
    state: &App,
    caller: &Principal,
    study_id: &StudyId,
) -> AppResult<Vec<serde_json::Value>> {
    let Some(r) = latest_for_study(state, caller, study_id).await? else { return Ok(Vec::new()) };
    let mut data: serde_json::Value = serde_json::from_str(&r.data).map_err(AppError::internal)?;
    Ok(match data["findings"].take() {
        serde_json::Value::Array(f) => f,
        _ => Vec::new(),
    })
}

/// What synthesis needs to know of the study.
pub fn study_meta(study: &Study) -> StudyMeta {
    let def = &study.definition;
    StudyMeta {
        job_id: study.id.to_string(),
        title: def.title.clone(),
        tasks: study
            .tasks
            .iter()
            .map(|t| TaskMeta { task_id: t.id.clone(), title: t.title.clone(), order: t.order })
            .collect(),
        nd_categories: def.nd_categories.clone(),
        variants: def
            .ab_test
            .as_ref()
            .filter(|a| a.enabled)
            .map(|a| a.split_ratio.keys().cloned().collect())
            .unwrap_or_default(),
    }
}

/// A confirmed session as synthesis needs it: streams, analysis, the confirmed finding ids.
pub async fn confirmed_session(state: &App, session: Session, study: &Study) -> AppResult<ConfirmedSession> {
    let input = analysis_input::load(state, &session, study).await?;
    confirmed_from_input(state, &session, input).await
}

/// [`confirmed_session`] from streams already loaded.
pub async fn confirmed_from_input(
    state: &App,
    session: &Session,
    input: openscouter_analysis::SessionInput,
) -> AppResult<ConfirmedSession> {
    let confirmed_ids: BTreeSet<String> = state
        .store
        .list_findings(&session.owner(), &session.id)
        .await?
        .into_iter()
        .filter(|f| f.decision == Some(Decision::Confirm))
        .map(|f| f.id.into())
        .collect();
    tokio::task::spawn_blocking(move || {
        // Deterministic: the same findings (and ids) as the stored analysis.
        let analysis = openscouter_analysis::analyze_session(&input);
        ConfirmedSession { input, analysis, confirmed_finding_ids: confirmed_ids }
    })
    .await
    .map_err(AppError::internal)
}

/// Writes the report of `item` (its id derives from the item's, so a run repeated after its
/// worker stopped writes nothing twice). `not_analysed`: the study's sessions left out because
/// their pipeline failed.
async fn synthesize_and_save(
    state: &App,
    item: &QueueItem,
    study: &Study,
    kind: ReportKind,
    sessions: Vec<Session>,
    not_analysed: Vec<SessionId>,
    excluded: Vec<Session>,
) -> AppResult<Done> {
    let subject = item.subject_id.as_str();
    let meta = study_meta(study);
    let session_ids: Vec<SessionId> = sessions.iter().map(|s| s.id.clone()).collect();
    let mut inputs = Vec::with_capacity(sessions.len());
    for s in sessions {
        inputs.push(confirmed_session(state, s, study).await?);
    }
    // A session report's technical section: the tester's own pace behind the hesitation
    // thresholds, with its plain sentence (analysis.md §1.1).
    let technical = match (kind, inputs.first()) {
        (ReportKind::Session, Some(s)) => {
            let b = &s.analysis.analytics.baseline;
            Some(json!({"baseline": b, "pace": b.sentence}))
        }
        _ => None,
    };
    let tones: Vec<serde_json::Value> = inputs
        .iter()
        .map(|s| json!({"testerLabel": s.analysis.tone_profile.tester_label, "tone": s.analysis.tone_profile.tone}))
        .collect();
    let mut report =
        tokio::task::spawn_blocking(move || openscouter_analysis::synthesize_study(&inputs, &meta))
            .await
            .map_err(AppError::internal)?;
    narrate(state, &mut report, tones).await;
    let now = state.now();
    let id = report_id(item);
    let mut data = serde_json::to_value(&report).map_err(AppError::internal)?;
    data["reportId"] = json!(id);
    data["kind"] = json!(kind);
    data["createdAt"] = json!(format_ms(now));
    let (session_pipeline, event) = match kind {
        ReportKind::Session => {
            data["sessionId"] = json!(subject);
            if let Some(t) = technical {
                data["technical"] = t;
            }
            let ev = json!({"reportId": id, "sessionId": subject, "jobId": study.id});
            (Some(PipelineStatus::Reported), webhooks::event(WebhookEvent::ReportReady, ev))
        }
        ReportKind::Study => {
            data["sessionsNotAnalysed"] = json!(not_analysed);
            // What the business left out, and why (issue #26): the report says so.
            data["excludedSessions"] = json!(
                excluded
                    .iter()
                    .map(|s| json!({"sessionId": s.id, "testerLabel": analysis_input::tester_label(s),
                        "reason": s.excluded_reason, "excludedAt": s.excluded_at.map(format_ms)}))
                    .collect::<Vec<_>>()
            );
            data["sessionIds"] = json!(session_ids);
            let ev = json!({"reportId": id, "jobId": study.id});
            (None, webhooks::event(WebhookEvent::StudyReportReady, ev))
        }
    };
    let then = flow::report_written(state, study, kind, &id, subject).await?;
    state
        .store
        .save_report(NewReport {
            id: id.clone(),
            kind,
            subject_id: subject.into(),
            study_id: study.id.clone(),
            organization_id: study.organization_id.clone(),
            data: data.to_string(),
            now,
            session_pipeline,
            event: Some(event),
            then,
        })
        .await?;
    Ok(Done { result: Some(json!({"reportId": id})), result_ref: id })
}

/// Lets the optional LLM rephrase the summary; on any failure the deterministic text stays.
async fn narrate(state: &App, report: &mut openscouter_analysis::StudyReport, tones: Vec<serde_json::Value>) {
    let Some(narrator) = &state.narrator else { return };
    let request = crate::integrations::llm::NarrativeRequest {
        summary: report.summary.clone(),
        findings: report
            .findings
            .iter()
            .map(|f| {
                json!({"title": f.title, "severity": f.severity, "plainDescription": f.plain_description,
                       "testersAffected": f.testers_affected})
            })
            .collect(),
        tones,
    };
    match narrator.rephrase(&request).await {
        Ok(text) => report.summary = text,
        Err(e) => tracing::warn!(error = %e, "narrative unavailable; keeping the deterministic summary"),
    }
}

/// The id of the report `item` writes: its own, under the report prefix.
fn report_id(item: &QueueItem) -> String {
    let unique = item.id.rsplit('_').next().unwrap_or(&item.id);
    format!("{}_{unique}", prefix::REPORT)
}

/// Worker side of Agent 3.
pub async fn run_session_report(state: &App, authority: &Tenant, item: &QueueItem) -> AppResult<Done> {
    let (session, study) =
        crate::services::pipeline::load(state, authority, &SessionId::from(item.subject_id.as_str())).await?;
    synthesize_and_save(state, item, &study, ReportKind::Session, vec![session], Vec::new(), Vec::new()).await
}

/// The study's confirmed sessions taken into the synthesis (not excluded), and the excluded ones.
pub async fn cohort(state: &App, study: &Study) -> AppResult<(Vec<Session>, Vec<Session>)> {
    let (mut kept, mut excluded) = (Vec::new(), Vec::new());
    for id in state.store.sessions_in(&study.owner(), &study.id, SessionStatus::Confirmed).await? {
        if let Some(s) = state.store.get_session(&study.owner(), &id).await? {
            if s.excluded_reason.is_some() { excluded.push(s) } else { kept.push(s) }
        }
    }
    Ok((kept, excluded))
}

/// Worker side of Agent 4: the confirmed sessions, naming those whose analysis failed.
pub async fn run_study_report(state: &App, authority: &Tenant, item: &QueueItem) -> AppResult<Done> {
    let study_id = &StudyId::from(item.subject_id.as_str());
    let study = state
        .store
        .get_study(&authority.into(), study_id)
        .await?
        .ok_or_else(|| AppError::not_found("Study"))?;
    let (sessions, excluded) = cohort(state, &study).await?;
    let failed = state
        .store
        .sessions_with_pipeline(&study.owner(), study_id, PipelineStatus::Failed, SessionStatus::Confirmed)
        .await?;
    synthesize_and_save(state, item, &study, ReportKind::Study, sessions, failed, excluded).await
}
