//! Optional LLM narrative: an OpenAI-compatible chat-completions provider that may only
//! rephrase the deterministic summary. It receives the summary, finding titles and plain
//! descriptions, and each tester's tone as `Tester N` — never names, emails, raw emotion
//! scores or transcripts. Any failure or timeout keeps the deterministic text.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::{Value, json};

/// What the model sees.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NarrativeRequest {
    /// The deterministic summary to rephrase.
    pub summary: String,
    /// `{title, severity, plainDescription, testersAffected}` of each confirmed finding.
    pub findings: Vec<Value>,
    /// `{testerLabel: "Tester N", tone: standard|supportive|moderate|restorative}`.
    pub tones: Vec<Value>,
}

/// Rephrases text; errors mean "keep the deterministic text".
#[async_trait]
pub trait Narrator: Send + Sync + 'static {
    async fn rephrase(&self, request: &NarrativeRequest) -> Result<String, String>;
}

/// An OpenAI-compatible `POST {base}/chat/completions` client.
pub struct OpenAiNarrator {
    base_url: String,
    model: String,
    key: SecretString,
    client: reqwest::Client,
}

impl OpenAiNarrator {
    pub fn new(base_url: &str, model: &str, key: SecretString, timeout: Duration) -> Result<Self, String> {
        crate::integrations::install_crypto();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { base_url: base_url.trim_end_matches('/').to_owned(), model: model.to_owned(), key, client })
    }
}

const INSTRUCTIONS: &str = "You rewrite usability-test summaries for product teams. Keep every fact and number; \
add none. Use plain, non-judgemental language that blames the design, never the tester. Match the tone given \
for the testers. Answer with the rewritten summary only.";

#[async_trait]
impl Narrator for OpenAiNarrator {
    async fn rephrase(&self, request: &NarrativeRequest) -> Result<String, String> {
        let body = json!({
            "model": self.model,
            "temperature": 0.2,
            "messages": [
                {"role": "system", "content": INSTRUCTIONS},
                {"role": "user", "content": serde_json::to_string(request).map_err(|e| e.to_string())?},
            ],
        });
        let res = self
            .client
            .post(format!("{}/chat/completions", self.base_url))
            .bearer_auth(self.key.expose_secret())
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| if e.is_timeout() { "timed out".to_owned() } else { "request failed".to_owned() })?;
        if !res.status().is_success() {
            return Err(format!("HTTP {}", res.status().as_u16()));
        }
        let v: Value = serde_json::from_slice(&res.bytes().await.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        let text =
            v.pointer("/choices/0/message/content").and_then(Value::as_str).map(str::trim).unwrap_or("");
        if text.is_empty() || text.chars().count() > 4000 {
            return Err("empty or oversized answer".into());
        }
        Ok(text.to_owned())
    }
}
