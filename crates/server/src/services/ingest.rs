//! Ingestion of the extension's streams (spec §5): per-item validation, consent per stream,
//! idempotency by `clientId`, item-counted rate limits, one transaction per request.

use std::fmt;

use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::principal::Principal;
use crate::domain::ids::{SessionId, new_ids, prefix};
use crate::domain::stream::{MAX_BATCH, check_window, parse_time};
use crate::domain::{SessionStatus, format_ms};
use crate::error::{AppError, AppResult};
use crate::ratelimit::Quota;
use crate::services::sessions::{self, Access};
use crate::store::{EventExtra, EventRow, FacialRow, Guarded, Refusal, Session, StreamBatch, VoiceRow};

/// Allowed event types.
pub const EVENT_TYPES: [&str; 7] = ["click", "scroll", "input", "focus", "blur", "navigation", "error"];
/// Allowed facial labels.
pub const EMOTIONS: [&str; 9] =
    ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "confused", "engaged"];

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

/// Request body of `/api/data/*`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngestIn {
    /// Also accepted as `session_id`.
    #[serde(alias = "session_id")]
    pub session_id: String,
    /// At most 1,000 items; each validated alone.
    #[schema(value_type = Vec<Object>, max_items = 1000)]
    pub batch: Vec<Item>,
}

/// One batch item as sent, read straight from the body without building a JSON map: the
/// fields of [`KEYS`] (a repeated key keeps its last value, as in a JSON object); any other
/// field is skipped. An item that is not an object is kept as such, to be refused alone.
#[derive(Debug, Default)]
pub struct Item {
    object: bool,
    fields: Vec<(u8, Value)>,
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a batch item")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
        let mut fields: Vec<(u8, Value)> = Vec::with_capacity(16);
        while let Some(KeyOf(key)) = map.next_key()? {
            let Some(k) = key else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let v: Value = map.next_value()?;
            match fields.iter_mut().find(|(x, _)| *x == k) {
                Some(slot) => slot.1 = v,
                None => fields.push((k, v)),
            }
        }
        Ok(Item { object: true, fields })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Item, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Item::default())
    }

    fn visit_bool<E>(self, _: bool) -> Result<Item, E> {
        Ok(Item::default())
    }

    fn visit_i64<E>(self, _: i64) -> Result<Item, E> {
        Ok(Item::default())
    }

    fn visit_u64<E>(self, _: u64) -> Result<Item, E> {
        Ok(Item::default())
    }

    fn visit_f64<E>(self, _: f64) -> Result<Item, E> {
        Ok(Item::default())
    }

    fn visit_str<E>(self, _: &str) -> Result<Item, E> {
        Ok(Item::default())
    }

    fn visit_unit<E>(self) -> Result<Item, E> {
        Ok(Item::default())
    }
}

/// An item's key: its index in [`KEYS`], `None` for a field ingestion does not read.
struct KeyOf(Option<u8>);

