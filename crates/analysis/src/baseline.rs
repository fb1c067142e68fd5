//! Each tester's own pace (analysis.md §1.1): hesitation thresholds from the session's own
//! inter-action gaps and hovers (median and MAD, robust to the spread of ADHD reaction
//! times), and a reading allowance from `wordCount` at the tester's own reading speed.
//!
//! Computed once per session from its own events, before the signals; nothing about a
//! tester is carried across sessions.

use crate::input::{EventItem, EventType};
use crate::thresholds::Thresholds;
use crate::util::{NO_SEL, round_to};
use serde::{Deserialize, Serialize};

/// Gaps needed for a personal gap threshold.
pub const MIN_GAPS: usize = 20;
/// Hovered clicks needed for a personal hover threshold.
pub const MIN_HOVERS: usize = 10;
/// Pages with a word count needed for a personal reading speed.
pub const MIN_PAGES: usize = 3;
/// The reading speed without enough pages: a generous default below the adult mean of
/// about 238 words a minute (Brysbaert 2019, *J. Memory and Language* 109).
pub const DEFAULT_WPM: f64 = 180.0;
/// Events closer than this are one act (a checkbox's click and its `input` share a
/// millisecond), not a gap of the tester's pace.
pub const MIN_GAP_MS: f64 = 100.0;
/// MAD → standard deviation of a normal distribution.
const MAD_SCALE: f64 = 1.4826;

/// The tester's baseline, as shown in the analytics (`baseline{…}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Baseline {
    /// Clicks, inputs, scrolls and navigations in the session.
    pub actions: u64,
    /// Inter-action gaps measured (page focused, not the first after a navigation).
    pub gaps: u64,
    /// Median of those gaps, when there is one.
    pub median_gap_ms: Option<f64>,
    /// Median absolute deviation of those gaps.
    pub mad_gap_ms: Option<f64>,
    /// A pause counts as hesitation from this long (personal with at least 20 gaps).
    pub gap_threshold_ms: f64,
    /// A hover before a click counts as hesitation from this long (personal with at least
    /// 10 hovered clicks).
    pub hover_threshold_ms: f64,
    /// Reading speed for the allowance on a page's first pause (personal with at least 3
    /// pages carrying `wordCount`).
    pub reading_wpm: f64,
    /// Whether the gap threshold is the tester's own (else the default or the study's).
    pub personal_gap: bool,
    /// Whether the hover threshold is the tester's own.
    pub personal_hover: bool,
    /// Whether the reading speed is the tester's own.
    pub personal_reading: bool,
    /// The plain sentence for the session report's technical section ([`Baseline::sentence`]).
    #[serde(default)]
    pub sentence: String,
}

impl Default for Baseline {
    fn default() -> Self {
        let th = Thresholds::default();
        Self {
            actions: 0,
            gaps: 0,
            median_gap_ms: None,
            mad_gap_ms: None,
            gap_threshold_ms: th.hesitation_gap_ms,
            hover_threshold_ms: th.hesitation_hover_ms,
            reading_wpm: DEFAULT_WPM,
            personal_gap: false,
            personal_hover: false,
            personal_reading: false,
            sentence: String::new(),
        }
    }
}

impl Baseline {
    /// The time allowed to read a page of `words` before its first pause is hesitation.
    pub fn reading_allowance_ms(&self, words: f64) -> f64 {
        if words.is_finite() && words > 0.0 { words / self.reading_wpm * 60_000.0 } else { 0.0 }
    }

    /// One plain sentence a researcher can read ("Hesitation counted beyond 14.0 s for this
    /// tester, whose median pause was 4.1 s.").
    pub fn sentence(&self) -> String {
        let s = |ms: f64| format!("{:.1} s", ms / 1000.0);
        let mut out = match (self.personal_gap, self.median_gap_ms) {
            (true, Some(m)) => format!(
                "Hesitation counted beyond {} for this tester, whose median pause was {}.",
                s(self.gap_threshold_ms),
                s(m)
            ),
            _ => format!(
                "Hesitation counted beyond the fixed {}: {} between actions {} too few for a personal baseline (at least {MIN_GAPS}).",
                s(self.gap_threshold_ms),
                match self.gaps {
                    1 => "1 pause".to_string(),
                    n => format!("{n} pauses"),
                },
                if self.gaps == 1 { "is" } else { "are" }
            ),
        };
        if self.personal_hover && self.hover_threshold_ms > Thresholds::default().hesitation_hover_ms {
            out.push_str(&format!(
                " A hover counted from {}, three times this tester's usual.",
                s(self.hover_threshold_ms)
            ));
        }
        if self.personal_reading {
            out.push_str(&format!(
                " Pages were given reading time at this tester's own {:.0} words a minute.",
                self.reading_wpm
            ));
        }
        out
    }
}

