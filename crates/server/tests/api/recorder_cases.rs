//! The recorder's test pages (`tests/browser/pages/<page>/`) and what the engine must find on
//! each (`tests/browser/fixtures/<page>.expected.json`), shared by the live browser test
//! (`browser.rs`) and the replay of the committed recordings (`recorded.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::helpers::{Account, TestApp, study_body};

/// One test page: a planted defect or its clean twin.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Name of its fixtures (and of its scripted tester).
    pub name: &'static str,
    /// Directory under `tests/browser/pages/` (two testers may use one page).
    pub dir: &'static str,
    /// The task the tester is given (one task per page in the study).
    pub task: &'static str,
    /// How the tester reports the attempt.
    pub outcome: &'static str,
    /// Single Ease Question answer.
    pub seq: i64,
}

/// Every page, in the order the browser test visits them.
pub const PAGES: [Page; 14] = [
    Page { name: "dead-submit", dir: "dead-submit", task: "Pay for the socks", outcome: "abandon", seq: 1 },
    Page {
        name: "dead-submit-clean",
        dir: "dead-submit-clean",
        task: "Pay for the socks (working checkout)",
        outcome: "success",
        seq: 6,
    },
    Page {
        name: "date-colour-error",
        dir: "date-colour-error",
        task: "Enter your date of birth",
        outcome: "abandon",
        seq: 1,
    },
    Page {
        name: "date-colour-error-clean",
        dir: "date-colour-error-clean",
        task: "Enter your date of birth (working form)",
        outcome: "success",
        seq: 6,
    },
    Page {
        name: "nav-maze",
        dir: "nav-maze",
        task: "Find how much delivery costs",
        outcome: "abandon",
        seq: 1,
    },
    Page {
        name: "nav-maze-clean",
        dir: "nav-maze-clean",
        task: "Find how much delivery costs (clear links)",
        outcome: "success",
        seq: 7,
    },
    Page {
        name: "error-click",
        dir: "error-click",
        task: "Apply the coupon SOCKS10",
        outcome: "fail",
        seq: 2,
    },
    Page {
        name: "wall-of-text",
        dir: "wall-of-text",
        task: "Find the notice period for cancelling",
        outcome: "abandon",
        seq: 1,
    },
    // #28: each tester's own pace, and the false alarms of peers' tools.
    Page {
        name: "slow-reader",
        dir: "paced-form",
        task: "Answer the shopping survey",
        outcome: "success",
        seq: 6,
    },
    Page {
        name: "fast-freeze",
        dir: "paced-form",
        task: "Answer the shopping survey (fast)",
        outcome: "abandon",
        seq: 2,
    },
    Page { name: "stepper", dir: "stepper", task: "Put six pairs in the basket", outcome: "success", seq: 7 },
    Page {
        name: "triple-select",
        dir: "triple-select",
        task: "Copy the delivery times and agree",
        outcome: "success",
        seq: 6,
    },
    Page {
        name: "new-tab-link",
        dir: "new-tab-link",
        task: "Check the size guide and choose a size",
        outcome: "success",
        seq: 6,
    },
    Page {
        name: "dead-once",
        dir: "dead-once",
        task: "Download the invoice of order 1042",
        outcome: "abandon",
        seq: 1,
    },
];

/// `tests/browser/<rest>`.
pub fn browser_dir(rest: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser").join(rest)
}

/// The cargo target directory (`CARGO_TARGET_DIR`, else the workspace's `target/`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|s| !s.is_empty())
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"), PathBuf::from)
}

/// `tests/browser/fixtures/<page>.expected.json`.
pub fn expected(page: &str) -> Value {
    let path = browser_dir(&format!("fixtures/{page}.expected.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The study holding one task per page, launched, with room for a session per page.
pub async fn study(app: &TestApp, biz: &Account, tasks: &[&str]) -> (String, Vec<String>) {
    let mut body = study_body();
    body["title"] = json!("Recorder test pages");
    body["prototypeUrl"] = json!("http://127.0.0.1/");
    body["tasks"] = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"title": t, "description": t, "successCriteria": "Done", "order": i + 1}))
        .collect();
    body["targeting"]["testerCount"] = json!(tasks.len().max(3) + 2);
    let job = app.launched_study(biz, body).await;
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await;
    let mut listed: Vec<(i64, String)> = study.ok()["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["order"].as_i64().unwrap(), t["taskId"].as_str().unwrap().to_owned()))
        .collect();
    listed.sort();
    (job, listed.into_iter().map(|(_, id)| id).collect())
}

/// What the engine said about one session.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub page: String,
    /// `(criterion, selector, urlPath, title)` of every finding.
    pub findings: Vec<(String, Option<String>, Option<String>, String)>,
    pub frustration: f64,
    pub critical_moments: Vec<Value>,
}

