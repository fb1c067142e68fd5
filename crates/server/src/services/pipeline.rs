//! The agent pipeline: Agent 1 (real-time snapshots) and Agent 2 (session analysis) requested
//! over HTTP and run by a queue worker, the findings and analytics they leave, and the tester's
//! confirmation of each finding.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::principal::Principal;
use crate::domain::ids::{FindingId, SessionId};
use crate::domain::stream::parse_time;
use crate::domain::{
    Decision, PipelineStatus, QueueKind, QueueStatus, SessionStatus, Tenant, WebhookEvent, format_ms,
};
use crate::error::{AppError, AppResult};
use crate::services::queue::{self, Done, Work};
use crate::services::sessions::{self, Access};
use crate::services::{analysis_input, webhooks};
use crate::store::{
    AnalysisSaved, Confirmation, EnqueueGuard, FindingDecision, FindingRow, Guarded, QueueItem, Refusal,
    Session,
};

use crate::services::flow::{self, ANALYSABLE};

/// Queues Agent 2 for a completed session (or returns the item already queued for it: the
/// flow queues one when the session completes).
pub async fn request_analysis(
    state: &App,
    caller: &Principal,
    session_id: &SessionId,
) -> AppResult<QueueItem> {
    let session = sessions::authorize(state, caller, session_id, Access::Read).await?;
    let (work, guard) = flow::analysis_of(state, &session);
    match queue::enqueue_item(state, work, guard).await? {
        Guarded::Done(item) => Ok(item),
        Guarded::NotFound => Err(AppError::not_found("Session")),
        Guarded::WrongState(Refusal::Session(SessionStatus::Confirmed)) => {
            Err(AppError::Unprocessable("Session is confirmed; its findings are final".into()))
        }
        Guarded::WrongState(_) => {
            Err(AppError::Unprocessable("Session must be completed before analysis".into()))
        }
    }
}

/// The session with its study, as a worker loads them with the item's `authority`.
pub(crate) async fn load(
    state: &App,
    authority: &Tenant,
    session_id: &SessionId,
) -> AppResult<(Session, crate::store::Study)> {
    let session = state
        .store
        .get_session(authority, session_id)
        .await?
        .ok_or_else(|| AppError::not_found("Session"))?;
    let study = sessions::study_of(state, &session).await?;
    Ok((session, study))
}

/// The analysis as the API shows it (`GET /api/sessions/:id` `analysis`, and the analysis
/// job's `result`): `{analysisJobId, status, snapshotAt, insights}`.
fn analysis_view(
    item_id: &str,
    snapshot_at: Option<i64>,
    insights: &impl serde::Serialize,
) -> serde_json::Value {
    json!({
        "analysisJobId": item_id,
        "status": QueueStatus::Complete,
        "snapshotAt": snapshot_at.map(format_ms),
        "insights": insights,
    })
}

/// The latest analysis of a session as the API shows it: Agent 2's once the session has been
/// analysed (it comes after every real-time snapshot), else Agent 1's latest snapshot.
pub fn latest_analysis(s: &Session) -> Option<serde_json::Value> {
    let parse = |t: &str| serde_json::from_str::<serde_json::Value>(t).ok();
    if let Some(a) = s.analysis.as_deref().and_then(parse) {
        let id = a["analysisJobId"].as_str().unwrap_or_default();
        return Some(analysis_view(id, s.completed_at, &a["insights"]));
    }
    s.realtime.as_deref().and_then(parse)
}

