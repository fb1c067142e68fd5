//! Charts the dashboard draws on the server as SVG (no script): the session's frustration
//! timeline and the study's score gauge. Pure functions of their inputs, so they are unit-tested
//! here and cost no request time beyond string building.
//!
//! Colours are SVG presentation attributes (the page's CSP allows no inline `style`), and every
//! chart carries a `<title>` and `<desc>`; the pages also give the same facts as text and tables,
//! so nothing is conveyed by the picture or by colour alone.

use std::fmt::Write as _;

use maud::{Markup, html};
use openscouter_analysis::Timeline;

/// A task attempt drawn as a band under the curve.
#[derive(Debug, Clone)]
pub struct Span {
    pub label: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub outcome: String,
}

/// A critical moment drawn as a marker on the curve.
#[derive(Debug, Clone)]
pub struct Moment {
    pub at_ms: i64,
    pub severity: String,
    pub label: String,
}

/// Everything the timeline shows.
#[derive(Debug, Clone)]
pub struct TimelineChart<'a> {
    pub timeline: &'a Timeline,
    pub moments: &'a [Moment],
    pub attention_drops: &'a [i64],
    pub spans: &'a [Span],
}

const W: f64 = 960.0;
const H: f64 = 280.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const PLOT_H: f64 = 180.0;
/// The most vertices the curve gets; longer sessions keep each group's peak.
const MAX_VERTICES: usize = 1200;

