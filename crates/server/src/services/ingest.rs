//! Ingestion of the extension's streams (spec §5): per-item validation, consent per stream,
//! idempotency by `clientId`, item-counted rate limits, one transaction per request.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::auth::principal::Principal;
use crate::domain::format_ms;
use crate::domain::ids::{new_ids, prefix};
use crate::error::{ApiError, ApiResult};
use crate::ratelimit::Quota;
use crate::services::sessions::{self, Access};
use crate::state::AppState;
use crate::store::{EventRow, FacialRow, Guarded, StreamBatch, VoiceRow};

/// Items per request.
pub const MAX_BATCH: usize = 1000;
/// Allowed event types.
pub const EVENT_TYPES: [&str; 7] = ["click", "scroll", "input", "focus", "blur", "navigation", "error"];
/// Allowed facial labels.
pub const EMOTIONS: [&str; 9] =
    ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "confused", "engaged"];
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const FUTURE_MS: i64 = 5 * 60 * 1000;

/// Which stream a request feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Events,
    Facial,
    Voice,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Events => "events",
            Stream::Facial => "facial",
            Stream::Voice => "voice",
        }
    }
}

/// Parses an RFC 3339 time into epoch milliseconds.
pub fn parse_time(s: &str) -> Result<i64, chrono::ParseError> {
    chrono::DateTime::parse_from_rfc3339(s.trim()).map(|d| d.timestamp_millis())
}

/// Timestamps more than 24 h before the session start or 5 min in the future are refused.
pub fn check_window(ts: i64, started_at: i64, now: i64) -> Result<(), &'static str> {
    if ts < started_at - DAY_MS {
        return Err("more than 24 h before the session start");
    }
    if ts > now + FUTURE_MS {
        return Err("more than 5 minutes in the future");
    }
    Ok(())
}

/// Request body of `/api/data/*`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngestIn {
    pub session_id: String,
    /// At most 1,000 items; each validated alone.
    #[schema(value_type = Vec<Object>)]
    pub batch: Vec<Value>,
}

/// One refused item.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rejection {
    pub index: usize,
    pub reason: String,
}

/// What happened to a batch. `accepted` items are durably stored when this is returned.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngestOut {
    pub session_id: String,
    pub accepted: u64,
    pub rejected: u64,
    /// Items whose `clientId` was already stored: nothing new was written for them.
    pub duplicates: u64,
    pub rejections: Vec<Rejection>,
}

/// Viewport size.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Viewport {
    pub width: i64,
    pub height: i64,
}

/// An event item, as ingested and as read back or exported.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub event_type: String,
    pub target_selector: String,
    pub timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scroll_y: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_length: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viewport: Option<Viewport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hover_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

impl EventItem {
    pub fn from_row(r: EventRow) -> Self {
        Self {
            client_id: r.client_id,
            event_type: r.event_type,
            target_selector: r.target_selector,
            timestamp: format_ms(r.ts),
            x: r.x,
            y: r.y,
            scroll_y: r.scroll_y,
            input_length: r.input_length,
            viewport: match (r.viewport_width, r.viewport_height) {
                (Some(width), Some(height)) => Some(Viewport { width, height }),
                _ => None,
            },
            url: r.url,
            target_text: r.target_text,
            task_id: r.task_id,
            hover_ms: r.hover_ms,
            error_message: r.error_message,
        }
    }
}

/// A facial item as ingested and exported (labels only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FacialItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub timestamp: String,
    pub emotion: String,
    pub confidence: f64,
    pub face_detected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub action_units: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_interval_ms: Option<i64>,
}

impl FacialItem {
    pub fn from_row(r: FacialRow) -> Self {
        Self {
            client_id: r.client_id,
            timestamp: format_ms(r.ts),
            emotion: r.emotion,
            confidence: r.confidence,
            face_detected: r.face_detected,
            action_units: r.action_units.and_then(|a| serde_json::from_str(&a).ok()),
            capture_interval_ms: r.capture_interval_ms,
        }
    }
}

/// A voice item as ingested and exported (transcript only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VoiceItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub timestamp: String,
    pub duration_ms: i64,
    pub transcript: String,
    pub confidence: f64,
}