/// Worker side of Agent 2: load the streams, run the engine, store findings and analytics.
/// Idempotent: a re-run replaces the previous result.
pub async fn run_session_analysis(state: &App, authority: &Tenant, item: &QueueItem) -> AppResult<Done> {
    let session_id = &SessionId::from(item.subject_id.as_str());
    let (session, study) = load(state, authority, session_id).await?;
    if session.status == SessionStatus::Confirmed {
        // Confirmed while queued: the tester's decisions stand.
        return Ok(Done::referring_to(session_id.as_str()));
    }
    if session.status == SessionStatus::Analyzed
        && let Some(done) = stored_analysis(&session).filter(|a| a.analysis_job_id == item.id)
    {
        // This item's run was stored before its worker stopped: nothing to do twice.
        let view = analysis_view(&item.id, session.completed_at, &done.insights);
        return Ok(Done { result_ref: session_id.to_string(), result: Some(view) });
    }
    let input = analysis_input::load(state, &session, &study).await?;
    let task_spans = task_spans(&input);
    // The engine is CPU-bound (≈ 10 ms for 20,000 events): keep it off the async workers.
    let analysis = tokio::task::spawn_blocking(move || openscouter_analysis::analyze_session(&input))
        .await
        .map_err(AppError::internal)?;
    let findings = analysis
        .findings
        .iter()
        .map(|f| {
            Ok((
                FindingId::from(f.finding_id.as_str()),
                serde_json::to_string(f).map_err(AppError::internal)?,
            ))
        })
        .collect::<AppResult<Vec<_>>>()?;
    let view = analysis_view(&item.id, session.completed_at, &analysis.insights);
    let summary = serde_json::to_string(&StoredAnalysis {
        analysis_job_id: item.id.to_string(),
        insights: analysis.insights,
        analytics: analysis.analytics,
        tone_profile: analysis.tone_profile,
        timeline: Some(analysis.timeline),
        task_spans,
    })
    .map_err(AppError::internal)?;
    let saved = AnalysisSaved {
        from: &ANALYSABLE,
        to: SessionStatus::Analyzed,
        pipeline: PipelineStatus::AwaitingConfirmation,
        event: Some(webhooks::event(
            WebhookEvent::SessionAnalyzed,
            json!({"sessionId": session_id, "jobId": study.id, "findings": findings.len()}),
        )),
        then: flow::session_analyzed(state, &session, &study, findings.len()).await?,
    };
    match state
        .store
        .save_session_analysis(
            &session.owner(),
            session_id,
            &study.id,
            &findings,
            &summary,
            saved,
            state.now(),
        )
        .await?
    {
        Guarded::Done(()) | Guarded::WrongState(_) => {
            Ok(Done { result_ref: session_id.to_string(), result: Some(view) })
        }
        Guarded::NotFound => Err(AppError::not_found("Session")),
    }
}

/// What Agent 2 stores with a session (`sessions.analysis`): the one definition its writer
/// (`run_session_analysis`) and its readers share.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredAnalysis {
    pub analysis_job_id: String,
    pub insights: openscouter_analysis::Insights,
    pub analytics: openscouter_analysis::Analytics,
    pub tone_profile: openscouter_analysis::ToneProfile,
    /// The sparse frustration timeline (absent on sessions analysed before it was stored).
    #[serde(default)]
    pub timeline: Option<openscouter_analysis::Timeline>,
    /// The task attempts with their titles, for drawing the timeline.
    #[serde(default)]
    pub task_spans: Vec<TaskSpan>,
}

/// A task attempt as the dashboard's timeline draws it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSpan {
    pub task_id: String,
    pub title: String,
    pub outcome: openscouter_analysis::Outcome,
    pub started_at: openscouter_analysis::Timestamp,
    pub ended_at: openscouter_analysis::Timestamp,
}

/// The session's stored Agent 2 result, typed (None before the analysis, or if unreadable).
pub fn stored_analysis(s: &Session) -> Option<StoredAnalysis> {
    serde_json::from_str(s.analysis.as_deref()?).ok()
}

fn task_spans(input: &openscouter_analysis::SessionInput) -> Vec<TaskSpan> {
    let title = |id: &str| {
        input
            .session
            .tasks
            .iter()
            .find(|t| t.task_id == id)
            .map_or_else(|| id.to_owned(), |t| t.title.clone())
    };
    input
        .task_attempts
        .iter()
        .map(|a| TaskSpan {
            task_id: a.task_id.clone(),
            title: title(&a.task_id),
            outcome: a.outcome,
            started_at: a.started_at,
            ended_at: a.ended_at,
        })
        .collect()
}

/// What a reader other than the session's tester is not shown of its findings: how many still
/// await the tester's decision and how many the tester rejected (counts only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HiddenFindings {
    pub awaiting_tester: usize,
    pub rejected: usize,
}

