//! Session findings of analysis.md §3 (Agent 2): grouping, titles, WCAG, evidence, severity.

use crate::input::Outcome;
use crate::signals::{Family, Prepared, Signal, SignalKind, voice_ms};
use crate::time::Timestamp;
use crate::util::{excerpt, id_of, push_fixed, push_uint, round_to, stable_hash};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Finding severity, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Blocks many, or causes abandonment.
    Critical,
    /// Blocks or seriously slows.
    Major,
    /// Noticeable difficulty.
    Moderate,
    /// Small irritation.
    Minor,
}

/// A WCAG 2.1 success criterion suggestion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Wcag {
    /// e.g. `4.1.2`.
    pub criterion: String,
    /// e.g. `Name, Role, Value`.
    pub name: String,
}

/// One piece of evidence: a signal or a transcript excerpt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// Signal type, `transcript` or `note`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When.
    pub timestamp: Timestamp,
    /// Short detail or verbatim excerpt.
    pub detail: String,
}

/// A candidate barrier (api.md §6 finding), per session or merged across a study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// `fnd_` + a stable hash of the group key: identical across re-runs.
    pub finding_id: String,
    /// Title from the dominant signal.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// Suggested WCAG 2.1 criterion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wcag: Option<Wcag>,
    /// Contributing signals and transcript excerpts.
    pub evidence: Vec<Evidence>,
    /// What to change.
    pub recommendation: String,
    /// For the product team.
    pub technical_description: String,
    /// For everyone.
    pub plain_description: String,
    /// Testers who met it.
    pub testers_affected: u32,
    /// ND categories of those testers.
    pub nd_categories: Vec<String>,
    /// Task, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Dominant signal type.
    pub dominant_signal: SignalKind,
    /// Family of the dominant signal (merging key across sessions).
    pub family: Family,
    /// URL path of the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_path: Option<String>,
    /// Selector or field of the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Largest signal intensity in the group.
    pub peak_intensity: f64,
    /// Whether the group holds a signal of weight ≥ 0.5 (otherwise only weak signals).
    pub strong_signal: bool,
    /// Sessions the finding comes from.
    pub session_ids: Vec<String>,
    /// Study only: testers affected / testers with a confirmed session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prevalence: Option<f64>,
}

/// A candidate group: task, page, control (borrowed from its signals).
type Key<'s> = (Option<&'s str>, Option<&'s str>, Option<&'s str>);

fn key_of(s: &Signal) -> Key<'_> {
    (s.task_id.as_deref(), s.url_path.as_deref(), s.selector.as_deref())
}

/// Title pattern and WCAG 2.1 suggestion by dominant signal (table of analysis.md §3;
/// criteria names from W3C, *Web Content Accessibility Guidelines (WCAG) 2.1*, 2018).
pub(crate) fn title_and_wcag(
    kind: SignalKind,
    reading: bool,
    sel: &str,
    path: &str,
) -> (String, Option<Wcag>) {
    let w = |c: &str, n: &str| Some(Wcag { criterion: c.to_string(), name: n.to_string() });
    match kind {
        SignalKind::RageClick | SignalKind::UnresponsiveClick => {
            (format!("Control does not respond as expected: {sel}"), w("4.1.2", "Name, Role, Value"))
        }
        SignalKind::ErrorClick | SignalKind::Error => {
            (format!("Action leads to an error: {sel}"), w("3.3.1", "Error Identification"))
        }
        SignalKind::InputStruggle => {
            (format!("Form field is hard to complete: {sel}"), w("3.3.2", "Labels or Instructions"))
        }
        SignalKind::HesitationCluster | SignalKind::Hesitation => {
            (format!("Next step is unclear on {path}"), w("2.4.6", "Headings and Labels"))
        }
        SignalKind::QuickBack | SignalKind::RevisitLoop => {
            (format!("Navigation leads testers astray on {path}"), w("2.4.4", "Link Purpose (In Context)"))
        }
        // Lost rather than misled by one link: offer more than one way to the goal.
        SignalKind::NavigationLoop => {
            (format!("Navigation leads testers astray on {path}"), w("2.4.5", "Multiple Ways"))
        }
        SignalKind::ScrollThrash => {
            (format!("Content is hard to locate on {path}"), w("2.4.6", "Headings and Labels"))
        }
        SignalKind::NegativeSpeech if reading => {
            (format!("Text is hard to read on {path}"), w("3.1.5", "Reading Level"))
        }
        // Not in the table: no WCAG suggestion is made.
        SignalKind::NegativeSpeech | SignalKind::NegativeEmotion => {
            (format!("Testers showed frustration on {path}"), None)
        }
        SignalKind::AttentionDrop => (format!("Page does not hold attention: {path}"), None),
        // A task failure never dominates a group (see `session_findings`); named anyway.
        SignalKind::TaskFailure => (format!("Task could not be completed on {path}"), None),
    }
}

