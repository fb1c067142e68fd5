//! Ingestion: per-item validation, idempotency, consent, limits, state, and export round trip.

#![allow(clippy::unwrap_used)]

use axum::http::Method;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, TestApp, study_body};

both!(
    mixed_batches_store_exactly_the_good_items,
    resent_batches_are_duplicates,
    consent_and_state_gate_ingestion,
    limits_are_413_and_429,
    export_round_trips_through_ingestion
);

fn click(app: &TestApp, ms: i64, client: &str) -> Value {
    json!({"clientId": client, "eventType": "click", "targetSelector": "#pay", "timestamp": app.at(ms), "x": 10.5, "y": 20, "viewport": {"width": 1280, "height": 800}})
}

async fn mixed_batches_store_exactly_the_good_items(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let crate::helpers::Live { biz, tester, sid, tt, .. } = app.live_session().await;
    let batch = json!({"sessionId": sid, "batch": [
        click(&app, 100, "c1"),
        {"eventType": "click", "targetSelector": "#a"},
        click(&app, 200, "c2"),
        {"eventType": "input", "targetSelector": "#email", "timestamp": app.at(300), "value": "me@example.com"},
        {"eventType": "scroll", "targetSelector": "body", "timestamp": app.at(400), "scrollY": 800.0},
        {"eventType": "click", "targetSelector": "#a", "timestamp": app.at(25 * 3600 * 1000)},
    ]});
    let res = app.post("/api/data/events", batch, Some(&tt)).await;
    let d = res.ok();
    assert_eq!(
        (d["accepted"].as_u64(), d["rejected"].as_u64(), d["duplicates"].as_u64()),
        (Some(3), Some(3), Some(0)),
        "{d}"
    );
    assert_eq!(d["rejections"][0], json!({"index": 1, "reason": "Missing required field: timestamp"}));
    assert_eq!(d["rejections"][1]["index"], 3);
    assert!(d["rejections"][1]["reason"].as_str().unwrap().contains("raw input text"));
    assert_eq!(d["rejections"][2]["index"], 5);
    // exactly the good ones are stored, in time order, with their fields
    let ev = app.get(&format!("/api/sessions/{sid}/events"), Some(&biz.bearer())).await;
    assert_eq!(ev.body["metadata"]["total"], 3);
    assert_eq!(ev.ok()[0]["clientId"], "c1");
    assert_eq!(ev.ok()[0]["viewport"], json!({"width": 1280, "height": 800}));
    assert_eq!(ev.ok()[0]["x"], 10.5);
    assert_eq!(ev.ok()[2]["eventType"], "scroll");
    assert!(!ev.text.contains("me@example.com"));
    // filters
    assert_eq!(
        app.get(&format!("/api/sessions/{sid}/events?type=scroll"), Some(&biz.bearer())).await.body["metadata"]
            ["total"],
        1
    );
    let from = app.at(150).replace('+', "%2B");
    assert_eq!(
        app.get(&format!("/api/sessions/{sid}/events?from={from}"), Some(&biz.bearer())).await.body["metadata"]
            ["total"],
        2
    );
    app.get(&format!("/api/sessions/{sid}/events?from=yesterday"), Some(&biz.bearer()))
        .await
        .assert_error(400);
    app.get(&format!("/api/sessions/{sid}/events?type=hover"), Some(&biz.bearer())).await.assert_error(400);
    // the owning tester's JWT may ingest too; facial and voice
    let facial = json!({"sessionId": sid, "batch": [
        {"timestamp": app.at(500), "emotion": "confused", "confidence": 0.8, "faceDetected": true, "actionUnits": {"AU04": 0.7}},
        {"timestamp": app.at(600), "emotion": "confused", "confidence": 1.5, "faceDetected": true},
        {"timestamp": app.at(700), "emotion": "happy", "confidence": 0.5, "faceDetected": true, "imageData": "AAAA"},
    ]});
    let d = app.post("/api/data/facial", facial, Some(&tester.bearer())).await;
    assert_eq!((d.ok()["accepted"].as_u64(), d.ok()["rejected"].as_u64()), (Some(1), Some(2)));
    let voice = json!({"sessionId": sid, "batch": [{"timestamp": app.at(800), "durationMs": 1500, "transcript": "where is the pay button", "confidence": 0.9}]});
    assert_eq!(app.post("/api/data/voice", voice, Some(&tt)).await.ok()["accepted"], 1);
    // nobody else may write
    let other = app.tester().await;
    let one = json!({"sessionId": sid, "batch": [click(&app, 900, "c9")]});
    app.post("/api/data/events", one.clone(), Some(&other.bearer())).await.assert_error(404);
    app.post("/api/data/events", one.clone(), Some(&biz.bearer())).await.assert_error(403);
    app.post("/api/data/events", one, None).await.assert_error(401);
}

