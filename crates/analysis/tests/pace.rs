//! Each tester's own pace (analysis.md §1.1), the false alarms peers learned about (§1.2)
//! and the `deletions` of a typing burst (§1): one hand-written fixture per rule, each with
//! its near miss, and older recordings (without the new fields) analysed as before.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use openscouter_analysis::*;

fn run(events: Vec<EventItem>) -> SessionAnalysis {
    analyze_session(&session(events))
}

fn with(mut e: EventItem, f: impl FnOnce(&mut EventItem)) -> EventItem {
    f(&mut e);
    e
}

fn clicked(sel: &str, ms: i64, role: &str, mutations: Option<f64>) -> EventItem {
    with(click(sel, ms), |e| {
        e.role = Some(role.into());
        e.mutations = mutations;
    })
}

// --- §1 deletions ----------------------------------------------------------------------

#[test]
fn a_burst_carrying_deletions_counts_each_as_a_drop() {
    // A date typed, cleared with eight backspaces in one burst, retyped: the length alone
    // shows one drop at most; the burst's deletions say eight.
    let typed = |len: f64, ms: i64, del: f64| with(input("#dob", len, ms), |e| e.deletions = Some(del));
    let a = run(vec![typed(10.0, 1_000, 0.0), typed(2.0, 4_000, 8.0), typed(10.0, 7_000, 0.0)]);
    let s = a.signals.iter().find(|s| s.kind == SignalKind::InputStruggle).unwrap();
    assert_eq!(s.selector.as_deref(), Some("#dob"));
    assert!(s.detail.contains("8 times"), "{}", s.detail);
    // The same lengths without `deletions` (an older recorder): one drop, no struggle.
    let a = run(vec![input("#dob", 10.0, 1_000), input("#dob", 2.0, 4_000), input("#dob", 10.0, 7_000)]);
    assert_eq!(count(&a, SignalKind::InputStruggle), 0);
}

#[test]
fn deletions_replace_drops_where_present() {
    // A field whose handler strips characters: the length drops three times, but the tester
    // deleted nothing.
    let stripped = |len: f64, ms: i64| with(input("#phone", len, ms), |e| e.deletions = Some(0.0));
    let a = run(vec![
        stripped(5.0, 1_000),
        stripped(4.0, 2_000),
        stripped(6.0, 3_000),
        stripped(5.0, 4_000),
        stripped(7.0, 5_000),
        stripped(6.0, 6_000),
    ]);
    assert_eq!(count(&a, SignalKind::InputStruggle), 0);
    // Two deletions alone are a near miss.
    let a = run(vec![with(input("#dob", 8.0, 1_000), |e| e.deletions = Some(2.0))]);
    assert_eq!(count(&a, SignalKind::InputStruggle), 0);
}

// --- §1.2 rage click exclusions ----------------------------------------------------------

#[test]
fn a_stepper_that_answers_every_click_is_not_rage() {
    let chain = |m: Option<f64>, role: &str| -> Vec<EventItem> {
        (0..5).map(|i| clicked("#qty-plus", 1_000 + i * 250, role, m)).collect()
    };
    assert_eq!(count(&run(chain(Some(3.0), "button")), SignalKind::RageClick), 0);
    // A dead button clicked as fast: the page said nothing.
    assert_eq!(count(&run(chain(Some(0.0), "button")), SignalKind::RageClick), 1);
    // One click without an answer keeps the chain rage.
    let mut mixed = chain(Some(2.0), "button");
    mixed[2].mutations = Some(0.0);
    assert_eq!(count(&run(mixed), SignalKind::RageClick), 1);
    // A spin button, a number field or a slider is clicked repeatedly on purpose.
    for role in ["spinbutton", "number", "range"] {
        assert_eq!(count(&run(chain(None, role)), SignalKind::RageClick), 0, "{role}");
    }
}

#[test]
fn a_triple_click_that_selects_a_paragraph_is_not_rage() {
    let mut clicks: Vec<EventItem> =
        (0..3).map(|i| click("#terms > p:nth-of-type(2)", 1_000 + i * 120)).collect();
    clicks[2].selection_length = Some(412.0);
    assert_eq!(count(&run(clicks.clone()), SignalKind::RageClick), 0);
    // The selection must be left by the chain's last click.
    clicks[2].selection_length = Some(0.0);
    assert_eq!(count(&run(clicks), SignalKind::RageClick), 1);
}

// --- §1.2 unresponsive click exclusions and the single dead click -------------------------

#[test]
fn a_link_to_a_new_tab_is_never_unresponsive() {
    let link =
        |ms: i64| with(clicked("#docs-link", ms, "link", Some(0.0)), |e| e.opens_new_context = Some(true));
    let a = run(vec![link(1_000), link(3_000)]);
    assert_eq!(count(&a, SignalKind::UnresponsiveClick), 0);
    assert!(a.findings.is_empty());
    // The same link without opensNewContext, clicked again 2 s later: unresponsive.
    let a = run(vec![
        clicked("#docs-link", 1_000, "link", Some(0.0)),
        clicked("#docs-link", 3_000, "link", Some(0.0)),
    ]);
    assert_eq!(count(&a, SignalKind::UnresponsiveClick), 1);
}

