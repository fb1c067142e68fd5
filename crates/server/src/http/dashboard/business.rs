//! Business pages: the studies list and the study page (score, findings by severity with their
//! WCAG criterion and the sessions and moments behind them, charts with their tables, tasks with
//! credible intervals, SUS/NPS, ND strata, A/B, sessions), segments of it, its exclusions, its
//! CSV export and the read-only page a share link opens.

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use maud::{Markup, html};
use openscouter_analysis::{Finding, Severity, StudyReport};

use super::layout::{self, Viewer, pct, when, words};
use super::web::{Form, Pressed, check_csrf, see_other};
use super::{charts, svg};
use crate::domain::ids::{SessionId, StudyId};
use crate::error::{AppError, AppResult};
use crate::http::extract::{BusinessOrAdmin, Pagination};
use crate::http::state::AppState;
use crate::services::research::{self, ReportFilter, Segment, ShareOut};
use crate::services::sessions::{self, SessionFilter};
use crate::services::{pipeline, reports, studies};
use crate::store::{Page, ReportRow, Session, Study};

/// `/app/studies`: the organization's studies (every study for an admin).
pub async fn studies(
    State(state): State<AppState>,
    caller: BusinessOrAdmin,
    Pagination(page): Pagination,
) -> AppResult<Response> {
    let (rows, total) = studies::list(&state, &caller, None, page).await?;
    let viewer = Viewer::new(&state, &caller);
    Ok(layout::page(
        "Studies",
        &viewer,
        "/app/studies",
        html! {
            h1 { "Studies" }
            @if viewer.role == crate::domain::Role::Business {
                p { a.button href="/app/studies/new" { "New study" } }
            }
            @if rows.is_empty() {
                p { "No studies yet. Create one here, with " code { "POST /api/jobs" } ", or from an AI assistant over MCP." }
            } @else {
                div.table-wrap {
                    table {
                        caption { (total) " studies, newest first" }
                        thead { tr {
                            th scope="col" { "Study" } th scope="col" { "Status" }
                            th scope="col" { "Progress" } th scope="col" class="num" { "Confirmed sessions" }
                            th scope="col" { "Created" }
                        } }
                        tbody {
                            @for s in &rows { (study_row(s)) }
                        }
                    }
                }
                (layout::pager("/app/studies", page.page, page.limit, total))
            }
        },
    ))
}

fn study_row(s: &Study) -> Markup {
    let target = s.tester_count.max(1);
    html! {
        tr {
            th scope="row" { a href={"/app/studies/" (s.id)} { (s.definition.title) } }
            td { (layout::study_words(s.status)) }
            td {
                progress max=(target) value=(s.seats_taken.min(target)) aria-label={"Seats taken for " (s.definition.title)} {}
                " " (s.seats_taken) " of " (s.tester_count) " seats"
            }
            td.num { (s.sessions_confirmed) " of " (s.sessions_total) }
            td { (when(s.created_at)) }
        }
    }
}

fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::Major => "major",
        Severity::Moderate => "moderate",
        Severity::Minor => "minor",
    }
}

/// Where a finding is shown, which decides how its evidence is told and linked.
#[derive(Clone, Copy)]
pub enum Context<'a> {
    /// A session page: times from the session's start (`origin`); comments of the tester.
    Session { origin: i64 },
    /// The study page: each piece of evidence links to its moment on its session's page.
    Study { sessions: &'a [Session] },
    /// A shared, read-only page: no evidence, no link, no tester's words.
    Shared,
}

/// The session behind `label` (`Tester 2`) among the finding's sessions.
fn session_of<'a>(f: &Finding, sessions: &'a [Session], label: &str) -> Option<&'a Session> {
    sessions
        .iter()
        .filter(|s| f.session_ids.iter().any(|i| s.id == *i))
        .find(|s| crate::services::analysis_input::tester_label(s) == label)
}