async fn resent_batches_are_duplicates(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let crate::helpers::Live { biz, sid, tt, .. } = app.live_session().await;
    let batch =
        json!({"sessionId": sid, "batch": [click(&app, 1, "a"), click(&app, 2, "b"), click(&app, 3, "a")]});
    let first = app.post("/api/data/events", batch.clone(), Some(&tt)).await;
    assert_eq!((first.ok()["accepted"].as_u64(), first.ok()["duplicates"].as_u64()), (Some(2), Some(1)));
    let again = app.post("/api/data/events", batch, Some(&tt)).await;
    assert_eq!((again.ok()["accepted"].as_u64(), again.ok()["duplicates"].as_u64()), (Some(0), Some(3)));
    assert_eq!(
        app.get(&format!("/api/sessions/{sid}/events"), Some(&biz.bearer())).await.body["metadata"]["total"],
        2
    );
    // items without clientId are always new
    let anon = json!({"sessionId": sid, "batch": [{"eventType": "click", "targetSelector": "#x", "timestamp": app.at(5)}]});
    app.post("/api/data/events", anon.clone(), Some(&tt)).await.ok();
    app.post("/api/data/events", anon, Some(&tt)).await.ok();
    assert_eq!(
        app.get(&format!("/api/sessions/{sid}/events"), Some(&biz.bearer())).await.body["metadata"]["total"],
        4
    );
}

async fn consent_and_state_gate_ingestion(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let crate::helpers::Live { biz, sid, tt, .. } = app.live_session().await;
    // withdraw facial consent: facial items are rejected per item, events still flow
    let consent = json!({"version": "v2", "streams": {"events": true, "facial": false, "voice": false, "screenshots": false}});
    app.post(&format!("/api/sessions/{sid}/consent"), consent, Some(&tt)).await.ok();
    let facial = json!({"sessionId": sid, "batch": [{"timestamp": app.at(1), "emotion": "sad", "confidence": 0.9, "faceDetected": true}]});
    let d = app.post("/api/data/facial", facial, Some(&tt)).await;
    assert_eq!(d.ok()["rejections"][0]["reason"], "No consent for the facial stream");
    assert_eq!(d.ok()["accepted"], 0);
    app.post("/api/data/events", json!({"sessionId": sid, "batch": [click(&app, 1, "a")]}), Some(&tt))
        .await
        .ok();
    // paused and completed sessions take nothing
    app.post(&format!("/api/sessions/{sid}/pause"), json!({}), Some(&tt)).await.ok();
    let msg = app
        .post("/api/data/events", json!({"sessionId": sid, "batch": [click(&app, 2, "b")]}), Some(&tt))
        .await
        .assert_error(422);
    assert!(msg.contains("paused"), "{msg}");
    app.post(&format!("/api/sessions/{sid}/complete"), json!({}), Some(&tt)).await.ok();
    let msg = app
        .post("/api/data/events", json!({"sessionId": sid, "batch": [click(&app, 3, "c")]}), Some(&tt))
        .await
        .assert_error(422);
    assert_eq!(msg, "Session is completed; data can only be sent to an active session");
    assert_eq!(
        app.get(&format!("/api/sessions/{sid}/events"), Some(&biz.bearer())).await.body["metadata"]["total"],
        1
    );
    // shape errors
    app.post("/api/data/events", json!({"batch": []}), Some(&tt)).await.assert_error(422);
    app.post("/api/data/events", json!({"sessionId": sid, "batch": "nope"}), Some(&tt))
        .await
        .assert_error(400);
}

