//! Property tests of analysis.md §6: determinism and order independence, bounds,
//! monotonicity; of the §2 peak envelope; and of the §3 candidate rule.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use openscouter_analysis::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

const SELECTORS: [&str; 5] = ["#a", "#b", "#pay", "", "window"];
const URLS: [&str; 4] = ["https://x.test/", "https://x.test/a", "https://x.test/b?q=1", ""];
const EMOTIONS: [&str; 6] = ["angry", "happy", "confused", "neutral", "sad", "bogus"];
const SPEECH: [&str; 5] =
    ["I can't find it", "great, easy", "this is terrible", "too much text to read here", ""];
const TYPES: [EventType; 8] = [
    EventType::Click,
    EventType::Click,
    EventType::Scroll,
    EventType::Input,
    EventType::Focus,
    EventType::Blur,
    EventType::Navigation,
    EventType::Error,
];

fn event(span: i64) -> impl Strategy<Value = EventItem> {
    (
        0usize..TYPES.len(),
        0usize..SELECTORS.len(),
        0..=span,
        proptest::option::of(0usize..URLS.len()),
        proptest::option::of(0.0f64..6_000.0),
        proptest::option::of(-100.0f64..2_000.0),
        proptest::option::of(0.0f64..30.0),
        proptest::option::of(prop_oneof![Just("task_1"), Just("task_2")]),
    )
        .prop_map(|(t, s, ms, url, hover, y, len, task)| {
            let mut e = EventItem::new(TYPES[t], SELECTORS[s], T0 + ms);
            e.url = url.map(|u| URLS[u].to_string());
            e.hover_ms = hover;
            e.scroll_y = y;
            e.input_length = len;
            e.task_id = task.map(str::to_string);
            if TYPES[t] == EventType::Error {
                e.error_message = Some("boom".into());
            }
            e
        })
}

fn face_item(span: i64) -> impl Strategy<Value = FacialItem> {
    (0..=span, 0usize..EMOTIONS.len(), 0.0f64..=1.0, any::<bool>())
        .prop_map(|(ms, e, c, d)| face(ms, EMOTIONS[e], c, d))
}

fn voice_item(span: i64) -> impl Strategy<Value = VoiceItem> {
    (0..=span, 0usize..SPEECH.len()).prop_map(|(ms, s)| voice(ms, SPEECH[s]))
}

fn attempt(span: i64) -> impl Strategy<Value = TaskAttempt> {
    (0..=span, 0..=span, 0usize..4, proptest::option::of(1.0f64..=7.0), any::<bool>()).prop_map(
        |(a, b, o, seq, t2)| TaskAttempt {
            task_id: if t2 { "task_2" } else { "task_1" }.into(),
            outcome: [Outcome::Success, Outcome::Indirect, Outcome::Fail, Outcome::Abandon][o],
            seq,
            started_at: Timestamp(T0 + a.min(b)),
            ended_at: Timestamp(T0 + a.max(b)),
        },
    )
}

/// A session whose items lie within `span` ms of the start; completed at `span`.
fn session_in(span: i64, max_events: usize) -> impl Strategy<Value = SessionInput> {
    (
        proptest::collection::vec(event(span), 0..max_events),
        proptest::collection::vec(face_item(span), 0..30),
        proptest::collection::vec(voice_item(span), 0..6),
        proptest::collection::vec(attempt(span), 0..3),
    )
        .prop_map(move |(events, facial, voice, attempts)| {
            let mut s = SessionInput::empty(meta("sess_p"));
            s.session.completed_at = Some(Timestamp(T0 + span));
            s.events = events;
            s.facial = facial;
            s.voice = voice;
            s.task_attempts = attempts;
            s
        })
}

