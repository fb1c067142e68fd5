//! Study synthesis of analysis.md §4 (Agent 4): merged findings, severity matrix, score,
//! task metrics, SUS, NPS, ND stratification and A/B comparison.

use crate::SessionAnalysis;
use crate::findings::{Evidence, Finding, Severity};
use crate::input::{EventItem, EventType, Outcome, SessionInput, TaskAttempt, TaskMeta};
use crate::signals::Family;
use crate::stats;
use crate::util::{id_of, push_fixed, push_uint, round_to, sort_large_by, stable_hash, url_path};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// A session the tester has confirmed, with its analysis and the findings kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmedSession {
    /// The session's streams (tasks, attempts, survey, navigation for lostness).
    pub input: SessionInput,
    /// Its Agent 2 analysis.
    pub analysis: SessionAnalysis,
    /// Ids of the findings the tester confirmed; rejected ones are absent.
    pub confirmed_finding_ids: BTreeSet<String>,
}

impl ConfirmedSession {
    /// A session whose findings are all taken as confirmed (offline analysis).
    pub fn all_confirmed(input: SessionInput, analysis: SessionAnalysis) -> Self {
        let confirmed_finding_ids = analysis.findings.iter().map(|f| f.finding_id.clone()).collect();
        Self { input, analysis, confirmed_finding_ids }
    }
}

/// What synthesis needs to know about the study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct StudyMeta {
    /// `job_…` id.
    pub job_id: String,
    /// Study title.
    pub title: String,
    /// Its tasks.
    pub tasks: Vec<TaskMeta>,
    /// Targeted ND categories (reported even when nobody of a category took part).
    pub nd_categories: Vec<String>,
    /// A/B variant labels; empty when there is no A/B test (then the sessions' own
    /// variants are used if at least two are present).
    pub variants: Vec<String>,
}

/// Colour band of the score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// 0–49
    Red,
    /// 50–75
    Amber,
    /// 76–100
    Green,
}

/// Metrics of one task across the study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskReport {
    /// The task.
    pub task_id: String,
    /// Its title.
    pub title: String,
    /// Attempts counted.
    pub attempts: u32,
    /// `success` or `indirect` attempts.
    pub successes: u32,
    /// Beta(1 + s, 1 + f) posterior mean.
    pub success_rate: f64,
    /// 95 % equal-tailed credible interval.
    pub ci95: [f64; 2],
    /// Geometric mean of successful attempts' durations.
    pub time_on_task_geo_mean_seconds: Option<f64>,
    /// Mean Single Ease Question answer.
    pub seq_mean: Option<f64>,
    /// Mean lostness of the attempts with page visits.
    pub lostness: Option<f64>,
    /// Attempts by outcome: `successes` counts `success` and `indirect` together (analysis.md
    /// §4); this keeps the detours apart so a chart never shows them as plain success.
    #[serde(default)]
    pub outcomes: OutcomeCounts,
    /// Durations in seconds of the successful (`success` or `indirect`) attempts, ascending:
    /// the distribution behind the geometric mean.
    #[serde(default)]
    pub times_on_task_seconds: Vec<f64>,
}

/// Task attempts by how they ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct OutcomeCounts {
    /// Done the intended way.
    pub success: u32,
    /// Done by a detour (counted as a success in `successes`).
    pub indirect: u32,
    /// Not done.
    pub fail: u32,
    /// Given up.
    pub abandon: u32,
}

impl OutcomeCounts {
    fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Success => self.success += 1,
            Outcome::Indirect => self.indirect += 1,
            Outcome::Fail => self.fail += 1,
            Outcome::Abandon => self.abandon += 1,
        }
    }
}

/// SUS over the study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SusSummary {
    /// Mean SUS score 0–100.
    pub score: Option<f64>,
    /// Valid questionnaires.
    pub responses: usize,
    /// Questionnaires per score band of 10 points (`[0, 10)`, …, `[90, 100]`): ten counts, so
    /// the distribution is drawn without listing any one tester's score.
    #[serde(default)]
    pub distribution: Vec<usize>,
}

/// NPS over the study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NpsSummary {
    /// −100..100.
    pub score: Option<f64>,
    /// Valid answers.
    pub responses: usize,
    /// 9–10.
    pub promoters: usize,
    /// 7–8.
    pub passives: usize,
    /// 0–6.
    pub detractors: usize,
    /// Answers per value 0..=10 (eleven counts).
    #[serde(default)]
    pub distribution: Vec<usize>,
}

/// Results of one ND category with at least 2 testers, or the single suppressed entry
/// that stands for every category with fewer.
///
/// A category with fewer than 2 testers in the study is never named (analysis.md §4):
/// its name next to a count of one ties a health category to one person. The suppressed
/// entry therefore carries neither a name nor a count, and there is only one of it
/// however many categories it stands for: one entry each would still tell how many small
/// categories there are, and so whether someone of a category the study did not target
/// took part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NdStratum {
    /// The category; absent in the suppressed entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nd_category: Option<String>,
    /// Testers of that category with a confirmed session; absent in the suppressed entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub testers: Option<usize>,
    /// True for the entry standing for the categories with fewer than 2 testers: nothing
    /// else is reported for them.
    pub suppressed: bool,
    /// Observed task success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_success: Option<f64>,
    /// 95 % equal-tailed credible interval of the category's pooled task success
    /// (Beta(1 + s, 1 + f)): two testers' "25 %" is read with its width.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_success_ci95: Option<[f64; 2]>,
    /// Mean overall frustration score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_frustration: Option<f64>,
    /// Study findings affecting testers of the category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings: Option<usize>,
}

/// One A/B arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AbVariant {
    /// `A`..`D`.
    pub label: String,
    /// Testers in the arm.
    pub testers: usize,
    /// Pooled task attempts.
    pub attempts: u32,
    /// Pooled successes.
    pub successes: u32,
    /// Beta posterior mean of pooled success.
    pub success_rate: f64,
    /// 95 % credible interval.
    pub ci95: [f64; 2],
}

/// The overall leader trails within an ND category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimpsonWarning {
    /// The category.
    pub nd_category: String,
    /// Leader over all testers.
    pub overall_leader: String,
    /// Leader within the category.
    pub category_leader: String,
    /// Plain explanation.
    pub message: String,
}

/// A/B comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AbTest {
    /// Arms.
    pub variants: Vec<AbVariant>,
    /// P(arm is best) by label.
    pub probability_best: BTreeMap<String, f64>,
    /// Simpson's-paradox warnings.
    pub simpson_warnings: Vec<SimpsonWarning>,
}

