//! The browser recorder served at `/sdk/recorder.js`: embedded in the binary, loadable from any
//! page (the product under test lives on its own origin).

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::state::AppState;

/// The recorder's source, compiled into the binary (no file system, no network at run time).
pub const RECORDER_JS: &str = include_str!("../../../assets/sdk/recorder.js");

/// `/sdk/recorder.js`, outside `/api` (no rate limit, no auth: it is a public static file).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(recorder))
}

/// The browser recorder: a dependency-free script a page or the extension loads with a
/// session's test token (`data-session`, `data-token`); it streams clicks, scrolls, input
/// lengths (never values), focus, navigation and errors to `POST /api/data/events`. See
/// docs/recorder.md.
#[utoipa::path(get, path = "/sdk/recorder.js", tag = "ingestion",
    responses((status = 200, description = "The recorder script", content_type = "text/javascript")))]
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
