//! `OAuthStore` over SQLite and PostgreSQL.

use async_trait::async_trait;

use super::*;
use crate::domain::{OAuthScope, OAuthTokenKind, Plan, Role};

fn scopes(s: &str) -> Vec<OAuthScope> {
    OAuthScope::parse_list(s).unwrap_or_default()
}

type ClientRow = (String, String, String, String, String, i64);

fn client_from(r: ClientRow) -> StoreResult<OAuthClient> {
    Ok(OAuthClient {
        id: r.0,
        name: r.1,
        redirect_uris: serde_json::from_str(&r.2).map_err(|e| StoreError::Other(e.to_string()))?,
        scopes: scopes(&r.3),
        metadata: r.4,
        created_at: r.5,
    })
}

type CodeRow =
    (String, String, String, String, String, String, String, Option<String>, i64, i64, Option<i64>);
const CODE_COLS: &str = "code_hash, client_id, user_id, organization_id, redirect_uri, scopes, code_challenge, \
     resource, created_at, expires_at, used_at";

fn code_from(r: CodeRow) -> OAuthCode {
    OAuthCode {
        code_hash: r.0,
        client_id: r.1,
        user_id: r.2.into(),
        organization_id: r.3.into(),
        redirect_uri: r.4,
        scopes: scopes(&r.5),
        code_challenge: r.6,
        resource: r.7,
        created_at: r.8,
        expires_at: r.9,
        used_at: r.10,
    }
}

type SessionRow = (String, String, String, Option<String>, i64, Option<i64>);

fn session_from(r: SessionRow) -> McpSession {
    McpSession {
        id: r.0,
        user_id: r.1.into(),
        protocol_version: r.2,
        client_name: r.3,
        created_at: r.4,
        ended_at: r.5,
    }
}

