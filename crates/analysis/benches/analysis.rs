//! Benchmarks of analysis.md §6: one 20,000-event session and a 100-session study.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use openscouter_analysis::*;
use std::hint::black_box;

const T0: i64 = 1_773_655_200_000;

/// SplitMix64 (Steele, Lea & Flood 2014): a fixed-seed generator for synthetic data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A 45-minute session with `events` events, `faces` facial snapshots and `voices` voice
/// segments, mixing every event type across 40 selectors and 12 pages.
fn session(seed: u64, events: usize, faces: usize, voices: usize) -> SessionInput {
    let mut r = Rng(seed);
    let span = 45 * 60 * 1000;
    let meta = SessionMeta {
        session_id: format!("sess_{seed:04}"),
        job_id: "job_bench".into(),
        variant: Some(if seed.is_multiple_of(2) { "A" } else { "B" }.into()),
        status: "completed".into(),
        started_at: Timestamp(T0),
        completed_at: Some(Timestamp(T0 + span)),
        tester_label: format!("Tester {}", seed + 1),
        nd_categories: vec![["adhd", "autism", "dyslexia", "anxiety"][(seed % 4) as usize].into()],
        tasks: (0..5)
            .map(|i| TaskMeta { task_id: format!("task_{i}"), title: format!("Task {i}"), order: i })
            .collect(),
        analysis: None,
    };
    let mut s = SessionInput::empty(meta);
    let types = [
        EventType::Click,
        EventType::Click,
        EventType::Click,
        EventType::Scroll,
        EventType::Scroll,
        EventType::Input,
        EventType::Focus,
        EventType::Blur,
        EventType::Navigation,
        EventType::Error,
    ];
    let mut t = 0i64;
    for _ in 0..events {
        t += r.below(2 * span as u64 / events as u64) as i64;
        let ty = types[r.below(types.len() as u64) as usize];
        let mut e = EventItem::new(ty, &format!("#el-{}", r.below(40)), T0 + t.min(span));
        e.url = Some(format!("https://app.test/page-{}", r.below(12)));
        e.task_id = Some(format!("task_{}", (t * 5 / span).min(4)));
        match ty {
            EventType::Scroll => e.scroll_y = Some(r.below(3_000) as f64),
            EventType::Input => e.input_length = Some(r.below(30) as f64),
            EventType::Click if r.below(10) == 0 => e.hover_ms = Some(r.below(6_000) as f64),
            EventType::Error => e.error_message = Some("Something went wrong".into()),
            _ => {}
        }
        s.events.push(e);
    }
    let emotions = ["neutral", "happy", "angry", "confused", "sad", "engaged"];
    for i in 0..faces {
        s.facial.push(FacialItem {
            timestamp: Timestamp(T0 + i as i64 * (span / faces as i64)),
            emotion: emotions[r.below(6) as usize].into(),
            confidence: r.below(100) as f64 / 100.0,
            face_detected: r.below(10) != 0,
            action_units: None,
            capture_interval_ms: Some(3_000.0),
        });
    }
    let lines = [
        "I can't find the settings page",
        "okay that was easy",
        "this is confusing, too much text",
        "where is the save button",
        "fine, next one",
    ];
    for i in 0..voices {
        s.voice.push(VoiceItem {
            timestamp: Timestamp(T0 + i as i64 * (span / voices as i64)),
            duration_ms: 4_000.0,
            transcript: lines[r.below(5) as usize].into(),
            confidence: 0.9,
        });
    }
    for i in 0..5 {
        let o = [Outcome::Success, Outcome::Indirect, Outcome::Fail, Outcome::Abandon][r.below(4) as usize];
        s.task_attempts.push(TaskAttempt {
            task_id: format!("task_{i}"),
            outcome: o,
            seq: Some((1 + r.below(7)) as f64),
            started_at: Timestamp(T0 + i * span / 5),
            ended_at: Timestamp(T0 + (i + 1) * span / 5 - 1),
        });
    }
    s.survey = Some(Survey {
        sus: Some((0..10).map(|_| (1 + r.below(5)) as f64).collect()),
        nps: Some(r.below(11) as f64),
    });
    s
}

fn bench_session(c: &mut Criterion) {
    let s = session(7, 20_000, 900, 100);
    if std::env::var("ENGINE_DUMP").is_ok() {
        let a = analyze_session(&s);
        let sig: usize = a.findings.iter().map(|f| f.evidence.len()).sum();
        eprintln!(
            "signals {} findings {} evidence {} timeline {}",
            a.signals.len(),
            a.findings.len(),
            sig,
            serde_json::to_string(&a.timeline).unwrap().len()
        );
        let mut all = serde_json::to_string(&a).unwrap();
        for i in 0..30u64 {
            let s = session(100 + i, 2_000 + 37 * i as usize, 90, 10 + i as usize);
            let a = analyze_session(&s);
            all.push_str(&serde_json::to_string(&a).unwrap());
            let c = ConfirmedSession::all_confirmed(s, a);
            let m = StudyMeta {
                job_id: "j".into(),
                title: "t".into(),
                tasks: Vec::new(),
                nd_categories: vec!["adhd".into()],
                variants: vec!["A".into(), "B".into()],
            };
            all.push_str(&serde_json::to_string(&synthesize_study(&[c], &m)).unwrap());
        }
        std::fs::write(std::env::var("ENGINE_DUMP").unwrap(), all).unwrap();
    }
    c.bench_function("analyze_session 20k events + 900 facial + 100 voice", |b| {
        b.iter(|| analyze_session(black_box(&s)))
    });
}

fn bench_study(c: &mut Criterion) {
    let sessions: Vec<ConfirmedSession> = (0..100)
        .map(|i| {
            let s = session(i, 2_000, 90, 10);
            let a = analyze_session(&s);
            ConfirmedSession::all_confirmed(s, a)
        })
        .collect();
    let meta = StudyMeta {
        job_id: "job_bench".into(),
        title: "Bench".into(),
        tasks: Vec::new(),
        nd_categories: vec!["adhd".into()],
        variants: vec!["A".into(), "B".into()],
    };
    if let Ok(p) = std::env::var("ENGINE_DUMP_STUDY") {
        let mut all = String::new();
        for _ in 0..2 {
            all.push_str(&serde_json::to_string(&synthesize_study(&sessions, &meta)).unwrap());
        }
        std::fs::write(p, all).unwrap();
    }
    c.bench_function("synthesize_study 100 sessions", |b| {
        b.iter(|| synthesize_study(black_box(&sessions), black_box(&meta)))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench_session, bench_study
}
criterion_main!(benches);
