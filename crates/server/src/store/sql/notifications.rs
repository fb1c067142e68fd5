//! `NotificationStore` over SQLite and PostgreSQL.

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};

use super::*;

#[async_trait]
impl NotificationStore for SqlStore {
    async fn create_notification(
        &self,
        n: NewNotification,
        telegram: Option<TelegramCopy>,
        event: Option<(String, OutboundEvent)>,
    ) -> StoreResult<bool> {
        let now = n.created_at;
        write!(self, p => {
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
        })
    }

    async fn list_notifications(
        &self,
        tenant: &Tenant,
        user_id: &str,
        page: Page,
    ) -> StoreResult<(Vec<NotificationRow>, u64)> {
        read!(self, p => {
            let filters = |qb: &mut QueryBuilder<_>| {
                qb.push(" AND (user_id = ").push_bind(user_id.to_owned());
                match tenant {
                    Tenant::All => {
                        qb.push(" OR staff = ").push_bind(true);
                    }
                    Tenant::Organization(org) => {
                        qb.push(" OR organization_id = ").push_bind(org.clone());
                    }
                    Tenant::Tester(_) => {}
                }
                qb.push(")");
            };
            let (rows, total) = fetch_page!(
                p,
                "SELECT id, kind, title, body, data, created_at FROM notifications WHERE 1 = 1",
                "SELECT COUNT(*) FROM notifications WHERE 1 = 1",
                filters,
                "created_at DESC, id DESC",
                page,
                |row| NotificationRow {
                    id: row.try_get(0)?,
                    kind: row.try_get(1)?,
                    title: row.try_get(2)?,
                    body: row.try_get(3)?,
                    data: row.try_get(4)?,
                    created_at: row.try_get(5)?,
                }
            );
            Ok((rows, total))
        })
    }
}
