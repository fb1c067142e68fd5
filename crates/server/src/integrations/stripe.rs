//! Stripe: the `Billing` trait billing uses (Checkout, Connect Express onboarding, transfers,
//! payouts), a small typed client over reqwest behind it, and the `Stripe-Signature` check of
//! inbound webhooks. Amounts are integer minor units; the base URL is configurable so tests
//! run against a local fake.

use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use crate::auth::secrets::ct_eq;
use crate::domain::money::Money;

/// The API version every request pins, so Stripe's object shapes do not change under us.
pub const API_VERSION: &str = "2024-06-20";

/// How far a webhook's signed timestamp may be from now (Stripe's default tolerance).
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// Currencies whose unit in Stripe's API differs from the ISO 4217 minor unit our ledger keeps
/// (ISK is sent as if it had two decimals, MGA as if it had none, IQD and LYD with two instead
/// of three). Billing refuses them rather than convert twice.
const UNIT_DIFFERS: [&str; 4] = ["ISK", "MGA", "IQD", "LYD"];

/// True when Stripe takes amounts of `currency` (ISO 4217, upper case) in its ISO minor unit.
pub fn supports_currency(currency: &str) -> bool {
    !UNIT_DIFFERS.contains(&currency)
}

/// A failed Stripe call. `message` may hold Stripe's own text: log it, never send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeError {
    /// The HTTP status, `None` when no answer came (connection, timeout).
    pub status: Option<u16>,
    /// Stripe's `error.code`, when given.
    pub code: Option<String>,
    pub message: String,
}

impl StripeError {
    /// Worth retrying with the same idempotency key: no answer, a conflict with a request still
    /// in flight (409), rate limiting (429) or a server error.
    pub fn retryable(&self) -> bool {
        self.status.is_none_or(|s| s == 409 || s == 429 || s >= 500)
    }
}

impl std::fmt::Display for StripeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.status, &self.code) {
            (Some(s), Some(c)) => write!(f, "Stripe HTTP {s} ({c}): {}", self.message),
            (Some(s), None) => write!(f, "Stripe HTTP {s}: {}", self.message),
            (None, _) => write!(f, "Stripe unreachable: {}", self.message),
        }
    }
}

/// A Checkout Session for a study: the testers' compensation and the platform fee, per seat.
#[derive(Debug, Clone)]
pub struct CheckoutRequest<'a> {
    pub study_id: &'a str,
    pub title: &'a str,
    /// ISO 4217, upper case (sent lower case, as Stripe wants).
    pub currency: &'a str,
    /// Compensation per session, minor units.
    pub unit_amount: i64,
    /// Platform fee per session, minor units (0: no fee line).
    pub fee_per_session: i64,
    /// Seats (`testerCount`).
    pub quantity: i64,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

/// What Stripe answered for a Checkout Session.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    pub url: Option<String>,
}

/// A Connect account (Express) as far as payouts care.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ConnectAccount {
    pub id: String,
    #[serde(default)]
    pub payouts_enabled: bool,
    #[serde(default)]
    pub charges_enabled: bool,
    #[serde(default)]
    pub details_submitted: bool,
}

/// One transfer from the platform balance to a tester's connected account.
#[derive(Debug, Clone)]
pub struct TransferRequest<'a> {
    pub amount: Money,
    /// `acct_…`.
    pub destination: &'a str,
    /// The study: its charge funded the transfer.
    pub transfer_group: &'a str,
    pub session_id: &'a str,
    pub line_id: &'a str,
}

/// A created transfer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Transfer {
    pub id: String,
    #[serde(default)]
    pub amount: i64,
    #[serde(default)]
    pub destination: Option<String>,
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// A payout from a connected account's balance to its bank (a retry of a failed one).
#[derive(Debug, Clone)]
pub struct PayoutRequest<'a> {
    /// `acct_…`: the request is made on the connected account (`Stripe-Account`).
    pub account: &'a str,
    pub amount: Money,
    /// The failed payout this one replaces (`po_…`).
    pub retry_of: &'a str,
}

/// A created payout.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Payout {
    pub id: String,
}

