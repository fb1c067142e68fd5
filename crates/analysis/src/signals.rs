//! Signal detection of analysis.md §1: behavioural, facial and speech signals of one session.
//!
//! Items are sorted once into a canonical order (so input order never matters) and every
//! detector is a single pass over them, or over per-selector lists built in one pass.

use crate::baseline::{self, Baseline, is_page_level, is_page_level_id};
use crate::input::{
    EventItem, EventType, FacialItem, NoteItem, Outcome, SessionInput, TaskAttempt, VoiceItem,
};
use crate::sentiment;
use crate::thresholds::Thresholds;
use crate::time::Timestamp;
use crate::util::{NO_SEL, cmp_opt_f64, excerpt, intern, push_fixed, sort_large_by, unit, url_path};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

/// The signal types of analysis.md §1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// ≥ 3 fast clicks on one selector.
    RageClick,
    /// A click repeated 0.5–5 s later with nothing happening in between.
    UnresponsiveClick,
    /// An error right after a click.
    ErrorClick,
    /// Any other error.
    Error,
    /// A long hover or a long pause.
    Hesitation,
    /// ≥ 3 hesitations within 60 s.
    HesitationCluster,
    /// There and straight back.
    QuickBack,
    /// The same URL reached ≥ 3 times within one task.
    RevisitLoop,
    /// Scrolling back and forth.
    ScrollThrash,
    /// Deleting again and again, or entering and leaving a field without typing.
    InputStruggle,
    /// The page lost focus, or the face left the camera.
    AttentionDrop,
    /// A negative facial expression episode.
    NegativeEmotion,
    /// Negative or frustrated speech.
    NegativeSpeech,
    /// ≥ 3 quick backs and revisit loops within one task: the tester is lost.
    NavigationLoop,
    /// A task attempt that failed or was abandoned, at its end.
    TaskFailure,
}

/// Families of signals (analysis.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// rage and unresponsive clicks
    Clicks,
    /// error clicks and errors
    Errors,
    /// hesitations and their clusters
    Hesitation,
    /// quick backs and revisit loops
    Navigation,
    /// scroll thrash
    Scrolling,
    /// input struggle
    Input,
    /// attention drops
    Attention,
    /// facial emotion
    Emotion,
    /// speech
    Speech,
    /// task outcomes (failure or abandonment); not a barrier family of analysis.md §3, so
    /// it never names or merges a finding
    Task,
}

impl Family {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Clicks => "clicks",
            Family::Errors => "errors",
            Family::Hesitation => "hesitation",
            Family::Navigation => "navigation",
            Family::Scrolling => "scrolling",
            Family::Input => "input",
            Family::Attention => "attention",
            Family::Emotion => "emotion",
            Family::Speech => "speech",
            Family::Task => "task",
        }
    }
}

impl SignalKind {
    /// All kinds, in declaration order.
    pub const ALL: [SignalKind; 15] = [
        Self::RageClick,
        Self::UnresponsiveClick,
        Self::ErrorClick,
        Self::Error,
        Self::Hesitation,
        Self::HesitationCluster,
        Self::QuickBack,
        Self::RevisitLoop,
        Self::ScrollThrash,
        Self::InputStruggle,
        Self::AttentionDrop,
        Self::NegativeEmotion,
        Self::NegativeSpeech,
        Self::NavigationLoop,
        Self::TaskFailure,
    ];

    /// The snake_case name used in JSON and in weight overrides.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RageClick => "rage_click",
            Self::UnresponsiveClick => "unresponsive_click",
            Self::ErrorClick => "error_click",
            Self::Error => "error",
            Self::Hesitation => "hesitation",
            Self::HesitationCluster => "hesitation_cluster",
            Self::QuickBack => "quick_back",
            Self::RevisitLoop => "revisit_loop",
            Self::ScrollThrash => "scroll_thrash",
            Self::InputStruggle => "input_struggle",
            Self::AttentionDrop => "attention_drop",
            Self::NegativeEmotion => "negative_emotion",
            Self::NegativeSpeech => "negative_speech",
            Self::NavigationLoop => "navigation_loop",
            Self::TaskFailure => "task_failure",
        }
    }

    /// Default weight from the table of analysis.md §1.
    pub fn default_weight(self) -> f64 {
        match self {
            Self::RageClick => 0.8,
            Self::UnresponsiveClick => 0.4,
            Self::ErrorClick => 0.6,
            Self::Error => 0.3,
            Self::Hesitation => 0.3,
            Self::HesitationCluster => 0.6,
            Self::QuickBack => 0.3,
            Self::RevisitLoop => 0.3,
            Self::ScrollThrash => 0.4,
            Self::InputStruggle => 0.5,
            Self::AttentionDrop => 0.2,
            Self::NegativeEmotion => 0.5,
            Self::NegativeSpeech => 0.6,
            Self::NavigationLoop => 0.6,
            Self::TaskFailure => 0.5,
        }
    }

    /// The family of analysis.md §3.
    pub fn family(self) -> Family {
        match self {
            Self::RageClick | Self::UnresponsiveClick => Family::Clicks,
            Self::ErrorClick | Self::Error => Family::Errors,
            Self::Hesitation | Self::HesitationCluster => Family::Hesitation,
            Self::QuickBack | Self::RevisitLoop | Self::NavigationLoop => Family::Navigation,
            Self::ScrollThrash => Family::Scrolling,
            Self::InputStruggle => Family::Input,
            Self::AttentionDrop => Family::Attention,
            Self::NegativeEmotion => Family::Emotion,
            Self::NegativeSpeech => Family::Speech,
            Self::TaskFailure => Family::Task,
        }
    }

    /// Behavioural signals come from interaction events (not face, voice or task outcomes).
    pub fn is_behavioural(self) -> bool {
        !self.is_affective() && self != Self::TaskFailure
    }

    /// Emotion and speech signals join behavioural groups (analysis.md §3).
    pub fn is_affective(self) -> bool {
        matches!(self, Self::NegativeEmotion | Self::NegativeSpeech)
    }
}

/// One detected signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signal {
    /// Signal type.
    #[serde(rename = "type")]
    pub kind: SignalKind,
    /// Its family.
    pub family: Family,
    /// When it starts.
    pub timestamp: Timestamp,
    /// When it ends (equal to `timestamp` for instantaneous signals).
    pub end_timestamp: Timestamp,
    /// 0..1.
    pub intensity: f64,
    /// Weight from the study thresholds (default table of analysis.md §1).
    pub weight: f64,
    /// Task the tester was on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// URL path of the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_path: Option<String>,
    /// Selector of the control or field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Short human-readable detail.
    pub detail: String,
    /// For speech: whether it is about reading or text.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mentions_reading: bool,
}

