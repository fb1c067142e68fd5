//! Screen recordings (api.md §5.1): `POST /api/data/screen` chunks (gzip-guarded, masked,
//! derived into §5 events, stored compressed and idempotent per chunk), the recording read
//! back as one JSON array, and its summary on the session and in the export.

use std::io::{Read, Write};
use std::sync::Arc;

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::principal::Principal;
use crate::domain::ids::{SessionId, new_ids, prefix};
use crate::domain::stream::check_window;
use crate::domain::{SessionStatus, Tenant, format_ms};
use crate::error::{AppError, AppResult};
use crate::services::rrweb::{Chunk, Derived, Gap, Tape};
use crate::services::sessions::{self, Access};
use crate::store::{
    AppendOutcome, ChunkAppend, EventExtra, EventRow, Guarded, RecordingSummary, Refusal, Session,
};

/// Bytes on the wire (compressed or not).
pub const WIRE_LIMIT: usize = 10 * 1024 * 1024;
/// Bytes once decompressed.
pub const INFLATED_LIMIT: usize = 100 * 1024 * 1024;
/// A gzip body may not inflate to more than this many times its size (past the first MiB).
pub const MAX_RATIO: usize = 100;
/// Below this many inflated bytes the ratio is not checked (small, very regular bodies).
const RATIO_FLOOR: usize = 1024 * 1024;
/// Chunks decoded at once, server-wide: with the limits above, the memory a recording upload
/// can hold is bounded by `DECODE_SLOTS × (WIRE_LIMIT + INFLATED_LIMIT + one event's tree)`.
const DECODE_SLOTS: usize = 2;
/// Appends retried when another chunk of the same session lands in between.
const APPEND_TRIES: usize = 5;
/// Stored chunks read per store call when streaming a recording back.
const READ_PAGE: i64 = 16;

static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(DECODE_SLOTS);

/// `POST /api/data/screen` body (also gzip-compressed with `Content-Encoding: gzip`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ScreenIn {
    /// Also accepted as `session_id`.
    pub session_id: String,
    /// Makes a retried chunk a duplicate (≤ 64 characters).
    pub chunk_id: Option<String>,
    /// The task the derived events belong to.
    pub task_id: Option<String>,
    /// rrweb events (`{type, data, timestamp}`) as `rrweb.record()` emits them, in order.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Value>,
}

/// The recording's totals and health.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RecordingOut {
    pub chunks: i64,
    pub events: i64,
    /// JSON bytes received (decompressed).
    pub bytes: i64,
    /// Bytes stored (compressed).
    pub stored_bytes: i64,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub full_snapshots: i64,
    /// False when the recording starts without a full snapshot or a page lost its own.
    pub replayable: bool,
    /// Where and why it cannot be replayed.
    pub problems: Vec<ProblemOut>,
}

/// A place where a recording cannot be replayed.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct ProblemOut {
    pub at: String,
    pub reason: String,
}

/// What a chunk did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScreenOut {
    pub session_id: String,
    pub chunk_id: Option<String>,
    /// rrweb events stored from this chunk (0 for a duplicate).
    pub accepted: u64,
    /// True when a chunk with this `chunkId` was already stored: nothing new was written.
    pub duplicate: bool,
    /// §5 events derived from this chunk and stored or updated (0 without consent to events).
    pub derived: u64,
    pub recording: RecordingOut,
}

/// The summary as the API shows it.
pub fn summary_out(s: &RecordingSummary) -> RecordingOut {
    let gaps: Vec<Gap> = serde_json::from_str(&s.gaps).unwrap_or_default();
    RecordingOut {
        chunks: s.chunks,
        events: s.events,
        bytes: s.raw_bytes,
        stored_bytes: s.stored_bytes,
        started_at: s.first_ts.map(format_ms),
        ended_at: s.last_ts.map(format_ms),
        full_snapshots: s.full_snapshots,
        replayable: s.full_snapshots > 0 && gaps.is_empty(),
        problems: gaps.into_iter().map(|g| ProblemOut { at: format_ms(g.at), reason: g.reason }).collect(),
    }
}

