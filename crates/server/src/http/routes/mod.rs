//! Route handlers, one module per resource; each exposes `router()` for `http::router`.

pub mod admin;
pub mod analysis;
pub mod auth;
pub mod billing;
pub mod connections;
pub mod cron;
pub mod docs;
pub mod ingest;
pub mod mcp;
pub mod me;
pub mod notifications;
pub mod oauth;
pub mod ops;
pub mod org;
pub mod quiz;
pub mod recording;
pub mod reports;
pub mod research;
pub mod sdk;
pub mod sessions;
pub mod studies;
pub mod telegram;
pub mod testers;
pub mod tokens;
pub mod webhooks;
pub mod well_known;

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Plan, Role, format_ms};
use crate::store::{Organization, User};

/// A user as its owner and admins see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserOut {
    #[schema(example = "user_01jf3k9x6q7t1v2w3y4z5a6b7c")]
    pub user_id: String,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    pub organization_id: Option<String>,
    pub status: crate::domain::UserStatus,
    #[schema(example = "2026-03-16T10:14:32.120Z")]
    pub created_at: String,
    pub updated_at: String,
    /// True once a link mailed to the current address was used.
    pub email_verified: bool,
    /// `owner` or `member` for a business account in an organization.
    pub org_role: Option<crate::domain::OrgRole>,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        Self {
            user_id: u.id.into(),
            email: u.email,
            full_name: u.full_name,
            role: u.role,
            organization_id: u.organization_id.map(String::from),
            status: u.status,
            created_at: format_ms(u.created_at),
            updated_at: format_ms(u.updated_at),
            email_verified: u.email_verified_at.is_some(),
            org_role: u.org_role,
        }
    }
}

/// An organization.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationOut {
    pub organization_id: String,
    pub name: String,
    pub plan: Plan,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Organization> for OrganizationOut {
    fn from(o: Organization) -> Self {
        Self {
            organization_id: o.id.into(),
            name: o.name,
            plan: o.plan,
            created_at: format_ms(o.created_at),
            updated_at: format_ms(o.updated_at),
        }
    }
}