/// The calls billing makes. Every creating call takes an idempotency key: Stripe answers a
/// repeated key with the first result, so a retry after a lost answer never pays twice.
#[async_trait]
pub trait Billing: Send + Sync + 'static {
    async fn create_checkout_session(
        &self,
        req: &CheckoutRequest<'_>,
        idempotency_key: &str,
    ) -> Result<CheckoutSession, StripeError>;
    /// An Express account for a tester (transfers capability requested).
    async fn create_express_account(
        &self,
        tester_id: &str,
        idempotency_key: &str,
    ) -> Result<ConnectAccount, StripeError>;
    /// A one-time onboarding link (`account_onboarding`); returns its URL.
    async fn create_account_link(
        &self,
        account_id: &str,
        refresh_url: &str,
        return_url: &str,
    ) -> Result<String, StripeError>;
    async fn create_transfer(
        &self,
        req: &TransferRequest<'_>,
        idempotency_key: &str,
    ) -> Result<Transfer, StripeError>;
    /// The transfer already made for `session_id` in `transfer_group`, if any: how a retry
    /// recognises a transfer whose answer was lost, even after the idempotency key expired.
    async fn find_transfer(
        &self,
        transfer_group: &str,
        session_id: &str,
    ) -> Result<Option<Transfer>, StripeError>;
    async fn create_payout(
        &self,
        req: &PayoutRequest<'_>,
        idempotency_key: &str,
    ) -> Result<Payout, StripeError>;
}

/// The reqwest client (form-encoded requests, JSON answers, no redirects).
pub struct StripeClient {
    base: String,
    key: SecretString,
    http: reqwest::Client,
}

impl StripeClient {
    pub fn new(base: &str, key: SecretString, timeout: Duration) -> Result<Self, String> {
        crate::integrations::install_crypto();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("OpenScouter/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { base: base.trim_end_matches('/').to_owned(), key, http })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value, StripeError> {
        let res = req
            .bearer_auth(self.key.expose_secret())
            .header("stripe-version", API_VERSION)
            .send()
            .await
            .map_err(|e| StripeError {
                status: None,
                code: None,
                message: if e.is_timeout() { "timed out".into() } else { "connection failed".into() },
            })?;
        let status = res.status().as_u16();
        let body = res.bytes().await.map_err(|_| StripeError {
            status: None,
            code: None,
            message: "answer cut short".into(),
        })?;
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(value);
        }
        Err(StripeError {
            status: Some(status),
            code: value.pointer("/error/code").and_then(Value::as_str).map(str::to_owned),
            message: value
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("no error message")
                .chars()
                .take(300)
                .collect(),
        })
    }

    async fn post(
        &self,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: Option<&str>,
        account: Option<&str>,
    ) -> Result<Value, StripeError> {
        let body = serde_urlencoded::to_string(form).map_err(|e| StripeError {
            status: None,
            code: None,
            message: e.to_string(),
        })?;
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(k) = idempotency_key {
            req = req.header("idempotency-key", k);
        }
        if let Some(a) = account {
            req = req.header("stripe-account", a);
        }
        self.send(req).await
    }
}

fn decode<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, StripeError> {
    serde_json::from_value(v).map_err(|e| StripeError {
        status: Some(200),
        code: None,
        message: format!("unexpected answer: {e}"),
    })
}

#[async_trait]
impl Billing for StripeClient {
    async fn create_checkout_session(
        &self,
        req: &CheckoutRequest<'_>,
        idempotency_key: &str,
    ) -> Result<CheckoutSession, StripeError> {
        let currency = req.currency.to_ascii_lowercase();
        let mut form: Vec<(&str, String)> = vec![
            ("mode", "payment".into()),
            ("client_reference_id", req.study_id.into()),
            ("metadata[jobId]", req.study_id.into()),
            ("payment_intent_data[transfer_group]", req.study_id.into()),
            ("payment_intent_data[metadata][jobId]", req.study_id.into()),
            ("success_url", req.success_url.into()),
            ("cancel_url", req.cancel_url.into()),
            ("line_items[0][quantity]", req.quantity.to_string()),
            ("line_items[0][price_data][currency]", currency.clone()),
            ("line_items[0][price_data][unit_amount]", req.unit_amount.to_string()),
            ("line_items[0][price_data][product_data][name]", format!("Tester compensation: {}", req.title)),
        ];
        if req.fee_per_session > 0 {
            form.extend([
                ("line_items[1][quantity]", req.quantity.to_string()),
                ("line_items[1][price_data][currency]", currency),
                ("line_items[1][price_data][unit_amount]", req.fee_per_session.to_string()),
                ("line_items[1][price_data][product_data][name]", "OpenScouter platform fee".to_owned()),
            ]);
        }
        decode(self.post("/v1/checkout/sessions", &form, Some(idempotency_key), None).await?)
    }

