//! What the study report's researcher tools persist (issue #26): a session excluded from the
//! synthesis with its reason, and revocable read-only share links to a study report.

use async_trait::async_trait;

use crate::domain::ids::{OrgId, SessionId, StudyId};

use super::{StoreResult, Tenant};

/// A read-only link to a study's report. Only the SHA-256 of its token is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRow {
    pub id: String,
    pub study_id: StudyId,
    pub organization_id: OrgId,
    pub token_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

#[async_trait]
pub trait ResearchStore {
    /// Excludes the session from the study's synthesis with `reason` (or includes it again with
    /// `None`); false when the session is not in the caller's tenant.
    async fn set_session_exclusion(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        exclusion: Option<(&str, i64)>,
    ) -> StoreResult<bool>;
    /// Stores a new share link.
    async fn create_share(&self, share: &ShareRow) -> StoreResult<()>;
    /// The study's share links in the tenant, newest first (revoked and expired ones too).
    async fn list_shares(&self, tenant: &Tenant, study_id: &StudyId) -> StoreResult<Vec<ShareRow>>;
    /// Revokes a link of the study; false when there is no such link in the tenant.
    async fn revoke_share(
        &self,
        tenant: &Tenant,
        study_id: &StudyId,
        share_id: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// The link whose token hashes to `token_hash`, whatever its state.
    async fn share_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<ShareRow>>;
}
