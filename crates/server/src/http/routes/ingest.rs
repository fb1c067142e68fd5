//! `/api/data/*`: the browser extension's streams (events, facial labels, transcripts).

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::AppResult;
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::{ApiJson, SessionActor};
use crate::http::state::AppState;
use crate::services::ingest::{self, IngestIn, IngestOut, Stream};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events)).routes(routes!(facial)).routes(routes!(voice))
}

/// Behavioural events. Each item is validated alone; good items are stored even when others
/// fail. Items with a `clientId` already stored count as duplicates (safe retries). A 200 means
/// every accepted item is committed. At most 1,000 items and 2 MiB (413 above); 1,000 items a
/// minute per session (429). Event item: `eventType`, `targetSelector` (≤ 1,024), `timestamp`,
/// optional `clientId` (≤ 64), `x`, `y`, `scrollY`, `inputLength`, `viewport{width,height}`,
/// `url`, `targetText` (≤ 200), `taskId`, `hoverMs`, `errorMessage` (≤ 500), and for the
/// engine's baselines and false-alarm rules `deletions` (on `input`: deletions merged into a
/// typing burst), `selectionLength` (text selected right after a click), `mutations` (DOM
/// mutations within 1 s after a click), `opensNewContext` (the click opens a new tab or a
/// download), `role` (the target's ARIA role or input type, ≤ 64), `wordCount` (on
/// `navigation`: words on the settled page). snake_case aliases are accepted. Raw input text is
/// refused.
#[utoipa::path(post, path = "/api/data/events", tag = "ingestion", security(("testToken" = []), ("jwt" = [])), request_body = IngestIn,
    responses((status = 200, body = Envelope<IngestOut>), (status = 413, description = "Over 1,000 items or 2 MiB"), (status = 422, description = "Session not active"), (status = 429, description = "Over 1,000 items a minute for the session")))]
async fn events(
    State(state): State<AppState>,
    caller: SessionActor,
    ApiJson(b): ApiJson<IngestIn>,
) -> AppResult<Envelope<IngestOut>> {
    Ok(ok(ingest::ingest(&state, &caller, Stream::Events, b).await?))
}

/// Facial-emotion labels: `timestamp`, `emotion`, `confidence` (0..1), `faceDetected`,
/// optional `actionUnits {AUxx: 0..1}`, `captureIntervalMs`, `clientId`. No image data.
/// Rules as for events; needs consent for the facial stream.
#[utoipa::path(post, path = "/api/data/facial", tag = "ingestion", security(("testToken" = []), ("jwt" = [])), request_body = IngestIn,
    responses((status = 200, body = Envelope<IngestOut>), (status = 413, description = "Too large"), (status = 422, description = "Session not active"), (status = 429, description = "Rate limited")))]
async fn facial(
    State(state): State<AppState>,
    caller: SessionActor,
    ApiJson(b): ApiJson<IngestIn>,
) -> AppResult<Envelope<IngestOut>> {
    Ok(ok(ingest::ingest(&state, &caller, Stream::Facial, b).await?))
}

/// Think-aloud transcripts: `timestamp`, `durationMs`, `transcript` (≤ 5,000), `confidence`
/// (0..1), optional `clientId`. No audio. Rules as for events; needs consent for voice.
#[utoipa::path(post, path = "/api/data/voice", tag = "ingestion", security(("testToken" = []), ("jwt" = [])), request_body = IngestIn,
    responses((status = 200, body = Envelope<IngestOut>), (status = 413, description = "Too large"), (status = 422, description = "Session not active"), (status = 429, description = "Rate limited")))]
async fn voice(
    State(state): State<AppState>,
    caller: SessionActor,
    ApiJson(b): ApiJson<IngestIn>,
) -> AppResult<Envelope<IngestOut>> {
    Ok(ok(ingest::ingest(&state, &caller, Stream::Voice, b).await?))
}
