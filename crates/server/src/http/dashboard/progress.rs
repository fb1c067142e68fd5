//! A running study's page updates itself: `/app/studies/{id}/progress` answers the counts the
//! page shows (JSON, the same words), and `/app/assets/progress.js` (the one first-party script
//! of the dashboard, under its own page CSP) asks for them every 15 s.

use std::sync::LazyLock;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::ids::StudyId;
use crate::error::AppResult;
use crate::http::extract::BusinessOrAdmin;
use crate::http::state::AppState;
use crate::services::studies;
use crate::store::Study;

/// The script, compiled in.
pub const JS: &str = include_str!("../../../assets/app/progress.js");

/// `/app/assets/progress.js?v=<hash>`: cached forever, the hash changes with the file.
pub static JS_HREF: LazyLock<String> = LazyLock::new(|| {
    let hash = crate::auth::secrets::sha256_hex(JS);
    format!("/app/assets/progress.js?v={}", &hash[..12])
});

/// The CSP of a page that carries the progress script: the dashboard's, plus scripts and
/// requests to this origin only (no inline script, no eval).
pub const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Whether the study still changes by itself (it takes sessions).
pub fn running(study: &Study) -> bool {
    studies::TAKING_SESSIONS.contains(&study.status)
}

/// The sessions line of the study page.
pub fn sessions_line(study: &Study) -> String {
    let seats = if study.tester_count == 1 { "seat" } else { "seats" };
    format!(
        "{} confirmed of {}; {} of {} {seats} taken",
        study.sessions_confirmed, study.sessions_total, study.seats_taken, study.tester_count
    )
}

/// Gives a page the progress script's CSP.
pub fn allow_script(mut res: Response) -> Response {
    res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    res
}

#[derive(Serialize)]
struct Progress {
    status: &'static str,
    sessions: String,
    running: bool,
}

/// `/app/studies/{id}/progress`: what the study page shows, now.
pub async fn progress(
    State(state): State<AppState>,
    caller: BusinessOrAdmin,
    Path(id): Path<StudyId>,
) -> AppResult<Response> {
    let study = studies::get_visible(&state, &caller, &id).await?;
    let body = Progress {
        status: super::layout::study_words(study.status),
        sessions: sessions_line(&study),
        running: running(&study),
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response())
}

/// The script itself.
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        JS,
    )
        .into_response()
}