fn recommendation(kind: SignalKind, reading: bool) -> &'static str {
    match kind {
        SignalKind::RageClick | SignalKind::UnresponsiveClick => {
            "Make the control respond visibly to every activation (state change, progress indicator or message) and expose its name, role and state to assistive technology."
        }
        SignalKind::ErrorClick | SignalKind::Error => {
            "Prevent the error where possible; otherwise show it in text next to its cause, say how to fix it, and move focus or announce it."
        }
        SignalKind::InputStruggle => {
            "Give the field a visible label and instructions with the expected format before input, accept common variations, and when a value is refused say why in text next to the field, never by colour alone."
        }
        SignalKind::Hesitation | SignalKind::HesitationCluster => {
            "Make the next step obvious: a clear heading, one primary action with a descriptive label, and less competing content."
        }
        SignalKind::QuickBack | SignalKind::RevisitLoop => {
            "Name links and menu items by where they lead, and make the target page reachable from where testers look for it."
        }
        SignalKind::NavigationLoop => {
            "Offer more than one way to reach the goal (a clear menu, search, a site map) and name links by where they lead."
        }
        SignalKind::ScrollThrash => {
            "Structure the page with descriptive headings and put key content where testers expect it; consider a table of contents."
        }
        SignalKind::NegativeSpeech if reading => {
            "Shorten and simplify the text: plain words, short sentences, headings and lists; offer a summary."
        }
        SignalKind::NegativeSpeech
        | SignalKind::NegativeEmotion
        | SignalKind::AttentionDrop
        | SignalKind::TaskFailure => {
            "Review this step with testers: reduce distractions and cognitive load and make progress visible."
        }
    }
}

