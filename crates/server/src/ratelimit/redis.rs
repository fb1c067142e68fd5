//! The shared limiter: the same GCRA as `gcra.rs`, run atomically inside Redis by one Lua
//! script per decision (EVALSHA, falling back to EVAL when the script is not cached), on the
//! Redis server's clock (`TIME`), so N nodes hold one limit between them. Keys expire when
//! their bucket is full again. When Redis cannot answer, the configured fallback decides;
//! never an error.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;

use super::{Decision, InProcessLimiter, Quota, RateLimiter};
use crate::cluster::redis::{COMMAND_TIMEOUT, RedisConn};
use crate::config::LimiterFallback;

/// Microseconds in the one-minute window (Lua numbers are doubles: microseconds since the
/// epoch fit in their 53 bits, nanoseconds would not).
const WINDOW_US: i64 = 60_000_000;

/// KEYS[1] bucket; ARGV[1] emission interval T (µs), ARGV[2] burst (µs), ARGV[3] cost.
/// Returns {allowed, µs until the bucket is full, µs until `cost` fits}.
const GCRA_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval * cost
if new_tat - now <= burst then
  redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1)
  return {1, new_tat - now, 0}
end
return {0, tat - now, new_tat - now - burst}
";

/// Rate limits shared through Redis.
pub struct RedisLimiter {
    conn: Arc<RedisConn>,
    script: redis::Script,
    fallback: InProcessLimiter,
    on_failure: LimiterFallback,
    /// Epoch ms of the last "Redis unavailable" log line (one a minute at most).
    last_logged: AtomicI64,
    clock: crate::clock::SharedClock,
}

impl RedisLimiter {
    pub fn new(conn: Arc<RedisConn>, on_failure: LimiterFallback, clock: crate::clock::SharedClock) -> Self {
        Self {
            conn,
            script: redis::Script::new(GCRA_LUA),
            fallback: InProcessLimiter::new(clock.clone()),
            on_failure,
            last_logged: AtomicI64::new(i64::MIN),
            clock,
        }
    }

    async fn in_redis(&self, key: &str, quota: Quota, cost: u32) -> Result<Decision, String> {
        let limit = quota.per_minute.max(1);
        let interval = WINDOW_US / i64::from(limit);
        let mut conn = self.conn.get().await?;
        let mut call = self.script.key(format!("openscouter:rl:{key}|{limit}"));
        call.arg(interval).arg(WINDOW_US).arg(cost);
        let answer =
            tokio::time::timeout(COMMAND_TIMEOUT, call.invoke_async::<(i64, i64, i64)>(&mut conn)).await;
        let (allowed, used_us, excess_us) = match answer {
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
        let ceil_secs = |us: i64| u64::try_from((us.max(0) + 999_999) / 1_000_000).unwrap_or(u64::MAX);
        let remaining = ((WINDOW_US - used_us) / interval).clamp(0, i64::from(limit));
        Ok(Decision {
            allowed: allowed == 1,
            limit,
            remaining: u32::try_from(remaining).unwrap_or(0),
            reset_secs: ceil_secs(used_us),
            retry_after_secs: if allowed == 1 { 0 } else { ceil_secs(excess_us).max(1) },
        })
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
            Ok(d) => d,
            Err(why) => {
                self.log_unavailable(&why);
                let limit = quota.per_minute.max(1);
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