impl<'de> Deserialize<'de> for KeyOf {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyOf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, k: &str) -> Result<KeyOf, E> {
                Ok(KeyOf(key_index(k)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Every item field ingestion reads or refuses, under each accepted name: an item keeps only
/// these (unknown fields are skipped while the body is read, never stored). [`key_index`]
/// is its inverse; a test checks the two agree.
#[cfg(test)]
const KEYS: [&str; 64] = [
    "eventType",
    "event_type",
    "targetSelector",
    "target_selector",
    "timestamp",
    "x",
    "y",
    "scrollY",
    "scroll_y",
    "inputLength",
    "input_length",
    "viewport",
    "viewportWidth",
    "viewport_width",
    "viewportHeight",
    "viewport_height",
    "url",
    "targetText",
    "target_text",
    "taskId",
    "task_id",
    "hoverMs",
    "hover_ms",
    "time_on_element_ms",
    "errorMessage",
    "error_message",
    "clientId",
    "client_id",
    "deletions",
    "selectionLength",
    "selection_length",
    "mutations",
    "opensNewContext",
    "opens_new_context",
    "role",
    "wordCount",
    "word_count",
    "emotion",
    "confidence",
    "faceDetected",
    "face_detected",
    "actionUnits",
    "action_units",
    "captureIntervalMs",
    "capture_interval_ms",
    "durationMs",
    "duration_ms",
    "transcript",
    "value",
    "inputValue",
    "inputText",
    "rawInput",
    "input_value",
    "input_text",
    "raw_input",
    "image",
    "imageData",
    "image_data",
    "frame",
    "photo",
    "audio",
    "audioData",
    "audio_data",
    "recording",
];

/// The index of `k` in [`KEYS`] (a `match`: the compiler switches on the length first).
fn key_index(k: &str) -> Option<u8> {
    Some(match k {
        "eventType" => 0,
        "event_type" => 1,
        "targetSelector" => 2,
        "target_selector" => 3,
        "timestamp" => 4,
        "x" => 5,
        "y" => 6,
        "scrollY" => 7,
        "scroll_y" => 8,
        "inputLength" => 9,
        "input_length" => 10,
        "viewport" => 11,
        "viewportWidth" => 12,
        "viewport_width" => 13,
        "viewportHeight" => 14,
        "viewport_height" => 15,
        "url" => 16,
        "targetText" => 17,
        "target_text" => 18,
        "taskId" => 19,
        "task_id" => 20,
        "hoverMs" => 21,
        "hover_ms" => 22,
        "time_on_element_ms" => 23,
        "errorMessage" => 24,
        "error_message" => 25,
        "clientId" => 26,
        "client_id" => 27,
        "deletions" => 28,
        "selectionLength" => 29,
        "selection_length" => 30,
        "mutations" => 31,
        "opensNewContext" => 32,
        "opens_new_context" => 33,
        "role" => 34,
        "wordCount" => 35,
        "word_count" => 36,
        "emotion" => 37,
        "confidence" => 38,
        "faceDetected" => 39,
        "face_detected" => 40,
        "actionUnits" => 41,
        "action_units" => 42,
        "captureIntervalMs" => 43,
        "capture_interval_ms" => 44,
        "durationMs" => 45,
        "duration_ms" => 46,
        "transcript" => 47,
        "value" => 48,
        "inputValue" => 49,
        "inputText" => 50,
        "rawInput" => 51,
        "input_value" => 52,
        "input_text" => 53,
        "raw_input" => 54,
        "image" => 55,
        "imageData" => 56,
        "image_data" => 57,
        "frame" => 58,
        "photo" => 59,
        "audio" => 60,
        "audioData" => 61,
        "audio_data" => 62,
        "recording" => 63,
        _ => return None,
    })
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
    /// On `input`: deletion keystrokes or cuts merged into this item by a recorder that sends
    /// one item per typing burst (0 to 100,000); the engine counts each as a drop of the length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletions: Option<i64>,
    /// On `click`: characters of text selected right after the click (a double or triple
    /// click selecting a word or a paragraph). Also `selection_length`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection_length: Option<i64>,
    /// On `click`: DOM mutations seen within 1 s after the click (the page responded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mutations: Option<i64>,
    /// On `click`: the link opens a new tab or a download. Also `opens_new_context`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opens_new_context: Option<bool>,
    /// The target's ARIA role or input type (`button`, `link`, `spinbutton`, `number`, …; ≤ 64).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// On `navigation`: words of visible text once the page settled. Also `word_count`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub word_count: Option<i64>,
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
            deletions: r.extra.deletions,
            selection_length: r.extra.selection_length,
            mutations: r.extra.mutations,
            opens_new_context: r.extra.opens_new_context,
            role: r.extra.role,
            word_count: r.extra.word_count,
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

/// The other names an item field is accepted under: the snake_case of the docs' data-flows
/// page (api.md §5), and its `time_on_element_ms` for the hover time.
fn aliases(k: &str) -> &'static [&'static str] {
    match k {
        "eventType" => &["event_type"],
        "targetSelector" => &["target_selector"],
        "scrollY" => &["scroll_y"],
        "inputLength" => &["input_length"],
        "targetText" => &["target_text"],
        "taskId" => &["task_id"],
        "hoverMs" => &["hover_ms", "time_on_element_ms"],
        "errorMessage" => &["error_message"],
        "clientId" => &["client_id"],
        "faceDetected" => &["face_detected"],
        "actionUnits" => &["action_units"],
        "captureIntervalMs" => &["capture_interval_ms"],
        "durationMs" => &["duration_ms"],
        "viewportWidth" => &["viewport_width"],
        "viewportHeight" => &["viewport_height"],
        "selectionLength" => &["selection_length"],
        "opensNewContext" => &["opens_new_context"],
        "wordCount" => &["word_count"],
        _ => &[],
    }
}

/// What an item's fields are read from: a batch item, or a nested object (the viewport).
trait Lookup {
    /// The value under exactly this name (`null` included).
    fn raw(&self, k: &str) -> Option<&Value>;
}

impl Lookup for Map<String, Value> {
    fn raw(&self, k: &str) -> Option<&Value> {
        self.get(k)
    }
}

impl Lookup for Item {
    fn raw(&self, k: &str) -> Option<&Value> {
        let i = key_index(k)?;
        self.fields.iter().find(|(x, _)| *x == i).map(|(_, v)| v)
    }
}

/// Typed access to one item's fields, with reasons that name the field (by its camelCase name).
struct Fields<'a, L: Lookup + ?Sized>(&'a L);

impl<L: Lookup + ?Sized> Fields<'_, L> {
    /// The field under its camelCase name or an alias; `null` counts as absent.
    fn get(&self, k: &str) -> Option<&Value> {
        let found = self.0.raw(k).or_else(|| aliases(k).iter().find_map(|a| self.0.raw(a)));
        found.filter(|v| !v.is_null())
    }
    fn req_str(&self, k: &str, max: usize) -> Result<String, String> {
        self.opt_str(k, max)?.ok_or_else(|| format!("Missing required field: {k}"))
    }
    fn opt_str(&self, k: &str, max: usize) -> Result<Option<String>, String> {
        match self.get(k) {
            None => Ok(None),
            // A string of at most `max` bytes has at most `max` characters: no count needed.
            Some(Value::String(s)) if s.len() <= max || s.chars().count() <= max => Ok(Some(s.clone())),
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
    fn opt_bool(&self, k: &str) -> Result<Option<bool>, String> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(format!("Invalid field: {k} (expected true or false)")),
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
        match keys.iter().find(|k| self.0.raw(k).is_some()) {
            Some(k) => Err(format!("Field {k} is not accepted: {what}")),
            None => Ok(()),
        }
    }
}

fn as_object(v: &Item) -> Result<Fields<'_, Item>, String> {
    if v.object { Ok(Fields(v)) } else { Err("Item must be a JSON object".to_owned()) }
}

/// Fields that would carry what the streams never store, per stream.
const RAW_INPUT: [&str; 7] =
    ["value", "inputValue", "inputText", "rawInput", "input_value", "input_text", "raw_input"];
const IMAGE: [&str; 5] = ["image", "imageData", "image_data", "frame", "photo"];
const AUDIO: [&str; 4] = ["audio", "audioData", "audio_data", "recording"];

fn event_row(v: &Item, id: String, started_at: i64, now: i64) -> Result<EventRow, String> {
    let f = as_object(v)?;
    f.refuse(&RAW_INPUT, "raw input text is never stored (send inputLength)")?;
    let ts = f.timestamp(started_at, now)?;
    let event_type = f.req_str("eventType", 32)?;
    if !EVENT_TYPES.contains(&event_type.as_str()) {
        return Err(format!("Invalid field: eventType (one of {})", EVENT_TYPES.join(", ")));
    }
    let (viewport_width, viewport_height) = match f.get("viewport") {
        // The data-flows page sends the viewport flat.
        None if f.get("viewportWidth").is_some() || f.get("viewportHeight").is_some() => {
            let w = f.opt_int("viewportWidth", 1, 100_000)?;
            let h = f.opt_int("viewportHeight", 1, 100_000)?;
            match (w, h) {
                (Some(w), Some(h)) => (Some(w), Some(h)),
                _ => return Err("Invalid field: viewport (needs width and height)".into()),
            }
        }
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
        extra: EventExtra {
            deletions: f.opt_int("deletions", 0, 100_000)?,
            selection_length: f.opt_int("selectionLength", 0, 10_000_000)?,
            mutations: f.opt_int("mutations", 0, 10_000_000)?,
            opens_new_context: f.opt_bool("opensNewContext")?,
            role: f.opt_str("role", 64)?,
            word_count: f.opt_int("wordCount", 0, 10_000_000)?,
        },
    })
}