/// Study report (api.md §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StudyReport {
    /// The study.
    pub job_id: String,
    /// 0–100.
    pub score: u32,
    /// Colour band.
    pub band: Band,
    /// Confirmed findings merged across sessions, most severe first.
    pub findings: Vec<Finding>,
    /// Per-task metrics.
    pub tasks: Vec<TaskReport>,
    /// SUS.
    pub sus: SusSummary,
    /// NPS.
    pub nps: NpsSummary,
    /// Per ND category.
    pub nd_stratification: Vec<NdStratum>,
    /// A/B comparison when the study has variants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ab_test: Option<AbTest>,
    /// Plain summary.
    pub summary: String,
    /// Confirmed sessions used.
    pub sessions: usize,
    /// Distinct testers.
    pub testers: usize,
}

fn tester_key(s: &ConfirmedSession) -> &str {
    if s.input.session.tester_label.is_empty() {
        &s.input.session.session_id
    } else {
        &s.input.session.tester_label
    }
}

fn duration_s(a: &TaskAttempt) -> f64 {
    (a.ended_at.0.saturating_sub(a.started_at.0)) as f64 / 1000.0
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) })
}

/// Penalty per severity in the score formula (analysis.md §4).
fn penalty(s: Severity) -> f64 {
    match s {
        Severity::Critical => 25.0,
        Severity::Major => 12.0,
        Severity::Moderate => 5.0,
        Severity::Minor => 2.0,
    }
}

/// Session findings merge by task, page, control and family (borrowed from the findings).
type MergeKey<'f> = (Option<&'f str>, Option<&'f str>, Option<&'f str>, Family);

/// A page path of the study, as its index among the distinct paths (see [`Pages`]).
type PageId = u32;

/// The study's page paths: equal paths get equal ids. The keys are copies, so a lookup
/// compares with a short string in cache rather than with some event's URL elsewhere in
/// the input.
#[derive(Default)]
struct Pages {
    ids: HashMap<Box<str>, PageId, foldhash::fast::RandomState>,
}

impl Pages {
    /// The id of the page of `url`.
    fn of(&mut self, url: &str) -> PageId {
        let path = url_path(url);
        if let Some(&id) = self.ids.get(path) {
            return id;
        }
        let id = PageId::try_from(self.ids.len()).unwrap_or(PageId::MAX);
        self.ids.insert(path.into(), id);
        id
    }
}

/// The URL of an event, when it has one.
fn url_of(e: &EventItem) -> Option<&str> {
    e.url.as_deref().filter(|u| !u.is_empty())
}

/// What lostness reads of a session's events.
///
/// The page trail of a session is its events with a URL in the order (time, navigations
/// after other events, path). The visits of an attempt are the page of the last entry
/// before it and the navigations within it; without an entry before it, the first entry
/// within it and the navigations after that one. Only the navigations are read for
/// every event; the one or two other entries an attempt needs are looked up by time, so
/// the URLs of most events are never read (a study reads every session's events, and
/// this is most of its memory traffic).
struct Trail<'a> {
    events: &'a [EventItem],
    /// Event indices in time order, when the events are not in time order themselves.
    order: Option<Vec<usize>>,
    /// Navigations with a URL as (time, page), in time order (the order of equal times
    /// does not matter: a window takes all of them or none).
    navs: Vec<(i64, PageId)>,
    /// Attempt starts with their positions (see [`Trail::position_of`]); the positions
    /// are right only when `order` is `None`.
    starts: Vec<(i64, usize)>,
    /// Position in time order of the first event with a URL.
    first_url: Option<usize>,
}

impl<'a> Trail<'a> {
    /// The trail of `events`, whose attempts are `attempts` (their starts are placed while
    /// the events are read anyway, rather than by a binary search over the events later).
    fn new(events: &'a [EventItem], attempts: &[TaskAttempt], pages: &mut Pages) -> Self {
        let mut starts: Vec<(i64, usize)> = attempts.iter().map(|a| (a.started_at.0, events.len())).collect();
        starts.sort_unstable();
        starts.dedup();
        let mut next_start = 0;
        // Time and type share a cache line of the event, the URL is on another: the loops
        // below read each kind of line in a loop of its own, whose loads do not wait for
        // one another (a study reads every event of every session, mostly from memory).
        let mut nav_at: Vec<usize> = Vec::new();
        let mut sorted = true;
        let mut last = i64::MIN;
        for (i, e) in events.iter().enumerate() {
            sorted &= e.timestamp.0 >= last;
            last = e.timestamp.0;
            while let Some(s) = starts.get_mut(next_start)
                && s.0 <= last
            {
                s.1 = i;
                next_start += 1;
            }
            if e.event_type == EventType::Navigation {
                nav_at.push(i);
            }
        }
        let urls: Vec<(i64, &str)> =
            nav_at.iter().filter_map(|&i| Some((events[i].timestamp.0, url_of(&events[i])?))).collect();
        // Each URL is a separate allocation, rarely in cache. A loop that only reads a byte
        // of each has its loads under way together; the path scan and lookup below would
        // otherwise wait for them one at a time.
        let touched = urls.iter().fold(0u8, |acc, (_, u)| acc ^ u.as_bytes()[0] ^ u.as_bytes()[u.len() - 1]);
        std::hint::black_box(touched);
        let mut navs: Vec<(i64, PageId)> = urls.iter().map(|&(t, u)| (t, pages.of(u))).collect();
        let order = (!sorted).then(|| {
            navs.sort_unstable_by_key(|n| n.0);
            let mut o: Vec<usize> = (0..events.len()).collect();
            o.sort_unstable_by_key(|&i| events[i].timestamp.0);
            o
        });
        let mut t = Self { events, order, navs, starts, first_url: None };
        t.first_url = (0..events.len()).find(|&k| url_of(t.at(k)).is_some());
        t
    }