impl Signal {
    /// `weight × intensity`, the contribution used by the timeline.
    pub fn weighted(&self) -> f64 {
        unit(self.weight * self.intensity)
    }
}

const NEGATIVE_EMOTIONS: [&str; 5] = ["angry", "disgust", "fear", "sad", "confused"];

pub(crate) fn is_negative_emotion(emotion: &str) -> bool {
    NEGATIVE_EMOTIONS.iter().any(|e| e.eq_ignore_ascii_case(emotion.trim()))
}

fn cmp_event(a: &EventItem, b: &EventItem) -> Ordering {
    a.timestamp
        .cmp(&b.timestamp)
        .then_with(|| a.event_type.cmp(&b.event_type))
        .then_with(|| a.target_selector.cmp(&b.target_selector))
        .then_with(|| a.url.cmp(&b.url))
        .then_with(|| a.task_id.cmp(&b.task_id))
        .then_with(|| cmp_opt_f64(a.input_length, b.input_length))
        .then_with(|| cmp_opt_f64(a.scroll_y, b.scroll_y))
        .then_with(|| cmp_opt_f64(a.hover_ms, b.hover_ms))
        .then_with(|| a.error_message.cmp(&b.error_message))
        .then_with(|| cmp_opt_f64(a.x, b.x))
        .then_with(|| cmp_opt_f64(a.y, b.y))
        .then_with(|| a.target_text.cmp(&b.target_text))
        .then_with(|| a.client_id.cmp(&b.client_id))
        .then_with(|| cmp_opt_f64(a.deletions, b.deletions))
        .then_with(|| cmp_opt_f64(a.selection_length, b.selection_length))
        .then_with(|| cmp_opt_f64(a.mutations, b.mutations))
        .then_with(|| a.opens_new_context.cmp(&b.opens_new_context))
        .then_with(|| a.role.cmp(&b.role))
        .then_with(|| cmp_opt_f64(a.word_count, b.word_count))
        .then_with(|| {
            cmp_opt_f64(a.viewport.map(|v| v.width), b.viewport.map(|v| v.width))
                .then_with(|| cmp_opt_f64(a.viewport.map(|v| v.height), b.viewport.map(|v| v.height)))
        })
}

fn cmp_facial(a: &FacialItem, b: &FacialItem) -> Ordering {
    a.timestamp
        .cmp(&b.timestamp)
        .then_with(|| a.face_detected.cmp(&b.face_detected))
        .then_with(|| a.emotion.cmp(&b.emotion))
        .then_with(|| a.confidence.total_cmp(&b.confidence))
        .then_with(|| cmp_opt_f64(a.capture_interval_ms, b.capture_interval_ms))
        .then_with(|| {
            let ka = a.action_units.iter().flatten();
            let kb = b.action_units.iter().flatten();
            ka.map(|(k, v)| (k, v.to_bits())).cmp(kb.map(|(k, v)| (k, v.to_bits())))
        })
}

fn cmp_voice(a: &VoiceItem, b: &VoiceItem) -> Ordering {
    a.timestamp
        .cmp(&b.timestamp)
        .then_with(|| a.transcript.cmp(&b.transcript))
        .then_with(|| a.duration_ms.total_cmp(&b.duration_ms))
        .then_with(|| a.confidence.total_cmp(&b.confidence))
}

fn cmp_attempt(a: &TaskAttempt, b: &TaskAttempt) -> Ordering {
    a.started_at
        .cmp(&b.started_at)
        .then_with(|| a.task_id.cmp(&b.task_id))
        .then_with(|| a.ended_at.cmp(&b.ended_at))
        .then_with(|| a.outcome.cmp(&b.outcome))
        .then_with(|| cmp_opt_f64(a.seq, b.seq))
}

/// A session in canonical order with per-event context (URL path and task).
pub(crate) struct Prepared<'a> {
    pub input: &'a SessionInput,
    pub th: Thresholds,
    pub events: Vec<&'a EventItem>,
    pub facial: Vec<&'a FacialItem>,
    pub voice: Vec<&'a VoiceItem>,
    pub notes: Vec<&'a NoteItem>,
    pub attempts: Vec<&'a TaskAttempt>,
    pub ev_times: Vec<i64>,
    /// Each event's type: passes that want a few types scan this, not the events.
    pub ev_type: Vec<EventType>,
    /// Each event's hover (a click), word count (a navigation) or position (a scroll), NaN
    /// if none ([`baseline::measures`]).
    pub ev_measure: Vec<f64>,
    pub ev_path: Vec<Option<&'a str>>,
    pub ev_task: Vec<Option<&'a str>>,
    /// Each event's target selector as an index into `selectors`, [`NO_SEL`] when empty.
    pub ev_sel: Vec<u32>,
    /// The distinct non-empty selectors, sorted: index order is string order, so a `Vec`
    /// indexed by selector iterates as a `BTreeMap` keyed by it would.
    pub selectors: Vec<&'a str>,
    /// Whether each of `selectors` is the page itself ([`is_page_level`]).
    pub sel_page_level: Vec<bool>,
    /// Timeline origin: the session start, or the first item if earlier.
    pub origin: i64,
    /// Timeline end: completion, the last item, or the snapshot time.
    pub end: i64,
    /// The snapshot time, if any: nothing after it has happened yet.
    pub until: Option<i64>,
    /// The tester's own pace (analysis.md §1.1).
    pub baseline: Baseline,
    /// The longest voice segment (ms, clamped to a day): a segment overlapping a time starts
    /// at most this long before it.
    pub max_voice_ms: i64,
}

