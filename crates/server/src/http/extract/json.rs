//! JSON body extractors whose rejections use the envelope: 400 syntax/type (trailing bytes
//! included), 413 size (naming the limit), 422 missing fields, NUL characters and validation
//! (`field: message`).

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::AppError;
use crate::http::middleware::body_limit::BodyLimit;

/// `axum::Json` with envelope rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(AppError::BadRequest(
                "Expected a JSON body with Content-Type: application/json".into(),
            ));
        }
        let limit = req.extensions().get::<BodyLimit>().copied();
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                limit.map_or_else(
                    || AppError::PayloadTooLarge("Request body too large".into()),
                    |l| AppError::body_too_large(l.0),
                )
            } else {
                AppError::BadRequest(format!("Could not read the request body: {}", e.body_text()))
            }
        })?;
        parse(&bytes).map(Self)
    }
}

/// `application/json` or any `application/*+json`, parameters (`; charset=…`) ignored.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON body as `T` with the API's rejections.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    // The plain parser first: `axum::Json` tracks the path of every value for its messages,
    // which showed in the ingestion profile. Only a refused body is read again to name the
    // path; both accept exactly the same documents.
    let value = match serde_json::from_slice::<T>(bytes) {
        Ok(v) => v,
        Err(_) => match axum::Json::<T>::from_bytes(bytes) {
            Ok(axum::Json(v)) => v,
            Err(rejection) => return Err(map_rejection(rejection, bytes)),
        },
    };
    // Strings may not carry U+0000 (stored text, exports and C-based tools truncate at it).
    // The only way to write it in valid JSON is the `\u0000` escape, so the search is one
    // pass over the bytes; only a hit pays for locating the field.
    let nul = memchr::memmem::find(bytes, br"\u0000")
        .and_then(|_| serde_json::from_slice::<Value>(bytes).ok())
        .and_then(|v| nul_path(&v, String::new()));
    match nul {
        Some(path) => {
            Err(AppError::Unprocessable(format!("{path}: must not contain the NUL character (U+0000)")))
        }
        None => Ok(value),
    }
}

/// The path (`tasks[0].title`) of the first string or key that contains U+0000.
fn nul_path(v: &Value, path: String) -> Option<String> {
    match v {
        Value::String(s) if s.contains('\0') => Some(if path.is_empty() { "body".into() } else { path }),
        Value::Array(items) => {
            items.iter().enumerate().find_map(|(i, item)| nul_path(item, format!("{path}[{i}]")))
        }
        Value::Object(map) => map.iter().find_map(|(k, item)| {
            let here = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            if k.contains('\0') { Some(here) } else { nul_path(item, here) }
        }),
        _ => None,
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

fn map_rejection(rejection: JsonRejection, bytes: &[u8]) -> AppError {
    match rejection {
        JsonRejection::JsonSyntaxError(e) => {
            AppError::BadRequest(format!("Malformed JSON: {}", inner_message(&e.body_text())))
        }
        JsonRejection::JsonDataError(e) => {
            // serde stops at the first missing field, before it would have seen trailing bytes
            // (`{}x`): a body that is not one JSON document is malformed, whatever it lacks.
            if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                return AppError::BadRequest(format!("Malformed JSON: {syntax}"));
            }
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
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    #[test]
    fn nul_is_found_with_its_path() {
        let v = json!({"title": "ok", "tasks": [{"title": "a"}, {"notes": "x\u{0}y"}]});
        assert_eq!(super::nul_path(&v, String::new()).as_deref(), Some("tasks[1].notes"));
        assert_eq!(super::nul_path(&json!({"a\u{0}": 1}), String::new()).as_deref(), Some("a\u{0}"));
        assert_eq!(super::nul_path(&json!(["x", "\u{0}"]), String::new()).as_deref(), Some("[1]"));
        assert_eq!(super::nul_path(&json!({"a": "\\u0000"}), String::new()), None);
    }

    #[test]
    fn escaped_backslash_is_not_nul() {
        // `\\u0000` is a backslash followed by "u0000": allowed.
        let v: serde_json::Value = super::parse(br#"{"a": "\\u0000"}"#).unwrap();
        assert_eq!(v["a"], "\\u0000");
        assert!(super::parse::<serde_json::Value>(br#"{"a": "\u0000"}"#).is_err());
    }

    #[test]
    fn paths_are_camel_cased() {
        assert_eq!(super::camel_case_path("full_name"), "fullName");
        assert_eq!(super::camel_case_path("tasks[0].success_criteria"), "tasks[0].successCriteria");
    }
}
