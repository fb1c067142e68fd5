//! Frustration timeline and score of analysis.md §2: the continuous peak envelope, its
//! 10 s buckets from the session start, and the score.
//!
//! The envelope is computed on the continuous form of the rules: `f(t)` over the signals
//! in the window `(t − bucket, t]`, evaluated only where the window's content changes (each
//! signal's time and one bucket after it), and `s(t) = max over τ ≤ t of f(τ) × 2^(−(t −
//! τ)/half-life)`. Nothing in it depends on the session start, so critical moments found
//! on it do not move when the start does. The published buckets are the maximum of `s`
//! within each, and are kept sparse: a bucket whose value has decayed below [`EPSILON`]
//! after the last signal is treated as exactly zero and not stored, so a session whose
//! timestamps lie years apart costs no more than a compact one.

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
    /// The maximum within the bucket of the continuous peak envelope `s(t)` (analysis.md §2).
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

/// One change point of the continuous envelope.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Knot {
    /// When the window's content changed.
    pub t: i64,
    /// `f(t)`: noisy-OR of the signals in `(t − window, t]`.
    pub f: f64,
    /// `s(t)`: the peak envelope at `t`.
    pub s: f64,
    /// The envelope just before `t` (its left limit): `s > before` where it rises.
    pub before: f64,
}

/// The computed timeline with unrounded values for the scores.
pub(crate) struct Computed {
    pub origin: i64,
    pub bucket: i64,
    pub total: u64,
    /// (bucket index, raw, smoothed), increasing bucket index.
    pub points: Vec<(u64, f64, f64)>,
    /// Change points of the continuous envelope, increasing time.
    pub knots: Vec<Knot>,
    /// Half-life of the envelope, ms.
    half_life: f64,
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