/// Decompresses a gzip body with a hard cap, reading 64 KiB at a time: the output never
/// grows past `max` bytes nor past `ratio` times the input (once over `RATIO_FLOOR`), so a
/// bomb costs at most that much memory before it is refused.
pub fn inflate_capped(body: &[u8], max: usize, ratio: usize) -> AppResult<Vec<u8>> {
    let mut dec = MultiGzDecoder::new(body);
    let mut out = Vec::with_capacity(body.len().saturating_mul(8).min(max));
    let mut buf = vec![0u8; 64 * 1024];
    let ratio_cap = body.len().saturating_mul(ratio).max(RATIO_FLOOR);
    loop {
        let n = dec.read(&mut buf).map_err(|_| AppError::BadRequest("Malformed gzip body".into()))?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > max {
            return Err(AppError::PayloadTooLarge(format!(
                "Recording too large once decompressed (limit {} MiB)",
                max / (1024 * 1024)
            )));
        }
        if out.len() + n > ratio_cap {
            return Err(AppError::PayloadTooLarge(format!(
                "Recording inflates more than {ratio}:1 (decompression ratio limit)"
            )));
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// The body's head: the fields read before the events are streamed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    #[serde(alias = "session_id")]
    session_id: String,
    #[serde(default, alias = "chunk_id")]
    chunk_id: Option<String>,
    #[serde(default, alias = "task_id")]
    task_id: Option<String>,
    #[allow(dead_code)]
    events: IgnoredAny,
}

/// A chunk processed: masked, derived, compressed.
pub struct Processed {
    pub data: Vec<u8>,
    pub events: i64,
    pub raw_bytes: i64,
    pub first_ts: i64,
    pub last_ts: i64,
    pub tape: Tape,
    pub derived: Vec<Derived>,
}

/// Streams the events of a body through `f` one at a time (the other keys are skipped).
struct Body<'a, F>(&'a mut F);

impl<'de, F: FnMut(Value) -> Result<(), String>> DeserializeSeed<'de> for Body<'_, F> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F: FnMut(Value) -> Result<(), String>> Visitor<'de> for Body<'_, F> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(k) = map.next_key::<String>()? {
            if k == "events" {
                map.next_value_seed(Events(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct Events<'a, F>(&'a mut F);

impl<'de, F: FnMut(Value) -> Result<(), String>> DeserializeSeed<'de> for Events<'_, F> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Value) -> Result<(), String>> Visitor<'de> for Events<'_, F> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of rrweb events")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            (self.0)(v).map_err(serde::de::Error::custom)?;
        }
        Ok(())
    }
}

/// Masks, checks and derives every event of a (decompressed) body, one event in memory at a
/// time, and compresses the masked events. `window`: `(session start, now)` for the
/// timestamps (api.md §5's window).
pub fn process(json: &[u8], mut tape: Tape, window: Option<(i64, i64)>) -> AppResult<Processed> {
    let mut gz = GzEncoder::new(Vec::with_capacity(json.len() / 8), Compression::fast());
    let mut out = Chunk::default();
    let (mut events, mut raw, mut first, mut last) = (0i64, 0usize, None, 0i64);
    let mut refused: Option<AppError> = None;
    let mut line = Vec::with_capacity(4096);
    let mut on_event = |mut v: Value| -> Result<(), String> {
        let index = usize::try_from(events).unwrap_or(usize::MAX);
        let ts = match tape.event(&mut v, index, &mut out) {
            Ok(ts) => ts,
            Err(m) => {
                refused = Some(AppError::BadRequest(m.0.clone()));
                return Err(m.0);
            }
        };
        if let Some((started_at, now)) = window
            && let Err(why) = check_window(ts, started_at, now)
        {
            let m = format!("events[{index}].timestamp: {why}");
            refused = Some(AppError::Unprocessable(m.clone()));
            return Err(m);
        }
        first.get_or_insert(ts);
        last = last.max(ts);
        line.clear();
        if events > 0 {
            line.push(b',');
        }
        serde_json::to_writer(&mut line, &v).map_err(|e| e.to_string())?;
        raw += line.len();
        gz.write_all(&line).map_err(|e| e.to_string())?;
        events += 1;
        Ok(())
    };
    let mut de = serde_json::Deserializer::from_slice(json);
    let parsed = Body(&mut on_event).deserialize(&mut de).and_then(|()| de.end());
    if let Err(e) = parsed {
        return Err(refused.unwrap_or_else(|| AppError::BadRequest(format!("Malformed JSON: {e}"))));
    }
    let Some(first_ts) = first else {
        return Err(AppError::Unprocessable("events: must hold at least one rrweb event".into()));
    };
    tape.end_chunk(&mut out);
    let data = gz.finish().map_err(|e| AppError::Internal(format!("gzip: {e}")))?;
    Ok(Processed {
        data,
        events,
        raw_bytes: i64::try_from(raw).unwrap_or(i64::MAX),
        first_ts,
        last_ts: last,
        tape,
        derived: out.derived,
    })
}

