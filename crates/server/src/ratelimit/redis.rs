//! The shared limiter: the same GCRA as `gcra.rs`, run atomically inside Redis by one Lua
//! script per decision (EVALSHA, falling back to EVAL when the script is not cached), on the
//! Redis server's clock (`TIME`), so N nodes hold one limit between them. Keys expire when
//! their bucket is full again. When Redis cannot answer, the configured fallback decides;
//! never an error.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use async_trait::async_trait;

use super::LimiterFallback;
use super::cells;
use super::{Decision, InProcessLimiter, Quota, RateLimiter};
use crate::cluster::redis::{COMMAND_TIMEOUT, RedisConn};

/// KEYS[1] bucket; ARGV[1] limit (1..=MAX_PER_MINUTE), ARGV[2] cost, ARGV[3] now in epoch ms
/// or empty for the Redis server's clock, ARGV[4] (with an injected `now` only) the least expiry
/// in ms.
/// Returns {allowed, units ahead before the request}.
///
/// A key expires when its bucket is full again (`q + 1` ms), on Redis's own clock. With an
/// injected `now` that clock is not the decision's, so the caller asks for a longer expiry:
/// a key outliving its TAT reads as a full bucket, the same decision.
///
/// The arithmetic of `cells.rs`, step for step: times in `1/limit` ms, the TAT stored as
/// "ms:frac", every number an integer below 2^53 and so exact in Lua's doubles. Lua's `/`
/// is a float division; the floor is corrected by one if rounding pushed it over.
const GCRA_LUA: &str = r"
local limit = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  -- microseconds to whole ms: an exact integer quotient is never rounded down past itself
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local window = 60000
local burst = window * limit
local before = 0
local stored = redis.call('GET', KEYS[1])
if stored then
  local ms, frac = string.match(stored, '^(%-?%d+):(%d+)$')
  if ms then
    local delta = tonumber(ms) - now
    if delta < -1 then delta = -1 elseif delta > window then delta = window end
    before = delta * limit + tonumber(frac)
    if before < 0 then before = 0 elseif before > burst then before = burst end
  end
end
if cost > limit then return {0, before} end
local after = before + cost * window
if after > burst then return {0, before} end
-- limit >= 1 (clamped by the caller); the floor of a float quotient, corrected just below
local q = math.floor(after / limit)
local r = after - q * limit
if r < 0 then q = q - 1; r = r + limit elseif r >= limit then q = q + 1; r = r - limit end
local px = q + 1
local least = tonumber(ARGV[4])
if least and px < least then px = least end
redis.call('SET', KEYS[1], string.format('%d:%d', now + q, r), 'PX', px)
return {1, before}
";

/// The least key expiry with an injected clock: longer than any bucket (a minute) lasts.
const INJECTED_CLOCK_EXPIRY_MS: i64 = 120_000;

/// Rate limits shared through Redis.
pub struct RedisLimiter {
    conn: Arc<RedisConn>,
    script: redis::Script,
    fallback: InProcessLimiter,
    on_failure: LimiterFallback,
    /// Epoch ms of the last "Redis unavailable" log line (one a minute at most).
    last_logged: AtomicI64,
    /// Whether the last decision fell back (so the first one through Redis again is logged).
    degraded: AtomicBool,
    clock: crate::clock::SharedClock,
    /// Decide on `clock` instead of the Redis server's `TIME` (tests replaying a sequence).
    on_injected_clock: bool,
}

impl RedisLimiter {
    pub fn new(conn: Arc<RedisConn>, on_failure: LimiterFallback, clock: crate::clock::SharedClock) -> Self {
        Self {
            conn,
            script: redis::Script::new(GCRA_LUA),
            fallback: InProcessLimiter::new(clock.clone()),
            on_failure,
            last_logged: AtomicI64::new(i64::MIN),
            degraded: AtomicBool::new(false),
            clock,
            on_injected_clock: false,
        }
    }

    /// Decides on the injected clock rather than Redis's `TIME`, so a test can replay one
    /// sequence through this limiter and `InProcessLimiter`. Servers keep Redis's clock: every
    /// node then reads the same time.
    pub fn on_injected_clock(mut self) -> Self {
        self.on_injected_clock = true;
        self
    }

    async fn in_redis(&self, key: &str, quota: Quota, cost: u32) -> Result<Decision, String> {
        let limit = cells::limit_of(quota);
        // An injected clock is not Redis's: a key must not expire on Redis's clock while the
        // injected one still needs it (a test's clock stands still while real time passes).
        let now = if self.on_injected_clock { self.clock.now_ms().to_string() } else { String::new() };
        let mut conn = self.conn.get().await?;
        // A new key prefix with the "ms:frac" format: buckets of the µs format are not read.
        let mut call = self.script.key(format!("openscouter:rl2:{key}|{limit}"));
        call.arg(limit).arg(cost).arg(now);
        if self.on_injected_clock {
            call.arg(INJECTED_CLOCK_EXPIRY_MS);
        }
        let answer = tokio::time::timeout(COMMAND_TIMEOUT, call.invoke_async::<(i64, i64)>(&mut conn)).await;
        let (allowed, before) = match answer {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                self.conn.mark_down();
                return Err(format!("rate-limit script failed: {:?}", e.kind()));
            }
            Err(_) => {
                self.conn.mark_down();
                return Err("rate-limit script timed out".into());
            }
        };
        Ok(cells::decision(limit, cost, before, allowed == 1))
    }

    fn log_unavailable(&self, why: &str) {
        let now = self.clock.now_ms();
        let last = self.last_logged.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 60_000
            && self.last_logged.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            tracing::warn!(reason = why, fallback = ?self.on_failure, "shared rate limiter unavailable");
        }
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, key: &str, quota: Quota, cost: u32) -> Decision {
        match self.in_redis(key, quota, cost).await {
            Ok(d) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("shared rate limiter available again");
                    self.last_logged.store(i64::MIN, Ordering::Relaxed);
                }
                d
            }
            Err(why) => {
                self.degraded.store(true, Ordering::Relaxed);
                metrics::counter!("redis_fallbacks_total", "use" => "rate_limit").increment(1);
                self.log_unavailable(&why);
                let limit = cells::limit_of(quota);
                match self.on_failure {
                    LimiterFallback::Local => self.fallback.check(key, quota, cost).await,
                    LimiterFallback::Open => Decision {
                        allowed: true,
                        limit,
                        remaining: limit,
                        reset_secs: 0,
                        retry_after_secs: 0,
                    },
                    LimiterFallback::Closed => {
                        Decision { allowed: false, limit, remaining: 0, reset_secs: 1, retry_after_secs: 1 }
                    }
                }
            }
        }
    }
}
