//! One positive case and one near-miss per signal of analysis.md §1.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use openscouter_analysis::*;

fn run(events: Vec<EventItem>) -> SessionAnalysis {
    analyze_session(&session(events))
}

#[test]
fn rage_click_fires_on_three_fast_clicks() {
    let a = run(vec![click("#pay", 1_000), click("#pay", 1_400), click("#pay", 1_800)]);
    let rage: Vec<&Signal> = a.signals.iter().filter(|s| s.kind == SignalKind::RageClick).collect();
    assert_eq!(rage.len(), 1);
    // Intensity min(1, (clicks − 2) / 2).
    assert_eq!(rage[0].intensity, 0.5);
    assert_eq!(rage[0].selector.as_deref(), Some("#pay"));
    // It saturates at four clicks; six are one signal per chain, still at 1.
    for n in [4, 6] {
        let a = run((0..n).map(|i| click("#pay", 1_000 + i * 300)).collect());
        assert_eq!(count(&a, SignalKind::RageClick), 1);
        assert_eq!(a.signals.iter().find(|s| s.kind == SignalKind::RageClick).unwrap().intensity, 1.0);
    }
}

#[test]
fn rage_click_near_miss_600ms_apart() {
    let a = run(vec![click("#pay", 1_000), click("#pay", 1_600), click("#pay", 2_200)]);
    assert_eq!(count(&a, SignalKind::RageClick), 0);
    // Different selectors are no chain either.
    let a = run(vec![click("#a", 1_000), click("#b", 1_200), click("#c", 1_400)]);
    assert_eq!(count(&a, SignalKind::RageClick), 0);
}

#[test]
fn unresponsive_click_fires_on_repeat_without_response() {
    let a = run(vec![click("#next", 1_000), click("#next", 3_000)]);
    assert_eq!(count(&a, SignalKind::UnresponsiveClick), 1);
}

#[test]
fn unresponsive_click_near_miss() {
    // Something happened in between (navigation), or the repeat came too late.
    let a = run(vec![click("#next", 1_000), nav("https://shop.test/step2", 1_500), click("#next", 3_000)]);
    assert_eq!(count(&a, SignalKind::UnresponsiveClick), 0);
    let a = run(vec![click("#next", 1_000), click("#next", 6_100)]);
    assert_eq!(count(&a, SignalKind::UnresponsiveClick), 0);
}

#[test]
fn error_click_fires_within_a_second() {
    let a = run(vec![click("#pay", 1_000), error("", 1_800)]);
    let s = a.signals.iter().find(|s| s.kind == SignalKind::ErrorClick).unwrap();
    assert_eq!(s.selector.as_deref(), Some("#pay"));
    assert_eq!(count(&a, SignalKind::Error), 0);
}

#[test]
fn error_click_near_miss_is_a_plain_error() {
    let a = run(vec![click("#pay", 1_000), error("#form", 2_500)]);
    assert_eq!(count(&a, SignalKind::ErrorClick), 0);
    assert_eq!(count(&a, SignalKind::Error), 1);
}

#[test]
fn error_fires_without_click() {
    let a = run(vec![error("#x", 1_000)]);
    assert_eq!(kinds(&a), vec![SignalKind::Error]);
    let a = run(vec![click("#x", 1_000)]);
    assert!(a.signals.is_empty());
}

#[test]
fn hesitation_on_long_hover_and_long_pause() {
    let mut c = click("#buy", 1_000);
    c.hover_ms = Some(3_500.0);
    let a = run(vec![c]);
    assert_eq!(count(&a, SignalKind::Hesitation), 1);
    let a = run(vec![click("#a", 1_000), click("#b", 10_000)]);
    let h = a.signals.iter().find(|s| s.kind == SignalKind::Hesitation).unwrap();
    assert!((h.intensity - 0.45).abs() < 1e-9, "9 s / 20 s");
}

