//! Request body limits: a declared `Content-Length` over the limit is refused at once (413,
//! before a byte of the body is read), and the limit rides along with the request so that a
//! chunked body caught later is refused with the same message.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// The body limit of the route group that serves a request, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

/// Refuses a declared body over the limit without waiting for it; puts the limit in the
/// request's extensions for the JSON extractors; gives a framework-made 413 the same message.
pub async fn enforce(State(limit): State<BodyLimit>, mut req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit.0 as u64) {
        return AppError::body_too_large(limit.0).into_response();
    }
    req.extensions_mut().insert(limit);
    let res = next.run(req).await;
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if res.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return AppError::body_too_large(limit.0).into_response();
    }
    res
}
