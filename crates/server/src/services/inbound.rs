//! The inbound-webhook rate tier (spec §1.6): 1,000 events a minute per source (Stripe,
//! Telegram), `OPENSCOUTER_RATE_LIMIT_WEBHOOK`. Inbound webhook routes sit outside the edge's
//! per-caller limiter (a provider's few IPs would exhaust the unauthenticated tier), so they
//! call these instead: verified deliveries count against their source, refused ones against
//! the sender's IP at the unauthenticated tier, so forged traffic cannot use up the source's
//! budget.

use std::net::IpAddr;

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::ratelimit::{Decision, Quota};

/// Counts one verified event from `source`; 429 (with `Retry-After`) beyond the tier.
pub async fn admit(state: &App, source: &str) -> AppResult<Decision> {
    let quota = Quota { per_minute: state.config.rate_limits.webhook };
    let d = state.limiter.check(&format!("webhook:{source}"), quota, 1).await;
    if d.allowed { Ok(d) } else { Err(AppError::RateLimited(d.retry_after_secs)) }
}

/// Counts one refused delivery against the sender's IP (the same bucket the edge uses for
/// unauthenticated requests); 429 once that is exhausted, so the caller answers 401 otherwise.
pub async fn refused(state: &App, ip: Option<IpAddr>) -> AppResult<()> {
    let ip = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let quota = Quota { per_minute: state.config.rate_limits.unauthenticated };
    let d = state.limiter.check(&format!("ip:{ip}"), quota, 1).await;
    if d.allowed { Ok(()) } else { Err(AppError::RateLimited(d.retry_after_secs)) }
}