/// The words a tester reads about a finding (`plainDescription`): the design's part in plain
/// language, naming a control by the words on it (`the “Create account” control`) and never
/// by its CSS selector or an error's text.
fn plain(kind: SignalKind, reading: bool, label: Option<&str>, path: &str) -> String {
    let control =
        label.map_or_else(|| "a control on this page".to_string(), |l| format!("the “{l}” control"));
    let field = label.map_or_else(|| "a field on this page".to_string(), |l| format!("the “{l}” field"));
    match kind {
        SignalKind::RageClick | SignalKind::UnresponsiveClick => {
            format!(
                "{} did not respond to repeated clicks, so it was not clear whether anything happened.",
                capitalised(&control)
            )
        }
        SignalKind::ErrorClick | SignalKind::Error => {
            format!("Using {control} led to an error that the design did not explain or help recover from.")
        }
        SignalKind::InputStruggle => {
            format!("{} did not make clear what it expected.", capitalised(&field))
        }
        SignalKind::Hesitation | SignalKind::HesitationCluster => {
            format!("The page {path} did not make the next step clear.")
        }
        SignalKind::QuickBack | SignalKind::RevisitLoop => {
            format!("Links on {path} led somewhere other than expected.")
        }
        SignalKind::NavigationLoop => {
            format!("The navigation around {path} did not lead to the goal, so testers went back and forth.")
        }
        SignalKind::ScrollThrash => format!("Content on {path} was hard to find."),
        SignalKind::NegativeSpeech if reading => format!("The text on {path} was hard to read."),
        SignalKind::NegativeSpeech | SignalKind::NegativeEmotion => {
            format!("This step on {path} caused visible strain.")
        }
        SignalKind::AttentionDrop => format!("The page {path} did not hold attention."),
        SignalKind::TaskFailure => format!("The design did not let the task be completed on {path}."),
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

/// The words on the element `selector` as the tester saw them (its first non-empty
/// `targetText`, at most 60 characters on one line), for the plain description.
fn visible_label(labels: &BTreeMap<&str, &str>, selector: Option<&str>) -> Option<String> {
    let text = labels.get(selector?)?.split_whitespace().collect::<Vec<_>>().join(" ");
    let text: String = text.chars().filter(|c| !matches!(c, '“' | '”' | '"')).collect();
    Some(if text.chars().count() > 60 {
        format!("{}…", text.chars().take(59).collect::<String>())
    } else {
        text
    })
    .filter(|t| !t.is_empty())
}

/// Each target's first visible text (not only white space), in event order: one pass over
/// the session, so naming every finding's control costs a lookup, not a scan of the events.
fn visible_labels<'a>(p: &Prepared<'a>) -> BTreeMap<&'a str, &'a str> {
    let mut out = BTreeMap::new();
    for e in p.events.iter().copied() {
        if let Some(t) = e.target_text.as_deref().filter(|t| t.split_whitespace().next().is_some()) {
            out.entry(e.target_selector.as_str()).or_insert(t);
        }
    }
    out
}

/// Index of the behavioural signal nearest in time to `t` within `window`, if any.
fn nearest(behav: &[&Signal], t: i64, window: i64) -> Option<usize> {
    let i = behav.partition_point(|s| s.timestamp.0 < t);
    let mut best: Option<(i64, usize)> = None;
    // Equal-time signals sit at `i..`; the one just before may be closer.
    for j in [i.checked_sub(1), Some(i)].into_iter().flatten() {
        if let Some(s) = behav.get(j) {
            let d = (s.timestamp.0 - t).abs();
            if d <= window && best.is_none_or(|b| d < b.0) {
                best = Some((d, j));
            }
        }
    }
    best.map(|b| b.1)
}

/// The group a task failure joins: of the groups of its task, the one with the most
/// signals in the window before it (analysis.md §3); ties go to the group with the latest
/// such signal, then to the first key. `None` when no group of the task has one: alone, a
/// failure says nothing about where the barrier is.
fn failure_group<'s>(
    groups: &HashMap<Key<'s>, Vec<&'s Signal>, foldhash::fast::RandomState>,
    failure: &Signal,
    window: i64,
) -> Option<Key<'s>> {
    let t = failure.timestamp.0;
    let from = t.saturating_sub(window);
    groups
        .iter()
        .filter(|(k, _)| k.0.is_some() && k.0 == failure.task_id.as_deref())
        .filter_map(|(k, members)| {
            let recent: Vec<i64> = members
                .iter()
                .filter(|s| {
                    s.kind != SignalKind::TaskFailure && s.timestamp.0 <= t && s.end_timestamp.0 >= from
                })
                .map(|s| s.timestamp.0)
                .collect();
            let latest = recent.iter().copied().max()?;
            Some((recent.len(), latest, k))
        })
        .max_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then_with(|| b.2.cmp(a.2)))
        .map(|(_, _, k)| *k)
}

/// Groups the session's signals and turns candidate groups into findings.
///
/// A task failure joins a group of its task (see [`failure_group`]) as evidence of what
/// the barrier cost, but it never dominates: the finding keeps the title, family and merge
/// key of the barrier itself, so that sessions that failed and sessions that did not merge.
///
/// The groups are ranked first and each finding is written once, in its final place: a
/// sort of the findings themselves moved every one of them, through a scratch copy.
pub(crate) fn session_findings(p: &Prepared<'_>, signals: &[Signal]) -> Vec<Finding> {
    let groups = group_signals(p, signals);
    let failed_tasks: BTreeSet<&str> = p
        .attempts
        .iter()
        .filter(|a| matches!(a.outcome, Outcome::Fail | Outcome::Abandon))
        .map(|a| a.task_id.as_str())
        .collect();
    let session_id = p.input.session.session_id.as_str();
    let mut ranked: Vec<Ranked> = groups
        .iter()
        .enumerate()
        .filter_map(|(gi, (key, members))| rank(gi, *key, members, &failed_tasks, session_id))
        .collect();
    // The id's hashes order as the id does (see `stable_hash`); equal ids (a collision)
    // keep their groups in key order.
    ranked.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then_with(|| b.weight.total_cmp(&a.weight))
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| groups[a.group].0.cmp(&groups[b.group].0))
    });
    let mut nd: Vec<String> = p.input.session.nd_categories.clone();
    nd.sort();
    nd.dedup();
    let labels = visible_labels(p);
    let mut out = Vec::with_capacity(ranked.len());
    for r in ranked {
        let (key, members) = &groups[r.group];
        out.push(finding_of(p, *key, members, r, &nd, &labels));
    }
    out
}

