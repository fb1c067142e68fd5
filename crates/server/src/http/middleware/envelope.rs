//! Puts framework-made errors (unknown route, wrong method, body limit, timeout, panic) in the
//! envelope, so clients parse every error the same way.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::envelope::Envelope;

/// Paths whose bodies follow another protocol (spec §1.1 exceptions), and the dashboard's
/// HTML pages (`dashboard::web::pages` renders their errors).
fn exempt(path: &str) -> bool {
    path == "/metrics"
        || crate::http::paths::MCP_PATHS.contains(&path)
        || path.starts_with("/api/oauth/")
        || path == "/app"
        || path.starts_with("/app/")
}

fn message_for(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "Not found".into(),
        StatusCode::METHOD_NOT_ALLOWED => "Method not allowed".into(),
        StatusCode::PAYLOAD_TOO_LARGE => "Request body too large".into(),
        StatusCode::REQUEST_TIMEOUT => "Request timed out".into(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported media type".into(),
        StatusCode::INTERNAL_SERVER_ERROR => "Internal server error".into(),
        s => s.canonical_reason().unwrap_or("Error").to_owned(),
    }
}

/// Rewrites error responses that are not already JSON into the envelope.
pub async fn envelope_errors(req: Request, next: Next) -> Response {
    let path_exempt = exempt(req.uri().path());
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if status.as_u16() < 400 || is_json || path_exempt {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let fresh = (status, Envelope::error(message_for(status))).into_response();
    let (fresh_parts, body) = fresh.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    drop(fresh_parts);
    Response::from_parts(parts, Body::new(body))
}

/// `CatchPanicLayer` handler: a 500 envelope without the panic's text (it is logged).
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = %detail, "handler panicked");
    (StatusCode::INTERNAL_SERVER_ERROR, Envelope::error("Internal server error")).into_response()
}
