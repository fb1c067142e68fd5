//! Prefixed, time-ordered, opaque identifiers (`user_01H…`, spec §1.8).

/// Identifier prefixes used across the API.
pub mod prefix {
    pub const USER: &str = "user";
    pub const ORG: &str = "org";
    pub const TOKEN: &str = "tok";
    pub const AUTH_SESSION: &str = "asn";
    pub const REFRESH: &str = "rft";
    pub const AUDIT: &str = "aud";
    pub const JOB: &str = "job";
    pub const TASK: &str = "task";
    pub const SESSION: &str = "sess";
    pub const EVENT: &str = "evt";
    pub const FACIAL: &str = "fac";
    pub const VOICE: &str = "voc";
    pub const NOTE: &str = "note";
    pub const ANALYSIS_JOB: &str = "ajob";
    pub const REPORT: &str = "rep";
    pub const SHARE: &str = "shr";
    pub const WEBHOOK_ENDPOINT: &str = "whe";
    pub const DELIVERY: &str = "msg";
    pub const REQUEST: &str = "req";
    pub const QUIZ_ATTEMPT: &str = "qat";
    pub const CONSENT: &str = "cns";
    pub const NOTIFICATION: &str = "ntf";
    pub const OFFER: &str = "ofr";
    pub const TELEGRAM_MESSAGE: &str = "tgm";
    pub const OAUTH_CLIENT: &str = "oac";
    pub const OAUTH_CONSENT: &str = "ocs";
    pub const OAUTH_GRANT: &str = "oag";
    pub const OAUTH_TOKEN: &str = "oat";
    pub const MCP_SESSION: &str = "mcps";
    /// A study's payout (billing ledger).
    pub const PAYOUT: &str = "pay";
    /// One session's line of a payout.
    pub const PAYOUT_LINE: &str = "pli";
    /// An invitation to an organization.
    pub const INVITATION: &str = "inv";
    /// A one-time account link (verification, reset, email change).
    pub const ACCOUNT_TOKEN: &str = "act";
    /// One outgoing mail (the subject of its queue item).
    pub const MAIL: &str = "mail";
}

/// Declares a newtype over an id string: a `SessionId` cannot be passed where a `StudyId` is
/// wanted. The wire and the database keep the bare string (`serde` transparent; the `sqlx`
/// encoding is `text_id_sql!` in `store/sql`); nothing is validated on the way in, so an
/// unknown id still answers 404 where it did. A typed id in a `ToSchema` struct needs
/// `#[schema(value_type = String)]` (it has no schema component of its own, so forgetting it
/// does not compile rather than changing the document).
macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident $(, prefix = $prefix:expr)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            $(
            /// A fresh id with this resource's prefix; its time part comes from the injected clock.
            pub fn new(now_ms: i64) -> Self {
                Self(new_id($prefix, now_ms))
            }
            )?

            /// The id as the wire and the database spell it.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The bare string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl From<&String> for $name {
            fn from(s: &String) -> Self {
                Self(s.clone())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        /// A plain string in the OpenAPI document, as before the newtype.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                <String as utoipa::PartialSchema>::schema()
            }
        }
    };
}

typed_id!(
    /// An organization (`org_…`).
    OrgId, prefix = prefix::ORG
);
typed_id!(
    /// A user: business member, tester or admin (`user_…`).
    UserId, prefix = prefix::USER
);
typed_id!(
    /// A study (`job_…`: the wire calls a study a job).
    StudyId, prefix = prefix::JOB
);
typed_id!(
    /// A tester's session of a study (`sess_…`).
    SessionId, prefix = prefix::SESSION
);
typed_id!(
    /// A finding of a session's analysis: named by the engine (deterministic, unprefixed), so
    /// there is no `new`.
    FindingId
);
typed_id!(
    /// An item of the durable work queue (`ajob_…`: the wire calls it an analysis job).
    QueueItemId, prefix = prefix::ANALYSIS_JOB
);

/// A new id `<prefix>_<ULID>`; the ULID's time part comes from the injected clock.
pub fn new_id(prefix: &str, now_ms: i64) -> String {
    let ms = u64::try_from(now_ms).unwrap_or(0);
    prefixed(prefix, ulid::Ulid::from_parts(ms, random_u128()))
}

/// Crockford's base32 in lower case: the alphabet of the ids' ULIDs.
const LOWER_BASE32: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// `<prefix>_<ulid in lower case>` in one allocation (ingestion makes one per item; `format!`
/// with `to_string` and `to_lowercase` took three and showed in its profile).
fn prefixed(prefix: &str, ulid: ulid::Ulid) -> String {
    let mut digits = [0u8; ulid::ULID_LEN];
    let mut value = ulid.0;
    for d in digits.iter_mut().rev() {
        *d = LOWER_BASE32[(value & 0x1f) as usize];
        value >>= 5;
    }
    let mut id = String::with_capacity(prefix.len() + 1 + ulid::ULID_LEN);
    id.push_str(prefix);
    id.push('_');
    id.extend(digits.iter().map(|&b| char::from(b)));
    id
}

/// `n` new ids sharing one random draw (consecutive, so still unique and ordered); cheap for
/// ingestion batches.
pub fn new_ids(prefix: &str, now_ms: i64, n: usize) -> Vec<String> {
    let ms = u64::try_from(now_ms).unwrap_or(0);
    let base = random_u128() & ((1u128 << 80) - 1) & !((1u128 << 20) - 1);
    (0..n).map(|i| prefixed(prefix, ulid::Ulid::from_parts(ms, base + i as u128))).collect()
}

/// True when `id` has the given prefix and a well-formed ULID after it.
pub fn is_valid(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|u| u.len() == 26 && ulid::Ulid::from_string(&u.to_uppercase()).is_ok())
}

fn random_u128() -> u128 {
    let mut b = [0u8; 16];
    crate::random::fill_random(&mut b);
    u128::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_ordered_and_valid() {
        let a = new_id(prefix::USER, 1_000);
        let b = new_id(prefix::USER, 2_000);
        assert!(a < b);
        assert!(is_valid(prefix::USER, &a));
        assert!(!is_valid(prefix::ORG, &a));
        assert!(!is_valid(prefix::USER, "user_nope"));
    }

    #[test]
    fn ids_spell_the_ulid_as_the_crate_does_in_lower_case() {
        for value in [0u128, 1, u128::MAX, random_u128(), random_u128(), 0x0123_4567_89ab_cdef_u128 << 40] {
            let ulid = ulid::Ulid(value);
            assert_eq!(prefixed("evt", ulid), format!("evt_{}", ulid.to_string().to_lowercase()));
        }
        let ids = new_ids(prefix::USER, 5_000, 3);
        assert!(ids.iter().all(|id| is_valid(prefix::USER, id)) && ids[0] < ids[1] && ids[1] < ids[2]);
    }
}
