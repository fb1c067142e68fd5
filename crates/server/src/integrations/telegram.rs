//! The Telegram Bot API behind a trait: `sendMessage` (with inline buttons) and
//! `answerCallbackQuery`, called as `POST <base>/bot<token>/<method>` with a JSON body. The
//! base URL is configurable so tests talk to a local fake; the token is part of every URL, so
//! URLs never reach a log or an error message.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

/// An inline-keyboard button that sends `callback_data` back to the webhook when tapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub text: String,
    /// At most 64 bytes (Bot API limit).
    pub callback_data: String,
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub chat_id: i64,
    pub text: String,
    /// Rows of inline buttons (empty: none).
    pub buttons: Vec<Vec<Button>>,
}

/// What Telegram answered to a sent message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentMessage {
    pub chat_id: i64,
    pub message_id: i64,
}

/// Why a call failed, sorted by what the caller should do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelegramError {
    /// 429: wait `retry_after_secs` before the bot sends anything else.
    #[error("rate limited by Telegram for {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// 403, or the chat no longer exists: the tester blocked the bot or left; do not retry.
    #[error("chat unavailable: {0}")]
    ChatUnavailable(String),
    /// Any other 4xx: the request itself is wrong; retrying will not help.
    #[error("rejected: {0}")]
    Rejected(String),
    /// Network trouble or a 5xx: worth retrying later.
    #[error("transient: {0}")]
    Transient(String),
}

/// The bot, as the services use it.
#[async_trait]
pub trait Telegram: Send + Sync + 'static {
    async fn send_message(&self, message: &OutgoingMessage) -> Result<SentMessage, TelegramError>;
    /// Stops the button's spinner, optionally with a short toast.
    async fn answer_callback(&self, callback_query_id: &str, text: Option<&str>)
    -> Result<(), TelegramError>;
}

/// The HTTP client of the real Bot API (or anything that speaks it).
pub struct BotApi {
    base: String,
    token: SecretString,
    client: reqwest::Client,
}

impl BotApi {
    pub fn new(base: &str, token: SecretString) -> Result<Self, String> {
        crate::integrations::install_crypto();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { base: base.trim_end_matches('/').to_owned(), token, client })
    }

    /// One Bot API call; `Ok` carries the `result` field.
    async fn call(&self, method: &str, body: Value) -> Result<Value, TelegramError> {
        let url = format!("{}/bot{}/{method}", self.base, self.token.expose_secret());
        let res = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            // reqwest's errors print the URL, which holds the token: keep only the kind.
            .map_err(|e| {
                TelegramError::Transient(if e.is_timeout() {
                    "timed out".into()
                } else {
                    "request failed".into()
                })
            })?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await.map_err(|_| TelegramError::Transient("body unreadable".into()))?;
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status == 200 && v["ok"] == json!(true) {
            return Ok(v["result"].clone());
        }
        Err(classify(status, &v))
    }
}

/// Maps a failed Bot API answer (`{ok: false, error_code, description, parameters}`) to what
/// the caller should do.
pub fn classify(status: u16, body: &Value) -> TelegramError {
    let description: String =
        body["description"].as_str().unwrap_or("no description").chars().take(200).collect();
    let code = body["error_code"].as_u64().and_then(|c| u16::try_from(c).ok()).unwrap_or(status);
    match code {
        429 => TelegramError::RateLimited {
            retry_after_secs: body["parameters"]["retry_after"].as_u64().unwrap_or(1).max(1),
        },
        403 => TelegramError::ChatUnavailable(description),
        400 if description.to_lowercase().contains("chat not found") => {
            TelegramError::ChatUnavailable(description)
        }
        400..=499 => TelegramError::Rejected(format!("HTTP {code}: {description}")),
        _ => TelegramError::Transient(format!("HTTP {code}: {description}")),
    }
}

#[async_trait]
impl Telegram for BotApi {
    async fn send_message(&self, m: &OutgoingMessage) -> Result<SentMessage, TelegramError> {
        let mut body = json!({
            "chat_id": m.chat_id,
            "text": m.text,
            "link_preview_options": {"is_disabled": true},
        });
        if !m.buttons.is_empty() {
            let rows: Vec<Vec<Value>> = m
                .buttons
                .iter()
                .map(|row| {
                    row.iter().map(|b| json!({"text": b.text, "callback_data": b.callback_data})).collect()
                })
                .collect();
            body["reply_markup"] = json!({"inline_keyboard": rows});
        }
        let result = self.call("sendMessage", body).await?;
        let message_id = result["message_id"]
            .as_i64()
            .ok_or_else(|| TelegramError::Transient("answer without message_id".into()))?;
        Ok(SentMessage { chat_id: result["chat"]["id"].as_i64().unwrap_or(m.chat_id), message_id })
    }

    async fn answer_callback(
        &self,
        callback_query_id: &str,
        text: Option<&str>,
    ) -> Result<(), TelegramError> {
        let mut body = json!({"callback_query_id": callback_query_id});
        if let Some(t) = text {
            body["text"] = json!(t);
        }
        self.call("answerCallbackQuery", body).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified() {
        let limited = json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 7", "parameters": {"retry_after": 7}});
        assert_eq!(classify(429, &limited), TelegramError::RateLimited { retry_after_secs: 7 });
        let blocked =
            json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"});
        assert!(matches!(classify(403, &blocked), TelegramError::ChatUnavailable(_)));
        let gone = json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"});
        assert!(matches!(classify(400, &gone), TelegramError::ChatUnavailable(_)));
        assert!(matches!(classify(400, &json!({"ok": false})), TelegramError::Rejected(_)));
        assert!(matches!(classify(502, &Value::Null), TelegramError::Transient(_)));
    }
}
