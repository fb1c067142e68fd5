//! The session page. A business (or admin) reads the frustration timeline, critical moments,
//! task spans and findings; the tester who ran it gets the confirmation page instead: confirm
//! or reject each finding and add context (the human gate), with plain form controls only.

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use maud::{Markup, html};
use openscouter_analysis::Finding;

use super::business::{Context, by_severity, finding_article};
use super::layout::{self, Viewer, when, words};
use super::svg::{self, Moment, Span, TimelineChart};
use super::web::{Form, check_csrf, see_other};
use crate::domain::ids::SessionId;
use crate::domain::{Decision, Role, SessionStatus};
use crate::error::{AppError, AppResult};
use crate::http::extract::UserJwt;
use crate::http::state::AppState;
use crate::services::analysis_input::{nd_categories, tester_label};
use crate::services::pipeline::{self, ConfirmIn, DecisionIn, HiddenFindings, StoredAnalysis};
use crate::services::research::{self, TestersWords};
use crate::services::{sessions, studies};
use crate::store::{FindingRow, Session};

/// The session's findings with their rows, most severe first.
fn parse_findings(rows: &[FindingRow]) -> AppResult<Vec<(Finding, &FindingRow)>> {
    let mut out = rows
        .iter()
        .map(|r| Ok((serde_json::from_str::<Finding>(&r.data).map_err(AppError::internal)?, r)))
        .collect::<AppResult<Vec<_>>>()?;
    by_severity(&mut out, |(f, _)| f);
    Ok(out)
}

fn decision_text(r: &FindingRow) -> &'static str {
    match r.decision {
        Some(Decision::Confirm) => "confirmed",
        Some(Decision::Reject) => "rejected",
        None => "awaiting the tester",
    }
}

/// `/app/sessions/{id}`.
pub async fn page(
    State(state): State<AppState>,
    caller: UserJwt,
    Path(id): Path<SessionId>,
    uri: Uri,
) -> AppResult<Response> {
    let session = sessions::get(&state, &caller, &id).await?;
    let study = studies::get_visible(&state, &caller, &session.study_id).await?;
    let (rows, hidden) = pipeline::findings_with_hidden(&state, &caller, &id).await?;
    let viewer = Viewer::new(&state, &caller);
    let saved = uri.query().is_some_and(|q| q.split('&').any(|kv| kv == "saved=1"));
    let title = study.definition.title.clone();
    if caller.role == Role::Tester {
        let body = confirmation(&session, &title, &rows, &viewer, saved)?;
        return Ok(layout::page(&format!("Check the findings · {title}"), &viewer, "/app/tester", body));
    }
    let words = research::testers_words(&state, &caller, &session).await?;
    let recorded = crate::services::recording::summary_of(&state, &session).await?.is_some();
    let body = report_view(&session, &title, &rows, hidden, &words, recorded)?;
    Ok(layout::page(&format!("{} · {title}", tester_label(&session)), &viewer, "/app/studies", body))
}

