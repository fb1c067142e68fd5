//! `/api/cron/<job>`: the scheduled jobs on demand, for an external scheduler (the built-in
//! one runs the same work). `Authorization: Bearer <cron secret>`.

use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{CronJob, Tenant};
use crate::error::{AppError, AppResult};
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::CronAuth;
use crate::http::state::AppState;
use crate::services::cron;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(run_job))
}

/// What a run did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronOut {
    pub job: CronJob,
    /// Items changed: sessions abandoned, reminders sent, studies flagged, sessions purged,
    /// payouts retried.
    pub processed: u64,
}

/// Run a scheduled job now. `session-timeouts`: running sessions past `maxDurationMinutes` +
/// grace become `abandoned`. `reminders`: one reminder to testers who accepted and have not
/// started after `reminderAfterHours`. `study-followups`: studies open 72 h without
/// completing are flagged for staff and the business gets `study.stalled`. `retention`: raw
/// streams older than the retention period are deleted (reports and findings kept).
/// `payout-retry`: retries failed payouts. Each is idempotent.
#[utoipa::path(post, path = "/api/cron/{job}", tag = "cron", security(("cron" = [])),
    params(("job" = CronJob, Path, description = "Which job")),
    responses((status = 200, body = Envelope<CronOut>), (status = 401, description = "Bad cron secret"),
        (status = 404, description = "No such job"), (status = 503, description = "No cron secret configured")))]
async fn run_job(
    State(state): State<AppState>,
    _cron: CronAuth,
    Path(job): Path<String>,
) -> AppResult<Envelope<CronOut>> {
    let job = CronJob::parse(&job).ok_or_else(|| AppError::NotFound("Not found".into()))?;
    // The operator's route (the cron secret): the jobs sweep every organization.
    let processed = cron::run(&state, &Tenant::All, job).await?;
    Ok(ok(CronOut { job, processed }))
}