impl VoiceItem {
    pub fn from_row(r: VoiceRow) -> Self {
        Self {
            client_id: r.client_id,
            timestamp: format_ms(r.ts),
            duration_ms: r.duration_ms,
            transcript: r.transcript,
            confidence: r.confidence,
        }
    }
}

/// Typed access to one item's fields, with reasons that name the field.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn get(&self, k: &str) -> Option<&Value> {
        self.0.get(k).filter(|v| !v.is_null())
    }
    fn req_str(&self, k: &str, max: usize) -> Result<String, String> {
        self.opt_str(k, max)?.ok_or_else(|| format!("Missing required field: {k}"))
    }
    fn opt_str(&self, k: &str, max: usize) -> Result<Option<String>, String> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
            Some(Value::String(_)) => Err(format!("Invalid field: {k} (at most {max} characters)")),
            Some(_) => Err(format!("Invalid field: {k} (expected a string)")),
        }
    }
    fn opt_f64(&self, k: &str) -> Result<Option<f64>, String> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|f| f.is_finite())
                .map(Some)
                .ok_or_else(|| format!("Invalid field: {k} (expected a number)")),
        }
    }
    fn opt_int(&self, k: &str, min: i64, max: i64) -> Result<Option<i64>, String> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .filter(|i| (min..=max).contains(i))
                .map(Some)
                .ok_or_else(|| format!("Invalid field: {k} (expected an integer from {min} to {max})")),
        }
    }
    fn req_unit(&self, k: &str) -> Result<f64, String> {
        match self.opt_f64(k)? {
            Some(f) if (0.0..=1.0).contains(&f) => Ok(f),
            Some(_) => Err(format!("Invalid field: {k} (expected a number from 0 to 1)")),
            None => Err(format!("Missing required field: {k}")),
        }
    }
    fn timestamp(&self, started_at: i64, now: i64) -> Result<i64, String> {
        let ts = match self.get("timestamp") {
            None => return Err("Missing required field: timestamp".into()),
            Some(Value::String(s)) => parse_time(s)
                .map_err(|_| "Invalid field: timestamp (expected an RFC 3339 time)".to_owned())?,
            Some(Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| "Invalid field: timestamp (expected epoch milliseconds)".to_owned())?,
            Some(_) => return Err("Invalid field: timestamp (expected an RFC 3339 time)".into()),
        };
        check_window(ts, started_at, now).map_err(|m| format!("Invalid field: timestamp ({m})"))?;
        Ok(ts)
    }
    fn client_id(&self) -> Result<Option<String>, String> {
        match self.opt_str("clientId", 64)? {
            Some(s) if s.is_empty() => Err("Invalid field: clientId (must not be empty)".into()),
            other => Ok(other),
        }
    }
    fn refuse(&self, keys: &[&str], what: &str) -> Result<(), String> {
        match keys.iter().find(|k| self.0.contains_key(**k)) {
            Some(k) => Err(format!("Field {k} is not accepted: {what}")),
            None => Ok(()),
        }
    }
}

fn as_object(v: &Value) -> Result<Fields<'_>, String> {
    v.as_object().map(Fields).ok_or_else(|| "Item must be a JSON object".to_owned())
}

fn event_row(v: &Value, id: String, started_at: i64, now: i64) -> Result<EventRow, String> {
    let f = as_object(v)?;
    f.refuse(
        &["value", "inputValue", "inputText", "rawInput"],
        "raw input text is never stored (send inputLength)",
    )?;
    let ts = f.timestamp(started_at, now)?;
    let event_type = f.req_str("eventType", 32)?;
    if !EVENT_TYPES.contains(&event_type.as_str()) {
        return Err(format!("Invalid field: eventType (one of {})", EVENT_TYPES.join(", ")));
    }
    let (viewport_width, viewport_height) = match f.get("viewport") {
        None => (None, None),
        Some(Value::Object(m)) => {
            let vp = Fields(m);
            let w = vp.opt_int("width", 1, 100_000).map_err(|e| e.replace("width", "viewport.width"))?;
            let h = vp.opt_int("height", 1, 100_000).map_err(|e| e.replace("height", "viewport.height"))?;
            match (w, h) {
                (Some(w), Some(h)) => (Some(w), Some(h)),
                _ => return Err("Invalid field: viewport (needs width and height)".into()),
            }
        }
        Some(_) => return Err("Invalid field: viewport (expected an object)".into()),
    };
    Ok(EventRow {
        id,
        client_id: f.client_id()?,
        ts,
        event_type,
        target_selector: f.req_str("targetSelector", 1024)?,
        x: f.opt_f64("x")?,
        y: f.opt_f64("y")?,
        scroll_y: f.opt_f64("scrollY")?,
        input_length: f.opt_int("inputLength", 0, 1_000_000)?,
        viewport_width,
        viewport_height,
        url: f.opt_str("url", 2048)?,
        target_text: f.opt_str("targetText", 200)?,
        task_id: f.opt_str("taskId", 64)?,
        hover_ms: f.opt_int("hoverMs", 0, 86_400_000)?,
        error_message: f.opt_str("errorMessage", 500)?,
    })
}