#[test]
fn hesitation_near_miss() {
    let mut c = click("#buy", 1_000);
    c.hover_ms = Some(2_900.0);
    let a = run(vec![c, click("#b", 8_000)]);
    assert_eq!(count(&a, SignalKind::Hesitation), 0, "hover 2.9 s and a 7 s gap");
    // A long gap while the page is blurred is not hesitation.
    let a = run(vec![ev(EventType::Blur, "window", 1_000), ev(EventType::Focus, "window", 12_000)]);
    assert_eq!(count(&a, SignalKind::Hesitation), 0);
}

#[test]
fn hesitation_cluster_on_three_within_a_minute() {
    let a = run(vec![click("#a", 0), click("#b", 10_000), click("#c", 20_000), click("#d", 30_000)]);
    assert_eq!(count(&a, SignalKind::Hesitation), 3);
    assert_eq!(count(&a, SignalKind::HesitationCluster), 1);
}

#[test]
fn hesitation_cluster_near_miss() {
    // Three long hovers 35 s apart (70 s from first to last), with steady clicks between
    // them so that no pause counts.
    let mut evs: Vec<EventItem> = (0..=14).map(|i| click(&format!("#f{i}"), i * 5_000 + 2_500)).collect();
    for t in [0, 35_000, 70_000] {
        let mut c = click("#maybe", t);
        c.hover_ms = Some(4_000.0);
        evs.push(c);
    }
    let a = run(evs);
    assert_eq!(count(&a, SignalKind::Hesitation), 3);
    assert_eq!(count(&a, SignalKind::HesitationCluster), 0);
}

#[test]
fn quick_back_within_five_seconds() {
    let a = run(vec![
        nav("https://shop.test/", 0),
        nav("https://shop.test/about", 1_000),
        nav("https://shop.test/", 4_000),
    ]);
    let q = a.signals.iter().find(|s| s.kind == SignalKind::QuickBack).unwrap();
    assert_eq!(q.url_path.as_deref(), Some("/"));
}

#[test]
fn quick_back_near_miss() {
    let a = run(vec![
        nav("https://shop.test/", 0),
        nav("https://shop.test/about", 1_000),
        nav("https://shop.test/", 6_100),
    ]);
    assert_eq!(count(&a, SignalKind::QuickBack), 0);
    let a = run(vec![
        nav("https://shop.test/", 0),
        nav("https://shop.test/a", 1_000),
        nav("https://shop.test/b", 2_000),
    ]);
    assert_eq!(count(&a, SignalKind::QuickBack), 0);
}

#[test]
fn revisit_loop_on_third_arrival() {
    let mut evs = Vec::new();
    for i in 0..3 {
        evs.push(nav("https://shop.test/", i * 20_000));
        evs.push(nav("https://shop.test/x", i * 20_000 + 10_000));
    }
    let a = run(evs);
    assert_eq!(count(&a, SignalKind::RevisitLoop), 2, "/ and /x each reached 3 times");
}

#[test]
fn revisit_loop_near_miss_twice_or_other_task() {
    let a = run(vec![
        nav("https://shop.test/", 0),
        nav("https://shop.test/x", 10_000),
        nav("https://shop.test/", 20_000),
    ]);
    assert_eq!(count(&a, SignalKind::RevisitLoop), 0);
    let mut evs = Vec::new();
    for (i, task) in ["task_1", "task_1", "task_2"].iter().enumerate() {
        let mut e = nav("https://shop.test/", i as i64 * 20_000);
        e.task_id = Some((*task).into());
        evs.push(e);
    }
    assert_eq!(count(&run(evs), SignalKind::RevisitLoop), 0);
}

#[test]
fn scroll_thrash_on_four_reversals() {
    let ys = [0.0, 200.0, 0.0, 200.0, 0.0, 200.0];
    let a = run(ys.iter().enumerate().map(|(i, y)| scroll(*y, 1_000 + i as i64 * 800)).collect());
    assert_eq!(count(&a, SignalKind::ScrollThrash), 1);
}

#[test]
fn scroll_thrash_near_miss_small_moves_or_slow() {
    let ys = [0.0, 50.0, 0.0, 50.0, 0.0, 50.0];
    let a = run(ys.iter().enumerate().map(|(i, y)| scroll(*y, 1_000 + i as i64 * 800)).collect());
    assert_eq!(count(&a, SignalKind::ScrollThrash), 0);
    let ys = [0.0, 200.0, 0.0, 200.0, 0.0, 200.0];
    let a = run(ys.iter().enumerate().map(|(i, y)| scroll(*y, 1_000 + i as i64 * 4_000)).collect());
    assert_eq!(count(&a, SignalKind::ScrollThrash), 0);
}

