//! `TeamStore` over SQLite and PostgreSQL.

use async_trait::async_trait;
use sqlx::QueryBuilder;

use super::accounts::{USER_COLS, UserRow, user_from};
use super::notifications::visible_to;
use super::*;
use crate::domain::{AccountTokenPurpose, OrgRole, Role};

type InvitationRow = (String, String, String, String, String, String, i64, i64, Option<i64>, Option<i64>);
const INVITATION_COLS: &str = "i.id, i.organization_id, o.name, i.email, i.org_role, i.invited_by, \
     i.created_at, i.expires_at, i.accepted_at, i.revoked_at";
const INVITATION_FROM: &str = "FROM invitations i JOIN organizations o ON o.id = i.organization_id";

fn invitation_from(r: InvitationRow) -> StoreResult<Invitation> {
    Ok(Invitation {
        id: r.0,
        organization_id: r.1.into(),
        organization_name: r.2,
        email: r.3,
        org_role: OrgRole::parse(&r.4).ok_or_else(|| StoreError::Other(format!("bad org role {}", r.4)))?,
        invited_by: r.5,
        created_at: r.6,
        expires_at: r.7,
        accepted_at: r.8,
        revoked_at: r.9,
    })
}

/// Spends a live link of `$purpose` inside `$tx`; evaluates to `Option<(user_id, email)>`.
macro_rules! spend_link {
    ($tx:ident, $hash:expr, $purpose:expr, $now:expr) => {{
        let row: Option<(String, String)> = sqlx::query_as(
            "UPDATE account_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 \
             AND used_at IS NULL AND expires_at > $1 RETURNING user_id, email",
        )
        .bind($now)
        .bind($hash)
        .bind($purpose.as_str())
        .fetch_optional(&mut *$tx)
        .await?;
        row
    }};
}

/// Revokes every live sign-in of `$user` inside `$tx` except `$keep`.
macro_rules! revoke_signins {
    ($tx:ident, $user:expr, $keep:expr, $reason:expr, $now:expr) => {{
        sqlx::query(
            "UPDATE auth_sessions SET revoked_at = $1, revoked_reason = $2 \
             WHERE user_id = $3 AND revoked_at IS NULL AND id <> $4",
        )
        .bind($now)
        .bind($reason)
        .bind($user)
        .bind($keep)
        .execute(&mut *$tx)
        .await?;
    }};
}

impl SqlStore {
    async fn user_by_id_fresh(&self, user_id: &UserId) -> StoreResult<User> {
        self.cache.invalidate(Invalidation::User(user_id.to_string()));
        self.get_user(user_id).await?.ok_or(StoreError::NotFound)
    }
}

#[async_trait]
impl TeamStore for SqlStore {
    async fn create_account_token(&self, t: NewAccountToken) -> StoreResult<()> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query(
                "UPDATE account_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL",
            )
            .bind(t.created_at)
            .bind(&t.user_id)
            .bind(t.purpose.as_str())
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO account_tokens (id, user_id, purpose, token_hash, email, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&t.id)
            .bind(&t.user_id)
            .bind(t.purpose.as_str())
            .bind(&t.token_hash)
            .bind(&t.email)
            .bind(t.created_at)
            .bind(t.expires_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    async fn last_account_token_at(
        &self,
        user_id: &UserId,
        purpose: AccountTokenPurpose,
    ) -> StoreResult<Option<i64>> {
        read!(self, p => {
            let row: (Option<i64>,) = sqlx::query_as(
                "SELECT MAX(created_at) FROM account_tokens WHERE user_id = $1 AND purpose = $2",
            )
            .bind(user_id)
            .bind(purpose.as_str())
            .fetch_one(p)
            .await?;
            Ok(row.0)
        })
    }

    async fn reset_password(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: i64,
    ) -> StoreResult<Option<User>> {
        let user_id = write!(self, p => {
            let mut tx = p.begin().await?;
            let Some((user_id, email)) = spend_link!(tx, token_hash, AccountTokenPurpose::PasswordReset, now) else {
                return Ok(None);
            };
            // The link proved the address it was sent to, if that is still the account's.
            sqlx::query(
                "UPDATE users SET password_hash = $1, updated_at = $2, \
                 email_verified_at = CASE WHEN email = $3 THEN COALESCE(email_verified_at, $2) ELSE email_verified_at END \
                 WHERE id = $4",
            )
            .bind(password_hash)
            .bind(now)
            .bind(&email)
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
            revoke_signins!(tx, &user_id, "", crate::domain::Revocation::PasswordReset, now);
            // Other reset links of the user die with this one.
            sqlx::query("UPDATE account_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL")
                .bind(now)
                .bind(&user_id)
                .bind(AccountTokenPurpose::PasswordReset.as_str())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            user_id
        });
        Ok(Some(self.user_by_id_fresh(&UserId::from(user_id.as_str())).await?))
    }

    async fn verify_email(&self, token_hash: &str, now: i64) -> StoreResult<Option<User>> {
        let user_id = write!(self, p => {
            let mut tx = p.begin().await?;
            let Some((user_id, email)) = spend_link!(tx, token_hash, AccountTokenPurpose::VerifyEmail, now) else {
                return Ok(None);
            };
            let done = sqlx::query(
                "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $1), updated_at = $1 \
                 WHERE id = $2 AND email = $3",
            )
            .bind(now)
            .bind(&user_id)
            .bind(&email)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                // The address changed since the link was sent: it proves nothing now.
                tx.rollback().await?;
                return Ok(None);
            }
            tx.commit().await?;
            user_id
        });
        Ok(Some(self.user_by_id_fresh(&UserId::from(user_id.as_str())).await?))
    }

