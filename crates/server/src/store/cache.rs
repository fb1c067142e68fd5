//! The store's identity cache (sign-in session → principal, user, organization). Writes
//! through this process invalidate at once and hand the invalidation to the cluster bus
//! (`crate::cluster`), which every other node applies; the TTL (default 5 s,
//! `OPENSCOUTER_IDENTITY_CACHE_SECS`) stays the safety net for a lost message.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::{Organization, PrincipalRecord, User};
use crate::cache::TtlCache;
use crate::domain::Tenant;

/// The channel invalidations travel on (Redis pub/sub channel, PostgreSQL notification channel).
pub const INVALIDATION_CHANNEL: &str = "openscouter_identity";

/// What a node must forget. Sent between nodes as a short text (`s:<id>`, `u:<id>`, `o:<id>`,
/// `n`, `*`), so the ids are the only payload (no secret ever travels on the bus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// A sign-in session was revoked (sign-out, refresh-token reuse).
    Session(String),
    /// A user changed in a way that ends or alters their principals (suspension, erasure, rename).
    User(String),
    /// An organization's plan changed: every member's principal carries it.
    Organization(String),
    /// A notification was written or marked read: every cached unread count is stale.
    Notifications,
    /// Everything (a node that may have missed messages, e.g. after reconnecting to the bus).
    All,
}

impl Invalidation {
    /// The wire form.
    pub fn encode(&self) -> String {
        match self {
            Self::Session(id) => format!("s:{id}"),
            Self::User(id) => format!("u:{id}"),
            Self::Organization(id) => format!("o:{id}"),
            Self::Notifications => "n".to_owned(),
            Self::All => "*".to_owned(),
        }
    }

    /// Parses the wire form (`None`: not ours, ignored).
    pub fn decode(text: &str) -> Option<Self> {
        match text {
            "*" => return Some(Self::All),
            "n" => return Some(Self::Notifications),
            _ => {}
        }
        let (kind, id) = text.split_once(':')?;
        if id.is_empty() {
            return None;
        }
        match kind {
            "s" => Some(Self::Session(id.to_owned())),
            "u" => Some(Self::User(id.to_owned())),
            "o" => Some(Self::Organization(id.to_owned())),
            _ => None,
        }
    }
}

/// A cached unread notification count, and what it was read for.
#[derive(Debug, Clone)]
struct UnreadCount {
    version: u64,
    tenant: Tenant,
    count: u64,
}

/// The identity caches of one store.
pub struct IdentityCache {
    /// Sign-in session id → principal (checked against the user id on read).
    pub principals: TtlCache<PrincipalRecord>,
    pub users: TtlCache<User>,
    pub organizations: TtlCache<Organization>,
    /// User id → unread notification count (`GET /api/me` reads it on every request). An entry
    /// is good only while `version` has not moved since its count was read: every write to
    /// `notifications` or `notification_reads` invalidates after it commits.
    unread: TtlCache<UnreadCount>,
    /// Moves on every invalidation (any kind, local or from another node): a value drawn from
    /// these caches (an unread count, a rendered `GET /api/me` body) is current while it has
    /// not moved.
    version: AtomicU64,
    /// Where this node's invalidations go for the other nodes (unset: single node).
    outbox: OnceLock<UnboundedSender<Invalidation>>,
}

impl IdentityCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            principals: TtlCache::new(ttl),
            users: TtlCache::new(ttl),
            organizations: TtlCache::new(ttl),
            unread: TtlCache::new(ttl),
            version: AtomicU64::new(0),
            outbox: OnceLock::new(),
        }
    }

    /// Forgets what `inv` names here only (a message from another node, or the local half
    /// of `invalidate`).
    pub fn apply(&self, inv: &Invalidation) {
        self.version.fetch_add(1, Ordering::SeqCst);
        match inv {
            Invalidation::Session(id) => self.principals.remove(id),
            // Principals are keyed by sign-in session, not user: a user's change drops them all
            // (rare admin actions, and the next request re-reads one row).
            Invalidation::User(id) => {
                self.users.remove(id);
                self.principals.clear();
            }
            Invalidation::Organization(id) => {
                self.organizations.remove(id);
                self.principals.clear();
            }
            // The version moved: every cached count is stale; dropping them frees the memory.
            Invalidation::Notifications => self.unread.clear(),
            Invalidation::All => {
                self.principals.clear();
                self.users.clear();
                self.organizations.clear();
                self.unread.clear();
            }
        }
    }

    /// The version to draw a value from these caches at: taken *before* the reads, so an
    /// invalidation meanwhile makes the value stale, never cached as fresh.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    /// The cached unread count of `user_id` seeing `tenant`, when still current.
    pub fn unread(&self, tenant: &Tenant, user_id: &str) -> Option<u64> {
        let now = self.version();
        self.unread.get_with(user_id, |e| (e.version == now && e.tenant == *tenant).then_some(e.count))
    }

    /// Remembers a count read at `version` (see [`IdentityCache::version`]).
    pub fn put_unread(&self, tenant: &Tenant, user_id: &str, version: u64, count: u64) {
        if version == self.version() {
            self.unread.put(user_id, UnreadCount { version, tenant: tenant.clone(), count });
        }
    }

    /// Forgets here and tells the other nodes (after the write committed).
    pub fn invalidate(&self, inv: Invalidation) {
        self.apply(&inv);
        if let Some(tx) = self.outbox.get() {
            // A closed channel means the process is stopping; the TTL covers the rest.
            let _ = tx.send(inv);
        }
    }

    /// Connects the outbox (once; later calls are ignored and return false).
    pub fn set_outbox(&self, tx: UnboundedSender<Invalidation>) -> bool {
        self.outbox.set(tx).is_ok()
    }
}

impl std::fmt::Debug for IdentityCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityCache")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_round_trips() {
        for inv in [
            Invalidation::Session("as_1".into()),
            Invalidation::User("usr_1".into()),
            Invalidation::Organization("org_1".into()),
            Invalidation::Notifications,
            Invalidation::All,
        ] {
            assert_eq!(Invalidation::decode(&inv.encode()), Some(inv));
        }
        assert_eq!(Invalidation::decode("x:1"), None);
        assert_eq!(Invalidation::decode("s:"), None);
    }

    #[test]
    fn an_unread_count_read_before_a_notification_change_is_never_served() {
        let c = IdentityCache::new(Duration::from_secs(60));
        let tenant = Tenant::Organization("org_1".into());
        let v = c.version();
        c.put_unread(&tenant, "usr_1", v, 3);
        assert_eq!(c.unread(&tenant, "usr_1"), Some(3));
        // Another tenant (the user moved organization): not this entry.
        assert_eq!(c.unread(&Tenant::Tester("usr_1".into()), "usr_1"), None);
        c.apply(&Invalidation::Notifications);
        assert_eq!(c.unread(&tenant, "usr_1"), None);
        // A count whose query started before a change committed is not kept.
        let before = c.version();
        c.invalidate(Invalidation::Notifications);
        c.put_unread(&tenant, "usr_1", before, 3);
        assert_eq!(c.unread(&tenant, "usr_1"), None);
        // Off: nothing is kept.
        let off = IdentityCache::new(Duration::ZERO);
        off.put_unread(&tenant, "usr_1", off.version(), 1);
        assert_eq!(off.unread(&tenant, "usr_1"), None);
    }
}