    async fn create_express_account(
        &self,
        tester_id: &str,
        idempotency_key: &str,
    ) -> Result<ConnectAccount, StripeError> {
        let form = [
            ("type", "express".to_owned()),
            ("capabilities[transfers][requested]", "true".into()),
            ("metadata[testerId]", tester_id.into()),
        ];
        decode(self.post("/v1/accounts", &form, Some(idempotency_key), None).await?)
    }

    async fn create_account_link(
        &self,
        account_id: &str,
        refresh_url: &str,
        return_url: &str,
    ) -> Result<String, StripeError> {
        let form = [
            ("account", account_id.to_owned()),
            ("refresh_url", refresh_url.into()),
            ("return_url", return_url.into()),
            ("type", "account_onboarding".into()),
        ];
        let v = self.post("/v1/account_links", &form, None, None).await?;
        v["url"].as_str().map(str::to_owned).ok_or_else(|| StripeError {
            status: Some(200),
            code: None,
            message: "account link without url".into(),
        })
    }

    async fn create_transfer(
        &self,
        req: &TransferRequest<'_>,
        idempotency_key: &str,
    ) -> Result<Transfer, StripeError> {
        let form = [
            ("amount", req.amount.minor.to_string()),
            ("currency", req.amount.stripe_currency()),
            ("destination", req.destination.into()),
            ("transfer_group", req.transfer_group.into()),
            ("metadata[jobId]", req.transfer_group.into()),
            ("metadata[sessionId]", req.session_id.into()),
            ("metadata[lineItemId]", req.line_id.into()),
        ];
        decode(self.post("/v1/transfers", &form, Some(idempotency_key), None).await?)
    }

    async fn find_transfer(
        &self,
        transfer_group: &str,
        session_id: &str,
    ) -> Result<Option<Transfer>, StripeError> {
        // A study has at most 100 sessions, so one page of 100 holds every transfer of its group.
        let query = serde_urlencoded::to_string([("transfer_group", transfer_group), ("limit", "100")])
            .map_err(|e| StripeError { status: None, code: None, message: e.to_string() })?;
        let req = self.http.get(format!("{}/v1/transfers?{query}", self.base));
        #[derive(Deserialize)]
        struct List {
            data: Vec<Transfer>,
        }
        let list: List = decode(self.send(req).await?)?;
        Ok(list.data.into_iter().find(|t| t.metadata.get("sessionId").is_some_and(|s| s == session_id)))
    }

    async fn create_payout(
        &self,
        req: &PayoutRequest<'_>,
        idempotency_key: &str,
    ) -> Result<Payout, StripeError> {
        let form = [
            ("amount", req.amount.minor.to_string()),
            ("currency", req.amount.stripe_currency()),
            ("metadata[retryOf]", req.retry_of.into()),
        ];
        decode(self.post("/v1/payouts", &form, Some(idempotency_key), Some(req.account)).await?)
    }
}

/// Why a `Stripe-Signature` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed,
    /// No `v1` signature matches the payload.
    Mismatch,
    /// Authentic, but signed more than the tolerance away from now (a replay).
    Stale,
}

impl SignatureError {
    /// What the 401 says.
    pub fn message(self) -> &'static str {
        match self {
            Self::Missing => "Missing Stripe-Signature header",
            Self::Malformed => "Malformed Stripe-Signature header",
            Self::Mismatch => "Invalid Stripe signature",
            Self::Stale => "Stripe signature timestamp is outside the 5-minute tolerance",
        }
    }
}