impl<'a> Prepared<'a> {
    /// Sorts and indexes the session; with `until`, keeps only items up to that time.
    pub fn new(input: &'a SessionInput, until: Option<i64>) -> Self {
        let keep = |t: Timestamp| until.is_none_or(|u| t.0 <= u);
        let th = input.session.analysis.as_ref().map(Thresholds::sanitized).unwrap_or_default();
        let kept: Vec<&EventItem> = input.events.iter().filter(|e| keep(e.timestamp)).collect();
        let (sel_of, selectors) = intern(kept.iter().map(|e| e.target_selector.as_str()));
        // Canonical order: the comparison of `cmp_event`, with the selector compared by its
        // rank (the same order, without reading the strings); stable, like `sort_by`. The
        // leading keys are gathered once, so comparing two events reads one small array
        // rather than the two events (the rest of `cmp_event` only on a full tie).
        let sel_key = |i: usize| if sel_of[i] == NO_SEL { 0 } else { u64::from(sel_of[i]) + 1 };
        let mut order: Vec<(i64, EventType, u64, usize)> =
            kept.iter().enumerate().map(|(i, e)| (e.timestamp.0, e.event_type, sel_key(i), i)).collect();
        let canonical = |a: &(i64, EventType, u64, usize), b: &(i64, EventType, u64, usize)| {
            a.0.cmp(&b.0)
                .then(a.1.cmp(&b.1))
                .then(a.2.cmp(&b.2))
                .then_with(|| cmp_event(kept[a.3], kept[b.3]))
        };
        if order.is_sorted_by_key(|o| o.0) {
            // Recorders send events in time order: then only those sharing a millisecond
            // need ordering, and sorting each such run is the whole stable sort.
            for ties in order.chunk_by_mut(|a, b| a.0 == b.0).filter(|run| run.len() > 1) {
                ties.sort_by(canonical);
            }
        } else {
            order.sort_by(canonical);
        }
        let events: Vec<&EventItem> = order.iter().map(|o| kept[o.3]).collect();
        let ev_sel: Vec<u32> = order.iter().map(|o| sel_of[o.3]).collect();
        let ev_times: Vec<i64> = order.iter().map(|o| o.0).collect();
        let ev_type: Vec<EventType> = order.iter().map(|o| o.1).collect();
        let ev_measure = baseline::measures(&events);
        drop(order);
        let mut facial: Vec<&FacialItem> = input.facial.iter().filter(|f| keep(f.timestamp)).collect();
        facial.sort_by(|a, b| cmp_facial(a, b));
        let mut voice: Vec<&VoiceItem> = input.voice.iter().filter(|v| keep(v.timestamp)).collect();
        voice.sort_by(|a, b| cmp_voice(a, b));
        let mut notes: Vec<&NoteItem> = input.notes.iter().filter(|n| keep(n.timestamp)).collect();
        notes.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then_with(|| a.text.cmp(&b.text)));
        let mut attempts: Vec<&TaskAttempt> =
            input.task_attempts.iter().filter(|a| keep(a.started_at)).collect();
        attempts.sort_by(|a, b| cmp_attempt(a, b));

        let start = input.session.started_at.0;
        let firsts = [
            events.first().map(|e| e.timestamp.0),
            facial.first().map(|f| f.timestamp.0),
            voice.first().map(|v| v.timestamp.0),
            notes.first().map(|n| n.timestamp.0),
        ];
        let lasts = [
            events.last().map(|e| e.timestamp.0),
            facial.last().map(|f| f.timestamp.0),
            voice.last().map(|v| v.timestamp.0),
            notes.last().map(|n| n.timestamp.0),
        ];
        let origin = firsts.iter().flatten().copied().fold(start, i64::min);
        let end = match until {
            Some(u) => u.max(origin),
            None => lasts
                .iter()
                .flatten()
                .copied()
                .chain(input.session.completed_at.map(|c| c.0))
                .fold(origin, i64::max),
        };

        let mut p = Self {
            input,
            th,
            events,
            facial,
            voice,
            notes,
            attempts,
            ev_times,
            ev_measure,
            ev_type,
            ev_path: Vec::new(),
            ev_task: Vec::new(),
            ev_sel,
            sel_page_level: selectors.iter().map(|s| is_page_level(s)).collect(),
            selectors,
            origin,
            end,
            until,
            baseline: Baseline::default(),
            max_voice_ms: 0,
        };
        p.max_voice_ms = p.voice.iter().map(|v| voice_ms(v.duration_ms)).max().unwrap_or(0);
        p.index_events();
        let events = baseline::Events {
            types: &p.ev_type,
            times: &p.ev_times,
            sel: &p.ev_sel,
            page_level: &p.sel_page_level,
            measure: &p.ev_measure,
        };
        p.baseline = baseline::compute(&events, &p.th);
        p
    }

    fn index_events(&mut self) {
        let n = self.events.len();
        let mut paths = Vec::with_capacity(n);
        let mut tasks = Vec::with_capacity(n);
        let mut path: Option<&'a str> = None;
        let mut last_task: Option<&'a str> = None;
        for e in &self.events {
            if let Some(u) = e.url.as_deref().filter(|u| !u.is_empty()) {
                path = Some(url_path(u));
            }
            paths.push(path);
            let task = match e.task_id.as_deref().filter(|t| !t.is_empty()) {
                Some(t) => {
                    last_task = Some(t);
                    Some(t)
                }
                None => attempt_task(&self.attempts, e.timestamp.0).or(last_task),
            };
            tasks.push(task);
        }
        self.ev_path = paths;
        self.ev_task = tasks;
    }

    /// URL path and task at a time (for facial and voice items): the context of the last
    /// event at or before it; the task attempt covering the time wins for the task.
    pub fn context_at(&self, t: i64) -> (Option<&'a str>, Option<&'a str>) {
        let i = self.ev_times.partition_point(|&x| x <= t);
        let (path, task) = if i > 0 {
            (self.ev_path[i - 1], self.ev_task[i - 1])
        } else {
            (self.ev_path.first().copied().flatten(), None)
        };
        (path, attempt_task(&self.attempts, t).or(task))
    }

    pub fn weight(&self, kind: SignalKind) -> f64 {
        self.th.weights.get(kind.as_str()).copied().unwrap_or_else(|| kind.default_weight())
    }
}

/// Task of the attempt with the latest start at or before `t` that has not ended yet.
/// A voice segment's duration in whole ms, clamped to a day (0 when not finite).
pub(crate) fn voice_ms(duration_ms: f64) -> i64 {
    if duration_ms.is_finite() { duration_ms.clamp(0.0, 86_400_000.0) as i64 } else { 0 }
}

fn attempt_task<'a>(attempts: &[&'a TaskAttempt], t: i64) -> Option<&'a str> {
    let i = attempts.partition_point(|a| a.started_at.0 <= t);
    let a = attempts.get(i.checked_sub(1)?)?;
    (a.ended_at.0 >= t).then_some(a.task_id.as_str())
}

struct Builder<'p, 'a> {
    p: &'p Prepared<'a>,
    out: Vec<Signal>,
}

impl Builder<'_, '_> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        kind: SignalKind,
        start: i64,
        end: i64,
        intensity: f64,
        path: Option<&str>,
        task: Option<&str>,
        selector: Option<&str>,
        detail: String,
    ) {
        let s = self.signal(kind, start, end, intensity, path, task, selector, detail);
        self.out.push(s);
    }

    /// The signal [`Builder::push`] pushes, for a pass that reads the signals already pushed
    /// while it makes new ones.
    #[allow(clippy::too_many_arguments)]
    fn signal(
        &self,
        kind: SignalKind,
        start: i64,
        end: i64,
        intensity: f64,
        path: Option<&str>,
        task: Option<&str>,
        selector: Option<&str>,
        detail: String,
    ) -> Signal {
        Signal {
            kind,
            family: kind.family(),
            timestamp: Timestamp(start),
            end_timestamp: Timestamp(end.max(start)),
            intensity: unit(intensity),
            weight: self.p.weight(kind),
            task_id: task.map(str::to_string),
            url_path: path.map(str::to_string),
            // `window` and `document` (the recorder's target of page-level events) are the
            // page, not a control: such a signal groups by its page, as with no selector.
            selector: selector
                .filter(|s| !s.is_empty() && !matches!(*s, "window" | "document"))
                .map(str::to_string),
            detail,
            mentions_reading: false,
        }
    }

    /// Signal at event `i` with that event's context.
    fn at_event(
        &mut self,
        kind: SignalKind,
        i: usize,
        end: i64,
        intensity: f64,
        selector: Option<&str>,
        detail: String,
    ) {
        let p = self.p;
        self.push(kind, p.ev_times[i], end, intensity, p.ev_path[i], p.ev_task[i], selector, detail);
    }
}