#[test]
fn a_click_the_page_answered_is_never_unresponsive() {
    let a =
        run(vec![clicked("#next", 1_000, "button", Some(4.0)), clicked("#next", 3_000, "button", Some(4.0))]);
    assert_eq!(count(&a, SignalKind::UnresponsiveClick), 0);
}

fn abandoned_after(events: Vec<EventItem>, end_ms: i64) -> SessionInput {
    let mut s = session(events.into_iter().map(|e| with(e, |e| e.task_id = Some("task_1".into()))).collect());
    s.task_attempts = vec![TaskAttempt {
        task_id: "task_1".into(),
        outcome: Outcome::Abandon,
        seq: Some(1.0),
        started_at: Timestamp(T0),
        ended_at: Timestamp(T0 + end_ms),
    }];
    s
}

#[test]
fn a_dead_control_clicked_once_then_abandoned_is_a_finding() {
    let events = vec![nav("https://shop.test/checkout", 0), clicked("#pay", 5_000, "button", Some(0.0))];
    let a = analyze_session(&abandoned_after(events, 15_000));
    let dead: Vec<&Signal> = a.signals.iter().filter(|s| s.kind == SignalKind::UnresponsiveClick).collect();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].detail, "#pay clicked once with no visible response");
    assert_eq!(a.findings.len(), 1, "{:?}", a.findings);
    let f = &a.findings[0];
    assert_eq!(f.wcag.as_ref().unwrap().criterion, "4.1.2", "titled by the click, not the failure");
    assert!(f.title.contains("#pay"), "{}", f.title);
    // Without a failure joining it, one weak signal is no finding.
    let mut ok = abandoned_after(vec![clicked("#pay", 5_000, "button", Some(0.0))], 15_000);
    ok.task_attempts[0].outcome = Outcome::Success;
    assert!(analyze_session(&ok).findings.is_empty());
}

#[test]
fn a_single_click_near_misses() {
    let dead = |events: Vec<EventItem>| count(&run(events), SignalKind::UnresponsiveClick);
    // The page answered within 2.5 s: a navigation, an input, a focus change.
    assert_eq!(
        dead(vec![clicked("#pay", 1_000, "button", Some(0.0)), nav("https://shop.test/done", 2_400)]),
        0
    );
    assert_eq!(
        dead(vec![clicked("#pay", 1_000, "button", Some(0.0)), ev(EventType::Focus, "#code", 3_000)]),
        0
    );
    // A checkbox answers with its own `input`, in the click's millisecond.
    assert_eq!(
        dead(vec![clicked("#agree", 1_000, "checkbox", Some(0.0)), ev(EventType::Input, "#agree", 1_000)]),
        0
    );
    // The page mutated.
    assert_eq!(dead(vec![clicked("#pay", 1_000, "button", Some(2.0))]), 0);
    // Not a control (a paragraph), or an older recorder (no `mutations`).
    assert_eq!(dead(vec![clicked("#intro", 1_000, "paragraph", Some(0.0))]), 0);
    assert_eq!(dead(vec![with(click("#pay", 1_000), |e| e.role = Some("button".into()))]), 0);
    // An answer after 2.5 s is too late: the click was dead.
    assert_eq!(
        dead(vec![clicked("#pay", 1_000, "button", Some(0.0)), nav("https://shop.test/done", 3_600)]),
        1
    );
    // Focus moving in the click's own millisecond (the last field's blur, the pressed
    // control's focus) is the press, not an answer, in whichever order the items arrive.
    let press = |ms: i64| vec![ev(EventType::Blur, "#dob", ms), ev(EventType::Focus, "#pay", ms)];
    for order in [true, false] {
        let mut events = press(1_000);
        if order {
            events.insert(0, clicked("#pay", 1_000, "button", Some(0.0)));
        } else {
            events.push(clicked("#pay", 1_000, "button", Some(0.0)));
        }
        assert_eq!(dead(events), 1, "click {} the focus move", if order { "before" } else { "after" });
    }
    // A millisecond later it is an answer (a field the page focused).
    let mut late = vec![clicked("#pay", 1_000, "button", Some(0.0))];
    late.extend(press(1_001));
    assert_eq!(dead(late), 0);
}

// --- §1.1 baselines ----------------------------------------------------------------------

/// A tester acting every `every` ms, with a few jittered gaps, and one pause of `pause` ms.
fn paced(every: i64, n: i64, pause_at: i64, pause: i64) -> Vec<EventItem> {
    let mut out = vec![nav("https://shop.test/form", 0)];
    let mut t = 1_000;
    for i in 0..n {
        t += every + (i % 3) * every / 10;
        if i == pause_at {
            t += pause;
        }
        out.push(click(&format!("#c{}", i % 4), t));
    }
    out
}

