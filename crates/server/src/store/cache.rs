//! The store's identity cache (sign-in session → principal, user, organization). Writes
//! through this process invalidate at once and hand the invalidation to the cluster bus
//! (`crate::cluster`), which every other node applies; the TTL (default 5 s,
//! `OPENSCOUTER_IDENTITY_CACHE_SECS`) stays the safety net for a lost message.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::{Organization, PrincipalRecord, User};
use crate::cache::TtlCache;

/// The channel invalidations travel on (Redis pub/sub channel, PostgreSQL notification channel).
pub const INVALIDATION_CHANNEL: &str = "openscouter_identity";

/// What a node must forget. Sent between nodes as a short text (`s:<id>`, `u:<id>`, `o:<id>`,
/// `*`), so the ids are the only payload (no secret ever travels on the bus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// A sign-in session was revoked (sign-out, refresh-token reuse).
    Session(String),
    /// A user changed in a way that ends or alters their principals (suspension, erasure, rename).
    User(String),
    /// An organization's plan changed: every member's principal carries it.
    Organization(String),
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
            Self::All => "*".to_owned(),
        }
    }

    /// Parses the wire form (`None`: not ours, ignored).
    pub fn decode(text: &str) -> Option<Self> {
        if text == "*" {
            return Some(Self::All);
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

/// The identity caches of one store.
pub struct IdentityCache {
    /// Sign-in session id → principal (checked against the user id on read).
    pub principals: TtlCache<PrincipalRecord>,
    pub users: TtlCache<User>,
    pub organizations: TtlCache<Organization>,
    /// Where this node's invalidations go for the other nodes (unset: single node).
    outbox: OnceLock<UnboundedSender<Invalidation>>,
}

impl IdentityCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            principals: TtlCache::new(ttl),
            users: TtlCache::new(ttl),
            organizations: TtlCache::new(ttl),
            outbox: OnceLock::new(),
        }
    }

    /// Forgets what `inv` names here only (a message from another node, or the local half
    /// of `invalidate`).
    pub fn apply(&self, inv: &Invalidation) {
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
            Invalidation::All => {
                self.principals.clear();
                self.users.clear();
                self.organizations.clear();
            }
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
            Invalidation::All,
        ] {
            assert_eq!(Invalidation::decode(&inv.encode()), Some(inv));
        }
        assert_eq!(Invalidation::decode("x:1"), None);
        assert_eq!(Invalidation::decode("s:"), None);
    }
}
