//! Input records of one session (api.md §4.1 and §5) and the NDJSON export parser.

use crate::thresholds::Thresholds;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A task of the study as seen by a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskMeta {
    /// `task_…` id.
    pub task_id: String,
    /// Task title shown to the tester.
    #[serde(default)]
    pub title: String,
    /// Position in the study.
    #[serde(default)]
    pub order: i64,
}

/// Line 1 of the export: the session and its study context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionMeta {
    /// `sess_…` id.
    pub session_id: String,
    /// `job_…` id of the study.
    #[serde(default)]
    pub job_id: String,
    /// A/B variant label, when the study runs one.
    #[serde(default)]
    pub variant: Option<String>,
    /// Session status (`completed`, `confirmed`, …).
    #[serde(default)]
    pub status: String,
    /// When the session started.
    pub started_at: Timestamp,
    /// When it completed, if it did.
    #[serde(default)]
    pub completed_at: Option<Timestamp>,
    /// Anonymised tester label (`Tester 3`).
    #[serde(default)]
    pub tester_label: String,
    /// The tester's ND categories (`adhd`, `dyslexia`, …).
    #[serde(default)]
    pub nd_categories: Vec<String>,
    /// The study's tasks.
    #[serde(default)]
    pub tasks: Vec<TaskMeta>,
    /// Study overrides of the default thresholds.
    #[serde(default)]
    pub analysis: Option<Thresholds>,
}

/// Kind of an interaction event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EventType {
    /// A pointer click or tap.
    Click,
    /// A scroll; `scrollY` carries the position.
    Scroll,
    /// A change of a field; `inputLength` carries its length (never its text).
    Input,
    /// An element or the page gained focus.
    Focus,
    /// An element or the page lost focus.
    Blur,
    /// The page changed; `url` is the new location.
    Navigation,
    /// The page reported an error.
    Error,
    /// Any type this version does not know; ignored by the signals.
    #[serde(other)]
    Other,
}

/// Viewport size at the time of an event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Viewport {
    /// Width in CSS pixels.
    pub width: f64,
    /// Height in CSS pixels.
    pub height: f64,
}

/// An interaction event (api.md §5, event item).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventItem {
    /// Event kind.
    pub event_type: EventType,
    /// CSS selector of the target element.
    #[serde(default)]
    pub target_selector: String,
    /// When it happened.
    pub timestamp: Timestamp,
    /// Pointer x.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<f64>,
    /// Pointer y.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<f64>,
    /// Scroll position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scroll_y: Option<f64>,
    /// Length of the field's value after an input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_length: Option<f64>,
    /// Viewport size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewport: Option<Viewport>,
    /// Page URL (for `navigation`, the new URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Visible text of the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_text: Option<String>,
    /// Task the tester was working on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// How long the pointer hovered before a click.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hover_ms: Option<f64>,
    /// Error text of an `error` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Client idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// On `input`: deletion keystrokes or cuts merged into this item by a recorder that sends
    /// one item per typing burst; each counts as a drop of the length (analysis.md §1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletions: Option<f64>,
    /// On `click`: characters of text selected right after it (a double or triple click).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection_length: Option<f64>,
    /// On `click`: DOM mutations seen within 1 s after it (the page responded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutations: Option<f64>,
    /// On `click`: the link opens a new tab or a download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opens_new_context: Option<bool>,
    /// The target's ARIA role or input type (`button`, `link`, `spinbutton`, `number`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// On `navigation`: words of visible text once the page settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub word_count: Option<f64>,
}

impl EventItem {
    /// A minimal event; convenient for callers and tests.
    pub fn new(event_type: EventType, selector: &str, timestamp_ms: i64) -> Self {
        Self {
            event_type,
            target_selector: selector.to_string(),
            timestamp: Timestamp(timestamp_ms),
            x: None,
            y: None,
            scroll_y: None,
            input_length: None,
            viewport: None,
            url: None,
            target_text: None,
            task_id: None,
            hover_ms: None,
            error_message: None,
            client_id: None,
            deletions: None,
            selection_length: None,
            mutations: None,
            opens_new_context: None,
            role: None,
            word_count: None,
        }
    }
}