/// A candidate group that makes a finding, with what ranks it, before any text is written.
struct Ranked {
    /// Index of the group.
    group: usize,
    severity: Severity,
    /// Σ weight × intensity of the group's signals.
    weight: f64,
    /// The hashes of the finding's id.
    id: (u64, u64),
    dominant: SignalKind,
    /// Σ weight × intensity by kind.
    sums: BTreeMap<SignalKind, f64>,
    /// The peak intensity of the barrier's own signals.
    peak: f64,
    /// Whether a signal of weight ≥ 0.5 is in the group.
    strong: bool,
}

/// The rank of a group, or `None` when it is no finding: only weak signals of one family,
/// or nothing but a task failure.
fn rank(
    group: usize,
    (task, path, selector): Key<'_>,
    members: &[&Signal],
    failed_tasks: &BTreeSet<&str>,
    session_id: &str,
) -> Option<Ranked> {
    let families: BTreeSet<Family> =
        members.iter().map(|s| s.family).filter(|f| *f != Family::Task).collect();
    let strong = members.iter().any(|s| s.weight >= 0.5);
    if !strong && families.len() < 2 {
        return None;
    }
    let mut sums: BTreeMap<SignalKind, f64> = BTreeMap::new();
    for s in members {
        *sums.entry(s.kind).or_default() += s.weighted();
    }
    let (&dominant, _) = sums.iter().filter(|(k, _)| **k != SignalKind::TaskFailure).max_by(by_rank)?;
    // The peak of the barrier's own signals; a failure's intensity is its outcome.
    let peak =
        members.iter().filter(|s| s.kind != SignalKind::TaskFailure).map(|s| s.intensity).fold(0.0, f64::max);
    let has_rage = members.iter().any(|s| s.kind == SignalKind::RageClick);
    let has_error = members.iter().any(|s| s.family == Family::Errors);
    let task_failed = task.is_some_and(|t| failed_tasks.contains(t));
    // Session severity (analysis.md §3).
    let severity = if task_failed || (has_rage && has_error) {
        Severity::Major
    } else if peak >= 0.5 {
        Severity::Moderate
    } else {
        Severity::Minor
    };
    Some(Ranked {
        group,
        severity,
        weight: sums.values().sum(),
        id: stable_hash(&[session_id, task.unwrap_or(""), path.unwrap_or(""), selector.unwrap_or("")]),
        dominant,
        sums,
        peak,
        strong,
    })
}

/// The finding of a ranked group: its title, WCAG suggestion, evidence and descriptions.
fn finding_of(
    p: &Prepared<'_>,
    (task, path, selector): Key<'_>,
    members: &[&Signal],
    r: Ranked,
    nd: &[String],
    labels: &BTreeMap<&str, &str>,
) -> Finding {
    let meta = &p.input.session;
    let reading = members.iter().any(|s| s.kind == SignalKind::NegativeSpeech && s.mentions_reading);
    let title_kind = title_kind_of(r.dominant, reading, &r.sums, members);
    let sel = selector.unwrap_or("(unknown control)");
    let path_s = path.unwrap_or("(unknown page)");
    let (title, wcag) = title_and_wcag(title_kind, reading, sel, path_s);
    let evidence = evidence_of(p, members, p.th.join_window_ms as i64);
    let technical =
        technical_description(r.dominant, (task, path_s, selector), &r.sums, members, r.peak, &wcag);
    Finding {
        finding_id: id_of("fnd_", r.id),
        title,
        severity: r.severity,
        wcag,
        evidence,
        recommendation: recommendation(title_kind, reading).to_string(),
        technical_description: technical,
        plain_description: plain(title_kind, reading, visible_label(labels, selector).as_deref(), path_s),
        testers_affected: 1,
        nd_categories: nd.to_vec(),
        task_id: task.map(str::to_owned),
        dominant_signal: r.dominant,
        family: r.dominant.family(),
        url_path: path.map(str::to_owned),
        selector: selector.map(str::to_owned),
        peak_intensity: round_to(r.peak, 4),
        strong_signal: r.strong,
        session_ids: vec![meta.session_id.clone()],
        prevalence: None,
    }
}