/// Groups sorted times into episodes of at least `count` items within `window` ms:
/// an item belongs to an episode when some `count` consecutive items including it fit in
/// the window; consecutive such items form one episode. Returns index ranges.
fn episodes(times: &[i64], count: usize, window: f64) -> Vec<(usize, usize)> {
    let n = times.len();
    let count = count.max(1);
    let mut marked = vec![false; n];
    let mut marked_to = 0;
    for i in (count - 1)..n {
        if ((times[i] - times[i + 1 - count]) as f64) <= window {
            for m in marked.iter_mut().take(i + 1).skip(marked_to.max(i + 1 - count)) {
                *m = true;
            }
            marked_to = i + 1;
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        if marked[i] {
            let s = i;
            while i + 1 < n && marked[i + 1] && ((times[i + 1] - times[i]) as f64) <= window {
                i += 1;
            }
            out.push((s, i));
        }
        i += 1;
    }
    out
}

/// `12.3 s` (as `{:.1} s` writes the seconds).
fn secs(ms: f64) -> String {
    let mut s = String::with_capacity(12);
    push_fixed(&mut s, ms / 1000.0, 1);
    s.push_str(" s");
    s
}

/// Detects every signal of analysis.md §1, sorted canonically.
pub(crate) fn detect(p: &Prepared<'_>) -> Vec<Signal> {
    let mut b = Builder { p, out: Vec::new() };
    let in_rage = clicks(&mut b);
    errors(&mut b);
    pauses(&mut b, &in_rage);
    navigation(&mut b);
    scrolling(&mut b);
    inputs(&mut b);
    facial(&mut b);
    speech(&mut b);
    task_failures(&mut b);
    let mut out = b.out;
    sort_signals(&mut out);
    out
}

/// Canonical order of signals: time, kind, selector, page, task, end, intensity, detail.
pub(crate) fn sort_signals(s: &mut [Signal]) {
    sort_large_by(s, |a, b| {
        a.timestamp
            .cmp(&b.timestamp)
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| a.selector.cmp(&b.selector))
            .then_with(|| a.url_path.cmp(&b.url_path))
            .then_with(|| a.task_id.cmp(&b.task_id))
            .then_with(|| a.end_timestamp.cmp(&b.end_timestamp))
            .then_with(|| a.intensity.total_cmp(&b.intensity))
            .then_with(|| a.detail.cmp(&b.detail))
    });
}

/// rage_click and unresponsive_click; returns which events belong to a rage chain.
fn clicks(b: &mut Builder<'_, '_>) -> Vec<bool> {
    let p = b.p;
    let th = &p.th;
    let n = p.events.len();
    // Prefix count of "something happened" events (navigation, input, focus change, scroll).
    let mut progress = Vec::with_capacity(n + 1);
    progress.push(0u32);
    let mut by_selector: Vec<Vec<usize>> = vec![Vec::new(); p.selectors.len()];
    for (i, &ty) in p.ev_type.iter().enumerate() {
        let is_progress = matches!(
            ty,
            EventType::Navigation | EventType::Input | EventType::Focus | EventType::Blur | EventType::Scroll
        );
        progress.push(progress[i] + u32::from(is_progress));
        if ty == EventType::Click && p.ev_sel[i] != NO_SEL {
            by_selector[p.ev_sel[i] as usize].push(i);
        }
    }
    let mut in_rage = vec![false; n];
    // Clicks already in an unresponsive run (for the single dead click of §1.2).
    let mut covered = vec![false; n];
    let min_clicks = th.rage_click_min_clicks as usize;
    for (sel, idx) in p.selectors.iter().copied().zip(&by_selector) {
        // Rage chains: consecutive clicks each ≤ max gap after the previous.
        let mut s = 0;
        while s < idx.len() {
            let mut e = s;
            while e + 1 < idx.len()
                && ((p.ev_times[idx[e + 1]] - p.ev_times[idx[e]]) as f64) <= th.rage_click_max_gap_ms
            {
                e += 1;
            }
            let count = e - s + 1;
            if count >= min_clicks && !page_answered(p, &idx[s..=e]) {
                for &k in &idx[s..=e] {
                    in_rage[k] = true;
                }
                let (t0, t1) = (p.ev_times[idx[s]], p.ev_times[idx[e]]);
                // Intensity min(1, (clicks − 2) / 2): analysis.md §1. It saturates at four
                // clicks, because four clicks on a dead control already tell the whole story.
                let intensity = ((count as f64 - 2.0) / 2.0).min(1.0);
                b.at_event(
                    SignalKind::RageClick,
                    idx[s],
                    t1,
                    intensity,
                    Some(sel),
                    format!("{count} clicks on {sel} within {}", secs((t1 - t0) as f64)),
                );
            }
            s = e + 1;
        }
        // Unresponsive clicks: re-click after (min, max] with no progress event in between;
        // a run of such re-clicks is one signal.
        let mut k = 0;
        while k + 1 < idx.len() {
            let pair_ok = |a: usize, c: usize| {
                let gap = (p.ev_times[c] - p.ev_times[a]) as f64;
                // The columns first: most pairs fail there, without reading the click.
                gap > th.unresponsive_min_gap_ms
                    && gap <= th.unresponsive_max_gap_ms
                    && progress[c] == progress[a + 1]
                    && !answered(p.events[a])
            };
            if pair_ok(idx[k], idx[k + 1]) {
                let s = k;
                while k + 1 < idx.len() && pair_ok(idx[k], idx[k + 1]) {
                    k += 1;
                }
                for &c in &idx[s..=k] {
                    covered[c] = true;
                }
                let reclicks = k - s;
                // Engine choice (the spec gives no intensity): 0.5 for one re-click,
                // +0.25 per further re-click, capped at 1.
                let intensity = (0.25 + 0.25 * reclicks as f64).min(1.0);
                b.at_event(
                    SignalKind::UnresponsiveClick,
                    idx[s],
                    p.ev_times[idx[k]],
                    intensity,
                    Some(sel),
                    format!("{sel} clicked {} times with no visible response", reclicks + 1),
                );
            } else {
                k += 1;
            }
        }
    }
    dead_clicks(b, &by_selector, &in_rage, &covered);
    in_rage
}

