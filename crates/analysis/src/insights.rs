//! Real-time insights of analysis.md §2: score, attention drops, critical moments, summary.

use crate::signals::{Prepared, Signal, SignalKind};
use crate::time::Timestamp;
use crate::timeline::Computed;
use crate::util::clock;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Severity of a critical moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MomentSeverity {
    /// smoothed ≥ 0.85
    Critical,
    /// smoothed ≥ 0.7
    High,
    /// otherwise
    Medium,
}

/// A peak of the frustration envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CriticalMoment {
    /// When the continuous envelope peaked (a signal's time; analysis.md §2).
    pub timestamp: Timestamp,
    /// The signal with the largest weighted contribution within ±10 s.
    #[serde(rename = "type")]
    pub kind: SignalKind,
    /// From the envelope's value at the peak.
    pub severity: MomentSeverity,
    /// `<task title> - <url path or selector>`.
    pub context: String,
}

/// Agent 1 output (api.md §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Insights {
    /// 0..1, two decimals.
    pub overall_frustration_score: f64,
    /// Start of each attention drop.
    pub attention_drop_timestamps: Vec<Timestamp>,
    /// Peaks of the smoothed timeline.
    pub critical_moments: Vec<CriticalMoment>,
    /// Plain-language summary that blames the design, not the person.
    pub summary: String,
}

/// Weighted contribution per kind of the signals starting in `[from, to]` (sorted input).
fn contributions(signals: &[Signal], from: i64, to: i64) -> Option<(SignalKind, &Signal)> {
    let lo = signals.partition_point(|s| s.timestamp.0 < from);
    let hi = signals.partition_point(|s| s.timestamp.0 <= to);
    let mut sums: BTreeMap<SignalKind, (f64, &Signal)> = BTreeMap::new();
    for s in &signals[lo..hi] {
        let e = sums.entry(s.kind).or_insert((0.0, s));
        e.0 += s.weighted();
        if s.weighted() > e.1.weighted() {
            e.1 = s;
        }
    }
    sums.into_iter()
        .max_by(|a, b| {
            a.1.0
                .total_cmp(&b.1.0)
                .then_with(|| a.0.default_weight().total_cmp(&b.0.default_weight()))
                .then_with(|| b.0.cmp(&a.0))
        })
        .map(|(k, (_, s))| (k, s))
}

fn task_title(p: &Prepared<'_>, task: Option<&str>) -> String {
    task.map(|t| {
        p.input
            .session
            .tasks
            .iter()
            .filter(|m| m.task_id == t)
            .map(|m| m.title.clone())
            .min()
            .filter(|title| !title.is_empty())
            .unwrap_or_else(|| t.to_string())
    })
    .unwrap_or_else(|| "Session".to_string())
}

/// `<task title> - <url path or selector>` of a signal.
pub(crate) fn context_of(p: &Prepared<'_>, s: &Signal) -> String {
    let place = s.url_path.as_deref().or(s.selector.as_deref()).unwrap_or("page");
    format!("{} - {}", task_title(p, s.task_id.as_deref()), place)
}

/// Peaks of the continuous envelope ≥ the threshold, greedily kept from the highest down
/// when at least the spacing apart, reported in time order (analysis.md §2).
///
/// A peak is a knot where the envelope rises to a value above every value in the window
/// before it and at least every value in the window after it (the continuous form of "a
/// bucket above its neighbours"). Its time is the knot's, so it does not depend on where the
/// session's buckets start.
pub(crate) fn critical_moments(p: &Prepared<'_>, c: &Computed, signals: &[Signal]) -> Vec<CriticalMoment> {
    let th = &p.th;
    let ks = &c.knots;
    let w = c.bucket;
    let mut peaks: Vec<(f64, i64)> = Vec::new();
    for (j, k) in ks.iter().enumerate() {
        if k.s < th.critical_moment_min || k.s <= k.before {
            continue;
        }
        let lo = k.t.saturating_sub(w);
        let hi = k.t.saturating_add(w);
        let first = ks[..j].partition_point(|x| x.t <= lo);
        let at_lo = first.checked_sub(1).map_or(0.0, |q| c.envelope_after(&ks[q], lo));
        let left = ks[first..j].iter().map(|x| x.s).fold(at_lo, f64::max);
        let right = ks[j + 1..].iter().take_while(|x| x.t <= hi).map(|x| x.s).fold(0.0, f64::max);
        if k.s > left && k.s >= right {
            peaks.push((k.s, k.t));
        }
    }
    peaks.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let spacing = th.critical_moment_spacing_ms.round() as i64;
    let mut kept: BTreeSet<i64> = BTreeSet::new();
    let mut out = Vec::new();
    for (s, t) in peaks {
        if spacing > 0
            && kept.range(t.saturating_sub(spacing - 1)..=t.saturating_add(spacing - 1)).next().is_some()
        {
            continue;
        }
        kept.insert(t);
        let jw = th.join_window_ms as i64;
        let Some((kind, top)) = contributions(signals, t.saturating_sub(jw), t.saturating_add(jw)) else {
            continue;
        };
        let severity = if s >= 0.85 {
            MomentSeverity::Critical
        } else if s >= 0.7 {
            MomentSeverity::High
        } else {
            MomentSeverity::Medium
        };
        out.push(CriticalMoment { timestamp: Timestamp(t), kind, severity, context: context_of(p, top) });
    }
    out.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then_with(|| a.kind.cmp(&b.kind)));
    out
}

