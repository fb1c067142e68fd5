//! `AccountStore` over SQLite and PostgreSQL.

use async_trait::async_trait;

use super::*;
use crate::domain::{Plan, Role, Scope, UserStatus};

pub(super) type UserRow =
    (String, String, String, String, Option<String>, UserStatus, i64, i64, Option<i64>, Option<String>);
pub(super) const USER_COLS: &str = "u.id, u.email, u.full_name, u.role, u.organization_id, u.status, \
     u.created_at, u.updated_at, u.email_verified_at, u.org_role";

type OrgRow = (String, String, String, i64, i64);

type TokenRow = (String, String, String, String, String, i64, Option<i64>, Option<i64>, Option<i64>);

type AuditRow = (String, Option<String>, String, String, String, String, i64, Option<String>);

type PrincipalRow = (String, String, Option<String>, Option<String>);

pub(super) fn user_from(r: UserRow) -> StoreResult<User> {
    Ok(User {
        id: r.0.into(),
        email: r.1,
        full_name: r.2,
        role: Role::parse(&r.3).ok_or_else(|| StoreError::Other(format!("bad role {}", r.3)))?,
        organization_id: r.4.map(OrgId::from),
        status: r.5,
        created_at: r.6,
        updated_at: r.7,
        email_verified_at: r.8,
        org_role: r.9.as_deref().and_then(crate::domain::OrgRole::parse),
    })
}

fn org_from(r: OrgRow) -> StoreResult<Organization> {
    Ok(Organization {
        id: r.0.into(),
        name: r.1,
        plan: Plan::parse(&r.2).ok_or_else(|| StoreError::Other(format!("bad plan {}", r.2)))?,
        created_at: r.3,
        updated_at: r.4,
    })
}

fn token_from(r: TokenRow) -> ApiToken {
    ApiToken {
        id: r.0,
        user_id: r.1.into(),
        name: r.2,
        token_prefix: r.3,
        scopes: Scope::split(&r.4),
        created_at: r.5,
        expires_at: r.6,
        last_used_at: r.7,
        revoked_at: r.8,
    }
}

fn audit_from(r: AuditRow) -> AuditEntry {
    AuditEntry {
        request_id: r.7,
        id: r.0,
        actor_id: r.1.map(UserId::from),
        action: r.2,
        target_type: r.3,
        target_id: r.4,
        details: r.5,
        created_at: r.6,
    }
}

/// Users without an organization (testers, admins) are on the free tier (spec §1.6).
fn principal_from(r: PrincipalRow) -> StoreResult<PrincipalRecord> {
    Ok(PrincipalRecord {
        user_id: r.0.into(),
        role: Role::parse(&r.1).ok_or_else(|| StoreError::Other(format!("bad role {}", r.1)))?,
        organization_id: r.2.map(OrgId::from),
        plan: r.3.as_deref().and_then(Plan::parse).unwrap_or(Plan::Free),
    })
}

const PRINCIPAL_SELECT: &str = "SELECT u.id, u.role, u.organization_id, o.plan FROM users u \
     LEFT JOIN organizations o ON o.id = u.organization_id";