fn report_view(
    s: &Session,
    study_title: &str,
    rows: &[FindingRow],
    hidden: HiddenFindings,
    tw: &TestersWords,
    recorded: bool,
) -> AppResult<Markup> {
    let stored = pipeline::stored_analysis(s);
    let findings = parse_findings(rows)?;
    let origin = s.started_at;
    let categories = nd_categories(s);
    // Every moment behind a finding, once per time: the anchors the study page links to.
    let mut moments: Vec<(i64, String, String, &str)> = findings
        .iter()
        .flat_map(|(f, _)| {
            f.evidence
                .iter()
                .map(move |e| (e.timestamp.0, e.kind.replace('_', " "), e.detail.clone(), f.title.as_str()))
        })
        .collect();
    moments.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    Ok(html! {
        p { a href={"/app/studies/" (s.study_id)} { "← " (study_title) } }
        h1 { (tester_label(s)) " · " (study_title) }
        dl.facts {
            dt { "Status" } dd { (super::layout::session_words(s.status)) }
            dt { "Started" } dd { (when(s.started_at)) }
            @if let Some(c) = s.completed_at { dt { "Completed" } dd { (when(c)) " (" (svg::clock(c - s.started_at - s.paused_ms)) " active)" } }
            @if let Some(v) = &s.variant { dt { "Variant" } dd { (v) } }
            @if !categories.is_empty() { dt { "ND categories" } dd { (categories.join(", ")) } }
            @if let Some(r) = &s.excluded_reason { dt { "Left out of the synthesis" } dd { q { (r) } } }
            dt { "Export" } dd {
                a href={"/app/sessions/" (s.id) "/export?format=ndjson"} download { "NDJSON" } " · "
                a href={"/app/sessions/" (s.id) "/export?format=csv"} download { "CSV" }
            }
            @if recorded { dt { "Screen recording" } dd { a href={"/app/sessions/" (s.id) "/replay"} { "Replay with the findings" } } }
        }
        @match &stored {
            None => { h2 { "Frustration" } p { "Not analysed yet." } }
            Some(a) => (analysis_sections(a, origin)),
        }
        h2 #findings { "Findings" }
        @if hidden.awaiting_tester + hidden.rejected > 0 {
            p.notice role="note" #hidden-findings {
                "Shown: the findings the tester confirmed. Not shown, as the tester was promised: "
                (hidden.awaiting_tester) " awaiting the tester's decision and " (hidden.rejected) " rejected by the tester."
            }
        }
        @if findings.is_empty() {
            p { "No confirmed finding in this session." }
        } @else {
            @for (f, r) in &findings { (finding_article(f, Context::Session { origin }, Some(decision_text(r)), r.comment.as_deref())) }
            h3 #moments { "Moments behind the findings" }
            div.table-wrap { table {
                caption { "Each piece of evidence at its time in the session" }
                thead { tr { th scope="col" { "Time" } th scope="col" { "What" } th scope="col" { "Detail" } th scope="col" { "Finding" } } }
                tbody { @for (i, (t, kind, detail, title)) in moments.iter().enumerate() {
                    @let first = i == 0 || moments[i - 1].0 != *t;
                    tr id=[first.then(|| format!("t{t}"))] {
                        td { (svg::clock(t - origin)) } td { (kind) } td { (detail) } td { (title) }
                    }
                } }
            } }
        }
        h2 #words { "In the tester's words" }
        h3 { "Think-aloud transcript" }
        @if tw.transcript.is_empty() { p { "No think-aloud recorded." } } @else {
            ol.transcript { @for (t, text) in &tw.transcript { li { span.time { (svg::clock(t - origin)) } " " (text) } } }
        }
        h3 { "Notes during the session" }
        @if tw.notes.is_empty() { p { "No notes." } } @else {
            ul.plain { @for (t, text) in &tw.notes { li { span.time { (svg::clock(t - origin)) } " " (text) } } }
        }
        h3 { "Comments when confirming" }
        @let comments: Vec<(&Finding, &str)> = findings.iter().filter_map(|(f, r)| Some((f, r.comment.as_deref()?))).collect();
        @if comments.is_empty() && tw.added_notes.is_none() { p { "No comments." } } @else {
            ul.plain {
                @for (f, c) in &comments { li { strong { (f.title) ": " } q { (c) } } }
                @if let Some(n) = &tw.added_notes { li { strong { "Anything else: " } q { (n) } } }
            }
        }
    })
}