/// A session's findings with the tester's decisions.
///
/// The tester who ran the session reads every finding. Anyone else (the study's business, an
/// admin, their API tokens and MCP tools) reads only the findings the tester confirmed, as the
/// tester is told ("what you reject never reaches the business"); the others are counted.
pub async fn findings(state: &App, caller: &Principal, session_id: &SessionId) -> AppResult<Vec<FindingRow>> {
    Ok(findings_with_hidden(state, caller, session_id).await?.0)
}

/// [`findings`] with the counts of what was held back.
pub async fn findings_with_hidden(
    state: &App,
    caller: &Principal,
    session_id: &SessionId,
) -> AppResult<(Vec<FindingRow>, HiddenFindings)> {
    let s = sessions::authorize(state, caller, session_id, Access::Read).await?;
    let mut rows = state.store.list_findings(&caller.tenant()?, session_id).await?;
    let mut hidden = HiddenFindings::default();
    if caller.user_id != s.tester_id {
        rows.retain(|r| match r.decision {
            Some(Decision::Confirm) => true,
            Some(Decision::Reject) => {
                hidden.rejected += 1;
                false
            }
            None => {
                hidden.awaiting_tester += 1;
                false
            }
        });
    }
    if caller.role == crate::domain::Role::Business {
        // A finding names the tester's ND categories; a business reads only those enough
        // testers of the study share.
        let allowed = sessions::nameable_categories(state, &s.owner(), &s.study_id).await?;
        for r in &mut rows {
            if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&r.data)
                && let Some(list) = v.get_mut("ndCategories").and_then(|c| c.as_array_mut())
            {
                list.retain(|c| c.as_str().is_some_and(|c| allowed.contains(c)));
                r.data = v.to_string();
            }
        }
    }
    Ok((rows, hidden))
}

/// A session's analytics (`{overall, emotion, interaction, voice}`); 422 before analysis.
pub async fn analytics(
    state: &App,
    caller: &Principal,
    session_id: &SessionId,
) -> AppResult<serde_json::Value> {
    let s = sessions::authorize(state, caller, session_id, Access::Read).await?;
    let analysis: serde_json::Value = s
        .analysis
        .as_deref()
        .and_then(|a| serde_json::from_str(a).ok())
        .ok_or_else(|| AppError::Unprocessable("Session has not been analyzed yet".into()))?;
    Ok(analysis["analytics"].clone())
}

/// One decision of the tester.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionIn {
    pub finding_id: String,
    /// `confirm` or `reject`.
    pub decision: String,
    /// At most 2,000 characters.
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

/// The tester's answers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmIn {
    #[schema(max_items = 500)]
    pub decisions: Vec<DecisionIn>,
    /// Extra context, at most 5,000 characters.
    #[schema(max_length = 5000)]
    pub added_notes: Option<String>,
}

/// The tester decides on each finding; all decided → `confirmed`, and the study `completed`
/// once `testerCount` of its sessions are settled (`services::flow`). Returns whether the session is now confirmed.
pub async fn confirm(
    state: &App,
    caller: &Principal,
    session_id: &SessionId,
    body: ConfirmIn,
) -> AppResult<bool> {
    if body.decisions.len() > 500 {
        return Err(AppError::Unprocessable("decisions: at most 500".into()));
    }
    let mut decisions = Vec::with_capacity(body.decisions.len());
    for (i, d) in body.decisions.into_iter().enumerate() {
        let decision = Decision::parse(&d.decision).ok_or_else(|| {
            AppError::Unprocessable(format!("decisions[{i}].decision: must be confirm or reject"))
        })?;
        if d.comment.as_deref().is_some_and(|c| c.chars().count() > 2000) {
            return Err(AppError::Unprocessable(format!("decisions[{i}].comment: at most 2000 characters")));
        }
        decisions.push(FindingDecision { finding_id: d.finding_id.into(), decision, comment: d.comment });
    }
    if body.added_notes.as_deref().is_some_and(|n| n.chars().count() > 5000) {
        return Err(AppError::Unprocessable("addedNotes: at most 5000 characters".into()));
    }
    let session = sessions::authorize(state, caller, session_id, Access::Read).await?;
    if caller.user_id != session.tester_id {
        return Err(AppError::Forbidden("Only the tester who ran the session confirms its findings".into()));
    }
    let study = sessions::study_of(state, &session).await?;
    let c = Confirmation {
        from: SessionStatus::Analyzed,
        to: SessionStatus::Confirmed,
        pipeline: PipelineStatus::Confirmed,
        event: Some(webhooks::event(
            WebhookEvent::SessionConfirmed,
            json!({"sessionId": session_id, "jobId": session.study_id}),
        )),
        then: flow::session_confirmed(state, &session, &study),
    };
    let tenant = caller.tenant()?;
    match state
        .store
        .confirm_findings(&tenant, session_id, &decisions, body.added_notes.as_deref(), c, state.now())
        .await?
    {
        Guarded::Done(confirmed) => {
            if confirmed {
                state.queue_ready.notify_one();
            }
            Ok(confirmed)
        }
        Guarded::NotFound => Err(AppError::not_found("Session")),
        Guarded::WrongState(s) => Err(AppError::Unprocessable(format!(
            "Session is {s}; findings can be confirmed once it is analyzed"
        ))),
    }
}

