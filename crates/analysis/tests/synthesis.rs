//! Study synthesis: merging, the priority matrix, rejected findings, A/B and Simpson.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use openscouter_analysis::*;

/// A session of `tester` whose pay button ignores a rage-click chain; the task ends with
/// `outcome` after `secs` seconds.
fn pay_session(
    tester: usize,
    outcome: Outcome,
    secs: i64,
    nd: &[&str],
    variant: &str,
    rage: bool,
) -> SessionInput {
    let mut s = SessionInput::empty(meta(&format!("sess_{tester:02}")));
    s.session.tester_label = format!("Tester {tester}");
    s.session.nd_categories = nd.iter().map(|c| (*c).to_string()).collect();
    s.session.variant = Some(variant.to_string());
    let mut evs = vec![nav("https://shop.test/checkout", 0)];
    if rage {
        for k in 0..5 {
            let mut c = click("#pay", 1_000 + k * 300);
            c.task_id = Some("task_1".into());
            evs.push(c);
        }
    }
    s.events = evs;
    s.task_attempts = vec![TaskAttempt {
        task_id: "task_1".into(),
        outcome,
        seq: Some(4.0),
        started_at: Timestamp(T0),
        ended_at: Timestamp(T0 + secs * 1_000),
    }];
    s
}

fn confirm(s: SessionInput) -> ConfirmedSession {
    let a = analyze_session(&s);
    ConfirmedSession::all_confirmed(s, a)
}

fn study() -> StudyMeta {
    StudyMeta {
        job_id: "job_1".into(),
        title: "Shop".into(),
        tasks: vec![TaskMeta { task_id: "task_1".into(), title: "Buy".into(), order: 1 }],
        nd_categories: vec!["adhd".into()],
        variants: vec![],
    }
}

#[test]
fn merges_across_sessions_and_applies_the_priority_matrix() {
    // 3 of 10 testers hit the pay button; one of them failed: critical (≥ 30 % + failure).
    let mut sessions = Vec::new();
    for t in 1..=10 {
        let rage = t <= 3;
        let outcome = if t == 1 { Outcome::Fail } else { Outcome::Success };
        sessions.push(confirm(pay_session(t, outcome, 60, &["adhd"], "A", rage)));
    }
    let r = synthesize_study(&sessions, &study());
    assert_eq!(r.findings.len(), 1);
    let f = &r.findings[0];
    assert_eq!(f.testers_affected, 3);
    assert_eq!(f.prevalence, Some(0.3));
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.session_ids.len(), 3);
    assert!(f.evidence.iter().any(|e| e.detail.starts_with("Tester 2: ")));
    // Without the failure: ≥ 30 % with a strong signal is major.
    sessions[0] = confirm(pay_session(1, Outcome::Success, 60, &["adhd"], "A", true));
    let r = synthesize_study(&sessions, &study());
    assert_eq!(r.findings[0].severity, Severity::Major);
    // 2 of 10 (20 %) without failure or slowness: moderate; with slowness: major.
    sessions[2] = confirm(pay_session(3, Outcome::Success, 60, &["adhd"], "A", false));
    let r = synthesize_study(&sessions, &study());
    assert_eq!(r.findings[0].prevalence, Some(0.2));
    assert_eq!(r.findings[0].severity, Severity::Moderate);
    sessions[1] = confirm(pay_session(2, Outcome::Success, 200, &["adhd"], "A", true));
    let r = synthesize_study(&sessions, &study());
    assert_eq!(r.findings[0].severity, Severity::Major, "time on task ≥ 2 × median");
}

#[test]
fn rejected_findings_never_reach_the_report() {
    let mut c = confirm(pay_session(1, Outcome::Fail, 60, &["adhd"], "A", true));
    assert!(!c.confirmed_finding_ids.is_empty());
    c.confirmed_finding_ids.clear();
    let r = synthesize_study(&[c], &study());
    assert!(r.findings.is_empty());
}

#[test]
fn abandonment_in_two_nd_categories_is_critical() {
    let mut sessions: Vec<ConfirmedSession> =
        (1..=20).map(|t| confirm(pay_session(t, Outcome::Success, 60, &["adhd"], "A", false))).collect();
    sessions[0] = confirm(pay_session(1, Outcome::Abandon, 60, &["autism"], "A", true));
    sessions[1] = confirm(pay_session(2, Outcome::Abandon, 60, &["dyslexia"], "A", true));
    let r = synthesize_study(&sessions, &study());
    assert_eq!(r.findings[0].prevalence, Some(0.1));
    assert_eq!(r.findings[0].severity, Severity::Critical);
}

#[test]
fn task_metrics_score_and_band() {
    let sessions: Vec<ConfirmedSession> = (1..=4)
        .map(|t| {
            let o = if t == 4 { Outcome::Fail } else { Outcome::Success };
            confirm(pay_session(t, o, [10, 40, 90, 30][t - 1], &["adhd"], "A", false))
        })
        .collect();
    let r = synthesize_study(&sessions, &study());
    let t = &r.tasks[0];
    assert_eq!((t.successes, t.attempts), (3, 4));
    assert_eq!(t.success_rate, 0.6667, "Beta(4, 2) mean");
    assert!(t.ci95[0] > 0.25 && t.ci95[1] < 0.96, "{:?}", t.ci95);
    // Geometric mean of 10, 40 and 90 s.
    assert!((t.time_on_task_geo_mean_seconds.unwrap() - 33.02).abs() < 0.01);
    assert_eq!(t.seq_mean, Some(4.0));
    assert!(r.findings.is_empty());
    // 100 − 20 × (1 − 4/6): the posterior mean of 3 of 4, not the observed 0.75 (which
    // gave 95).
    assert_eq!(r.score, 93);
    assert_eq!(serde_json::to_value(r.band).unwrap(), "green");
}

