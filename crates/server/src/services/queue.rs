//! The durable work queue, as the services see it: one `enqueue` for every kind, what a run
//! returns (`Done`, `Outcome`), the retry policy. Items live in the database, so they survive
//! restarts. The loop that claims and runs items stands above the services (`crate::worker`).
//! (The wire calls an item an analysis job, `ajob_…`; "job" on the wire is a study.)

use crate::app::App;
use crate::auth::principal::Principal;
use crate::domain::QueueKind;
use crate::domain::ids::{OrgId, QueueItemId, UserId};
use crate::error::{AppError, AppResult};
use crate::store::{EnqueueGuard, Guarded, NewQueueItem, QueueItem};

/// Attempts before an agent's item is marked failed.
pub const MAX_ATTEMPTS: i64 = 5;
/// The longest wait between two attempts.
const MAX_BACKOFF_SECS: i64 = 300;

/// Delay before attempt `attempts + 1`: 2^attempts seconds, at most 5 minutes.
pub fn backoff_ms(attempts: i64) -> i64 {
    // 2^9 = 512 s already exceeds the cap; clamping the shift keeps it from overflowing.
    1000 * (1i64 << attempts.clamp(0, 9)).min(MAX_BACKOFF_SECS)
}

/// What to enqueue: the kind, its subject and who may read it.
pub struct Work<'a> {
    pub kind: QueueKind,
    pub subject_id: &'a str,
    /// The organization it is queued for (its handler runs with that organization's
    /// authority, `worker::authority`); `None` for the system's own work.
    pub organization_id: Option<&'a OrgId>,
    /// The tester who may follow it (Agent 1 and 2 items about their session).
    pub tester_id: Option<&'a UserId>,
    /// Parameters of the run (JSON), if any.
    pub payload: Option<String>,
}

/// Enqueues `work` if `guard` holds (checked in the same transaction), waking this process's
/// workers. Work of the same kind already pending for the subject is returned instead.
pub async fn enqueue(state: &App, work: Work<'_>, guard: EnqueueGuard<'_>) -> AppResult<Guarded<QueueItem>> {
    enqueue_item(state, prepare(state, work), guard).await
}

/// The row `work` becomes.
pub fn prepare(state: &App, work: Work<'_>) -> NewQueueItem {
    let now = state.now();
    NewQueueItem {
        id: QueueItemId::new(now),
        kind: work.kind,
        subject_id: work.subject_id.to_owned(),
        organization_id: work.organization_id.cloned().unwrap_or_default(),
        tester_id: work.tester_id.cloned(),
        payload: work.payload,
        max_attempts: MAX_ATTEMPTS,
        now,
    }
}

/// Enqueues a prepared item (the flow's, `services::flow`) if `guard` holds, like `enqueue`.
pub async fn enqueue_item(
    state: &App,
    item: NewQueueItem,
    guard: EnqueueGuard<'_>,
) -> AppResult<Guarded<QueueItem>> {
    let out = state.store.enqueue(item, guard).await?;
    if matches!(out, Guarded::Done(_)) {
        state.queue_ready.notify_one();
    }
    Ok(out)
}

/// A queue item the caller may follow (`GET /api/analysis-jobs/:id`).
pub async fn get(state: &App, p: &Principal, id: &QueueItemId) -> AppResult<QueueItem> {
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
