//! The response envelope every JSON answer uses (`{success, data, error, metadata}`, spec §1.1).

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// `metadata` of list responses.
#[derive(Debug, Clone, Copy, Serialize, ToSchema, PartialEq, Eq)]
pub struct PageMeta {
    pub page: u32,
    pub limit: u32,
    pub total: u64,
}

/// The envelope. `data` is present on success, `error` on failure.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    pub success: bool,
    pub data: Option<T>,
    pub error: Option<String>,
    pub metadata: Option<PageMeta>,
}

impl<T: Serialize> Envelope<T> {
    /// A success envelope around `data`.
    pub fn ok(data: T) -> Self {
        Self { success: true, data: Some(data), error: None, metadata: None }
    }

    /// A success envelope around one page of a list.
    pub fn page(data: T, metadata: PageMeta) -> Self {
        Self { success: true, data: Some(data), error: None, metadata: Some(metadata) }
    }
}

impl Envelope<()> {
    /// A failure envelope with a message meant for the client.
    pub fn error(message: impl Into<String>) -> Self {
        Self { success: false, data: None, error: Some(message.into()), metadata: None }
    }
}

impl<T: Serialize> Envelope<T> {
    /// The JSON text of the envelope, as `into_response` sends it (`None`: not serialisable).
    pub fn render(&self) -> Option<axum::body::Bytes> {
        // Written into one buffer sized for a typical body through `Vec`'s own `io::Write`
        // (`Json` starts at 128 bytes behind a `BytesMut` writer and grows by copying).
        let mut body = Vec::with_capacity(1024);
        serde_json::to_writer(&mut body, self).ok().map(|()| body.into())
    }
}

/// A 200 with `body` (an envelope's rendered JSON) as `application/json`.
pub fn rendered(body: axum::body::Bytes) -> Response {
    let mut res = Response::new(axum::body::Body::from(body));
    // Room for every header the middleware adds on the way out (an `/api` answer carries 12:
    // rate limits, CORS, security headers, request id), allocated once: grown from empty, the
    // map is reallocated three times, the last time past malloc's small-block sizes.
    *res.headers_mut() = axum::http::HeaderMap::with_capacity(16);
    res.headers_mut()
        .insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
    res
}

impl<T: Serialize> IntoResponse for Envelope<T> {
    fn into_response(self) -> Response {
        match self.render() {
            Some(body) => rendered(body),
            // Should serialisation fail, `Json` gives its own answer, as before.
            None => Json(self).into_response(),
        }
    }
}

/// Shorthand for handlers: `Ok(ok(value))`.
pub fn ok<T: Serialize>(data: T) -> Envelope<T> {
    Envelope::ok(data)
}