fn gzip(bytes: &[u8]) -> AppResult<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(bytes).and_then(|()| gz.finish()).map_err(|e| AppError::Internal(format!("gzip: {e}")))
}

fn gunzip(bytes: &[u8]) -> AppResult<Vec<u8>> {
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| AppError::Internal(format!("stored recording unreadable: {e}")))?;
    Ok(out)
}

fn event_row(d: Derived, id: String, task_id: Option<&str>) -> EventRow {
    EventRow {
        id,
        client_id: Some(d.client_id),
        ts: d.ts,
        event_type: d.event_type,
        target_selector: d.target_selector,
        x: d.x,
        y: d.y,
        scroll_y: d.scroll_y,
        input_length: d.input_length,
        viewport_width: d.viewport.map(|v| v.0),
        viewport_height: d.viewport.map(|v| v.1),
        url: d.url,
        target_text: d.target_text,
        task_id: task_id.map(str::to_owned),
        hover_ms: None,
        error_message: None,
        extra: EventExtra {
            deletions: d.deletions,
            selection_length: d.selection_length,
            mutations: d.mutations,
            opens_new_context: d.opens_new_context,
            role: d.role,
            word_count: d.word_count,
        },
    }
}

fn check_id(what: &str, v: Option<String>) -> AppResult<Option<String>> {
    match v {
        Some(s) if s.is_empty() || s.chars().count() > 64 => {
            Err(AppError::Unprocessable(format!("{what}: must be 1 to 64 characters")))
        }
        other => Ok(other),
    }
}

/// Decompresses (when `gzip`) under the limits, on a blocking thread.
async fn decode(body: Bytes, gzip: bool) -> AppResult<Arc<Vec<u8>>> {
    if body.len() > WIRE_LIMIT {
        return Err(AppError::body_too_large(WIRE_LIMIT));
    }
    if !gzip {
        return Ok(Arc::new(body.to_vec()));
    }
    tokio::task::spawn_blocking(move || inflate_capped(&body, INFLATED_LIMIT, MAX_RATIO).map(Arc::new))
        .await
        .map_err(|e| AppError::Internal(format!("inflate task: {e}")))?
}

/// The request body (hyper's `Bytes`: services never name the HTTP framework).
pub use hyper::body::Bytes;