fn analysis_sections(a: &StoredAnalysis, origin: i64) -> Markup {
    let i = &a.insights;
    let moments: Vec<Moment> = i
        .critical_moments
        .iter()
        .map(|m| Moment {
            at_ms: m.timestamp.0,
            severity: words(&m.severity),
            label: format!("{} — {}", words(&m.kind), m.context),
        })
        .collect();
    let drops: Vec<i64> = i.attention_drop_timestamps.iter().map(|t| t.0).collect();
    let spans: Vec<Span> = a
        .task_spans
        .iter()
        .map(|t| Span {
            label: t.title.clone(),
            start_ms: t.started_at.0,
            end_ms: t.ended_at.0,
            outcome: words(&t.outcome),
        })
        .collect();
    html! {
        h2 { "Frustration" }
        p.lead { "Overall frustration " strong { (format!("{:.2}", i.overall_frustration_score)) } " on a 0 to 1 scale." }
        p { (i.summary) }
        @match &a.timeline {
            None => p { "This session was analysed before timelines were stored; request the analysis again to draw it." },
            Some(tl) => {
                figure {
                    (TimelineChart { timeline: tl, moments: &moments, attention_drops: &drops, spans: &spans }.render())
                    figcaption {
                        ul.legend {
                            li { "Blue line: smoothed frustration (0 to 1)" }
                            li { "Dashed line: the 0.5 critical threshold" }
                            li { "Red diamonds: critical moments" }
                            li { "Purple triangles: attention drops" }
                            li { "Bands below: task attempts (green success, blue-green success by a detour, red failure or abandon)" }
                        }
                    }
                }
            }
        }
        h3 { "Critical moments" }
        @if !i.critical_moments.is_empty() {
            div.table-wrap { table {
                thead { tr { th scope="col" { "Time" } th scope="col" { "Severity" } th scope="col" { "Signal" } th scope="col" { "Where" } } }
                tbody { @for m in &i.critical_moments { tr {
                    td { (svg::clock(m.timestamp.0 - origin)) } td { (words(&m.severity)) } td { (words(&m.kind)) } td { (m.context) }
                } } }
            } }
        } @else { p { "None." } }
        h3 { "Attention drops" }
        @if drops.is_empty() { p { "None." } } @else {
            p { @for (n, t) in drops.iter().enumerate() { @if n > 0 { ", " } (svg::clock(t - origin)) } }
        }
        h3 { "Tasks" }
        @if spans.is_empty() { p { "No task attempt reported." } } @else {
            div.table-wrap { table {
                thead { tr { th scope="col" { "Task" } th scope="col" { "Outcome" } th scope="col" { "From" } th scope="col" { "To" } } }
                tbody { @for t in &spans { tr {
                    th scope="row" { (t.label) } td { (t.outcome) } td { (svg::clock(t.start_ms - origin)) } td { (svg::clock(t.end_ms - origin)) }
                } } }
            } }
        }
    }
}

fn confirmation(
    s: &Session,
    study_title: &str,
    rows: &[FindingRow],
    viewer: &Viewer,
    saved: bool,
) -> AppResult<Markup> {
    let findings = parse_findings(rows)?;
    let open = s.status == SessionStatus::Analyzed;
    Ok(html! {
        p { a href="/app/tester" { "← Offers and sessions" } }
        h1 { "Check what we found" }
        p.lead { "Your session for " strong { (study_title) } ". For each finding, tell us whether it matches what happened to you. What you reject never reaches the business." }
        @if saved { div.notice role="status" { p { "Your answers are saved." } } }
        @if s.status == SessionStatus::Confirmed { div.notice role="status" { p { "Every finding is decided. Thank you." } } }
        @if findings.is_empty() {
            p { "Nothing was found in this session." }
            @if open {
                form method="post" action={"/app/sessions/" (s.id) "/confirm"} {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    input type="hidden" name="nothing" value="1";
                    label for="added-notes" { "Anything you want to tell us (optional)" }
                    textarea #added-notes name="addedNotes" maxlength="5000" {}
                    p { button type="submit" { "Confirm the session" } }
                }
            }
        } @else if open {
            form method="post" action={"/app/sessions/" (s.id) "/confirm"} {
                input type="hidden" name="csrf" value=(viewer.csrf);
                @for (i, (f, r)) in findings.iter().enumerate() {
                    fieldset {
                        legend { "Finding " (i + 1) }
                        p { (f.plain_description) }
                        details {
                            summary { "When it happened (" (f.evidence.len()) ")" }
                            ul.evidence { @for e in &f.evidence { li { (tester_evidence(e, s.started_at)) } } }
                        }
                        div.choice {
                            input type="radio" id={"c-" (r.id)} name={"decision." (r.id)} value="confirm" checked[r.decision == Some(Decision::Confirm)];
                            label for={"c-" (r.id)} { "Yes, this happened to me (confirm)" }
                        }
                        div.choice {
                            input type="radio" id={"r-" (r.id)} name={"decision." (r.id)} value="reject" checked[r.decision == Some(Decision::Reject)];
                            label for={"r-" (r.id)} { "No, this is not what happened (reject)" }
                        }
                        label for={"n-" (r.id)} { "Context (optional)" }
                        textarea id={"n-" (r.id)} name={"comment." (r.id)} maxlength="2000" { (r.comment.clone().unwrap_or_default()) }
                    }
                }
                label for="added-notes" { "Anything else you want to tell us (optional)" }
                textarea #added-notes name="addedNotes" maxlength="5000" {}
                p { button type="submit" { "Save my answers" } }
            }
        } @else {
            ul { @for (f, r) in &findings { li { (f.plain_description) " " strong { "(" (decision_text(r)) ")" } } } }
        }
    })
}