#[test]
fn ab_test_probability_and_simpson_warning() {
    // Overall B leads (many adhd testers who succeed in B), but within autism A does better.
    let mut sessions = Vec::new();
    let mut t = 0;
    let mut add = |n: usize, nd: &str, v: &str, ok: usize| {
        for i in 0..n {
            t += 1;
            let o = if i < ok { Outcome::Success } else { Outcome::Fail };
            sessions.push(confirm(pay_session(t, o, 30, &[nd], v, false)));
        }
    };
    add(8, "adhd", "B", 7);
    add(2, "adhd", "A", 1);
    add(2, "autism", "B", 0);
    add(8, "autism", "A", 5);
    let mut meta = study();
    meta.variants = vec!["A".into(), "B".into()];
    let r = synthesize_study(&sessions, &meta);
    let ab = r.ab_test.unwrap();
    assert_eq!(ab.variants.len(), 2);
    let pa = ab.probability_best["A"];
    let pb = ab.probability_best["B"];
    assert!((pa + pb - 1.0).abs() < 1e-3);
    assert!(pb > pa, "B: 7/10 overall vs A: 6/10");
    assert_eq!(ab.simpson_warnings.len(), 1);
    let w = &ab.simpson_warnings[0];
    assert_eq!(
        (w.nd_category.as_str(), w.overall_leader.as_str(), w.category_leader.as_str()),
        ("autism", "B", "A")
    );
    // Strata: both categories have ≥ 2 testers.
    assert!(r.nd_stratification.iter().all(|s| !s.suppressed));
}

#[test]
fn sus_and_nps() {
    let mut sessions = Vec::new();
    for (t, (sus, nps)) in
        [([5.0, 1.0, 5.0, 1.0, 5.0, 1.0, 5.0, 1.0, 5.0, 1.0], 10.0), ([3.0; 10], 3.0)].iter().enumerate()
    {
        let mut s = pay_session(t + 1, Outcome::Success, 30, &["adhd"], "A", false);
        s.survey = Some(Survey { sus: Some(sus.to_vec()), nps: Some(*nps) });
        sessions.push(confirm(s));
    }
    let r = synthesize_study(&sessions, &study());
    assert_eq!(r.sus.score, Some(75.0));
    assert_eq!(r.nps.score, Some(0.0));
    assert_eq!((r.nps.promoters, r.nps.detractors), (1, 1));
}

#[test]
fn categories_with_fewer_than_two_testers_are_never_named() {
    // Three adhd testers, one autistic tester and one with adhd and dyscalculia: all meet
    // the dead pay button.
    let nd: [&[&str]; 5] = [&["adhd"], &["adhd"], &["adhd"], &["autism"], &["adhd", "dyscalculia"]];
    let mut sessions: Vec<ConfirmedSession> = nd
        .iter()
        .enumerate()
        .map(|(i, c)| confirm(pay_session(i + 1, Outcome::Success, 60, c, "A", true)))
        .collect();
    let mut meta = study();
    meta.nd_categories = vec!["adhd".into(), "autism".into()];
    let r = synthesize_study(&sessions, &meta);
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].nd_categories, vec!["adhd".to_string()]);
    let strata = serde_json::to_value(&r.nd_stratification).unwrap();
    assert_eq!(
        strata,
        serde_json::json!([
            {"ndCategory": "adhd", "testers": 4, "suppressed": false, "taskSuccess": 1.0,
             "taskSuccessCi95": [0.4782, 0.9949],
             "meanFrustration": r.nd_stratification[0].mean_frustration, "findings": 1},
            {"suppressed": true}
        ])
    );
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("autism") && !json.contains("dyscalculia"), "{json}");
    // Near miss: a second autistic tester makes the category nameable; dyscalculia stays hidden.
    sessions.push(confirm(pay_session(6, Outcome::Success, 60, &["autism"], "A", true)));
    let r = synthesize_study(&sessions, &meta);
    assert_eq!(r.findings[0].nd_categories, vec!["adhd".to_string(), "autism".to_string()]);
    let named: Vec<Option<&str>> = r.nd_stratification.iter().map(|s| s.nd_category.as_deref()).collect();
    assert_eq!(named, vec![Some("adhd"), Some("autism"), None]);
    assert_eq!(r.nd_stratification[1].testers, Some(2));
    assert!(!serde_json::to_string(&r).unwrap().contains("dyscalculia"));
}

#[test]
fn a_single_session_report_names_no_category() {
    let c = confirm(pay_session(1, Outcome::Fail, 60, &["adhd", "dyslexia"], "A", true));
    let r = synthesize_study(&[c], &study());
    assert!(r.findings.iter().all(|f| f.nd_categories.is_empty()));
    assert_eq!(
        serde_json::to_value(&r.nd_stratification).unwrap(),
        serde_json::json!([{"suppressed": true}])
    );
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("adhd") && !json.contains("dyslexia"), "{json}");
}

#[test]
fn score_uses_posterior_means_of_task_success() {
    // One failed attempt, no finding: the observed rate 0 would cost 20 points (80);
    // the posterior mean Beta(1, 2) = 1/3 costs 13.3 (87).
    let r = synthesize_study(&[confirm(pay_session(1, Outcome::Fail, 60, &["adhd"], "A", false))], &study());
    assert!(r.findings.is_empty());
    assert_eq!(r.score, 87);
    // Near miss: without attempts the term is 0.
    let mut s = pay_session(1, Outcome::Fail, 60, &["adhd"], "A", false);
    s.task_attempts.clear();
    assert_eq!(synthesize_study(&[confirm(s)], &study()).score, 100);
}
