//! The browser recorder served at `/sdk/recorder.js`: embedded in the binary, loadable from any
//! page (the product under test lives on its own origin).

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::http::state::AppState;

/// The recorder's source, compiled into the binary (no file system, no network at run time).
pub const RECORDER_JS: &str = include_str!("../../../assets/sdk/recorder.js");

/// `/sdk/recorder.js`, outside `/api` (no rate limit, no auth: it is a public static file).
pub fn router() -> Router<AppState> {
    Router::new().route("/sdk/recorder.js", get(recorder))
}

async fn recorder() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            // A product page on another origin must be able to load it as a script.
            (header::HeaderName::from_static("cross-origin-resource-policy"), "cross-origin"),
        ],
        RECORDER_JS,
    )
        .into_response()
}