#[async_trait]
impl AccountStore for SqlStore {
    async fn create_user(&self, user: NewUser, org: Option<NewOrganization>) -> StoreResult<User> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            if let Some(org) = &org {
                sqlx::query("INSERT INTO organizations (id, name, plan, created_at, updated_at) VALUES ($1, $2, $4, $3, $3)")
                    .bind(&org.id)
                    .bind(&org.name)
                    .bind(org.created_at)
                    .bind(crate::domain::Plan::Free)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "INSERT INTO users (id, email, full_name, role, organization_id, password_hash, status, created_at, updated_at, org_role) \
                 VALUES ($1, $2, $3, $4, $5, $6, $9, $7, $7, $8)",
            )
            .bind(&user.id)
            .bind(&user.email)
            .bind(&user.full_name)
            .bind(user.role.as_str())
            .bind(org.as_ref().map(|o| o.id.as_str()))
            .bind(&user.password_hash)
            .bind(user.created_at)
            .bind(org.as_ref().map(|_| crate::domain::OrgRole::Owner.as_str()))
            .bind(crate::domain::UserStatus::Active)
            .execute(&mut *tx)
            .await
            .map_err(conflict_as("email: already registered"))?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.get_user(&user.id).await?.ok_or(StoreError::NotFound)
    }

    async fn get_user(&self, user_id: &UserId) -> StoreResult<Option<User>> {
        if let Some(u) = self.cache.users.get(user_id) {
            return Ok(Some(u));
        }
        let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.id = $1");
        let user = read!(self, p => {
            let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_optional(p).await?;
            row.map(user_from).transpose()?
        });
        if let Some(u) = &user {
            self.cache.users.put(user_id, u.clone());
        }
        Ok(user)
    }

    async fn find_credentials(&self, email: &str) -> StoreResult<Option<UserCredentials>> {
        let sql = format!("SELECT {USER_COLS}, u.password_hash FROM users u WHERE u.email = $1");
        read!(self, p => {
            type CredRow =
                (String, String, String, String, Option<String>, UserStatus, i64, i64, Option<i64>, Option<String>, String);
            let row: Option<CredRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(email).fetch_optional(p).await?;
            row.map(|r| {
                Ok(UserCredentials {
                    password_hash: r.10,
                    user: user_from((r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9))?,
                })
            })
            .transpose()
        })
    }

    async fn update_user_name(&self, user_id: &UserId, full_name: &str, now: i64) -> StoreResult<User> {
        write!(self, p => {
            let done = sqlx::query("UPDATE users SET full_name = $1, updated_at = $2 WHERE id = $3")
                .bind(full_name)
                .bind(now)
                .bind(user_id)
                .execute(p)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            Ok::<_, StoreError>(())
        })?;
        self.cache.invalidate(Invalidation::User(user_id.to_string()));
        self.get_user(user_id).await?.ok_or(StoreError::NotFound)
    }

    async fn get_organization(&self, org_id: &OrgId) -> StoreResult<Option<Organization>> {
        if let Some(o) = self.cache.organizations.get(org_id) {
            return Ok(Some(o));
        }
        let org = read!(self, p => {
            let row: Option<OrgRow> = sqlx::query_as(
                "SELECT id, name, plan, created_at, updated_at FROM organizations WHERE id = $1",
            )
            .bind(org_id)
            .fetch_optional(p)
            .await?;
            row.map(org_from).transpose()?
        });
        if let Some(o) = &org {
            self.cache.organizations.put(org_id, o.clone());
        }
        Ok(org)
    }

    async fn set_organization_plan(
        &self,
        org_id: &OrgId,
        plan: Plan,
        audit: AuditEntry,
    ) -> StoreResult<Organization> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            let row: Option<OrgRow> = sqlx::query_as(
                "UPDATE organizations SET plan = $1, updated_at = $2 WHERE id = $3 \
                 RETURNING id, name, plan, created_at, updated_at",
            )
            .bind(plan.as_str())
            .bind(audit.created_at)
            .bind(org_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else { return Err(StoreError::NotFound) };
            insert_audit!(tx, audit);
            tx.commit().await?;
            // The plan is part of every member's principal: drop them all (a rare admin action).
            self.cache.invalidate(Invalidation::Organization(org_id.to_string()));
            org_from(row)
        })
    }

    async fn create_auth_session(
        &self,
        session_id: &str,
        user_id: &UserId,
        refresh: NewRefreshToken,
    ) -> StoreResult<()> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("INSERT INTO auth_sessions (id, user_id, created_at) VALUES ($1, $2, $3)")
                .bind(session_id)
                .bind(user_id)
                .bind(refresh.created_at)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&refresh.id)
            .bind(session_id)
            .bind(&refresh.token_hash)
            .bind(refresh.created_at)
            .bind(refresh.expires_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        next: NewRefreshToken,
        now: i64,
    ) -> StoreResult<RefreshOutcome> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            // The row lock (PostgreSQL) or the single writer (SQLite) makes two concurrent
            // exchanges of one token serialise: exactly one rotates, the other sees reuse.
            let lock = if matches!(self.db, Db::Postgres(_)) { " FOR UPDATE OF t" } else { "" };
            let sql = format!(
                "SELECT t.session_id, t.expires_at, t.rotated_at, s.revoked_at, s.user_id \
                 FROM refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id \
                 WHERE t.token_hash = $1{lock}"
            );
            let row: Option<(String, i64, Option<i64>, Option<i64>, String)> =
                sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(presented_hash).fetch_optional(&mut *tx).await?;
            let Some((session_id, expires_at, rotated_at, revoked_at, user_id)) = row else {
                return Ok(RefreshOutcome::Invalid);
            };
            if revoked_at.is_some() {
                return Ok(RefreshOutcome::Invalid);
            }
            if rotated_at.is_some() {
                sqlx::query("UPDATE auth_sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3")
                    .bind(now)
                    .bind(crate::domain::Revocation::RefreshTokenReuse)
                    .bind(&session_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                self.cache.invalidate(Invalidation::Session(session_id.clone()));
                return Ok(RefreshOutcome::ReuseDetected);
            }
            if expires_at <= now {
                return Ok(RefreshOutcome::Invalid);
            }
            let sql = format!("{PRINCIPAL_SELECT} WHERE u.id = $1 AND u.status = $2");
            let principal: Option<PrincipalRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(&user_id)
                .bind(crate::domain::UserStatus::Active)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(principal) = principal else { return Ok(RefreshOutcome::Invalid) };
            sqlx::query("UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2")
                .bind(now)
                .bind(presented_hash)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&next.id)
            .bind(&session_id)
            .bind(&next.token_hash)
            .bind(next.created_at)
            .bind(next.expires_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(RefreshOutcome::Rotated { session_id, principal: principal_from(principal)? })
        })
    }

    async fn revoke_auth_session(
        &self,
        session_id: &str,
        user_id: &UserId,
        reason: crate::domain::Revocation,
        now: i64,
    ) -> StoreResult<()> {
        write!(self, p => {
            sqlx::query(
                "UPDATE auth_sessions SET revoked_at = $1, revoked_reason = $2 \
                 WHERE id = $3 AND user_id = $4 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(reason)
            .bind(session_id)
            .bind(user_id)
            .execute(p)
            .await?;
            Ok::<_, StoreError>(())
        })?;
        self.cache.invalidate(Invalidation::Session(session_id.to_owned()));
        Ok(())
    }

    async fn principal_for_session(
        &self,
        session_id: &str,
        user_id: &UserId,
    ) -> StoreResult<Option<PrincipalRecord>> {
        // The cache first: this runs on every authenticated request (the query text is only
        // built on a miss).
        if let Some(p) = self.cache.principals.get(session_id).filter(|p| p.user_id == *user_id) {
            return Ok(Some(p));
        }
        let sql = format!(
            "{PRINCIPAL_SELECT} JOIN auth_sessions s ON s.user_id = u.id \
             WHERE s.id = $1 AND u.id = $2 AND s.revoked_at IS NULL AND u.status = $3"
        );
        let principal = read!(self, p => {
            let row: Option<PrincipalRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(session_id)
                .bind(user_id)
                .bind(crate::domain::UserStatus::Active)
                .fetch_optional(p)
                .await?;
            row.map(principal_from).transpose()?
        });
        if let Some(p) = &principal {
            self.cache.principals.put(session_id, p.clone());
        }
        Ok(principal)
    }

    async fn create_api_token(&self, t: NewApiToken) -> StoreResult<ApiToken> {
        write!(self, p => {
            sqlx::query(
                "INSERT INTO api_tokens (id, user_id, name, token_hash, token_prefix, scopes, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&t.id)
            .bind(&t.user_id)
            .bind(&t.name)
            .bind(&t.token_hash)
            .bind(&t.token_prefix)
            .bind(Scope::join(&t.scopes))
            .bind(t.created_at)
            .bind(t.expires_at)
            .execute(p)
            .await?;
            Ok(ApiToken {
                id: t.id,
                user_id: t.user_id,
                name: t.name,
                token_prefix: t.token_prefix,
                scopes: t.scopes,
                created_at: t.created_at,
                expires_at: t.expires_at,
                last_used_at: None,
                revoked_at: None,
            })
        })
    }

    async fn list_api_tokens(&self, user_id: &UserId, page: Page) -> StoreResult<(Vec<ApiToken>, u64)> {
        read!(self, p => {
            let filters = |qb: &mut sqlx::QueryBuilder<_>| {
                qb.push(" AND user_id = ").push_bind(user_id.to_owned());
            };
            let (rows, total) = fetch_page!(
                p,
                "SELECT id, user_id, name, token_prefix, scopes, created_at, expires_at, last_used_at, revoked_at \
                 FROM api_tokens WHERE 1 = 1",
                "SELECT COUNT(*) FROM api_tokens WHERE 1 = 1",
                filters,
                "created_at DESC, id DESC",
                page,
                |row| <TokenRow as sqlx::FromRow<_>>::from_row(row)?
            );
            Ok((rows.into_iter().map(token_from).collect(), total))
        })
    }

    async fn revoke_api_token(
        &self,
        user_id: &UserId,
        token_id: &str,
        now: i64,
    ) -> StoreResult<Option<ApiToken>> {
        write!(self, p => {
            let row: Option<TokenRow> = sqlx::query_as(
                "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND user_id = $3 \
                 RETURNING id, user_id, name, token_prefix, scopes, created_at, expires_at, last_used_at, revoked_at",
            )
            .bind(now)
            .bind(token_id)
            .bind(user_id)
            .fetch_optional(p)
            .await?;
            Ok(row.map(token_from))
        })
    }

    async fn api_token_for_auth(&self, token_hash: &str, now: i64) -> StoreResult<Option<ApiTokenAuth>> {
        let sql = concat!(
            "SELECT u.id, u.role, u.organization_id, o.plan, t.id, t.scopes, t.last_used_at ",
            "FROM api_tokens t JOIN users u ON u.id = t.user_id ",
            "LEFT JOIN organizations o ON o.id = u.organization_id ",
            "WHERE t.token_hash = $1 AND t.revoked_at IS NULL ",
            "AND (t.expires_at IS NULL OR t.expires_at > $2) AND u.status = $3"
        );
        read!(self, p => {
            let row: Option<(String, String, Option<String>, Option<String>, String, String, Option<i64>)> =
                sqlx::query_as(sql).bind(token_hash).bind(now).bind(crate::domain::UserStatus::Active).fetch_optional(p).await?;
            row.map(|r| {
                Ok(ApiTokenAuth {
                    token_id: r.4,
                    scopes: Scope::split(&r.5),
                    last_used_at: r.6,
                    principal: principal_from((r.0, r.1, r.2, r.3))?,
                })
            })
            .transpose()
        })
    }

    async fn touch_api_token(&self, token_id: &str, now: i64) -> StoreResult<()> {
        write!(self, p => {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(token_id)
                .execute(p)
                .await?;
            Ok(())
        })
    }

    async fn list_audit(&self, page: Page) -> StoreResult<(Vec<AuditEntry>, u64)> {
        read!(self, p => {
            let (rows, total) = fetch_page!(
                p,
                "SELECT id, actor_id, action, target_type, target_id, details, created_at, request_id FROM audit_log \
                 WHERE 1 = 1",
                "SELECT COUNT(*) FROM audit_log WHERE 1 = 1",
                |_: &mut sqlx::QueryBuilder<_>| {},
                "created_at DESC, id DESC",
                page,
                |row| <AuditRow as sqlx::FromRow<_>>::from_row(row)?
            );
            Ok((rows.into_iter().map(audit_from).collect(), total))
        })
    }
}