#[test]
fn input_struggle_on_repeated_deletions() {
    let lens = [5.0, 3.0, 6.0, 2.0, 7.0, 1.0];
    let a = run(lens.iter().enumerate().map(|(i, l)| input("#zip", *l, 1_000 + i as i64 * 2_000)).collect());
    let s = a.signals.iter().find(|s| s.kind == SignalKind::InputStruggle).unwrap();
    assert_eq!(s.selector.as_deref(), Some("#zip"));
}

#[test]
fn input_struggle_on_empty_focus_cycles() {
    // The date field was typed in once, then entered and left three times unchanged.
    let mut evs = vec![input("#dob", 4.0, 500)];
    for i in 0..3 {
        evs.push(ev(EventType::Focus, "#dob", 1_000 + i * 3_000));
        evs.push(ev(EventType::Blur, "#dob", 1_000 + i * 3_000 + 1_000));
    }
    assert_eq!(count(&run(evs), SignalKind::InputStruggle), 1);
}

#[test]
fn input_struggle_near_miss_a_button_is_not_a_field() {
    // Tabbing onto a button and away three times: it never received an input event.
    let mut evs = vec![input("#name", 4.0, 500)];
    for i in 0..3 {
        evs.push(ev(EventType::Focus, "#continue", 1_000 + i * 3_000));
        evs.push(ev(EventType::Blur, "#continue", 1_000 + i * 3_000 + 1_000));
    }
    assert_eq!(count(&run(evs), SignalKind::InputStruggle), 0);
}

#[test]
fn input_struggle_near_miss() {
    let lens = [5.0, 3.0, 6.0, 2.0, 7.0, 8.0];
    let a = run(lens.iter().enumerate().map(|(i, l)| input("#zip", *l, 1_000 + i as i64 * 2_000)).collect());
    assert_eq!(count(&a, SignalKind::InputStruggle), 0, "only two drops");
    let mut evs = Vec::new();
    for i in 0..3 {
        evs.push(ev(EventType::Focus, "#dob", i * 3_000));
        evs.push(input("#dob", (i + 1) as f64, i * 3_000 + 500));
        evs.push(ev(EventType::Blur, "#dob", i * 3_000 + 1_000));
    }
    assert_eq!(count(&run(evs), SignalKind::InputStruggle), 0, "typing in every visit");
}

#[test]
fn attention_drop_on_long_blur_and_missing_face() {
    let a = run(vec![ev(EventType::Blur, "window", 1_000), ev(EventType::Focus, "window", 7_000)]);
    assert_eq!(count(&a, SignalKind::AttentionDrop), 1);
    assert_eq!(a.insights.attention_drop_timestamps, vec![Timestamp(T0 + 1_000)]);
    let mut s = session(vec![]);
    s.facial = (0..3).map(|i| face(i * 1_000, "neutral", 0.0, false)).collect();
    assert_eq!(count(&analyze_session(&s), SignalKind::AttentionDrop), 1);
}

#[test]
fn attention_drop_near_miss() {
    let a = run(vec![ev(EventType::Blur, "window", 1_000), ev(EventType::Focus, "window", 5_000)]);
    assert_eq!(count(&a, SignalKind::AttentionDrop), 0, "a 4 s blur");
    let mut s = session(vec![]);
    s.facial = vec![
        face(0, "neutral", 0.0, false),
        face(1_000, "neutral", 0.0, false),
        face(2_000, "neutral", 0.9, true),
        face(3_000, "neutral", 0.0, false),
    ];
    assert_eq!(count(&analyze_session(&s), SignalKind::AttentionDrop), 0);
}

#[test]
fn negative_emotion_merges_consecutive_snapshots() {
    let mut s = session(vec![]);
    s.facial = vec![
        face(0, "angry", 0.8, true),
        face(1_000, "confused", 0.9, true),
        face(2_000, "happy", 0.9, true),
    ];
    let a = analyze_session(&s);
    let e: Vec<&Signal> = a.signals.iter().filter(|s| s.kind == SignalKind::NegativeEmotion).collect();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].intensity, 0.9);
}

