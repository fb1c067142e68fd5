//! Group commit of ingestion batches on SQLite: batches that arrive while the single writer is
//! busy share its next transaction, so each pays one turn of the writer, not seven.
//!
//! SQLite has one writer connection, and sqlx runs it on its own thread: every statement is a
//! round trip between that thread and the runtime. One batch alone takes seven (begin, the
//! session check, the insert, the recording check, commit, and the pool's two-statement check
//! on release), and the writer spent a third of its time waiting for the next one (decision
//! 234). Here one task owns the ingestion queue: it takes every batch waiting, checks all their
//! sessions in one query (each under its own tenant condition), inserts each batch, looks for
//! recordings once, and commits once. A batch is acknowledged only after that commit; if the
//! transaction fails, every batch in it gets the error and none is stored.

use futures_util::FutureExt as _;
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::{SessionId, SessionStatus};
use crate::store::{Guarded, IngestCounts, Refusal, StoreError, StoreResult, StreamBatch};

/// At most this many batches share a transaction (bounds the work one commit waits for).
const MAX_GROUP: usize = 16;

/// Drops the `rr:` events a later recorder event of the same type within `TWIN_MS` now gives
/// (`$1` the session, `$2` `TWIN_MS`).
pub(super) const DROP_RECORDED_TWINS: &str = "DELETE FROM events WHERE session_id = $1 AND client_id LIKE 'rr:%' \
     AND EXISTS (SELECT 1 FROM events o WHERE o.session_id = $1 AND o.event_type = events.event_type \
     AND (o.client_id IS NULL OR o.client_id NOT LIKE 'rr:%') AND o.ts >= events.ts - $2 AND o.ts <= events.ts + $2)";

/// Which stream a batch writes, so which consent it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StreamKind {
    Events,
    Facial,
    Voice,
}

impl StreamKind {
    pub(super) fn of(batch: &StreamBatch) -> Self {
        match batch {
            StreamBatch::Events(_) => Self::Events,
            StreamBatch::Facial(_) => Self::Facial,
            StreamBatch::Voice(_) => Self::Voice,
        }
    }

    /// The `sessions` column that holds this stream's consent.
    pub(super) fn consent_column(self) -> &'static str {
        match self {
            Self::Events => "consent_events",
            Self::Facial => "consent_facial",
            Self::Voice => "consent_voice",
        }
    }
}

/// Why a batch for a session in `status` (its stream `consented` or not) stores nothing, or
/// `None` when it may be written. Both ingestion paths decide with this.
pub(super) fn refusal(status: SessionStatus, consented: bool, accepting: SessionStatus) -> Option<Refusal> {
    if status != accepting {
        Some(Refusal::Session(status))
    } else if !consented {
        Some(Refusal::NoConsent)
    } else {
        None
    }
}

/// One request's batch, its statements built, waiting for the writer.
pub(super) struct Job {
    /// The tester the caller is (`None`: the system, any session).
    pub tester: Option<String>,
    pub session_id: SessionId,
    pub accepting: SessionStatus,
    pub kind: StreamKind,
    /// The batch's `INSERT … ON CONFLICT DO NOTHING` statements.
    pub statements: Vec<QueryBuilder<Sqlite>>,
    /// Items in the batch (stored + duplicates).
    pub total: u64,
}

type Reply = oneshot::Sender<StoreResult<Guarded<IngestCounts>>>;

/// The queue's sending side, one per store (clones share it).
#[derive(Debug, Clone)]
pub(in crate::store) struct Groups {
    tx: mpsc::UnboundedSender<(Job, Reply)>,
}

impl Groups {
    /// Starts the task that commits the groups of `writer`; it ends with the last clone.
    pub(in crate::store) fn start(writer: SqlitePool) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(writer, rx));
        Self { tx }
    }

    /// Stores `job` with whatever else is waiting; answers once its transaction committed.
    pub(super) async fn submit(&self, job: Job) -> StoreResult<Guarded<IngestCounts>> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((job, reply))
            .map_err(|_| StoreError::Unavailable("the ingestion writer has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Unavailable("the ingestion writer stopped mid-batch".into()))?
    }
}

