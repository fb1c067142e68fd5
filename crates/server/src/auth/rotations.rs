//! Refresh-token rotations this node performed recently: a double submit within the grace
//! period gets the same pair back instead of tripping reuse detection (the rules live in
//! `services::accounts::refresh`; this is the per-node table it keeps).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A freshly issued pair.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: i64,
}

/// A rotation this node performed, kept for the grace period.
pub struct Rotation {
    pub tokens: IssuedTokens,
    pub session_id: String,
    pub user_id: String,
    pub successor_hash: String,
    /// When it happened (the injected clock).
    pub at: i64,
    /// Set once the pair's own refresh token has been rotated: from then on the
    /// predecessor is plain reuse again.
    pub superseded: Arc<AtomicBool>,
}

pub type Slot = Arc<tokio::sync::Mutex<Option<Rotation>>>;

/// Recent rotations by presented-token hash, and who supersedes whom. Per node: a
/// double submit that lands on two nodes is still reuse (see docs/decisions.md).
#[derive(Default)]
pub struct RecentRotations {
    inner: std::sync::Mutex<Recent>,
}

#[derive(Default)]
struct Recent {
    slots: HashMap<String, Slot>,
    /// Successor hash → the flag of the rotation that issued it.
    successors: HashMap<String, (Arc<AtomicBool>, i64)>,
}

/// Entries are swept once the table holds more than this.
const SWEEP_ABOVE: usize = 4096;

impl RecentRotations {
    fn lock(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The slot of `hash`, created if absent; sweeps stale entries when the table is large.
    pub fn slot(&self, hash: &str, now: i64, grace_ms: i64) -> Slot {
        let mut recent = self.lock();
        if recent.slots.len() > SWEEP_ABOVE {
            // Keep slots someone holds or waits on, and rotations still within the grace.
            recent.slots.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot.try_lock().map_or(true, |r| r.as_ref().is_some_and(|r| now - r.at <= grace_ms))
            });
            recent.successors.retain(|_, (_, at)| now - *at <= grace_ms);
        }
        recent.slots.entry(hash.to_owned()).or_default().clone()
    }

    /// Records that `presented_hash` was rotated: its own predecessor may no longer replay.
    pub fn rotated(&self, presented_hash: &str, rotation: &Rotation) {
        let mut recent = self.lock();
        if let Some((flag, _)) = recent.successors.remove(presented_hash) {
            flag.store(true, Ordering::Release);
        }
        recent.successors.insert(rotation.successor_hash.clone(), (rotation.superseded.clone(), rotation.at));
    }
}
