//! A small sharded in-process TTL cache, used for hot reads on every request's path
//! (verified access tokens, sign-in sessions, users, organizations).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SHARDS: usize = 16;
/// A shard holding more entries than this is emptied before the next insert (crude, bounded).
const MAX_PER_SHARD: usize = 8192;

/// Seeded per map (foldhash, not SipHash: the keys are ids and verified tokens the server
/// issued, and every shard is bounded); shard index and map share it.
type Hasher = foldhash::quality::RandomState;
/// One shard: key → value and when it was stored.
type Shard<V> = HashMap<String, (V, Instant), Hasher>;

/// A sharded map with expiry.
pub struct TtlCache<V> {
    ttl: Duration,
    hasher: Hasher,
    shards: Vec<Mutex<Shard<V>>>,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            hasher: Hasher::default(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::with_hasher(Hasher::default()))).collect(),
        }
    }

    fn shard(&self, key: &str) -> std::sync::MutexGuard<'_, Shard<V>> {
        let i = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        match self.shards[i].lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub fn get(&self, key: &str) -> Option<V> {
        if self.ttl.is_zero() {
            return None;
        }
        let shard = self.shard(key);
        shard.get(key).filter(|(_, at)| at.elapsed() < self.ttl).map(|(v, _)| v.clone())
    }

    /// What `f` reads from a live entry, without cloning the value.
    pub fn get_with<R>(&self, key: &str, f: impl FnOnce(&V) -> Option<R>) -> Option<R> {
        if self.ttl.is_zero() {
            return None;
        }
        let shard = self.shard(key);
        shard.get(key).filter(|(_, at)| at.elapsed() < self.ttl).and_then(|(v, _)| f(v))
    }

    pub fn put(&self, key: &str, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut shard = self.shard(key);
        if shard.len() >= MAX_PER_SHARD {
            shard.clear();
        }
        shard.insert(key.to_owned(), (value, Instant::now()));
    }

    pub fn remove(&self, key: &str) {
        self.shard(key).remove(key);
    }

    pub fn clear(&self) {
        for s in &self.shards {
            match s.lock() {
                Ok(mut g) => g.clear(),
                Err(poisoned) => poisoned.into_inner().clear(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_and_invalidation() {
        let c: TtlCache<u32> = TtlCache::new(Duration::from_millis(50));
        c.put("a", 1);
        assert_eq!(c.get("a"), Some(1));
        c.remove("a");
        assert_eq!(c.get("a"), None);
        c.put("b", 2);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.get("b"), None);
        let off: TtlCache<u32> = TtlCache::new(Duration::ZERO);
        off.put("a", 1);
        assert_eq!(off.get("a"), None);
    }
}
