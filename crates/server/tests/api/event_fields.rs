//! The event fields of the engine's baselines and false-alarm rules (api.md §5, analysis.md
//! §1–1.2), end to end: accepted in camelCase and the docs' snake_case, checked field by
//! field, stored, read back, exported (NDJSON and CSV), and read by the engine (`deletions`
//! in place of drops; the tester's own pace in the analytics and the session report).

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, TestApp};

both!(new_event_fields_flow_from_ingestion_to_export_and_the_engine);

async fn new_event_fields_flow_from_ingestion_to_export_and_the_engine(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let crate::helpers::Live { biz, tester, sid, tt, .. } = app.live_session().await;
    let url = "https://shop.example.com/details";
    let batch = json!({"sessionId": sid, "batch": [
        {"clientId": "n1", "eventType": "navigation", "targetSelector": "window", "timestamp": app.at(0), "url": url, "word_count": 240},
        {"clientId": "i1", "eventType": "input", "targetSelector": "#dob", "timestamp": app.at(2_000), "url": url, "inputLength": 10, "deletions": 0},
        // A date cleared with eight backspaces in one burst: one drop of the length, eight deletions.
        {"clientId": "i2", "eventType": "input", "targetSelector": "#dob", "timestamp": app.at(5_000), "url": url, "input_length": 0, "deletions": 8},
        {"clientId": "i3", "eventType": "input", "targetSelector": "#dob", "timestamp": app.at(8_000), "url": url, "inputLength": 10, "deletions": 0},
        {"clientId": "c1", "eventType": "click", "targetSelector": "#terms p", "timestamp": app.at(9_000), "url": url, "selectionLength": 412, "mutations": 0, "role": "paragraph"},
        {"clientId": "c2", "eventType": "click", "targetSelector": "#help", "timestamp": app.at(10_000), "url": url, "opens_new_context": true, "selection_length": 0, "mutations": 3, "role": "link"},
        {"clientId": "x1", "eventType": "input", "targetSelector": "#dob", "timestamp": app.at(11_000), "deletions": -1},
        {"clientId": "x2", "eventType": "click", "targetSelector": "#a", "timestamp": app.at(11_000), "opensNewContext": "yes"},
        {"clientId": "x3", "eventType": "click", "targetSelector": "#a", "timestamp": app.at(11_000), "role": "r".repeat(65)},
        {"clientId": "x4", "eventType": "navigation", "targetSelector": "window", "timestamp": app.at(11_000), "wordCount": 1.5},
    ]});
    let d = app.post("/api/data/events", batch, Some(&tt)).await.ok().clone();
    assert_eq!((d["accepted"].as_u64(), d["rejected"].as_u64()), (Some(6), Some(4)), "{d}");
    let reasons: Vec<&str> =
        d["rejections"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert!(reasons[0].starts_with("Invalid field: deletions"), "{reasons:?}");
    assert!(reasons[1].starts_with("Invalid field: opensNewContext"), "{reasons:?}");
    assert!(reasons[2].starts_with("Invalid field: role"), "{reasons:?}");
    assert!(reasons[3].starts_with("Invalid field: wordCount"), "{reasons:?}");

    // Read back under their camelCase names, whichever dialect they came in.
    let ev = app.get(&format!("/api/sessions/{sid}/events"), Some(&biz.bearer())).await;
    let by_id = |id: &str| -> Value {
        ev.ok().as_array().unwrap().iter().find(|e| e["clientId"] == id).unwrap().clone()
    };
    assert_eq!(by_id("n1")["wordCount"], 240);
    assert_eq!((by_id("i2")["inputLength"].clone(), by_id("i2")["deletions"].clone()), (json!(0), json!(8)));
    assert_eq!(by_id("c1")["selectionLength"], 412);
    assert_eq!(by_id("c1")["mutations"], 0);
    assert_eq!(by_id("c1")["role"], "paragraph");
    assert_eq!(by_id("c2")["opensNewContext"], true);
    assert!(by_id("c2").get("word_count").is_none() && by_id("n1").get("deletions").is_none());

    // Exported: NDJSON (what the offline analyser reads) and CSV columns.
    let export = app.get(&format!("/api/sessions/{sid}/export?format=ndjson"), Some(&biz.bearer())).await;
    let parsed = openscouter_analysis::parse_session_ndjson(&export.text).unwrap();
    let dob: Vec<Option<f64>> =
        parsed.events.iter().filter(|e| e.target_selector == "#dob").map(|e| e.deletions).collect();
    assert_eq!(dob, vec![Some(0.0), Some(8.0), Some(0.0)]);
    assert!(
        parsed.events.iter().any(|e| e.opens_new_context == Some(true) && e.role.as_deref() == Some("link"))
    );
    assert!(parsed.events.iter().any(|e| e.word_count == Some(240.0)));
    let csv = app.get(&format!("/api/sessions/{sid}/export?format=csv"), Some(&biz.bearer())).await;
    let header = csv.text.lines().next().unwrap();
    assert!(
        header.contains(",deletions,selectionLength,mutations,opensNewContext,role,wordCount,"),
        "{header}"
    );

    // The engine counts the burst's eight deletions: the field the tester fought with is a
    // finding (with the length alone it was one drop, and nothing).
    app.post(&format!("/api/sessions/{sid}/complete"), json!({}), Some(&tt)).await.ok();
    let findings = app.analyzed(&sid, &tester.bearer()).await;
    let criteria: Vec<&str> = findings.iter().filter_map(|f| f["wcag"]["criterion"].as_str()).collect();
    assert_eq!(criteria, vec!["3.3.2"], "{findings:?}");
    // The analytics carry the tester's baseline and its plain sentence.
    let analytics = app.get(&format!("/api/sessions/{sid}/analytics"), Some(&biz.bearer())).await;
    let baseline = &analytics.ok()["baseline"];
    assert_eq!(baseline["gapThresholdMs"], 8_000.0, "{baseline}");
    assert_eq!(baseline["personalGap"], false);
    assert!(
        baseline["sentence"].as_str().unwrap().starts_with("Hesitation counted beyond the fixed 8.0 s"),
        "{baseline}"
    );

    // The session report's technical section says it in one sentence.
    app.confirm_all(&sid, &tester.bearer()).await.ok();
    app.post("/api/reports", json!({"sessionId": sid}), Some(&biz.bearer())).await.ok();
    app.drain_jobs().await;
    let report = app.get(&format!("/api/sessions/{sid}/report"), Some(&biz.bearer())).await;
    let technical = &report.ok()["technical"];
    assert_eq!(technical["pace"], baseline["sentence"], "{technical}");
    assert_eq!(technical["baseline"]["readingWpm"], 180.0);
}