/// Inserts one token of `grant_id` inside the caller's transaction.
macro_rules! insert_token {
    ($tx:ident, $grant_id:expr, $kind:expr, $t:expr) => {{
        let t: &NewOAuthToken = $t;
        sqlx::query(
            "INSERT INTO oauth_tokens (id, grant_id, kind, token_hash, scopes, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&t.id)
        .bind($grant_id)
        .bind($kind.as_str())
        .bind(&t.token_hash)
        .bind(OAuthScope::join(&t.scopes))
        .bind(t.created_at)
        .bind(t.expires_at)
        .execute(&mut *$tx)
        .await?;
    }};
}

/// Revokes a grant inside the caller's transaction (no-op when already revoked).
macro_rules! revoke_grant {
    ($tx:ident, $grant_id:expr, $reason:expr, $now:expr) => {{
        sqlx::query(
            "UPDATE oauth_grants SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind($now)
        .bind($reason)
        .bind($grant_id)
        .execute(&mut *$tx)
        .await?
        .rows_affected()
    }};
}

#[async_trait]
impl OAuthStore for SqlStore {
    async fn get_oauth_client(&self, client_id: &str) -> StoreResult<Option<OAuthClient>> {
        read!(self, p => {
            let row: Option<ClientRow> = sqlx::query_as(
                "SELECT id, name, redirect_uris, scopes, metadata, created_at FROM oauth_clients WHERE id = $1",
            )
            .bind(client_id)
            .fetch_optional(p)
            .await?;
            row.map(client_from).transpose()
        })
    }

    async fn register_oauth_client(
        &self,
        c: OAuthClient,
        unused_before: i64,
        max_unused: u64,
    ) -> StoreResult<bool> {
        let uris = serde_json::to_string(&c.redirect_uris).map_err(|e| StoreError::Other(e.to_string()))?;
        let max_unused = i64::try_from(max_unused).unwrap_or(i64::MAX);
        write!(self, p => {
            let mut tx = p.begin().await?;
            const UNUSED: &str = "SELECT id FROM oauth_clients c WHERE c.created_at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM oauth_grants g WHERE g.client_id = c.id)";
            for table in ["oauth_codes", "oauth_consents"] {
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE client_id IN ({UNUSED})")))
                    .bind(unused_before)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM oauth_clients WHERE id IN ({UNUSED})")))
                .bind(unused_before)
                .execute(&mut *tx)
                .await?;
            let (unused,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM oauth_clients c WHERE NOT EXISTS (SELECT 1 FROM oauth_grants g WHERE g.client_id = c.id)",
            )
            .fetch_one(&mut *tx)
            .await?;
            if unused >= max_unused {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO oauth_clients (id, name, redirect_uris, scopes, metadata, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&c.id)
            .bind(&c.name)
            .bind(&uris)
            .bind(OAuthScope::join(&c.scopes))
            .bind(&c.metadata)
            .bind(c.created_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    async fn oauth_client_used(&self, client_id: &str) -> StoreResult<bool> {
        read!(self, p => {
            let row: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM oauth_grants WHERE client_id = $1 LIMIT 1")
                .bind(client_id)
                .fetch_optional(p)
                .await?;
            Ok(row.is_some())
        })
    }

    async fn create_oauth_consent(&self, c: NewConsent) -> StoreResult<()> {
        write!(self, p => {
            sqlx::query(
                "INSERT INTO oauth_consents (id, secret_hash, csrf_hash, user_id, organization_id, client_id, request, \
                 created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&c.id)
            .bind(&c.secret_hash)
            .bind(&c.csrf_hash)
            .bind(&c.user_id)
            .bind(&c.organization_id)
            .bind(&c.client_id)
            .bind(&c.request)
            .bind(c.created_at)
            .bind(c.expires_at)
            .execute(p)
            .await?;
            Ok(())
        })
    }

    async fn take_oauth_consent(&self, secret_hash: &str, now: i64) -> StoreResult<Option<ConsentRow>> {
        type Row = (String, String, String, String, String, String, i64);
        write!(self, p => {
            let row: Option<Row> = sqlx::query_as(
                "UPDATE oauth_consents SET used_at = $1 WHERE secret_hash = $2 AND used_at IS NULL \
                 RETURNING id, csrf_hash, user_id, organization_id, client_id, request, expires_at",
            )
            .bind(now)
            .bind(secret_hash)
            .fetch_optional(p)
            .await?;
            Ok(row.map(|r| ConsentRow {
                id: r.0,
                csrf_hash: r.1,
                user_id: r.2.into(),
                organization_id: r.3.into(),
                client_id: r.4,
                request: r.5,
                expires_at: r.6,
            }))
        })
    }

    async fn create_oauth_code(&self, c: OAuthCode) -> StoreResult<()> {
        write!(self, p => {
            sqlx::query(
                "INSERT INTO oauth_codes (code_hash, client_id, user_id, organization_id, redirect_uri, scopes, \
                 code_challenge, resource, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&c.code_hash)
            .bind(&c.client_id)
            .bind(&c.user_id)
            .bind(&c.organization_id)
            .bind(&c.redirect_uri)
            .bind(OAuthScope::join(&c.scopes))
            .bind(&c.code_challenge)
            .bind(&c.resource)
            .bind(c.created_at)
            .bind(c.expires_at)
            .execute(p)
            .await?;
            Ok(())
        })
    }

    async fn get_oauth_code(&self, code_hash: &str) -> StoreResult<Option<OAuthCode>> {
        let sql = format!("SELECT {CODE_COLS} FROM oauth_codes WHERE code_hash = $1");
        read!(self, p => {
            let row: Option<CodeRow> =
                sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(code_hash).fetch_optional(p).await?;
            Ok(row.map(code_from))
        })
    }

    async fn spend_oauth_code(&self, code_hash: &str, now: i64) -> StoreResult<()> {
        write!(self, p => {
            sqlx::query("UPDATE oauth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL")
                .bind(now)
                .bind(code_hash)
                .execute(p)
                .await?;
            Ok(())
        })
    }

    async fn redeem_oauth_code(
        &self,
        code_hash: &str,
        grant: NewGrant,
        tokens: TokenPair,
        now: i64,
    ) -> StoreResult<bool> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO oauth_grants (id, client_id, user_id, organization_id, scopes, resource, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&grant.id)
            .bind(&grant.client_id)
            .bind(&grant.user_id)
            .bind(&grant.organization_id)
            .bind(OAuthScope::join(&grant.scopes))
            .bind(&grant.resource)
            .bind(grant.created_at)
            .execute(&mut *tx)
            .await?;
            // The guard: one redemption per code. On PostgreSQL a concurrent one waits for this
            // row and then finds it spent; SQLite has a single writer.
            let spent = sqlx::query(
                "UPDATE oauth_codes SET used_at = $1, grant_id = $2 WHERE code_hash = $3 AND used_at IS NULL",
            )
            .bind(now)
            .bind(&grant.id)
            .bind(code_hash)
            .execute(&mut *tx)
            .await?;
            if spent.rows_affected() == 0 {
                return Ok(false);
            }
            insert_token!(tx, &grant.id, OAuthTokenKind::Access, &tokens.access);
            insert_token!(tx, &grant.id, OAuthTokenKind::Refresh, &tokens.refresh);
            tx.commit().await?;
            Ok(true)
        })
    }

    async fn revoke_oauth_code_grant(
        &self,
        code_hash: &str,
        reason: crate::domain::Revocation,
        now: i64,
    ) -> StoreResult<()> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            let row: Option<(Option<String>,)> =
                sqlx::query_as("SELECT grant_id FROM oauth_codes WHERE code_hash = $1")
                    .bind(code_hash)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some((Some(grant_id),)) = row {
                revoke_grant!(tx, &grant_id, reason, now);
            }
            tx.commit().await?;
            Ok(())
        })
    }

    async fn get_oauth_refresh(&self, token_hash: &str) -> StoreResult<Option<RefreshRow>> {
        type Row = (String, String, String, i64, Option<i64>, Option<i64>);
        read!(self, p => {
            let row: Option<Row> = sqlx::query_as(
                "SELECT g.id, g.client_id, g.scopes, t.expires_at, t.rotated_at, g.revoked_at \
                 FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id \
                 WHERE t.token_hash = $1 AND t.kind = $2",
            )
            .bind(token_hash)
            .bind(OAuthTokenKind::Refresh.as_str())
            .fetch_optional(p)
            .await?;
            Ok(row.map(|r| RefreshRow {
                grant_id: r.0,
                client_id: r.1,
                scopes: scopes(&r.2),
                expires_at: r.3,
                rotated_at: r.4,
                grant_revoked: r.5.is_some(),
            }))
        })
    }

    async fn rotate_oauth_refresh(
        &self,
        presented_hash: &str,
        next: TokenPair,
        now: i64,
    ) -> StoreResult<RotateOutcome> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            // As for sign-in refresh tokens: the row lock (PostgreSQL) or the single writer
            // (SQLite) serialises two exchanges of one token; exactly one rotates.
            let lock = if matches!(self.db, Db::Postgres(_)) { " FOR UPDATE OF t" } else { "" };
            let sql = format!(
                "SELECT t.grant_id, t.expires_at, t.rotated_at, g.revoked_at FROM oauth_tokens t \
                 JOIN oauth_grants g ON g.id = t.grant_id WHERE t.token_hash = $1 AND t.kind = $2{lock}"
            );
            let row: Option<(String, i64, Option<i64>, Option<i64>)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(presented_hash)
                .bind(OAuthTokenKind::Refresh.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let Some((grant_id, expires_at, rotated_at, revoked_at)) = row else {
                return Ok(RotateOutcome::Invalid);
            };
            if revoked_at.is_some() {
                return Ok(RotateOutcome::Invalid);
            }
            if rotated_at.is_some() {
                revoke_grant!(tx, &grant_id, crate::domain::Revocation::RefreshTokenReuse, now);
                tx.commit().await?;
                return Ok(RotateOutcome::ReuseDetected);
            }
            if expires_at <= now {
                return Ok(RotateOutcome::Invalid);
            }
            sqlx::query("UPDATE oauth_tokens SET rotated_at = $1 WHERE token_hash = $2")
                .bind(now)
                .bind(presented_hash)
                .execute(&mut *tx)
                .await?;
            insert_token!(tx, &grant_id, OAuthTokenKind::Access, &next.access);
            insert_token!(tx, &grant_id, OAuthTokenKind::Refresh, &next.refresh);
            tx.commit().await?;
            Ok(RotateOutcome::Rotated)
        })
    }

    async fn revoke_oauth_token(
        &self,
        token_hash: &str,
        client_id: &str,
        reason: crate::domain::Revocation,
        now: i64,
    ) -> StoreResult<bool> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            let row: Option<(String,)> = sqlx::query_as(
                "SELECT g.id FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id \
                 WHERE t.token_hash = $1 AND g.client_id = $2",
            )
            .bind(token_hash)
            .bind(client_id)
            .fetch_optional(&mut *tx)
            .await?;
            let revoked = match row {
                Some((grant_id,)) => revoke_grant!(tx, &grant_id, reason, now) > 0,
                None => false,
            };
            tx.commit().await?;
            Ok(revoked)
        })
    }

    async fn oauth_access_for_auth(&self, token_hash: &str, now: i64) -> StoreResult<Option<OAuthTokenAuth>> {
        type Row = (String, String, String, Option<String>, String, String, String);
        // The grant is bound to an organization: a user who left it (or was suspended) loses
        // the token at once.
        let sql = "SELECT u.id, u.role, g.organization_id, o.plan, g.id, g.client_id, t.scopes \
             FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id \
             JOIN users u ON u.id = g.user_id LEFT JOIN organizations o ON o.id = g.organization_id \
             WHERE t.token_hash = $1 AND t.kind = $2 AND t.expires_at > $3 AND g.revoked_at IS NULL \
             AND u.status = $4 AND u.organization_id = g.organization_id";
        read!(self, p => {
            let row: Option<Row> = sqlx::query_as(sql)
                .bind(token_hash)
                .bind(OAuthTokenKind::Access.as_str())
                .bind(now)
                .bind(crate::domain::UserStatus::Active)
                .fetch_optional(p)
                .await?;
            row.map(|r| {
                Ok(OAuthTokenAuth {
                    principal: PrincipalRecord {
                        user_id: r.0.into(),
                        role: Role::parse(&r.1).ok_or_else(|| StoreError::Other(format!("bad role {}", r.1)))?,
                        organization_id: Some(r.2.into()),
                        plan: r.3.as_deref().and_then(Plan::parse).unwrap_or(Plan::Free),
                    },
                    grant_id: r.4,
                    client_id: r.5,
                    scopes: scopes(&r.6),
                })
            })
            .transpose()
        })
    }

    async fn create_mcp_session(&self, s: McpSession) -> StoreResult<()> {
        write!(self, p => {
            sqlx::query(
                "INSERT INTO mcp_sessions (id, user_id, protocol_version, client_name, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&s.id)
            .bind(&s.user_id)
            .bind(&s.protocol_version)
            .bind(&s.client_name)
            .bind(s.created_at)
            .execute(p)
            .await?;
            Ok(())
        })
    }

    async fn get_mcp_session(&self, session_id: &str) -> StoreResult<Option<McpSession>> {
        read!(self, p => {
            let row: Option<SessionRow> = sqlx::query_as(
                "SELECT id, user_id, protocol_version, client_name, created_at, ended_at FROM mcp_sessions WHERE id = $1",
            )
            .bind(session_id)
            .fetch_optional(p)
            .await?;
            Ok(row.map(session_from))
        })
    }

    async fn end_mcp_session(&self, session_id: &str, user_id: &UserId, now: i64) -> StoreResult<bool> {
        write!(self, p => {
            let done = sqlx::query(
                "UPDATE mcp_sessions SET ended_at = $1 WHERE id = $2 AND user_id = $3 AND ended_at IS NULL",
            )
            .bind(now)
            .bind(session_id)
            .bind(user_id)
            .execute(p)
            .await?;
            Ok(done.rows_affected() > 0)
        })
    }
}