    /// The event at position `k` in time order.
    fn at(&self, k: usize) -> &'a EventItem {
        let events: &'a [EventItem] = self.events;
        match &self.order {
            Some(o) => &events[o[k]],
            None => &events[k],
        }
    }

    /// The first position in time order at or after `t`.
    fn position_of(&self, t: i64) -> usize {
        match &self.order {
            Some(o) => o.partition_point(|&i| self.events[i].timestamp.0 < t),
            None => match self.starts.binary_search_by_key(&t, |s| s.0) {
                Ok(j) => self.starts[j].1,
                Err(_) => self.events.partition_point(|e| e.timestamp.0 < t),
            },
        }
    }

    /// The URL of the trail entry that orders first (`last == false`) or last among the
    /// events with a URL at the time of position `k`, scanning from `k` away from it.
    fn pick(&self, k: usize, last: bool) -> (bool, &'a str) {
        let t = self.at(k).timestamp.0;
        let key = |e: &'a EventItem| url_of(e).map(|u| (e.event_type == EventType::Navigation, u));
        let better = |a: (bool, &str), b: (bool, &str)| {
            let o = a.0.cmp(&b.0).then_with(|| url_path(a.1).cmp(url_path(b.1)));
            if last { o.is_gt() } else { o.is_lt() }
        };
        let mut best = key(self.at(k)).unwrap_or((false, ""));
        let n = self.events.len();
        let mut j = k;
        loop {
            j = if last {
                match j.checked_sub(1) {
                    Some(j) => j,
                    None => break,
                }
            } else {
                j + 1
            };
            if j >= n || self.at(j).timestamp.0 != t {
                break;
            }
            if let Some(c) = key(self.at(j))
                && better(c, best)
            {
                best = c;
            }
        }
        best
    }

    /// Page visits of an attempt from `from` to `to` (see [`Trail`]), in no particular
    /// order: lostness reads only how many there are and how many distinct.
    fn visits(&self, from: i64, to: i64, pages: &mut Pages) -> Vec<PageId> {
        let lo = self.navs.partition_point(|n| n.0 < from);
        let hi = lo + self.navs[lo..].partition_point(|n| n.0 <= to);
        let mut out = Vec::with_capacity(hi - lo + 1);
        if let Some(first) = self.first_url {
            let k = self.position_of(from);
            if first < k {
                // The last event with a URL before the attempt (there is one: `first`).
                let mut j = k - 1;
                while url_of(self.at(j)).is_none() {
                    j -= 1;
                }
                out.push(pages.of(self.pick(j, true).1));
            } else if self.at(first).timestamp.0 <= to {
                // No page before: the first entry is a visit, and a navigation is one anyway.
                let (nav, url) = self.pick(first, false);
                if !nav {
                    out.push(pages.of(url));
                }
            }
        }
        out.extend(self.navs[lo..hi].iter().map(|n| n.1));
        out
    }
}

/// The sessions of a study in canonical order, with who took part: every step of the
/// synthesis reads the sessions through this, so each sees them in the same order.
struct Cohort<'a> {
    /// Sorted by session id, then tester.
    sessions: Vec<&'a ConfirmedSession>,
    /// Distinct testers.
    n_testers: usize,
    /// Each session's tester label (see [`label_of`]), by index in `sessions`: evidence
    /// lines name it once per line.
    labels: Vec<String>,
}

/// Smallest ND group reported or named (analysis.md §4).
const MIN_STRATUM_TESTERS: usize = 2;

/// A task attempt with the index of its session in [`Cohort::sessions`].
type IndexedAttempt<'a> = (usize, &'a TaskAttempt);

/// The session's own label when it has the form `Tester N`, else its number in
/// `labels_by_key` (`Tester N` by tester key, numbered in sorted key order).
fn label_of(s: &ConfirmedSession, labels_by_key: &BTreeMap<&str, String>) -> String {
    let own = crate::tester_label(&s.input.session);
    if own == s.input.session.tester_label {
        own
    } else {
        labels_by_key.get(tester_key(s)).cloned().unwrap_or(own)
    }
}

impl<'a> Cohort<'a> {
    fn new(sessions: &'a [ConfirmedSession]) -> Self {
        let mut sessions: Vec<&ConfirmedSession> = sessions.iter().collect();
        sessions.sort_by(|a, b| {
            a.input
                .session
                .session_id
                .cmp(&b.input.session.session_id)
                .then_with(|| tester_key(a).cmp(tester_key(b)))
        });
        let testers: BTreeSet<&str> = sessions.iter().map(|s| tester_key(s)).collect();
        let labels_by_key: BTreeMap<&str, String> =
            testers.iter().enumerate().map(|(i, k)| (*k, format!("Tester {}", i + 1))).collect();
        let labels = sessions.iter().map(|s| label_of(s, &labels_by_key)).collect();
        Self { sessions, n_testers: testers.len(), labels }
    }

    /// Distinct testers among the sessions at `idx`.
    fn testers_of(&self, idx: &[usize]) -> usize {
        idx.iter().map(|&si| tester_key(self.sessions[si])).collect::<BTreeSet<_>>().len()
    }

    /// Pooled (successes, attempts) of every task attempt of the sessions at `idx`.
    fn success_of(&self, idx: &[usize]) -> (u32, u32) {
        let (mut ok, mut n) = (0u32, 0u32);
        for &si in idx {
            for a in &self.sessions[si].input.task_attempts {
                n += 1;
                ok += u32::from(a.outcome.is_success());
            }
        }
        (ok, n)
    }

    /// Attempts per task, each list in canonical order.
    fn attempts_by_task(&self) -> BTreeMap<&'a str, Vec<IndexedAttempt<'a>>> {
        let mut attempts: BTreeMap<&str, Vec<IndexedAttempt<'a>>> = BTreeMap::new();
        for (si, s) in self.sessions.iter().enumerate() {
            let mut list: Vec<&TaskAttempt> = s.input.task_attempts.iter().collect();
            list.sort_by(|a, b| {
                a.started_at
                    .cmp(&b.started_at)
                    .then_with(|| a.task_id.cmp(&b.task_id))
                    .then_with(|| a.ended_at.cmp(&b.ended_at))
                    .then_with(|| a.outcome.cmp(&b.outcome))
            });
            for a in list {
                attempts.entry(a.task_id.as_str()).or_default().push((si, a));
            }
        }
        attempts
    }

    /// Every ND category of the study's targets and of the testers, sorted.
    fn categories(&self, study: &StudyMeta) -> BTreeSet<String> {
        let mut categories: BTreeSet<String> = study.nd_categories.iter().cloned().collect();
        for s in &self.sessions {
            categories.extend(s.input.session.nd_categories.iter().cloned());
        }
        categories
    }

    /// Sessions of testers in the category.
    fn sessions_in(&self, category: &str) -> Vec<usize> {
        (0..self.sessions.len())
            .filter(|&si| self.sessions[si].input.session.nd_categories.iter().any(|c| c == category))
            .collect()
    }

    /// The categories that may be named in the report: those with at least
    /// [`MIN_STRATUM_TESTERS`] testers (analysis.md §4).
    fn nameable(&self, categories: &BTreeSet<String>) -> BTreeSet<String> {
        categories
            .iter()
            .filter(|c| self.testers_of(&self.sessions_in(c)) >= MIN_STRATUM_TESTERS)
            .cloned()
            .collect()
    }
}