/// A sentence about a signal that names the design, never the person.
pub(crate) fn design_phrase(s: &Signal) -> String {
    let sel = s.selector.as_deref().unwrap_or("a control");
    let path = s.url_path.as_deref().unwrap_or("the page");
    match s.kind {
        SignalKind::RageClick | SignalKind::UnresponsiveClick => {
            format!("The control {sel} did not respond to repeated clicks")
        }
        SignalKind::ErrorClick => format!("Using {sel} led to an error"),
        SignalKind::Error => format!("The page {path} showed an error"),
        SignalKind::Hesitation | SignalKind::HesitationCluster => {
            format!("The next step on {path} was not clear")
        }
        SignalKind::QuickBack | SignalKind::RevisitLoop => {
            format!("Navigation from {path} led away from the goal")
        }
        SignalKind::NavigationLoop => format!("Navigation around {path} kept leading back to the same pages"),
        SignalKind::TaskFailure => format!("The design did not let the task be completed on {path}"),
        SignalKind::ScrollThrash => format!("Content on {path} was hard to locate"),
        SignalKind::InputStruggle => format!("The field {sel} was hard to complete"),
        SignalKind::AttentionDrop => format!("The page {path} did not hold attention"),
        SignalKind::NegativeEmotion => format!("Expressions showed strain on {path}"),
        SignalKind::NegativeSpeech if s.mentions_reading => {
            format!("The text on {path} was hard to read")
        }
        SignalKind::NegativeSpeech => format!("The tester described difficulty on {path}"),
    }
}

/// Plain summary of the session built from the score, the moments and the signals.
pub(crate) fn summary(
    p: &Prepared<'_>,
    score: f64,
    moments: &[CriticalMoment],
    signals: &[Signal],
) -> String {
    if signals.is_empty() {
        return "No signs of difficulty were found in this session.".to_string();
    }
    let level = if score < 0.2 {
        "low"
    } else if score < 0.5 {
        "moderate"
    } else {
        "high"
    };
    let mut parts = vec![format!("Overall frustration was {level} ({score:.2} on a 0 to 1 scale).")];
    // The strongest signal of each of the three heaviest kinds, as design sentences.
    let mut by_kind: BTreeMap<SignalKind, (f64, &Signal)> = BTreeMap::new();
    for s in signals {
        let e = by_kind.entry(s.kind).or_insert((0.0, s));
        e.0 += s.weighted();
        if s.weighted() > e.1.weighted() {
            e.1 = s;
        }
    }
    let mut kinds: Vec<(SignalKind, f64, &Signal)> =
        by_kind.into_iter().map(|(k, (w, s))| (k, w, s)).collect();
    kinds.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut seen = BTreeSet::new();
    for (_, _, s) in kinds.iter().take(3) {
        let sentence = design_phrase(s);
        if seen.insert(sentence.clone()) {
            parts.push(format!("{sentence}."));
        }
    }
    if let Some(m) =
        moments.iter().max_by(|a, b| b.severity.cmp(&a.severity).then_with(|| b.timestamp.cmp(&a.timestamp)))
    {
        parts.push(format!(
            "The hardest moment came at {} ({}).",
            clock(m.timestamp.0.saturating_sub(p.input.session.started_at.0)),
            m.context
        ));
    }
    let drops = signals.iter().filter(|s| s.kind == SignalKind::AttentionDrop).count();
    if drops > 0 {
        parts.push(format!(
            "Attention moved away from the page {drops} time{}.",
            if drops == 1 { "" } else { "s" }
        ));
    }
    parts.join(" ")
}