/// A facial-expression snapshot (api.md §5, facial item). No image data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FacialItem {
    /// When it was captured.
    pub timestamp: Timestamp,
    /// `angry|disgust|fear|happy|sad|surprise|neutral|confused|engaged`.
    #[serde(default)]
    pub emotion: String,
    /// Classifier confidence 0..1.
    #[serde(default)]
    pub confidence: f64,
    /// Whether a face was found; without one the emotion means nothing.
    #[serde(default)]
    pub face_detected: bool,
    /// Facial action units 0..1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_units: Option<BTreeMap<String, f64>>,
    /// Capture interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_interval_ms: Option<f64>,
}

/// A transcribed voice segment (api.md §5, voice item). No audio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoiceItem {
    /// Start of the segment.
    pub timestamp: Timestamp,
    /// Length of the segment.
    #[serde(default)]
    pub duration_ms: f64,
    /// What was said.
    #[serde(default)]
    pub transcript: String,
    /// Transcription confidence 0..1.
    #[serde(default)]
    pub confidence: f64,
}

/// A think-aloud text note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoteItem {
    /// When it was written.
    pub timestamp: Timestamp,
    /// The note.
    #[serde(default)]
    pub text: String,
}

/// How a task attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// Done the intended way.
    Success,
    /// Done, but by a detour.
    Indirect,
    /// Not done.
    Fail,
    /// Given up.
    Abandon,
}

impl Outcome {
    /// `success` and `indirect` count as success (analysis.md §4).
    pub fn is_success(self) -> bool {
        matches!(self, Self::Success | Self::Indirect)
    }
}

/// One attempt at a task, from the tester's feedback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskAttempt {
    /// The task.
    pub task_id: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Single Ease Question 1..7.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<f64>,
    /// Start of the attempt.
    pub started_at: Timestamp,
    /// End of the attempt.
    pub ended_at: Timestamp,
}

/// Post-test questionnaire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Survey {
    /// The ten SUS answers 1..5, in questionnaire order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sus: Option<Vec<f64>>,
    /// Likelihood to recommend 0..10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nps: Option<f64>,
}

/// Everything the engine reads about one session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInput {
    /// Session metadata (export line 1).
    pub session: SessionMeta,
    /// Interaction events.
    #[serde(default)]
    pub events: Vec<EventItem>,
    /// Facial snapshots (absent without consent).
    #[serde(default)]
    pub facial: Vec<FacialItem>,
    /// Voice segments (absent without consent).
    #[serde(default)]
    pub voice: Vec<VoiceItem>,
    /// Think-aloud notes.
    #[serde(default)]
    pub notes: Vec<NoteItem>,
    /// Task attempts with outcomes.
    #[serde(default)]
    pub task_attempts: Vec<TaskAttempt>,
    /// Post-test survey.
    #[serde(default)]
    pub survey: Option<Survey>,
}

impl SessionInput {
    /// An empty session: metadata only.
    pub fn empty(session: SessionMeta) -> Self {
        Self {
            session,
            events: Vec::new(),
            facial: Vec::new(),
            voice: Vec::new(),
            notes: Vec::new(),
            task_attempts: Vec::new(),
            survey: None,
        }
    }
}

/// A line of the export that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number (0 when the error concerns the whole input, e.g. a file name).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for ParseError {}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
enum Line {
    Session(SessionMeta),
    Event(EventItem),
    Facial(FacialItem),
    Voice(VoiceItem),
    Note(NoteItem),
    TaskAttempt(TaskAttempt),
    Survey(Survey),
    /// Unknown kinds are skipped so that newer exports stay readable.
    #[serde(other)]
    Unknown,
}

