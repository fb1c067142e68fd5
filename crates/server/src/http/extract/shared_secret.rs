//! Callers that prove themselves with a configured shared secret rather than a user: the
//! cron endpoints (`Authorization: Bearer <cron secret>`) and the Telegram webhook
//! (`X-Telegram-Bot-Api-Secret-Token`, or the generic `x-webhook-secret`). Secrets are
//! compared in constant time, over their SHA-256 so the length does not show either; a
//! feature whose secret is not configured answers 503.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::auth::scheme::credentials;
use crate::auth::secrets::ct_eq;
use crate::error::AppError;
use crate::http::state::AppState;
use crate::ratelimit::Quota;

/// True when `given` equals the configured secret (constant time).
fn matches(given: &str, expected: &SecretString) -> bool {
    ct_eq(&Sha256::digest(given.as_bytes()), &Sha256::digest(expected.expose_secret().as_bytes()))
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// A caller holding the cron secret.
#[derive(Debug, Clone, Copy)]
pub struct CronAuth;

impl FromRequestParts<AppState> for CronAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Some(secret) = &state.config.cron_secret else {
            return Err(AppError::Unavailable("Cron is not configured".into()));
        };
        let given =
            header(parts, AUTHORIZATION.as_str()).and_then(|v| credentials(v, "Bearer")).unwrap_or("");
        if matches(given, secret) {
            Ok(Self)
        } else {
            Err(AppError::Unauthorized("Invalid cron secret".into()))
        }
    }
}

/// Telegram calling the bot's webhook. Limited per source like webhook ingestion (spec §1.6),
/// not per IP: Telegram sends every chat's updates from a few addresses.
#[derive(Debug, Clone, Copy)]
pub struct TelegramWebhookAuth;

impl FromRequestParts<AppState> for TelegramWebhookAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Some(telegram) = &state.config.telegram else {
            return Err(AppError::Unavailable("Telegram is not configured".into()));
        };
        let Some(secret) = &telegram.webhook_secret else {
            return Err(AppError::Unavailable("The Telegram webhook secret is not configured".into()));
        };
        let given =
            header(parts, "x-telegram-bot-api-secret-token").or_else(|| header(parts, "x-webhook-secret"));
        if !given.is_some_and(|g| matches(g, secret)) {
            return Err(AppError::Unauthorized("Invalid webhook secret".into()));
        }
        let quota = Quota { per_minute: state.config.rate_limits.ingest };
        let decision = state.limiter.check("webhook:telegram", quota, 1).await;
        if !decision.allowed {
            return Err(AppError::RateLimited(decision.retry_after_secs));
        }
        Ok(Self)
    }
}