/// Roles of a control whose click must visibly do something (analysis.md §1.2).
const CONTROL_ROLES: [&str; 6] = ["button", "link", "submit", "checkbox", "menuitem", "tab"];
/// Roles of a control clicked repeatedly on purpose.
const STEPPER_ROLES: [&str; 3] = ["spinbutton", "number", "range"];
/// How long a single click on a control may go without any answer before it is dead.
pub(crate) const DEAD_CLICK_WINDOW_MS: i64 = 2_500;

fn has_role(e: &EventItem, roles: &[&str]) -> bool {
    e.role.as_deref().is_some_and(|r| roles.iter().any(|x| x.eq_ignore_ascii_case(r.trim())))
}

/// The page visibly answered the click (DOM mutations within 1 s), or it opened a new tab
/// or a download: never an unresponsive click (analysis.md §1.2).
fn answered(e: &EventItem) -> bool {
    e.mutations.is_some_and(|m| m > 0.0) || e.opens_new_context == Some(true)
}

/// A chain of fast clicks that is not rage (analysis.md §1.2): the page answered every
/// click (a stepper, a carousel, a counter), the chain left a text selection (a double or
/// triple click selecting a word or a paragraph), or the control is a stepper or a slider.
fn page_answered(p: &Prepared<'_>, chain: &[usize]) -> bool {
    let responded = chain.iter().all(|&k| p.events[k].mutations.is_some_and(|m| m > 0.0));
    let selected = chain.last().is_some_and(|&k| p.events[k].selection_length.is_some_and(|l| l > 0.0));
    let stepper = chain.iter().any(|&k| has_role(p.events[k], &STEPPER_ROLES));
    responded || selected || stepper
}

/// The single dead click of analysis.md §1.2: a click that reports `mutations = 0` on a
/// control, followed by no navigation, input, focus change or mutation within 2.5 s, is an
/// `unresponsive_click` without a second click (a dead control clicked once, then
/// abandoned). Clicks of a rage chain or an unresponsive run are already signals, and a
/// click right after a dead one on the same control belongs to it. Without `mutations`
/// (older recorders) nothing changes.
fn dead_clicks(b: &mut Builder<'_, '_>, by_selector: &[Vec<usize>], in_rage: &[bool], covered: &[bool]) {
    let p = b.p;
    let window = DEAD_CLICK_WINDOW_MS;
    for (sel, idx) in p.selectors.iter().copied().zip(by_selector) {
        let mut last_dead: Option<i64> = None;
        for &i in idx {
            let e = p.events[i];
            let t = p.ev_times[i];
            let after_dead = last_dead.is_some_and(|d| t - d <= window);
            if in_rage[i]
                || covered[i]
                || after_dead
                || e.mutations != Some(0.0)
                || e.opens_new_context == Some(true)
                || !has_role(e, &CONTROL_ROLES)
                || p.until.is_some_and(|u| u < t.saturating_add(window))
            {
                continue;
            }
            let to = t.saturating_add(window);
            // Events after it in canonical order: a checkbox's `input` carries the click's own
            // millisecond and sorts after it. Focus moving in that same millisecond (the last
            // field's blur, the pressed control's focus) is the press itself, not an answer:
            // whether it sorts before or after the click must not decide the finding.
            let own_focus = |x: &&&EventItem| {
                matches!(x.event_type, EventType::Focus | EventType::Blur) && x.timestamp.0 == e.timestamp.0
            };
            let answer =
                p.events[i + 1..].iter().take_while(|x| x.timestamp.0 <= to).filter(|x| !own_focus(x)).any(
                    |x| match x.event_type {
                        EventType::Navigation | EventType::Input | EventType::Focus | EventType::Blur => true,
                        EventType::Click => x.mutations.is_some_and(|m| m > 0.0),
                        _ => false,
                    },
                );
            if answer {
                continue;
            }
            last_dead = Some(t);
            // Engine choice: the intensity of one re-click (0.5).
            b.at_event(
                SignalKind::UnresponsiveClick,
                i,
                t,
                0.5,
                Some(sel),
                format!("{sel} clicked once with no visible response"),
            );
        }
    }
}

/// error_click and error.
fn errors(b: &mut Builder<'_, '_>) {
    let p = b.p;
    let mut last_click: Option<usize> = None;
    for (i, &ty) in p.ev_type.iter().enumerate() {
        match ty {
            EventType::Click => last_click = Some(i),
            EventType::Error => {
                let e = p.events[i];
                let msg = e.error_message.as_deref().map_or(Cow::Borrowed("error"), |m| excerpt(m, 200));
                let click = last_click
                    .filter(|&c| ((p.ev_times[i] - p.ev_times[c]) as f64) <= p.th.error_click_window_ms);
                match click {
                    Some(c) => {
                        let sel = p.events[c].target_selector.as_str();
                        b.push(
                            SignalKind::ErrorClick,
                            p.ev_times[i],
                            p.ev_times[i],
                            1.0,
                            p.ev_path[c],
                            p.ev_task[c],
                            Some(sel),
                            ["Error after clicking ", sel, ": ", &msg].concat(),
                        );
                    }
                    None => b.at_event(
                        SignalKind::Error,
                        i,
                        p.ev_times[i],
                        1.0,
                        Some(e.target_selector.as_str()),
                        ["Error: ", &msg].concat(),
                    ),
                }
            }
            _ => {}
        }
    }
}

