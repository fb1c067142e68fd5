//! Agents 3 and 4: a report for one confirmed session, and the synthesis of a study's
//! confirmed sessions. Only confirmed findings reach a report (the notes-confirmed gate).

use std::collections::BTreeSet;

use openscouter_analysis::{ConfirmedSession, StudyMeta, TaskMeta};
use serde_json::json;

use crate::auth::principal::Principal;
use crate::domain::ids::{new_id, prefix};
use crate::domain::{Role, format_ms};
use crate::error::{ApiError, ApiResult};
use crate::services::pipeline::{MAX_ATTEMPTS, session_ndjson};
use crate::services::sessions::{self, Access};
use crate::services::studies::StudyIn;
use crate::state::AppState;
use crate::store::{EnqueueGuard, Guarded, Job, NewJob, NewReport, Session, SessionScope, Study, StudyScope};

fn business_or_admin(p: &Principal) -> ApiResult<()> {
    match p.role {
        Role::Business | Role::Admin => Ok(()),
        Role::Tester => Err(ApiError::Forbidden("Reports are written for the study's business".into())),
    }
}

async fn enqueue(state: &AppState, job: NewJob, guard: EnqueueGuard, wrong_state: &str) -> ApiResult<Job> {
    match state.store.enqueue_job(job, guard).await? {
        Guarded::Done(job) => {
            state.jobs_ready.notify_one();
            Ok(job)
        }
        Guarded::NotFound => Err(ApiError::not_found("Resource")),
        Guarded::WrongState(_) => Err(ApiError::Unprocessable(wrong_state.into())),
    }
}

/// Queues Agent 3 for a confirmed session.
pub async fn request_session_report(
    state: &AppState,
    caller: &Principal,
    session_id: &str,
) -> ApiResult<Job> {
    business_or_admin(caller)?;
    let s = sessions::authorize(state, caller, session_id, Access::Read).await?;
    let now = state.now();
    let job = NewJob {
        id: new_id(prefix::ANALYSIS_JOB, now),
        kind: "session_report".into(),
        subject_id: s.id.clone(),
        organization_id: s.organization_id.clone(),
        tester_id: None,
        payload: None,
        max_attempts: MAX_ATTEMPTS,
        now,
    };
    enqueue(state, job, EnqueueGuard::SessionReport, "Session must be confirmed before a report is written")
        .await
}

/// Queues Agent 4 for a study with at least one confirmed session.
pub async fn request_study_report(state: &AppState, caller: &Principal, study_id: &str) -> ApiResult<Job> {
    business_or_admin(caller)?;
    let scope = match (&caller.role, &caller.organization_id) {
        (Role::Business, Some(org)) => StudyScope::Organization(org.clone()),
        _ => StudyScope::All,
    };
    let study = state.store.get_study(&scope, study_id).await?.ok_or_else(|| ApiError::not_found("Study"))?;
    let now = state.now();
    let job = NewJob {
        id: new_id(prefix::ANALYSIS_JOB, now),
        kind: "study_report".into(),
        subject_id: study.id.clone(),
        organization_id: study.organization_id.clone(),
        tester_id: None,
        payload: None,
        max_attempts: MAX_ATTEMPTS,
        now,
    };
    enqueue(state, job, EnqueueGuard::StudyReport, "The study needs at least one confirmed session").await
}

fn study_meta(study: &Study) -> ApiResult<StudyMeta> {
    let def: StudyIn = serde_json::from_str(&study.definition).map_err(ApiError::internal)?;
    Ok(StudyMeta {
        job_id: study.id.clone(),
        title: def.title,
        tasks: study
            .tasks
            .iter()
            .map(|t| TaskMeta { task_id: t.id.clone(), title: t.title.clone(), order: t.order })
            .collect(),
        nd_categories: def.nd_categories,
        variants: def
            .ab_test
            .filter(|a| a.enabled)
            .map(|a| a.split_ratio.into_keys().collect())
            .unwrap_or_default(),
    })
}

/// A confirmed session as synthesis needs it: streams, analysis, the confirmed finding ids.
async fn confirmed(state: &AppState, session: Session) -> ApiResult<ConfirmedSession> {
    let confirmed_ids: BTreeSet<String> = state
        .store
        .list_findings(&session.id)
        .await?
        .into_iter()
        .filter(|f| f.decision.as_deref() == Some("confirm"))
        .map(|f| f.id)
        .collect();
    let text = session_ndjson(state, session).await?;
    tokio::task::spawn_blocking(move || {
        let input = openscouter_analysis::parse_session_ndjson(&text)
            .map_err(|e| ApiError::Internal(format!("export did not parse: {e}")))?;
        // Deterministic: the same findings (and ids) as the stored analysis.
        let analysis = openscouter_analysis::analyze_session(&input);
        Ok(ConfirmedSession { input, analysis, confirmed_finding_ids: confirmed_ids })
    })
    .await
    .map_err(ApiError::internal)?
}

async fn synthesize_and_save(
    state: &AppState,
    study: &Study,
    kind: &str,
    subject: &str,
    sessions: Vec<Session>,
) -> ApiResult<String> {
    let meta = study_meta(study)?;
    let mut inputs = Vec::with_capacity(sessions.len());
    for s in sessions {
        inputs.push(confirmed(state, s).await?);
    }
    let tones: Vec<serde_json::Value> = inputs
        .iter()
        .map(|s| json!({"testerLabel": s.analysis.tone_profile.tester_label, "tone": s.analysis.tone_profile.tone}))
        .collect();
    let mut report =
        tokio::task::spawn_blocking(move || openscouter_analysis::synthesize_study(&inputs, &meta))
            .await
            .map_err(ApiError::internal)?;
    narrate(state, &mut report, tones).await;
    let now = state.now();
    let id = new_id(prefix::REPORT, now);
    let mut data = serde_json::to_value(&report).map_err(ApiError::internal)?;
    data["reportId"] = json!(id);
    data["kind"] = json!(kind);
    data["createdAt"] = json!(format_ms(now));
    if kind == "session" {
        data["sessionId"] = json!(subject);
    }
    state
        .store
        .save_report(NewReport {
            id: id.clone(),
            kind: kind.into(),
            subject_id: subject.into(),
            study_id: study.id.clone(),
            organization_id: study.organization_id.clone(),
            data: data.to_string(),
            now,
        })
        .await?;
    Ok(id)
}

/// Lets the optional LLM rephrase the summary; on any failure the deterministic text stays.
async fn narrate(
    state: &AppState,
    report: &mut openscouter_analysis::StudyReport,
    tones: Vec<serde_json::Value>,
) {
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

/// Worker side of Agent 3.
pub async fn run_session_report(state: &AppState, session_id: &str) -> ApiResult<String> {
    let session = state
        .store
        .get_session(&SessionScope::All, session_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Session"))?;
    let study = state
        .store
        .get_study(&StudyScope::All, &session.study_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Study"))?;
    synthesize_and_save(state, &study, "session", session_id, vec![session]).await
}

/// Worker side of Agent 4.
pub async fn run_study_report(state: &AppState, study_id: &str) -> ApiResult<String> {
    let study = state
        .store
        .get_study(&StudyScope::All, study_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Study"))?;
    let mut sessions = Vec::new();
    for id in state.store.confirmed_sessions(study_id).await? {
        if let Some(s) = state.store.get_session(&SessionScope::All, &id).await? {
            sessions.push(s);
        }
    }
    synthesize_and_save(state, &study, "study", study_id, sessions).await
}
