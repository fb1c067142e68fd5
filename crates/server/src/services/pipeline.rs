//! The agent pipeline: Agent 2 (session analysis) requested over HTTP, run by a worker, its
//! findings confirmed or rejected by the tester.

use futures_util::StreamExt;
use serde_json::json;

use crate::auth::principal::Principal;
use crate::domain::ids::{new_id, prefix};
use crate::error::{ApiError, ApiResult};
use crate::services::export;
use crate::services::sessions::{self, Access};
use crate::state::AppState;
use crate::store::{EnqueueGuard, FindingDecision, Guarded, Job, NewJob, SessionScope};

/// Attempts before a job is marked failed.
pub const MAX_ATTEMPTS: i64 = 5;

/// Queues Agent 2 for a completed session (or returns the job already queued for it).
pub async fn request_analysis(state: &AppState, caller: &Principal, session_id: &str) -> ApiResult<Job> {
    let session = sessions::authorize(state, caller, session_id, Access::Read).await?;
    let now = state.now();
    let job = NewJob {
        id: new_id(prefix::ANALYSIS_JOB, now),
        kind: "analyze_session".into(),
        subject_id: session.id.clone(),
        organization_id: session.organization_id.clone(),
        tester_id: Some(session.tester_id.clone()),
        payload: None,
        max_attempts: MAX_ATTEMPTS,
        now,
    };
    match state.store.enqueue_job(job, EnqueueGuard::AnalyzeSession).await? {
        Guarded::Done(job) => {
            state.jobs_ready.notify_one();
            Ok(job)
        }
        Guarded::NotFound => Err(ApiError::not_found("Session")),
        Guarded::WrongState(s) if s == "confirmed" => {
            Err(ApiError::Unprocessable("Session is confirmed; its findings are final".into()))
        }
        Guarded::WrongState(_) => {
            Err(ApiError::Unprocessable("Session must be completed before analysis".into()))
        }
    }
}

/// The session's export as one NDJSON text (the engine's input format).
pub async fn session_ndjson(state: &AppState, session: crate::store::Session) -> ApiResult<String> {
    let header = export::session_header(state, &session).await?;
    let mut stream = Box::pin(export::stream(state.clone(), session, header, export::Format::Ndjson));
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        let bytes = chunk.map_err(ApiError::internal)?;
        text.push_str(std::str::from_utf8(&bytes).map_err(ApiError::internal)?);
    }
    Ok(text)
}

