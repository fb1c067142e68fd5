//! Scenario tests: realistic hand-written sessions and the findings they must produce.
#![allow(clippy::unwrap_used)]

mod common;
use common::{T0, dead_control_session, dead_submit_session, fixture};
use openscouter_analysis::*;

fn analyse(name: &str) -> (SessionInput, SessionAnalysis) {
    let input = parse_session_ndjson(&fixture(name)).unwrap();
    let a = analyze_session(&input);
    (input, a)
}

/// Every fixture renders through the CLI's report path (the way to inspect an analysis is
/// `openscouter analyze --input FILE`), with each finding's fields present.
#[test]
fn fixtures_render_as_reports() {
    for f in [
        "checkout_pay_button.ndjson",
        "invisible_form_error.ndjson",
        "pricing_not_found.ndjson",
        "clean_session.ndjson",
    ] {
        let v = analyze_ndjson_report(&fixture(f), true).unwrap();
        assert!(v["insights"]["overallFrustrationScore"].is_number(), "{f}");
        for finding in v["findings"].as_array().unwrap() {
            assert!(finding["findingId"].is_string() && finding["title"].is_string(), "{f}: {finding}");
        }
    }
}

fn wcag(f: &Finding) -> &str {
    f.wcag.as_ref().map(|w| w.criterion.as_str()).unwrap_or("")
}

#[test]
fn checkout_pay_button_does_nothing() {
    let (_, a) = analyse("checkout_pay_button.ndjson");
    assert_eq!(a.findings.len(), 1, "{:#?}", a.findings.iter().map(|f| &f.title).collect::<Vec<_>>());
    let f = &a.findings[0];
    assert_eq!(f.title, "Control does not respond as expected: #pay-button");
    assert_eq!(f.severity, Severity::Major, "the task failed");
    assert_eq!(wcag(f), "4.1.2");
    assert_eq!(f.wcag.as_ref().unwrap().name, "Name, Role, Value");
    assert_eq!(f.task_id.as_deref(), Some("task_checkout"));
    assert!(f.evidence.iter().any(|e| e.kind == "transcript" && e.detail.contains("doesn't work")));
    assert!(f.evidence.iter().any(|e| e.kind == "rage_click"));
    assert!(f.finding_id.starts_with("fnd_"));
    assert!(a.insights.overall_frustration_score > 0.3);
    assert!(a.insights.critical_moments.iter().any(|m| m.kind == SignalKind::RageClick));
    assert!(a.insights.summary.contains("#pay-button did not respond"));
    assert_eq!(a.tone_profile.tone, Tone::Restorative);
}

#[test]
fn form_error_message_is_invisible() {
    let (_, a) = analyse("invisible_form_error.ndjson");
    let titles: Vec<(&str, Severity, &str)> =
        a.findings.iter().map(|f| (f.title.as_str(), f.severity, wcag(f))).collect();
    assert_eq!(
        titles,
        vec![
            ("Action leads to an error: #submit", Severity::Major, "3.3.1"),
            ("Form field is hard to complete: #password", Severity::Major, "3.3.2"),
        ]
    );
    let err = &a.findings[0];
    assert!(err.evidence.iter().any(|e| e.detail.contains("Password must contain a number")));
    assert!(err.evidence.iter().any(|e| e.kind == "transcript" && e.detail.contains("don't understand")));
}

#[test]
fn tester_cannot_find_the_pricing_page() {
    let (_, a) = analyse("pricing_not_found.ndjson");
    assert_eq!(a.findings.len(), 1);
    let f = &a.findings[0];
    assert_eq!(f.title, "Navigation leads testers astray on /");
    assert_eq!(f.severity, Severity::Major, "the task was abandoned");
    // Three quick backs and / reached four times make a navigation loop: lost, not misled
    // by one link, so 2.4.5 Multiple Ways (analysis.md §3), though quick_back dominates.
    assert_eq!(f.dominant_signal, SignalKind::QuickBack);
    assert_eq!(wcag(f), "2.4.5");
    assert_eq!(f.wcag.as_ref().unwrap().name, "Multiple Ways");
    assert!(f.evidence.iter().filter(|e| e.kind == "quick_back").count() >= 3);
    assert!(f.evidence.iter().any(|e| e.kind == "transcript" && e.detail.contains("Where is the pricing")));
}

#[test]
fn dead_submit_reads_as_a_critical_moment() {
    // analysis.md §2: four dead clicks, an angry face and "is it broken" within ten
    // seconds must read as a critical moment, not be averaged away (0.16 and no moment
    // under the old moving average).
    let a = analyze_session(&dead_submit_session());
    let m = &a.insights.critical_moments;
    assert_eq!(m.len(), 1, "{m:#?}");
    // The peak of the continuous envelope: when "is it broken" joins the chain and the frown
    // in the 10 s window (analysis.md §2), not the start of a bucket.
    assert_eq!(m[0].timestamp, Timestamp(T0 + 15_000));
    assert_eq!(m[0].kind, SignalKind::RageClick);
    assert_eq!(m[0].severity, MomentSeverity::Critical);
    assert_eq!(m[0].context, "Create an account - /signup");
    assert!(a.insights.overall_frustration_score >= 0.5, "{}", a.insights.overall_frustration_score);
    let f = &a.findings[0];
    assert_eq!(f.title, "Control does not respond as expected: #submit");
    assert!(f.evidence.iter().any(|e| e.kind == "transcript" && e.detail == "is it broken"));
    assert!(a.insights.summary.contains("#submit did not respond"));
}