/// `POST /api/data/screen`.
pub async fn ingest(state: &App, caller: &Principal, body: Bytes, gzipped: bool) -> AppResult<ScreenOut> {
    let _slot = SLOTS.acquire().await.map_err(|_| AppError::Unavailable("Shutting down".into()))?;
    let json = decode(body, gzipped).await?;
    let head: Head =
        serde_json::from_slice(&json).map_err(|e| AppError::BadRequest(format!("Malformed JSON: {e}")))?;
    let chunk_id = check_id("chunkId", head.chunk_id)?;
    let task_id = check_id("taskId", head.task_id)?;
    let session =
        sessions::authorize(state, caller, &SessionId::from(head.session_id.as_str()), Access::Ingest)
            .await?;
    if session.status != SessionStatus::Active {
        return Err(AppError::Unprocessable(format!(
            "Session is {}; data can only be sent to an active session",
            session.status
        )));
    }
    let study = sessions::study_of(state, &session).await?;
    if !study.definition.settings.record_screen {
        return Err(AppError::Unprocessable(
            "recordScreen is false for this study: screen recordings are not recorded".into(),
        ));
    }
    if !session.consent.as_ref().is_some_and(|c| c.streams.screenshots) {
        return Err(AppError::Unprocessable("No consent for the screen stream (screenshots)".into()));
    }
    let tenant = caller.tenant()?;
    let duplicate = |recording| ScreenOut {
        session_id: session.id.to_string(),
        chunk_id: chunk_id.clone(),
        accepted: 0,
        duplicate: true,
        derived: 0,
        recording,
    };
    if let Some(id) = &chunk_id
        && state.store.has_chunk(&session.owner(), &session.id, id).await?
    {
        return Ok(duplicate(summary(state, &tenant, &session.id).await?.unwrap_or_else(empty)));
    }
    for _ in 0..APPEND_TRIES {
        let head = state.store.recording_head(&tenant, &session.id).await?;
        let (before, tape) = match &head {
            Some(h) => (
                h.summary.clone(),
                serde_json::from_slice(&gunzip(&h.state)?).unwrap_or_else(|_| Tape::new()),
            ),
            None => (RecordingSummary::default(), Tape::new()),
        };
        let now = state.now();
        let window = Some((session.started_at, now));
        let bytes = json.clone();
        let p = tokio::task::spawn_blocking(move || process(&bytes, tape, window))
            .await
            .map_err(|e| AppError::Internal(format!("recording task: {e}")))??;
        let problems = p.tape.problems(Some(p.last_ts));
        let after = RecordingSummary {
            chunks: before.chunks + 1,
            events: before.events + p.events,
            raw_bytes: before.raw_bytes + p.raw_bytes,
            stored_bytes: before.stored_bytes + i64::try_from(p.data.len()).unwrap_or(i64::MAX),
            first_ts: Some(before.first_ts.map_or(p.first_ts, |f| f.min(p.first_ts))),
            last_ts: Some(before.last_ts.map_or(p.last_ts, |l| l.max(p.last_ts))),
            full_snapshots: p.tape.full_snapshots,
            gaps: serde_json::to_string(&problems).unwrap_or_else(|_| "[]".into()),
        };
        let state_bytes = gzip(&serde_json::to_vec(&p.tape).map_err(|e| AppError::Internal(e.to_string()))?)?;
        let ids = new_ids(prefix::EVENT, now, p.derived.len());
        let derived =
            p.derived.into_iter().zip(ids).map(|(d, id)| event_row(d, id, task_id.as_deref())).collect();
        let append = ChunkAppend {
            after_chunks: before.chunks,
            chunk_id: chunk_id.clone(),
            first_ts: p.first_ts,
            last_ts: p.last_ts,
            events: p.events,
            raw_bytes: p.raw_bytes,
            data: p.data,
            summary: after.clone(),
            state: state_bytes,
            derived,
            now,
        };
        match state.store.append_chunk(&tenant, &session.id, SessionStatus::Active, append).await? {
            Guarded::Done(AppendOutcome::Stored { derived }) => {
                return Ok(ScreenOut {
                    session_id: session.id.to_string(),
                    chunk_id,
                    accepted: u64::try_from(p.events).unwrap_or(0),
                    duplicate: false,
                    derived,
                    recording: summary_out(&after),
                });
            }
            Guarded::Done(AppendOutcome::Duplicate) => {
                return Ok(duplicate(summary(state, &tenant, &session.id).await?.unwrap_or_else(empty)));
            }
            Guarded::Done(AppendOutcome::Raced) => continue,
            Guarded::NotFound => return Err(AppError::not_found("Session")),
            Guarded::WrongState(Refusal::NoConsent) => {
                return Err(AppError::Unprocessable("No consent for the screen stream (screenshots)".into()));
            }
            Guarded::WrongState(s) => {
                return Err(AppError::Unprocessable(format!(
                    "Session is {s}; data can only be sent to an active session"
                )));
            }
        }
    }
    Err(AppError::RateLimited(1))
}