#[test]
fn negative_emotion_near_miss() {
    let mut s = session(vec![]);
    // No face: never an emotion, whatever the label. Low confidence: not counted.
    s.facial =
        vec![face(0, "angry", 0.95, false), face(5_000, "sad", 0.4, true), face(9_000, "happy", 0.9, true)];
    assert_eq!(count(&analyze_session(&s), SignalKind::NegativeEmotion), 0);
}

#[test]
fn negative_speech_on_phrase_or_sentiment() {
    let mut s = session(vec![]);
    s.voice = vec![voice(0, "I can't find the pricing page"), voice(10_000, "this is terrible and broken")];
    let a = analyze_session(&s);
    let sp: Vec<&Signal> = a.signals.iter().filter(|s| s.kind == SignalKind::NegativeSpeech).collect();
    assert_eq!(sp.len(), 2);
    assert_eq!(sp[0].intensity, 0.6);
    assert!(sp[1].intensity > 0.6);
}

#[test]
fn negative_speech_near_miss() {
    let mut s = session(vec![]);
    s.voice = vec![voice(0, "this looks nice, I found it"), voice(5_000, "okay, now the blue button")];
    assert_eq!(count(&analyze_session(&s), SignalKind::NegativeSpeech), 0);
}

#[test]
fn thresholds_can_be_overridden() {
    let mut s = session(vec![click("#pay", 1_000), click("#pay", 1_600), click("#pay", 2_200)]);
    let mut th = Thresholds { rage_click_max_gap_ms: 700.0, ..Thresholds::default() };
    th.weights.insert("rage_click".into(), 0.9);
    s.session.analysis = Some(th);
    let a = analyze_session(&s);
    let r = a.signals.iter().find(|s| s.kind == SignalKind::RageClick).unwrap();
    assert_eq!(r.weight, 0.9);
}

#[test]
fn snapshot_uses_only_past_data() {
    let s =
        session(vec![click("#pay", 1_000), click("#pay", 1_300), click("#pay", 1_600), error("", 100_000)]);
    let early = insights_snapshot(&s, Some(T0 + 2_000));
    let full = insights_snapshot(&s, None);
    assert!(early.overall_frustration_score > 0.0);
    assert!(early.summary.contains("#pay"));
    assert_ne!(early, full);
    let empty = insights_snapshot(&s, Some(T0 - 1));
    assert_eq!(empty.overall_frustration_score, 0.0);
}

fn in_task(mut e: EventItem, task: &str) -> EventItem {
    e.task_id = Some(task.into());
    e
}

fn navs_in(task: &str, steps: &[(&str, i64)]) -> Vec<EventItem> {
    steps.iter().map(|(path, ms)| in_task(nav(&format!("https://shop.test{path}"), *ms), task)).collect()
}

#[test]
fn navigation_loop_on_three_navigation_signals_in_one_task() {
    // / → /a → / → /b → /: two quick backs to / and / reached three times.
    let a = run(navs_in("task_1", &[("/", 0), ("/a", 1_000), ("/", 3_000), ("/b", 4_000), ("/", 6_000)]));
    assert_eq!(count(&a, SignalKind::QuickBack), 2);
    assert_eq!(count(&a, SignalKind::RevisitLoop), 1);
    let l: Vec<&Signal> = a.signals.iter().filter(|s| s.kind == SignalKind::NavigationLoop).collect();
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].url_path.as_deref(), Some("/"), "the most revisited path");
    assert_eq!(l[0].task_id.as_deref(), Some("task_1"));
    assert_eq!(l[0].timestamp, Timestamp(T0 + 6_000), "where the third signal shows the tester lost");
    assert_eq!((l[0].intensity, l[0].weight), (0.6, 0.6), "min(1, 3 / 5), weight 0.6");
    assert_eq!(l[0].family, Family::Navigation);
}