/// One piece of evidence as the tester reads it: when, and what in plain words; their own
/// words (transcript, note) verbatim, never a selector or an error's text.
fn tester_evidence(e: &openscouter_analysis::Evidence, origin: i64) -> Markup {
    let what = match e.kind.as_str() {
        "transcript" | "note" => {
            return html! { (svg::clock(e.timestamp.0 - origin)) " · you said: " q { (e.detail) } };
        }
        "rage_click" => "many quick clicks on the same place",
        "unresponsive_click" | "dead_click" => "a click that seemed to do nothing",
        "error_click" | "error" => "the page showed an error",
        "input_struggle" => "typing and deleting in a field",
        "hesitation" | "hesitation_cluster" => "a long pause",
        "quick_back" => "going back right away",
        "revisit_loop" | "navigation_loop" => "going back and forth between pages",
        "scroll_thrash" => "scrolling up and down",
        "negative_speech" => "something you said",
        "negative_emotion" => "a moment of visible strain",
        "attention_drop" => "looking away",
        "task_failure" => "the task could not be finished",
        _ => "something we noticed",
    };
    html! { (svg::clock(e.timestamp.0 - origin)) " · " (what) }
}

/// Saves the tester's decisions from the confirmation form (fields `decision.<findingId>`,
/// `comment.<findingId>`, `addedNotes`); a finding left unanswered stays undecided.
pub async fn confirm(
    State(state): State<AppState>,
    caller: UserJwt,
    Path(id): Path<SessionId>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let csrf = pairs.iter().find(|(k, _)| k == "csrf").map_or("", |(_, v)| v.as_str());
    check_csrf(&state, &caller, csrf)?;
    let comment_of = |fid: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.strip_prefix("comment.") == Some(fid))
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let decisions: Vec<DecisionIn> = pairs
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("decision.").map(|fid| DecisionIn {
                finding_id: fid.to_owned(),
                decision: v.clone(),
                comment: comment_of(fid),
            })
        })
        .collect();
    // A session without findings is confirmed with its one button ("nothing" is set).
    let nothing_found = pairs.iter().any(|(k, v)| k == "nothing" && v == "1");
    if decisions.is_empty() && !nothing_found {
        return Err(AppError::Unprocessable("Choose confirm or reject for at least one finding".into()));
    }
    let added_notes = pairs
        .iter()
        .find(|(k, _)| k == "addedNotes")
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    pipeline::confirm(&state, &caller, &id, ConfirmIn { decisions, added_notes }).await?;
    Ok(see_other(&format!("/app/sessions/{id}?saved=1"), None))
}

/// The session's export as a download (the API's export, same rules).
pub async fn export(
    State(state): State<AppState>,
    caller: UserJwt,
    Path(id): Path<SessionId>,
    uri: Uri,
) -> AppResult<Response> {
    crate::http::routes::sessions::export_response(&state, &caller, &id, uri.query()).await
}
