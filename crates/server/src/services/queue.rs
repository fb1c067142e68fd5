//! The durable work queue: one `enqueue` for every kind, the workers that claim and run items,
//! retries with exponential backoff. Items live in the database, so they survive restarts; an
//! item whose worker died is claimed again when its lease runs out. (The wire calls an item an
//! analysis job, `ajob_…`; "job" on the wire is a study.)

use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::auth::principal::Principal;
use crate::domain::ids::{new_id, prefix};
use crate::domain::{PipelineStatus, QueueKind};
use crate::error::{AppError, AppResult};
use crate::services::{billing, governance, pipeline, reports, scheduler, telegram, webhooks};
use crate::store::{EnqueueGuard, Guarded, NewQueueItem, QueueItem};

/// Attempts before an agent's item is marked failed.
pub const MAX_ATTEMPTS: i64 = 5;
/// The longest wait between two attempts.
const MAX_BACKOFF_SECS: i64 = 300;
/// Sleep between polls when the queue is empty (enqueues in this process wake workers at once).
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Delay before attempt `attempts + 1`: 2^attempts seconds, at most 5 minutes.
pub fn backoff_ms(attempts: i64) -> i64 {
    // 2^9 = 512 s already exceeds the cap; clamping the shift keeps it from overflowing.
    1000 * (1i64 << attempts.clamp(0, 9)).min(MAX_BACKOFF_SECS)
}

/// What to enqueue: the kind, its subject and who may read it.
pub struct Work<'a> {
    pub kind: QueueKind,
    pub subject_id: &'a str,
    pub organization_id: &'a str,
    /// The tester who may follow it (Agent 1 and 2 items about their session).
    pub tester_id: Option<&'a str>,
    /// Parameters of the run (JSON), if any.
    pub payload: Option<String>,
}

/// Enqueues `work` if `guard` holds (checked in the same transaction), waking this process's
/// workers. Work of the same kind already pending for the subject is returned instead.
pub async fn enqueue(state: &App, work: Work<'_>, guard: EnqueueGuard<'_>) -> AppResult<Guarded<QueueItem>> {
    let now = state.now();
    let item = NewQueueItem {
        id: new_id(prefix::ANALYSIS_JOB, now),
        kind: work.kind,
        subject_id: work.subject_id.to_owned(),
        organization_id: work.organization_id.to_owned(),
        tester_id: work.tester_id.map(str::to_owned),
        payload: work.payload,
        max_attempts: MAX_ATTEMPTS,
        now,
    };
    let out = state.store.enqueue(item, guard).await?;
    if matches!(out, Guarded::Done(_)) {
        state.queue_ready.notify_one();
    }
    Ok(out)
}

/// A queue item the caller may follow (`GET /api/analysis-jobs/:id`).
pub async fn get(state: &App, p: &Principal, id: &str) -> AppResult<QueueItem> {
    state.store.get_queue_item(&p.tenant()?, id).await?.ok_or_else(|| AppError::not_found("Analysis job"))
}

/// What a handler produced: a reference (the subject or the report written) and, when it has
/// something to show, the result `GET /api/analysis-jobs/:id` returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    pub result_ref: String,
    pub result: Option<serde_json::Value>,
}

impl Done {
    /// A run that leaves only a reference.
    pub fn referring_to(result_ref: impl Into<String>) -> Self {
        Self { result_ref: result_ref.into(), result: None }
    }
}

/// What a handler did with its item.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Finished.
    Done(Done),
    /// Not run yet: due again at this time (epoch ms), the attempt not counted (a rate
    /// limit or a pacing slot, not a failure).
    Later(i64),
}

/// A queue handler: runs one item.
pub type Handler = dyn for<'a> Fn(&'a App, &'a QueueItem) -> BoxFuture<'a, AppResult<Outcome>> + Send + Sync;