/// Parses the NDJSON session export of api.md §4.1.
///
/// Blank lines are ignored; lines of an unknown `kind` are skipped; exactly one
/// `session` line is required. Items may come in any order.
pub fn parse_session_ndjson(text: &str) -> Result<SessionInput, ParseError> {
    let mut session = None;
    let mut input = SessionInput::empty(SessionMeta {
        session_id: String::new(),
        job_id: String::new(),
        variant: None,
        status: String::new(),
        started_at: Timestamp(0),
        completed_at: None,
        tester_label: String::new(),
        nd_categories: Vec::new(),
        tasks: Vec::new(),
        analysis: None,
    });
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let line: Line =
            serde_json::from_str(raw).map_err(|e| ParseError { line: line_no, reason: e.to_string() })?;
        match line {
            Line::Session(meta) => {
                if session.is_some() {
                    return Err(ParseError { line: line_no, reason: "a second \"session\" line".into() });
                }
                session = Some(meta);
            }
            Line::Event(e) => input.events.push(e),
            Line::Facial(f) => input.facial.push(f),
            Line::Voice(v) => input.voice.push(v),
            Line::Note(n) => input.notes.push(n),
            Line::TaskAttempt(a) => input.task_attempts.push(a),
            Line::Survey(s) => input.survey = Some(s),
            Line::Unknown => {}
        }
    }
    input.session =
        session.ok_or_else(|| ParseError { line: 1, reason: "missing the \"session\" line".into() })?;
    Ok(input)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_kinds() {
        let text = r##"{"kind":"session","sessionId":"sess_1","jobId":"job_1","variant":null,"status":"completed","startedAt":"2026-03-16T10:00:00.000Z","completedAt":"2026-03-16T10:10:00.000Z","testerLabel":"Tester 1","ndCategories":["adhd"],"tasks":[{"taskId":"task_1","title":"Buy","order":1}],"analysis":{"rageClickMaxGapMs":400}}
{"kind":"event","eventType":"click","targetSelector":"#pay","timestamp":"2026-03-16T10:00:01.000Z","url":"https://x.test/checkout"}

{"kind":"facial","timestamp":"2026-03-16T10:00:02.000Z","emotion":"angry","confidence":0.8,"faceDetected":true}
{"kind":"voice","timestamp":"2026-03-16T10:00:03.000Z","durationMs":1200,"transcript":"it doesn't work","confidence":0.9}
{"kind":"note","timestamp":"2026-03-16T10:00:04.000Z","text":"hmm"}
{"kind":"taskAttempt","taskId":"task_1","outcome":"fail","seq":2,"startedAt":"2026-03-16T10:00:00.000Z","endedAt":"2026-03-16T10:05:00.000Z"}
{"kind":"somethingNew","x":1}
{"kind":"survey","sus":[4,2,4,2,4,2,4,2,4,2],"nps":9}"##;
        let s = parse_session_ndjson(text).unwrap();
        assert_eq!(s.session.session_id, "sess_1");
        assert_eq!(s.events.len(), 1);
        assert_eq!(s.facial.len(), 1);
        assert_eq!(s.voice.len(), 1);
        assert_eq!(s.notes.len(), 1);
        assert_eq!(s.task_attempts[0].outcome, Outcome::Fail);
        assert_eq!(s.survey.unwrap().nps, Some(9.0));
        assert_eq!(s.session.analysis.unwrap().rage_click_max_gap_ms, 400.0);
    }

    #[test]
    fn reports_line_numbers() {
        let err = parse_session_ndjson("{\"kind\":\"session\",\"sessionId\":\"s\",\"startedAt\":\"2026-01-01T00:00:00Z\"}\n{\"kind\":\"event\"}").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.to_string().starts_with("line 2: "));
        let err = parse_session_ndjson("").unwrap_err();
        assert!(err.reason.contains("session"));
        let err = parse_session_ndjson("{\"kind\":\"event\",\"eventType\":\"click\",\"timestamp\":\"bad\"}")
            .unwrap_err();
        assert_eq!(err.line, 1);
    }
}
