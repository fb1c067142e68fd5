//! The GCRA arithmetic both limiters share, in exact integers for every allowed limit.
//!
//! Time is counted in units of `1/limit` millisecond, so the emission interval of a limit of
//! `L` per minute is exactly `60 000` units whatever `L` is (no rounding of `60 s / L`, no
//! interval that becomes 0), and the burst is exactly `L` cells (`L · 60 000` units). Every
//! number here stays below `2 · MAX_PER_MINUTE · 60 000 = 1.2·10^14`, under the 2^53 that Lua's
//! doubles hold exactly, so the Redis script (`redis.rs`) computes the very same integers. A
//! bucket's theoretical arrival time (TAT) is kept as whole milliseconds plus a remainder in
//! those units.

use super::{Decision, Quota};

/// One minute in milliseconds: the window every quota is expressed in, and the emission
/// interval in units of `1/limit` ms.
pub const WINDOW_MS: i64 = 60_000;

/// The largest per-minute limit configuration accepts (16.7 million a second for one key). The
/// arithmetic is exact up to about 7·10^10 (the 2^53 of Lua's doubles); this round bound keeps
/// a wide margin and still covers "effectively unlimited" settings such as the bench scripts'.
pub const MAX_PER_MINUTE: u32 = 1_000_000_000;

/// A bucket's theoretical arrival time: `ms` epoch milliseconds plus `frac / limit` ms
/// (`0 ≤ frac < limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tat {
    pub ms: i64,
    pub frac: i64,
}

/// The limit a quota is counted at: 1..=MAX_PER_MINUTE (configuration already refuses values
/// outside; the clamp keeps the bounds above true for any `Quota` built in code).
pub fn limit_of(quota: Quota) -> u32 {
    quota.per_minute.clamp(1, MAX_PER_MINUTE)
}

/// How far the bucket's TAT lies ahead of `now`, in `1/limit` ms: 0 for a full bucket (or no
/// bucket), `limit · WINDOW_MS` for an empty one.
pub fn ahead(tat: Option<Tat>, now_ms: i64, limit: u32) -> i64 {
    let Some(tat) = tat else { return 0 };
    let limit = i64::from(limit);
    // Clamped before the product: a stale key, or a clock that went back, cannot overflow it.
    let delta = tat.ms.saturating_sub(now_ms).clamp(-1, WINDOW_MS);
    (delta * limit + tat.frac).clamp(0, WINDOW_MS * limit)
}

/// How far the TAT lies ahead after taking `cost` cells, or `None` when they do not fit (a cost
/// above the limit never fits and is not multiplied).
pub fn after(before: i64, limit: u32, cost: u32) -> Option<i64> {
    if cost > limit {
        return None;
    }
    let after = before + i64::from(cost) * WINDOW_MS;
    (after <= i64::from(limit) * WINDOW_MS).then_some(after)
}

/// The TAT `ahead` units after `now`.
pub fn tat_at(now_ms: i64, ahead: i64, limit: u32) -> Tat {
    let limit = i64::from(limit);
    // Division by the limit (≥ 1 by `limit_of`) splits the units into whole ms and a remainder;
    // `ahead` is never negative, so `/` and `%` are floor division and its remainder.
    Tat { ms: now_ms.saturating_add(ahead / limit), frac: ahead % limit }
}

/// Units (`1/limit` ms) to whole seconds, rounded up.
fn ceil_secs(units: i64, limit: u32) -> u64 {
    let per_sec = u64::from(limit) * 1000;
    // A division by `limit · 1000` (≥ 1000, never 0) of a non-negative count of units.
    u64::try_from(units).unwrap_or(0).div_ceil(per_sec)
}

/// The answer for a request of `cost` cells on a bucket `before` units ahead, `allowed` as the
/// limiter decided it (`after(..).is_some()`; the Redis script decides it in Redis).
pub fn decision(limit: u32, cost: u32, before: i64, allowed: bool) -> Decision {
    let burst = i64::from(limit) * WINDOW_MS;
    let next = if cost > limit { None } else { Some(before + i64::from(cost) * WINDOW_MS) };
    let used = match next {
        Some(n) if allowed => n,
        _ => before,
    };
    // Whole cells left: both operands are non-negative integers and WINDOW_MS is a constant.
    let remaining = ((burst - used) / WINDOW_MS).clamp(0, i64::from(limit));
    let retry_after_secs = match next {
        _ if allowed => 0,
        Some(n) => ceil_secs(n - burst, limit).max(1),
        // More cells than the limit never fit: come back when the bucket is full (and send less).
        None => ceil_secs(before, limit).max(1),
    };
    Decision {
        allowed,
        limit,
        remaining: u32::try_from(remaining).unwrap_or(0),
        reset_secs: ceil_secs(used, limit),
        retry_after_secs,
    }
}
