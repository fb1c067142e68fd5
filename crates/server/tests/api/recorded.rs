//! The committed browser recordings (`tests/browser/fixtures/<page>.ndjson`, written by
//! `browser.rs` with `OPENSCOUTER_RECORD_FIXTURES=1`) replayed through the real API without
//! a browser: a new study with the same tasks, one session per recording, every event
//! re-ingested with its `clientId`, shifted to the new session's start, the task attempt
//! sent as feedback, the session completed and analysed. The engine must find every planted
//! defect with its WCAG criterion, nothing on the clean twins, and a critical moment where
//! the page's expectations ask for one; recall and false findings over the set are printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use openscouter_server::clock::Clock;
use openscouter_server::domain::format_ms;
use openscouter_server::domain::stream::parse_time;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, TestApp};
use crate::recorder_cases::{Outcome, PAGES, Score, browser_dir, study};

both!(committed_recordings_replay_to_the_expected_findings);

fn recording(page: &str) -> Vec<Value> {
    let path = browser_dir(&format!("fixtures/{page}.ndjson"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (record it: OPENSCOUTER_RECORD_FIXTURES=1 cargo test --test api browser)",
            path.display()
        )
    });
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn ms(v: &Value) -> i64 {
    parse_time(v.as_str().unwrap()).unwrap()
}

async fn committed_recordings_replay_to_the_expected_findings(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    let recordings: Vec<Vec<Value>> = PAGES.iter().map(|p| recording(p.name)).collect();
    // The recordings come from browser runs of different times (so different studies): the
    // new study has every page's task, and each recording's task ids map to it by title.
    let titles: Vec<&str> = PAGES.iter().map(|p| p.task).collect();
    let (job, new_ids) = study(&app, &biz, &titles).await;
    let by_title: HashMap<&str, String> = titles.iter().copied().zip(new_ids.iter().cloned()).collect();

    let mut score = Score::default();
    for (page, lines) in PAGES.iter().zip(&recordings) {
        let header = &lines[0];
        assert_eq!(header["kind"], "session", "{}", page.name);
        let task_map: HashMap<String, String> = header["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| {
                let new = by_title.get(t["title"].as_str()?)?;
                Some((t["taskId"].as_str()?.to_owned(), new.clone()))
            })
            .collect();
        let tester = app.tester().await;
        let (sid, token) = app.session(&tester, &job).await;
        let tt = format!("Token {token}");
        let started = app.get(&format!("/api/sessions/{sid}"), Some(&biz.bearer())).await;
        let shift = ms(&started.ok()["startedAt"]) - ms(&header["startedAt"]);
        let moved = |v: &Value| json!(format_ms(ms(v) + shift));
        let task = |v: &Value| json!(task_map[v.as_str().unwrap()]);

        let mut events = Vec::new();
        let mut attempts = Vec::new();
        for line in &lines[1..] {
            let mut item = line.clone();
            let obj = item.as_object_mut().unwrap();
            let kind = obj.remove("kind").unwrap();
            match kind.as_str().unwrap() {
                "event" => {
                    obj.insert("timestamp".into(), moved(&line["timestamp"]));
                    if let Some(t) = line.get("taskId") {
                        obj.insert("taskId".into(), task(t));
                    }
                    events.push(item);
                }
                "taskAttempt" => {
                    obj.insert("taskId".into(), task(&line["taskId"]));
                    obj.insert("startedAt".into(), moved(&line["startedAt"]));
                    obj.insert("endedAt".into(), moved(&line["endedAt"]));
                    attempts.push(item);
                }
                other => panic!("{}: unexpected record {other}", page.name),
            }
        }
        assert!(!events.is_empty() && attempts.len() == 1, "{}", page.name);
        for batch in events.chunks(1000) {
            app.events(&sid, &tt, batch.to_vec()).await;
        }
        // A second delivery of the same items (as the recorder's retries and its resend after
        // a page load do) stores nothing new.
        let again =
            app.post("/api/data/events", json!({"sessionId": sid, "batch": &events[..1]}), Some(&tt)).await;
        assert_eq!(again.ok()["duplicates"], 1);
        app.post(&format!("/api/sessions/{sid}/feedback"), json!({"tasks": attempts}), Some(&tt)).await.ok();
        // Complete when the original did, relative to its start.
        let end = ms(&header["completedAt"]) + shift;
        app.clock.set_ms(end.max(app.clock.now_ms()));
        app.post(&format!("/api/sessions/{sid}/complete"), json!({}), Some(&tt)).await.ok();
        app.analyzed(&sid, &biz.bearer()).await;
        let out = Outcome::read(&app, page.name, &sid, &tester.bearer()).await;
        eprintln!("{}", out.describe());
        score.add(&out);
    }
    eprintln!("recorded pages ({b:?}): {}", score.summary());
    score.assert_perfect();
}