/// One finding as an article: title, severity, WCAG criterion, prevalence, strata, evidence,
/// and on the study page the sessions and moments behind it (links).
pub fn finding_article(
    f: &Finding,
    ctx: Context<'_>,
    decision: Option<&str>,
    comment: Option<&str>,
) -> Markup {
    let sev = severity_class(f.severity);
    html! {
        article class={"finding sev-" (sev) "-border"} aria-labelledby={"f-" (f.finding_id)} {
            h3 #{"f-" (f.finding_id)} { (f.title) }
            dl.facts {
                dt { "Severity" } dd { span class={"badge sev-" (sev)} { (sev) } }
                @if let Some(w) = &f.wcag {
                    dt { "WCAG 2.1" } dd { "Success criterion " strong { (w.criterion) } " " (w.name) }
                }
                @if let Some(p) = f.prevalence {
                    dt { "Prevalence" } dd { (pct(p)) " of testers (" (f.testers_affected) " affected)" }
                }
                @if !f.nd_categories.is_empty() {
                    dt { "ND categories" } dd { (f.nd_categories.join(", ")) }
                }
                @if let Some(path) = &f.url_path { dt { "Page" } dd { code { (path) } } }
                @if let Some(sel) = &f.selector { dt { "Element" } dd { code { (sel) } } }
                dt { "Signal" } dd { (words(&f.dominant_signal)) }
                @if let Context::Study { sessions } = ctx {
                    @let linked: Vec<&Session> = sessions.iter().filter(|s| f.session_ids.iter().any(|i| s.id == *i)).collect();
                    @if !linked.is_empty() {
                        dt { "Sessions" }
                        dd { @for (i, s) in linked.iter().enumerate() {
                            @if i > 0 { ", " }
                            a href={"/app/sessions/" (s.id) "#findings"} { (crate::services::analysis_input::tester_label(s)) }
                        } }
                    }
                }
                @if let Some(d) = decision { dt { "Tester's decision" } dd { (d) } }
                @if let Some(c) = comment { dt { "Tester's comment" } dd { q { (c) } } }
            }
            p { (f.plain_description) }
            @if !f.recommendation.is_empty() { p { strong { "Recommendation: " } (f.recommendation) } }
            @if !matches!(ctx, Context::Shared) {
                details {
                    summary { "Evidence (" (f.evidence.len()) ")" }
                    ul.evidence {
                        @for e in &f.evidence {
                            li { (evidence_item(f, ctx, e)) }
                        }
                    }
                }
            }
        }
    }
}

fn evidence_item(f: &Finding, ctx: Context<'_>, e: &openscouter_analysis::Evidence) -> Markup {
    let kind = e.kind.replace('_', " ");
    match ctx {
        Context::Session { origin } => html! {
            a href={"#t" (e.timestamp.0)} { (svg::clock(e.timestamp.0 - origin)) } " · " (kind) ": " (e.detail)
        },
        Context::Study { sessions } => {
            let (label, detail) = e.detail.split_once(": ").unwrap_or(("", e.detail.as_str()));
            match session_of(f, sessions, label) {
                Some(s) => html! {
                    a href={"/app/sessions/" (s.id) "#t" (e.timestamp.0)} { (label) " at " (svg::clock(e.timestamp.0 - s.started_at)) }
                    " · " (kind) ": " (detail)
                },
                None => html! { (when(e.timestamp.0)) " · " (kind) ": " (e.detail) },
            }
        }
        Context::Shared => html! {},
    }
}

/// Findings most severe first, then most prevalent.
pub fn by_severity<T>(items: &mut [T], finding: impl Fn(&T) -> &Finding) {
    items.sort_by(|a, b| {
        let (a, b) = (finding(a), finding(b));
        a.severity
            .cmp(&b.severity)
            .then(b.prevalence.unwrap_or(0.0).total_cmp(&a.prevalence.unwrap_or(0.0)))
            .then(a.title.cmp(&b.title))
    });
}