/// Synthesises confirmed sessions into a study report (Agent 4, analysis.md §4). Each
/// step below is one part of §4, in the order the report needs them.
pub fn synthesize_study(sessions: &[ConfirmedSession], study: &StudyMeta) -> StudyReport {
    let cohort = Cohort::new(sessions);
    let attempts = cohort.attempts_by_task();
    let categories = cohort.categories(study);
    let nameable = cohort.nameable(&categories);
    let findings = merged_findings(&cohort, study, &attempts, &nameable);
    let tasks = task_reports(&cohort, study, &attempts);
    let score = study_score(&findings, &tasks);
    let band = band_of(score);
    let (sus, nps) = surveys(&cohort);
    let nd_stratification = nd_strata(&cohort, &categories, &nameable, &findings);
    let ab_test = ab_comparison(&cohort, study, &categories);
    let summary = study_summary(score, band, &findings, &tasks, cohort.sessions.len(), cohort.n_testers);
    StudyReport {
        job_id: study.job_id.clone(),
        score,
        band,
        findings,
        tasks,
        sus,
        nps,
        nd_stratification,
        ab_test,
        summary,
        sessions: cohort.sessions.len(),
        testers: cohort.n_testers,
    }
}

/// Findings (analysis.md §4): confirmed findings of different sessions merge when task,
/// URL path, selector and dominant family match; prevalence and the priority matrix then
/// give each merged finding its severity. Most severe first. Only `nameable` ND
/// categories are listed in a finding.
fn merged_findings(
    cohort: &Cohort<'_>,
    study: &StudyMeta,
    attempts: &BTreeMap<&str, Vec<IndexedAttempt<'_>>>,
    nameable: &BTreeSet<String>,
) -> Vec<Finding> {
    let sessions = &cohort.sessions;
    let task_median: BTreeMap<&str, f64> = attempts
        .iter()
        .filter_map(|(t, v)| median(v.iter().map(|(_, a)| duration_s(a)).collect()).map(|m| (*t, m)))
        .collect();
    // Grouped by hash, in no particular order (the findings are sorted with the key as the
    // last tie-break): a tree keyed by three strings compared them at every level for each
    // of the study's findings. Each key gets a group number, and the members are then laid
    // out group after group in one list rather than in a list of their own per group.
    let mut group_of: HashMap<MergeKey<'_>, usize, foldhash::fast::RandomState> = HashMap::default();
    let mut keys: Vec<MergeKey<'_>> = Vec::new();
    let mut tagged: Vec<(usize, usize, &Finding)> = Vec::new();
    // Each session's confirmed ids are hashed once into a set reused for every session: a
    // lookup in the tree compares the id with a dozen others, a byte at a time.
    let mut confirmed: HashSet<&str, foldhash::fast::RandomState> = HashSet::default();
    for (si, s) in sessions.iter().enumerate() {
        confirmed.clear();
        confirmed.extend(s.confirmed_finding_ids.iter().map(String::as_str));
        for f in s.analysis.findings.iter().filter(|f| confirmed.contains(f.finding_id.as_str())) {
            let g = *group_of.entry(merge_key(f)).or_insert_with(|| {
                keys.push(merge_key(f));
                keys.len() - 1
            });
            tagged.push((g, si, f));
        }
    }
    // A stable sort: the session order is kept within each group.
    tagged.sort_by_key(|t| t.0);
    let members: Vec<(usize, &Finding)> = tagged.iter().map(|&(_, si, f)| (si, f)).collect();
    let mut scratch = Scratch::default();
    let mut findings: Vec<(Finding, (u64, u64))> = Vec::with_capacity(keys.len());
    let mut lo = 0;
    for run in tagged.chunk_by(|a, b| a.0 == b.0) {
        let group = &members[lo..lo + run.len()];
        lo += run.len();
        let key = keys[run[0].0];
        findings.extend(merge_group(
            cohort,
            study,
            (&task_median, attempts),
            nameable,
            key,
            group,
            &mut scratch,
        ));
    }
    // The id's hashes order as the id does (see `stable_hash`).
    // Equal ids (a collision) keep their groups in key order.
    sort_large_by(&mut findings, |(a, a_id), (b, b_id)| {
        a.severity
            .cmp(&b.severity)
            .then_with(|| b.prevalence.unwrap_or(0.0).total_cmp(&a.prevalence.unwrap_or(0.0)))
            .then_with(|| a_id.cmp(b_id))
            .then_with(|| merge_key(a).cmp(&merge_key(b)))
    });
    findings.into_iter().map(|(f, _)| f).collect()
}

/// How a session's attempts at a task (any task for `None`) went.
struct TaskOutcome {
    /// An attempt failed or was abandoned.
    failed: bool,
    /// An attempt was abandoned.
    abandoned: bool,
    /// Time on the task over all its attempts.
    seconds: f64,
}

impl TaskOutcome {
    fn of(attempts: &[TaskAttempt], task: Option<&str>) -> Self {
        let mut o = Self { failed: false, abandoned: false, seconds: 0.0 };
        for a in attempts.iter().filter(|a| task.is_none_or(|t| a.task_id == t)) {
            o.failed |= matches!(a.outcome, Outcome::Fail | Outcome::Abandon);
            o.abandoned |= a.outcome == Outcome::Abandon;
            o.seconds += duration_s(a);
        }
        o
    }
}

/// Lists [`merge_group`] fills for each group, kept from one group to the next so that
/// a study of thousands of groups does not allocate them anew each time.
#[derive(Default)]
struct Scratch<'a> {
    affected: Vec<&'a str>,
    member_sessions: Vec<usize>,
    outcomes: Vec<(usize, TaskOutcome)>,
    /// ND categories, then session ids.
    names: Vec<&'a String>,
}

/// The key a finding merges by.
fn merge_key(f: &Finding) -> MergeKey<'_> {
    (f.task_id.as_deref(), f.url_path.as_deref(), f.selector.as_deref(), f.family)
}

