//! Every status the integration suite observed per operation is documented in `openapi.json`.
//!
//! `.ci/run` runs the suite with `OPENSCOUTER_STATUS_LOG=FILE` (the API tests append
//! `METHOD PATH STATUS` for each response) and then this check with
//! `OPENSCOUTER_CHECK_STATUSES=1`. Under a plain `cargo test` it says so and checks nothing:
//! it needs the other test binary's complete log, which only a run after it has.

#![allow(clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// The operation template matching a concrete path (`/api/jobs/job_1` → `/api/jobs/{id}`),
/// preferring templates with more literal segments.
fn template<'a>(templates: &'a [String], path: &str) -> Option<&'a str> {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    templates
        .iter()
        .filter(|t| {
            let tp: Vec<&str> = t.split('/').collect();
            tp.len() == parts.len()
                && tp.iter().zip(&parts).all(|(t, p)| (t.starts_with('{') && !p.is_empty()) || t == p)
        })
        .max_by_key(|t| t.split('/').filter(|s| !s.starts_with('{')).count())
        .map(String::as_str)
}

#[test]
fn every_observed_status_is_documented() {
    if std::env::var("OPENSCOUTER_CHECK_STATUSES").as_deref() != Ok("1") {
        eprintln!("skipped: run by .ci/run after the API suite (OPENSCOUTER_CHECK_STATUSES=1)");
        return;
    }
    let log_path = std::env::var("OPENSCOUTER_STATUS_LOG").expect("OPENSCOUTER_STATUS_LOG");
    let log = std::fs::read_to_string(&log_path).expect("the status log of the API suite");
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json"))
            .expect("openapi.json"),
    )
    .expect("valid JSON");
    let paths = doc["paths"].as_object().expect("paths");
    let templates: Vec<String> = paths.keys().cloned().collect();
    let mut observed: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for line in log.lines() {
        let mut it = line.split(' ');
        let (Some(method), Some(path), Some(status)) = (it.next(), it.next(), it.next()) else { continue };
        let method = method.to_lowercase();
        // Unknown routes (the 404 fallback) and wrong methods (405) are not operations.
        let Some(t) = template(&templates, path) else { continue };
        if paths[t].get(&method).is_none() {
            continue;
        }
        observed.entry((method, t.to_owned())).or_default().insert(status.to_owned());
    }
    assert!(
        observed.len() > 40,
        "the log holds too few operations ({}): did the API suite run?",
        observed.len()
    );
    let mut missing = Vec::new();
    for ((method, t), statuses) in &observed {
        let documented = &paths[t.as_str()][method.as_str()]["responses"];
        for s in statuses {
            if documented.get(s).is_none() {
                missing.push(format!("{} {t} → {s}", method.to_uppercase()));
            }
        }
    }
    let pairs: usize = observed.values().map(BTreeSet::len).sum();
    eprintln!("{} operations, {pairs} (operation, status) pairs observed", observed.len());
    assert!(missing.is_empty(), "statuses missing from openapi.json:\n{}", missing.join("\n"));
}