/// `/app/studies/{id}`: the study and its report; with `?nd=…&variant=…&outcome=…`, the
/// report of that segment, synthesised live.
pub async fn study(
    State(state): State<AppState>,
    caller: BusinessOrAdmin,
    Path(id): Path<StudyId>,
    uri: Uri,
) -> AppResult<Response> {
    let study = studies::get_visible(&state, &caller, &id).await?;
    let latest = research::latest_report(&state, &caller, &id).await?;
    let filter: ReportFilter = crate::http::routes::research::parse_query(&uri)?;
    let queued = uri.query().is_some_and(|q| q.split('&').any(|kv| kv == "queued=1"));
    let list_filter = SessionFilter { study_id: Some(id.clone()), status: None };
    let (sessions, total) =
        sessions::list(&state, &caller, &list_filter, Page { page: 1, limit: 100 }).await?;
    let (nd_options, variant_options) = research::filter_options(&state, &study).await?;
    let segment =
        if filter.is_empty() { None } else { Some(research::segment(&state, &caller, &id, &filter).await?) };
    let shares = research::list_shares(&state, &caller, &id).await?;
    let viewer = Viewer::new(&state, &caller);
    let title = study.definition.title.clone();
    let page = StudyPage {
        study: &study,
        latest: latest.as_ref(),
        filter: &filter,
        nd_options: &nd_options,
        variant_options: &variant_options,
        segment: segment.as_ref(),
        queued,
        sessions: &sessions,
        total,
        shares: &shares,
        viewer: &viewer,
    };
    let res = layout::page(&title, &viewer, "/app/studies", page.render());
    Ok(if super::progress::running(&study) { super::progress::allow_script(res) } else { res })
}

/// Everything the study page shows.
struct StudyPage<'a> {
    study: &'a Study,
    latest: Option<&'a (ReportRow, StudyReport)>,
    filter: &'a ReportFilter,
    nd_options: &'a [String],
    variant_options: &'a [String],
    segment: Option<&'a Segment>,
    queued: bool,
    sessions: &'a [Session],
    total: u64,
    shares: &'a [ShareOut],
    viewer: &'a Viewer,
}

const OUTCOME_OPTIONS: [(&str, &str); 4] = [
    ("success", "Succeeded directly"),
    ("indirect", "Succeeded by a detour"),
    ("fail", "Failed"),
    ("abandon", "Gave up"),
];

