//! The store's identity cache (sign-in session → principal, user, organization). Writes
//! through this process invalidate at once; other nodes see a change within the TTL
//! (default 5 s, `OPENSCOUTER_IDENTITY_CACHE_SECS`).

use std::time::Duration;

use super::{Organization, PrincipalRecord, User};
use crate::cache::TtlCache;

/// The identity caches of one store.
pub struct IdentityCache {
    /// Sign-in session id → principal (checked against the user id on read).
    pub principals: TtlCache<PrincipalRecord>,
    pub users: TtlCache<User>,
    pub organizations: TtlCache<Organization>,
}

impl IdentityCache {
    pub fn new(ttl: Duration) -> Self {
        Self { principals: TtlCache::new(ttl), users: TtlCache::new(ttl), organizations: TtlCache::new(ttl) }
    }
}

impl std::fmt::Debug for IdentityCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityCache")
    }
}
