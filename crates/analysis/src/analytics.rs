//! Per-test analytics sub-scores and the tone profile of analysis.md §5.

use crate::baseline::Baseline;
use crate::signals::{Prepared, Signal, is_negative_emotion, voice_sentiments};
use crate::timeline;
use crate::util::{round_to, unit};
use serde::{Deserialize, Serialize};

/// Sub-scores 0–100, higher is better; `null` for a stream that is absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Analytics {
    /// Weighted mean of the streams present.
    pub overall: f64,
    /// From facial snapshots.
    pub emotion: Option<f64>,
    /// From interaction events.
    pub interaction: f64,
    /// From voice sentiment.
    pub voice: Option<f64>,
    /// The tester's own pace the hesitation thresholds came from (analysis.md §1.1).
    #[serde(default)]
    pub baseline: Baseline,
}

/// Tone for any text an LLM writes about the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    /// mean negative intensity < 0.2
    Standard,
    /// < 0.4
    Supportive,
    /// < 0.6
    Moderate,
    /// otherwise
    Restorative,
}

/// Emotions reduced to what an LLM may see: a tone and an anonymous label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToneProfile {
    /// The tone.
    pub tone: Tone,
    /// Mean negative intensity over snapshots with a face (0..1).
    pub mean_negative_intensity: f64,
    /// `Tester N`, never a name.
    pub tester_label: String,
}

/// analysis.md §5: `interaction = 100 × (1 − mean smoothed frustration from behavioural
/// signals)`, `emotion = 100 × (1 − confidence-weighted share of negative snapshots)`,
/// `voice = 50 × (1 + mean sentiment)`, `overall` = mean weighted 0.5 / 0.25 / 0.25 over
/// the streams present, re-normalised. Behavioural means from interaction events: a task
/// failure is an outcome, already counted by task success, so it is left out here.
pub(crate) fn analytics(p: &Prepared<'_>, signals: &[Signal]) -> Analytics {
    let behavioural =
        timeline::compute(signals.iter().filter(|s| s.kind.is_behavioural()), p.origin, p.end, &p.th);
    let interaction = 100.0 * (1.0 - behavioural.mean());
    let (mut neg, mut all) = (0.0, 0.0);
    let mut detected = 0usize;
    for f in p.facial.iter().filter(|f| f.face_detected) {
        detected += 1;
        let c = unit(f.confidence);
        all += c;
        if is_negative_emotion(&f.emotion) {
            neg += c;
        }
    }
    let emotion = (detected > 0).then(|| 100.0 * (1.0 - if all > 0.0 { unit(neg / all) } else { 0.0 }));
    let sentiments = voice_sentiments(p);
    let voice = (!sentiments.is_empty()).then(|| {
        let mean = sentiments.iter().sum::<f64>() / sentiments.len() as f64;
        (50.0 * (1.0 + mean.clamp(-1.0, 1.0))).clamp(0.0, 100.0)
    });
    let mut parts = Vec::new();
    if !p.events.is_empty() || (emotion.is_none() && voice.is_none()) {
        parts.push((0.5, interaction));
    }
    if let Some(e) = emotion {
        parts.push((0.25, e));
    }
    if let Some(v) = voice {
        parts.push((0.25, v));
    }
    let wsum: f64 = parts.iter().map(|x| x.0).sum();
    let overall = parts.iter().map(|x| x.0 * x.1).sum::<f64>() / wsum;
    let clamp = |x: f64| round_to(x.clamp(0.0, 100.0), 1);
    Analytics {
        overall: clamp(overall),
        emotion: emotion.map(clamp),
        interaction: clamp(interaction),
        voice: voice.map(clamp),
        baseline: p.baseline.clone(),
    }
}

/// Tone profile from the mean negative intensity (confidence of negative expressions,
/// 0 for other snapshots with a face), thresholds of analysis.md §5.
pub(crate) fn tone_profile(p: &Prepared<'_>, tester_label: String) -> ToneProfile {
    let (mut sum, mut n) = (0.0, 0usize);
    for f in p.facial.iter().filter(|f| f.face_detected) {
        n += 1;
        if is_negative_emotion(&f.emotion) {
            sum += unit(f.confidence);
        }
    }
    let mean = if n > 0 { sum / n as f64 } else { 0.0 };
    let tone = if mean < 0.2 {
        Tone::Standard
    } else if mean < 0.4 {
        Tone::Supportive
    } else if mean < 0.6 {
        Tone::Moderate
    } else {
        Tone::Restorative
    };
    ToneProfile { tone, mean_negative_intensity: round_to(mean, 4), tester_label }
}