    /// The envelope at `t ≥ k.t`, before the next knot: `max(f, s × 2^(−(t − k.t)/half-life))`.
    pub fn envelope_after(&self, k: &Knot, t: i64) -> f64 {
        let dt = (i128::from(t) - i128::from(k.t)).max(0) as f64;
        k.f.max(k.s * 0.5f64.powf(dt / self.half_life))
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

/// A running noisy-OR `1 − Π(1 − x)` that items enter and leave: a sum of logarithms,
/// with factors of exactly zero counted apart, reset to exactly empty when it empties.
#[derive(Default)]
struct NoisyOr {
    log_keep: f64,
    zeros: u32,
    items: u32,
}

impl NoisyOr {
    fn add(&mut self, keep: f64) {
        self.items += 1;
        if keep <= 0.0 { self.zeros += 1 } else { self.log_keep += keep.ln() }
    }
    fn remove(&mut self, keep: f64) {
        self.items = self.items.saturating_sub(1);
        if keep <= 0.0 {
            self.zeros = self.zeros.saturating_sub(1);
        } else {
            self.log_keep -= keep.ln();
        }
        if self.items == 0 {
            *self = Self::default();
        }
    }
    fn value(&self) -> f64 {
        if self.items == 0 {
            0.0
        } else if self.zeros > 0 {
            1.0
        } else {
            unit(1.0 - self.log_keep.min(0.0).exp())
        }
    }
}

/// The change points of the continuous envelope of `signals` (sorted by timestamp).
fn knots(signals: &[&Signal], window: i64, half_life: f64) -> Vec<Knot> {
    let n = signals.len();
    let keep = |s: &Signal| 1.0 - s.weighted();
    let mut out: Vec<Knot> = Vec::with_capacity(2 * n);
    let mut acc = NoisyOr::default();
    let (mut enter, mut leave) = (0usize, 0usize);
    let mut last: Option<Knot> = None;
    while leave < n {
        let t_enter = signals.get(enter).map(|s| s.timestamp.0);
        let t_leave = signals[leave].timestamp.0.saturating_add(window);
        let t = t_enter.map_or(t_leave, |e| e.min(t_leave));
        while let Some(s) = signals.get(enter).filter(|s| s.timestamp.0 == t) {
            acc.add(keep(s));
            enter += 1;
        }
        while let Some(s) = signals.get(leave).filter(|s| s.timestamp.0.saturating_add(window) == t) {
            acc.remove(keep(s));
            leave += 1;
        }
        let f = acc.value();
        let before = last.map_or(0.0, |k| {
            let dt = (i128::from(t) - i128::from(k.t)).max(0) as f64;
            k.f.max(k.s * 0.5f64.powf(dt / half_life))
        });
        let knot = Knot { t, f, s: unit(f.max(before)), before };
        out.push(knot);
        last = Some(knot);
    }
    out
}

/// Builds the timeline from `signals` sorted by timestamp.
///
/// `f = 1 − Π(1 − weight × intensity)` (analysis.md §2, a noisy-OR combination: Pearl
/// 1988, *Probabilistic Reasoning in Intelligent Systems*, §4.3.2) over a sliding window
/// one bucket long. The envelope `s(t) = max over τ ≤ t of f(τ) × 2^(−(t − τ)/half-life)` is
/// an envelope follower with instant attack and exponential release, as in audio level
/// meters (Zölzer (ed.), *DAFX: Digital Audio Effects*, 2nd ed., 2011, ch. 4): frustration
/// rises at once and recovers slowly. Each published bucket is the maximum of `s` within
/// it, and its `raw` the noisy-OR of the signals that start in it.
pub(crate) fn compute<'s>(
    signals: impl Iterator<Item = &'s Signal>,
    origin: i64,
    end: i64,
    th: &Thresholds,
) -> Computed {
    let bucket = (th.bucket_ms as i64).max(1);
    let span = (i128::from(end) - i128::from(origin)).max(0) / i128::from(bucket);
    let total = u64::try_from(span).unwrap_or(u64::MAX - 1) + 1;
    let half_life = th.half_life_ms.max(1.0);
    let signals: Vec<&Signal> = signals.collect();
    let mut c = Computed { origin, bucket, total, points: Vec::new(), knots: Vec::new(), half_life };
    c.knots = knots(&signals, bucket, half_life);
    // (bucket index, Π(1 − w·i)) of the signals starting in each bucket.
    let mut raws: Vec<(u64, f64)> = Vec::new();
    for s in &signals {
        let i = c.bucket_of(s.timestamp.0);
        let keep = 1.0 - s.weighted();
        match raws.last_mut() {
            Some(last) if last.0 == i => last.1 *= keep,
            _ => raws.push((i, keep)),
        }
    }
    let Some(first) = c.knots.first() else {
        return c;
    };
    let mut points = Vec::new();
    let mut raw_at = raws.into_iter().peekable();
    let mut j = 0usize;
    let mut k = c.bucket_of(first.t);
    loop {
        let start = c.start_of(k);
        // The envelope at the bucket's start, then at every knot inside it.
        let mut v = j.checked_sub(1).map_or(0.0, |p| c.envelope_after(&c.knots[p], start));
        while let Some(knot) = c.knots.get(j).filter(|x| c.bucket_of(x.t) == k) {
            v = v.max(knot.s);
            j += 1;
        }
        let raw = match raw_at.peek() {
            Some(&(i, keep)) if i == k => {
                raw_at.next();
                unit(1.0 - keep)
            }
            _ => 0.0,
        };
        if raw > 0.0 || v >= EPSILON {
            // s ≥ f ≥ raw; `max` only keeps the sum of logarithms' last bit from showing.
            points.push((k, raw, unit(v.max(raw))));
        }
        // Next: the following bucket while the envelope is still above zero there, else
        // the bucket of the next knot.
        let next_knot = c.knots.get(j).map(|x| c.bucket_of(x.t));
        let carries = k + 1 < total
            && j.checked_sub(1).is_some_and(|p| c.envelope_after(&c.knots[p], c.start_of(k + 1)) >= EPSILON);
        k = match (carries, next_knot) {
            (true, _) => k + 1,
            (false, Some(n)) => n,
            (false, None) => break,
        };
    }
    c.points = points;
    c
}
