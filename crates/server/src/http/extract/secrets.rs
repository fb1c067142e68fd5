//! Shared-secret extractors for machine callers: the cron secret and the inbound-webhook secret.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use secrecy::{ExposeSecret, SecretString};

use crate::auth::secrets::ct_eq;
use crate::error::ApiError;
use crate::state::AppState;

/// Proof that the request carried `Authorization: Bearer <cron secret>`.
#[derive(Debug, Clone, Copy)]
pub struct CronAuth;

/// Proof that the request carried `x-webhook-secret: <webhook secret>`
/// (or Telegram's `X-Telegram-Bot-Api-Secret-Token`).
#[derive(Debug, Clone, Copy)]
pub struct WebhookSecretAuth;

fn check(configured: Option<&SecretString>, presented: Option<&str>, what: &str) -> Result<(), ApiError> {
    let Some(secret) = configured else {
        return Err(ApiError::Unavailable(format!("{what} is not configured")));
    };
    match presented {
        Some(p) if ct_eq(p.as_bytes(), secret.expose_secret().as_bytes()) => Ok(()),
        _ => Err(ApiError::Unauthorized(format!("Invalid {what}"))),
    }
}

impl FromRequestParts<AppState> for CronAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        check(state.config.cron_secret.as_ref(), presented, "cron secret")?;
        Ok(Self)
    }
}

impl FromRequestParts<AppState> for WebhookSecretAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented = ["x-webhook-secret", "x-telegram-bot-api-secret-token"]
            .iter()
            .find_map(|h| parts.headers.get(*h))
            .and_then(|v| v.to_str().ok());
        check(state.config.webhook_secret.as_ref(), presented, "webhook secret")?;
        Ok(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_checks() {
        let s = SecretString::from("s3cret".to_owned());
        assert!(check(Some(&s), Some("s3cret"), "x").is_ok());
        assert!(matches!(check(Some(&s), Some("nope"), "x"), Err(ApiError::Unauthorized(_))));
        assert!(matches!(check(Some(&s), None, "x"), Err(ApiError::Unauthorized(_))));
        assert!(matches!(check(None, Some("s3cret"), "x"), Err(ApiError::Unavailable(_))));
    }
}