/// hesitation (hover and pause), hesitation_cluster and the blur half of attention_drop.
///
/// Pauses are measured between steady actions: errors (emitted by the page) and clicks
/// of a rage chain (the symptom itself, not progress) neither end a pause nor a blur, so
/// adding either never removes a hesitation (analysis.md §6, monotonicity). A pause
/// that spans a rage chain is attributed to the chain's selector: it belongs to that
/// control's finding, not to a separate "next step is unclear" one.
///
/// Only a page-level blur (selector empty, `window`, `document`, `html`, `body` or
/// `:root`) takes the page's focus away; leaving a form field does not. A page blur ends
/// at the next focus or the next steady action, whichever comes first: acting on the
/// page proves attention even when no focus event was recorded.
fn pauses(b: &mut Builder<'_, '_>, in_rage: &[bool]) {
    let p = b.p;
    let th = &p.th;
    let full = th.hesitation_full_ms;
    let mut prev: Option<usize> = None;
    // Last rage-chain click since `prev`.
    let mut rage_between: Option<usize> = None;
    let before = b.out.len();
    let page_blur =
        |a: usize| p.ev_type[a] == EventType::Blur && is_page_level_id(p.ev_sel[a], &p.sel_page_level);
    // The tester's own thresholds (analysis.md §1.1); intensity = duration / (2.5 × threshold)
    // scales with them (`full` is 2.5 × the default gap threshold).
    let base = &p.baseline;
    let hover_full = full * base.hover_threshold_ms / th.hesitation_hover_ms;
    for (i, &ty) in p.ev_type.iter().enumerate() {
        if ty == EventType::Click
            && let h = p.ev_measure[i]
            && h.is_finite()
            && h >= base.hover_threshold_ms
        {
            let e = p.events[i];
            b.at_event(
                SignalKind::Hesitation,
                i,
                p.ev_times[i],
                h / hover_full,
                Some(e.target_selector.as_str()),
                format!("Hovered {} before clicking {}", secs(h), e.target_selector),
            );
        }
        if in_rage[i] {
            rage_between = Some(i);
        }
        let steady = !matches!(ty, EventType::Error | EventType::Other) && !in_rage[i];
        if !steady {
            continue;
        }
        if let Some(a) = prev {
            let gap = (p.ev_times[i] - p.ev_times[a]) as f64;
            if page_blur(a) {
                if gap >= th.attention_blur_ms {
                    b.at_event(
                        SignalKind::AttentionDrop,
                        a,
                        p.ev_times[i],
                        gap / full,
                        None,
                        format!("Page lost focus for {}", secs(gap)),
                    );
                }
            } else {
                // A page's first pause may be reading: its words at the tester's own speed.
                let reading = match p.ev_type[a] {
                    // NaN (no word count) gets no allowance, as an absent one.
                    EventType::Navigation => base.reading_allowance_ms(p.ev_measure[a]),
                    _ => 0.0,
                };
                let threshold = base.gap_threshold_ms + reading;
                if gap >= threshold {
                    let around = rage_between.map(|r| p.events[r].target_selector.as_str());
                    let detail = match around {
                        Some(sel) => format!("Paused {} around repeated clicks on {sel}", secs(gap)),
                        None => format!("Paused {} before the next action", secs(gap)),
                    };
                    let gap_full = full * threshold / th.hesitation_gap_ms;
                    b.at_event(SignalKind::Hesitation, a, p.ev_times[i], gap / gap_full, around, detail);
                }
            }
        }
        prev = Some(i);
        rage_between = None;
    }
    if let Some(a) = prev.filter(|&a| page_blur(a)) {
        let gap = (p.end - p.ev_times[a]) as f64;
        if gap >= th.attention_blur_ms {
            b.at_event(
                SignalKind::AttentionDrop,
                a,
                p.end,
                gap / full,
                None,
                format!("Page lost focus for {} until the end", secs(gap)),
            );
        }
    }
    let clusters = hesitation_clusters(b, before);
    b.out.extend(clusters);
}

/// hesitation_cluster over the hesitations pushed since `before`. They are read in place,
/// by index, rather than copied with their strings.
fn hesitation_clusters(b: &Builder<'_, '_>, before: usize) -> Vec<Signal> {
    let th = &b.p.th;
    let out = &b.out;
    let mut hes: Vec<usize> =
        (before..out.len()).filter(|&i| out[i].kind == SignalKind::Hesitation).collect();
    hes.sort_by(|&x, &y| {
        let (x, y) = (&out[x], &out[y]);
        x.timestamp.cmp(&y.timestamp).then_with(|| x.selector.cmp(&y.selector))
    });
    let times: Vec<i64> = hes.iter().map(|&i| out[i].timestamp.0).collect();
    let count = th.hesitation_cluster_count as usize;
    let mut clusters = Vec::new();
    for (s, e) in episodes(&times, count, th.hesitation_cluster_window_ms) {
        let n = e - s + 1;
        let first = &out[hes[s]];
        // A cluster mostly on one control (more than half of its hesitations) keeps that
        // control's selector, so it joins the control's finding.
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for &h in &hes[s..=e] {
            if let Some(sel) = out[h].selector.as_deref() {
                *votes.entry(sel).or_default() += 1;
            }
        }
        let selector = votes
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
            .filter(|(_, v)| 2 * v > n)
            .map(|(sel, _)| sel);
        // Engine choice: intensity n / (2 × minimum count), capped at 1.
        clusters.push(b.signal(
            SignalKind::HesitationCluster,
            times[s],
            times[e],
            n as f64 / (2.0 * count as f64),
            first.url_path.as_deref(),
            first.task_id.as_deref(),
            selector,
            format!("{n} hesitations within {}", secs((times[e] - times[s]) as f64)),
        ));
    }
    clusters
}

/// quick_back, revisit_loop and navigation_loop.
fn navigation(b: &mut Builder<'_, '_>) {
    let p = b.p;
    let th = &p.th;
    let before = b.out.len();
    // (index, from path, to path). A page path carries forward from event to event, so the
    // page before an event is the previous event's.
    let mut navs: Vec<(usize, Option<&str>, &str)> = Vec::new();
    for (i, &ty) in p.ev_type.iter().enumerate() {
        if ty == EventType::Navigation
            && let Some(to) =
                p.ev_path[i].filter(|_| p.events[i].url.as_deref().is_some_and(|u| !u.is_empty()))
        {
            navs.push((i, i.checked_sub(1).and_then(|k| p.ev_path[k]), to));
        }
    }
    for w in navs.windows(2) {
        let (i, from, to) = w[0];
        let (j, _, back) = w[1];
        if let Some(from) = from.filter(|f| *f != to && *f == back) {
            let dt = (p.ev_times[j] - p.ev_times[i]) as f64;
            if dt <= th.quick_back_window_ms {
                b.push(
                    SignalKind::QuickBack,
                    p.ev_times[i],
                    p.ev_times[j],
                    1.0,
                    Some(from),
                    p.ev_task[i],
                    None,
                    format!("Went from {from} to {to} and back within {}", secs(dt)),
                );
            }
        }
    }
    let arrivals = arrivals_of(p, &navs);
    let min = th.revisit_min_count as usize;
    for &((task, path), ref idx) in &arrivals {
        if idx.len() >= min {
            let at = idx[min - 1];
            let last = idx[idx.len() - 1];
            // Engine choice: 1/3 at the minimum count, +1/3 per further arrival.
            b.push(
                SignalKind::RevisitLoop,
                p.ev_times[at],
                p.ev_times[last],
                (idx.len() - min + 1) as f64 / 3.0,
                Some(path),
                task,
                None,
                format!("Reached {path} {} times within one task", idx.len()),
            );
        }
    }
    navigation_loops(b, before, &arrivals);
}

/// (task, path) of a navigation's arrival, and the navigations arriving there.
type Arrivals<'a> = Vec<((Option<&'a str>, &'a str), Vec<usize>)>;

