//! Thresholds of analysis.md with their defaults; a study may override any of them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Every tunable number of the engine. Missing fields take the defaults of
/// analysis.md; out-of-range values are clamped by [`Thresholds::sanitized`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Thresholds {
    /// Clicks on one selector that make a rage click (3).
    pub rage_click_min_clicks: f64,
    /// Largest gap between clicks of a rage chain (500 ms).
    pub rage_click_max_gap_ms: f64,
    /// Smallest re-click gap of an unresponsive click (500 ms, exclusive).
    pub unresponsive_min_gap_ms: f64,
    /// Largest re-click gap of an unresponsive click (5,000 ms).
    pub unresponsive_max_gap_ms: f64,
    /// An error this soon after a click is an error click (1,000 ms).
    pub error_click_window_ms: f64,
    /// Hover before a click that counts as hesitation (3,000 ms).
    pub hesitation_hover_ms: f64,
    /// Pause between actions that counts as hesitation (8,000 ms).
    pub hesitation_gap_ms: f64,
    /// Hesitation length that gives intensity 1 (20,000 ms).
    pub hesitation_full_ms: f64,
    /// Hesitations that make a cluster (3).
    pub hesitation_cluster_count: f64,
    /// Window of a hesitation cluster (60,000 ms).
    pub hesitation_cluster_window_ms: f64,
    /// Navigation back to the previous URL within this is a quick back (5,000 ms).
    pub quick_back_window_ms: f64,
    /// Arrivals at one URL within a task that make a revisit loop (3).
    pub revisit_min_count: f64,
    /// Quick backs and revisit loops within one task that make a navigation loop (3).
    pub navigation_loop_signals: f64,
    /// Direction reversals that make scroll thrash (4).
    pub scroll_thrash_reversals: f64,
    /// Smallest scroll movement that counts for a reversal (100 px).
    pub scroll_thrash_min_px: f64,
    /// Window of scroll thrash (10,000 ms).
    pub scroll_thrash_window_ms: f64,
    /// Drops of `inputLength` on one field that make input struggle (3).
    pub input_struggle_drops: f64,
    /// Window of those drops (30,000 ms).
    pub input_struggle_window_ms: f64,
    /// Focus/blur cycles without a length change that make input struggle (3).
    pub input_struggle_focus_cycles: f64,
    /// Blur length that makes an attention drop (5,000 ms).
    pub attention_blur_ms: f64,
    /// Consecutive face-not-detected snapshots that make an attention drop (3).
    pub attention_no_face_snapshots: f64,
    /// Smallest confidence of a negative emotion (0.5).
    pub negative_emotion_min_confidence: f64,
    /// Lexicon sentiment at or below which speech is negative (−0.3).
    pub negative_speech_sentiment: f64,
    /// Timeline bucket (10,000 ms).
    pub bucket_ms: f64,
    /// Half-life of the timeline's peak envelope (20,000 ms).
    pub half_life_ms: f64,
    /// Smallest smoothed value of a critical moment (0.5).
    pub critical_moment_min: f64,
    /// Smallest distance between critical moments (30,000 ms).
    pub critical_moment_spacing_ms: f64,
    /// Window within which emotion and speech join behavioural signals (10,000 ms).
    pub join_window_ms: f64,
    /// A task failure joins the group with the most signals in this window before it
    /// (30,000 ms).
    pub task_failure_window_ms: f64,
    /// Overrides of signal weights by signal type (`rage_click` → 0.8, …).
    pub weights: BTreeMap<String, f64>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            rage_click_min_clicks: 3.0,
            rage_click_max_gap_ms: 500.0,
            unresponsive_min_gap_ms: 500.0,
            unresponsive_max_gap_ms: 5_000.0,
            error_click_window_ms: 1_000.0,
            hesitation_hover_ms: 3_000.0,
            hesitation_gap_ms: 8_000.0,
            hesitation_full_ms: 20_000.0,
            hesitation_cluster_count: 3.0,
            hesitation_cluster_window_ms: 60_000.0,
            quick_back_window_ms: 5_000.0,
            revisit_min_count: 3.0,
            navigation_loop_signals: 3.0,
            scroll_thrash_reversals: 4.0,
            scroll_thrash_min_px: 100.0,
            scroll_thrash_window_ms: 10_000.0,
            input_struggle_drops: 3.0,
            input_struggle_window_ms: 30_000.0,
            input_struggle_focus_cycles: 3.0,
            attention_blur_ms: 5_000.0,
            attention_no_face_snapshots: 3.0,
            negative_emotion_min_confidence: 0.5,
            negative_speech_sentiment: -0.3,
            bucket_ms: 10_000.0,
            half_life_ms: 20_000.0,
            critical_moment_min: 0.5,
            critical_moment_spacing_ms: 30_000.0,
            join_window_ms: 10_000.0,
            task_failure_window_ms: 30_000.0,
            weights: BTreeMap::new(),
        }
    }
}

