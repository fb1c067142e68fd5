//! The one error type of the services: what went wrong, in the product's terms. It knows
//! nothing of HTTP; `http::error` maps it to a status and the envelope, once, at the edge.

/// Every failure a service, extractor or the store can report.
///
/// Client-facing variants carry a message that is safe to show; `Internal` carries a
/// cause that is logged and never sent.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Malformed input: bad JSON, wrong types, bad query parameters (HTTP 400).
    #[error("{0}")]
    BadRequest(String),
    /// Missing, malformed, expired or revoked credentials (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated but not allowed (403).
    #[error("{0}")]
    Forbidden(String),
    /// Absent, or belonging to another tenant (404).
    #[error("{0}")]
    NotFound(String),
    /// The path exists but not for this method (405).
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// A body (or batch) over its limit; the message names the limit with its unit (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Validation failed or the resource is in the wrong state (422).
    #[error("{0}")]
    Unprocessable(String),
    /// Rate limited; the value is the wait in whole seconds (429 + `Retry-After`).
    #[error("Rate limit exceeded, retry in {0} s")]
    RateLimited(u64),
    /// An optional integration or the store is unavailable (503).
    #[error("{0}")]
    Unavailable(String),
    /// The store is down, restarting or out of space: a retry after the given whole seconds
    /// may work (503 + `Retry-After`). The message never names the cause (it is logged).
    #[error("{message}")]
    StoreOutage { message: &'static str, retry_after_secs: u64 },
    /// The server is saturated (the password hashing queue is full); retrying after the
    /// given whole seconds will work (503 + `Retry-After`).
    #[error("Server busy, retry in {0} s")]
    Busy(u64),
    /// Anything unexpected (500). The cause is logged, never sent.
    #[error("internal: {0}")]
    Internal(String),
}

impl AppError {
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

    /// A 422 with `message`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Unprocessable(message.into())
    }
}

impl From<crate::store::StoreError> for AppError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            StoreError::NotFound => Self::NotFound("Resource not found".into()),
            // A uniqueness clash is a validation failure of the client's input (spec §1.2 has no 409).
            StoreError::Conflict(what) => Self::Unprocessable(what),
            StoreError::Unavailable(cause) => {
                tracing::error!(error = %cause, "store unavailable");
                Self::StoreOutage { message: "Service temporarily unavailable", retry_after_secs: 1 }
            }
            StoreError::Full(cause) => {
                tracing::error!(error = %cause, "store full: writes fail until space is freed");
                Self::StoreOutage { message: "Storage is full; retry later", retry_after_secs: 30 }
            }
            StoreError::Other(cause) => Self::Internal(cause),
        }
    }
}

/// Result alias for services, extractors and handlers.
pub type AppResult<T> = Result<T, AppError>;

/// A byte count in the unit people read limits in (`1 MiB`, `64 KiB`, `17 bytes`).
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

#[cfg(test)]
mod tests {
    #[test]
    fn limits_read_in_their_unit() {
        assert_eq!(super::human_bytes(1_048_576), "1 MiB");
        assert_eq!(super::human_bytes(2 * 1_048_576), "2 MiB");
        assert_eq!(super::human_bytes(2048), "2 KiB");
        assert_eq!(super::human_bytes(1000), "1000 bytes");
        assert_eq!(
            super::AppError::body_too_large(1_048_576).to_string(),
            "Request body too large (limit 1 MiB)"
        );
    }
}