/// The streams Agent 1 may read.
const STREAMS: [&str; 3] = ["events", "facial", "voice"];

/// Queues Agent 1: a real-time snapshot of an active or paused session from the streams in
/// `include` (default: every stream; only consented streams are ever stored), up to
/// `snapshot_at` (RFC 3339; default now), attached to the session when done.
pub async fn request_snapshot(
    state: &App,
    caller: &Principal,
    session_id: &SessionId,
    include: Option<Vec<String>>,
    snapshot_at: Option<&str>,
) -> AppResult<QueueItem> {
    let include = match include {
        None => STREAMS.iter().map(|s| (*s).to_owned()).collect(),
        Some(list) => {
            if let Some(bad) = list.iter().find(|s| !STREAMS.contains(&s.as_str())) {
                return Err(AppError::Unprocessable(format!(
                    "includeSignals: unknown stream {bad:?} (one of {})",
                    STREAMS.join(", ")
                )));
            }
            list
        }
    };
    let at = match snapshot_at {
        Some(t) => Some(
            parse_time(t)
                .map_err(|_| AppError::Unprocessable("snapshotAt: must be an RFC 3339 time".into()))?,
        ),
        None => None,
    };
    let session = sessions::authorize(state, caller, session_id, Access::Read).await?;
    let now = state.now();
    let work = Work {
        kind: QueueKind::SnapshotSession,
        subject_id: &session.id,
        organization_id: Some(&session.organization_id),
        tester_id: Some(&session.tester_id),
        payload: Some(json!({"includeSignals": include, "snapshotAt": at.unwrap_or(now)}).to_string()),
    };
    let guard = EnqueueGuard::Session { within: &SessionStatus::RUNNING, pipeline: None };
    match queue::enqueue(state, work, guard).await? {
        Guarded::Done(item) => Ok(item),
        Guarded::NotFound => Err(AppError::not_found("Session")),
        Guarded::WrongState(s) => Err(AppError::Unprocessable(format!(
            "Session is {s}; real-time insights need an active or paused session"
        ))),
    }
}

/// Worker side of Agent 1.
pub async fn run_snapshot(state: &App, authority: &Tenant, item: &QueueItem) -> AppResult<Done> {
    let payload: serde_json::Value =
        item.payload.as_deref().and_then(|p| serde_json::from_str(p).ok()).unwrap_or_default();
    let at = payload["snapshotAt"].as_i64();
    let include = |stream: &str| {
        payload["includeSignals"].as_array().is_none_or(|l| l.iter().any(|s| s.as_str() == Some(stream)))
    };
    let (session, study) = load(state, authority, &SessionId::from(item.subject_id.as_str())).await?;
    let mut input = analysis_input::load(state, &session, &study).await?;
    if !include("events") {
        input.events.clear();
    }
    if !include("facial") {
        input.facial.clear();
    }
    if !include("voice") {
        input.voice.clear();
    }
    let insights = tokio::task::spawn_blocking(move || openscouter_analysis::insights_snapshot(&input, at))
        .await
        .map_err(AppError::internal)?;
    let view = analysis_view(&item.id, at, &insights);
    state.store.save_realtime(&session.owner(), &session.id, &view.to_string(), state.now()).await?;
    Ok(Done { result_ref: item.subject_id.clone(), result: Some(view) })
}
