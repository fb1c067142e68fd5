//! `ApiQuery<T>`: the query string deserialised into the same struct that documents the
//! parameters in the OpenAPI document (`IntoParams`), so what is parsed and what is published
//! cannot differ. A query that does not fit the struct (a parameter given twice, a value of the
//! wrong shape) answers 400 in the envelope; unknown parameters are ignored. Each struct then
//! checks its own values (`…Query::…` methods), with messages that name the parameter.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// A documented query struct, deserialised.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

/// Deserialises a raw query string (absent: every field at its default).
pub fn parse_query<T: DeserializeOwned>(query: Option<&str>) -> Result<T, AppError> {
    serde_urlencoded::from_str(query.unwrap_or("")).map_err(|e| AppError::BadRequest(format!("query: {e}")))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query()).map(ApiQuery)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Q {
        job_id: Option<String>,
    }

    #[test]
    fn parses_ignores_unknown_and_refuses_duplicates() {
        assert_eq!(parse_query::<Q>(Some("jobId=job_1&x=2")).unwrap(), Q { job_id: Some("job_1".into()) });
        assert_eq!(parse_query::<Q>(None).unwrap(), Q { job_id: None });
        assert!(matches!(parse_query::<Q>(Some("jobId=a&jobId=b")), Err(AppError::BadRequest(_))));
    }
}