/// "rage_click on task t, page /p, target #b: 3 × rage_click, 1 × error; peak intensity
/// 0.80. Suggested WCAG 2.1 4.1.2 Name, Role, Value.", written into one string (it is built
/// for every finding; `format!` pieces and a joined list cost more than the text).
fn technical_description(
    dominant: SignalKind,
    (task, path, selector): (Option<&str>, &str, Option<&str>),
    sums: &BTreeMap<SignalKind, f64>,
    members: &[&Signal],
    peak: f64,
    wcag: &Option<Wcag>,
) -> String {
    let mut s = String::with_capacity(160);
    for part in [dominant.as_str(), " on task ", task.unwrap_or("(none)"), ", page ", path, ", target "] {
        s.push_str(part);
    }
    s.push_str(selector.unwrap_or("(none)"));
    s.push_str(": ");
    for (i, k) in sums.keys().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        push_uint(&mut s, members.iter().filter(|m| m.kind == *k).count() as u64);
        s.push_str(" × ");
        s.push_str(k.as_str());
    }
    s.push_str("; peak intensity ");
    push_fixed(&mut s, peak, 2);
    s.push('.');
    if let Some(w) = wcag {
        for part in [" Suggested WCAG 2.1 ", &w.criterion, " ", &w.name, "."] {
            s.push_str(part);
        }
    }
    s
}

/// The session's signals in candidate groups: behavioural signals by their key, affective ones
/// joined to the nearest behavioural signal (within the join window), task failures to a
/// group of their task (see [`failure_group`]). In no particular order: the findings are
/// ranked with the key as the last tie-break.
///
/// Grouped by hash: a tree keyed by three strings compared them at every level for each
/// signal.
fn group_signals<'s>(p: &Prepared<'_>, signals: &'s [Signal]) -> Vec<(Key<'s>, Vec<&'s Signal>)> {
    let behav: Vec<&Signal> = signals.iter().filter(|s| s.kind.is_behavioural()).collect();
    let window = p.th.join_window_ms as i64;
    let mut groups: HashMap<Key, Vec<&Signal>, foldhash::fast::RandomState> = HashMap::default();
    let mut failures: Vec<&Signal> = Vec::new();
    for s in signals {
        if s.kind == SignalKind::TaskFailure {
            failures.push(s);
            continue;
        }
        let key = if s.kind.is_affective() {
            match nearest(&behav, s.timestamp.0, window) {
                Some(j) => key_of(behav[j]),
                None => (s.task_id.as_deref(), s.url_path.as_deref(), None),
            }
        } else {
            key_of(s)
        };
        groups.entry(key).or_default().push(s);
    }
    let failure_window = p.th.task_failure_window_ms as i64;
    for f in failures {
        if let Some(key) = failure_group(&groups, f, failure_window) {
            groups.entry(key).or_default().push(f);
        }
    }
    groups.into_iter().collect()
}

/// Orders signal kinds by their summed weight, then default weight, then kind (reversed).
fn by_rank(a: &(&SignalKind, &f64), b: &(&SignalKind, &f64)) -> std::cmp::Ordering {
    let rank = |(k, v): (&SignalKind, &f64)| (*v, k.default_weight(), std::cmp::Reverse(*k));
    let (x, y) = (rank(*a), rank(*b));
    x.0.total_cmp(&y.0).then(x.1.total_cmp(&y.1)).then(x.2.cmp(&y.2))
}

