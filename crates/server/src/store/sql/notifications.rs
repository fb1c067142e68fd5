//! `NotificationStore` over SQLite and PostgreSQL.

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};

use super::*;

/// Pushes ` AND (<what the reader may see>)` for notifications aliased `n`: their own, plus
/// their organization's (`Tenant::Organization`) or staff's (`Tenant::All`).
macro_rules! visible_to {
    ($qb:ident, $tenant:expr, $user:expr) => {{
        $qb.push(" AND (n.user_id = ").push_bind($user.to_owned());
        match $tenant {
            Tenant::All => {
                $qb.push(" OR n.staff = ").push_bind(true);
            }
            Tenant::Organization(org) => {
                $qb.push(" OR n.organization_id = ").push_bind(org.clone());
            }
            Tenant::Tester(_) => {}
        }
        $qb.push(")");
    }};
}
pub(super) use visible_to;

#[async_trait]
impl NotificationStore for SqlStore {
    async fn create_notification(
        &self,
        n: NewNotification,
        telegram: Option<TelegramCopy>,
        event: Option<(String, OutboundEvent)>,
    ) -> StoreResult<bool> {
        let now = n.created_at;
        let inserted = write!(self, p => {
            let mut tx = p.begin().await?;
            if !insert_notification!(tx, &n) {
                return Ok(false);
            }
            if let Some(copy) = &telegram {
                insert_message!(tx, copy, now);
            }
            if let Some((org, ev)) = &event {
                emit_event!(tx, org, ev, now);
            }
            tx.commit().await?;
            Ok(true)
        });
        if matches!(inserted, Ok(true)) {
            self.cache.invalidate(Invalidation::Notifications);
        }
        inserted
    }

    async fn list_notifications(
        &self,
        tenant: &Tenant,
        user_id: &UserId,
        unread_only: bool,
        page: Page,
    ) -> StoreResult<(Vec<NotificationRow>, u64)> {
        read!(self, p => {
            let mut qb = QueryBuilder::new(
                "SELECT n.id, n.kind, n.title, n.body, n.data, n.created_at, r.read_at FROM notifications n \
                 LEFT JOIN notification_reads r ON r.notification_id = n.id AND r.user_id = ",
            );
            qb.push_bind(user_id.to_owned()).push(" WHERE 1 = 1");
            visible_to!(qb, tenant, user_id);
            if unread_only {
                qb.push(" AND r.read_at IS NULL");
            }
            qb.push(" ORDER BY n.created_at DESC, n.id DESC LIMIT ").push_bind(i64::from(page.limit));
            qb.push(" OFFSET ").push_bind(page.offset());
            let rows = qb.build().fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(NotificationRow {
                    id: row.try_get(0)?,
                    kind: row.try_get(1)?,
                    title: row.try_get(2)?,
                    body: row.try_get(3)?,
                    data: row.try_get(4)?,
                    created_at: row.try_get(5)?,
                    read_at: row.try_get(6)?,
                });
            }
            let mut qc = QueryBuilder::new(
                "SELECT COUNT(*) FROM notifications n \
                 LEFT JOIN notification_reads r ON r.notification_id = n.id AND r.user_id = ",
            );
            qc.push_bind(user_id.to_owned()).push(" WHERE 1 = 1");
            visible_to!(qc, tenant, user_id);
            if unread_only {
                qc.push(" AND r.read_at IS NULL");
            }
            let (total,): (i64,) = qc.build_query_as().fetch_one(p).await?;
            Ok((out, to_u64(total)))
        })
    }
}
