//! Background workers: claim durable jobs from the store, run their handler, record the
//! outcome with exponential backoff. Jobs live in the database, so they survive restarts; a
//! job whose worker died is claimed again when its lease runs out.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Job;

/// Sleep between polls when the queue is empty (enqueues in this process wake workers at once).
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Delay before attempt `attempts + 1`: 2^attempts seconds, at most 5 minutes.
pub fn backoff_ms(attempts: i64) -> i64 {
    1000 * (1i64 << attempts.clamp(0, 8)).min(300)
}

/// Runs one job's handler; `Ok` carries the result reference.
async fn run(state: &AppState, job: &Job) -> Result<String, ApiError> {
    match job.kind.as_str() {
        "analyze_session" => crate::services::pipeline::run_session_analysis(state, &job.subject_id).await,
        "session_report" => crate::services::reports::run_session_report(state, &job.subject_id).await,
        "study_report" => crate::services::reports::run_study_report(state, &job.subject_id).await,
        "snapshot_session" => crate::services::pipeline::run_snapshot(state, job).await,
        "webhook_delivery" => crate::services::webhooks::deliver(state, job).await,
        other => Err(ApiError::Internal(format!("unknown job kind {other}"))),
    }
}

/// Claims and runs one job; `false` when none was due.
pub async fn run_once(state: &AppState, worker: &str) -> Result<bool, ApiError> {
    // A job that outlives its lease may run twice; handlers are idempotent, so results are
    // never duplicated.
    let Some(job) = state.store.claim_job(worker, state.now(), state.config.job_lease_ms).await? else {
        return Ok(false);
    };
    let outcome = run(state, &job).await;
    let now = state.now();
    match outcome {
        Ok(result) => state.store.complete_job(&job.id, &result, now).await?,
        Err(e) => {
            let retry = (job.attempts < job.max_attempts).then(|| now + backoff_ms(job.attempts));
            tracing::warn!(job = %job.id, kind = %job.kind, attempts = job.attempts, error = %e, retry = retry.is_some(), "job failed");
            state.store.fail_job(&job.id, &e.to_string(), retry, now).await?;
        }
    }
    Ok(true)
}

/// Starts `n` workers. Each finishes its current job when `shutdown` fires, then stops.
pub fn spawn(state: AppState, n: usize, shutdown: CancellationToken) -> Vec<JoinHandle<()>> {
    (0..n)
        .map(|i| {
            let (state, shutdown) = (state.clone(), shutdown.clone());
            let name = format!("{}-{}-{i}", hostname(), std::process::id());
            tokio::spawn(async move {
                while !shutdown.is_cancelled() {
                    match run_once(&state, &name).await {
                        Ok(true) => continue,
                        Ok(false) => {}
                        Err(e) => tracing::error!(error = %e, "worker could not reach the store"),
                    }
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = state.jobs_ready.notified() => {},
                        () = tokio::time::sleep(IDLE_POLL) => {},
                    }
                }
            })
        })
        .collect()
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|s| s.trim().to_owned()).unwrap_or_else(|_| "worker".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(super::backoff_ms(0), 1000);
        assert_eq!(super::backoff_ms(3), 8000);
        assert_eq!(super::backoff_ms(20), 256_000);
    }
}