/// One merged finding from the session findings sharing `key`, with the hashes of its id.
///
/// The third argument holds each task's median time and its attempts by session (see
/// [`Cohort::attempts_by_task`]).
fn merge_group<'a>(
    cohort: &Cohort<'a>,
    study: &StudyMeta,
    (task_median, attempts): (&BTreeMap<&str, f64>, &BTreeMap<&str, Vec<IndexedAttempt<'_>>>),
    nameable: &BTreeSet<String>,
    (task, path, selector, family): MergeKey<'_>,
    members: &[(usize, &'a Finding)],
    scratch: &mut Scratch<'a>,
) -> Option<(Finding, (u64, u64))> {
    let sessions = &cohort.sessions;
    // Only counted: a sorted list, not a tree.
    let affected = &mut scratch.affected;
    affected.clear();
    affected.extend(members.iter().map(|(si, _)| tester_key(sessions[*si])));
    affected.sort_unstable();
    affected.dedup();
    // Prevalence = testers affected / testers with a confirmed session (analysis.md §4).
    let prevalence = affected.len() as f64 / cohort.n_testers.max(1) as f64;
    let member_sessions = &mut scratch.member_sessions;
    member_sessions.clear();
    member_sessions.extend(members.iter().map(|(si, _)| *si));
    member_sessions.sort_unstable();
    member_sessions.dedup();
    // Each member session's attempts at the task, read once for all three questions.
    // The task's attempts are listed by session: a member's are found by its index, not by
    // comparing every attempt's task id.
    let of_task = task.map(|t| attempts.get(t).map_or(&[][..], Vec::as_slice));
    let outcomes = &mut scratch.outcomes;
    outcomes.clear();
    outcomes.extend(member_sessions.iter().map(|&si| {
        let own = &sessions[si].input.task_attempts;
        let o = match of_task {
            Some(list) => {
                let lo = list.partition_point(|(s, _)| *s < si);
                let hi = lo + list[lo..].partition_point(|(s, _)| *s == si);
                match &list[lo..hi] {
                    // At most one attempt: no order to keep in the time sum.
                    [] => TaskOutcome::of(&[], None),
                    [(_, a)] => TaskOutcome::of(std::slice::from_ref(*a), None),
                    _ => TaskOutcome::of(own, task),
                }
            }
            None => TaskOutcome::of(own, None),
        };
        (si, o)
    }));
    let failed = outcomes.iter().any(|(_, o)| o.failed);
    let abandon_categories: BTreeSet<&str> = outcomes
        .iter()
        .filter(|(_, o)| o.abandoned)
        .flat_map(|&(si, _)| sessions[si].input.session.nd_categories.iter().map(String::as_str))
        .collect();
    let slow = task
        .and_then(|t| task_median.get(t))
        .is_some_and(|&m| outcomes.iter().any(|(_, o)| m > 0.0 && o.seconds >= 2.0 * m));
    let strong = members.iter().any(|(_, f)| f.strong_signal);
    let severity = priority(prevalence, failed, slow, strong, abandon_categories.len());
    let &(_, rep) = members.iter().min_by(|a, b| {
        a.1.severity
            .cmp(&b.1.severity)
            .then_with(|| b.1.peak_intensity.total_cmp(&a.1.peak_intensity))
            .then_with(|| a.1.finding_id.cmp(&b.1.finding_id))
    })?;
    let mut evidence: Vec<Evidence> = Vec::with_capacity(members.iter().map(|(_, f)| f.evidence.len()).sum());
    for (si, f) in members {
        let label = &cohort.labels[*si];
        evidence.extend(f.evidence.iter().map(|e| Evidence {
            kind: e.kind.clone(),
            timestamp: e.timestamp,
            detail: labelled(label, &e.detail),
        }));
    }
    evidence.sort_by(|a, b| {
        a.timestamp.cmp(&b.timestamp).then_with(|| a.kind.cmp(&b.kind)).then_with(|| a.detail.cmp(&b.detail))
    });
    // The affected testers' categories, as the sessions state them (a session finding's
    // own list may come from an older analysis); never one with fewer than 2 testers.
    // Sorted and deduplicated as a set would be, and only the kept names are copied.
    let nd = &mut scratch.names;
    nd.clear();
    nd.extend(
        member_sessions
            .iter()
            .flat_map(|&si| sessions[si].input.session.nd_categories.iter())
            .filter(|c| nameable.contains(*c)),
    );
    nd.sort_unstable();
    nd.dedup();
    let nd_categories: Vec<String> = nd.iter().map(|c| (*c).clone()).collect();
    let session_ids = &mut scratch.names;
    session_ids.clear();
    session_ids.extend(members.iter().flat_map(|(_, f)| &f.session_ids));
    session_ids.sort();
    session_ids.dedup();
    let id = stable_hash(&[
        "study",
        &study.job_id,
        task.unwrap_or(""),
        path.unwrap_or(""),
        selector.unwrap_or(""),
        family.as_str(),
    ]);
    let finding = Finding {
        finding_id: id_of("fnd_", id),
        title: rep.title.clone(),
        severity,
        wcag: rep.wcag.clone(),
        evidence,
        recommendation: rep.recommendation.clone(),
        technical_description: seen_in(
            &rep.technical_description,
            affected.len(),
            cohort.n_testers,
            prevalence,
        ),
        plain_description: rep.plain_description.clone(),
        testers_affected: u32::try_from(affected.len()).unwrap_or(u32::MAX),
        nd_categories,
        task_id: task.map(str::to_owned),
        dominant_signal: rep.dominant_signal,
        family,
        url_path: path.map(str::to_owned),
        selector: selector.map(str::to_owned),
        peak_intensity: members.iter().map(|(_, f)| f.peak_intensity).fold(0.0, f64::max),
        strong_signal: strong,
        session_ids: session_ids.iter().map(|id| (*id).clone()).collect(),
        prevalence: Some(round_to(prevalence, 4)),
    };
    Some((finding, id))
}

/// The session finding's description with the study's reach appended, sized once (the
/// description is long and `format!` would grow the string on the way).
fn seen_in(description: &str, affected: usize, testers: usize, prevalence: f64) -> String {
    let mut s = String::with_capacity(description.len() + 48);
    s.push_str(description);
    s.push_str(" Seen in ");
    push_uint(&mut s, affected as u64);
    s.push_str(" of ");
    push_uint(&mut s, testers as u64);
    s.push_str(" testers (");
    push_fixed(&mut s, prevalence * 100.0, 0);
    s.push_str(" %).");
    s
}

/// `label: detail`, built directly: `format!` costs more than the copy in a report with
/// tens of thousands of evidence lines.
fn labelled(label: &str, detail: &str) -> String {
    let mut s = String::with_capacity(label.len() + 2 + detail.len());
    s.push_str(label);
    s.push_str(": ");
    s.push_str(detail);
    s
}

/// Priority matrix of analysis.md §4. "Higher prevalence with only weak signals" is read
/// as: at least 15 % but neither failure nor slowness (15–29 %), or no signal of weight
/// ≥ 0.5 at all (≥ 30 % without failure).
fn priority(prevalence: f64, failed: bool, slow: bool, strong: bool, abandon_categories: usize) -> Severity {
    if (prevalence >= 0.30 && failed) || abandon_categories >= 2 {
        Severity::Critical
    } else if (prevalence >= 0.30 && strong) || (prevalence >= 0.15 && (failed || slow)) {
        Severity::Major
    } else if prevalence >= 0.05 {
        Severity::Moderate
    } else {
        Severity::Minor
    }
}

/// Tasks (analysis.md §4): success rate as the Beta(1 + s, 1 + f) posterior mean with its
/// 95 % credible interval, geometric-mean time on task, mean SEQ and lostness, for every
/// task of the study or of an attempt, in task order.
fn task_reports(
    cohort: &Cohort<'_>,
    study: &StudyMeta,
    attempts: &BTreeMap<&str, Vec<IndexedAttempt<'_>>>,
) -> Vec<TaskReport> {
    let sessions = &cohort.sessions;
    let mut task_meta: BTreeMap<String, (i64, String)> = BTreeMap::new();
    for t in study.tasks.iter().chain(sessions.iter().flat_map(|s| s.input.session.tasks.iter())) {
        task_meta
            .entry(t.task_id.clone())
            .and_modify(|m| {
                if (t.order, &t.title) < (m.0, &m.1) && m.1.is_empty() {
                    *m = (t.order, t.title.clone());
                }
            })
            .or_insert((t.order, t.title.clone()));
    }
    for t in attempts.keys() {
        task_meta.entry((*t).to_string()).or_insert((i64::MAX, String::new()));
    }
    let mut pages = Pages::default();
    let trails: Vec<Trail<'_>> =
        sessions.iter().map(|s| Trail::new(&s.input.events, &s.input.task_attempts, &mut pages)).collect();
    let mut order: Vec<(&String, &(i64, String))> = task_meta.iter().collect();
    order.sort_by(|a, b| a.1.0.cmp(&b.1.0).then_with(|| a.0.cmp(b.0)));
    order
        .into_iter()
        .map(|(task_id, (_, title))| {
            let list = attempts.get(task_id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
            task_report(task_id, title, list, &trails, &mut pages)
        })
        .collect()
}

/// Distinct pages among `visits`.
fn distinct_pages(visits: &[PageId]) -> usize {
    let mut v = visits.to_vec();
    v.sort_unstable();
    v.dedup();
    v.len()
}

/// Metrics of one task from its attempts.
fn task_report(
    task_id: &str,
    title: &str,
    list: &[IndexedAttempt<'_>],
    trails: &[Trail<'_>],
    pages: &mut Pages,
) -> TaskReport {
    let s = list.iter().filter(|(_, a)| a.outcome.is_success()).count() as u32;
    let n = list.len() as u32;
    let times: Vec<f64> =
        list.iter().filter(|(_, a)| a.outcome.is_success()).map(|(_, a)| duration_s(a)).collect();
    let seqs: Vec<f64> =
        list.iter().filter_map(|(_, a)| a.seq).filter(|x| x.is_finite() && (1.0..=7.0).contains(x)).collect();
    let paths: Vec<(bool, Vec<PageId>)> = list
        .iter()
        .map(|(si, a)| (a.outcome.is_success(), trails[*si].visits(a.started_at.0, a.ended_at.0, pages)))
        .collect();
    let shortest = paths.iter().filter(|(ok, p)| *ok && !p.is_empty()).map(|(_, p)| p.len()).min();
    let lost: Vec<f64> = match shortest {
        Some(r) => paths.iter().filter_map(|(_, p)| stats::lostness(distinct_pages(p), p.len(), r)).collect(),
        None => Vec::new(),
    };
    let ci = stats::beta_credible_interval(s, n - s);
    let mut outcomes = OutcomeCounts::default();
    for (_, a) in list {
        outcomes.add(a.outcome);
    }
    let mut sorted_times: Vec<f64> = times.iter().map(|t| round_to(*t, 3)).collect();
    sorted_times.sort_by(f64::total_cmp);
    TaskReport {
        task_id: task_id.to_string(),
        title: title.to_string(),
        attempts: n,
        successes: s,
        success_rate: round_to(stats::beta_posterior_mean(s, n - s), 4),
        ci95: [round_to(ci[0], 4), round_to(ci[1], 4)],
        time_on_task_geo_mean_seconds: stats::geometric_mean(&times).map(|x| round_to(x, 2)),
        seq_mean: (!seqs.is_empty()).then(|| round_to(seqs.iter().sum::<f64>() / seqs.len() as f64, 2)),
        lostness: (!lost.is_empty()).then(|| round_to(lost.iter().sum::<f64>() / lost.len() as f64, 4)),
        outcomes,
        times_on_task_seconds: sorted_times,
    }
}

/// Score (analysis.md §4, with the tail of decision 170): the penalty `P = Σ
/// penalty(severity) × (0.5 + 0.5 × prevalence) + 20 × (1 − mean task success)` gives
/// `100 − P` down to 25 (unchanged, so every band keeps its meaning), and below that the
/// hyperbola `25 × 25 / (P − 50)`, which meets the line with the same slope at `P = 75`, keeps
/// falling as `P` grows and never reaches 0 for any study of a realistic size: two studies
/// that today both clamp at 0 keep their order. Mean task success is the mean, over the
/// tasks with attempts, of each task's Beta(1 + s, 1 + f) posterior mean (unrounded), so
/// that one tester's failure in a small study does not swing the band as an observed rate
/// would; without attempts the term is 0. Rounded to an integer 0..100.
fn study_score(findings: &[Finding], tasks: &[TaskReport]) -> u32 {
    let penalty_sum: f64 =
        findings.iter().map(|f| penalty(f.severity) * (0.5 + 0.5 * f.prevalence.unwrap_or(0.0))).sum();
    let rates: Vec<f64> = tasks
        .iter()
        .filter(|t| t.attempts > 0)
        .map(|t| stats::beta_posterior_mean(t.successes, t.attempts - t.successes))
        .collect();
    let mean_success = if rates.is_empty() { 1.0 } else { rates.iter().sum::<f64>() / rates.len() as f64 };
    score_of_penalty(penalty_sum + 20.0 * (1.0 - mean_success))
}

/// Where the score leaves the straight line `100 − P` for its hyperbolic tail.
const SCORE_KNEE: f64 = 25.0;

/// The score of a total penalty `p` (see [`study_score`]): strictly decreasing in `p`.
pub(crate) fn score_exact(p: f64) -> f64 {
    if !p.is_finite() {
        return 0.0;
    }
    let p = p.max(0.0);
    let knee_p = 100.0 - SCORE_KNEE;
    if p <= knee_p { 100.0 - p } else { SCORE_KNEE * SCORE_KNEE / (p - (knee_p - SCORE_KNEE)) }
}

fn score_of_penalty(p: f64) -> u32 {
    score_exact(p).clamp(0.0, 100.0).round() as u32
}

/// Colour band of a score (analysis.md §4).
fn band_of(score: u32) -> Band {
    match score {
        0..=49 => Band::Red,
        50..=75 => Band::Amber,
        _ => Band::Green,
    }
}

/// SUS and NPS over the sessions' surveys (analysis.md §4).
fn surveys(cohort: &Cohort<'_>) -> (SusSummary, NpsSummary) {
    let sus_scores: Vec<f64> = cohort
        .sessions
        .iter()
        .filter_map(|s| s.input.survey.as_ref()?.sus.as_deref().and_then(stats::sus_score))
        .collect();
    let sus = SusSummary {
        score: (!sus_scores.is_empty())
            .then(|| round_to(sus_scores.iter().sum::<f64>() / sus_scores.len() as f64, 2)),
        responses: sus_scores.len(),
        distribution: {
            let mut bins = vec![0usize; 10];
            for x in &sus_scores {
                bins[((x / 10.0).floor().clamp(0.0, 9.0)) as usize] += 1;
            }
            bins
        },
    };
    let nps_answers: Vec<f64> = cohort.sessions.iter().filter_map(|s| s.input.survey.as_ref()?.nps).collect();
    let (nps_score, promoters, passives, detractors) = stats::nps(&nps_answers);
    let nps = NpsSummary {
        score: nps_score.map(|x| round_to(x, 2)),
        responses: promoters + passives + detractors,
        promoters,
        passives,
        detractors,
        distribution: {
            let mut bins = vec![0usize; 11];
            for x in nps_answers.iter().filter(|x| x.is_finite() && (0.0..=10.0).contains(*x)) {
                bins[x.floor() as usize] += 1;
            }
            bins
        },
    };
    (sus, nps)
}

/// ND strata (analysis.md §4): per nameable category, testers, task success, mean
/// frustration and findings; then one suppressed entry, without a name or a count, when
/// any category has fewer than 2 testers (see [`NdStratum`]).
fn nd_strata(
    cohort: &Cohort<'_>,
    categories: &BTreeSet<String>,
    nameable: &BTreeSet<String>,
    findings: &[Finding],
) -> Vec<NdStratum> {
    let sessions = &cohort.sessions;
    let mut nd_stratification = Vec::new();
    for cat in nameable {
        let idx = cohort.sessions_in(cat);
        let (ok, n) = cohort.success_of(&idx);
        let frustration: f64 =
            idx.iter().map(|&si| sessions[si].analysis.insights.overall_frustration_score).sum();
        nd_stratification.push(NdStratum {
            nd_category: Some(cat.clone()),
            testers: Some(cohort.testers_of(&idx)),
            suppressed: false,
            task_success: (n > 0).then(|| round_to(f64::from(ok) / f64::from(n), 4)),
            task_success_ci95: (n > 0).then(|| {
                let ci = stats::beta_credible_interval(ok, n - ok);
                [round_to(ci[0], 4), round_to(ci[1], 4)]
            }),
            mean_frustration: Some(round_to(frustration / idx.len().max(1) as f64, 2)),
            findings: Some(findings.iter().filter(|f| f.nd_categories.contains(cat)).count()),
        });
    }
    if categories.len() > nameable.len() {
        nd_stratification.push(NdStratum {
            nd_category: None,
            testers: None,
            suppressed: true,
            task_success: None,
            task_success_ci95: None,
            mean_frustration: None,
            findings: None,
        });
    }
    nd_stratification
}

/// A/B (analysis.md §4): per variant, the Beta posterior of pooled task success,
/// P(best), and a Simpson warning where the overall leader trails within an ND category
/// with ≥ 2 testers in each variant. `None` without at least two variants.
fn ab_comparison(cohort: &Cohort<'_>, study: &StudyMeta, categories: &BTreeSet<String>) -> Option<AbTest> {
    let sessions = &cohort.sessions;
    let mut labels: Vec<String> = study.variants.clone();
    if labels.is_empty() {
        labels = sessions
            .iter()
            .filter_map(|s| s.input.session.variant.clone())
            .filter(|v| !v.is_empty())
            .collect();
    }
    labels.sort();
    labels.dedup();
    if labels.len() < 2 {
        return None;
    }
    // Sessions of an arm (optionally within one category) and their distinct testers.
    let arm = |label: &str, cat: Option<&str>| -> (Vec<usize>, usize) {
        let idx: Vec<usize> = (0..sessions.len())
            .filter(|&si| {
                let m = &sessions[si].input.session;
                m.variant.as_deref() == Some(label)
                    && cat.is_none_or(|c| m.nd_categories.iter().any(|x| x == c))
            })
            .collect();
        let t = cohort.testers_of(&idx);
        (idx, t)
    };
    let mut variants = Vec::new();
    let mut counts = Vec::new();
    for l in &labels {
        let (idx, t) = arm(l, None);
        let (ok, n) = cohort.success_of(&idx);
        let ci = stats::beta_credible_interval(ok, n - ok);
        counts.push((ok, n - ok));
        variants.push(AbVariant {
            label: l.clone(),
            testers: t,
            attempts: n,
            successes: ok,
            success_rate: round_to(stats::beta_posterior_mean(ok, n - ok), 4),
            ci95: [round_to(ci[0], 4), round_to(ci[1], 4)],
        });
    }
    let pb = stats::probability_best(&counts);
    let probability_best: BTreeMap<String, f64> =
        labels.iter().cloned().zip(pb.iter().map(|p| round_to(*p, 4))).collect();
    let leader = labels
        .iter()
        .zip(pb.iter())
        .max_by(|a, b| a.1.total_cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(l, _)| l.clone())
        .unwrap_or_default();
    let mut simpson_warnings = Vec::new();
    for cat in categories {
        let arms: Vec<(String, usize, f64)> = labels
            .iter()
            .map(|l| {
                let (idx, t) = arm(l, Some(cat));
                let (ok, n) = cohort.success_of(&idx);
                (l.clone(), t, stats::beta_posterior_mean(ok, n - ok))
            })
            .collect();
        if arms.iter().any(|a| a.1 < 2) {
            continue;
        }
        let Some(lead_rate) = arms.iter().find(|a| a.0 == leader).map(|a| a.2) else { continue };
        if let Some(best) = arms
            .iter()
            .filter(|a| a.2 > lead_rate)
            .max_by(|a, b| a.2.total_cmp(&b.2).then_with(|| b.0.cmp(&a.0)))
        {
            simpson_warnings.push(SimpsonWarning {
                nd_category: cat.clone(),
                overall_leader: leader.clone(),
                category_leader: best.0.clone(),
                message: format!(
                    "Variant {leader} leads overall, but variant {} does better for testers with {cat}; check the mix of testers before choosing.",
                    best.0
                ),
            });
        }
    }
    Some(AbTest { variants, probability_best, simpson_warnings })
}

/// Summary (analysis.md §4): the score, the confirmed barriers by severity, the most
/// severe one and the hardest task, in plain words.
fn study_summary(
    score: u32,
    band: Band,
    findings: &[Finding],
    tasks: &[TaskReport],
    sessions: usize,
    testers: usize,
) -> String {
    let band_s = match band {
        Band::Red => "red",
        Band::Amber => "amber",
        Band::Green => "green",
    };
    let mut parts = vec![format!(
        "Score {score} of 100 ({band_s}) from {sessions} confirmed session{} with {testers} tester{}.",
        if sessions == 1 { "" } else { "s" },
        if testers == 1 { "" } else { "s" }
    )];
    if findings.is_empty() {
        parts.push("No confirmed barriers.".to_string());
    } else {
        let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
        parts.push(format!(
            "{} confirmed barrier{}: {} critical, {} major, {} moderate, {} minor.",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" },
            count(Severity::Critical),
            count(Severity::Major),
            count(Severity::Moderate),
            count(Severity::Minor)
        ));
        if let Some(f) = findings.first() {
            parts.push(format!("Most severe: {} ({} of {testers} testers).", f.title, f.testers_affected));
        }
    }
    if let Some(t) = tasks
        .iter()
        .filter(|t| t.attempts > 0)
        .min_by(|a, b| a.success_rate.total_cmp(&b.success_rate).then_with(|| a.task_id.cmp(&b.task_id)))
    {
        let name = if t.title.is_empty() { t.task_id.as_str() } else { t.title.as_str() };
        parts.push(format!("Hardest task: {name}, {} of {} attempts succeeded.", t.successes, t.attempts));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_keeps_the_line_above_the_knee_and_its_order_below() {
        for p in [0.0, 10.0, 24.0, 50.0, 74.0, 75.0] {
            assert!((score_exact(p) - (100.0 - p)).abs() < 1e-9, "{p}");
        }
        // Same slope at the knee: no kink a small change could jump.
        let h = 1e-6;
        let slope = (score_exact(75.0 + h) - score_exact(75.0)) / h;
        assert!((slope + 1.0).abs() < 1e-3, "{slope}");
        // Strictly decreasing and positive far beyond today's clamp at 0.
        let mut last = f64::INFINITY;
        for i in 0..2000 {
            let s = score_exact(f64::from(i) * 0.5);
            assert!(s < last && s > 0.0, "{i}");
            last = s;
        }
        // Five critical findings at full prevalence no longer read like ten.
        assert!(score_of_penalty(125.0) > score_of_penalty(250.0));
        assert_eq!(score_of_penalty(125.0), 8);
        assert_eq!(score_exact(f64::NAN), 0.0);
        assert_eq!(score_of_penalty(-5.0), 100);
    }

    #[test]
    fn reach_reads_as_the_formatter_would() {
        for (a, n) in
            [(0usize, 1usize), (1, 8), (3, 8), (5, 8), (1, 3), (2, 3), (1, 200), (7, 7), (123, 1000)]
        {
            let p = a as f64 / n as f64;
            assert_eq!(
                seen_in("D.", a, n, p),
                format!("D. Seen in {a} of {n} testers ({:.0} %).", p * 100.0)
            );
        }
        for x in [0.5, 1.5, 2.5, 12.5, 0.0, 99.5, 100.0, f64::NAN, -0.0] {
            assert_eq!(seen_in("", 1, 2, x / 100.0), format!(" Seen in 1 of 2 testers ({:.0} %).", x));
        }
    }

    /// The visits of the full page trail, as they were computed before [`Trail`]: every
    /// event with a URL sorted by (time, navigation, path), then the entry before the
    /// attempt and each navigation within it (or the first entry when none is before).
    fn visits_of_full_trail(events: &[EventItem], from: i64, to: i64) -> Vec<String> {
        let mut v: Vec<(i64, bool, &str)> = events
            .iter()
            .filter_map(|e| {
                Some((e.timestamp.0, e.event_type == EventType::Navigation, url_path(url_of(e)?)))
            })
            .collect();
        v.sort();
        let i = v.partition_point(|e| e.0 < from);
        let mut out: Vec<String> = i.checked_sub(1).map(|k| v[k].2.to_string()).into_iter().collect();
        for e in v[i..].iter().take_while(|e| e.0 <= to) {
            if e.1 || out.is_empty() {
                out.push(e.2.to_string());
            }
        }
        out
    }

    #[test]
    fn trail_visits_match_the_full_trail() {
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let types = [EventType::Navigation, EventType::Click, EventType::Scroll, EventType::Error];
        for round in 0..400 {
            let n = next(30) as usize;
            let mut events: Vec<EventItem> = (0..n)
                .map(|_| {
                    let mut e = EventItem::new(types[next(4) as usize], "#a", next(20) as i64);
                    e.url = match next(6) {
                        0 => None,
                        1 => Some(String::new()),
                        k => Some(format!("https://x.test/p{}?q={k}", next(3))),
                    };
                    e
                })
                .collect();
            if round % 2 == 0 {
                events.sort_by_key(|e| e.timestamp.0);
            }
            let mut pages = Pages::default();
            let attempts: Vec<TaskAttempt> = (0..4)
                .map(|_| TaskAttempt {
                    task_id: "t".into(),
                    outcome: Outcome::Success,
                    seq: None,
                    started_at: crate::Timestamp(next(24) as i64 - 2),
                    ended_at: crate::Timestamp(next(24) as i64 - 2),
                })
                .collect();
            let trail = Trail::new(&events, &attempts, &mut pages);
            let known = attempts.iter().map(|a| (a.started_at.0, a.ended_at.0));
            let spans: Vec<(i64, i64)> =
                known.chain((0..20).map(|_| (next(24) as i64 - 2, next(24) as i64 - 2))).collect();
            for (from, to) in spans {
                let got = trail.visits(from, to, &mut pages);
                let mut names: Vec<String> = vec![String::new(); pages.ids.len()];
                for (p, &id) in &pages.ids {
                    names[id as usize] = p.to_string();
                }
                let mut got: Vec<String> = got.iter().map(|&id| names[id as usize].clone()).collect();
                let mut want = visits_of_full_trail(&events, from, to);
                got.sort();
                want.sort();
                assert_eq!(got, want, "round {round}, {from}..{to}");
            }
        }
    }

    #[test]
    fn bands_are_unchanged() {
        assert_eq!(band_of(score_of_penalty(50.0)), Band::Amber);
        assert_eq!(band_of(score_of_penalty(51.0)), Band::Red);
        assert_eq!(band_of(score_of_penalty(24.0)), Band::Green);
        assert_eq!(band_of(score_of_penalty(500.0)), Band::Red);
    }
}