/// Worker side of Agent 2: load the streams, run the engine, store findings and analytics.
/// Idempotent: a re-run replaces the previous result.
pub async fn run_session_analysis(state: &AppState, session_id: &str) -> ApiResult<String> {
    let session = state
        .store
        .get_session(&SessionScope::All, session_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Session"))?;
    if session.status == "confirmed" {
        // Confirmed while queued: the tester's decisions stand.
        return Ok(session_id.to_owned());
    }
    let study_id = session.study_id.clone();
    let text = session_ndjson(state, session).await?;
    // The engine is CPU-bound (≈ 10 ms for 20,000 events): keep it off the async workers.
    let analysis = tokio::task::spawn_blocking(move || {
        openscouter_analysis::parse_session_ndjson(&text)
            .map(|input| openscouter_analysis::analyze_session(&input))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::Internal(format!("export did not parse: {e}")))?;
    let findings = analysis
        .findings
        .iter()
        .map(|f| Ok((f.finding_id.clone(), serde_json::to_string(f).map_err(ApiError::internal)?)))
        .collect::<ApiResult<Vec<_>>>()?;
    let summary = json!({
        "insights": analysis.insights,
        "analytics": analysis.analytics,
        "toneProfile": analysis.tone_profile,
    })
    .to_string();
    match state.store.save_session_analysis(session_id, &study_id, &findings, &summary, state.now()).await? {
        Guarded::Done(()) | Guarded::WrongState(_) => Ok(session_id.to_owned()),
        Guarded::NotFound => Err(ApiError::not_found("Session")),
    }
}

/// The tester decides on each finding; all decided → `confirmed`.
pub async fn confirm(
    state: &AppState,
    caller: &Principal,
    session_id: &str,
    decisions: Vec<FindingDecision>,
    added_notes: Option<String>,
) -> ApiResult<bool> {
    let session = sessions::authorize(state, caller, session_id, Access::Read).await?;
    if caller.user_id != session.tester_id {
        return Err(ApiError::Forbidden("Only the tester who ran the session confirms its findings".into()));
    }
    match state.store.confirm_findings(session_id, &decisions, added_notes.as_deref(), state.now()).await? {
        Guarded::Done(confirmed) => Ok(confirmed),
        Guarded::NotFound => Err(ApiError::not_found("Session")),
        Guarded::WrongState(s) => Err(ApiError::Unprocessable(format!(
            "Session is {s}; findings can be confirmed once it is analyzed"
        ))),
    }
}

/// Queues Agent 1: a real-time snapshot of an active or paused session, up to `snapshot_at`
/// (default: now), attached to the session when done.
pub async fn request_snapshot(
    state: &AppState,
    caller: &Principal,
    session_id: &str,
    include_signals: bool,
    snapshot_at: Option<i64>,
) -> ApiResult<Job> {
    let session = sessions::authorize(state, caller, session_id, Access::Read).await?;
    let now = state.now();
    let job = NewJob {
        id: new_id(prefix::ANALYSIS_JOB, now),
        kind: "snapshot_session".into(),
        subject_id: session.id.clone(),
        organization_id: session.organization_id.clone(),
        tester_id: Some(session.tester_id.clone()),
        payload: Some(
            json!({"includeSignals": include_signals, "snapshotAt": snapshot_at.unwrap_or(now)}).to_string(),
        ),
        max_attempts: MAX_ATTEMPTS,
        now,
    };
    match state.store.enqueue_job(job, EnqueueGuard::Snapshot).await? {
        Guarded::Done(job) => {
            state.jobs_ready.notify_one();
            Ok(job)
        }
        Guarded::NotFound => Err(ApiError::not_found("Session")),
        Guarded::WrongState(s) => Err(ApiError::Unprocessable(format!(
            "Session is {s}; real-time insights need an active or paused session"
        ))),
    }
}

/// Worker side of Agent 1.
pub async fn run_snapshot(state: &AppState, job: &Job) -> ApiResult<String> {
    let payload: serde_json::Value =
        job.payload.as_deref().and_then(|p| serde_json::from_str(p).ok()).unwrap_or_default();
    let at = payload["snapshotAt"].as_i64();
    let include_signals = payload["includeSignals"].as_bool().unwrap_or(false);
    let session = state
        .store
        .get_session(&SessionScope::All, &job.subject_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Session"))?;
    let text = session_ndjson(state, session).await?;
    let snapshot = tokio::task::spawn_blocking(move || {
        let input = openscouter_analysis::parse_session_ndjson(&text)
            .map_err(|e| ApiError::Internal(format!("export did not parse: {e}")))?;
        let insights = openscouter_analysis::insights_snapshot(&input, at);
        let mut out = json!({"snapshotAt": at.map(crate::domain::format_ms), "insights": insights});
        if include_signals {
            let signals: Vec<_> = openscouter_analysis::analyze_session(&input)
                .signals
                .into_iter()
                .filter(|s| at.is_none_or(|a| s.timestamp.0 <= a))
                .collect();
            out["signals"] = serde_json::to_value(signals).map_err(ApiError::internal)?;
        }
        Ok::<_, ApiError>(out)
    })
    .await
    .map_err(ApiError::internal)??;
    state.store.save_realtime(&job.subject_id, &snapshot.to_string(), state.now()).await?;
    Ok(job.subject_id.clone())
}