/// Runs one item's handler.
async fn run(state: &App, item: &QueueItem) -> AppResult<Outcome> {
    let done = match item.kind {
        QueueKind::AnalyzeSession => pipeline::run_session_analysis(state, item).await,
        QueueKind::SnapshotSession => pipeline::run_snapshot(state, item).await,
        QueueKind::SessionReport => reports::run_session_report(state, &item.subject_id).await,
        QueueKind::StudyReport => reports::run_study_report(state, &item.subject_id).await,
        QueueKind::WebhookDelivery => webhooks::deliver(state, item).await,
        QueueKind::Erasure => governance::run_erasure(state, item).await,
        QueueKind::OfferBroadcast => telegram::run_broadcast(state, item).await.map(Done::referring_to),
        QueueKind::TelegramOffer => return telegram::deliver_offer(state, item).await,
        QueueKind::TelegramMessage => return telegram::deliver_message(state, item).await,
        QueueKind::ScheduledJob => scheduler::run_item(state, item).await.map(Done::referring_to),
        QueueKind::StripeEvent => billing::run_stripe_event(state, item).await.map(Done::referring_to),
        QueueKind::StudyPayout => {
            billing::run_study_payout(state, &item.subject_id).await.map(Done::referring_to)
        }
        QueueKind::PayoutRetry => billing::run_payout_retry(state, item).await.map(Done::referring_to),
    };
    done.map(Outcome::Done)
}

/// Renews the lease of `id` every heartbeat while its handler runs, so a run longer than the
/// lease is never taken from a live worker, while a dead worker's item is free one lease after
/// its last heartbeat. Stops when the item is no longer this worker's.
fn heartbeat(state: App, id: String, worker: String) -> JoinHandle<()> {
    tokio::spawn(async move {
        let every = Duration::from_millis(state.config.job_heartbeat_ms);
        loop {
            tokio::time::sleep(every).await;
            let until = state.now() + state.config.job_lease_ms;
            match state.store.renew_lease(&id, &worker, until).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => tracing::warn!(item = %id, error = %e, "could not renew a lease"),
            }
        }
    })
}

/// What a final failure does to the subject session's pipeline.
fn on_final_failure(kind: QueueKind) -> Option<PipelineStatus> {
    (kind == QueueKind::AnalyzeSession).then_some(PipelineStatus::Failed)
}

/// Claims and runs one item; `false` when none was due.
pub async fn run_once(state: &App, worker: &str) -> AppResult<bool> {
    run_next(state, worker, &|s, i| Box::pin(run(s, i))).await
}

/// Claims the next due item and runs it with `handler` (tests pass a slow one), renewing its
/// lease while it runs.
pub async fn run_next(state: &App, worker: &str, handler: &Handler) -> AppResult<bool> {
    // An item whose worker stopped heartbeating may run twice; handlers are idempotent, so
    // results are never duplicated.
    let Some(item) = state.store.claim_next(worker, state.now(), state.config.job_lease_ms).await? else {
        return Ok(false);
    };
    let beat = heartbeat(state.clone(), item.id.clone(), worker.to_owned());
    let outcome = handler(state, &item).await;
    beat.abort();
    let now = state.now();
    match outcome {
        Ok(Outcome::Done(done)) => {
            let result = done.result.map(|r| r.to_string());
            state.store.complete_item(&item.id, &done.result_ref, result.as_deref(), now).await?
        }
        Ok(Outcome::Later(run_at)) => state.store.defer_item(&item.id, run_at, now).await?,
        Err(e) => {
            let retry = (item.attempts < item.max_attempts).then(|| now + backoff_ms(item.attempts));
            tracing::warn!(item = %item.id, kind = %item.kind, attempts = item.attempts, error = %e, retry = retry.is_some(), "queue item failed");
            state.store.fail_item(&item.id, &e.to_string(), retry, on_final_failure(item.kind), now).await?;
        }
    }
    Ok(true)
}

/// Starts `n` workers. Each finishes its current item when `shutdown` fires, then stops.
pub fn spawn(state: App, n: usize, shutdown: CancellationToken) -> Vec<JoinHandle<()>> {
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
                        () = state.queue_ready.notified() => {},
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
    fn backoff_grows_and_caps_at_five_minutes() {
        assert_eq!(super::backoff_ms(0), 1000);
        assert_eq!(super::backoff_ms(3), 8000);
        assert_eq!(super::backoff_ms(8), 256_000);
        assert_eq!(super::backoff_ms(9), 300_000);
        assert_eq!(super::backoff_ms(20), 300_000);
    }
}