fn facial_row(v: &Item, id: String, started_at: i64, now: i64) -> Result<FacialRow, String> {
    let f = as_object(v)?;
    f.refuse(&IMAGE, "image data is never stored")?;
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

fn voice_row(v: &Item, id: String, started_at: i64, now: i64) -> Result<VoiceRow, String> {
    let f = as_object(v)?;
    f.refuse(&AUDIO, "audio is never stored")?;
    Ok(VoiceRow {
        ts: f.timestamp(started_at, now)?,
        duration_ms: f.opt_int("durationMs", 0, 3_600_000)?.ok_or("Missing required field: durationMs")?,
        transcript: f.req_str("transcript", 5000)?,
        confidence: f.req_unit("confidence")?,
        client_id: f.client_id()?,
        id,
    })
}

/// The study's settings decide which streams it records (api.md §11): a stream it does not
/// record is refused per item, the reason naming the setting. `None` when it is recorded.
async fn not_recorded(state: &App, session: &Session, stream: Stream) -> AppResult<Option<String>> {
    let setting = match stream {
        Stream::Events => return Ok(None),
        Stream::Facial => "recordFacial",
        Stream::Voice => "recordVoice",
    };
    let study = sessions::study_of(state, session).await?;
    let settings = &study.definition.settings;
    let recorded = match stream {
        Stream::Facial => settings.record_facial,
        _ => settings.record_voice,
    };
    Ok((!recorded)
        .then(|| format!("{setting} is false for this study: {} items are not recorded", stream.name())))
}

/// Validates and stores one request's batch.
pub async fn ingest(state: &App, caller: &Principal, stream: Stream, body: IngestIn) -> AppResult<IngestOut> {
    if body.batch.len() > MAX_BATCH {
        return Err(AppError::PayloadTooLarge(format!("batch: at most {MAX_BATCH} items")));
    }
    let session =
        sessions::authorize(state, caller, &SessionId::from(body.session_id.as_str()), Access::Ingest)
            .await?;
    if session.status != SessionStatus::Active {
        return Err(AppError::Unprocessable(format!(
            "Session is {}; data can only be sent to an active session",
            session.status
        )));
    }
    let n = u32::try_from(body.batch.len()).unwrap_or(u32::MAX);
    if n > 0 {
        let quota = Quota { per_minute: state.config.rate_limits.ingest };
        let d = state.limiter.check(&format!("ingest:{}", session.id), quota, n).await;
        if !d.allowed {
            return Err(AppError::RateLimited(d.retry_after_secs));
        }
    }
    let consented = match stream {
        Stream::Events => session.consent_events,
        Stream::Facial => session.consent_facial,
        Stream::Voice => session.consent_voice,
    };
    let refused = match not_recorded(state, &session, stream).await? {
        Some(reason) => Some(reason),
        None => (!consented).then(|| format!("No consent for the {} stream", stream.name())),
    };
    let now = state.now();
    let mut rejections = Vec::new();
    let batch = if let Some(reason) = refused {
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
    let pre_rejected = rejections.len() as u64;
    let (accepted, duplicates) = match batch {
        Some(b) if (body.batch.len() as u64) > pre_rejected => {
            match state.store.ingest(&caller.tenant()?, &session.id, SessionStatus::Active, b).await? {
                Guarded::Done(c) => (c.stored, c.duplicates),
                Guarded::NotFound => return Err(AppError::not_found("Session")),
                Guarded::WrongState(Refusal::NoConsent) => {
                    // Consent was withdrawn between the check above and the insert: nothing stored.
                    let reason = format!("No consent for the {} stream", stream.name());
                    rejections = (0..body.batch.len())
                        .map(|index| Rejection { index, reason: reason.clone() })
                        .collect();
                    (0, 0)
                }
                Guarded::WrongState(s) => {
                    return Err(AppError::Unprocessable(format!(
                        "Session is {s}; data can only be sent to an active session"
                    )));
                }
            }
        }
        _ => (0, 0),
    };
    let rejected = rejections.len() as u64;
    Ok(IngestOut { session_id: session.id.into(), accepted, rejected, duplicates, rejections })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    const START: i64 = 1_800_000_000_000;

    fn item(v: &Value) -> Item {
        serde_json::from_value(v.clone()).unwrap()
    }

    #[test]
    fn every_field_name_read_is_kept_while_parsing() {
        let camel = [
            "eventType",
            "targetSelector",
            "timestamp",
            "x",
            "y",
            "scrollY",
            "inputLength",
            "viewport",
            "viewportWidth",
            "viewportHeight",
            "url",
            "targetText",
            "taskId",
            "hoverMs",
            "errorMessage",
            "clientId",
            "deletions",
            "selectionLength",
            "mutations",
            "opensNewContext",
            "role",
            "wordCount",
            "emotion",
            "confidence",
            "faceDetected",
            "actionUnits",
            "captureIntervalMs",
            "durationMs",
            "transcript",
        ];
        let names = camel.iter().flat_map(|k| std::iter::once(k).chain(aliases(k)));
        for k in names.chain(RAW_INPUT.iter()).chain(IMAGE.iter()).chain(AUDIO.iter()) {
            assert_eq!(key_index(k).map(|i| KEYS[usize::from(i)]), Some(*k), "{k}");
        }
        assert_eq!(key_index("scroll_depth"), None);
    }

    #[test]
    fn items_read_like_json_objects() {
        let now = START + 10_000;
        // A camelCase null hides its alias (null is absent); a repeated key keeps its last value.
        let shadowed =
            json!({"eventType": null, "event_type": "click", "targetSelector": "#a", "timestamp": START});
        assert_eq!(
            event_row(&item(&shadowed), "evt_1".into(), START, now).unwrap_err(),
            "Missing required field: eventType"
        );
        let body = format!(
            r##"{{"eventType": "hover", "eventType": "click", "targetSelector": "#a", "timestamp": {START}, "extra": {{"deep": [1, {{"x": 2}}]}}}}"##
        );
        let it: Item = serde_json::from_str(&body).unwrap();
        assert_eq!(event_row(&it, "evt_1".into(), START, now).unwrap().event_type, "click");
        // A refused field counts even when null.
        let raw = json!({"eventType": "input", "targetSelector": "#a", "timestamp": START, "value": null});
        assert!(event_row(&item(&raw), "evt_1".into(), START, now).unwrap_err().starts_with("Field value"));
        for v in [json!([1, 2]), json!(null), json!(true), json!(1.5), json!("x")] {
            assert_eq!(
                event_row(&item(&v), "evt_1".into(), START, now).unwrap_err(),
                "Item must be a JSON object"
            );
        }
    }

    #[test]
    fn event_items_are_checked_field_by_field() {
        let ok = json!({"eventType": "click", "targetSelector": "#pay", "timestamp": "2027-01-15T08:00:01.000Z", "x": 1.5, "viewport": {"width": 800, "height": 600}});
        let now = START + 10_000;
        let row = event_row(&item(&ok), "evt_1".into(), START, now);
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
        for (it, want) in cases {
            let err = event_row(&item(&it), "evt_1".into(), START, now).unwrap_err();
            assert!(err.starts_with(want), "{err} vs {want}");
        }
    }

    #[test]
    fn snake_case_items_with_epoch_ms_are_accepted() {
        // The docs' data-flows examples, verbatim but for the timestamps (moved into the window).
        let now = START + 10_000;
        let event = json!({"session_id": "sess_abc123", "event_type": "click", "timestamp": START + 1_000, "x": 452, "y": 318,
            "target_selector": "#nav-menu > li:nth-child(3) > a", "target_text": "Settings", "scroll_depth": 0.34,
            "time_on_element_ms": 2800, "is_rage_click": false, "viewport_width": 1440, "viewport_height": 900,
            "url": "https://example.com/dashboard", "task_id": "task_7"});
        let row = event_row(&item(&event), "evt_1".into(), START, now).unwrap();
        assert_eq!(
            (row.ts, row.event_type.as_str(), row.target_selector.as_str()),
            (START + 1_000, "click", "#nav-menu > li:nth-child(3) > a")
        );
        assert_eq!(
            (row.hover_ms, row.viewport_width, row.viewport_height),
            (Some(2800), Some(1440), Some(900))
        );
        assert_eq!((row.target_text.as_deref(), row.task_id.as_deref()), (Some("Settings"), Some("task_7")));
        let facial = json!({"session_id": "sess_abc123", "snapshot_id": "snap_xyz789", "timestamp": START + 4_200, "emotion": "confused",
            "confidence": 0.81, "action_units": {"AU04": 0.72, "AU07": 0.45, "AU23": 0.38}, "capture_interval_ms": 2000,
            "face_detected": true});
        let row = facial_row(&item(&facial), "fac_1".into(), START, now).unwrap();
        assert_eq!(
            (row.face_detected, row.capture_interval_ms, row.action_units.is_some()),
            (true, Some(2000), true)
        );
        let voice = json!({"timestamp": START + 5_000, "duration_ms": 1200, "transcript": "where is it", "confidence": 0.9});
        assert_eq!(voice_row(&item(&voice), "voc_1".into(), START, now).unwrap().duration_ms, 1200);
        let raw = json!({"event_type": "input", "target_selector": "#a", "timestamp": START, "input_value": "secret"});
        assert!(
            event_row(&item(&raw), "evt_2".into(), START, now)
                .unwrap_err()
                .starts_with("Field input_value is not accepted")
        );
    }
}