/// Each (task, path)'s arrivals in event order, in key order. Grouped by hash, then the few
/// keys sorted: a tree compared two strings at every level for each navigation.
fn arrivals_of<'a>(p: &Prepared<'a>, navs: &[(usize, Option<&'a str>, &'a str)]) -> Arrivals<'a> {
    let mut by_key: HashMap<(Option<&str>, &str), Vec<usize>, foldhash::fast::RandomState> =
        HashMap::default();
    for &(i, _, to) in navs {
        by_key.entry((p.ev_task[i], to)).or_default().push(i);
    }
    let mut arrivals: Arrivals<'a> = by_key.into_iter().collect();
    arrivals.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    arrivals
}

/// navigation_loop: at least the minimum number of quick backs and revisit loops (those
/// pushed since `before`) within one task. It is placed where the minimum is reached,
/// when the tester shows to be lost, and grouped by the task's most revisited path: the
/// page they keep coming back to is where the way on is missing.
fn navigation_loops(b: &mut Builder<'_, '_>, before: usize, arrivals: &Arrivals<'_>) {
    let p = b.p;
    let min = p.th.navigation_loop_signals as usize;
    // (start, end) of the navigation signals per task, sorted.
    let mut by_task: BTreeMap<Option<String>, Vec<(i64, i64)>> = BTreeMap::new();
    for s in &b.out[before..] {
        by_task.entry(s.task_id.clone()).or_default().push((s.timestamp.0, s.end_timestamp.0));
    }
    for (task, mut spans) in by_task {
        if spans.len() < min {
            continue;
        }
        spans.sort_unstable();
        // Most arrivals; then the page reached first; then the name.
        let Some((path, arrived)) = arrivals
            .iter()
            .filter(|((t, _), _)| *t == task.as_deref())
            .map(|((_, path), idx)| (*path, idx))
            .min_by(|x, y| {
                y.1.len()
                    .cmp(&x.1.len())
                    .then_with(|| x.1.first().cmp(&y.1.first()))
                    .then_with(|| x.0.cmp(y.0))
            })
        else {
            continue;
        };
        let n = spans.len();
        let end = spans.iter().map(|s| s.1).max().unwrap_or(spans[min - 1].0);
        // Intensity min(1, signals / 5): analysis.md §1.
        b.push(
            SignalKind::NavigationLoop,
            spans[min - 1].0,
            end,
            n as f64 / 5.0,
            Some(path),
            task.as_deref(),
            None,
            format!(
                "{n} quick backs and revisits within one task; {path} was reached {} times",
                arrived.len()
            ),
        );
    }
}

/// scroll_thrash: direction reversals between scroll movements of at least the minimum
/// size, counted per page.
fn scrolling(b: &mut Builder<'_, '_>) {
    let p = b.p;
    let th = &p.th;
    // (reversal time, event index)
    let mut reversals: Vec<(i64, usize)> = Vec::new();
    let mut page: Option<&str> = None;
    let mut last_y: Option<f64> = None;
    // Runs of one direction: (direction, magnitude, start index).
    let mut prev_run: Option<(f64, f64, usize)> = None;
    let mut run: Option<(f64, f64, usize)> = None;
    let flush = |prev_run: &Option<(f64, f64, usize)>,
                 run: &Option<(f64, f64, usize)>,
                 out: &mut Vec<(i64, usize)>| {
        if let (Some(a), Some(c)) = (prev_run, run)
            && a.1 >= th.scroll_thrash_min_px
            && c.1 >= th.scroll_thrash_min_px
        {
            out.push((p.ev_times[c.2], c.2));
        }
    };
    for (i, &ty) in p.ev_type.iter().enumerate() {
        if ty != EventType::Scroll {
            continue;
        }
        let y = p.ev_measure[i];
        if !y.is_finite() {
            continue;
        }
        if p.ev_path[i] != page {
            flush(&prev_run, &run, &mut reversals);
            page = p.ev_path[i];
            last_y = None;
            prev_run = None;
            run = None;
        }
        if let Some(ly) = last_y {
            let d = y - ly;
            if d != 0.0 {
                let dir = d.signum();
                match run.as_mut() {
                    Some(r) if r.0 == dir => r.1 += d.abs(),
                    _ => {
                        if run.is_some() {
                            flush(&prev_run, &run, &mut reversals);
                            prev_run = run;
                        }
                        run = Some((dir, d.abs(), i));
                    }
                }
            }
        }
        last_y = Some(y);
    }
    flush(&prev_run, &run, &mut reversals);
    reversals.sort_unstable();
    let times: Vec<i64> = reversals.iter().map(|r| r.0).collect();
    let count = th.scroll_thrash_reversals as usize;
    for (s, e) in episodes(&times, count, th.scroll_thrash_window_ms) {
        let n = e - s + 1;
        // Engine choice: intensity reversals / (2 × minimum), capped at 1.
        b.at_event(
            SignalKind::ScrollThrash,
            reversals[s].1,
            times[e],
            n as f64 / (2.0 * count as f64),
            None,
            format!("Scrolled back and forth {n} times within {}", secs((times[e] - times[s]) as f64)),
        );
    }
}

/// Deletions one input item can stand for: far beyond any threshold, so a bogus count
/// cannot make the engine allocate without bound.
const MAX_DELETIONS_PER_ITEM: f64 = 1_000.0;

#[derive(Default)]
struct FieldState {
    /// Whether the selector received an `input` event: only then is it a field.
    typed: bool,
    last_len: Option<f64>,
    focused_len: Option<Option<f64>>,
    drops: Vec<(i64, usize)>,
    cycles: Vec<(i64, usize)>,
    cycle_runs: Vec<Vec<(i64, usize)>>,
}

