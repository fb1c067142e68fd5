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

fn on(mut e: EventItem, url: &str, task: &str) -> EventItem {
    e.url = Some(url.to_string());
    e.task_id = Some(task.to_string());
    e
}

/// The "dead submit" scenario of analysis.md §2: a sign-up form whose submit button does
/// nothing. Within ten seconds the tester clicks it four times (300 ms apart), frowns
/// (`angry`, 0.8) and asks "is it broken"; a later click works and the task succeeds.
pub fn dead_submit_session() -> SessionInput {
    const URL: &str = "https://shop.test/signup";
    const TASK: &str = "task_signup";
    let mut m = meta("sess_dead_submit");
    m.completed_at = Some(Timestamp(T0 + 60_000));
    m.tasks = vec![TaskMeta { task_id: TASK.into(), title: "Create an account".into(), order: 1 }];
    let mut s = SessionInput::empty(m);
    let mut evs = vec![on(nav(URL, 1_000), URL, TASK), on(ev(EventType::Focus, "#email", 3_000), URL, TASK)];
    for k in 1..=5 {
        evs.push(on(input("#email", (k * 3) as f64, 3_000 + k * 300), URL, TASK));
    }
    evs.push(on(ev(EventType::Blur, "#email", 5_000), URL, TASK));
    evs.push(on(ev(EventType::Focus, "#password", 6_000), URL, TASK));
    for k in 1..=6 {
        evs.push(on(input("#password", (k * 2) as f64, 6_000 + k * 400), URL, TASK));
    }
    evs.push(on(ev(EventType::Blur, "#password", 9_500), URL, TASK));
    // Four clicks on the dead button, each ≤ 500 ms after the previous.
    for k in 0..4 {
        evs.push(on(click("#submit", 12_000 + k * 300), URL, TASK));
    }
    // The tester scrolls the form looking for a reason (no pause of 8 s, and the scroll
    // keeps the next click from being another unresponsive one); then the button responds.
    let mut sc = on(scroll(200.0, 16_000), URL, TASK);
    sc.target_selector = String::new();
    evs.push(sc);
    evs.push(on(click("#submit", 17_500), URL, TASK));
    evs.push(on(nav("https://shop.test/welcome", 18_000), "https://shop.test/welcome", TASK));
    s.events = evs;
    s.facial = (0..30)
        .map(|i| {
            let ms = i * 2_000;
            if ms == 14_000 { face(ms, "angry", 0.8, true) } else { face(ms, "neutral", 0.7, true) }
        })
        .collect();
    s.voice = vec![voice(1_500, "okay, let's make an account"), voice(15_000, "is it broken")];
    s.task_attempts = vec![TaskAttempt {
        task_id: TASK.into(),
        outcome: Outcome::Success,
        seq: Some(3.0),
        started_at: Timestamp(T0),
        ended_at: Timestamp(T0 + 18_500),
    }];
    s
}

/// The "behaviour-only dead control" scenario: no camera, no voice. A save button is
/// clicked in a four-click chain, once more 2 s later, and the task is then abandoned.
pub fn dead_control_session() -> SessionInput {
    const URL: &str = "https://shop.test/settings";
    const TASK: &str = "task_save";
    let mut m = meta("sess_dead_control");
    m.completed_at = Some(Timestamp(T0 + 20_000));
    m.tasks = vec![TaskMeta { task_id: TASK.into(), title: "Save your profile".into(), order: 1 }];
    let mut s = SessionInput::empty(m);
    let mut evs = vec![on(nav(URL, 1_000), URL, TASK), on(ev(EventType::Focus, "#name", 2_000), URL, TASK)];
    for k in 1..=6 {
        evs.push(on(input("#name", k as f64, 2_000 + k * 500), URL, TASK));
    }
    evs.push(on(ev(EventType::Blur, "#name", 5_500), URL, TASK));
    for k in 0..4 {
        evs.push(on(click("#save", 10_000 + k * 300), URL, TASK));
    }
    evs.push(on(click("#save", 13_000), URL, TASK));
    s.events = evs;
    s.task_attempts = vec![TaskAttempt {
        task_id: TASK.into(),
        outcome: Outcome::Abandon,
        seq: Some(1.0),
        started_at: Timestamp(T0),
        ended_at: Timestamp(T0 + 16_000),
    }];
    s
}
