//! What the analysis engine reads about a session, built from the store's typed rows (no
//! round trip through the export format), and the session facts the export header shares.

use openscouter_analysis::{
    EventItem, EventType, FacialItem, NoteItem, Outcome, SessionInput, SessionMeta, Survey, TaskAttempt,
    TaskMeta, Thresholds, Timestamp, Viewport, VoiceItem,
};
use serde::Deserialize;
use serde::de::IntoDeserializer;

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::store::{EventRow, FacialRow, NoteRow, Session, SessionStreams, Study, TaskAttemptRow, VoiceRow};

/// `Tester N`, stable within the study (`Tester` before a seat was numbered).
pub fn tester_label(s: &Session) -> String {
    s.label_no.map_or_else(|| "Tester".to_owned(), |n| format!("Tester {n}"))
}

/// The tester's ND categories as their profile states them.
pub fn nd_categories(s: &Session) -> Vec<String> {
    s.tester_profile.as_ref().map(|p| p.nd_categories.clone()).unwrap_or_default()
}

/// The study's threshold overrides, typed (validated when the study was written).
pub fn thresholds(study: &Study) -> AppResult<Option<Thresholds>> {
    study
        .definition
        .analysis
        .clone()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| AppError::Internal(format!("study {} has unreadable thresholds: {e}", study.id)))
}

/// Line 1 of the engine's input: the session in its study's context.
pub fn session_meta(s: &Session, study: &Study) -> AppResult<SessionMeta> {
    Ok(SessionMeta {
        session_id: s.id.to_string(),
        job_id: s.study_id.to_string(),
        variant: s.variant.clone(),
        status: s.status.to_string(),
        started_at: Timestamp(s.started_at),
        completed_at: s.completed_at.map(Timestamp),
        tester_label: tester_label(s),
        nd_categories: nd_categories(s),
        tasks: study
            .tasks
            .iter()
            .map(|t| TaskMeta { task_id: t.id.clone(), title: t.title.clone(), order: t.order })
            .collect(),
        analysis: thresholds(study)?,
    })
}

/// Loads every stream of `s` and assembles the engine's input.
pub async fn load(state: &App, s: &Session, study: &Study) -> AppResult<SessionInput> {
    let streams = state.store.session_streams(&s.owner(), &s.id).await?;
    assemble(session_meta(s, study)?, streams, s)
}

/// The typed input from the stored rows (pure).
pub fn assemble(meta: SessionMeta, streams: SessionStreams, s: &Session) -> AppResult<SessionInput> {
    let mut input = SessionInput::empty(meta);
    input.events = streams.events.into_iter().map(event).collect::<AppResult<_>>()?;
    input.facial = streams.facial.into_iter().map(facial).collect();
    input.voice = streams.voice.into_iter().map(voice).collect();
    input.notes = streams.notes.into_iter().map(note).collect();
    input.task_attempts = streams.attempts.into_iter().map(attempt).collect::<AppResult<_>>()?;
    let sus: Option<Vec<f64>> = s.sus.as_deref().and_then(|x| serde_json::from_str(x).ok());
    if sus.is_some() || s.nps.is_some() {
        input.survey = Some(Survey { sus, nps: s.nps.map(|n| n as f64) });
    }
    Ok(input)
}

/// Parses a stored word with the engine's own (serde) spelling.
fn word<'de, T: Deserialize<'de>>(text: &'de str, what: &str) -> AppResult<T> {
    T::deserialize(text.into_deserializer())
        .map_err(|e: serde::de::value::Error| AppError::Internal(format!("stored {what} {text:?}: {e}")))
}

fn event(r: EventRow) -> AppResult<EventItem> {
    let event_type: EventType = word(&r.event_type, "event type")?;
    Ok(EventItem {
        event_type,
        target_selector: r.target_selector,
        timestamp: Timestamp(r.ts),
        x: r.x,
        y: r.y,
        scroll_y: r.scroll_y,
        input_length: r.input_length.map(|n| n as f64),
        viewport: match (r.viewport_width, r.viewport_height) {
            (Some(w), Some(h)) => Some(Viewport { width: w as f64, height: h as f64 }),
            _ => None,
        },
        url: r.url,
        target_text: r.target_text,
        task_id: r.task_id,
        hover_ms: r.hover_ms.map(|n| n as f64),
        error_message: r.error_message,
        client_id: r.client_id,
        deletions: r.extra.deletions.map(|n| n as f64),
        selection_length: r.extra.selection_length.map(|n| n as f64),
        mutations: r.extra.mutations.map(|n| n as f64),
        opens_new_context: r.extra.opens_new_context,
        role: r.extra.role,
        word_count: r.extra.word_count.map(|n| n as f64),
    })
}

fn facial(r: FacialRow) -> FacialItem {
    FacialItem {
        timestamp: Timestamp(r.ts),
        emotion: r.emotion,
        confidence: r.confidence,
        face_detected: r.face_detected,
        action_units: r.action_units.and_then(|a| serde_json::from_str(&a).ok()),
        capture_interval_ms: r.capture_interval_ms.map(|n| n as f64),
    }
}

fn voice(r: VoiceRow) -> VoiceItem {
    VoiceItem {
        timestamp: Timestamp(r.ts),
        duration_ms: r.duration_ms as f64,
        transcript: r.transcript,
        confidence: r.confidence,
    }
}

fn note(r: NoteRow) -> NoteItem {
    NoteItem { timestamp: Timestamp(r.ts), text: r.text }
}

fn attempt(r: TaskAttemptRow) -> AppResult<TaskAttempt> {
    let outcome: Outcome = word(&r.outcome, "task outcome")?;
    Ok(TaskAttempt {
        task_id: r.task_id,
        outcome,
        seq: r.seq_score.map(|q| q as f64),
        started_at: Timestamp(r.started_at),
        ended_at: Timestamp(r.ended_at),
    })
}
