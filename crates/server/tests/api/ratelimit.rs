//! The two limiters agree: the in-process GCRA and the Redis script, fed one sequence of costs
//! and clock moves on the same injected clock, give the same decisions and the same
//! `Retry-After`, for limits from 1 to the largest configuration accepts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use openscouter_server::clock::ManualClock;
use openscouter_server::config::LimiterFallback;
use openscouter_server::ratelimit::{InProcessLimiter, MAX_PER_MINUTE, Quota, RateLimiter, RedisLimiter};
use secrecy::SecretString;

use crate::multinode::redis_url;

const LIMITS: [u32; 20] = [
    1,
    2,
    3,
    7,
    30,
    59,
    61,
    120,
    999,
    1000,
    7919,
    59_999,
    60_001,
    1_000_003,
    59_999_999,
    60_000_001,
    123_456_789,
    999_999_937,
    MAX_PER_MINUTE - 1,
    MAX_PER_MINUTE,
];

/// A small deterministic generator (no dev-dependency for randomness; the sequence is the
/// same on every run, so a failure replays).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ratelimit_in_process_and_redis_decide_alike() {
    let Some(url) = redis_url() else { return };
    let clock = ManualClock::new(1_765_000_000_000);
    let local = InProcessLimiter::new(Arc::new(clock.clone()));
    let conn = openscouter_server::cluster::redis::RedisConn::new(&SecretString::from(url.clone())).unwrap();
    // Closed fallback: an answer that did not come from Redis would be a refusal with
    // `Retry-After: 1` and show up as a disagreement.
    let shared = RedisLimiter::new(Arc::new(conn), LimiterFallback::Closed, Arc::new(clock.clone()))
        .on_injected_clock();
    let run = ulid::Ulid::generate();
    let mut rng = Lcg(42);
    let (mut allowed, mut denied) = (0, 0);
    for limit in LIMITS {
        let key = format!("diff:{run}:{limit}");
        let q = Quota { per_minute: limit };
        // The emission interval in ms, rounded down (0 for limits above 60 000 a minute).
        let interval_ms = 60_000 / i64::from(limit);
        for step in 0..60 {
            let cost = match rng.next(8) {
                0 => limit,
                1 => limit.saturating_add(1),
                2 => (limit / 2).max(1),
                3 => u32::try_from(rng.next(u64::from(limit))).unwrap() + 1,
                _ => 1 + u32::try_from(rng.next(3)).unwrap(),
            };
            let advance = match rng.next(6) {
                0 => 0,
                1 => 1,
                2 => interval_ms,
                3 => i64::try_from(rng.next(5_000)).unwrap(),
                4 => i64::try_from(rng.next(61_000)).unwrap(),
                _ => 61_000,
            };
            clock.advance_ms(advance);
            if interval_ms == 0 {
                // Real time passes while the injected clock stands still: a bucket that empties
                // within a millisecond must not expire in Redis meanwhile (it did, under load).
                tokio::time::sleep(std::time::Duration::from_millis(3)).await;
            }
            let a = local.check(&key, q, cost).await;
            let b = shared.check(&key, q, cost).await;
            assert_eq!(a, b, "limit {limit}, step {step}, cost {cost}, after +{advance} ms");
            if a.allowed { allowed += 1 } else { denied += 1 }
        }
    }
    assert!(allowed > 200 && denied > 200, "both answers exercised: {allowed} allowed, {denied} denied");
}
