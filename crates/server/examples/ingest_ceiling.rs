//! Ingestion ceiling: the same rows as `bench/ingest.sh` sends, inserted straight through the
//! store (same SQLite schema, indexes and pragmas, one transaction per batch), without HTTP,
//! auth, JSON or validation. Usage: `ingest_ceiling DB_PATH BATCH_SIZE BATCHES`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use openscouter_server::domain::ids::StudyId;
use openscouter_server::domain::study::{ConsentRecord, ConsentStreams};
use openscouter_server::domain::{PipelineStatus, Role, SessionStatus, StudyStatus, Tenant};
use openscouter_server::store::{
    AccountStore, EventRow, Guarded, NewOrganization, NewSession, NewUser, SessionStart, SessionStore, Store,
    StreamBatch, StudyStore, StudyWrite,
};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("DB_PATH");
    let batch: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let batches: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200);
    let store = openscouter_server::store::sqlite::connect(
        &format!("sqlite://{path}"),
        4,
        openscouter_server::store::sqlite::DEFAULT_PAGE_SIZE,
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let user = |id: &str, role| NewUser {
        id: id.into(),
        email: format!("{id}@x.io"),
        full_name: "B".into(),
        role,
        password_hash: "x".into(),
        created_at: now,
    };
    store
        .create_user(
            user("user_b", Role::Business),
            Some(NewOrganization { id: "org_b".into(), name: "B".into(), created_at: now }),
        )
        .await
        .unwrap();
    store.create_user(user("user_t", Role::Tester), None).await.unwrap();
    let w = StudyWrite {
        definition: serde_json::from_value(serde_json::json!({
            "title": "Ceiling", "description": "d", "prototypeUrl": "https://x.io", "prototypeType": "url",
            "targeting": {"countries": ["GB"], "testerCount": 3}, "ndCategories": [],
            "compensation": {"currency": "GBP", "amount": 1, "type": "flat"}
        }))
        .unwrap(),
        tester_count: 3,
        min_age: None,
        max_age: None,
        targets: vec![],
        tasks: vec![],
    };
    let study = StudyId::from("job_1");
    store.create_study(&study, &"org_b".into(), &"user_b".into(), w, now).await.unwrap();
    store
        .set_study_status(None, &study, &[StudyStatus::Draft], StudyStatus::Open, Default::default(), now)
        .await
        .unwrap();
    store.accept_study(&"user_t".into(), &study, &[StudyStatus::Open], now).await.unwrap();
    let s = NewSession {
        id: "sess_1".into(),
        study_id: "job_1".into(),
        tester_id: "user_t".into(),
        token_hash: "h".into(),
        token_expires_at: now + 1,
        now,
        consent: Some(ConsentRecord {
            version: "1".into(),
            streams: ConsentStreams { events: true, ..Default::default() },
            given_at: String::new(),
        }),
    };
    let start = SessionStart {
        study_in: &[StudyStatus::Open],
        study_moves: (StudyStatus::Open, StudyStatus::InProgress),
        status: SessionStatus::Active,
        pipeline: PipelineStatus::Collecting,
        take_seat: false,
    };
    store.create_session(s, start, &|_| None).await.unwrap();

    let rows = |n: usize, base: i64| -> Vec<EventRow> {
        openscouter_server::domain::ids::new_ids("evt", now, n)
            .into_iter()
            .enumerate()
            .map(|(i, id)| EventRow {
                id,
                client_id: None,
                ts: now + base + i as i64,
                event_type: "click".into(),
                target_selector: format!("#checkout > button.pay-{}", i % 17),
                x: Some(412.5),
                y: Some(318.0),
                scroll_y: None,
                input_length: None,
                viewport_width: Some(1280),
                viewport_height: Some(800),
                url: Some("https://shop.example.com/checkout".into()),
                target_text: Some("Pay now".into()),
                task_id: None,
                hover_ms: Some(120),
                error_message: None,
                extra: Default::default(),
            })
            .collect()
    };
    let start = Instant::now();
    // Each batch continues the timeline, as a real session (and the HTTP benchmark) does.
    // `REPEAT_TIMESTAMPS=1` sends the same timestamps every batch instead: the (session, ts)
    // index then takes inserts in its middle, which is ~5x slower on a growing table.
    let repeat = std::env::var("REPEAT_TIMESTAMPS").is_ok();
    for b in 0..batches {
        let base = if repeat { 0 } else { (b * batch) as i64 };
        let done = store
            .ingest(
                &Tenant::All,
                &"sess_1".into(),
                SessionStatus::Active,
                StreamBatch::Events(rows(batch, base)),
            )
            .await
            .unwrap();
        assert!(matches!(done, Guarded::Done(_)), "the batch was refused");
    }
    let secs = start.elapsed().as_secs_f64();
    let total = batch * batches;
    println!(
        "ceiling: {total} rows in {secs:.2} s = {:.0} rows/s (batch {batch}, one transaction per batch)",
        total as f64 / secs
    );
}