fn facial_row(v: &Value, id: String, started_at: i64, now: i64) -> Result<FacialRow, String> {
    let f = as_object(v)?;
    f.refuse(&["image", "imageData", "frame", "photo"], "image data is never stored")?;
    let ts = f.timestamp(started_at, now)?;
    let emotion = f.req_str("emotion", 16)?;
    if !EMOTIONS.contains(&emotion.as_str()) {
        return Err(format!("Invalid field: emotion (one of {})", EMOTIONS.join(", ")));
    }
    let face_detected = match f.get("faceDetected") {
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("Invalid field: faceDetected (expected true or false)".into()),
        None => return Err("Missing required field: faceDetected".into()),
    };
    let action_units = match f.get("actionUnits") {
        None => None,
        Some(Value::Object(m)) => {
            let ok = m.len() <= 64
                && m.iter().all(|(k, v)| {
                    k.strip_prefix("AU").is_some_and(|n| {
                        !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit())
                    }) && v.as_f64().is_some_and(|x| (0.0..=1.0).contains(&x))
                });
            if !ok {
                return Err("Invalid field: actionUnits (keys AUxx, values 0 to 1)".into());
            }
            Some(Value::Object(m.clone()).to_string())
        }
        Some(_) => return Err("Invalid field: actionUnits (expected an object)".into()),
    };
    Ok(FacialRow {
        id,
        client_id: f.client_id()?,
        ts,
        emotion,
        confidence: f.req_unit("confidence")?,
        face_detected,
        action_units,
        capture_interval_ms: f.opt_int("captureIntervalMs", 1, 3_600_000)?,
    })
}

fn voice_row(v: &Value, id: String, started_at: i64, now: i64) -> Result<VoiceRow, String> {
    let f = as_object(v)?;
    f.refuse(&["audio", "audioData", "recording"], "audio is never stored")?;
    Ok(VoiceRow {
        ts: f.timestamp(started_at, now)?,
        duration_ms: f.opt_int("durationMs", 0, 3_600_000)?.ok_or("Missing required field: durationMs")?,
        transcript: f.req_str("transcript", 5000)?,
        confidence: f.req_unit("confidence")?,
        client_id: f.client_id()?,
        id,
    })
}

