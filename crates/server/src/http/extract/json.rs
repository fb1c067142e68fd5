//! JSON body extractors whose rejections use the envelope: 400 syntax/type, 413 size,
//! 422 missing fields and validation (`field: message`).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// `axum::Json` with envelope rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(map_rejection(rejection)),
        }
    }
}

/// An optional JSON body: empty means `T::default()`, anything else is read like `ApiJson`.
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let empty =
            req.headers().get(axum::http::header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() == b"0")
                || !req.headers().contains_key(axum::http::header::CONTENT_TYPE);
        if empty {
            return Ok(Self(T::default()));
        }
        ApiJson::<T>::from_request(req, state).await.map(|ApiJson(v)| Self(v))
    }
}

fn map_rejection(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::JsonSyntaxError(e) => {
            AppError::BadRequest(format!("Malformed JSON: {}", inner_message(&e.body_text())))
        }
        JsonRejection::JsonDataError(e) => {
            let msg = inner_message(&e.body_text());
            // `missing field `x`` is a validation failure of an otherwise well-formed body.
            // serde_path_to_error puts the path first: "tasks[0]: missing field `title`".
            let (path, detail) = match msg.split_once(": ") {
                Some((p, d)) if !p.contains(' ') => (format!("{p}."), d),
                _ => (String::new(), msg.as_str()),
            };
            match detail.strip_prefix("missing field `").and_then(|r| r.split_once('`')) {
                Some((field, _)) => AppError::Unprocessable(format!("{path}{field}: is required")),
                None => AppError::BadRequest(format!("Invalid JSON body: {msg}")),
            }
        }
        JsonRejection::MissingJsonContentType(_) => {
            AppError::BadRequest("Expected a JSON body with Content-Type: application/json".into())
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::PayloadTooLarge(0)
        }
        other => AppError::BadRequest(format!("Could not read the request body: {}", other.body_text())),
    }
}

/// axum prefixes serde's message with its own sentence; keep serde's part, which names the field.
fn inner_message(text: &str) -> String {
    const PREFIXES: [&str; 2] = [
        "Failed to deserialize the JSON body into the target type: ",
        "Failed to parse the request body as JSON: ",
    ];
    PREFIXES.iter().find_map(|p| text.strip_prefix(p)).unwrap_or(text).to_owned()
}

/// garde reports Rust field names; the API speaks camelCase (`full_name` → `fullName`).
fn camel_case_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut upper = false;
    for c in path.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A JSON body that must also pass `garde` validation; the first violation becomes a 422.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidatedJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidatedJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + garde::Validate,
    T::Context: Default,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ApiJson(value) = ApiJson::<T>::from_request(req, state).await?;
        value.validate().map_err(|report| {
            let first = report
                .iter()
                .next()
                .map(|(path, error)| {
                    let path = camel_case_path(&path.to_string());
                    if path.is_empty() {
                        error.message().to_owned()
                    } else {
                        format!("{path}: {}", error.message())
                    }
                })
                .unwrap_or_else(|| "Invalid request".into());
            AppError::Unprocessable(first)
        })?;
        Ok(Self(value))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_are_camel_cased() {
        assert_eq!(super::camel_case_path("full_name"), "fullName");
        assert_eq!(super::camel_case_path("tasks[0].success_criteria"), "tasks[0].successCriteria");
    }
}
