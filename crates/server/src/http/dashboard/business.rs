//! Business pages: the studies list and the study page (score, findings by severity with their
//! WCAG criterion, tasks with credible intervals, SUS/NPS, ND strata, A/B, sessions).

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use maud::{Markup, html};
use openscouter_analysis::{Finding, Severity, StudyReport};

use super::layout::{self, Viewer, pct, when, words};
use super::svg;
use super::web::{CsrfForm, Form, check_csrf, see_other};
use crate::error::{AppError, AppResult};
use crate::http::extract::{BusinessOrAdmin, Pagination};
use crate::http::state::AppState;
use crate::services::sessions::{self, SessionFilter};
use crate::services::{pipeline, reports, studies};
use crate::store::{Page, Session, Study};

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

/// One finding as an article: title, severity, WCAG criterion, prevalence, strata, evidence.
pub fn finding_article(f: &Finding, origin: Option<i64>, decision: Option<&str>) -> Markup {
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
                @if let Some(d) = decision { dt { "Tester's decision" } dd { (d) } }
            }
            p { (f.plain_description) }
            @if !f.recommendation.is_empty() { p { strong { "Recommendation: " } (f.recommendation) } }
            details {
                summary { "Evidence (" (f.evidence.len()) ")" }
                ul.evidence {
                    @for e in &f.evidence {
                        li {
                            @if let Some(o) = origin { (svg::clock(e.timestamp.0 - o)) " · " } @else { (e.timestamp) " · " }
                            (e.kind.replace('_', " ")) ": " (e.detail)
                        }
                    }
                }
            }
        }
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

/// `/app/studies/{id}`.
pub async fn study(
    State(state): State<AppState>,
    caller: BusinessOrAdmin,
    Path(id): Path<String>,
    uri: Uri,
) -> AppResult<Response> {
    let (study, report) = studies::get_with_report(&state, &caller, &id).await?;
    let report: Option<StudyReport> =
        report.map(|r| serde_json::from_str(&r.data)).transpose().map_err(AppError::internal)?;
    let queued = uri.query().is_some_and(|q| q.split('&').any(|kv| kv == "queued=1"));
    let filter = SessionFilter { study_id: Some(id.clone()), status: None };
    let (sessions, total) = sessions::list(&state, &caller, &filter, Page { page: 1, limit: 100 }).await?;
    let viewer = Viewer::new(&state, &caller);
    let title = study.definition.title.clone();
    Ok(layout::page(
        &title,
        &viewer,
        "/app/studies",
        study_body(&study, report, queued, &sessions, total, &viewer),
    ))
}

fn study_body(
    study: &Study,
    report: Option<StudyReport>,
    queued: bool,
    sessions: &[Session],
    total: u64,
    viewer: &Viewer,
) -> Markup {
    html! {
        p { a href="/app/studies" { "← All studies" } }
        h1 { (study.definition.title) }
        (super::study_form::actions(study, &viewer.csrf, viewer.billing))
        dl.facts {
            dt { "Status" } dd { (study.status.as_str()) }
            dt { "Product" } dd { code { (study.definition.prototype_url) } }
            dt { "Sessions" } dd { (study.sessions_confirmed) " confirmed of " (study.sessions_total) "; " (study.seats_taken) " of " (study.tester_count) " seats taken" }
            dt { "Created" } dd { (when(study.created_at)) }
        }
        @if queued {
            div.notice role="status" { p { "The study report is being written. Reload this page in a few seconds." } }
        }
        @match report {
            Some(r) => (report_sections(r)),
            None => {
                h2 { "Score" }
                p { "No study report yet. It is written from confirmed sessions only." }
                @if study.sessions_confirmed > 0 {
                    form method="post" action={"/app/studies/" (study.id) "/report"} {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        button type="submit" { "Write the study report" }
                    }
                }
            }
        }
        h2 #sessions { "Sessions" }
        (sessions_table(sessions, total))
    }
}

fn report_sections(mut r: StudyReport) -> Markup {
    by_severity(&mut r.findings, |f| f);
    let band = words(&r.band);
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
        @if r.findings.is_empty() {
            p { "No confirmed finding." }
        } @else {
            p.muted { (r.findings.len()) " findings, most severe first." }
            @for f in &r.findings { (finding_article(f, None, None)) }
        }
        h2 { "Tasks" }
        div.table-wrap {
            table {
                caption { "Task success: Beta posterior mean with its 95 % credible interval" }
                thead { tr {
                    th scope="col" { "Task" } th scope="col" class="num" { "Attempts" } th scope="col" class="num" { "Successes" }
                    th scope="col" class="num" { "Success (posterior mean)" } th scope="col" { "95 % credible interval" }
                    th scope="col" class="num" { "Time on task" } th scope="col" class="num" { "SEQ" } th scope="col" class="num" { "Lostness" }
                } }
                tbody {
                    @for t in &r.tasks {
                        tr {
                            th scope="row" { (t.title) }
                            td.num { (t.attempts) } td.num { (t.successes) }
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
        h2 { "Neurodivergent strata" }
        div.table-wrap {
            table {
                caption { "Groups with fewer than 2 testers are suppressed and never named" }
                thead { tr {
                    th scope="col" { "Category" } th scope="col" class="num" { "Testers" } th scope="col" class="num" { "Task success" }
                    th scope="col" class="num" { "Mean frustration" } th scope="col" class="num" { "Findings" }
                } }
                tbody {
                    @for s in &r.nd_stratification {
                        tr {
                            @if s.suppressed {
                                th scope="row" { "Suppressed group" }
                                td colspan="4" { "Fewer than 2 testers: not shown" }
                            } @else {
                                th scope="row" { (s.nd_category.clone().unwrap_or_default()) }
                                td.num { (s.testers.unwrap_or(0)) }
                                td.num { @if let Some(v) = s.task_success { (pct(v)) } @else { "—" } }
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
                                td.num { (pct(v.success_rate)) }
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

fn sessions_table(rows: &[Session], total: u64) -> Markup {
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
                    } }
                    tbody {
                        @for s in rows {
                            tr {
                                th scope="row" { a href={"/app/sessions/" (s.id)} { (crate::services::analysis_input::tester_label(s)) } }
                                td { (crate::services::analysis_input::nd_categories(s).join(", ")) }
                                td { (s.status.as_str()) }
                                td.num { @if let Some(a) = pipeline::stored_analysis(s) { (format!("{:.2}", a.insights.overall_frustration_score)) } @else { "—" } }
                                td { (when(s.started_at)) }
                                td {
                                    a href={"/app/sessions/" (s.id) "/export?format=ndjson"} download { "NDJSON" } " · "
                                    a href={"/app/sessions/" (s.id) "/export?format=csv"} download { "CSV" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Queues Agent 4 for the study, then back to its page.
pub async fn request_report(
    State(state): State<AppState>,
    caller: BusinessOrAdmin,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> AppResult<Response> {
    check_csrf(&state, &caller, &f.csrf)?;
    reports::request_study_report(&state, &caller, &id).await?;
    Ok(see_other(&format!("/app/studies/{id}?queued=1"), None))
}
