//! The study report's charts (issue #26), drawn on the server as SVG: task outcomes as stacked
//! bars, the time-on-task distribution, the severity × prevalence matrix, the study's
//! frustration timeline and the SUS and NPS distributions.
//!
//! Each chart is a `figure` holding an `svg` with `role="img"`, a `<title>` and a `<desc>` that
//! says what it shows in words, and the table of the same numbers right after it, so a screen
//! reader reaches every fact as text and nothing is told by colour alone (segments carry their
//! counts, cells their numbers). Colours are presentation attributes (the CSP forbids inline
//! style). Pure functions of their inputs, unit-tested here.

use maud::{Markup, html};
use openscouter_analysis::{Finding, NpsSummary, Severity, SusSummary, TaskReport, Timeline};

use super::layout::pct;
use super::svg;

const INK: &str = "#1f2328";
const GRID: &str = "#d0d4da";
/// Outcome colours, each pair with white text ≥ 4.5:1; the order is the legend's.
const OUTCOMES: [(&str, &str); 4] =
    [("Success", "#146c2e"), ("Indirect", "#0b6e79"), ("Fail", "#b3261e"), ("Abandon", "#5b3d99")];

fn task_name(t: &TaskReport) -> &str {
    if t.title.is_empty() { &t.task_id } else { &t.title }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

/// The frame every chart shares: a figure with the accessible SVG, then its table.
fn figure(id: &str, title: &str, desc: &str, view: (f64, f64), body: Markup, table: Markup) -> Markup {
    html! {
        figure.chart #(id) aria-labelledby={(id) "-cap"} {
            svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 " (view.0) " " (view.1)}
                role="img" aria-labelledby={(id) "-title " (id) "-desc"} focusable="false" {
                title #{(id) "-title"} { (title) }
                desc #{(id) "-desc"} { (desc) }
                (body)
            }
            figcaption #{(id) "-cap"} { (title) ". " span.muted { "The same numbers are in the table below." } }
            div.table-wrap { (table) }
        }
    }
}

/// "Nice" axis maximum and step for values up to `max`.
fn nice(max: f64) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

/// Stacked horizontal bars: each task's attempts by outcome (success, indirect, fail,
/// abandon), each segment labelled with its count where it fits.
pub fn outcome_bars(tasks: &[TaskReport]) -> Markup {
    let rows: Vec<&TaskReport> = tasks.iter().filter(|t| t.attempts > 0).collect();
    if rows.is_empty() {
        return html! { p { "No task attempt reported yet." } };
    }
    let (left, right, row_h, top) = (200.0, 16.0, 34.0, 30.0);
    let w = 760.0;
    let h = top + row_h * rows.len() as f64 + 24.0;
    let plot = w - left - right;
    let counts = |t: &TaskReport| {
        let o = t.outcomes;
        // Reports written before outcomes were kept have only successes and attempts.
        if o.success + o.indirect + o.fail + o.abandon == 0 {
            [t.successes, 0, t.attempts - t.successes, 0]
        } else {
            [o.success, o.indirect, o.fail, o.abandon]
        }
    };
    let desc = rows
        .iter()
        .map(|t| {
            let c = counts(t);
            format!(
                "{}: {} attempts, {} success, {} indirect, {} fail, {} abandon",
                task_name(t),
                t.attempts,
                c[0],
                c[1],
                c[2],
                c[3]
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let body = html! {
        @for (k, (label, colour)) in OUTCOMES.iter().enumerate() {
            rect x=(left + k as f64 * 130.0) y="4" width="14" height="14" fill=(colour) {}
            text x=(left + k as f64 * 130.0 + 20.0) y="16" font-size="13" fill=(INK) { (label) }
        }
        @for (i, t) in rows.iter().enumerate() {
            @let y = top + i as f64 * row_h;
            @let c = counts(t);
            @let total = f64::from(t.attempts.max(1));
            text x=(left - 8.0) y=(y + 19.0) text-anchor="end" font-size="13" fill=(INK) { (truncate(task_name(t), 26)) }
            @for (x, width, n, k) in segments(left, plot, &c, total) {
                rect x=(format!("{x:.1}")) y=(y + 4.0) width=(format!("{width:.1}")) height=(row_h - 10.0) fill=(OUTCOMES[k].1) stroke="#ffffff" stroke-width="1" {}
                @if width >= 22.0 {
                    text x=(format!("{:.1}", x + width / 2.0)) y=(y + 21.0) text-anchor="middle" font-size="13" font-weight="700" fill="#ffffff" { (n) }
                }
            }
        }
        line x1=(left) x2=(left) y1=(top) y2=(h - 20.0) stroke=(INK) stroke-width="1" {}
        text x=(left) y=(h - 4.0) font-size="12" fill=(INK) { "0 %" }
        text x=(w - right) y=(h - 4.0) text-anchor="end" font-size="12" fill=(INK) { "100 % of attempts" }
    };
    let table = html! {
        table {
            caption { "Task outcomes: attempts by how they ended (indirect is a success by a detour)" }
            thead { tr {
                th scope="col" { "Task" } th scope="col" class="num" { "Success" } th scope="col" class="num" { "Indirect" }
                th scope="col" class="num" { "Fail" } th scope="col" class="num" { "Abandon" } th scope="col" class="num" { "Attempts" }
            } }
            tbody { @for t in &rows {
                @let c = counts(t);
                tr { th scope="row" { (task_name(t)) } td.num { (c[0]) } td.num { (c[1]) } td.num { (c[2]) } td.num { (c[3]) } td.num { (t.attempts) } }
            } }
        }
    };
    figure("chart-outcomes", "Task outcomes per task", &format!("Stacked bars. {desc}."), (w, h), body, table)
}

/// `(x, width, count, outcome index)` of each non-empty segment of a stacked bar.
fn segments(left: f64, plot: f64, counts: &[u32; 4], total: f64) -> Vec<(f64, f64, u32, usize)> {
    let mut x = left;
    let mut out = Vec::new();
    for (k, n) in counts.iter().enumerate() {
        if *n > 0 {
            let width = plot * f64::from(*n) / total;
            out.push((x, width, *n, k));
            x += width;
        }
    }
    out
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) })
}

