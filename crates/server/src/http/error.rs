//! The single mapping from the services' error to HTTP: status code, envelope, `Retry-After`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::http::envelope::Envelope;

/// The HTTP status an error maps to.
pub fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
        AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        AppError::Unavailable(_) | AppError::Busy(_) | AppError::StoreOutage { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = status_of(&self);
        let message = match &self {
            Self::Internal(cause) => {
                // The request id is attached by the request-id layer; the trace span carries it.
                tracing::error!(error = %cause, "internal error");
                "Internal server error".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = (status, Envelope::error(message)).into_response();
        if let Self::RateLimited(secs) | Self::Busy(secs) | Self::StoreOutage { retry_after_secs: secs, .. } =
            self
        {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
