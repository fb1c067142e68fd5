//! The queue's leases (api.md §6): a running job renews its lease by a heartbeat, so however
//! long it runs it is never taken from a live worker; a dead worker's job is taken over once
//! its lease (30 s by default) runs out.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::json;

use openscouter_server::domain::Tenant;
use openscouter_server::services::queue::{Done, Outcome};
use openscouter_server::worker::run_next;

use crate::both;
use crate::helpers::{Backend, TestApp};

both!(a_long_job_is_never_taken_from_a_live_worker, a_dead_workers_job_is_taken_over_after_the_lease);

/// A completed session with an analysis queued: `(app, job id)`.
async fn queued_analysis(app: &TestApp) -> String {
    let live = app.live_session().await;
    app.post(&format!("/api/sessions/{}/complete", live.sid), json!({}), Some(&live.tt)).await.ok();
    let res =
        app.post(&format!("/api/sessions/{}/analyze", live.sid), json!({}), Some(&live.biz.bearer())).await;
    res.ok()["analysisJobId"].as_str().unwrap().to_owned()
}

async fn status(app: &TestApp, job: &str) -> (String, i64) {
    let item = app.state.store.get_queue_item(&Tenant::All, &job.into()).await.unwrap().unwrap();
    (item.status.to_string(), item.attempts)
}

async fn a_long_job_is_never_taken_from_a_live_worker(b: Backend) {
    let Some(app) = TestApp::with_config(b, &[], |c| c.job_heartbeat_ms = 20).await else { return };
    assert_eq!(app.state.config.job_lease_ms, 30_000, "the default lease");
    let job = queued_analysis(&app).await;

    // Worker A runs the job with a handler that holds on until released: a "long" job.
    let gate = Arc::new(tokio::sync::Notify::new());
    let (state, held) = (app.state.app.clone(), gate.clone());
    let worker_a = tokio::spawn(async move {
        run_next(&state, "worker-a", &move |_, item| {
            let held = held.clone();
            Box::pin(async move {
                held.notified().await;
                Ok(Outcome::Done(Done::referring_to(&item.subject_id)))
            })
        })
        .await
        .unwrap()
    });
    while status(&app, &job).await.0 != "running" {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // Three leases pass on the clock while A still runs; its heartbeat keeps renewing.
    for _ in 0..3 {
        app.clock.advance_ms(30_000);
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        assert_eq!(app.drain_jobs().await, 0, "another worker took a job from a live worker");
    }
    gate.notify_one();
    assert!(worker_a.await.unwrap());
    assert_eq!(status(&app, &job).await, ("complete".to_owned(), 1), "ran exactly once");
}

async fn a_dead_workers_job_is_taken_over_after_the_lease(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let job = queued_analysis(&app).await;
    // A worker claims the job and dies at once: no heartbeat, no outcome.
    let claimed =
        app.state.store.claim_next("dead-worker", app.state.now(), app.state.config.job_lease_ms).await;
    assert_eq!(claimed.unwrap().unwrap().id, job);
    app.clock.advance_ms(29_000);
    assert_eq!(app.drain_jobs().await, 0, "still within the lease");
    app.clock.advance_ms(1_001);
    assert_eq!(app.drain_jobs().await, 1, "taken over 30 s after the claim");
    assert_eq!(status(&app, &job).await, ("complete".to_owned(), 2));
}