/// input_struggle: repeated deletions, or entering and leaving a field without typing.
///
/// A deletion is a drop of `inputLength`, or, on an item that carries `deletions` (one item
/// per typing burst), each deletion it counts (analysis.md §1).
///
/// A field is a selector that received an `input` event somewhere in the session
/// (analysis.md §1): keyboard users tab through buttons and links, and entering and
/// leaving those three times is moving on, not struggling with a field.
fn inputs(b: &mut Builder<'_, '_>) {
    let p = b.p;
    let th = &p.th;
    let mut fields: Vec<Option<FieldState>> = Vec::new();
    fields.resize_with(p.selectors.len(), || None);
    for (i, &ty) in p.ev_type.iter().enumerate() {
        if p.ev_sel[i] == NO_SEL || !matches!(ty, EventType::Input | EventType::Focus | EventType::Blur) {
            continue;
        }
        let f = fields[p.ev_sel[i] as usize].get_or_insert_with(FieldState::default);
        match ty {
            EventType::Input => {
                // Only an input's own fields are read; a focus change is its type alone.
                let e = p.events[i];
                f.typed = true;
                let len = e.input_length.filter(|l| l.is_finite());
                match e.deletions.filter(|d| d.is_finite()) {
                    // A burst's deletions count one drop each, in place of the length
                    // (which hides a field cleared and retyped within one burst).
                    Some(d) => {
                        let d = d.clamp(0.0, MAX_DELETIONS_PER_ITEM) as usize;
                        f.drops.extend(std::iter::repeat_n((p.ev_times[i], i), d));
                    }
                    None => {
                        if let Some(len) = len
                            && f.last_len.is_some_and(|prev| len < prev)
                        {
                            f.drops.push((p.ev_times[i], i));
                        }
                    }
                }
                if len.is_some() {
                    f.last_len = len;
                }
            }
            EventType::Focus => f.focused_len = Some(f.last_len),
            _ => {
                if let Some(at_focus) = f.focused_len.take() {
                    if at_focus == f.last_len {
                        f.cycles.push((p.ev_times[i], i));
                    } else if !f.cycles.is_empty() {
                        let run = std::mem::take(&mut f.cycles);
                        f.cycle_runs.push(run);
                    }
                }
            }
        }
    }
    let drops_needed = th.input_struggle_drops as usize;
    let cycles_needed = th.input_struggle_focus_cycles as usize;
    let fields = p.selectors.iter().copied().zip(fields).filter_map(|(sel, f)| Some((sel, f?)));
    for (field, mut f) in fields.filter(|(_, f)| f.typed) {
        let times: Vec<i64> = f.drops.iter().map(|d| d.0).collect();
        for (s, e) in episodes(&times, drops_needed, th.input_struggle_window_ms) {
            let n = e - s + 1;
            b.at_event(
                SignalKind::InputStruggle,
                f.drops[s].1,
                times[e],
                n as f64 / (2.0 * drops_needed as f64),
                Some(field),
                format!(
                    "Text in {field} was cut back {n} times within {}",
                    secs((times[e] - times[s]) as f64)
                ),
            );
        }
        if !f.cycles.is_empty() {
            let run = std::mem::take(&mut f.cycles);
            f.cycle_runs.push(run);
        }
        for run in f.cycle_runs.iter().filter(|r| r.len() >= cycles_needed) {
            let (first, last) = (run[0], run[run.len() - 1]);
            b.at_event(
                SignalKind::InputStruggle,
                first.1,
                last.0,
                run.len() as f64 / (2.0 * cycles_needed as f64),
                Some(field),
                format!("{field} was entered and left {} times without a change", run.len()),
            );
        }
    }
}

/// negative_emotion episodes and the face-not-detected half of attention_drop.
fn facial(b: &mut Builder<'_, '_>) {
    let p = b.p;
    let th = &p.th;
    let f = &p.facial;
    let mut i = 0;
    while i < f.len() {
        let qualifies = |x: &FacialItem| {
            x.face_detected
                && is_negative_emotion(&x.emotion)
                && x.confidence.is_finite()
                && x.confidence >= th.negative_emotion_min_confidence
        };
        if qualifies(f[i]) {
            let s = i;
            let mut peak = unit(f[i].confidence);
            while i + 1 < f.len() && qualifies(f[i + 1]) {
                i += 1;
                peak = peak.max(unit(f[i].confidence));
            }
            let (path, task) = p.context_at(f[s].timestamp.0);
            let n = i - s + 1;
            b.push(
                SignalKind::NegativeEmotion,
                f[s].timestamp.0,
                f[i].timestamp.0,
                peak,
                path,
                task,
                None,
                format!(
                    "{} expression (confidence {:.2}) over {n} snapshot(s)",
                    f[s].emotion.to_lowercase(),
                    peak
                ),
            );
        } else if !f[i].face_detected {
            let s = i;
            while i + 1 < f.len() && !f[i + 1].face_detected {
                i += 1;
            }
            let n = i - s + 1;
            let needed = th.attention_no_face_snapshots as usize;
            if n >= needed {
                let (path, task) = p.context_at(f[s].timestamp.0);
                b.push(
                    SignalKind::AttentionDrop,
                    f[s].timestamp.0,
                    f[i].timestamp.0,
                    n as f64 / (2.0 * needed as f64),
                    path,
                    task,
                    None,
                    format!("No face in view for {n} snapshots"),
                );
            }
        }
        i += 1;
    }
}

/// negative_speech from voice segments.
fn speech(b: &mut Builder<'_, '_>) {
    let p = b.p;
    for v in &p.voice {
        let norm = sentiment::normalize(&v.transcript);
        let s = sentiment::sentiment_of_normalized(&norm);
        let phrase = sentiment::frustration_phrase(&norm);
        if s <= p.th.negative_speech_sentiment || phrase.is_some() {
            // Intensity max(|sentiment|, 0.6 if a phrase matched): analysis.md §1.
            let intensity = s.abs().max(if phrase.is_some() { 0.6 } else { 0.0 });
            let (path, task) = p.context_at(v.timestamp.0);
            let dur =
                if v.duration_ms.is_finite() { v.duration_ms.clamp(0.0, 86_400_000.0) as i64 } else { 0 };
            b.push(
                SignalKind::NegativeSpeech,
                v.timestamp.0,
                v.timestamp.0.saturating_add(dur),
                intensity,
                path,
                task,
                None,
                ["\u{201c}", &excerpt(&v.transcript, 160), "\u{201d}"].concat(),
            );
            if let Some(last) = b.out.last_mut() {
                last.mentions_reading = sentiment::mentions_reading(&norm);
            }
        }
    }
}

/// task_failure: a failed (0.8) or abandoned (1.0) attempt, placed at its end
/// (analysis.md §1). In a snapshot an attempt that has not ended yet has not failed.
fn task_failures(b: &mut Builder<'_, '_>) {
    let p = b.p;
    for a in &p.attempts {
        let intensity = match a.outcome {
            Outcome::Fail => 0.8,
            Outcome::Abandon => 1.0,
            _ => continue,
        };
        let at = a.ended_at.0;
        if p.until.is_some_and(|u| at > u) {
            continue;
        }
        let (path, _) = p.context_at(at);
        let how = if a.outcome == Outcome::Fail { "failed" } else { "was abandoned" };
        let took = secs(at.saturating_sub(a.started_at.0) as f64);
        b.push(
            SignalKind::TaskFailure,
            at,
            at,
            intensity,
            path,
            Some(a.task_id.as_str()),
            None,
            format!("The task {how} after {took}"),
        );
    }
}

/// Sentiment of every voice segment (for analytics), in canonical order.
pub(crate) fn voice_sentiments(p: &Prepared<'_>) -> Vec<f64> {
    p.voice.iter().map(|v| sentiment::sentiment(&v.transcript)).collect()
}
