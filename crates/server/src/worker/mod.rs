//! The worker: the loop that claims queue items and runs them, with a heartbeat on the lease,
//! retries with backoff and the final failure. It stands above the services: `run` is the only
//! code that knows every `QueueKind` and the service that owns it; services only `enqueue`
//! (`services::queue`), and what each finished step triggers next is `services::flow`.

use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::domain::ids::{QueueItemId, StudyId};
use crate::domain::{QueueKind, Tenant};
use crate::error::AppResult;
use crate::services::queue::{Done, Outcome, backoff_ms};
use crate::services::{billing, flow, governance, pipeline, reports, scheduler, studies, telegram, webhooks};
use crate::store::{FollowUps, QueueItem};

/// Sleep between polls when the queue is empty (enqueues in this process wake workers at once).
const IDLE_POLL: Duration = Duration::from_millis(500);

/// A queue handler: runs one item.
pub type Handler = dyn for<'a> Fn(&'a App, &'a QueueItem) -> BoxFuture<'a, AppResult<Outcome>> + Send + Sync;

/// The authority an item runs with: the organization it was queued for, so everything its
/// handler reads is filtered to that organization in the query; the system's (every
/// organization) for items queued for none (scheduled jobs, Stripe events, erasure, mail).
/// With an admin's principal and the operator's cron route, the only place `Tenant::All` is
/// made for services.
pub fn authority(item: &QueueItem) -> Tenant {
    if item.organization_id.as_str().is_empty() {
        Tenant::All
    } else {
        Tenant::Organization(item.organization_id.clone())
    }
}

/// Runs one item with the service that owns its kind (tests wrap it in their own `Handler`).
pub async fn dispatch(state: &App, item: &QueueItem) -> AppResult<Outcome> {
    let by = &authority(item);
    let subject_study = || StudyId::from(item.subject_id.as_str());
    let done = match item.kind {
        QueueKind::AnalyzeSession => pipeline::run_session_analysis(state, by, item).await,
        QueueKind::SnapshotSession => pipeline::run_snapshot(state, by, item).await,
        QueueKind::SessionReport => reports::run_session_report(state, by, item).await,
        QueueKind::StudyReport => reports::run_study_report(state, by, item).await,
        QueueKind::WebhookDelivery => webhooks::deliver(state, item).await,
        QueueKind::Erasure => governance::run_erasure(state, item).await,
        QueueKind::OfferBroadcast => telegram::run_broadcast(state, by, item).await.map(Done::referring_to),
        QueueKind::TelegramOffer => return telegram::deliver_offer(state, by, item).await,
        QueueKind::TelegramMessage => return telegram::deliver_message(state, item).await,
        QueueKind::ScheduledJob => scheduler::run_item(state, by, item).await.map(Done::referring_to),
        QueueKind::StripeEvent => billing::run_stripe_event(state, by, item).await.map(Done::referring_to),
        QueueKind::StudyPayout => {
            billing::run_study_payout(state, by, &subject_study()).await.map(Done::referring_to)
        }
        QueueKind::PayoutRetry => billing::run_payout_retry(state, item).await.map(Done::referring_to),
        QueueKind::SendMail => crate::services::mail::run(state, by, item).await,
        QueueKind::LaunchStudy => {
            studies::launch_paid(state, by, &subject_study()).await.map(Done::referring_to)
        }
    };
    done.map(Outcome::Done)
}

/// Renews the lease of `id` every heartbeat while its handler runs, so a run longer than the
/// lease is never taken from a live worker, while a dead worker's item is free one lease after
/// its last heartbeat. Stops when the item is no longer this worker's.
fn heartbeat(state: App, id: QueueItemId, worker: String) -> JoinHandle<()> {
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

/// Claims and runs one item; `false` when none was due.
pub async fn run_once(state: &App, worker: &str) -> AppResult<bool> {
    run_next(state, worker, &|s, i| Box::pin(dispatch(s, i))).await
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
            state.store.complete_item(&item.id, &done.result_ref, result.as_deref(), now).await?;
            // What the run wrote may have queued the flow's next step.
            state.queue_ready.notify_one();
        }
        Ok(Outcome::Later(run_at)) => state.store.defer_item(&item.id, run_at, now).await?,
        Err(e) => {
            let retry = (item.attempts < item.max_attempts).then(|| now + backoff_ms(item.attempts));
            tracing::warn!(item = %item.id, kind = %item.kind, attempts = item.attempts, error = %e, retry = retry.is_some(), "queue item failed");
            // A final failure is a step of the flow too (api.md §11, last row).
            let (pipeline, then) = match retry {
                Some(_) => (None, FollowUps::none()),
                None => flow::step_failed(state, &authority(&item), &item).await.unwrap_or_else(|e| {
                    tracing::error!(item = %item.id, error = %e, "could not prepare the failure's notices");
                    (None, FollowUps::none())
                }),
            };
            state.store.fail_item(&item.id, &e.to_string(), retry, pipeline, then, now).await?;
            if retry.is_none() {
                state.queue_ready.notify_one();
            }
        }
    }
    Ok(true)
}

/// Starts `n` workers. Each finishes its current item when `shutdown` fires, then stops.
pub fn spawn(state: App, n: usize, shutdown: CancellationToken) -> Vec<JoinHandle<()>> {
    (0..n)
        .map(|i| {
            let (state, shutdown) = (state.clone(), shutdown.clone());
            let name = format!("{}-{i}", crate::cluster::node_name());
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