#[test]
fn navigation_loop_near_miss_signals_spread_over_two_tasks() {
    // Two quick backs in task_1 (to / and to /x, neither reached three times), one in task_2.
    let mut evs = navs_in(
        "task_1",
        &[("/", 0), ("/a", 1_000), ("/", 3_000), ("/x", 4_000), ("/y", 5_000), ("/x", 7_000)],
    );
    evs.extend(navs_in("task_2", &[("/c", 8_000), ("/d", 9_000), ("/c", 11_000)]));
    let a = run(evs);
    assert_eq!(count(&a, SignalKind::QuickBack), 3);
    assert_eq!(count(&a, SignalKind::RevisitLoop), 0);
    assert_eq!(count(&a, SignalKind::NavigationLoop), 0);
}

#[test]
fn a_navigation_loop_of_quick_backs_suggests_multiple_ways() {
    // / → /a → / → /b → /: two quick backs (0.3 each) outweigh the loop (0.6 × 3/5), but the
    // loop is in the group, so the tester was lost: analysis.md §3 suggests 2.4.5.
    let a = run(navs_in("task_1", &[("/", 0), ("/a", 1_000), ("/", 3_000), ("/b", 4_000), ("/", 6_000)]));
    assert_eq!(a.findings.len(), 1, "{:#?}", a.findings);
    let f = &a.findings[0];
    assert_eq!(f.dominant_signal, SignalKind::QuickBack, "the heaviest signal stays the dominant one");
    assert_eq!(f.title, "Navigation leads testers astray on /");
    let w = f.wcag.as_ref().unwrap();
    assert_eq!((w.criterion.as_str(), w.name.as_str()), ("2.4.5", "Multiple Ways"));
    assert!(f.recommendation.starts_with("Offer more than one way"), "{}", f.recommendation);
}

#[test]
fn quick_backs_without_a_loop_suggest_link_purpose() {
    // / → /a → / → /b → /c → /b: two quick backs, but to two different pages and no page
    // reached three times: misled by links, not lost. With an abandoned task the
    // group of the latest quick back becomes a finding.
    let mut s = session(navs_in(
        "task_1",
        &[("/", 0), ("/a", 1_000), ("/", 3_000), ("/b", 4_000), ("/c", 5_000), ("/b", 7_000)],
    ));
    s.task_attempts = vec![attempt(Outcome::Abandon, 0, 8_000)];
    let a = analyze_session(&s);
    assert_eq!(count(&a, SignalKind::NavigationLoop), 0);
    assert_eq!(a.findings.len(), 1, "{:#?}", a.findings);
    let w = a.findings[0].wcag.as_ref().unwrap();
    assert_eq!((w.criterion.as_str(), w.name.as_str()), ("2.4.4", "Link Purpose (In Context)"));
}

#[test]
fn a_dominant_navigation_loop_suggests_multiple_ways() {
    // Round and round /a → /b → /c, 6 s per page: three revisit loops, no quick back.
    let steps: Vec<(&str, i64)> = (0..9).map(|i| (["/a", "/b", "/c"][i % 3], i as i64 * 6_000)).collect();
    let a = run(navs_in("task_1", &steps));
    assert_eq!(count(&a, SignalKind::RevisitLoop), 3);
    let l = a.signals.iter().find(|s| s.kind == SignalKind::NavigationLoop).unwrap();
    // Every page was reached three times: the first one reached wins the tie.
    assert_eq!(l.url_path.as_deref(), Some("/a"));
    assert_eq!(a.findings.len(), 1, "{:#?}", a.findings);
    let f = &a.findings[0];
    assert_eq!(f.dominant_signal, SignalKind::NavigationLoop);
    assert_eq!(f.title, "Navigation leads testers astray on /a");
    let w = f.wcag.as_ref().unwrap();
    assert_eq!((w.criterion.as_str(), w.name.as_str()), ("2.4.5", "Multiple Ways"));
}

fn attempt(outcome: Outcome, from_ms: i64, to_ms: i64) -> TaskAttempt {
    TaskAttempt {
        task_id: "task_1".into(),
        outcome,
        seq: None,
        started_at: Timestamp(T0 + from_ms),
        ended_at: Timestamp(T0 + to_ms),
    }
}

