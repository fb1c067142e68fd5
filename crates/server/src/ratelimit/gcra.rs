//! In-process GCRA (generic cell rate algorithm): one timestamp per key, no timer tasks.
//!
//! GCRA as in ATM's "virtual scheduling" (ITU-T I.371) and as `governor`/`redis-cell` use it:
//! each key keeps a theoretical arrival time (TAT); a request of `n` units is allowed when
//! `max(TAT, now) + n·T − now ≤ burst·T`, where `T = 60 s / limit`. Written here rather than
//! taken from `governor` because we need the remaining/reset figures for headers, per-key
//! quotas that change with a plan, item-counted costs, and the injected clock.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Decision, Quota, RateLimiter};
use crate::clock::SharedClock;

const SHARDS: usize = 16;
/// Beyond this many keys in a shard, full buckets are pruned on the next insert.
const PRUNE_AT: usize = 4096;
const WINDOW_NS: i128 = 60_000_000_000;

/// Process-local limiter; one per node (counters are not shared between nodes).
pub struct InProcessLimiter {
    clock: SharedClock,
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<String, i128>>>,
}

impl InProcessLimiter {
    pub fn new(clock: SharedClock) -> Self {
        Self {
            clock,
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    fn decide(&self, key: &str, quota: Quota, cost: u32) -> Decision {
        let limit = quota.per_minute.max(1);
        let now = i128::from(self.clock.now_ms()) * 1_000_000;
        let t = WINDOW_NS / i128::from(limit); // emission interval
        let burst = WINDOW_NS; // = limit · T
        let shard = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        let mut map = match self.shards[shard].lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        // A bucket is per key *and* quota: after a plan change the caller starts on the new
        // tier's full bucket instead of inheriting a debt computed at the old rate.
        let key = format!("{key}|{limit}");
        let tat = map.get(&key).copied().unwrap_or(now).max(now);
        let new_tat = tat + t * i128::from(cost);
        let allowed = new_tat - now <= burst;
        let used_until = if allowed { new_tat } else { tat };
        if allowed {
            if map.len() >= PRUNE_AT && !map.contains_key(&key) {
                map.retain(|_, v| *v > now);
            }
            map.insert(key, new_tat);
        }
        drop(map);
        let remaining = ((burst - (used_until - now)) / t).clamp(0, i128::from(limit));
        let ceil_secs =
            |ns: i128| u64::try_from((ns.max(0) + 999_999_999) / 1_000_000_000).unwrap_or(u64::MAX);
        Decision {
            allowed,
            limit,
            remaining: u32::try_from(remaining).unwrap_or(0),
            reset_secs: ceil_secs(used_until - now),
            retry_after_secs: if allowed { 0 } else { ceil_secs(new_tat - now - burst).max(1) },
        }
    }
}

#[async_trait]
impl RateLimiter for InProcessLimiter {
    async fn check(&self, key: &str, quota: Quota, cost: u32) -> Decision {
        self.decide(key, quota, cost)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn burst_then_refill() {
        let clock = ManualClock::new(1_000_000);
        let l = InProcessLimiter::new(Arc::new(clock.clone()));
        let q = Quota { per_minute: 30 };
        for i in 0..30 {
            let d = l.decide("ip:1", q, 1);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 29 - i);
        }
        let d = l.decide("ip:1", q, 1);
        assert!(!d.allowed);
        assert_eq!(d.retry_after_secs, 2); // one cell every 2 s
        assert_eq!(d.remaining, 0);
        clock.advance_ms(2_000);
        assert!(l.decide("ip:1", q, 1).allowed);
        assert!(!l.decide("ip:1", q, 1).allowed);
        // other keys are independent
        assert!(l.decide("ip:2", q, 1).allowed);
    }

    #[test]
    fn costs_count_items_and_never_partially_apply() {
        let clock = ManualClock::new(0);
        let l = InProcessLimiter::new(Arc::new(clock.clone()));
        let q = Quota { per_minute: 1000 };
        assert!(l.decide("s", q, 600).allowed);
        let d = l.decide("s", q, 600);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 400);
        assert_eq!(d.retry_after_secs, 12); // 200 items at 60 ms each
        assert!(l.decide("s", q, 400).allowed);
    }

    #[test]
    fn a_cost_above_the_limit_is_always_denied() {
        let l = InProcessLimiter::new(Arc::new(ManualClock::new(0)));
        assert!(!l.decide("s", Quota { per_minute: 10 }, 11).allowed);
    }
}
