//! The request's id (`x-request-id`, set by the request-id layer), for audit entries.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The id of this request, when the request-id layer set one.
#[derive(Debug, Clone)]
pub struct RequestId(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let id = parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(Self(id))
    }
}
