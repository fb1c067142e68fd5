//! In-process GCRA (generic cell rate algorithm): one timestamp per key, no timer tasks.
//!
//! GCRA as in ATM's "virtual scheduling" (ITU-T I.371) and as `governor`/`redis-cell` use it:
//! each key keeps a theoretical arrival time (TAT); a request of `n` units is allowed when
//! `max(TAT, now) + n·T − now ≤ burst·T`, where `T = 60 s / limit` (counted exactly in
//! `cells.rs`, which the Redis script mirrors). Written here rather than taken from `governor`
//! because we need the remaining/reset figures for headers, per-key quotas that change with a
//! plan, item-counted costs, and the injected clock.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::BuildHasher;
use std::sync::Mutex;

use async_trait::async_trait;

use super::cells::{self, Tat};
use super::{Decision, Quota, RateLimiter};
use crate::clock::SharedClock;

const SHARDS: usize = 16;
/// Beyond this many keys in a shard, full buckets are pruned on the next insert.
const PRUNE_AT: usize = 4096;

/// Seeded per limiter (foldhash, not SipHash: the keys are issued ids and client addresses).
type Hasher = foldhash::quality::RandomState;

thread_local! {
    /// The bucket key (`<key>|<limit>`) is written here, so a request on a known bucket
    /// allocates nothing; only a new bucket's key is copied into the map.
    static BUCKET_KEY: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Process-local limiter; one per node (counters are not shared between nodes).
pub struct InProcessLimiter {
    clock: SharedClock,
    hasher: Hasher,
    shards: Vec<Mutex<HashMap<String, Tat, Hasher>>>,
}

impl InProcessLimiter {
    pub fn new(clock: SharedClock) -> Self {
        Self {
            clock,
            hasher: Hasher::default(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::with_hasher(Hasher::default()))).collect(),
        }
    }

    fn decide(&self, key: &str, quota: Quota, cost: u32) -> Decision {
        let limit = cells::limit_of(quota);
        let now = self.clock.now_ms();
        // `%` on a hash (not a configured value) picks the shard; SHARDS is a small constant.
        let shard = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        let mut map = match self.shards[shard].lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        // A bucket is per key *and* quota: after a plan change the caller starts on the new
        // tier's full bucket instead of inheriting a debt computed at the old rate.
        let (before, after) = BUCKET_KEY.with_borrow_mut(|bucket| {
            bucket.clear();
            bucket.push_str(key);
            // Writing to a `String` cannot fail.
            let _ = write!(bucket, "|{limit}");
            match map.get_mut(bucket.as_str()) {
                Some(tat) => {
                    let before = cells::ahead(Some(*tat), now, limit);
                    let after = cells::after(before, limit, cost);
                    if let Some(after) = after {
                        *tat = cells::tat_at(now, after, limit);
                    }
                    (before, after)
                }
                None => {
                    let before = cells::ahead(None, now, limit);
                    let after = cells::after(before, limit, cost);
                    if let Some(after) = after {
                        if map.len() >= PRUNE_AT {
                            map.retain(|_, tat| tat.ms >= now);
                        }
                        map.insert(bucket.clone(), cells::tat_at(now, after, limit));
                    }
                    (before, after)
                }
            }
        });
        drop(map);
        cells::decision(limit, cost, before, after.is_some())
    }
}

#[async_trait]
impl RateLimiter for InProcessLimiter {
    async fn check(&self, key: &str, quota: Quota, cost: u32) -> Decision {
        self.decide(key, quota, cost)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::ratelimit::MAX_PER_MINUTE;

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

    /// Limits from 1 to past the maximum, costs from 0 to `u32::MAX`, clocks that jump far
    /// forward, stand still or go back (to the ends of `i64`): nothing panics or overflows
    /// (debug builds check), and every answer keeps its invariants.
    #[test]
    fn no_limit_cost_or_clock_panics() {
        let limits = [
            0,
            1,
            2,
            3,
            7,
            59,
            61,
            999,
            59_999,
            60_001,
            1_000_003,
            59_999_999,
            60_000_001,
            123_456_789,
            MAX_PER_MINUTE - 1,
            MAX_PER_MINUTE,
            MAX_PER_MINUTE + 1,
            u32::MAX,
        ];
        let jumps = [0, 1, 7, 999, 60_000, -1, -60_000, i64::MAX / 2, i64::MIN / 2, i64::MAX, i64::MIN];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            seed >> 33
        };
        let clock = ManualClock::new(1_700_000_000_000);
        let l = InProcessLimiter::new(Arc::new(clock.clone()));
        for per_minute in limits {
            let limit = per_minute.clamp(1, MAX_PER_MINUTE);
            let costs = [0, 1, 2, limit / 2, limit - 1, limit, limit.saturating_add(1), u32::MAX];
            for i in 0..400 {
                let cost = costs[usize::try_from(next()).unwrap() % costs.len()];
                let jump = jumps[usize::try_from(next()).unwrap() % jumps.len()];
                if i % 50 == 0 {
                    clock.set_ms(jump);
                } else if jump.unsigned_abs() <= 60_000 {
                    clock.advance_ms(jump);
                }
                let d = l.decide("p", Quota { per_minute }, cost);
                assert_eq!(d.limit, limit);
                assert!(d.remaining <= limit);
                assert!(d.reset_secs <= 60, "{d:?}");
                if d.allowed {
                    assert_eq!(d.retry_after_secs, 0);
                    assert!(cost <= limit);
                } else {
                    assert!(d.retry_after_secs >= 1, "{d:?}");
                    assert!(d.retry_after_secs <= 60, "{d:?}");
                }
            }
        }
    }

    /// The limit is exact whatever it divides into: a limit of 7 a minute is 7 in a burst and
    /// 7 more over the next minute, not 7 plus a rounding gift.
    #[test]
    fn limits_that_do_not_divide_a_minute_are_exact() {
        for per_minute in [7, 59_999_999, 123_456_789] {
            let clock = ManualClock::new(0);
            let l = InProcessLimiter::new(Arc::new(clock.clone()));
            let q = Quota { per_minute };
            assert!(l.decide("k", q, per_minute).allowed);
            assert!(!l.decide("k", q, 1).allowed);
            clock.advance_ms(60_000);
            assert!(l.decide("k", q, per_minute).allowed, "refilled after a minute");
            assert!(!l.decide("k", q, 1).allowed, "and not one more");
            clock.advance_ms(59_999);
            assert!(!l.decide("k", q, per_minute).allowed, "1 ms short of a full minute");
        }
    }

    #[test]
    fn a_cost_above_the_limit_is_always_denied() {
        let l = InProcessLimiter::new(Arc::new(ManualClock::new(0)));
        assert!(!l.decide("s", Quota { per_minute: 10 }, 11).allowed);
    }
}