fn clamp(v: f64, lo: f64, hi: f64, default: f64) -> f64 {
    if v.is_finite() { v.clamp(lo, hi) } else { default }
}

impl Thresholds {
    /// A copy with every value finite and in a range the engine can work with
    /// (e.g. buckets between 1 s and 1 h, counts at least 2).
    pub fn sanitized(&self) -> Self {
        let d = Self::default();
        let day = 86_400_000.0;
        Self {
            rage_click_min_clicks: clamp(self.rage_click_min_clicks, 2.0, 1e6, d.rage_click_min_clicks)
                .round(),
            rage_click_max_gap_ms: clamp(self.rage_click_max_gap_ms, 0.0, day, d.rage_click_max_gap_ms),
            unresponsive_min_gap_ms: clamp(self.unresponsive_min_gap_ms, 0.0, day, d.unresponsive_min_gap_ms),
            unresponsive_max_gap_ms: clamp(self.unresponsive_max_gap_ms, 0.0, day, d.unresponsive_max_gap_ms),
            error_click_window_ms: clamp(self.error_click_window_ms, 0.0, day, d.error_click_window_ms),
            hesitation_hover_ms: clamp(self.hesitation_hover_ms, 1.0, day, d.hesitation_hover_ms),
            hesitation_gap_ms: clamp(self.hesitation_gap_ms, 1.0, day, d.hesitation_gap_ms),
            hesitation_full_ms: clamp(self.hesitation_full_ms, 1.0, day, d.hesitation_full_ms),
            hesitation_cluster_count: clamp(
                self.hesitation_cluster_count,
                2.0,
                1e6,
                d.hesitation_cluster_count,
            )
            .round(),
            hesitation_cluster_window_ms: clamp(
                self.hesitation_cluster_window_ms,
                0.0,
                day,
                d.hesitation_cluster_window_ms,
            ),
            quick_back_window_ms: clamp(self.quick_back_window_ms, 0.0, day, d.quick_back_window_ms),
            revisit_min_count: clamp(self.revisit_min_count, 2.0, 1e6, d.revisit_min_count).round(),
            navigation_loop_signals: clamp(self.navigation_loop_signals, 1.0, 1e6, d.navigation_loop_signals)
                .round(),
            scroll_thrash_reversals: clamp(self.scroll_thrash_reversals, 1.0, 1e6, d.scroll_thrash_reversals)
                .round(),
            scroll_thrash_min_px: clamp(self.scroll_thrash_min_px, 0.0, 1e9, d.scroll_thrash_min_px),
            scroll_thrash_window_ms: clamp(self.scroll_thrash_window_ms, 0.0, day, d.scroll_thrash_window_ms),
            input_struggle_drops: clamp(self.input_struggle_drops, 1.0, 1e6, d.input_struggle_drops).round(),
            input_struggle_window_ms: clamp(
                self.input_struggle_window_ms,
                0.0,
                day,
                d.input_struggle_window_ms,
            ),
            input_struggle_focus_cycles: clamp(
                self.input_struggle_focus_cycles,
                1.0,
                1e6,
                d.input_struggle_focus_cycles,
            )
            .round(),
            attention_blur_ms: clamp(self.attention_blur_ms, 1.0, day, d.attention_blur_ms),
            attention_no_face_snapshots: clamp(
                self.attention_no_face_snapshots,
                1.0,
                1e6,
                d.attention_no_face_snapshots,
            )
            .round(),
            negative_emotion_min_confidence: clamp(
                self.negative_emotion_min_confidence,
                0.0,
                1.0,
                d.negative_emotion_min_confidence,
            ),
            negative_speech_sentiment: clamp(
                self.negative_speech_sentiment,
                -1.0,
                1.0,
                d.negative_speech_sentiment,
            ),
            bucket_ms: clamp(self.bucket_ms, 1_000.0, 3_600_000.0, d.bucket_ms).round(),
            half_life_ms: clamp(self.half_life_ms, 1.0, day, d.half_life_ms),
            critical_moment_min: clamp(self.critical_moment_min, 0.0, 1.0, d.critical_moment_min),
            critical_moment_spacing_ms: clamp(
                self.critical_moment_spacing_ms,
                0.0,
                day,
                d.critical_moment_spacing_ms,
            ),
            join_window_ms: clamp(self.join_window_ms, 0.0, day, d.join_window_ms),
            task_failure_window_ms: clamp(self.task_failure_window_ms, 0.0, day, d.task_failure_window_ms),
            weights: self
                .weights
                .iter()
                .filter(|(_, w)| w.is_finite())
                .map(|(k, w)| (k.clone(), w.clamp(0.0, 1.0)))
                .collect(),
        }
    }
}