impl StudyPage<'_> {
    fn render(&self) -> Markup {
        let study = self.study;
        html! {
            p { a href="/app/studies" { "← All studies" } }
            h1 { (study.definition.title) }
            (super::study_form::actions(study, &self.viewer.csrf, self.viewer.billing))
            dl.facts {
                dt { "Status" } dd #study-status { (super::layout::study_words(study.status)) }
                dt { "Product" } dd { code { (study.definition.prototype_url) } }
                dt { "Sessions" } dd #study-sessions { (super::progress::sessions_line(study)) }
                dt { "Created" } dd { (when(study.created_at)) }
            }
            @if super::progress::running(study) {
                p #study-live role="status" aria-live="polite" data-progress={"/app/studies/" (study.id) "/progress"} {
                    "While the study runs, this page updates its counts by itself."
                }
                script src=(*super::progress::JS_HREF) defer {}
            }
            @if self.queued {
                div.notice role="status" { p { "The study report is being written. Reload this page in a few seconds." } }
            }
            @match self.latest {
                Some((row, r)) => {
                    (self.freshness(row, r))
                    (self.filters())
                    @match (self.segment, self.filter.is_empty()) {
                        (Some(Segment::Report(seg, ids)), false) => {
                            div.notice role="status" #segment {
                                p { "Showing the segment " strong { (self.filter_words()) } ": " (seg.sessions) " confirmed sessions by " (seg.testers) " testers, synthesised just now from the confirmed sessions in the report. " a href={"/app/studies/" (study.id)} { "Show the whole study" } }
                            }
                            (report_sections(seg, self.sessions, Some(ids), Context::Study { sessions: self.sessions }))
                        }
                        (Some(Segment::Suppressed), false) => {
                            div.notice role="status" #segment { p { "This segment is not shown: fewer than 2 testers share that ND category, and a group that small would tie a health category to one person. " a href={"/app/studies/" (study.id)} { "Show the whole study" } } }
                        }
                        (Some(Segment::Empty), false) => {
                            div.notice role="status" #segment { p { "No confirmed session in the report matches " strong { (self.filter_words()) } ". " a href={"/app/studies/" (study.id)} { "Show the whole study" } } }
                        }
                        _ => (report_sections(r, self.sessions, None, Context::Study { sessions: self.sessions })),
                    }
                    (self.export_and_share())
                }
                None => {
                    h2 { "Score" }
                    p { "No study report yet. It is written from confirmed sessions only." }
                    @if study.sessions_confirmed > 0 { (self.refresh_form("Write the study report")) }
                }
            }
            h2 #sessions { "Sessions" }
            (sessions_table(self.sessions, self.total, self.viewer, self.latest.is_some()))
        }
    }

    fn refresh_form(&self, label: &str) -> Markup {
        html! {
            form method="post" action={"/app/studies/" (self.study.id) "/report"} {
                input type="hidden" name="csrf" value=(self.viewer.csrf);
                button type="submit" { (label) }
            }
        }
    }

    /// When the report was written, what it covers, what it leaves out, and what came since.
    fn freshness(&self, row: &ReportRow, r: &StudyReport) -> Markup {
        let data: serde_json::Value = serde_json::from_str(&row.data).unwrap_or_default();
        let excluded: Vec<(String, String, String)> = data["excludedSessions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
                        (s("sessionId"), s("testerLabel"), s("reason"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let in_synthesis: Vec<&str> = self
            .sessions
            .iter()
            .filter(|s| s.status == crate::domain::SessionStatus::Confirmed && s.excluded_reason.is_none())
            .map(|s| s.id.as_str())
            .collect();
        // The sessions the report covers (reports written before `sessionIds` give a count only).
        let covered: Option<Vec<&str>> =
            data["sessionIds"].as_array().map(|a| a.iter().filter_map(|v| v.as_str()).collect());
        let (newer, dropped) = match &covered {
            Some(c) => (
                in_synthesis.iter().filter(|s| !c.contains(s)).count(),
                c.iter().filter(|s| !in_synthesis.contains(s)).count(),
            ),
            None => (in_synthesis.len().saturating_sub(r.sessions), 0),
        };
        html! {
            section.freshness aria-labelledby="freshness-h" {
                h2 #freshness-h { "About this report" }
                dl.facts {
                    dt { "Written" } dd { (when(row.created_at)) }
                    dt { "Covers" } dd { (r.sessions) " confirmed session" (if r.sessions == 1 { "" } else { "s" }) " by " (r.testers) " tester" (if r.testers == 1 { "" } else { "s" }) }
                    dt { "Left out" }
                    dd {
                        @if excluded.is_empty() { "No session" } @else {
                            ul.plain { @for (sid, label, reason) in &excluded {
                                li { a href={"/app/sessions/" (sid)} { (label) } ": " q { (reason) } }
                            } }
                        }
                    }
                }
                @if newer + dropped > 0 {
                    div.notice role="status" #newer {
                        p {
                            @if newer > 0 { strong { (newer) " newer confirmed session" (if newer == 1 { "" } else { "s" }) " since this report." } " " }
                            @if dropped > 0 { strong { (dropped) " session" (if dropped == 1 { "" } else { "s" }) " in it left out since." } " " }
                            "The report is rewritten by itself after each confirmation or exclusion (the flow queues it); if it is not here yet, reload in a few seconds or rewrite it now."
                        }
                        (self.refresh_form("Rewrite the report now"))
                    }
                } @else {
                    p.muted { "Up to date with every confirmed session. It is rewritten by itself after each new confirmation or exclusion." }
                }
            }
        }
    }

    fn filter_words(&self) -> String {
        let mut parts = Vec::new();
        if let Some(nd) = &self.filter.nd {
            parts.push(format!("ND category {nd}"));
        }
        if let Some(v) = &self.filter.variant {
            parts.push(format!("variant {v}"));
        }
        if let Some(o) = &self.filter.outcome {
            let label = OUTCOME_OPTIONS.iter().find(|(k, _)| k == o).map_or(o.as_str(), |(_, l)| l);
            parts.push(format!("sessions where a tester {}", label.to_lowercase()));
        }
        parts.join(", ")
    }

    /// The segment form: a plain GET form, so each state is a link of its own.
    fn filters(&self) -> Markup {
        let f = self.filter;
        html! {
            form.filters method="get" action={"/app/studies/" (self.study.id)} aria-labelledby="filters-h" {
                h2 #filters-h { "Segment" }
                div.row {
                    div {
                        label for="f-nd" { "ND category" }
                        select #f-nd name="nd" {
                            option value="" { "All testers" }
                            @for c in self.nd_options { option value=(c) selected[f.nd.as_deref() == Some(c.as_str())] { (c) } }
                        }
                    }
                    div {
                        label for="f-variant" { "Variant" }
                        select #f-variant name="variant" {
                            option value="" { "All variants" }
                            @for v in self.variant_options { option value=(v) selected[f.variant.as_deref() == Some(v.as_str())] { (v) } }
                        }
                    }
                    div {
                        label for="f-outcome" { "Task outcome" }
                        select #f-outcome name="outcome" {
                            option value="" { "Any outcome" }
                            @for (k, l) in &OUTCOME_OPTIONS { option value=(k) selected[f.outcome.as_deref() == Some(*k)] { (l) } }
                        }
                    }
                    div { button.secondary type="submit" { "Show segment" } }
                }
                p.muted { "Only ND categories at least 2 testers share are offered; strata keep the same rule." }
            }
        }
    }

    fn export_and_share(&self) -> Markup {
        let id = &self.study.id;
        html! {
            section aria-labelledby="share-h" {
                h2 #share-h { "Export and share" }
                ul {
                    li { a href={"/app/studies/" (id) "/report.csv?table=findings"} download { "Findings as CSV" } }
                    li { a href={"/app/studies/" (id) "/report.csv?table=tasks"} download { "Tasks as CSV" } }
                    li { "A printable page: print this page (navigation and forms are left out), or save it as PDF from the print dialog." }
                }
                form method="post" action={"/app/studies/" (id) "/shares"} {
                    input type="hidden" name="csrf" value=(self.viewer.csrf);
                    label for="share-days" { "Read-only link for someone without an account, valid for" }
                    " "
                    select #share-days name="days" {
                        option value="7" { "7 days" }
                        option value="14" selected { "14 days" }
                        option value="30" { "30 days" }
                        option value="90" { "90 days" }
                    }
                    " "
                    button.secondary type="submit" { "Create link" }
                }
                @if !self.shares.is_empty() {
                    div.table-wrap { table {
                        caption { "Share links (the page shows the report without any tester's personal data)" }
                        thead { tr { th scope="col" { "Created" } th scope="col" { "Expires" } th scope="col" { "State" } th scope="col" { "Action" } } }
                        tbody { @for s in self.shares {
                            tr {
                                td { (s.created_at) } td { (s.expires_at) } td { (s.status) }
                                td { @if s.status == crate::domain::ShareStatus::Active {
                                    form method="post" action={"/app/studies/" (id) "/shares/" (s.share_id) "/revoke"} {
                                        input type="hidden" name="csrf" value=(self.viewer.csrf);
                                        button.secondary type="submit" aria-label={"Revoke the link created " (s.created_at)} { "Revoke" }
                                    }
                                } @else { "—" } }
                            }
                        } }
                    } }
                }
            }
        }
    }
}

