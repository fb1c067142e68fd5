//! Screen recordings (api.md §5.1): `POST /api/data/screen` (its own 10 MiB body limit) and
//! `GET /api/sessions/:id/recording`.

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::ids::SessionId;
use crate::error::{AppError, AppResult};
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::{Authed, SessionActor};
use crate::http::state::AppState;
use crate::services::recording::{self, ScreenIn, ScreenOut, WIRE_LIMIT};

/// The upload route, mounted with its own body limit (`WIRE_LIMIT`).
pub fn screen_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(screen))
}

/// The read-back, mounted with the rest of the API.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(read))
}

/// A chunk of an rrweb screen recording: `{sessionId, chunkId?, taskId?, events:[…]}` as
/// `rrweb.record()` emits them, JSON or gzip (`Content-Encoding: gzip`). Test token or owning
/// tester; the session must be active, its study must set `recordScreen` and the tester must
/// have consented to the `screenshots` stream (422 otherwise). At most 10 MiB on the wire and
/// 100 MiB decompressed, and a gzip body may not inflate more than 100:1 past its first MiB
/// (413 naming the limit; inflation stops at the cap, so a bomb costs no more memory than
/// that). A chunk is stored whole or not at all: an event that is not rrweb's shape is a 400,
/// a timestamp outside the session's window (§5) a 422. Before anything is stored every input
/// value is masked to `*` of the same length (input/textarea/select `value` in snapshots and
/// mutations, textarea text, input events' `text`), whatever the recorder did. Events are
/// appended in order, stored compressed; a `chunkId` already stored is a duplicate (nothing
/// written). The §5 events are derived from the recording (clicks with selector, text, role,
/// `mutations` within 1 s and `selectionLength`; typing bursts as lengths; scrolls; focus and
/// blur; navigations with `wordCount`) under deterministic `clientId`s (`rr:…`), and an action
/// the events recorder also sent is kept once.
#[utoipa::path(post, path = "/api/data/screen", tag = "ingestion", security(("testToken" = []), ("jwt" = [])), request_body = ScreenIn,
    responses((status = 200, body = Envelope<ScreenOut>), (status = 400, description = "Malformed JSON or gzip, or not rrweb events"),
        (status = 413, description = "Over 10 MiB on the wire, 100 MiB decompressed, or the 100:1 decompression ratio"),
        (status = 422, description = "Session not active, recordScreen false, no screen consent, or timestamps outside the window"),
        (status = 429, description = "Rate limited")))]
async fn screen(
    State(state): State<AppState>,
    caller: SessionActor,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<Envelope<ScreenOut>> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    if essence.as_deref() != Some("application/json") {
        return Err(AppError::BadRequest("Expected a JSON body with Content-Type: application/json".into()));
    }
    let gzipped = match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
    {
        None => false,
        Some(e) if e == "identity" || e.is_empty() => false,
        Some(e) if e == "gzip" || e == "x-gzip" => true,
        Some(e) => {
            return Err(AppError::BadRequest(format!(
                "Content-Encoding {e} is not supported (gzip or none)"
            )));
        }
    };
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::body_too_large(WIRE_LIMIT)
        } else {
            AppError::BadRequest(format!("Could not read the request body: {}", e.body_text()))
        }
    })?;
    Ok(ok(recording::ingest(&state, &caller, body, gzipped).await?))
}

/// The session's screen recording as one JSON array of rrweb events (masked as stored),
/// streamed; what rrweb's `Replayer` takes. Readers of the session (not its test token); 404
/// when the session or its recording is absent. `GET /api/sessions/:id` reports the
/// recording's health (`recording.replayable`, `recording.problems`).
#[utoipa::path(get, path = "/api/sessions/{id}/recording", tag = "sessions", security(("jwt" = []), ("token" = ["read"])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, description = "JSON array of rrweb events", content_type = "application/json"),
        (status = 404, description = "Absent, not visible, or no recording")))]
async fn read(
    State(state): State<AppState>,
    caller: Authed,
    Path(id): Path<SessionId>,
) -> AppResult<Response> {
    let stream = recording::open(&state, &caller, &id).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "private, no-store")],
        Body::from_stream(stream),
    )
        .into_response())
}