/// The kind that names a finding. Titles come from the table; emotion, general speech and
/// attention are not in it, so the strongest table signal of the group names the finding when
/// there is one.
fn title_kind_of(
    dominant: SignalKind,
    reading: bool,
    sums: &BTreeMap<SignalKind, f64>,
    members: &[&Signal],
) -> SignalKind {
    let title_kind = match dominant {
        SignalKind::NegativeEmotion | SignalKind::AttentionDrop | SignalKind::NegativeSpeech
            if !(dominant == SignalKind::NegativeSpeech && reading) =>
        {
            sums.iter()
                .filter(|(k, _)| {
                    !matches!(
                        k,
                        SignalKind::NegativeEmotion
                            | SignalKind::NegativeSpeech
                            | SignalKind::AttentionDrop
                            | SignalKind::TaskFailure
                    )
                })
                .max_by(by_rank)
                .map(|(k, _)| *k)
                .unwrap_or(if reading { SignalKind::NegativeSpeech } else { dominant })
        }
        k => k,
    };
    // analysis.md §3: a navigation finding suggests 2.4.5 Multiple Ways "when a
    // navigation_loop" is in it. The loop summarises the quick backs and revisits it
    // counts, so by weight it (almost) never outranks them: three quick backs weigh 0.9,
    // the loop at most 0.6. Its presence, not its weight, says the tester was lost rather
    // than misled by one link; `dominant_signal` keeps the heaviest signal.
    if title_kind.family() == Family::Navigation
        && members.iter().any(|s| s.kind == SignalKind::NavigationLoop)
    {
        SignalKind::NavigationLoop
    } else {
        title_kind
    }
}

/// A finding's evidence: its signals, and the transcript excerpts around them, in time order.
fn evidence_of(p: &Prepared<'_>, members: &[&Signal], window: i64) -> Vec<Evidence> {
    let mut evidence: Vec<Evidence> = members
        .iter()
        .map(|s| Evidence {
            kind: s.kind.as_str().to_string(),
            timestamp: s.timestamp,
            detail: s.detail.clone(),
        })
        .collect();
    let from = members.iter().map(|s| s.timestamp.0).min().unwrap_or(0).saturating_sub(window);
    let to = members.iter().map(|s| s.end_timestamp.0).max().unwrap_or(0).saturating_add(window);
    evidence.extend(transcripts(p, from, to));
    evidence.sort_by(|a, b| {
        a.timestamp.cmp(&b.timestamp).then_with(|| a.kind.cmp(&b.kind)).then_with(|| a.detail.cmp(&b.detail))
    });
    evidence
}

/// At most this many transcript excerpts per finding.
const MAX_EXCERPTS: usize = 20;

/// Voice and note excerpts overlapping `[from, to]`, verbatim (cut at 500 characters).
fn transcripts(p: &Prepared<'_>, from: i64, to: i64) -> Vec<Evidence> {
    let mut out = Vec::new();
    // Segments start at most the longest segment before their end.
    let lo = p.voice.partition_point(|v| v.timestamp.0 < from.saturating_sub(p.max_voice_ms));
    for v in p.voice[lo..].iter().take_while(|v| v.timestamp.0 <= to) {
        let dur = voice_ms(v.duration_ms);
        if v.timestamp.0.saturating_add(dur) >= from && !v.transcript.trim().is_empty() {
            out.push(Evidence {
                kind: "transcript".into(),
                timestamp: v.timestamp,
                detail: excerpt(&v.transcript, 500).into_owned(),
            });
            if out.len() >= MAX_EXCERPTS {
                return out;
            }
        }
    }
    let lo = p.notes.partition_point(|n| n.timestamp.0 < from);
    for n in p.notes[lo..].iter().take_while(|n| n.timestamp.0 <= to) {
        if out.len() >= MAX_EXCERPTS {
            break;
        }
        if !n.text.trim().is_empty() {
            out.push(Evidence {
                kind: "note".into(),
                timestamp: n.timestamp,
                detail: excerpt(&n.text, 500).into_owned(),
            });
        }
    }
    out
}
