//! The built-in scheduler: every second each worker node works out the latest tick of each
//! job's cron expression (UTC) and tries to claim it in the database; exactly one node wins a
//! tick, and it enqueues the job's work, which a queue worker then runs (`services::cron`).
//! A tick missed while no node ran is run once when one starts; the work is idempotent, so
//! that is always safe.

use std::collections::HashMap;
use std::time::Duration;

use croner::Cron;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::domain::schedule::{latest_tick, parse_cron};
use crate::domain::{CronJob, QueueKind, Tenant, format_ms};
use crate::error::{AppError, AppResult};
use crate::services::cron;
use crate::services::queue::{self, Work};
use crate::store::{EnqueueGuard, QueueItem};

/// How often a node looks for due ticks.
const POLL: Duration = Duration::from_secs(1);

/// The configured schedules, parsed.
fn schedules(state: &App) -> Vec<(CronJob, Cron)> {
    state
        .config
        .schedules
        .iter()
        .filter_map(|(job, expr)| {
            let cron = parse_cron(expr.as_deref()?)
                .map_err(|e| tracing::error!(job = %job, error = %e, "schedule ignored"))
                .ok()?;
            Some((*job, cron))
        })
        .collect()
}

/// Claims every due tick this node can and enqueues its work; returns the jobs it claimed.
pub async fn run_due(state: &App, node: &str) -> AppResult<Vec<CronJob>> {
    run_due_with(state, node, &schedules(state), &mut HashMap::new()).await
}

/// `seen`: the latest tick this node already tried per job, so a tick is asked for once.
async fn run_due_with(
    state: &App,
    node: &str,
    schedules: &[(CronJob, Cron)],
    seen: &mut HashMap<CronJob, i64>,
) -> AppResult<Vec<CronJob>> {
    let now = state.now();
    let mut claimed = Vec::new();
    for (job, cron) in schedules {
        let Some(tick) = latest_tick(cron, now) else { continue };
        if seen.get(job).is_some_and(|t| *t >= tick) {
            continue;
        }
        let won = state.store.claim_tick(*job, tick, node, now).await?;
        seen.insert(*job, tick);
        if !won {
            continue;
        }
        let payload = serde_json::json!({"tickAt": format_ms(tick), "node": node}).to_string();
        let work = Work {
            kind: QueueKind::ScheduledJob,
            subject_id: job.as_str(),
            organization_id: None,
            tester_id: None,
            payload: Some(payload),
        };
        // Work of the job still pending from an earlier tick is reused, not duplicated.
        queue::enqueue(state, work, EnqueueGuard::Unconditional).await?;
        tracing::info!(job = %job, tick = %format_ms(tick), "scheduled job queued");
        claimed.push(*job);
    }
    Ok(claimed)
}

/// Queue handler of a scheduled job.
pub async fn run_item(state: &App, authority: &Tenant, item: &QueueItem) -> AppResult<String> {
    let job = CronJob::parse(&item.subject_id)
        .ok_or_else(|| AppError::Internal(format!("unknown scheduled job {}", item.subject_id)))?;
    let processed = cron::run(state, authority, job).await?;
    Ok(format!("{job}: {processed} processed"))
}

/// Starts this node's scheduler; it stops when `shutdown` fires.
pub fn spawn(state: App, shutdown: CancellationToken) -> JoinHandle<()> {
    let node = crate::cluster::node_name();
    tokio::spawn(async move {
        let schedules = schedules(&state);
        if schedules.is_empty() {
            return;
        }
        let mut seen = HashMap::new();
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            if let Err(e) = run_due_with(&state, &node, &schedules, &mut seen).await {
                tracing::error!(error = %e, "scheduler could not reach the store");
            }
        }
    })
}