#[test]
fn a_slow_even_tester_gets_a_threshold_of_their_own() {
    // 12 s between actions throughout: with the fixed 8 s every gap would be hesitation.
    let a = run(paced(12_000, 30, 99, 0));
    let b = &a.analytics.baseline;
    assert!(b.personal_gap && b.gaps >= 20, "{b:?}");
    assert!(b.median_gap_ms.unwrap() >= 12_000.0);
    assert!(b.gap_threshold_ms > 13_000.0, "{b:?}");
    assert_eq!(count(&a, SignalKind::Hesitation), 0, "{:?}", a.signals);
    assert!(a.findings.is_empty());
    assert!(b.sentence().starts_with("Hesitation counted beyond "), "{}", b.sentence());
    assert!(b.sentence().contains("whose median pause was 1"), "{}", b.sentence());
}

#[test]
fn a_fast_testers_freeze_is_hesitation_below_the_fixed_threshold() {
    // About a second between actions, then one 6 s freeze: below the fixed 8 s.
    let a = run(paced(900, 30, 20, 6_000));
    let b = &a.analytics.baseline;
    assert!(b.personal_gap, "{b:?}");
    assert_eq!(b.gap_threshold_ms, 5_000.0, "clamped to at least 5 s: {b:?}");
    assert_eq!(count(&a, SignalKind::Hesitation), 1, "{:?}", a.signals);
    // Fewer than 20 gaps: the fixed 8 s, and the freeze is missed as before.
    let a = run(paced(900, 15, 10, 6_000));
    assert!(!a.analytics.baseline.personal_gap);
    assert_eq!(a.analytics.baseline.gap_threshold_ms, 8_000.0);
    assert_eq!(count(&a, SignalKind::Hesitation), 0);
    assert!(a.analytics.baseline.sentence().contains("too few"), "{}", a.analytics.baseline.sentence());
}

#[test]
fn a_study_threshold_switches_the_baseline_off() {
    let mut s = session(paced(12_000, 30, 99, 0));
    s.session.analysis = Some(Thresholds { hesitation_gap_ms: 9_000.0, ..Thresholds::default() });
    let a = analyze_session(&s);
    assert!(!a.analytics.baseline.personal_gap);
    assert_eq!(a.analytics.baseline.gap_threshold_ms, 9_000.0);
    assert!(count(&a, SignalKind::Hesitation) > 0);
}

#[test]
fn a_personal_hover_threshold_from_ten_hovered_clicks() {
    let mut events = paced(2_000, 12, 99, 0);
    for (i, e) in events.iter_mut().skip(1).enumerate() {
        e.hover_ms = Some(if i == 11 { 4_000.0 } else { 1_800.0 });
    }
    let a = run(events.clone());
    let b = &a.analytics.baseline;
    assert!(b.personal_hover && b.hover_threshold_ms == 5_400.0, "{b:?}");
    // 4 s is hesitation for others (≥ 3 s), not for a tester who usually rests 1.8 s.
    assert_eq!(count(&a, SignalKind::Hesitation), 0, "{:?}", a.signals);
}

#[test]
fn a_page_with_many_words_allows_reading_time() {
    // 20 quick actions set a 5 s threshold; a 600-word page is then read for 40 s.
    let mut events = paced(900, 25, 99, 0);
    let last = events.last().unwrap().timestamp.0 - T0;
    let page = with(nav("https://shop.test/terms", last + 1_000), |e| e.word_count = Some(600.0));
    events.push(page);
    events.push(click("#accept", last + 41_000));
    let a = run(events.clone());
    assert_eq!(a.analytics.baseline.reading_wpm, 180.0);
    // 600 words at 180 a minute is 200 s: reading, not hesitation.
    assert_eq!(count(&a, SignalKind::Hesitation), 0, "{:?}", a.signals);
    // The same pause on a page without a word count is hesitation.
    let n = events.len() - 2;
    events[n].word_count = None;
    assert_eq!(count(&run(events), SignalKind::Hesitation), 1);
}

#[test]
fn the_readers_own_speed_from_three_pages() {
    // Three pages of 300 words, each first acted on after 90 s: 200 words a minute.
    let mut events = Vec::new();
    for p in 0..3 {
        let t = p * 100_000;
        events.push(with(nav(&format!("https://shop.test/p{p}"), t), |e| e.word_count = Some(300.0)));
        events.push(click("#next", t + 90_000));
    }
    let a = run(events);
    let b = &a.analytics.baseline;
    assert!(b.personal_reading && b.reading_wpm == 200.0, "{b:?}");
}

#[test]
fn older_recordings_analyse_as_before() {
    // The fixtures of earlier issues carry none of the new fields and fewer than 20 gaps.
    for name in [
        "checkout_pay_button.ndjson",
        "invisible_form_error.ndjson",
        "pricing_not_found.ndjson",
        "clean_session.ndjson",
    ] {
        let s = parse_session_ndjson(&fixture(name)).unwrap();
        let a = analyze_session(&s);
        let b = &a.analytics.baseline;
        assert!(!b.personal_reading, "{name}: {b:?}");
        if !b.personal_gap {
            assert_eq!(b.gap_threshold_ms, 8_000.0, "{name}");
        }
    }
}
