//! Builders shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use openscouter_analysis::*;

pub const T0: i64 = 1_773_655_200_000; // 2026-03-16T10:00:00Z

pub fn meta(id: &str) -> SessionMeta {
    SessionMeta {
        session_id: id.to_string(),
        job_id: "job_1".into(),
        variant: None,
        status: "completed".into(),
        started_at: Timestamp(T0),
        completed_at: Some(Timestamp(T0 + 600_000)),
        tester_label: "Tester 1".into(),
        nd_categories: vec!["adhd".into()],
        tasks: vec![TaskMeta { task_id: "task_1".into(), title: "Buy".into(), order: 1 }],
        analysis: None,
    }
}

pub fn session(events: Vec<EventItem>) -> SessionInput {
    let mut s = SessionInput::empty(meta("sess_1"));
    s.events = events;
    s
}

pub fn ev(t: EventType, sel: &str, ms: i64) -> EventItem {
    let mut e = EventItem::new(t, sel, T0 + ms);
    e.url = Some("https://shop.test/checkout".into());
    e
}

pub fn click(sel: &str, ms: i64) -> EventItem {
    ev(EventType::Click, sel, ms)
}

pub fn nav(url: &str, ms: i64) -> EventItem {
    let mut e = EventItem::new(EventType::Navigation, "", T0 + ms);
    e.url = Some(url.to_string());
    e
}

pub fn scroll(y: f64, ms: i64) -> EventItem {
    let mut e = ev(EventType::Scroll, "", ms);
    e.scroll_y = Some(y);
    e
}

pub fn input(sel: &str, len: f64, ms: i64) -> EventItem {
    let mut e = ev(EventType::Input, sel, ms);
    e.input_length = Some(len);
    e
}

pub fn error(sel: &str, ms: i64) -> EventItem {
    let mut e = ev(EventType::Error, sel, ms);
    e.error_message = Some("Payment failed".into());
    e
}

pub fn face(ms: i64, emotion: &str, confidence: f64, detected: bool) -> FacialItem {
    FacialItem {
        timestamp: Timestamp(T0 + ms),
        emotion: emotion.into(),
        confidence,
        face_detected: detected,
        action_units: None,
        capture_interval_ms: None,
    }
}

pub fn voice(ms: i64, text: &str) -> VoiceItem {
    VoiceItem {
        timestamp: Timestamp(T0 + ms),
        duration_ms: 2_000.0,
        transcript: text.into(),
        confidence: 0.9,
    }
}

pub fn kinds(a: &SessionAnalysis) -> Vec<SignalKind> {
    a.signals.iter().map(|s| s.kind).collect()
}

pub fn count(a: &SessionAnalysis, k: SignalKind) -> usize {
    a.signals.iter().filter(|s| s.kind == k).count()
}

pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}
