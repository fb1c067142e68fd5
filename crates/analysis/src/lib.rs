//! Pure analysis engine of OpenScouter (spec `analysis.md`): no I/O, no async, no clock.
//!
//! Input is one session's streams ([`SessionInput`], usually read with
//! [`parse_session_ndjson`]); [`analyze_session`] turns it into signals, a frustration
//! timeline, insights, findings and analytics; [`synthesize_study`] merges confirmed
//! sessions into a study report. Every output is deterministic byte for byte: items are
//! sorted canonically, maps are ordered, ids are hashes of their keys.

mod analytics;
mod baseline;
mod findings;
mod input;
mod insights;
mod report;
mod sentiment;
mod signals;
mod stats;
mod synthesis;
mod thresholds;
mod time;
mod timeline;
mod util;

pub use analytics::{Analytics, Tone, ToneProfile};
pub use baseline::Baseline;
pub use findings::{Evidence, Finding, Severity, Wcag};
pub use input::{
    EventItem, EventType, FacialItem, NoteItem, Outcome, ParseError, SessionInput, SessionMeta, Survey,
    TaskAttempt, TaskMeta, Viewport, VoiceItem, parse_session_ndjson,
};
pub use insights::{CriticalMoment, Insights, MomentSeverity};
pub use report::{analyze_ndjson_report, analyze_study_ndjson};
pub use sentiment::sentiment;
pub use signals::{Family, Signal, SignalKind};
pub use stats::{beta_credible_interval, beta_posterior_mean, probability_best};
pub use synthesis::{
    AbTest, AbVariant, ConfirmedSession, NdStratum, NpsSummary, OutcomeCounts, SimpsonWarning, StudyMeta,
    StudyReport, SusSummary, TaskReport, synthesize_study,
};
pub use thresholds::Thresholds;
pub use time::Timestamp;
pub use timeline::{Timeline, TimelinePoint};

use serde::{Deserialize, Serialize};
use signals::Prepared;

/// Everything Agent 2 produces for one session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAnalysis {
    /// The session analysed.
    pub session_id: String,
    /// Detected signals, in time order.
    pub signals: Vec<Signal>,
    /// Frustration timeline (sparse).
    pub timeline: Timeline,
    /// Score, attention drops, critical moments, summary.
    pub insights: Insights,
    /// Candidate findings awaiting the tester's confirmation.
    pub findings: Vec<Finding>,
    /// Sub-scores 0–100.
    pub analytics: Analytics,
    /// Tone for LLM-written text.
    pub tone_profile: ToneProfile,
}

/// `Tester N` from the session's label, `Tester 1` when the label has another form.
fn tester_label(meta: &SessionMeta) -> String {
    match meta.tester_label.strip_prefix("Tester ") {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => meta.tester_label.clone(),
        _ => "Tester 1".to_string(),
    }
}

fn insights_of(p: &Prepared<'_>, signals: &[Signal], c: &timeline::Computed) -> Insights {
    let score = c.score();
    let moments = insights::critical_moments(p, c, signals);
    let summary = insights::summary(p, score, &moments, signals);
    Insights {
        overall_frustration_score: score,
        attention_drop_timestamps: signals
            .iter()
            .filter(|s| s.kind == SignalKind::AttentionDrop)
            .map(|s| s.timestamp)
            .collect(),
        critical_moments: moments,
        summary,
    }
}

/// Analyses one session completely (Agent 2, analysis.md §1–§3 and §5).
pub fn analyze_session(input: &SessionInput) -> SessionAnalysis {
    let p = Prepared::new(input, None);
    let signals = signals::detect(&p);
    let c = timeline::compute(signals.iter(), p.origin, p.end, &p.th);
    let insights = insights_of(&p, &signals, &c);
    let findings = findings::session_findings(&p, &signals);
    let analytics = analytics::analytics(&p, &signals);
    let tone_profile = analytics::tone_profile(&p, tester_label(&input.session));
    SessionAnalysis {
        session_id: input.session.session_id.clone(),
        timeline: c.to_timeline(),
        signals,
        insights,
        findings,
        analytics,
        tone_profile,
    }
}

/// Real-time insights (Agent 1): only items at or before `snapshot_at_ms` are used, and
/// the timeline ends there; without it, everything received so far.
pub fn insights_snapshot(input: &SessionInput, snapshot_at_ms: Option<i64>) -> Insights {
    let p = Prepared::new(input, snapshot_at_ms);
    let signals = signals::detect(&p);
    let c = timeline::compute(signals.iter(), p.origin, p.end, &p.th);
    insights_of(&p, &signals, &c)
}