async fn limits_are_413_and_429(b: Backend) {
    let Some(app) = TestApp::with(
        b,
        &[("OPENSCOUTER_RATE_LIMIT_INGEST", "1500"), ("OPENSCOUTER_RATE_LIMIT_FREE", "1000")],
    )
    .await
    else {
        return;
    };
    let crate::helpers::Live { biz, sid, tt, .. } = app.live_session().await;
    let items = |n: usize, from: usize| -> Vec<Value> {
        (from..from + n).map(|i| click(&app, i as i64, &format!("k{i}"))).collect()
    };
    // 1,001 items → 413, nothing stored
    app.post("/api/data/events", json!({"sessionId": sid, "batch": items(1001, 0)}), Some(&tt))
        .await
        .assert_error(413);
    // over 2 MiB → 413
    let huge: Vec<Value> = (0..800).map(|i| json!({"eventType": "click", "targetSelector": "x".repeat(1000), "timestamp": app.at(i), "targetText": "y".repeat(2000)})).collect();
    app.post("/api/data/events", json!({"sessionId": sid, "batch": huge}), Some(&tt)).await.assert_error(413);
    assert_eq!(
        app.get(&format!("/api/sessions/{sid}/events"), Some(&biz.bearer())).await.body["metadata"]["total"],
        0
    );
    // 1,000 items fit; the next 600 exceed 1,500/min → 429 with Retry-After, nothing stored
    assert_eq!(
        app.post("/api/data/events", json!({"sessionId": sid, "batch": items(1000, 0)}), Some(&tt))
            .await
            .ok()["accepted"],
        1000
    );
    let res =
        app.post("/api/data/events", json!({"sessionId": sid, "batch": items(600, 1000)}), Some(&tt)).await;
    res.assert_error(429);
    assert!(res.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(
        app.get(&format!("/api/sessions/{sid}/events"), Some(&biz.bearer())).await.body["metadata"]["total"],
        1000
    );
    app.clock.advance_ms(60_000);
    assert_eq!(
        app.post("/api/data/events", json!({"sessionId": sid, "batch": items(600, 1000)}), Some(&tt))
            .await
            .ok()["accepted"],
        600
    );
}

async fn export_round_trips_through_ingestion(b: Backend) {
    let Some(app) = TestApp::with(b, &[("OPENSCOUTER_RATE_LIMIT_INGEST", "10000")]).await else { return };
    let biz = app.signup("business").await;
    let job = app.launched_study(&biz, study_body()).await;
    let (t1, t2) = (app.tester().await, app.tester().await);
    let (s1, tok1) = app.session(&t1, &job).await;
    let tt1 = format!("Token {tok1}");
    let events: Vec<Value> = (0..1200)
        .map(|i| json!({"clientId": format!("e{i}"), "eventType": if i % 3 == 0 { "scroll" } else { "click" }, "targetSelector": format!("#b{}", i % 7),
                        "timestamp": app.at(i * 37), "scrollY": (i * 3) as f64, "url": "https://shop.example.com/cart", "hoverMs": i % 500}))
        .collect();
    for chunk in events.chunks(1000) {
        app.post("/api/data/events", json!({"sessionId": s1, "batch": chunk}), Some(&tt1)).await.ok();
    }
    app.post("/api/data/facial", json!({"sessionId": s1, "batch": [{"clientId": "f1", "timestamp": app.at(50), "emotion": "fear", "confidence": 0.7, "faceDetected": true}]}), Some(&tt1)).await.ok();
    app.post("/api/data/voice", json!({"sessionId": s1, "batch": [{"clientId": "v1", "timestamp": app.at(75), "durationMs": 900, "transcript": "this is \"annoying\", really", "confidence": 0.8}]}), Some(&tt1)).await.ok();
    app.post(
        &format!("/api/sessions/{s1}/notes"),
        json!({"text": "stuck", "timestamp": app.at(60)}),
        Some(&tt1),
    )
    .await
    .ok();

    let export = app.get(&format!("/api/sessions/{s1}/export?format=ndjson"), Some(&biz.bearer())).await;
    assert_eq!(export.status.as_u16(), 200);
    assert!(export.header("content-type").unwrap().starts_with("application/x-ndjson"));
    let lines: Vec<Value> = export.text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["kind"], "session");
    assert_eq!(lines[0]["testerLabel"], "Tester 1");
    assert_eq!(lines[0]["tasks"].as_array().unwrap().len(), 2);
    assert!(!export.text.contains(&t1.user_id) && !export.text.contains(&t1.email));
    let kinds = |k: &str| lines.iter().filter(|l| l["kind"] == k).count();
    assert_eq!((kinds("event"), kinds("facial"), kinds("voice"), kinds("note")), (1200, 1, 1, 1));
    // timestamp order across streams
    let ts: Vec<&str> = lines[1..].iter().map(|l| l["timestamp"].as_str().unwrap()).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]));
    // the export is what the offline analyser reads
    openscouter_analysis::parse_session_ndjson(&export.text).unwrap();

    // re-import into another session through the ingestion API: the same rows come back
    let (s2, tok2) = app.session(&t2, &job).await;
    let strip = |kind: &str| -> Vec<Value> {
        lines
            .iter()
            .filter(|l| l["kind"] == kind)
            .map(|l| {
                let mut l = l.clone();
                l.as_object_mut().unwrap().remove("kind");
                l
            })
            .collect()
    };
    for (path, kind) in [("events", "event"), ("facial", "facial"), ("voice", "voice")] {
        for chunk in strip(kind).chunks(1000) {
            let res = app
                .post(
                    &format!("/api/data/{path}"),
                    json!({"sessionId": s2, "batch": chunk}),
                    Some(&format!("Token {tok2}")),
                )
                .await;
            assert_eq!(res.ok()["rejected"], 0, "{}", res.text);
        }
    }
    let again = app.get(&format!("/api/sessions/{s2}/export"), Some(&biz.bearer())).await;
    let rows = |text: &str| -> Vec<Value> {
        text.lines()
            .skip(1)
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|l| l["kind"] != "note")
            .collect()
    };
    assert_eq!(rows(&export.text), rows(&again.text));

    // CSV: a header and one line per record
    let csv = app.get(&format!("/api/sessions/{s1}/export?format=csv"), Some(&biz.bearer())).await;
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert!(csv.text.starts_with("kind,timestamp,clientId,eventType"));
    assert_eq!(csv.text.lines().count(), 1 + 1200 + 3);
    assert!(csv.text.contains("\"this is \"\"annoying\"\", really\""));
    app.get(&format!("/api/sessions/{s1}/export?format=xml"), Some(&biz.bearer())).await.assert_error(400);
    let _ = Method::GET;
}