#[test]
fn behaviour_only_dead_control_reads_as_a_critical_moment() {
    // No camera, no voice: a four-click chain on #save, one more click, then the task is
    // abandoned (0.12 and no moment under the old moving average and rules).
    let a = analyze_session(&dead_control_session());
    let m = &a.insights.critical_moments;
    assert_eq!(m.len(), 1, "{m:#?}");
    // When the abandonment joins the chain and the re-click in the 10 s window.
    assert_eq!(m[0].timestamp, Timestamp(T0 + 16_000));
    assert_eq!(m[0].kind, SignalKind::RageClick);
    assert_eq!(m[0].severity, MomentSeverity::Critical);
    assert!(a.insights.overall_frustration_score >= 0.5, "{}", a.insights.overall_frustration_score);
    assert_eq!(a.findings.len(), 1);
    let f = &a.findings[0];
    assert_eq!(f.title, "Control does not respond as expected: #save");
    assert_eq!(f.severity, Severity::Major, "the task was abandoned");
    assert!(f.evidence.iter().any(|e| e.kind == "task_failure"));
}

#[test]
fn clean_session_has_no_finding_and_no_frustration() {
    let (_, a) = analyse("clean_session.ndjson");
    assert!(a.signals.is_empty());
    assert!(a.findings.is_empty());
    assert_eq!(a.insights.overall_frustration_score, 0.0);
    assert!(a.insights.critical_moments.is_empty());
    assert!(a.insights.attention_drop_timestamps.is_empty());
    assert_eq!(a.analytics.interaction, 100.0);
    assert_eq!(a.tone_profile.tone, Tone::Standard);
    let v = analyze_ndjson_report(&fixture("clean_session.ndjson"), true).unwrap();
    // 100 − 20 × (1 − 2/3): one successful attempt is a posterior mean of 2/3, not 100 %.
    assert_eq!(v["studyReport"]["score"], 93);
    assert_eq!(v["studyReport"]["band"], "green");
    assert_eq!(v["studyReport"]["sus"]["score"], 95.0);
    assert_eq!(v["studyReport"]["nps"]["score"], 100.0);
}

#[test]
fn reports_are_identical_across_runs_and_line_orders() {
    for name in ["checkout_pay_button.ndjson", "invisible_form_error.ndjson", "pricing_not_found.ndjson"] {
        let text = fixture(name);
        let a = serde_json::to_string(&analyze_ndjson_report(&text, true).unwrap()).unwrap();
        let b = serde_json::to_string(&analyze_ndjson_report(&text, true).unwrap()).unwrap();
        assert_eq!(a, b);
        let mut lines: Vec<&str> = text.lines().collect();
        lines[1..].reverse();
        let c = serde_json::to_string(&analyze_ndjson_report(&lines.join("\n"), true).unwrap()).unwrap();
        assert_eq!(a, c, "{name}: line order must not matter");
    }
}

#[test]
fn study_of_all_fixtures() {
    let files: Vec<(String, String)> = [
        "checkout_pay_button.ndjson",
        "invisible_form_error.ndjson",
        "pricing_not_found.ndjson",
        "clean_session.ndjson",
    ]
    .iter()
    .map(|n| ((*n).to_string(), fixture(n)))
    .collect();
    let v = analyze_study_ndjson(&files).unwrap();
    let r = &v["studyReport"];
    assert_eq!(r["testers"], 4);
    assert_eq!(v["sessions"].as_array().unwrap().len(), 4);
    let findings = r["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 4);
    // One tester of four (25 %) who failed the task: major by the priority matrix.
    for f in findings {
        assert_eq!(f["prevalence"], 0.25);
        assert_eq!(f["severity"], "major", "{}", f["title"]);
    }
    // Posterior means of task success (2/4, 1/3, 1/3):
    // 100 − 4 × 12 × (0.5 + 0.5 × 0.25) − 20 × (1 − 7/18) = 57.8 → 58.
    assert_eq!(r["score"], 58);
    assert_eq!(r["band"], "amber");
    // Autism has one tester: its stratum is suppressed and the category is never named,
    // not even in the finding that only that tester met.
    let strata = r["ndStratification"].as_array().unwrap();
    let named: Vec<&str> = strata.iter().filter_map(|s| s["ndCategory"].as_str()).collect();
    assert_eq!(named, vec!["adhd", "dyslexia"]);
    let suppressed: Vec<_> = strata.iter().filter(|s| s["suppressed"] == true).collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0], &serde_json::json!({"suppressed": true}));
    let adhd = strata.iter().find(|s| s["ndCategory"] == "adhd").unwrap();
    assert_eq!(adhd["suppressed"], false);
    assert_eq!(adhd["testers"], 2);
    let pricing = findings.iter().find(|f| f["title"] == "Navigation leads testers astray on /").unwrap();
    assert_eq!(pricing["ndCategories"], serde_json::json!([]));
    assert!(!serde_json::to_string(r).unwrap().contains("autism"));
    // Shuffled file order gives the same bytes.
    let mut rev = files.clone();
    rev.reverse();
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        serde_json::to_string(&analyze_study_ndjson(&rev).unwrap()).unwrap()
    );
}

#[test]
fn parse_errors_name_the_file_and_line() {
    let files = vec![("bad.ndjson".to_string(), "{\"kind\":\"session\"}".to_string())];
    let e = analyze_study_ndjson(&files).unwrap_err();
    assert_eq!(e.line, 1);
    assert!(e.to_string().contains("bad.ndjson"));
}
