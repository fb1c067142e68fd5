//! `ResearchStore` over SQLite and PostgreSQL.

use async_trait::async_trait;

use super::*;
use crate::store::research::{ResearchStore, ShareRow};

const SHARE_COLS: &str = "id, study_id, organization_id, token_hash, created_at, expires_at, revoked_at";

type ShareTuple = (String, String, String, String, i64, i64, Option<i64>);

fn share(r: ShareTuple) -> ShareRow {
    ShareRow {
        id: r.0,
        study_id: r.1.into(),
        organization_id: r.2.into(),
        token_hash: r.3,
        created_at: r.4,
        expires_at: r.5,
        revoked_at: r.6,
    }
}

/// `(" AND <column> = $n", org)` for a business tenant; testers own no study.
fn org_filter<'a>(tenant: &'a Tenant, column: &str, n: u32) -> Option<(String, Option<&'a str>)> {
    match tenant {
        Tenant::All => Some((String::new(), None)),
        Tenant::Organization(o) => Some((format!(" AND {column} = ${n}"), Some(o.as_str()))),
        Tenant::Tester(_) => None,
    }
}

#[async_trait]
impl ResearchStore for SqlStore {
    async fn set_session_exclusion(
        &self,
        tenant: &Tenant,
        session_id: &SessionId,
        exclusion: Option<(&str, i64)>,
    ) -> StoreResult<bool> {
        let Some((filter, org)) = org_filter(tenant, "s.organization_id", 4) else { return Ok(false) };
        let sql = format!(
            "UPDATE sessions SET excluded_reason = $1, excluded_at = $2 WHERE id = $3 AND study_id IN \
             (SELECT s.id FROM studies s WHERE 1 = 1{filter})"
        );
        let (reason, at) = exclusion.map_or((None, None), |(r, t)| (Some(r), Some(t)));
        write!(self, p => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(reason).bind(at).bind(session_id);
            if let Some(o) = org {
                q = q.bind(o);
            }
            Ok(q.execute(p).await?.rows_affected() == 1)
        })
    }

    async fn create_share(&self, s: &ShareRow) -> StoreResult<()> {
        write!(self, p => {
            sqlx::query(
                "INSERT INTO report_shares (id, study_id, organization_id, token_hash, created_at, expires_at, revoked_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&s.id)
            .bind(&s.study_id)
            .bind(&s.organization_id)
            .bind(&s.token_hash)
            .bind(s.created_at)
            .bind(s.expires_at)
            .bind(s.revoked_at)
            .execute(p)
            .await?;
            Ok(())
        })
    }

    async fn list_shares(&self, tenant: &Tenant, study_id: &StudyId) -> StoreResult<Vec<ShareRow>> {
        let Some((filter, org)) = org_filter(tenant, "organization_id", 2) else { return Ok(Vec::new()) };
        let sql = format!(
            "SELECT {SHARE_COLS} FROM report_shares WHERE study_id = $1{filter} ORDER BY created_at DESC, id DESC LIMIT 100"
        );
        read!(self, p => {
            let mut q = sqlx::query_as::<_, ShareTuple>(sqlx::AssertSqlSafe(sql)).bind(study_id);
            if let Some(o) = org {
                q = q.bind(o);
            }
            Ok(q.fetch_all(p).await?.into_iter().map(share).collect())
        })
    }

    async fn revoke_share(
        &self,
        tenant: &Tenant,
        study_id: &StudyId,
        share_id: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let Some((filter, org)) = org_filter(tenant, "organization_id", 4) else { return Ok(false) };
        let sql = format!(
            "UPDATE report_shares SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND study_id = $3{filter}"
        );
        write!(self, p => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(share_id).bind(study_id);
            if let Some(o) = org {
                q = q.bind(o);
            }
            Ok(q.execute(p).await?.rows_affected() == 1)
        })
    }

    async fn share_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<ShareRow>> {
        let sql = format!("SELECT {SHARE_COLS} FROM report_shares WHERE token_hash = $1");
        read!(self, p => {
            Ok(sqlx::query_as::<_, ShareTuple>(sqlx::AssertSqlSafe(sql)).bind(token_hash).fetch_optional(p).await?.map(share))
        })
    }
}