fn secs(v: f64) -> String {
    if v >= 100.0 { format!("{v:.0} s") } else { format!("{v:.1} s") }
}

/// One row per task: a dot per successful attempt's time on task, and a bar at the geometric
/// mean.
pub fn time_on_task(tasks: &[TaskReport]) -> Markup {
    let rows: Vec<&TaskReport> = tasks.iter().filter(|t| !t.times_on_task_seconds.is_empty()).collect();
    if rows.is_empty() {
        return html! { p { "No successful attempt with a duration yet." } };
    }
    let max = rows.iter().flat_map(|t| t.times_on_task_seconds.iter().copied()).fold(0.0, f64::max);
    let (axis_max, step) = nice(max);
    let (left, right, row_h, top) = (200.0, 24.0, 34.0, 12.0);
    let w = 760.0;
    let h = top + row_h * rows.len() as f64 + 30.0;
    let plot = w - left - right;
    let x = |s: f64| left + (s / axis_max).clamp(0.0, 1.0) * plot;
    let ticks = (axis_max / step).round() as usize;
    let desc = rows
        .iter()
        .map(|t| {
            let v = &t.times_on_task_seconds;
            format!(
                "{}: {} successful attempts from {} to {}, median {}",
                task_name(t),
                v.len(),
                secs(v[0]),
                secs(v[v.len() - 1]),
                median(v).map_or_else(String::new, secs)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let body = html! {
        @for i in 0..=ticks {
            @let v = step * i as f64;
            line x1=(format!("{:.1}", x(v))) x2=(format!("{:.1}", x(v))) y1=(top) y2=(h - 24.0) stroke=(GRID) stroke-width="1" {}
            text x=(format!("{:.1}", x(v))) y=(h - 8.0) text-anchor="middle" font-size="12" fill=(INK) { (format!("{v:.0} s")) }
        }
        @for (i, t) in rows.iter().enumerate() {
            @let y = top + i as f64 * row_h + row_h / 2.0;
            text x=(left - 8.0) y=(y + 4.0) text-anchor="end" font-size="13" fill=(INK) { (truncate(task_name(t), 26)) }
            line x1=(left) x2=(w - right) y1=(y) y2=(y) stroke=(GRID) stroke-width="1" {}
            @for (k, s) in t.times_on_task_seconds.iter().enumerate() {
                circle cx=(format!("{:.1}", x(*s))) cy=(format!("{:.1}", y + if k % 2 == 0 { -4.0 } else { 4.0 })) r="5" fill="#0b57d0" fill-opacity="0.75" stroke="#ffffff" stroke-width="1" {}
            }
            @if let Some(g) = t.time_on_task_geo_mean_seconds {
                rect x=(format!("{:.1}", x(g) - 1.5)) y=(y - 12.0) width="3" height="24" fill=(INK) {}
            }
        }
    };
    let table = html! {
        table {
            caption { "Time on task of successful attempts (seconds); the bar in the chart is the geometric mean" }
            thead { tr {
                th scope="col" { "Task" } th scope="col" class="num" { "Attempts" } th scope="col" class="num" { "Fastest" }
                th scope="col" class="num" { "Median" } th scope="col" class="num" { "Geometric mean" } th scope="col" class="num" { "Slowest" }
            } }
            tbody { @for t in &rows {
                @let v = &t.times_on_task_seconds;
                tr {
                    th scope="row" { (task_name(t)) } td.num { (v.len()) } td.num { (secs(v[0])) }
                    td.num { (median(v).map_or_else(String::new, secs)) }
                    td.num { (t.time_on_task_geo_mean_seconds.map_or_else(|| "—".to_owned(), secs)) }
                    td.num { (secs(v[v.len() - 1])) }
                }
            } }
        }
    };
    figure(
        "chart-time",
        "Time on task, successful attempts",
        &format!("One dot per attempt, a bar at the geometric mean. {desc}."),
        (w, h),
        body,
        table,
    )
}

const SEVERITIES: [(Severity, &str); 4] = [
    (Severity::Critical, "Critical"),
    (Severity::Major, "Major"),
    (Severity::Moderate, "Moderate"),
    (Severity::Minor, "Minor"),
];
const PREVALENCE_BANDS: [&str; 4] = ["under 5 %", "5 to 14 %", "15 to 29 %", "30 % or more"];

fn prevalence_band(p: f64) -> usize {
    if p >= 0.30 {
        3
    } else if p >= 0.15 {
        2
    } else if p >= 0.05 {
        1
    } else {
        0
    }
}

/// The counts of the severity × prevalence matrix (rows: critical → minor; columns: the
/// prevalence bands of the priority matrix, analysis.md §4).
pub fn matrix_counts(findings: &[Finding]) -> [[usize; 4]; 4] {
    let mut m = [[0usize; 4]; 4];
    for f in findings {
        let row = SEVERITIES.iter().position(|(s, _)| *s == f.severity).unwrap_or(3);
        m[row][prevalence_band(f.prevalence.unwrap_or(0.0))] += 1;
    }
    m
}

/// A 4 × 4 grid of finding counts by severity and prevalence band, darker with more.
pub fn severity_matrix(findings: &[Finding]) -> Markup {
    let m = matrix_counts(findings);
    let max = m.iter().flatten().copied().max().unwrap_or(0).max(1);
    let (left, top, cw, ch) = (110.0, 40.0, 140.0, 44.0);
    let (w, h) = (left + 4.0 * cw + 10.0, top + 4.0 * ch + 10.0);
    let mut desc = Vec::new();
    for (r, (_, name)) in SEVERITIES.iter().enumerate() {
        for (c, band) in PREVALENCE_BANDS.iter().enumerate() {
            if m[r][c] > 0 {
                desc.push(format!("{} {name} with prevalence {band}", m[r][c]));
            }
        }
    }
    let desc =
        if desc.is_empty() { "No confirmed finding.".to_owned() } else { format!("{}.", desc.join("; ")) };
    let body = html! {
        @for (c, band) in PREVALENCE_BANDS.iter().enumerate() {
            text x=(left + c as f64 * cw + cw / 2.0) y=(top - 12.0) text-anchor="middle" font-size="13" fill=(INK) { (band) }
        }
        @for (r, (_, name)) in SEVERITIES.iter().enumerate() {
            @let y = top + r as f64 * ch;
            text x=(left - 8.0) y=(y + ch / 2.0 + 5.0) text-anchor="end" font-size="13" fill=(INK) { (name) }
            @for c in 0..4 {
                @let n = m[r][c];
                // Light to dark red by count; the number is always written.
                @let shade = if n == 0 { "#f5f7fa".to_owned() } else {
                    let t = n as f64 / max as f64;
                    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
                    format!("#{:02x}{:02x}{:02x}", lerp(249.0, 140.0), lerp(215.0, 29.0), lerp(210.0, 24.0))
                };
                @let dark = n > 0 && n as f64 / max as f64 > 0.45;
                rect x=(left + c as f64 * cw) y=(y) width=(cw - 2.0) height=(ch - 2.0) fill=(shade) stroke=(GRID) stroke-width="1" {}
                text x=(left + c as f64 * cw + cw / 2.0) y=(y + ch / 2.0 + 5.0) text-anchor="middle" font-size="15" font-weight="700"
                    fill=(if dark { "#ffffff" } else { INK }) { (n) }
            }
        }
    };
    let table = html! {
        table {
            caption { "Findings by severity (rows) and prevalence among testers (columns)" }
            thead { tr { th scope="col" { "Severity" } @for b in &PREVALENCE_BANDS { th scope="col" class="num" { (b) } } } }
            tbody { @for (r, (_, name)) in SEVERITIES.iter().enumerate() {
                tr { th scope="row" { (name) } @for c in 0..4 { td.num { (m[r][c]) } } }
            } }
        }
    };
    figure("chart-matrix", "Severity by prevalence", &desc, (w, h), body, table)
}

/// One step of the study's frustration timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRow {
    /// Start of the step since each session's start (ms).
    pub from_ms: i64,
    pub sessions: usize,
    pub mean: f64,
    pub peak: f64,
}

/// The longest study timeline drawn (ms): 90 minutes.
const MAX_SPAN_MS: i64 = 90 * 60_000;

fn span_of(tl: &Timeline) -> i64 {
    tl.bucket_ms.max(1).saturating_mul(i64::try_from(tl.bucket_count).unwrap_or(i64::MAX)).min(MAX_SPAN_MS)
}

/// The step: 10 s while the longest session is at most 10 minutes, else a minute.
fn step_ms(timelines: &[&Timeline]) -> i64 {
    if timelines.iter().map(|t| span_of(t)).max().unwrap_or(0) <= 10 * 60_000 { 10_000 } else { 60_000 }
}

/// Per step since each session's start: how many sessions ran that long, the mean over them
/// of each session's highest smoothed frustration in that step, and the peak.
pub fn study_steps(timelines: &[&Timeline]) -> Vec<StepRow> {
    let step = step_ms(timelines);
    let steps_of = |tl: &Timeline| usize::try_from((span_of(tl) + step - 1) / step).unwrap_or(0);
    let n = timelines.iter().map(|t| steps_of(t)).max().unwrap_or(0);
    let mut sum = vec![0.0; n];
    let mut peak = vec![0.0_f64; n];
    let mut count = vec![0usize; n];
    for tl in timelines {
        let mut per = vec![0.0_f64; steps_of(tl)];
        for p in &tl.points {
            if let Ok(m) = usize::try_from((p.timestamp.0 - tl.start.0) / step)
                && m < per.len()
            {
                per[m] = per[m].max(p.smoothed);
            }
        }
        for (m, v) in per.iter().enumerate() {
            sum[m] += v;
            count[m] += 1;
            peak[m] = peak[m].max(*v);
        }
    }
    (0..n)
        .filter(|&m| count[m] > 0)
        .map(|m| StepRow {
            from_ms: i64::try_from(m).unwrap_or(0) * step,
            sessions: count[m],
            mean: sum[m] / count[m] as f64,
            peak: peak[m],
        })
        .collect()
}

/// The study's frustration timeline: mean (solid) and peak (dashed) frustration per step since
/// each session's start, drawn as steps.
pub fn study_timeline(timelines: &[&Timeline]) -> Markup {
    let rows = study_steps(timelines);
    if rows.is_empty() {
        return html! { p { "No analysed session with a timeline yet." } };
    }
    let step = step_ms(timelines);
    let (left, right, top, plot_h) = (52.0, 16.0, 16.0, 180.0);
    let (w, h) = (760.0, top + plot_h + 40.0);
    let end = rows.last().map_or(step, |r| r.from_ms + step).max(1) as f64;
    let x = |t: i64| left + (t as f64 / end).clamp(0.0, 1.0) * (w - left - right);
    let y = |v: f64| top + (1.0 - v.clamp(0.0, 1.0)) * plot_h;
    let path = |f: &dyn Fn(&StepRow) -> f64| {
        let mut d = String::new();
        for (i, r) in rows.iter().enumerate() {
            let (x0, x1, v) = (x(r.from_ms), x(r.from_ms + step), y(f(r)));
            d.push_str(&format!("{}{x0:.1},{v:.1} L{x1:.1},{v:.1}", if i == 0 { "M" } else { " L" }));
        }
        d
    };
    let worst = rows.iter().max_by(|a, b| a.mean.total_cmp(&b.mean));
    let desc = format!(
        "Mean and peak frustration on a 0 to 1 scale in steps of {} s since each session started, over {} session{} and {} of session time{}.",
        step / 1000,
        timelines.len(),
        if timelines.len() == 1 { "" } else { "s" },
        svg::clock(end as i64),
        worst.map_or_else(String::new, |r| format!(
            "; the hardest stretch on average starts at {} (mean {:.2}, peak {:.2})",
            svg::clock(r.from_ms),
            r.mean,
            r.peak
        ))
    );
    let ticks = 6;
    let body = html! {
        @for i in 0..=4 {
            @let v = f64::from(i) / 4.0;
            line x1=(left) x2=(w - right) y1=(y(v)) y2=(y(v)) stroke=(GRID) stroke-width="1" {}
            text x=(left - 6.0) y=(y(v) + 4.0) text-anchor="end" font-size="12" fill=(INK) { (format!("{v:.2}")) }
        }
        line x1=(left) x2=(w - right) y1=(y(0.5)) y2=(y(0.5)) stroke="#6e4a00" stroke-width="1" stroke-dasharray="6 4" {}
        @for i in 0..=ticks {
            @let t = (end as i64) * i / ticks;
            text x=(format!("{:.1}", x(t))) y=(h - 20.0) text-anchor="middle" font-size="12" fill=(INK) { (svg::clock(t)) }
        }
        text x=((left + w - right) / 2.0) y=(h - 4.0) text-anchor="middle" font-size="12" fill=(INK) { "Time since the session started (m:ss)" }
        path d=(path(&|r: &StepRow| r.peak)) fill="none" stroke="#b3261e" stroke-width="1.5" stroke-dasharray="4 3" {}
        path d=(path(&|r: &StepRow| r.mean)) fill="none" stroke="#0b57d0" stroke-width="2.5" stroke-linejoin="round" {}
    };
    let table = html! {
        table {
            caption { "Frustration since the session started, in steps of " (step / 1000) " s (0 to 1)" }
            thead { tr { th scope="col" { "From" } th scope="col" class="num" { "Sessions" } th scope="col" class="num" { "Mean" } th scope="col" class="num" { "Peak" } } }
            tbody { @for r in &rows {
                tr { th scope="row" { (svg::clock(r.from_ms)) } td.num { (r.sessions) } td.num { (format!("{:.2}", r.mean)) } td.num { (format!("{:.2}", r.peak)) } }
            } }
        }
    };
    html! {
        (figure("chart-frustration", "Study frustration timeline", &desc, (w, h), body, table))
        ul.legend { li { "Solid blue line: mean frustration" } li { "Dashed red line: the highest in any session" } li { "Dashed brown line: the 0.5 critical threshold" } }
    }
}

/// Vertical bars of counts with a label under each.
fn bars(id: &str, title: &str, desc: &str, labels: &[String], counts: &[usize], colours: &[&str]) -> Markup {
    let (left, top, plot_h, bw) = (40.0, 14.0, 150.0, 46.0);
    let w = left + bw * labels.len() as f64 + 10.0;
    let h = top + plot_h + 40.0;
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let y = |n: usize| top + plot_h * (1.0 - n as f64 / max as f64);
    html! {
        svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 " (w) " " (h)} role="img"
            aria-labelledby={(id) "-title " (id) "-desc"} focusable="false" {
            title #{(id) "-title"} { (title) }
            desc #{(id) "-desc"} { (desc) }
            line x1=(left) x2=(w - 10.0) y1=(top + plot_h) y2=(top + plot_h) stroke=(INK) stroke-width="1" {}
            text x=(left - 6.0) y=(top + 4.0) text-anchor="end" font-size="12" fill=(INK) { (max) }
            text x=(left - 6.0) y=(top + plot_h) text-anchor="end" font-size="12" fill=(INK) { "0" }
            @for (i, (label, n)) in labels.iter().zip(counts).enumerate() {
                @let x = left + i as f64 * bw;
                @if *n > 0 {
                    rect x=(x + 4.0) y=(format!("{:.1}", y(*n))) width=(bw - 8.0) height=(format!("{:.1}", top + plot_h - y(*n))) fill=(colours[i % colours.len()]) {}
                    text x=(x + bw / 2.0) y=(format!("{:.1}", y(*n) - 4.0)) text-anchor="middle" font-size="12" fill=(INK) { (n) }
                }
                text x=(x + bw / 2.0) y=(top + plot_h + 16.0) text-anchor="middle" font-size="12" fill=(INK) { (label) }
            }
        }
    }
}

/// SUS (10-point bands) and NPS (answers 0–10, coloured detractor / passive / promoter).
pub fn surveys(sus: &SusSummary, nps: &NpsSummary) -> Markup {
    let sus_labels: Vec<String> = (0..10).map(|i| format!("{}", i * 10)).collect();
    let nps_labels: Vec<String> = (0..=10).map(|i| i.to_string()).collect();
    let nps_colours: Vec<&str> = (0..=10)
        .map(|i| {
            if i <= 6 {
                "#b3261e"
            } else if i <= 8 {
                "#6b7280"
            } else {
                "#146c2e"
            }
        })
        .collect();
    let has_sus = sus.distribution.iter().any(|n| *n > 0);
    let has_nps = nps.distribution.iter().any(|n| *n > 0);
    let sus_desc = format!(
        "{} questionnaires by score band of 10 points: {}.",
        sus.responses,
        sus_labels
            .iter()
            .zip(&sus.distribution)
            .filter(|(_, n)| **n > 0)
            .map(|(l, n)| format!("{n} from {l}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let nps_desc = format!(
        "{} answers: {} detractors (0 to 6), {} passives (7 to 8), {} promoters (9 to 10).",
        nps.responses, nps.detractors, nps.passives, nps.promoters
    );
    html! {
        @if has_sus {
            figure.chart #chart-sus aria-labelledby="chart-sus-cap" {
                (bars("chart-sus", "SUS scores", &sus_desc, &sus_labels, &sus.distribution, &["#0b57d0"]))
                figcaption #chart-sus-cap { "SUS scores in bands of 10 points (0 to 100). " span.muted { "The same numbers are in the table below." } }
                div.table-wrap { table {
                    caption { "SUS questionnaires per score band" }
                    thead { tr { th scope="col" { "Score band" } th scope="col" class="num" { "Questionnaires" } } }
                    tbody { @for (i, n) in sus.distribution.iter().enumerate() {
                        tr { th scope="row" { (i * 10) " to " (if i == 9 { 100 } else { i * 10 + 9 }) } td.num { (n) } }
                    } }
                } }
            }
        }
        @if has_nps {
            figure.chart #chart-nps aria-labelledby="chart-nps-cap" {
                (bars("chart-nps", "NPS answers", &nps_desc, &nps_labels, &nps.distribution, &nps_colours))
                figcaption #chart-nps-cap { "How likely testers are to recommend (0 to 10): red detractors, grey passives, green promoters. " span.muted { "The same numbers are in the table below." } }
                div.table-wrap { table {
                    caption { "NPS answers per value" }
                    thead { tr { th scope="col" { "Answer" } th scope="col" { "Group" } th scope="col" class="num" { "Testers" } } }
                    tbody { @for (i, n) in nps.distribution.iter().enumerate() {
                        tr { th scope="row" { (i) } td { (if i <= 6 { "detractor" } else if i <= 8 { "passive" } else { "promoter" }) } td.num { (n) } }
                    } }
                } }
            }
        }
        @if !has_sus && !has_nps { p { "No SUS or NPS answers yet." } }
    }
}

/// `42 % (95 % CI 10 % to 80 %)`.
pub fn with_interval(v: f64, ci: Option<[f64; 2]>) -> String {
    match ci {
        Some([lo, hi]) => format!("{} (95 % interval {} to {})", pct(v), pct(lo), pct(hi)),
        None => pct(v),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use openscouter_analysis::{OutcomeCounts, TimelinePoint, Timestamp};

    fn task(title: &str, o: [u32; 4], times: &[f64]) -> TaskReport {
        TaskReport {
            task_id: "task_1".into(),
            title: title.into(),
            attempts: o.iter().sum(),
            successes: o[0] + o[1],
            success_rate: 0.5,
            ci95: [0.1, 0.9],
            time_on_task_geo_mean_seconds: times.first().copied(),
            seq_mean: None,
            lostness: None,
            outcomes: OutcomeCounts { success: o[0], indirect: o[1], fail: o[2], abandon: o[3] },
            times_on_task_seconds: times.to_vec(),
        }
    }

    #[test]
    fn outcome_bars_keep_indirect_apart_and_say_it_in_words() {
        let svg = outcome_bars(&[task("Sign <up>", [2, 1, 1, 1], &[])]).into_string();
        assert!(svg.contains("role=\"img\"") && svg.contains("chart-outcomes-desc"));
        assert!(svg.contains("5 attempts, 2 success, 1 indirect, 1 fail, 1 abandon"), "{svg}");
        assert!(svg.contains("Sign &lt;up&gt;") && !svg.contains("<up>"));
        assert!(svg.contains("<caption>Task outcomes"));
        assert!(!svg.contains("style="));
    }

    #[test]
    fn matrix_counts_by_band() {
        let mk = |s: Severity, p: f64| Finding { severity: s, prevalence: Some(p), ..finding() };
        let m = matrix_counts(&[
            mk(Severity::Critical, 0.4),
            mk(Severity::Critical, 0.3),
            mk(Severity::Minor, 0.01),
        ]);
        assert_eq!(m[0][3], 2);
        assert_eq!(m[3][0], 1);
        let svg = severity_matrix(&[mk(Severity::Major, 0.2)]).into_string();
        assert!(svg.contains("1 Major with prevalence 15 to 29 %"), "{svg}");
    }

    fn finding() -> Finding {
        serde_json::from_value(serde_json::json!({
            "findingId": "fnd_1", "title": "t", "severity": "minor", "evidence": [], "recommendation": "",
            "technicalDescription": "", "plainDescription": "", "testersAffected": 1, "ndCategories": [],
            "dominantSignal": "rage_click", "family": "clicks", "peakIntensity": 0.5, "strongSignal": true,
            "sessionIds": []
        }))
        .unwrap()
    }

    #[test]
    fn study_steps_average_over_the_sessions_that_lasted() {
        let tl = |points: &[(i64, f64)], buckets: u64| Timeline {
            start: Timestamp(0),
            bucket_ms: 10_000,
            bucket_count: buckets,
            points: points
                .iter()
                .map(|&(t, v)| TimelinePoint { timestamp: Timestamp(t), raw: v, smoothed: v })
                .collect(),
        };
        // Short sessions: steps of 10 s.
        let a = tl(&[(10_000, 0.8), (70_000, 0.2)], 12);
        let b = tl(&[(10_000, 0.4)], 6);
        let rows = study_steps(&[&a, &b]);
        assert_eq!(rows.len(), 12);
        assert_eq!((rows[1].from_ms, rows[1].sessions, rows[1].peak), (10_000, 2, 0.8));
        assert!((rows[1].mean - 0.6).abs() < 1e-9);
        assert_eq!((rows[7].sessions, rows[7].mean), (1, 0.2));
        let svg = study_timeline(&[&a, &b]).into_string();
        assert!(svg.contains("over 2 sessions and 2:00 of session time"), "{svg}");
        // Long ones: steps of a minute.
        let long = tl(&[(650_000, 0.9)], 70);
        let rows = study_steps(&[&long]);
        assert_eq!((rows.len(), rows[10].from_ms, rows[10].peak), (12, 600_000, 0.9));
    }

    #[test]
    fn survey_charts_have_tables_and_nothing_when_empty() {
        let sus =
            SusSummary { score: Some(70.0), responses: 2, distribution: vec![0, 0, 0, 0, 0, 0, 1, 1, 0, 0] };
        let nps = NpsSummary {
            score: Some(0.0),
            responses: 2,
            promoters: 1,
            passives: 0,
            detractors: 1,
            distribution: vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1],
        };
        let out = surveys(&sus, &nps).into_string();
        assert!(out.contains("chart-sus-title") && out.contains("chart-nps-title"));
        assert!(out.contains("1 detractors (0 to 6)"));
        let empty = SusSummary { score: None, responses: 0, distribution: vec![] };
        let none = NpsSummary {
            score: None,
            responses: 0,
            promoters: 0,
            passives: 0,
            detractors: 0,
            distribution: vec![],
        };
        assert!(surveys(&empty, &none).into_string().contains("No SUS or NPS answers yet."));
    }

    #[test]
    fn nice_axes() {
        assert_eq!(nice(47.0), (50.0, 10.0));
        assert_eq!(nice(0.0), (1.0, 0.2));
        assert_eq!(time_on_task(&[]).into_string(), "<p>No successful attempt with a duration yet.</p>");
    }
}
