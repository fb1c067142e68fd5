//! Frustration timeline and score of analysis.md §2: 10 s buckets, a peak envelope, score.
//!
//! The timeline is kept sparse: a bucket whose smoothed value has decayed below
//! [`EPSILON`] after the last signal is treated as exactly zero and not stored, so a
//! session whose timestamps lie years apart costs no more than a compact one.

use crate::signals::Signal;
use crate::thresholds::Thresholds;
use crate::time::Timestamp;
use crate::util::{round_to, unit};
use serde::{Deserialize, Serialize};

/// Smoothed values below this count as zero in empty stretches of the timeline.
pub const EPSILON: f64 = 1e-9;

/// One stored bucket of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelinePoint {
    /// Start of the bucket.
    pub timestamp: Timestamp,
    /// `1 − Π(1 − weight × intensity)` over the bucket's signals.
    pub raw: f64,
    /// Peak envelope of `raw`: `max(raw, previous smoothed × 2^(−bucket / half-life))`.
    pub smoothed: f64,
}

/// The frustration timeline of a session. Buckets not listed in `points` are zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    /// Start of bucket 0.
    pub start: Timestamp,
    /// Bucket length.
    pub bucket_ms: i64,
    /// Number of buckets from the start to the end of the session.
    pub bucket_count: u64,
    /// Buckets with a signal or a smoothed value of at least [`EPSILON`].
    pub points: Vec<TimelinePoint>,
}

/// The computed timeline with unrounded values for the scores.
pub(crate) struct Computed {
    pub origin: i64,
    pub bucket: i64,
    pub total: u64,
    /// (bucket index, raw, smoothed), increasing bucket index.
    pub points: Vec<(u64, f64, f64)>,
}

impl Computed {
    pub fn bucket_of(&self, t: i64) -> u64 {
        let d = (i128::from(t) - i128::from(self.origin)).max(0) / i128::from(self.bucket);
        u64::try_from(d).unwrap_or(u64::MAX).min(self.total.saturating_sub(1))
    }

    pub fn start_of(&self, idx: u64) -> i64 {
        let t = i128::from(self.origin) + i128::from(idx) * i128::from(self.bucket);
        i64::try_from(t).unwrap_or(i64::MAX)
    }

    /// The public, rounded timeline.
    pub fn to_timeline(&self) -> Timeline {
        Timeline {
            start: Timestamp(self.origin),
            bucket_ms: self.bucket,
            bucket_count: self.total,
            points: self
                .points
                .iter()
                .map(|&(i, raw, s)| TimelinePoint {
                    timestamp: Timestamp(self.start_of(i)),
                    raw: round_to(raw, 4),
                    smoothed: round_to(s, 4),
                })
                .collect(),
        }
    }

    /// Mean of the smoothed timeline over all buckets.
    pub fn mean(&self) -> f64 {
        let sum: f64 = self.points.iter().map(|p| p.2).sum();
        unit(sum / self.total.max(1) as f64)
    }

    /// `overallFrustrationScore = 0.5 × mean(smoothed) + 0.5 × mean(top 10 % of smoothed
    /// buckets, at least one)`, rounded to 2 decimals (analysis.md §2).
    pub fn score(&self) -> f64 {
        if self.points.is_empty() {
            return 0.0;
        }
        let k = ((self.total as f64) * 0.1).ceil().max(1.0);
        let mut values: Vec<f64> = self.points.iter().map(|p| p.2).collect();
        values.sort_by(|a, b| b.total_cmp(a));
        let take = (k as usize).min(values.len());
        let top: f64 = values[..take].iter().sum::<f64>() / k;
        round_to(unit(0.5 * self.mean() + 0.5 * unit(top)), 2)
    }
}

/// Builds the timeline from `signals` sorted by timestamp.
///
/// Bucket value `f = 1 − Π(1 − weight × intensity)` (analysis.md §2, a noisy-OR
/// combination: Pearl 1988, *Probabilistic Reasoning in Intelligent Systems*, §4.3.2).
/// Smoothing is a peak envelope `s₀ = f₀`, `sₜ = max(fₜ, sₜ₋₁ · d)` with
/// `d = 2^(−bucket / half-life)`: an envelope follower with instant attack and exponential
/// release, as in audio level meters (Zölzer (ed.), *DAFX: Digital Audio Effects*, 2nd ed.,
/// 2011, ch. 4). Frustration rises at once and recovers slowly; the moving average it
/// replaces flattened a short, intense episode to a third of its height.
pub(crate) fn compute<'s>(
    signals: impl Iterator<Item = &'s Signal>,
    origin: i64,
    end: i64,
    th: &Thresholds,
) -> Computed {
    let bucket = (th.bucket_ms as i64).max(1);
    let span = (i128::from(end) - i128::from(origin)).max(0) / i128::from(bucket);
    let total = u64::try_from(span).unwrap_or(u64::MAX - 1) + 1;
    let mut c = Computed { origin, bucket, total, points: Vec::new() };
    // (bucket index, Π(1 − w·i))
    let mut buckets: Vec<(u64, f64)> = Vec::new();
    for s in signals {
        let i = c.bucket_of(s.timestamp.0);
        let keep = 1.0 - s.weighted();
        match buckets.last_mut() {
            Some(last) if last.0 == i => last.1 *= keep,
            _ => buckets.push((i, keep)),
        }
    }
    let d = 0.5f64.powf(bucket as f64 / th.half_life_ms.max(1.0));
    let mut s = 0.0;
    let mut cur: Option<u64> = None;
    let decay_until = |c: &mut Computed, s: &mut f64, from: u64, to: u64| {
        let mut k = from;
        while k < to {
            *s *= d;
            if *s < EPSILON {
                *s = 0.0;
                return;
            }
            c.points.push((k, 0.0, *s));
            k += 1;
        }
    };
    for (i, keep) in buckets {
        if let Some(prev) = cur {
            decay_until(&mut c, &mut s, prev + 1, i);
        }
        let raw = unit(1.0 - keep);
        // Before the first signal `s` is 0, so the first bucket gives `s₀ = f₀`.
        s = unit(raw.max(d * s));
        c.points.push((i, raw, s));
        cur = Some(i);
    }
    if let Some(prev) = cur {
        decay_until(&mut c, &mut s, prev + 1, total);
    }
    c
}