    async fn change_email(&self, token_hash: &str, now: i64) -> StoreResult<Option<(String, User)>> {
        let (user_id, old) = write!(self, p => {
            let mut tx = p.begin().await?;
            let Some((user_id, new_email)) = spend_link!(tx, token_hash, AccountTokenPurpose::EmailChange, now) else {
                return Ok(None);
            };
            let old: Option<(String,)> = sqlx::query_as("SELECT email FROM users WHERE id = $1")
                .bind(&user_id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((old,)) = old else {
                return Ok(None);
            };
            sqlx::query("UPDATE users SET email = $1, email_verified_at = $2, updated_at = $2 WHERE id = $3")
                .bind(&new_email)
                .bind(now)
                .bind(&user_id)
                .execute(&mut *tx)
                .await
                .map_err(conflict_as("email: already registered"))?;
            // Links sent to the old address prove nothing any more.
            sqlx::query(
                "UPDATE account_tokens SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL AND purpose <> $3",
            )
            .bind(now)
            .bind(&user_id)
            .bind(AccountTokenPurpose::EmailChange.as_str())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            (user_id, old)
        });
        Ok(Some((old, self.user_by_id_fresh(&UserId::from(user_id.as_str())).await?)))
    }

    async fn password_hash(&self, user_id: &UserId) -> StoreResult<Option<String>> {
        read!(self, p => {
            let row: Option<(String,)> = sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(p)
                .await?;
            Ok(row.map(|r| r.0))
        })
    }

    async fn set_password(
        &self,
        user_id: &UserId,
        password_hash: &str,
        keep_session: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            let done = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(password_hash)
                .bind(now)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            revoke_signins!(tx, user_id, keep_session.unwrap_or(""), crate::domain::Revocation::PasswordChanged, now);
            sqlx::query("UPDATE account_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL")
                .bind(now)
                .bind(user_id)
                .bind(AccountTokenPurpose::PasswordReset.as_str())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.cache.invalidate(Invalidation::User(user_id.to_string()));
        Ok(())
    }

    async fn list_members(&self, org_id: &OrgId) -> StoreResult<Vec<User>> {
        let sql = format!(
            "SELECT {USER_COLS} FROM users u WHERE u.organization_id = $1 AND u.role = $2 \
             ORDER BY CASE WHEN u.org_role = $3 THEN 0 ELSE 1 END, u.created_at, u.id"
        );
        read!(self, p => {
            let rows: Vec<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(org_id)
                .bind(Role::Business)
                .bind(OrgRole::Owner)
                .fetch_all(p)
                .await?;
            rows.into_iter().map(user_from).collect()
        })
    }

    async fn create_invitation(&self, inv: NewInvitation) -> StoreResult<Invitation> {
        write!(self, p => {
            sqlx::query(
                "INSERT INTO invitations (id, organization_id, email, org_role, invited_by, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&inv.id)
            .bind(&inv.organization_id)
            .bind(&inv.email)
            .bind(inv.org_role)
            .bind(&inv.invited_by)
            .bind(inv.created_at)
            .bind(inv.expires_at)
            .execute(p)
            .await?;
            Ok::<_, StoreError>(())
        })?;
        self.get_invitation(&Tenant::Organization(inv.organization_id.clone()), &inv.id)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn list_invitations(&self, org_id: &OrgId, now: i64) -> StoreResult<Vec<Invitation>> {
        let sql = format!(
            "SELECT {INVITATION_COLS} {INVITATION_FROM} WHERE i.organization_id = $1 AND i.accepted_at IS NULL \
             AND i.revoked_at IS NULL AND i.expires_at > $2 ORDER BY i.created_at DESC, i.id DESC LIMIT 200"
        );
        read!(self, p => {
            let rows: Vec<InvitationRow> =
                sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(org_id).bind(now).fetch_all(p).await?;
            rows.into_iter().map(invitation_from).collect()
        })
    }

    async fn get_invitation(&self, tenant: &Tenant, invitation_id: &str) -> StoreResult<Option<Invitation>> {
        let Some((cond, org)) = org_clause("i.organization_id", 2, tenant) else { return Ok(None) };
        let sql = format!("SELECT {INVITATION_COLS} {INVITATION_FROM} WHERE i.id = $1{cond}");
        // The writer: the mail job reads an invitation made a moment ago.
        write!(self, p => {
            let mut q = sqlx::query_as::<_, InvitationRow>(sqlx::AssertSqlSafe(sql)).bind(invitation_id);
            if let Some(o) = org {
                q = q.bind(o);
            }
            q.fetch_optional(p).await?.map(invitation_from).transpose()
        })
    }

    async fn set_invitation_token(
        &self,
        tenant: &Tenant,
        invitation_id: &str,
        token_hash: &str,
    ) -> StoreResult<()> {
        let Some((cond, org)) = org_clause("organization_id", 3, tenant) else { return Ok(()) };
        let sql = format!("UPDATE invitations SET token_hash = $1 WHERE id = $2{cond}");
        write!(self, p => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(token_hash).bind(invitation_id);
            if let Some(o) = org {
                q = q.bind(o);
            }
            q.execute(p).await?;
            Ok(())
        })
    }

    async fn invitation_by_token(&self, token_hash: &str, now: i64) -> StoreResult<Option<Invitation>> {
        let sql = format!(
            "SELECT {INVITATION_COLS} {INVITATION_FROM} WHERE i.token_hash = $1 AND i.accepted_at IS NULL \
             AND i.revoked_at IS NULL AND i.expires_at > $2"
        );
        read!(self, p => {
            let row: Option<InvitationRow> =
                sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(token_hash).bind(now).fetch_optional(p).await?;
            row.map(invitation_from).transpose()
        })
    }

    async fn revoke_invitation(&self, org_id: &OrgId, invitation_id: &str, now: i64) -> StoreResult<bool> {
        write!(self, p => {
            let done = sqlx::query(
                "UPDATE invitations SET revoked_at = $1 WHERE id = $2 AND organization_id = $3 \
                 AND accepted_at IS NULL AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(invitation_id)
            .bind(org_id)
            .execute(p)
            .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    async fn join_organization(
        &self,
        token_hash: &str,
        user_id: &UserId,
        email: &str,
        now: i64,
    ) -> StoreResult<JoinOutcome> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            let inv: Option<(String, String, OrgRole)> = sqlx::query_as(
                "UPDATE invitations SET accepted_at = $1, accepted_by = $2 WHERE token_hash = $3 AND email = $4 \
                 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1 \
                 RETURNING id, organization_id, org_role",
            )
            .bind(now)
            .bind(user_id)
            .bind(token_hash)
            .bind(email)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((_, org_id, org_role)) = inv else {
                return Ok(JoinOutcome::Invalid);
            };
            let current: Option<(Option<String>, Option<OrgRole>)> =
                sqlx::query_as("SELECT organization_id, org_role FROM users WHERE id = $1 AND role = $2")
                    .bind(user_id)
                    .bind(Role::Business)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some((current_org, current_role)) = current else {
                return Ok(JoinOutcome::Invalid);
            };
            if let Some(old) = current_org.as_deref().filter(|o| *o != org_id) {
                // Lock the old organization's member list (a no-op write), then count.
                sqlx::query("UPDATE organizations SET updated_at = updated_at WHERE id = $1")
                    .bind(old)
                    .execute(&mut *tx)
                    .await?;
                let (owners, others): (i64, i64) = sqlx::query_as(
                    "SELECT COALESCE(SUM(CASE WHEN org_role = $3 THEN 1 ELSE 0 END), 0), \
                     COALESCE(SUM(CASE WHEN id <> $2 THEN 1 ELSE 0 END), 0) \
                     FROM users WHERE organization_id = $1 AND role = $4",
                )
                .bind(old)
                .bind(user_id)
                .bind(OrgRole::Owner)
                .bind(Role::Business)
                .fetch_one(&mut *tx)
                .await?;
                if current_role == Some(OrgRole::Owner) && owners <= 1 && others > 0 {
                    tx.rollback().await?;
                    return Ok(JoinOutcome::LastOwner);
                }
            }
            // Already a member of the inviting organization: the invitation may promote, never demote.
            let role = if current_org.as_deref() == Some(org_id.as_str()) && current_role == Some(OrgRole::Owner) {
                OrgRole::Owner
            } else {
                org_role
            };
            sqlx::query(
                "UPDATE users SET organization_id = $1, org_role = $2, updated_at = $3, \
                 email_verified_at = COALESCE(email_verified_at, $3) WHERE id = $4",
            )
            .bind(&org_id)
            .bind(role)
            .bind(now)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        Ok(JoinOutcome::Joined(self.user_by_id_fresh(user_id).await?))
    }

    async fn create_invited_user(
        &self,
        user: NewUser,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<User>> {
        let created = write!(self, p => {
            let mut tx = p.begin().await?;
            let inv: Option<(String, OrgRole)> = sqlx::query_as(
                "UPDATE invitations SET accepted_at = $1, accepted_by = $2 WHERE token_hash = $3 AND email = $4 \
                 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1 \
                 RETURNING organization_id, org_role",
            )
            .bind(now)
            .bind(&user.id)
            .bind(token_hash)
            .bind(&user.email)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((org_id, org_role)) = inv else {
                return Ok(None);
            };
            sqlx::query(
                "INSERT INTO users (id, email, full_name, role, organization_id, password_hash, status, created_at, \
                 updated_at, org_role, email_verified_at) VALUES ($1, $2, $3, $9, $4, $5, $8, $6, $6, $7, $6)",
            )
            .bind(&user.id)
            .bind(&user.email)
            .bind(&user.full_name)
            .bind(&org_id)
            .bind(&user.password_hash)
            .bind(user.created_at)
            .bind(org_role)
            .bind(crate::domain::UserStatus::Active)
            .bind(Role::Business)
            .execute(&mut *tx)
            .await
            .map_err(conflict_as("email: already registered"))?;
            tx.commit().await?;
            true
        });
        if !created {
            return Ok(None);
        }
        Ok(Some(self.user_by_id_fresh(&user.id).await?))
    }

    async fn remove_member(&self, org_id: &OrgId, user_id: &UserId, now: i64) -> StoreResult<RemoveOutcome> {
        let outcome = write!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("UPDATE organizations SET updated_at = updated_at WHERE id = $1")
                .bind(org_id)
                .execute(&mut *tx)
                .await?;
            let member: Option<(Option<OrgRole>,)> = sqlx::query_as(
                "SELECT org_role FROM users WHERE id = $1 AND organization_id = $2 AND role = $3",
            )
            .bind(user_id)
            .bind(org_id)
            .bind(Role::Business)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((role,)) = member else {
                return Ok(RemoveOutcome::NotFound);
            };
            if role == Some(OrgRole::Owner) {
                let (owners,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM users WHERE organization_id = $1 AND role = $3 \
                     AND org_role = $4 AND status = $2",
                )
                .bind(org_id)
                .bind(crate::domain::UserStatus::Active)
                .bind(Role::Business)
                .bind(OrgRole::Owner)
                .fetch_one(&mut *tx)
                .await?;
                if owners <= 1 {
                    tx.rollback().await?;
                    return Ok(RemoveOutcome::LastOwner);
                }
            }
            sqlx::query("UPDATE users SET organization_id = NULL, org_role = NULL, updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            // The organization's connected applications stop acting for them (their grants
            // are bound to it); their own sign-ins stay, now without an organization.
            sqlx::query(
                "UPDATE oauth_grants SET revoked_at = $1, revoked_reason = $2 \
                 WHERE user_id = $3 AND organization_id = $4 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(crate::domain::Revocation::LeftOrganization)
            .bind(user_id)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(RemoveOutcome::Removed)
        })?;
        self.cache.invalidate(Invalidation::User(user_id.to_string()));
        Ok(outcome)
    }

    async fn mark_notification_read(
        &self,
        tenant: &Tenant,
        user_id: &UserId,
        notification_id: &str,
        now: i64,
    ) -> StoreResult<bool> {
        write!(self, p => {
            let mut qb = QueryBuilder::new("SELECT COUNT(*) FROM notifications n WHERE n.id = ");
            qb.push_bind(notification_id.to_owned());
            visible_to!(qb, tenant, user_id);
            let (seen,): (i64,) = qb.build_query_as().fetch_one(p).await?;
            if seen == 0 {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO notification_reads (notification_id, user_id, read_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (notification_id, user_id) DO NOTHING",
            )
            .bind(notification_id)
            .bind(user_id)
            .bind(now)
            .execute(p)
            .await?;
            Ok::<_, StoreError>(())
        })?;
        self.cache.invalidate(Invalidation::Notifications);
        Ok(true)
    }

    async fn mark_all_notifications_read(
        &self,
        tenant: &Tenant,
        user_id: &UserId,
        now: i64,
    ) -> StoreResult<u64> {
        let marked = write!(self, p => {
            let mut qb = QueryBuilder::new("INSERT INTO notification_reads (notification_id, user_id, read_at) SELECT n.id, ");
            qb.push_bind(user_id.to_owned()).push(", ").push_bind(now);
            qb.push(" FROM notifications n WHERE NOT EXISTS (SELECT 1 FROM notification_reads r WHERE r.notification_id = n.id AND r.user_id = ");
            qb.push_bind(user_id.to_owned()).push(")");
            visible_to!(qb, tenant, user_id);
            qb.push(" ON CONFLICT (notification_id, user_id) DO NOTHING");
            let done = qb.build().execute(p).await?;
            Ok::<_, StoreError>(done.rows_affected())
        })?;
        if marked > 0 {
            self.cache.invalidate(Invalidation::Notifications);
        }
        Ok(marked)
    }

    async fn unread_notifications(&self, tenant: &Tenant, user_id: &UserId) -> StoreResult<u64> {
        // `GET /api/me` asks on every request: served from the cache until a notification
        // changes (here or, through the bus, on another node).
        if let Some(n) = self.cache.unread(tenant, user_id) {
            return Ok(n);
        }
        let version = self.cache.version();
        let n = read!(self, p => {
            let mut qb = QueryBuilder::new(
                "SELECT COUNT(*) FROM notifications n WHERE NOT EXISTS \
                 (SELECT 1 FROM notification_reads r WHERE r.notification_id = n.id AND r.user_id = ",
            );
            qb.push_bind(user_id.to_owned()).push(")");
            visible_to!(qb, tenant, user_id);
            let (n,): (i64,) = qb.build_query_as().fetch_one(p).await?;
            to_u64(n)
        });
        self.cache.put_unread(tenant, user_id, version, n);
        Ok(n)
    }

    async fn list_connections(&self, user_id: &UserId) -> StoreResult<Vec<Connection>> {
        read!(self, p => {
            let rows: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
                "SELECT g.client_id, c.name, g.scopes, g.created_at, \
                 COALESCE((SELECT MAX(t.created_at) FROM oauth_tokens t WHERE t.grant_id = g.id), g.created_at) \
                 FROM oauth_grants g JOIN oauth_clients c ON c.id = g.client_id \
                 WHERE g.user_id = $1 AND g.revoked_at IS NULL",
            )
            .bind(user_id)
            .fetch_all(p)
            .await?;
            // One entry per client: its grants' scopes united, first connection, last use.
            let mut out: Vec<Connection> = Vec::new();
            for (client_id, client_name, scopes, created, used) in rows {
                match out.iter_mut().find(|c| c.client_id == client_id) {
                    Some(c) => {
                        let mut all: Vec<&str> = c.scopes.split(' ').chain(scopes.split(' ')).filter(|s| !s.is_empty()).collect();
                        all.sort_unstable();
                        all.dedup();
                        c.scopes = all.join(" ");
                        c.connected_at = c.connected_at.min(created);
                        c.last_used_at = c.last_used_at.max(used);
                    }
                    None => out.push(Connection { client_id, client_name, scopes, connected_at: created, last_used_at: used }),
                }
            }
            out.sort_by(|a, b| b.last_used_at.cmp(&a.last_used_at).then_with(|| a.client_id.cmp(&b.client_id)));
            Ok(out)
        })
    }

    async fn revoke_connection(
        &self,
        user_id: &UserId,
        client_id: &str,
        reason: crate::domain::Revocation,
        now: i64,
    ) -> StoreResult<bool> {
        write!(self, p => {
            let done = sqlx::query(
                "UPDATE oauth_grants SET revoked_at = $1, revoked_reason = $2 \
                 WHERE user_id = $3 AND client_id = $4 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(reason)
            .bind(user_id)
            .bind(client_id)
            .execute(p)
            .await?;
            Ok(done.rows_affected() > 0)
        })
    }
}