/// Sessions with timestamps spread over millennia, and sometimes no items at all.
fn far_session() -> impl Strategy<Value = SessionInput> {
    let far = prop_oneof![0i64..=120_000, -86_400_000i64..=0, 0i64..=250_000_000_000_000];
    (
        proptest::collection::vec((event(0), far.clone()), 0..25),
        proptest::collection::vec((face_item(0), far.clone()), 0..10),
        proptest::option::of(far),
    )
        .prop_map(|(events, facial, done)| {
            let mut s = SessionInput::empty(meta("sess_far"));
            s.session.completed_at = done.map(|d| Timestamp(T0 + d));
            s.events = events
                .into_iter()
                .map(|(mut e, off)| {
                    e.timestamp = Timestamp(T0 + off);
                    e
                })
                .collect();
            s.facial = facial
                .into_iter()
                .map(|(mut f, off)| {
                    f.timestamp = Timestamp(T0 + off);
                    f
                })
                .collect();
            s
        })
}

fn json(a: &SessionAnalysis) -> String {
    serde_json::to_string(a).unwrap()
}

fn json_of<T: serde::Serialize>(x: &T) -> String {
    serde_json::to_string(x).unwrap()
}

fn check_bounds(a: &SessionAnalysis) -> Result<(), TestCaseError> {
    let unit = |x: f64| x.is_finite() && (0.0..=1.0).contains(&x);
    let pct = |x: f64| x.is_finite() && (0.0..=100.0).contains(&x);
    prop_assert!(unit(a.insights.overall_frustration_score));
    for s in &a.signals {
        prop_assert!(unit(s.intensity) && unit(s.weight));
        prop_assert!(s.end_timestamp >= s.timestamp);
    }
    for p in &a.timeline.points {
        prop_assert!(unit(p.raw) && unit(p.smoothed));
    }
    prop_assert!(pct(a.analytics.overall) && pct(a.analytics.interaction));
    prop_assert!(a.analytics.emotion.is_none_or(pct));
    prop_assert!(a.analytics.voice.is_none_or(pct));
    prop_assert!(unit(a.tone_profile.mean_negative_intensity));
    for f in &a.findings {
        prop_assert!(unit(f.peak_intensity));
        prop_assert!(f.finding_id.starts_with("fnd_"));
    }
    let ids: BTreeSet<&String> = a.findings.iter().map(|f| &f.finding_id).collect();
    prop_assert_eq!(ids.len(), a.findings.len());
    if a.signals.is_empty() {
        prop_assert_eq!(a.insights.overall_frustration_score, 0.0);
        prop_assert!(a.findings.is_empty());
    }
    Ok(())
}

fn shuffled(s: &SessionInput, seed: u64) -> SessionInput {
    // Deterministic permutation: sort by a hash of (seed, index).
    fn perm<T: Clone>(v: &[T], seed: u64) -> Vec<T> {
        let mut idx: Vec<(u64, usize)> = (0..v.len())
            .map(|i| {
                let mut z = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                (z ^ (z >> 31), i)
            })
            .collect();
        idx.sort();
        idx.into_iter().map(|(_, i)| v[i].clone()).collect()
    }
    let mut out = s.clone();
    out.events = perm(&s.events, seed);
    out.facial = perm(&s.facial, seed + 1);
    out.voice = perm(&s.voice, seed + 2);
    out.task_attempts = perm(&s.task_attempts, seed + 3);
    out
}