/// The report's sections. `ids`: the sessions a segment covers (the frustration timeline's);
/// without it, the confirmed sessions not excluded.
pub fn report_sections(
    r: &StudyReport,
    sessions: &[Session],
    ids: Option<&Vec<String>>,
    ctx: Context<'_>,
) -> Markup {
    let mut findings = r.findings.clone();
    by_severity(&mut findings, |f| f);
    let band = words(&r.band);
    let timelines: Vec<openscouter_analysis::Timeline> = sessions
        .iter()
        .filter(|s| match ids {
            Some(ids) => ids.iter().any(|i| s.id == *i),
            None => s.status == crate::domain::SessionStatus::Confirmed && s.excluded_reason.is_none(),
        })
        .filter_map(|s| pipeline::stored_analysis(s)?.timeline)
        .collect();
    let timeline_refs: Vec<&openscouter_analysis::Timeline> = timelines.iter().collect();
    html! {
        h2 { "Score" }
        div.score {
            (svg::gauge(r.score, &band))
            div {
                p.lead { "Accessibility score " strong { (r.score) " of 100" } ", " span class={"band " (band)} { (band) " band" } }
                p { (r.summary) }
                p.muted { "From " (r.sessions) " confirmed sessions by " (r.testers) " testers." }
            }
        }
        h2 { "Findings" }
        @if findings.is_empty() {
            p { "No confirmed finding." }
        } @else {
            (charts::severity_matrix(&findings))
            p.muted { (findings.len()) " findings, most severe first." }
            @for f in &findings { (finding_article(f, ctx, None, None)) }
        }
        h2 { "Tasks" }
        (charts::outcome_bars(&r.tasks))
        div.table-wrap {
            table {
                caption { "Task success (success or indirect): Beta posterior mean with its 95 % credible interval" }
                thead { tr {
                    th scope="col" { "Task" } th scope="col" class="num" { "Attempts" } th scope="col" class="num" { "Successes" }
                    th scope="col" class="num" { "of them indirect" }
                    th scope="col" class="num" { "Success (posterior mean)" } th scope="col" { "95 % credible interval" }
                    th scope="col" class="num" { "Time on task" } th scope="col" class="num" { "SEQ" } th scope="col" class="num" { "Lostness" }
                } }
                tbody {
                    @for t in &r.tasks {
                        tr {
                            th scope="row" { (t.title) }
                            td.num { (t.attempts) } td.num { (t.successes) } td.num { (t.outcomes.indirect) }
                            td.num { (pct(t.success_rate)) }
                            td { (pct(t.ci95[0])) " to " (pct(t.ci95[1])) " " (svg::interval(t.success_rate, t.ci95[0], t.ci95[1])) }
                            td.num { @if let Some(s) = t.time_on_task_geo_mean_seconds { (format!("{s:.0} s")) } @else { "—" } }
                            td.num { @if let Some(s) = t.seq_mean { (format!("{s:.1}")) } @else { "—" } }
                            td.num { @if let Some(l) = t.lostness { (format!("{l:.2}")) } @else { "—" } }
                        }
                    }
                }
            }
        }
        (charts::time_on_task(&r.tasks))
        @if !matches!(ctx, Context::Shared) {
            h2 { "Frustration across sessions" }
            (charts::study_timeline(&timeline_refs))
        }
        h2 { "SUS and NPS" }
        dl.facts {
            dt { "SUS" }
            dd { @if let Some(s) = r.sus.score { (format!("{s:.1}")) " of 100" } @else { "No answers" } " (" (r.sus.responses) " responses)" }
            dt { "NPS" }
            dd {
                @if let Some(s) = r.nps.score { (format!("{s:.0}")) } @else { "No answers" }
                " (" (r.nps.promoters) " promoters, " (r.nps.passives) " passives, " (r.nps.detractors) " detractors)"
            }
        }
        (charts::surveys(&r.sus, &r.nps))
        h2 { "Neurodivergent strata" }
        div.table-wrap {
            table {
                caption { "Groups with fewer than 2 testers are suppressed and never named" }
                thead { tr {
                    th scope="col" { "Category" } th scope="col" class="num" { "Testers" } th scope="col" class="num" { "Task success (observed)" }
                    th scope="col" { "95 % credible interval" }
                    th scope="col" class="num" { "Mean frustration" } th scope="col" class="num" { "Findings" }
                } }
                tbody {
                    @for s in &r.nd_stratification {
                        tr {
                            @if s.suppressed {
                                th scope="row" { "Suppressed group" }
                                td colspan="5" { "Fewer than 2 testers: not shown" }
                            } @else {
                                th scope="row" { (s.nd_category.clone().unwrap_or_default()) }
                                td.num { (s.testers.unwrap_or(0)) }
                                td.num { @if let Some(v) = s.task_success { (pct(v)) } @else { "—" } }
                                td { @if let Some([lo, hi]) = s.task_success_ci95 { (pct(lo)) " to " (pct(hi)) " " (svg::interval(s.task_success.unwrap_or(0.0), lo, hi)) } @else { "—" } }
                                td.num { @if let Some(v) = s.mean_frustration { (format!("{v:.2}")) } @else { "—" } }
                                td.num { (s.findings.unwrap_or(0)) }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(ab) = &r.ab_test {
            h2 { "A/B test" }
            div.table-wrap {
                table {
                    caption { "Pooled task success per variant and the probability each is best" }
                    thead { tr {
                        th scope="col" { "Variant" } th scope="col" class="num" { "Testers" } th scope="col" class="num" { "Attempts" }
                        th scope="col" class="num" { "Successes" } th scope="col" class="num" { "Success (posterior mean)" } th scope="col" class="num" { "P(best)" }
                    } }
                    tbody {
                        @for v in &ab.variants {
                            tr {
                                th scope="row" { (v.label) }
                                td.num { (v.testers) } td.num { (v.attempts) } td.num { (v.successes) }
                                td.num { (charts::with_interval(v.success_rate, Some(v.ci95))) }
                                td.num { (pct(ab.probability_best.get(&v.label).copied().unwrap_or(0.0))) }
                            }
                        }
                    }
                }
            }
            @for w in &ab.simpson_warnings { div.notice role="note" { p { (w.message) } } }
        }
    }
}

fn sessions_table(rows: &[Session], total: u64, viewer: &Viewer, reported: bool) -> Markup {
    html! {
        @if rows.is_empty() {
            p { "No session yet." }
        } @else {
            div.table-wrap {
                table {
                    caption { (total) " sessions" @if total > rows.len() as u64 { " (the first " (rows.len()) " shown)" } }
                    thead { tr {
                        th scope="col" { "Tester" } th scope="col" { "ND categories" } th scope="col" { "Status" }
                        th scope="col" class="num" { "Frustration" } th scope="col" { "Started" } th scope="col" { "Export" }
                        th scope="col" { "In the synthesis" }
                    } }
                    tbody {
                        @for s in rows {
                            @let label = crate::services::analysis_input::tester_label(s);
                            tr {
                                th scope="row" { a href={"/app/sessions/" (s.id)} { (label) } }
                                td { (crate::services::analysis_input::nd_categories(s).join(", ")) }
                                td { (super::layout::session_words(s.status)) }
                                td.num { @if let Some(a) = pipeline::stored_analysis(s) { (format!("{:.2}", a.insights.overall_frustration_score)) } @else { "—" } }
                                td { (when(s.started_at)) }
                                td {
                                    a href={"/app/sessions/" (s.id) "/export?format=ndjson"} download { "NDJSON" } " · "
                                    a href={"/app/sessions/" (s.id) "/export?format=csv"} download { "CSV" }
                                }
                                td { (exclusion_cell(s, &label, viewer, reported)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Whether the session counts in the synthesis, with the form that changes it.
fn exclusion_cell(s: &Session, label: &str, viewer: &Viewer, reported: bool) -> Markup {
    let confirmed = s.status == crate::domain::SessionStatus::Confirmed;
    html! {
        @if let Some(reason) = &s.excluded_reason {
            "Left out: " q { (reason) }
            form method="post" action={"/app/sessions/" (s.id) "/exclusion"} {
                input type="hidden" name="csrf" value=(viewer.csrf);
                input type="hidden" name="action" value="include";
                button.secondary type="submit" aria-label={"Include " (label) " again"} { "Include again" }
            }
        } @else if confirmed {
            @if reported { "Included" } @else { "Will be included" }
            form.exclude method="post" action={"/app/sessions/" (s.id) "/exclusion"} {
                input type="hidden" name="csrf" value=(viewer.csrf);
                input type="hidden" name="action" value="exclude";
                label for={"reason-" (s.id)} { "Reason to leave " (label) " out" }
                input type="text" id={"reason-" (s.id)} name="reason" maxlength="500" required;
                button.secondary type="submit" { "Leave out" }
            }
        } @else {
            "Not confirmed yet"
        }
    }
}

/// Queues Agent 4 for the study, then back to its page.
pub async fn request_report(
    State(state): State<AppState>,
    Path(id): Path<StudyId>,
    Pressed(caller): Pressed<BusinessOrAdmin>,
) -> AppResult<Response> {
    reports::request_study_report(&state, &caller, &id).await?;
    Ok(see_other(&format!("/app/studies/{id}?queued=1"), None))
}

/// The exclusion form's fields.
#[derive(Debug, serde::Deserialize)]
pub struct ExclusionForm {
    csrf: String,
    action: String,
    #[serde(default)]
    reason: String,
}

/// Leaves a session out of the synthesis (or takes it in again), then back to the study.
pub async fn exclusion(
    State(state): State<AppState>,
    caller: BusinessOrAdmin,
    Path(id): Path<SessionId>,
    Form(f): Form<ExclusionForm>,
) -> AppResult<Response> {
    check_csrf(&state, &caller, &f.csrf)?;
    let reason = match f.action.as_str() {
        "exclude" => Some(f.reason.as_str()),
        "include" => None,
        _ => return Err(AppError::Unprocessable("action: must be exclude or include".into())),
    };
    let s = research::set_exclusion(&state, &caller, &id, reason).await?;
    Ok(see_other(&format!("/app/studies/{}?queued=1#sessions", s.study_id), None))
}

/// `/app/studies/{id}/report.csv?table=findings|tasks`.
pub async fn report_csv(
    State(state): State<AppState>,
    caller: BusinessOrAdmin,
    Path(id): Path<StudyId>,
    uri: Uri,
) -> AppResult<Response> {
    crate::http::routes::research::csv_response(&state, &caller, &id, &uri).await
}

#[derive(Debug, serde::Deserialize)]
pub struct ShareForm {
    csrf: String,
    days: String,
}

/// Creates a share link and shows it once.
pub async fn create_share(
    State(state): State<AppState>,
    caller: BusinessOrAdmin,
    Path(id): Path<StudyId>,
    Form(f): Form<ShareForm>,
) -> AppResult<Response> {
    check_csrf(&state, &caller, &f.csrf)?;
    let days: i64 =
        f.days.trim().parse().map_err(|_| AppError::Unprocessable("days: a whole number".into()))?;
    let share = research::create_share(&state, &caller, &id, days).await?;
    let viewer = Viewer::new(&state, &caller);
    let path = share.path.clone().unwrap_or_default();
    Ok(layout::page(
        "Share link created",
        &viewer,
        "/app/studies",
        html! {
            p { a href={"/app/studies/" (id)} { "← Back to the study" } }
            h1 { "Share link created" }
            div.notice role="status" {
                p { "Copy this link now: it is shown only once (only its hash is kept). It opens the study report read-only, without an account and without any tester's personal data, until " (share.expires_at) " or until you revoke it." }
                p { a #share-link href=(path) { (path) } }
            }
            p.muted { "Give the link with this site's address in front of it." }
        },
    ))
}

/// Revokes a share link, then back to the study.
pub async fn revoke_share(
    State(state): State<AppState>,
    Path((id, share_id)): Path<(StudyId, String)>,
    Pressed(caller): Pressed<BusinessOrAdmin>,
) -> AppResult<Response> {
    research::revoke_share(&state, &caller, &id, &share_id).await?;
    Ok(see_other(&format!("/app/studies/{id}#share-h"), None))
}

/// `/app/share/{token}`: the study report for someone without an account (404 once revoked or
/// expired). Scores, findings without evidence, tasks, surveys and strata: no session, no
/// tester label, no transcript.
pub async fn shared(State(state): State<AppState>, Path(token): Path<String>) -> AppResult<Response> {
    let (study, report, expires_at) = research::open_share(&state, &token).await?;
    let body = html! {
        h1 { (study.definition.title) }
        p.muted { "A read-only copy of the study report, shared by the study's team. This link works until " (when(expires_at)) "." }
        @match &report {
            Some(r) => (report_sections(r, &[], None, Context::Shared)),
            None => p { "No study report has been written yet." },
        }
    };
    let mut res = layout::public(
        axum::http::StatusCode::OK,
        &format!("{} · shared report", study.definition.title),
        body,
    );
    res.headers_mut().insert("x-robots-tag", axum::http::HeaderValue::from_static("noindex, nofollow"));
    Ok(res)
}