fn empty() -> RecordingOut {
    summary_out(&RecordingSummary { gaps: "[]".into(), ..RecordingSummary::default() })
}

/// The recording's summary, if the session has one (tenant-checked by the store).
pub async fn summary(
    state: &App,
    tenant: &Tenant,
    session_id: &SessionId,
) -> AppResult<Option<RecordingOut>> {
    Ok(state.store.recording_head(tenant, session_id).await?.map(|h| summary_out(&h.summary)))
}

/// The summary for a session the caller has already been allowed to read.
pub async fn summary_of(state: &App, s: &Session) -> AppResult<Option<RecordingOut>> {
    summary(state, &s.owner(), &s.id).await
}

/// A chunk of the response body.
pub type Piece = Result<Vec<u8>, std::io::Error>;

/// `GET /api/sessions/:id/recording`: the session's readers get its recording as one JSON
/// array of (masked) rrweb events, streamed chunk by chunk; 404 when it has none.
pub async fn open(
    state: &App,
    caller: &Principal,
    session_id: &SessionId,
) -> AppResult<impl futures_util::Stream<Item = Piece> + use<>> {
    let session = sessions::authorize(state, caller, session_id, Access::Read).await?;
    let tenant = caller.tenant()?;
    if state.store.recording_head(&tenant, &session.id).await?.is_none() {
        return Err(AppError::not_found("Recording"));
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Piece>(2);
    let st = state.clone();
    tokio::spawn(async move {
        let fail = |e: AppError| std::io::Error::other(e.to_string());
        let mut after = 0;
        let mut first = true;
        if tx.send(Ok(b"[".to_vec())).await.is_err() {
            return;
        }
        loop {
            let page = match st.store.recording_chunks(&tenant, &session.id, after, READ_PAGE).await {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx.send(Err(fail(e.into()))).await;
                    return;
                }
            };
            let done = (page.len() as i64) < READ_PAGE;
            for (seq, data) in page {
                after = seq;
                let mut piece = match gunzip(&data) {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = tx.send(Err(fail(e))).await;
                        return;
                    }
                };
                if !first && !piece.is_empty() {
                    piece.insert(0, b',');
                }
                first &= piece.is_empty();
                if tx.send(Ok(piece)).await.is_err() {
                    return;
                }
            }
            if done {
                break;
            }
        }
        let _ = tx.send(Ok(b"]".to_vec())).await;
    });
    Ok(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|p| (p, rx)) }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        gzip(bytes).unwrap()
    }

    #[test]
    fn inflate_refuses_bombs_and_oversize_with_bounded_output() {
        let zeros = vec![b' '; 8 * 1024 * 1024];
        let bomb = gz(&zeros);
        let err = inflate_capped(&bomb, INFLATED_LIMIT, MAX_RATIO).unwrap_err();
        assert!(err.to_string().contains("ratio"), "{err}");
        let err = inflate_capped(&gz(&vec![b'x'; 3 * 1024 * 1024]), 2 * 1024 * 1024, 10_000).unwrap_err();
        assert!(err.to_string().contains("limit 2 MiB"), "{err}");
        assert_eq!(inflate_capped(&gz(b"[1,2]"), 100, 2).unwrap(), b"[1,2]");
        assert!(matches!(inflate_capped(b"not gzip", 100, 2), Err(AppError::BadRequest(_))));
    }
}