/// One weak signal (weight < 0.5) from the recipes of analysis.md §1, starting at `t` ms.
fn weak_signal_events(recipe: usize, t: i64, amount: f64, sel: &str) -> Vec<EventItem> {
    let at = |ty: EventType, sel: &str, ms: i64| EventItem::new(ty, sel, T0 + ms);
    let nav = |path: &str, ms: i64| {
        let mut e = at(EventType::Navigation, "", ms);
        e.url = Some(format!("https://x.test{path}"));
        e
    };
    match recipe {
        // unresponsive_click: a re-click 0.6–5 s later with nothing in between.
        0 => {
            vec![at(EventType::Click, sel, t), at(EventType::Click, sel, t + 600 + (amount * 4_400.0) as i64)]
        }
        // hesitation: a long hover.
        1 => {
            let mut c = at(EventType::Click, sel, t);
            c.hover_ms = Some(3_000.0 + amount * 17_000.0);
            vec![c]
        }
        // error with no click before it.
        2 => {
            let mut e = at(EventType::Error, sel, t);
            e.error_message = Some("weak".into());
            vec![e]
        }
        // quick_back: there and straight back.
        3 => vec![nav("/", t), nav("/a", t + 1_000), nav("/", t + 1_500 + (amount * 3_000.0) as i64)],
        // scroll_thrash: four or five reversals of 200 px.
        4 => (0..6 + (amount * 1.9) as i64)
            .map(|i| {
                let mut e = at(EventType::Scroll, "", t + i * 800);
                e.scroll_y = Some(if i % 2 == 0 { 0.0 } else { 200.0 });
                e
            })
            .collect(),
        // attention_drop: the page lost focus for 5–7 s.
        5 => vec![
            at(EventType::Blur, "window", t),
            at(EventType::Focus, "window", t + 5_000 + (amount * 2_000.0) as i64),
        ],
        // revisit_loop: / reached three times, 6 s per page.
        6 => vec![
            nav("/", t),
            nav("/x", t + 6_000),
            nav("/", t + 12_000),
            nav("/x", t + 18_000),
            nav("/", t + 24_000),
        ],
        // hesitation: a pause of 8–20 s between two actions.
        _ => vec![
            at(EventType::Click, "#one", t),
            at(EventType::Click, "#two", t + 8_000 + (amount * 12_000.0) as i64),
        ],
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn deterministic_and_order_independent(s in session_in(180_000, 80), seed in any::<u64>()) {
        let a = json(&analyze_session(&s));
        prop_assert_eq!(&a, &json(&analyze_session(&s)));
        prop_assert_eq!(&a, &json(&analyze_session(&shuffled(&s, seed))));
        let snap = insights_snapshot(&s, Some(T0 + 60_000));
        prop_assert_eq!(snap, insights_snapshot(&shuffled(&s, seed), Some(T0 + 60_000)));
    }

    #[test]
    fn bounded_for_any_session(s in session_in(600_000, 80)) {
        check_bounds(&analyze_session(&s))?;
    }

    #[test]
    fn bounded_with_far_apart_timestamps(s in far_session()) {
        let a = analyze_session(&s);
        check_bounds(&a)?;
        prop_assert!(a.timeline.points.len() <= 100 * (s.events.len() + s.facial.len() + 1));
    }

    #[test]
    fn adding_a_rage_click_chain_never_lowers_frustration(
        s in session_in(300_000, 60),
        start in 0i64..=290_000,
        gaps in proptest::collection::vec(0i64..=500, 2..8),
    ) {
        let before = analyze_session(&s).insights.overall_frustration_score;
        let mut more = s.clone();
        let mut t = start;
        more.events.push(EventItem::new(EventType::Click, "#added-chain", T0 + t));
        for g in gaps {
            t += g;
            more.events.push(EventItem::new(EventType::Click, "#added-chain", T0 + t));
        }
        let after = analyze_session(&more);
        prop_assert!(after.signals.iter().any(|x| x.kind == SignalKind::RageClick));
        prop_assert!(after.insights.overall_frustration_score >= before,
            "{} < {}", after.insights.overall_frustration_score, before);
    }

    #[test]
    fn adding_an_error_never_lowers_frustration(
        s in session_in(300_000, 60),
        at in 0i64..=300_000,
        sel in 0usize..SELECTORS.len(),
    ) {
        let before = analyze_session(&s).insights.overall_frustration_score;
        let mut more = s.clone();
        let mut e = EventItem::new(EventType::Error, SELECTORS[sel], T0 + at);
        e.error_message = Some("added".into());
        more.events.push(e);
        let after = analyze_session(&more).insights.overall_frustration_score;
        prop_assert!(after >= before, "{} < {}", after, before);
    }

    #[test]
    fn envelope_rises_at_once_and_decays_no_faster_than_its_half_life(s in session_in(300_000, 80)) {
        let a = analyze_session(&s);
        let d = 0.5f64.sqrt();
        let mut prev: Option<(i64, f64)> = None;
        for p in &a.timeline.points {
            // A bucket is the maximum of s(t) within it, and s(t) ≥ f(t) ≥ the bucket's own
            // noisy-OR at its last signal; rounding to 4 decimals is monotone.
            prop_assert!(p.smoothed >= p.raw, "{} < raw {}", p.smoothed, p.raw);
            // s(start of the next bucket) ≥ s(t) × 2^(−10/20) for every t in this one.
            let before = prev.filter(|q| q.0 + 10_000 == p.timestamp.0).map_or(0.0, |q| q.1);
            prop_assert!(p.smoothed + 1.01e-4 >= before * d, "{} fell faster than {} × d", p.smoothed, before);
            prev = Some((p.timestamp.0, p.smoothed));
        }
    }

    #[test]
    fn an_isolated_peak_holds_a_window_then_halves_in_twenty_seconds(
        at in 0i64..=500_000,
        hover in 3_000.0f64..=20_000.0,
        weight in 0.05f64..=1.0,
    ) {
        // One long hover: a single hesitation. f(t) holds it for one window (10 s) after
        // it, then s(t) halves every 20 s; a bucket is the maximum of s within it.
        let mut c = EventItem::new(EventType::Click, "#a", T0 + at);
        c.hover_ms = Some(hover);
        let mut s = SessionInput::empty(meta("sess_peak"));
        s.events = vec![c];
        let mut th = Thresholds::default();
        th.weights.insert("hesitation".into(), weight);
        s.session.analysis = Some(th);
        let a = analyze_session(&s);
        let pts = &a.timeline.points;
        let i = pts.iter().position(|p| p.raw > 0.0).unwrap();
        let peak = pts[i].raw;
        prop_assert!((peak - weight * hover / 20_000.0).abs() <= 1e-4);
        prop_assert_eq!(pts[i].smoothed, peak, "rises at once");
        prop_assert_eq!(pts[i + 1].smoothed, peak, "held while the signal is in the window");
        for p in &pts[i + 2..] {
            let after = (p.timestamp.0 - (T0 + at + 10_000)) as f64;
            let want = peak * 0.5f64.powf(after / 20_000.0);
            prop_assert!((p.smoothed - want).abs() <= 2e-4, "{} vs {}", p.smoothed, want);
        }
        prop_assert!(pts[..i].iter().all(|p| p.smoothed == 0.0));
    }

    #[test]
    fn moving_the_session_start_never_changes_moments_or_findings(
        s in session_in(300_000, 80),
        shift in -60_000i64..=60_000,
    ) {
        // analysis.md §2: items unchanged, only the server's start moves (before or after
        // the first item); the buckets move with it, the reading must not.
        let a = analyze_session(&s);
        let mut moved = s.clone();
        moved.session.started_at = Timestamp(T0 + shift);
        let b = analyze_session(&moved);
        let key = |x: &SessionAnalysis| {
            x.insights.critical_moments.iter().map(|m| (m.timestamp, m.kind, m.severity, m.context.clone())).collect::<Vec<_>>()
        };
        prop_assert_eq!(key(&a), key(&b));
        prop_assert_eq!(json_of(&a.findings), json_of(&b.findings));
        prop_assert_eq!(json_of(&a.signals), json_of(&b.signals));
    }

    #[test]
    fn adding_a_task_failure_never_lowers_frustration(
        s in session_in(300_000, 60),
        pick in any::<prop::sample::Index>(),
        abandon in any::<bool>(),
    ) {
        prop_assume!(!s.task_attempts.is_empty());
        // The same session twice, one attempt succeeding in one and failing in the other:
        // adding a failure this way changes no event's task or page.
        let i = pick.index(s.task_attempts.len());
        let mut before = s.clone();
        before.task_attempts[i].outcome = Outcome::Success;
        let mut after = s;
        after.task_attempts[i].outcome = if abandon { Outcome::Abandon } else { Outcome::Fail };
        let (b, a) = (analyze_session(&before), analyze_session(&after));
        prop_assert_eq!(count(&a, SignalKind::TaskFailure), count(&b, SignalKind::TaskFailure) + 1);
        prop_assert!(a.insights.overall_frustration_score >= b.insights.overall_frustration_score,
            "{} < {}", a.insights.overall_frustration_score, b.insights.overall_frustration_score);
    }

    #[test]
    fn adding_a_navigation_loop_never_lowers_frustration(
        s in session_in(200_000, 60),
        start in 230_000i64..=250_000,
        gaps in proptest::collection::vec(300i64..=4_000, 4..9),
    ) {
        // The loop comes in a task of its own, at least 30 s after all other activity:
        // navigating is activity, so a loop inserted mid-session may rightly split a pause
        // into two short ones or re-home later events; this property is about the loop.
        let mut before = s;
        before.session.completed_at = Some(Timestamp(T0 + 300_000));
        let mut after = before.clone();
        let mut t = start;
        for (k, g) in std::iter::once(0).chain(gaps).enumerate() {
            t += g;
            let mut e = EventItem::new(EventType::Navigation, "", T0 + t);
            e.url = Some(format!("https://x.test/loop-{}", ["a", "b"][k % 2]));
            e.task_id = Some("task_loop".into());
            after.events.push(e);
        }
        let (b, a) = (analyze_session(&before), analyze_session(&after));
        prop_assert!(a.signals.iter().any(|x| x.kind == SignalKind::NavigationLoop));
        prop_assert!(a.insights.overall_frustration_score >= b.insights.overall_frustration_score,
            "{} < {}", a.insights.overall_frustration_score, b.insights.overall_frustration_score);
    }

    #[test]
    fn no_finding_from_a_single_weak_signal_in_a_successful_task(
        recipe in 0usize..8,
        t in 0i64..=100_000,
        amount in 0.0f64..=1.0,
        sel in 0usize..3,
        faces in proptest::collection::vec((0i64..=200_000, 0usize..3, 0.0f64..=1.0), 0..20),
        indirect in any::<bool>(),
    ) {
        let mut s = SessionInput::empty(meta("sess_weak"));
        s.events = weak_signal_events(recipe, t, amount, ["#a", "#b", "#pay"][sel]);
        // Calm faces around it: never a signal.
        s.facial = faces.into_iter().map(|(ms, e, c)| face(ms, ["neutral", "happy", "surprised"][e], c, true)).collect();
        s.task_attempts = vec![TaskAttempt {
            task_id: "task_1".into(),
            outcome: if indirect { Outcome::Indirect } else { Outcome::Success },
            seq: Some(6.0),
            started_at: Timestamp(T0),
            ended_at: Timestamp(T0 + 200_000),
        }];
        let a = analyze_session(&s);
        prop_assert_eq!(a.signals.len(), 1, "{:?}", kinds(&a));
        prop_assert!(a.signals[0].weight < 0.5);
        prop_assert!(a.findings.is_empty(), "{:#?}", a.findings);
    }

    #[test]
    fn a_uniformly_slower_tester_never_gets_a_new_hesitation(
        gaps in proptest::collection::vec((2_000i64..=4_500, 0usize..6), 25..60),
        pauses in proptest::collection::vec((0usize..60, 5_000i64..=20_000), 0..4),
    ) {
        // analysis.md §1.1: thresholds come from the tester's own median and MAD, so every
        // gap × 1.5 moves the threshold × 1.5 (while it is not clamped at 5 s or 30 s).
        let build = |k: i64| {
            let mut events = Vec::new();
            let mut t = 0i64;
            for (i, &(g, what)) in gaps.iter().enumerate() {
                // Even times, so that × 1.5 stays whole milliseconds.
                t += 2 * (g + pauses.iter().filter(|p| p.0 == i).map(|p| p.1).sum::<i64>());
                let at = t * k / 2;
                let e = match what {
                    0 | 1 => click(["#a", "#b", "#c", "#d", "#e", "#f"][i % 6], at),
                    2 => scroll((i * 300) as f64, at),
                    3 => input("#q", i as f64, at),
                    _ => click("#next", at),
                };
                events.push(e);
            }
            let mut s = session(events);
            s.session.completed_at = Some(Timestamp(T0 + t * k / 2 + 1_000));
            analyze_session(&s)
        };
        let (before, after) = (build(2), build(3));
        let unclamped = |b: &Baseline| b.personal_gap && b.gap_threshold_ms > 5_000.0 && b.gap_threshold_ms < 30_000.0;
        prop_assume!(unclamped(&before.analytics.baseline) && unclamped(&after.analytics.baseline));
        let hes = |a: &SessionAnalysis| a.signals.iter().filter(|s| s.kind == SignalKind::Hesitation).count();
        prop_assert!(hes(&after) <= hes(&before), "{} > {}", hes(&after), hes(&before));
        let hes_findings = |a: &SessionAnalysis| a.findings.iter().filter(|f| f.title.starts_with("Next step is unclear")).count();
        prop_assert!(hes_findings(&after) <= hes_findings(&before));
    }

    #[test]
    fn a_page_that_answers_every_click_never_gets_a_rage_click(
        s in session_in(300_000, 80),
        sel in 0usize..SELECTORS.len(),
        answers in 1.0f64..=50.0,
    ) {
        // analysis.md §1.2: adding `mutations > 0` to a chain's clicks never creates one.
        let before = analyze_session(&s);
        let mut more = s.clone();
        for e in more.events.iter_mut().filter(|e| e.event_type == EventType::Click && e.target_selector == SELECTORS[sel]) {
            e.mutations = Some(answers);
        }
        let after = analyze_session(&more);
        let rage = |a: &SessionAnalysis| a.signals.iter().filter(|s| s.kind == SignalKind::RageClick)
            .map(|s| (s.timestamp, s.selector.clone())).collect::<Vec<_>>();
        let (b, a) = (rage(&before), rage(&after));
        prop_assert!(a.iter().all(|x| b.contains(x)), "{:?} not in {:?}", a, b);
        prop_assert!(a.iter().all(|x| x.1.as_deref() != Some(SELECTORS[sel])));
    }

    #[test]
    fn study_synthesis_is_bounded_and_order_independent(
        sessions in proptest::collection::vec((session_in(120_000, 30), 0usize..3, 0usize..3), 0..6),
        seed in any::<u64>(),
    ) {
        let confirmed: Vec<ConfirmedSession> = sessions
            .into_iter()
            .enumerate()
            .map(|(i, (mut s, v, nd))| {
                s.session.session_id = format!("sess_{i}");
                s.session.tester_label = format!("Tester {}", i + 1);
                s.session.variant = Some(["A", "B", "C"][v].to_string());
                s.session.nd_categories = vec![["adhd", "autism", "dyslexia"][nd].to_string()];
                s.survey = Some(Survey { sus: Some(vec![3.0; 10]), nps: Some((i % 11) as f64) });
                let a = analyze_session(&s);
                ConfirmedSession::all_confirmed(s, a)
            })
            .collect();
        let meta = StudyMeta { job_id: "job_1".into(), ..StudyMeta::default() };
        let r = synthesize_study(&confirmed, &meta);
        prop_assert!(r.score <= 100);
        for t in &r.tasks {
            prop_assert!((0.0..=1.0).contains(&t.success_rate));
            prop_assert!(t.ci95[0] <= t.success_rate && t.success_rate <= t.ci95[1]);
        }
        for f in &r.findings {
            prop_assert!(f.prevalence.is_some_and(|p| (0.0..=1.0).contains(&p)));
        }
        if let Some(ab) = &r.ab_test {
            let sum: f64 = ab.probability_best.values().sum();
            prop_assert!((sum - 1.0).abs() < 1e-3, "{}", sum);
        }
        let mut rev = confirmed.clone();
        rev.reverse();
        let _ = seed;
        prop_assert_eq!(serde_json::to_string(&r).unwrap(), serde_json::to_string(&synthesize_study(&rev, &meta)).unwrap());
    }
}
