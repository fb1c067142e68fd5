//! Rate limiting: the `RateLimiter` trait, a GCRA implementation with an injected clock (one
//! node, the default) and the same GCRA in Redis (`REDIS_URL`: one limit across all nodes).

mod cells;
mod gcra;
mod redis;

use async_trait::async_trait;

pub use cells::MAX_PER_MINUTE;
pub use gcra::InProcessLimiter;
pub use redis::RedisLimiter;

/// A limit: `per_minute` units, with the same number as burst (spec §1.6); counted as
/// 1..=`MAX_PER_MINUTE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub per_minute: u32,
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The quota's limit (`X-RateLimit-Limit`).
    pub limit: u32,
    /// Units left right now (`X-RateLimit-Remaining`).
    pub remaining: u32,
    /// Seconds until the bucket is full again (`X-RateLimit-Reset`).
    pub reset_secs: u64,
    /// When denied, whole seconds until `cost` units fit (`Retry-After`, at least 1).
    pub retry_after_secs: u64,
}

/// What the shared (Redis) rate limiter does while Redis cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimiterFallback {
    /// Count in this process instead (limits per node until Redis is back); the default.
    Local,
    /// Allow every request (availability first).
    Open,
    /// Refuse with 429 and `Retry-After: 1` (limits first).
    Closed,
}

/// Counts requests (or items) per key.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Takes `cost` units from `key`'s bucket if they fit; never takes part of them.
    async fn check(&self, key: &str, quota: Quota, cost: u32) -> Decision;
}