#[test]
fn task_failure_at_the_end_of_a_failed_or_abandoned_attempt() {
    for (outcome, intensity) in [(Outcome::Fail, 0.8), (Outcome::Abandon, 1.0)] {
        let mut s = session(vec![]);
        s.task_attempts = vec![attempt(outcome, 0, 40_000)];
        let a = analyze_session(&s);
        assert_eq!(kinds(&a), vec![SignalKind::TaskFailure]);
        let f = &a.signals[0];
        assert_eq!(f.timestamp, Timestamp(T0 + 40_000));
        assert_eq!((f.intensity, f.weight), (intensity, 0.5));
        assert_eq!(f.task_id.as_deref(), Some("task_1"));
        assert!(a.insights.overall_frustration_score > 0.0);
        // Alone it says nothing about where the barrier is: no finding.
        assert!(a.findings.is_empty());
    }
}

#[test]
fn task_failure_near_miss_success_or_not_ended_yet() {
    for outcome in [Outcome::Success, Outcome::Indirect] {
        let mut s = session(vec![]);
        s.task_attempts = vec![attempt(outcome, 0, 40_000)];
        assert!(analyze_session(&s).signals.is_empty());
    }
    // A snapshot before the attempt ended does not know it will be abandoned.
    let mut s = session(vec![]);
    s.task_attempts = vec![attempt(Outcome::Abandon, 0, 40_000)];
    assert_eq!(insights_snapshot(&s, Some(T0 + 39_999)).overall_frustration_score, 0.0);
    assert!(insights_snapshot(&s, Some(T0 + 40_000)).overall_frustration_score > 0.0);
}

#[test]
fn task_failure_joins_the_group_with_the_most_recent_signals() {
    // #next: a re-click without response and a long hover (two signals); #banner: one
    // error, later. The abandonment 7 s after the error joins #next, which has more.
    let mut hover = click("#next", 12_000);
    hover.hover_ms = Some(4_000.0);
    let mut s = session(vec![click("#next", 10_000), hover, error("#banner", 25_000)]);
    s.task_attempts = vec![attempt(Outcome::Abandon, 0, 32_000)];
    let a = analyze_session(&s);
    assert_eq!(a.findings.len(), 1, "{:#?}", a.findings);
    let f = &a.findings[0];
    assert_eq!(f.selector.as_deref(), Some("#next"));
    assert!(f.evidence.iter().any(|e| e.kind == "task_failure"));
    assert_eq!(f.dominant_signal, SignalKind::UnresponsiveClick, "a failure never dominates");
    assert_eq!(f.severity, Severity::Major);
}

#[test]
fn task_failure_makes_a_recent_weak_signal_a_finding_and_not_an_old_one() {
    // One unresponsive re-click (weak: alone no finding), then the task is abandoned.
    let clicks = || vec![click("#next", 10_000), click("#next", 12_000)];
    let mut s = session(clicks());
    s.task_attempts = vec![attempt(Outcome::Success, 0, 32_000)];
    assert!(analyze_session(&s).findings.is_empty(), "weak, and the task succeeded");
    s.task_attempts = vec![attempt(Outcome::Abandon, 0, 32_000)];
    let a = analyze_session(&s);
    assert_eq!(a.findings.len(), 1);
    assert_eq!(a.findings[0].title, "Control does not respond as expected: #next");
    // Near miss: abandoned 33 s after the re-click, outside the 30 s window.
    let mut s = session(clicks());
    s.task_attempts = vec![attempt(Outcome::Abandon, 0, 45_000)];
    let a = analyze_session(&s);
    assert_eq!(count(&a, SignalKind::TaskFailure), 1);
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
}

#[test]
fn family_names_are_their_json_names() {
    use openscouter_analysis::Family;
    for f in [
        Family::Clicks,
        Family::Errors,
        Family::Hesitation,
        Family::Navigation,
        Family::Scrolling,
        Family::Input,
        Family::Attention,
        Family::Emotion,
        Family::Speech,
        Family::Task,
    ] {
        assert_eq!(serde_json::to_value(f).unwrap(), serde_json::json!(f.as_str()));
    }
}