/// `m:ss` from a duration in milliseconds (the timeline's axis and the tables).
pub fn clock(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

impl TimelineChart<'_> {
    fn origin(&self) -> i64 {
        self.timeline.start.0
    }

    fn span_ms(&self) -> i64 {
        let buckets = i64::try_from(self.timeline.bucket_count.max(1)).unwrap_or(i64::MAX);
        self.timeline.bucket_ms.max(1).saturating_mul(buckets)
    }

    fn x(&self, t: i64) -> f64 {
        let rel = (t.saturating_sub(self.origin())) as f64 / self.span_ms() as f64;
        LEFT + rel.clamp(0.0, 1.0) * (W - LEFT - RIGHT)
    }

    fn y(v: f64) -> f64 {
        TOP + (1.0 - v.clamp(0.0, 1.0)) * PLOT_H
    }

    /// The smoothed curve as a step line of (time, value) vertices: each 10 s bucket holds its
    /// value over its whole span, zero where the sparse timeline has no point; reduced to at
    /// most `MAX_VERTICES` by keeping each group's highest value.
    fn vertices(&self) -> Vec<(i64, f64)> {
        let tl = self.timeline;
        let bucket = tl.bucket_ms.max(1);
        let end = tl.start.0.saturating_add(self.span_ms());
        let mut out: Vec<(i64, f64)> = vec![(tl.start.0, 0.0)];
        let mut last_end = tl.start.0;
        for p in &tl.points {
            let t0 = p.timestamp.0;
            if t0 > last_end {
                out.push((last_end, 0.0));
                out.push((t0, 0.0));
            }
            out.push((t0, p.smoothed));
            last_end = t0.saturating_add(bucket).min(end);
            out.push((last_end, p.smoothed));
        }
        out.push((last_end, 0.0));
        out.push((end, 0.0));
        if out.len() <= MAX_VERTICES {
            return out;
        }
        let group = out.len().div_ceil(MAX_VERTICES);
        out.chunks(group).filter_map(|c| c.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1))).collect()
    }

    fn path(&self) -> String {
        let mut d = String::new();
        for (i, (t, v)) in self.vertices().into_iter().enumerate() {
            let _ = write!(d, "{}{:.1},{:.1}", if i == 0 { "M" } else { " L" }, self.x(t), Self::y(v));
        }
        d
    }

    /// The `<desc>` text: what a screen reader hears instead of the picture.
    pub fn description(&self) -> String {
        let peak = self.timeline.points.iter().map(|p| p.smoothed).fold(0.0_f64, f64::max);
        format!(
            "Frustration over {} of session time, peaking at {:.2} on a 0 to 1 scale, with {} critical moment{}, {} attention drop{} and {} task span{}. The same facts are listed in the tables below.",
            clock(self.span_ms()),
            peak,
            self.moments.len(),
            if self.moments.len() == 1 { "" } else { "s" },
            self.attention_drops.len(),
            if self.attention_drops.len() == 1 { "" } else { "s" },
            self.spans.len(),
            if self.spans.len() == 1 { "" } else { "s" },
        )
    }

    /// The chart.
    pub fn render(&self) -> Markup {
        let plot_bottom = TOP + PLOT_H;
        let span_y = plot_bottom + 8.0;
        let ticks = 6;
        html! {
            svg.timeline xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 " (W) " " (H)} role="img"
                aria-labelledby="tl-title tl-desc" focusable="false" {
                title #tl-title { "Frustration timeline" }
                desc #tl-desc { (self.description()) }
                // Axes and gridlines.
                @for i in 0..=4 {
                    @let v = f64::from(i) / 4.0;
                    line x1=(LEFT) x2=(W - RIGHT) y1=(Self::y(v)) y2=(Self::y(v)) stroke="#d0d4da" stroke-width="1" {}
                    text x=(LEFT - 6.0) y=(Self::y(v) + 4.0) text-anchor="end" font-size="12" fill="#1f2328" { (format!("{v:.2}")) }
                }
                // The critical threshold (analysis.md §2: a moment is a local maximum ≥ 0.5).
                line x1=(LEFT) x2=(W - RIGHT) y1=(Self::y(0.5)) y2=(Self::y(0.5)) stroke="#6e4a00" stroke-width="1" stroke-dasharray="6 4" {}
                @for i in 0..=ticks {
                    @let t = self.origin() + self.span_ms() * i / ticks;
                    text x=(self.x(t)) y=(H - 6.0) text-anchor="middle" font-size="12" fill="#1f2328" { (clock(t - self.origin())) }
                }
                // Task spans.
                @for (i, s) in self.spans.iter().enumerate() {
                    @let (x1, x2) = (self.x(s.start_ms), self.x(s.end_ms.max(s.start_ms)));
                    @let y = span_y + (i % 2) as f64 * 20.0;
                    rect x=(x1) y=(y) width=((x2 - x1).max(2.0)) height="16" fill=(match s.outcome.as_str() { "success" => "#cfe8d5", "indirect" => "#c9e4ea", _ => "#f6d5cf" }) stroke="#1f2328" stroke-width="0.5" {
                        title { (s.label) ": " (s.outcome) }
                    }
                    text x=(x1 + 4.0) y=(y + 12.0) font-size="11" fill="#1f2328" { (truncate(&s.label, 28)) }
                }
                // The smoothed curve.
                path d=(self.path()) fill="none" stroke="#0b57d0" stroke-width="2" stroke-linejoin="round" {}
                // Attention drops: ticks on the baseline.
                @for t in self.attention_drops {
                    path d=(format!("M{:.1},{:.1} l-5,9 l10,0 z", self.x(*t), plot_bottom - 9.0)) fill="#5b3d99" {
                        title { "Attention drop at " (clock(t - self.origin())) }
                    }
                }
                // Critical moments: a diamond at the curve's value.
                @for m in self.moments {
                    @let v = self.value_at(m.at_ms);
                    path d=(format!("M{:.1},{:.1} l6,6 l-6,6 l-6,-6 z", self.x(m.at_ms), Self::y(v) - 6.0)) fill="#b3261e" stroke="#ffffff" stroke-width="1" {
                        title { (m.severity) " moment at " (clock(m.at_ms - self.origin())) ": " (m.label) }
                    }
                }
            }
        }
    }

    fn value_at(&self, t: i64) -> f64 {
        let bucket = self.timeline.bucket_ms.max(1);
        let i = (t - self.origin()).div_euclid(bucket);
        self.timeline
            .points
            .iter()
            .find(|p| (p.timestamp.0 - self.origin()).div_euclid(bucket) == i)
            .map_or(0.0, |p| p.smoothed)
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

/// The score gauge: a half ring filled to `score`/100 in the band's colour, with the number
/// and band written inside (the band is never told by colour alone).
pub fn gauge(score: u32, band: &str) -> Markup {
    let score = score.min(100);
    let (cx, cy, r) = (110.0_f64, 110.0_f64, 90.0_f64);
    let angle = std::f64::consts::PI * (1.0 - f64::from(score) / 100.0);
    let (ex, ey) = (cx + r * angle.cos(), cy - r * angle.sin());
    let colour = match band {
        "red" => "#b3261e",
        "amber" => "#8a5300",
        _ => "#146c2e",
    };
    let track = format!("M{:.1},{cy:.1} A{r:.1},{r:.1} 0 0 1 {:.1},{cy:.1}", cx - r, cx + r);
    let fill = format!("M{:.1},{cy:.1} A{r:.1},{r:.1} 0 0 1 {ex:.1},{ey:.1}", cx - r);
    html! {
        svg.gauge xmlns="http://www.w3.org/2000/svg" viewBox="0 0 220 130" role="img" aria-labelledby="gauge-title" focusable="false" {
            title #gauge-title { "Accessibility score " (score) " of 100, " (band) " band" }
            path d=(track) fill="none" stroke="#d0d4da" stroke-width="18" {}
            @if score > 0 {
                path d=(fill) fill="none" stroke=(colour) stroke-width="18" {}
            }
            text x=(cx) y=(cy - 14.0) text-anchor="middle" font-size="40" font-weight="700" fill="#1f2328" { (score) }
            text x=(cx) y=(cy + 12.0) text-anchor="middle" font-size="16" fill="#1f2328" { (band) }
        }
    }
}

/// A horizontal interval bar for a credible interval on 0..1 (decorative; the numbers are text).
pub fn interval(mean: f64, lo: f64, hi: f64) -> Markup {
    let x = |v: f64| 4.0 + v.clamp(0.0, 1.0) * 152.0;
    html! {
        svg.interval xmlns="http://www.w3.org/2000/svg" viewBox="0 0 160 16" aria-hidden="true" focusable="false" {
            line x1="4" x2="156" y1="8" y2="8" stroke="#d0d4da" stroke-width="2" {}
            line x1=(x(lo)) x2=(x(hi)) y1="8" y2="8" stroke="#0b57d0" stroke-width="6" {}
            circle cx=(x(mean)) cy="8" r="5" fill="#1f2328" {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openscouter_analysis::{TimelinePoint, Timestamp};

    fn tl(points: &[(i64, f64)], buckets: u64) -> Timeline {
        Timeline {
            start: Timestamp(1_000_000),
            bucket_ms: 10_000,
            bucket_count: buckets,
            points: points
                .iter()
                .map(|&(i, v)| TimelinePoint {
                    timestamp: Timestamp(1_000_000 + i * 10_000),
                    raw: v,
                    smoothed: v,
                })
                .collect(),
        }
    }

    #[test]
    fn curve_is_a_step_line_that_falls_to_zero_between_sparse_points() {
        let t = tl(&[(2, 0.9), (3, 0.6), (10, 0.4)], 12);
        let chart = TimelineChart { timeline: &t, moments: &[], attention_drops: &[], spans: &[] };
        let v = chart.vertices();
        assert_eq!(v.first(), Some(&(1_000_000, 0.0)));
        assert_eq!(v.last(), Some(&(1_120_000, 0.0)));
        assert!(
            v.contains(&(1_020_000, 0.9)) && v.contains(&(1_030_000, 0.9)),
            "a bucket holds its value: {v:?}"
        );
        assert!(v.contains(&(1_040_000, 0.0)), "drops to zero after bucket 3: {v:?}");
        assert!(v.contains(&(1_100_000, 0.0)), "stays at zero until bucket 10: {v:?}");
        assert!(v.windows(2).all(|w| w[0].0 <= w[1].0), "time never goes back");
    }

    #[test]
    fn long_sessions_keep_their_peaks_within_the_vertex_budget() {
        let pts: Vec<(i64, f64)> = (0..5000).map(|i| (i * 2, if i == 2500 { 0.97 } else { 0.1 })).collect();
        let t = tl(&pts, 10_001);
        let chart = TimelineChart { timeline: &t, moments: &[], attention_drops: &[], spans: &[] };
        let v = chart.vertices();
        assert!(v.len() <= MAX_VERTICES, "{}", v.len());
        assert!(v.iter().any(|p| (p.1 - 0.97).abs() < 1e-9), "the peak survives downsampling");
    }

    #[test]
    fn chart_has_accessible_name_markers_and_escapes_labels() {
        let t = tl(&[(1, 0.9)], 6);
        let chart = TimelineChart {
            timeline: &t,
            moments: &[Moment { at_ms: 1_010_000, severity: "critical".into(), label: "<b>Pay</b>".into() }],
            attention_drops: &[1_030_000],
            spans: &[Span {
                label: "Checkout".into(),
                start_ms: 1_000_000,
                end_ms: 1_050_000,
                outcome: "abandon".into(),
            }],
        };
        let svg = chart.render().into_string();
        assert!(svg.contains("role=\"img\"") && svg.contains("<title id=\"tl-title\">"));
        assert!(svg.contains("1 critical moment,"), "{svg}");
        assert!(svg.contains("&lt;b&gt;Pay&lt;/b&gt;") && !svg.contains("<b>Pay"));
        assert!(svg.contains("Attention drop at 0:30"));
        assert!(!svg.contains("style="), "no inline style under the CSP");
    }

    #[test]
    fn gauge_writes_score_and_band_as_text() {
        let g = gauge(72, "amber").into_string();
        assert!(g.contains(">72<") && g.contains(">amber<") && g.contains("72 of 100, amber band"));
        assert!(gauge(0, "red").into_string().matches("<path").count() == 1, "no fill arc at 0");
        assert!(gauge(250, "green").into_string().contains(">100<"), "clamped");
    }
}