async fn run(writer: SqlitePool, mut rx: mpsc::UnboundedReceiver<(Job, Reply)>) {
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        // A request that gave up before its group began (timed out, client gone) stores
        // nothing, as when it waited for the writer itself.
        let (jobs, replies): (Vec<Job>, Vec<Reply>) =
            group.into_iter().filter(|(_, reply)| !reply.is_closed()).unzip();
        if jobs.is_empty() {
            continue;
        }
        // A panic fails this group's requests (their replies are dropped), not the queue.
        let outcome = std::panic::AssertUnwindSafe(commit(&writer, jobs)).catch_unwind().await;
        match outcome {
            Ok(Ok(answers)) => {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(Ok(answer));
                }
            }
            Ok(Err(e)) => {
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
            Err(_) => tracing::error!("an ingestion group panicked; its batches were not stored"),
        }
    }
}

/// One transaction for the whole group; the answers are in the jobs' order.
async fn commit(writer: &SqlitePool, mut jobs: Vec<Job>) -> StoreResult<Vec<Guarded<IngestCounts>>> {
    let mut tx = writer.begin().await?;
    // Every session of the group in one read, each under its own caller's condition.
    let mut q = QueryBuilder::<Sqlite>::new(
        "SELECT id, tester_id, status, consent_events, consent_facial, consent_voice FROM sessions WHERE ",
    );
    for (i, job) in jobs.iter().enumerate() {
        q.push(if i == 0 { "(id = " } else { " OR (id = " }).push_bind(job.session_id.as_str());
        if let Some(tester) = &job.tester {
            q.push(" AND tester_id = ").push_bind(tester.as_str());
        }
        q.push(")");
    }
    let rows: Vec<(String, String, SessionStatus, bool, bool, bool)> =
        q.build_query_as().fetch_all(&mut *tx).await?;
    let mut answers = Vec::with_capacity(jobs.len());
    for job in &mut jobs {
        // The row under this job's own condition (another job's may have matched it).
        let row = rows
            .iter()
            .find(|r| r.0 == job.session_id.as_str() && job.tester.as_deref().is_none_or(|t| t == r.1));
        let answer = match row {
            None => Guarded::NotFound,
            Some(&(_, _, status, events, facial, voice)) => {
                let consented = match job.kind {
                    StreamKind::Events => events,
                    StreamKind::Facial => facial,
                    StreamKind::Voice => voice,
                };
                match refusal(status, consented, job.accepting) {
                    Some(r) => Guarded::WrongState(r),
                    None => {
                        let mut stored = 0u64;
                        for qb in &mut job.statements {
                            stored += qb.build().execute(&mut *tx).await?.rows_affected();
                        }
                        Guarded::Done(IngestCounts { stored, duplicates: job.total - stored })
                    }
                }
            }
        };
        answers.push(answer);
    }
    let wrote_events: Vec<&SessionId> = jobs
        .iter()
        .zip(&answers)
        .filter(|(job, answer)| {
            job.kind == StreamKind::Events && matches!(answer, Guarded::Done(c) if c.stored > 0)
        })
        .map(|(job, _)| &job.session_id)
        .collect();
    if !wrote_events.is_empty() {
        let mut q =
            QueryBuilder::<Sqlite>::new("SELECT DISTINCT session_id FROM recordings WHERE session_id IN (");
        let mut list = q.separated(", ");
        for id in &wrote_events {
            list.push_bind(id.as_str());
        }
        q.push(")");
        let recorded: Vec<(String,)> = q.build_query_as().fetch_all(&mut *tx).await?;
        for (session_id,) in recorded {
            // An action the screen recording already gave is now the recorder's own.
            sqlx::query(DROP_RECORDED_TWINS)
                .bind(&session_id)
                .bind(crate::store::TWIN_MS)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(answers)
}
