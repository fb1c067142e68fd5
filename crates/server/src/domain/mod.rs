//! Domain vocabulary shared by services, HTTP and store: roles, plans, scopes, validated newtypes.

pub mod address;
pub mod codes;
pub mod ids;
pub mod money;
pub mod schedule;
pub mod status;
pub mod stream;
pub mod study;

pub use status::{
    AccountTokenPurpose, ConsentAction, CronJob, Decision, DeliveryStatus, NotificationKind, OAuthScope,
    OAuthTokenKind, OrgRole, PaymentStatus, PayoutLineStatus, PayoutProgress, PipelineStatus, QueueKind,
    QueueStatus, ReportKind, Revocation, SeatStatus, SegmentStatus, SessionStatus, ShareStatus, StudyStatus,
    TargetKind, TelegramStatus, UserStatus, WebhookEvent,
};

use serde::{Deserialize, Serialize};

use crate::domain::ids::{OrgId, UserId};
use utoipa::ToSchema;

/// A user's role (spec §1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Business,
    Tester,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Business => "business",
            Role::Tester => "tester",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "business" => Some(Role::Business),
            "tester" => Some(Role::Tester),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// An organization's plan; it picks the rate-limit tier (spec §1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Free,
    Pro,
}

impl Plan {
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "free" => Some(Plan::Free),
            "pro" => Some(Plan::Pro),
            _ => None,
        }
    }
}

/// Scope of an API token (spec §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Read,
    Write,
    Ingest,
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Ingest => "ingest",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            "ingest" => Some(Scope::Ingest),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    /// Stored form: a space-separated list (as in OAuth's `scope`), in declaration order.
    pub fn join(scopes: &[Scope]) -> String {
        let mut v = scopes.to_vec();
        v.sort_unstable();
        v.dedup();
        v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    }

    /// Parses the stored form; unknown words are ignored (forward compatible).
    pub fn split(s: &str) -> Vec<Scope> {
        s.split_whitespace().filter_map(Scope::parse).collect()
    }
}

/// Whose data a caller may see: the tenant filter every store read of tenant data applies in
/// SQL (spec §1.5). Derived from the principal once (`Principal::tenant`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenant {
    /// An admin (or the system itself, e.g. a worker): everything.
    All,
    /// A business member: the organization's studies, their sessions, reports and webhooks.
    Organization(OrgId),
    /// A tester: their own sessions and what hangs off them.
    Tester(UserId),
}

/// A normalised (trimmed, lower-cased) email address; parse at the edge, trust inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses a user-supplied address. Deliberately simple: one `@`, a non-empty local
    /// part, a dotted domain, no spaces, at most 254 characters (RFC 5321's path limit).
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let s = raw.trim().to_lowercase();
        if s.is_empty() || s.len() > 254 {
            return Err("must be a valid email address");
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err("must be a valid email address");
        };
        let ok = !local.is_empty()
            && local.len() <= 64
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok { Ok(Self(s)) } else { Err("must be a valid email address") }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Formats epoch milliseconds as RFC 3339 UTC with milliseconds (`2026-03-16T10:14:32.120Z`).
pub fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised_and_checked() {
        assert_eq!(Email::parse("  Ada@Example.COM ").map(|e| e.0), Ok("ada@example.com".into()));
        for bad in ["", "ada", "ada@", "@x.io", "ada@localhost", "a b@x.io", "a@b@c.io", "ada@.io"] {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn timestamps_have_millis() {
        assert_eq!(format_ms(1_773_656_072_120), "2026-03-16T10:14:32.120Z");
    }

    #[test]
    fn scopes_round_trip() {
        let s = Scope::join(&[Scope::Ingest, Scope::Read, Scope::Read]);
        assert_eq!(s, "read ingest");
        assert_eq!(Scope::split(&s), vec![Scope::Read, Scope::Ingest]);
    }
}