/// Validates and stores one request's batch.
pub async fn ingest(
    state: &AppState,
    caller: &Principal,
    stream: Stream,
    body: IngestIn,
) -> ApiResult<IngestOut> {
    if body.batch.len() > MAX_BATCH {
        return Err(ApiError::PayloadTooLarge(format!("batch: at most {MAX_BATCH} items")));
    }
    let session = sessions::authorize(state, caller, &body.session_id, Access::Ingest).await?;
    if session.status != "active" {
        return Err(ApiError::Unprocessable(format!(
            "Session is {}; data can only be sent to an active session",
            session.status
        )));
    }
    let n = u32::try_from(body.batch.len()).unwrap_or(u32::MAX);
    if n > 0 {
        let quota = Quota { per_minute: state.config.rate_limits.ingest };
        let d = state.limiter.check(&format!("ingest:{}", session.id), quota, n).await;
        if !d.allowed {
            return Err(ApiError::RateLimited(d.retry_after_secs));
        }
    }
    let consented = match stream {
        Stream::Events => session.consent_events,
        Stream::Facial => session.consent_facial,
        Stream::Voice => session.consent_voice,
    };
    let now = state.now();
    let mut rejections = Vec::new();
    let batch = if !consented {
        let reason = format!("No consent for the {} stream", stream.name());
        rejections.extend((0..body.batch.len()).map(|index| Rejection { index, reason: reason.clone() }));
        None
    } else {
        let pfx = match stream {
            Stream::Events => prefix::EVENT,
            Stream::Facial => prefix::FACIAL,
            Stream::Voice => prefix::VOICE,
        };
        let ids = new_ids(pfx, now, body.batch.len());
        macro_rules! collect {
            ($parse:ident, $variant:ident) => {{
                let mut rows = Vec::with_capacity(body.batch.len());
                for (index, (item, id)) in body.batch.iter().zip(ids).enumerate() {
                    match $parse(item, id, session.started_at, now) {
                        Ok(r) => rows.push(r),
                        Err(reason) => rejections.push(Rejection { index, reason }),
                    }
                }
                StreamBatch::$variant(rows)
            }};
        }
        Some(match stream {
            Stream::Events => collect!(event_row, Events),
            Stream::Facial => collect!(facial_row, Facial),
            Stream::Voice => collect!(voice_row, Voice),
        })
    };
    let rejected = rejections.len() as u64;
    let (accepted, duplicates) = match batch {
        Some(b) if (body.batch.len() as u64) > rejected => match state.store.ingest(&session.id, b).await? {
            Guarded::Done(c) => (c.stored, c.duplicates),
            Guarded::NotFound => return Err(ApiError::not_found("Session")),
            Guarded::WrongState(s) => {
                return Err(ApiError::Unprocessable(format!(
                    "Session is {s}; data can only be sent to an active session"
                )));
            }
        },
        _ => (0, 0),
    };
    Ok(IngestOut { session_id: session.id, accepted, rejected, duplicates, rejections })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    const START: i64 = 1_800_000_000_000;

    #[test]
    fn event_items_are_checked_field_by_field() {
        let ok = json!({"eventType": "click", "targetSelector": "#pay", "timestamp": "2027-01-15T08:00:01.000Z", "x": 1.5, "viewport": {"width": 800, "height": 600}});
        let now = START + 10_000;
        let row = event_row(&ok, "evt_1".into(), START, now);
        assert!(row.is_ok(), "{row:?}");
        let cases = [
            (json!({"eventType": "click", "targetSelector": "#a"}), "Missing required field: timestamp"),
            (
                json!({"timestamp": "2027-01-15T08:00:01Z", "targetSelector": "#a"}),
                "Missing required field: eventType",
            ),
            (
                json!({"timestamp": "2027-01-15T08:00:01Z", "eventType": "hover", "targetSelector": "#a"}),
                "Invalid field: eventType",
            ),
            (
                json!({"timestamp": "yesterday", "eventType": "click", "targetSelector": "#a"}),
                "Invalid field: timestamp",
            ),
            (
                json!({"timestamp": "2027-01-15T08:00:01Z", "eventType": "input", "targetSelector": "#a", "value": "secret"}),
                "Field value is not accepted",
            ),
            (
                json!({"timestamp": "2027-01-15T08:00:01Z", "eventType": "click", "targetSelector": "x".repeat(1025)}),
                "Invalid field: targetSelector",
            ),
            (
                json!({"timestamp": "2027-01-15T08:00:01Z", "eventType": "click", "targetSelector": "#a", "inputLength": -1}),
                "Invalid field: inputLength",
            ),
            (json!("click"), "Item must be a JSON object"),
        ];
        for (item, want) in cases {
            let err = event_row(&item, "evt_1".into(), START, now).unwrap_err();
            assert!(err.starts_with(want), "{err} vs {want}");
        }
    }

    #[test]
    fn time_window() {
        assert!(check_window(START - DAY_MS, START, START).is_ok());
        assert!(check_window(START - DAY_MS - 1, START, START).is_err());
        assert!(check_window(START + FUTURE_MS, START, START).is_ok());
        assert!(check_window(START + FUTURE_MS + 1, START, START).is_err());
    }
}