fn hmac_hex(secret: &[u8], timestamp: i64, payload: &[u8]) -> String {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

/// The header Stripe would send for `payload` signed at `timestamp` (tests, benches).
pub fn signature_header(secret: &[u8], timestamp: i64, payload: &[u8]) -> String {
    format!("t={timestamp},v1={}", hmac_hex(secret, timestamp, payload))
}

/// Checks `Stripe-Signature: t=…,v1=…[,v1=…][,v0=…]`: some `v1` must be the hex HMAC-SHA256
/// of `"{t}.{payload}"` under the endpoint's secret (compared in constant time; several are
/// sent while a secret is being rolled), and `t` within `tolerance_secs` of `now_s` either
/// way. Returns the signed timestamp.
pub fn verify_signature(
    secret: &[u8],
    header: Option<&str>,
    payload: &[u8],
    now_s: i64,
    tolerance_secs: i64,
) -> Result<i64, SignatureError> {
    let header = header.map(str::trim).filter(|h| !h.is_empty()).ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else { continue };
        match k {
            "t" if timestamp.is_none() => {
                timestamp = Some(v.parse::<i64>().map_err(|_| SignatureError::Malformed)?)
            }
            "t" => return Err(SignatureError::Malformed),
            "v1" => candidates.push(v),
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let expected = hmac_hex(secret, t, payload);
    // Every candidate is compared, so the time taken does not say which one matched.
    let matched = candidates.iter().fold(false, |acc, c| ct_eq(expected.as_bytes(), c.as_bytes()) | acc);
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    if (now_s - t).abs() > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    Ok(t)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_secret";

    #[test]
    fn signatures_verify_with_rolled_secrets_and_tolerance() {
        let body = br#"{"id":"evt_1"}"#;
        let good = signature_header(SECRET, 1_000, body);
        assert_eq!(verify_signature(SECRET, Some(&good), body, 1_000, 300), Ok(1_000));
        assert_eq!(verify_signature(SECRET, Some(&good), body, 1_300, 300), Ok(1_000));
        assert_eq!(verify_signature(SECRET, Some(&good), body, 1_301, 300), Err(SignatureError::Stale));
        assert_eq!(verify_signature(SECRET, Some(&good), body, 699, 300), Err(SignatureError::Stale));
        let v1 = good.split_once(",v1=").unwrap().1;
        let several = format!("t=1000,v1={},v1={v1},v0=abc", "0".repeat(64));
        assert_eq!(verify_signature(SECRET, Some(&several), body, 1_000, 300), Ok(1_000));
        assert_eq!(verify_signature(b"other", Some(&good), body, 1_000, 300), Err(SignatureError::Mismatch));
        assert_eq!(
            verify_signature(SECRET, Some(&good), br#"{"id":"evt_2"}"#, 1_000, 300),
            Err(SignatureError::Mismatch)
        );
        for bad in ["t=x,v1=00", "v1=00", "t=1000", "t=1,t=2,v1=00", "garbage"] {
            assert_eq!(
                verify_signature(SECRET, Some(bad), body, 1_000, 300),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(verify_signature(SECRET, None, body, 1_000, 300), Err(SignatureError::Missing));
    }

    #[test]
    fn stripe_reference_vector() {
        // Computed independently: printf '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test_secret
        let h = signature_header(SECRET, 1_700_000_000, b"{}");
        assert_eq!(h, "t=1700000000,v1=ceb8863f7208fa249a6cd8f951e993c7563412aca65866f6272283debe143ab3");
    }

    #[test]
    fn retryable_errors() {
        let e = |status| StripeError { status, code: None, message: String::new() };
        assert!(e(None).retryable() && e(Some(500)).retryable() && e(Some(429)).retryable());
        assert!(e(Some(409)).retryable());
        assert!(!e(Some(400)).retryable() && !e(Some(401)).retryable());
        assert!(supports_currency("GBP") && !supports_currency("ISK"));
    }
}
