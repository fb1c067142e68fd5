//! The session's screen recording replayed on the dashboard (api.md §5.1): rrweb's own
//! `Replayer` (`@rrweb/replay` 2.1.6, vendored in `assets/vendor/rrweb-replay/`, served from
//! the binary), in its sandboxed iframe without `allow-scripts` (the replayed page never runs
//! script), under a page CSP that allows this origin's scripts only. The findings and critical
//! moments are markers (plain buttons) that seek the replay; the controls are native buttons and
//! a range input, so the keyboard works them.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use maud::html;
use openscouter_analysis::Finding;

use super::layout::{self, Viewer, words};
use crate::domain::ids::SessionId;
use crate::error::{AppError, AppResult};
use crate::http::extract::UserJwt;
use crate::http::state::AppState;
use crate::services::analysis_input::tester_label;
use crate::services::{pipeline, recording, sessions, studies};

/// rrweb's replayer and its stylesheet (MIT, see `assets/vendor/rrweb-replay/README.md`).
pub const PLAYER_JS: &str = include_str!("../../../assets/vendor/rrweb-replay/replay.min.js");
pub const PLAYER_CSS: &str = include_str!("../../../assets/vendor/rrweb-replay/style.min.css");
/// The page's own script: loads the recording, drives the replayer from the controls.
pub const PAGE_JS: &str = include_str!("../../../assets/app/replay.js");

/// The replay page's CSP: scripts from this origin only (no inline script, no eval); inline
/// styles for the replayed DOM's own style attributes and rebuilt stylesheets; nothing fetched
/// from the recorded site.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
     font-src 'self' data:; connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn asset(ct: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, ct), (header::CACHE_CONTROL, "public, max-age=86400")], body).into_response()
}

pub async fn player_js() -> Response {
    asset("text/javascript; charset=utf-8", PLAYER_JS)
}

pub async fn player_css() -> Response {
    asset("text/css; charset=utf-8", PLAYER_CSS)
}

pub async fn page_js() -> Response {
    asset("text/javascript; charset=utf-8", PAGE_JS)
}

/// `/app/sessions/:id/recording.json`: the recording for the page's script (same access as
/// `GET /api/sessions/:id/recording`).
pub async fn data(
    State(state): State<AppState>,
    caller: UserJwt,
    Path(id): Path<SessionId>,
) -> AppResult<Response> {
    let stream = recording::open(&state, &caller, &id).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], Body::from_stream(stream)).into_response())
}

/// A marker: when (absolute ms), what kind, and its label.
struct Marker {
    at: i64,
    kind: &'static str,
    label: String,
}

/// `/app/sessions/:id/replay`.
pub async fn page(
    State(state): State<AppState>,
    caller: UserJwt,
    Path(id): Path<SessionId>,
) -> AppResult<Response> {
    let session = sessions::get(&state, &caller, &id).await?;
    let study = studies::get_visible(&state, &caller, &session.study_id).await?;
    let summary =
        recording::summary_of(&state, &session).await?.ok_or_else(|| AppError::not_found("Recording"))?;
    let rows = pipeline::findings(&state, &caller, &id).await?;
    let mut markers = Vec::new();
    for r in &rows {
        let f: Finding = serde_json::from_str(&r.data).map_err(AppError::internal)?;
        if let Some(e) = f.evidence.iter().min_by_key(|e| e.timestamp.0) {
            markers.push(Marker { at: e.timestamp.0, kind: "Finding", label: f.title.clone() });
        }
    }
    if let Some(a) = pipeline::stored_analysis(&session) {
        for m in &a.insights.critical_moments {
            markers.push(Marker {
                at: m.timestamp.0,
                kind: "Critical moment",
                label: format!("{} {}: {}", words(&m.severity), words(&m.kind), m.context),
            });
        }
    }
    markers.sort_by_key(|m| m.at);
    let start = crate::domain::stream::parse_time(summary.started_at.as_deref().unwrap_or("")).unwrap_or(0);
    let end = crate::domain::stream::parse_time(summary.ended_at.as_deref().unwrap_or("")).unwrap_or(start);
    let title = study.definition.title.clone();
    let viewer = Viewer::new(&state, &caller);
    let secs = |ms: i64| format!("{}:{:02}", ms.max(0) / 60_000, (ms.max(0) / 1000) % 60);
    let body = html! {
        link rel="stylesheet" href="/app/assets/rrweb-replay.css";
        p { a href={"/app/sessions/" (session.id)} { "← " (tester_label(&session)) " · " (title) } }
        h1 { "Screen recording" }
        @if !summary.replayable {
            div.notice role="alert" {
                p { strong { "Parts of this recording cannot be replayed." } }
                ul { @for p in &summary.problems { li { (p.at) ": " (p.reason) } } }
            }
        }
        section aria-labelledby="player-h" {
            h2 #player-h { "Replay" }
            p.hint { "The recorded page is rebuilt without running any of its scripts. Typed text shows as *." }
            div #replay data-src={"/app/sessions/" (session.id) "/recording.json"} data-start=(start) data-end=(end) {}
            div.controls role="group" aria-label="Replay controls" {
                button #replay-play type="button" disabled { "Play" }
                label for="replay-seek" { "Position" }
                input #replay-seek type="range" min="0" max=(end - start) step="100" value="0" disabled
                    aria-valuetext="0:00";
                output #replay-time for="replay-seek" { "0:00 / " (secs(end - start)) }
                label for="replay-speed" { "Speed" }
                select #replay-speed {
                    option value="1" selected { "1×" }
                    option value="2" { "2×" }
                    option value="4" { "4×" }
                }
            }
            p #replay-status role="status" { "Loading the recording…" }
        }
        section aria-labelledby="markers-h" {
            h2 #markers-h { "Findings and critical moments" }
            @if markers.is_empty() {
                p { "No finding or critical moment yet (the session is not analysed)." }
            } @else {
                ol.markers {
                    @for m in &markers {
                        li {
                            button.marker type="button" data-at=((m.at - start).max(0) / 100 * 100) {
                                span.when { (secs(m.at - start)) } " " strong { (m.kind) } " — " (m.label)
                            }
                        }
                    }
                }
            }
        }
        script src="/app/assets/rrweb-replay.js" {}
        script src="/app/assets/replay.js" {}
    };
    let mut res = layout::page(&format!("Replay · {title}"), &viewer, "/app/studies", body);
    res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    Ok(res)
}
