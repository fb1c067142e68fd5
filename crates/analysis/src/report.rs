//! JSON reports for the offline command `openscouter analyze` (strings in, JSON out).

use crate::input::{ParseError, SessionInput, TaskMeta, parse_session_ndjson};
use crate::synthesis::{ConfirmedSession, StudyMeta, synthesize_study};
use crate::{SessionAnalysis, analyze_session};
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn session_json(a: &SessionAnalysis) -> Value {
    json!({
        "sessionId": a.session_id,
        "insights": a.insights,
        "findings": a.findings,
        "analytics": a.analytics,
        "toneProfile": a.tone_profile,
        "signals": a.signals,
        "timeline": a.timeline,
    })
}

/// Study metadata gathered from the sessions themselves (offline, no database).
fn study_meta(inputs: &[&SessionInput]) -> StudyMeta {
    let job_id = inputs
        .iter()
        .map(|i| i.session.job_id.as_str())
        .filter(|j| !j.is_empty())
        .min()
        .unwrap_or("")
        .to_string();
    let mut tasks: BTreeMap<String, TaskMeta> = BTreeMap::new();
    let mut nd = Vec::new();
    for i in inputs {
        for t in &i.session.tasks {
            tasks.entry(t.task_id.clone()).or_insert_with(|| t.clone());
        }
        nd.extend(i.session.nd_categories.iter().cloned());
    }
    nd.sort();
    nd.dedup();
    StudyMeta {
        job_id,
        title: String::new(),
        tasks: tasks.into_values().collect(),
        nd_categories: nd,
        variants: Vec::new(),
    }
}

/// Analyses one exported session: `{sessionId, insights, findings, analytics,
/// toneProfile, signals, timeline}`, plus `studyReport` (the single-session study report,
/// every finding taken as confirmed) when `confirm_all` is set.
pub fn analyze_ndjson_report(text: &str, confirm_all: bool) -> Result<Value, ParseError> {
    let input = parse_session_ndjson(text)?;
    let analysis = analyze_session(&input);
    let mut out = session_json(&analysis);
    if confirm_all {
        let meta = study_meta(&[&input]);
        let report = synthesize_study(&[ConfirmedSession::all_confirmed(input, analysis)], &meta);
        if let Value::Object(map) = &mut out {
            map.insert("studyReport".into(), json!(report));
        }
    }
    Ok(out)
}

/// Analyses a folder of exported sessions as one study, every finding taken as
/// confirmed: `{sessions: [{file, …per-session results}], studyReport}`. Files are
/// processed in name order; a parse error names the file in its reason.
pub fn analyze_study_ndjson(files: &[(String, String)]) -> Result<Value, ParseError> {
    let mut files: Vec<&(String, String)> = files.iter().collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut confirmed = Vec::new();
    let mut per_session = Vec::new();
    for (name, text) in files {
        let input = parse_session_ndjson(text)
            .map_err(|e| ParseError { line: e.line, reason: format!("{name}: {}", e.reason) })?;
        let analysis = analyze_session(&input);
        let mut v = session_json(&analysis);
        if let Value::Object(map) = &mut v {
            map.insert("file".into(), json!(name));
        }
        per_session.push(v);
        confirmed.push(ConfirmedSession::all_confirmed(input, analysis));
    }
    let inputs: Vec<&SessionInput> = confirmed.iter().map(|c| &c.input).collect();
    let meta = study_meta(&inputs);
    let report = synthesize_study(&confirmed, &meta);
    Ok(json!({ "sessions": per_session, "studyReport": report }))
}