/// Clicks within `max_gap` of another click on the same selector.
fn fast_repeats(ev: &Events<'_>, max_gap: f64) -> Vec<bool> {
    let mut out = vec![false; ev.types.len()];
    let mut last: Vec<Option<usize>> = vec![None; ev.page_level.len()];
    for (i, &ty) in ev.types.iter().enumerate() {
        if ty != EventType::Click || ev.sel[i] == NO_SEL {
            continue;
        }
        let slot = &mut last[ev.sel[i] as usize];
        if let Some(j) = *slot
            && ((ev.times[i] - ev.times[j]) as f64) <= max_gap
        {
            out[i] = true;
            out[j] = true;
        }
        *slot = Some(i);
    }
    out
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let n = v.len();
    // Selection, not a sort: the upper middle, then the largest value below it.
    let (below, &mut upper, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    Some(if n % 2 == 1 {
        upper
    } else {
        let lower = below.iter().copied().max_by(f64::total_cmp).unwrap_or(upper);
        (lower + upper) / 2.0
    })
}

/// A selector of the page itself rather than an element.
pub(crate) fn is_page_level(sel: &str) -> bool {
    matches!(sel.trim(), "" | "window" | "document" | "html" | "body" | ":root")
}

/// [`is_page_level`] of an interned selector (`NO_SEL` is the empty one), from the flags of
/// the distinct selectors: computed once per selector, not once per event.
pub(crate) fn is_page_level_id(sel: u32, page_level: &[bool]) -> bool {
    sel == NO_SEL || page_level[sel as usize]
}

/// A session's events in canonical order, as the baseline reads them: mostly the compact
/// per-event columns, the events themselves only for hovers and word counts.
pub(crate) struct Events<'e> {
    pub types: &'e [EventType],
    pub times: &'e [i64],
    /// Each event's selector id (below `page_level.len()`, or `NO_SEL`).
    pub sel: &'e [u32],
    /// Each selector's [`is_page_level`].
    pub page_level: &'e [bool],
    /// A click's `hoverMs`, a navigation's `wordCount`, a scroll's `scrollY` ([`measures`]).
    pub measure: &'e [f64],
}

/// Per event, the one number the baseline and the signal passes read besides its time: a
/// click's `hoverMs`, a navigation's `wordCount`, a scroll's `scrollY`, NaN for any other
/// event or an absent value. Every reader keeps only finite values, so NaN reads as absent.
/// Gathered in one pass, so those passes read a column instead of the events.
pub(crate) fn measures(events: &[&EventItem]) -> Vec<f64> {
    events
        .iter()
        .map(|e| match e.event_type {
            EventType::Click => e.hover_ms,
            EventType::Navigation => e.word_count,
            EventType::Scroll => e.scroll_y,
            _ => None,
        })
        .map(|x| x.unwrap_or(f64::NAN))
        .collect()
}

/// The baseline of one session from its events in canonical order. A study threshold other
/// than the default is fixed and switches the baseline off for its rule (analysis.md §1.1).
pub(crate) fn compute(ev: &Events<'_>, th: &Thresholds) -> Baseline {
    let d = Thresholds::default();
    let mut b = Baseline {
        gap_threshold_ms: th.hesitation_gap_ms,
        hover_threshold_ms: th.hesitation_hover_ms,
        ..Baseline::default()
    };
    let mut gaps: Vec<f64> = Vec::new();
    let mut hovers: Vec<f64> = Vec::new();
    let mut wpm: Vec<f64> = Vec::new();
    // (time, navigation's word count if it is one) of the previous action, and whether the
    // page lost its focus since.
    let mut prev: Option<(i64, Option<Option<f64>>)> = None;
    let mut away = false;
    let fast = fast_repeats(ev, th.rage_click_max_gap_ms);
    for (i, &ty) in ev.types.iter().enumerate() {
        if fast[i] {
            // A fast repeated click is the symptom of a dead control, not the tester's pace:
            // like a rage chain in the pauses, it neither counts nor ends a gap (so adding
            // one never moves the thresholds).
            continue;
        }
        match ty {
            EventType::Blur if is_page_level_id(ev.sel[i], ev.page_level) => away = true,
            EventType::Click | EventType::Input | EventType::Scroll | EventType::Navigation => {
                b.actions += 1;
                if ty == EventType::Click
                    && let h = ev.measure[i]
                    && h.is_finite()
                    && h >= 0.0
                {
                    hovers.push(h);
                }
                if let Some((t, nav)) = prev
                    && !away
                {
                    let gap = (ev.times[i] - t) as f64;
                    match nav {
                        None if gap < MIN_GAP_MS => {}
                        None => gaps.push(gap),
                        Some(Some(words)) if words > 0.0 && gap > 0.0 => wpm.push(words / (gap / 60_000.0)),
                        Some(_) => {}
                    }
                }
                let nav = (ty == EventType::Navigation)
                    .then(|| Some(ev.measure[i]).filter(|w| w.is_finite() && *w >= 0.0));
                prev = Some((ev.times[i], nav));
                away = false;
            }
            _ => {}
        }
    }
    b.gaps = gaps.len() as u64;
    let med = median(&mut gaps);
    let mad = med.and_then(|m| {
        let mut dev: Vec<f64> = gaps.iter().map(|g| (g - m).abs()).collect();
        median(&mut dev)
    });
    b.median_gap_ms = med.map(|m| round_to(m, 1));
    b.mad_gap_ms = mad.map(|m| round_to(m, 1));
    if let (Some(m), Some(mad)) = (med, mad)
        && gaps.len() >= MIN_GAPS
        && th.hesitation_gap_ms == d.hesitation_gap_ms
    {
        b.gap_threshold_ms = round_to((m + 4.0 * MAD_SCALE * mad).clamp(5_000.0, 30_000.0), 1);
        b.personal_gap = true;
    }
    if hovers.len() >= MIN_HOVERS
        && th.hesitation_hover_ms == d.hesitation_hover_ms
        && let Some(m) = median(&mut hovers)
    {
        b.hover_threshold_ms = round_to((3.0 * m).clamp(3_000.0, 15_000.0), 1);
        b.personal_hover = true;
    }
    if wpm.len() >= MIN_PAGES
        && let Some(m) = median(&mut wpm)
    {
        b.reading_wpm = round_to(m.clamp(80.0, 400.0), 1);
        b.personal_reading = true;
    }
    b.sentence = b.sentence();
    b
}
