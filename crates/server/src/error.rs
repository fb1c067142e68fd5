//! The one error type of the server and its single mapping to HTTP (status + envelope).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::envelope::Envelope;

/// Every failure a handler, extractor, service or store can report.
///
/// Client-facing variants carry a message that is safe to show; `Internal` carries a
/// cause that is logged and never sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed JSON, wrong types, bad query parameters.
    #[error("{0}")]
    BadRequest(String),
    /// 401: missing, malformed, expired or revoked credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: absent, or belonging to another tenant.
    #[error("{0}")]
    NotFound(String),
    /// 405: the path exists but not for this method.
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// 413: body (or batch) over its limit; the message names the limit with its unit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 422: validation failed or wrong state.
    #[error("{0}")]
    Unprocessable(String),
    /// 429: rate limited; the value is `Retry-After` in whole seconds.
    #[error("Rate limit exceeded, retry in {0} s")]
    RateLimited(u64),
    /// 503: an optional integration or the store is unavailable.
    #[error("{0}")]
    Unavailable(String),
    /// 503 with `Retry-After` (whole seconds): the server is saturated (the password hashing
    /// queue is full); retrying shortly will work.
    #[error("Server busy, retry in {0} s")]
    Busy(u64),
    /// 500: anything unexpected. The cause is logged, never sent.
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    /// Wraps an unexpected cause.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// The 413 of a body over `limit` bytes: "Request body too large (limit 1 MiB)".
    pub fn body_too_large(limit: usize) -> Self {
        Self::PayloadTooLarge(format!("Request body too large (limit {})", human_bytes(limit)))
    }

    /// `"<what> not found"`, used for absent and other-tenant resources alike.
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    /// The HTTP status this error maps to.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) | Self::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            Self::Internal(cause) => {
                // The request id is attached by the request-id layer; the trace span carries it.
                tracing::error!(error = %cause, "internal error");
                "Internal server error".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = (status, Envelope::error(message)).into_response();
        if let Self::RateLimited(secs) | Self::Busy(secs) = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            StoreError::NotFound => Self::NotFound("Resource not found".into()),
            // A uniqueness clash is a validation failure of the client's input (spec §1.2 has no 409).
            StoreError::Conflict(what) => Self::Unprocessable(what),
            StoreError::Unavailable(cause) => {
                tracing::error!(error = %cause, "store unavailable");
                Self::Unavailable("Service temporarily unavailable".into())
            }
            StoreError::Other(cause) => Self::Internal(cause),
        }
    }
}

/// A byte count in the largest binary unit that divides it exactly: `1 MiB`, `1536 KiB`,
/// `1000 bytes`, so a limit reads as it was configured.
pub fn human_bytes(n: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    match n {
        0 => "0 bytes".to_owned(),
        n if n % MIB == 0 => format!("{} MiB", n / MIB),
        n if n % KIB == 0 => format!("{} KiB", n / KIB),
        1 => "1 byte".to_owned(),
        n => format!("{n} bytes"),
    }
}

/// Result alias for handlers and services.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    #[test]
    fn limits_read_in_their_unit() {
        assert_eq!(super::human_bytes(1_048_576), "1 MiB");
        assert_eq!(super::human_bytes(2 * 1_048_576), "2 MiB");
        assert_eq!(super::human_bytes(2048), "2 KiB");
        assert_eq!(super::human_bytes(1000), "1000 bytes");
        assert_eq!(
            super::ApiError::body_too_large(1_048_576).to_string(),
            "Request body too large (limit 1 MiB)"
        );
    }
}