impl Outcome {
    /// Reads the findings and the session's insights after analysis.
    pub async fn read(app: &TestApp, page: &str, sid: &str, auth: &str) -> Self {
        let f = app.get(&format!("/api/sessions/{sid}/findings"), Some(auth)).await;
        let findings = f
            .ok()
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["wcag"]["criterion"].as_str().unwrap_or("-").to_owned(),
                    f["selector"].as_str().map(str::to_owned),
                    f["urlPath"].as_str().map(str::to_owned),
                    f["title"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        let s = app.get(&format!("/api/sessions/{sid}"), Some(auth)).await;
        let insights = &s.ok()["analysis"]["insights"];
        Self {
            page: page.to_owned(),
            findings,
            frustration: insights["overallFrustrationScore"].as_f64().unwrap(),
            critical_moments: insights["criticalMoments"].as_array().cloned().unwrap_or_default(),
        }
    }

    /// One line for the test log.
    pub fn describe(&self) -> String {
        let f: Vec<String> = self
            .findings
            .iter()
            .map(|(c, sel, path, title)| {
                format!("{c} on {} ({title})", sel.as_deref().or(path.as_deref()).unwrap_or("?"))
            })
            .collect();
        let m: Vec<String> = self
            .critical_moments
            .iter()
            .map(|m| format!("{} {} at {}", m["severity"], m["type"], m["timestamp"]))
            .collect();
        format!(
            "{:<24} findings [{}]; frustration {:.2}; critical moments [{}]",
            self.page,
            f.join("; "),
            self.frustration,
            m.join("; ")
        )
    }
}

fn matches(finding: &(String, Option<String>, Option<String>, String), want: &Value) -> bool {
    let (criterion, selector, path, _) = finding;
    want["criterion"].as_str() == Some(criterion.as_str())
        && want["selector"].as_str().is_none_or(|s| selector.as_deref() == Some(s))
        && want["path"].as_str().is_none_or(|p| path.as_deref() == Some(p))
}

/// Recall and false findings over a set of pages.
#[derive(Debug, Default)]
pub struct Score {
    /// Defect pages (with at least one expected finding) and how many were found.
    pub defects: usize,
    pub found: usize,
    /// Findings that match no expectation (on a clean page, or beside the planted defect).
    pub false_findings: usize,
    /// Defect pages whose expected critical moment is missing.
    pub missing_moments: usize,
    pub problems: Vec<String>,
}

impl Score {
    /// Checks one session against its page's expectations.
    pub fn add(&mut self, out: &Outcome) {
        let want = expected(&out.page);
        let required = want["findings"].as_array().cloned().unwrap_or_default();
        let allowed = want["allowed"].as_array().cloned().unwrap_or_default();
        if !required.is_empty() {
            self.defects += 1;
            let missing: Vec<&Value> =
                required.iter().filter(|w| !out.findings.iter().any(|f| matches(f, w))).collect();
            if missing.is_empty() {
                self.found += 1;
            } else {
                self.problems.push(format!("{}: expected finding(s) missing: {missing:?}", out.page));
            }
        }
        for f in &out.findings {
            if !required.iter().chain(&allowed).any(|w| matches(f, w)) {
                self.false_findings += 1;
                self.problems.push(format!("{}: unexpected finding {f:?}", out.page));
            }
        }
        if want["criticalMoment"] == true && out.critical_moments.is_empty() {
            self.missing_moments += 1;
            self.problems.push(format!("{}: no critical moment", out.page));
        }
    }

    /// `found / defects`.
    pub fn recall(&self) -> f64 {
        if self.defects == 0 { 1.0 } else { self.found as f64 / self.defects as f64 }
    }

    pub fn summary(&self) -> String {
        format!(
            "recall {}/{} = {:.2}; false findings {}; missing critical moments {}",
            self.found,
            self.defects,
            self.recall(),
            self.false_findings,
            self.missing_moments
        )
    }

    /// Fails with every problem listed.
    pub fn assert_perfect(&self) {
        assert!(self.problems.is_empty(), "{}\n{}", self.summary(), self.problems.join("\n"));
    }
}
