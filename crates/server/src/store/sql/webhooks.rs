//! `WebhookStore` over SQLite and PostgreSQL.

use async_trait::async_trait;

use super::*;

type DeliveryRow = (
    String,
    String,
    String,
    String,
    crate::domain::DeliveryStatus,
    i64,
    Option<i64>,
    Option<String>,
    i64,
    Option<i64>,
);
const DELIVERY_COLS: &str = "d.id, d.endpoint_id, d.event_type, d.payload, d.status, d.attempts, d.last_status, \
     d.last_error, d.created_at, d.delivered_at";

fn delivery_from(r: DeliveryRow) -> WebhookDelivery {
    WebhookDelivery {
        id: r.0,
        endpoint_id: r.1,
        event_type: r.2,
        payload: r.3,
        status: r.4,
        attempts: r.5,
        last_status: r.6,
        last_error: r.7,
        created_at: r.8,
        delivered_at: r.9,
    }
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn create_endpoint(&self, e: WebhookEndpoint, secret: &str) -> StoreResult<WebhookEndpoint> {
        write!(self, p => {
            sqlx::query(
                "INSERT INTO webhook_endpoints (id, organization_id, url, events, secret, description, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&e.id)
            .bind(&e.organization_id)
            .bind(&e.url)
            .bind(e.events.join(" "))
            .bind(secret)
            .bind(&e.description)
            .bind(e.created_at)
            .execute(p)
            .await?;
            Ok(e)
        })
    }

    async fn list_endpoints(&self, org_id: &OrgId, page: Page) -> StoreResult<(Vec<WebhookEndpoint>, u64)> {
        type EndpointRow = (String, String, String, String, Option<String>, i64);
        read!(self, p => {
            let filters = |qb: &mut QueryBuilder<_>| {
                qb.push(" AND organization_id = ").push_bind(org_id.to_owned());
            };
            let (rows, total) = fetch_page!(
                p,
                "SELECT id, organization_id, url, events, description, created_at FROM webhook_endpoints \
                 WHERE deleted_at IS NULL",
                "SELECT COUNT(*) FROM webhook_endpoints WHERE deleted_at IS NULL",
                filters,
                "created_at DESC, id DESC",
                page,
                |row| <EndpointRow as sqlx::FromRow<_>>::from_row(row)?
            );
            let out = rows
                .into_iter()
                .map(|r| WebhookEndpoint {
                    id: r.0,
                    organization_id: r.1.into(),
                    url: r.2,
                    events: r.3.split_whitespace().map(str::to_owned).collect(),
                    description: r.4,
                    created_at: r.5,
                })
                .collect();
            Ok((out, total))
        })
    }

    async fn delete_endpoint(&self, org_id: &OrgId, id: &str, now: i64) -> StoreResult<bool> {
        write!(self, p => {
            let done = sqlx::query(
                "UPDATE webhook_endpoints SET deleted_at = $1 WHERE id = $2 AND organization_id = $3 AND deleted_at IS NULL",
            )
            .bind(now)
            .bind(id)
            .bind(org_id)
            .execute(p)
            .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    async fn list_deliveries(
        &self,
        org_id: &OrgId,
        endpoint_id: &str,
        page: Page,
    ) -> StoreResult<Option<(Vec<WebhookDelivery>, u64)>> {
        let select = format!("SELECT {DELIVERY_COLS} FROM webhook_deliveries d WHERE 1 = 1");
        read!(self, p => {
            let owner: Option<(String,)> =
                sqlx::query_as("SELECT id FROM webhook_endpoints WHERE id = $1 AND organization_id = $2")
                    .bind(endpoint_id)
                    .bind(org_id)
                    .fetch_optional(p)
                    .await?;
            if owner.is_none() {
                return Ok(None);
            }
            let filters = |qb: &mut QueryBuilder<_>| {
                qb.push(" AND d.endpoint_id = ").push_bind(endpoint_id.to_owned());
                qb.push(" AND d.organization_id = ").push_bind(org_id.to_owned());
            };
            let (rows, total) = fetch_page!(
                p,
                select,
                "SELECT COUNT(*) FROM webhook_deliveries d WHERE 1 = 1",
                filters,
                "d.created_at DESC, d.id DESC",
                page,
                |row| <DeliveryRow as sqlx::FromRow<_>>::from_row(row)?
            );
            Ok(Some((rows.into_iter().map(delivery_from).collect(), total)))
        })
    }

    async fn delivery_target(&self, delivery_id: &str) -> StoreResult<Option<DeliveryTarget>> {
        let sql = format!(
            "SELECT {DELIVERY_COLS}, e.url, e.secret, e.deleted_at FROM webhook_deliveries d \
             JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = $1"
        );
        read!(self, p => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(delivery_id).fetch_optional(p).await?;
            match row {
                None => Ok(None),
                Some(r) => {
                    use sqlx::Row;
                    let delivery = delivery_from((
                        r.try_get(0)?,
                        r.try_get(1)?,
                        r.try_get(2)?,
                        r.try_get(3)?,
                        r.try_get(4)?,
                        r.try_get(5)?,
                        r.try_get(6)?,
                        r.try_get(7)?,
                        r.try_get(8)?,
                        r.try_get(9)?,
                    ));
                    let deleted: Option<i64> = r.try_get(12)?;
                    Ok(Some(DeliveryTarget {
                        delivery,
                        url: r.try_get(10)?,
                        secret: r.try_get(11)?,
                        endpoint_deleted: deleted.is_some(),
                    }))
                }
            }
        })
    }

    async fn record_attempt(
        &self,
        delivery_id: &str,
        status_code: Option<i64>,
        error: Option<&str>,
        delivered: bool,
        final_failure: bool,
        now: i64,
    ) -> StoreResult<()> {
        use crate::domain::DeliveryStatus;
        let status = if delivered {
            DeliveryStatus::Delivered
        } else if final_failure {
            DeliveryStatus::Failed
        } else {
            DeliveryStatus::Pending
        };
        write!(self, p => {
            sqlx::query(
                "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, last_status = $2, last_error = $3, \
                 delivered_at = CASE WHEN $1 = $6 THEN $4 ELSE delivered_at END WHERE id = $5",
            )
            .bind(status)
            .bind(status_code)
            .bind(error)
            .bind(now)
            .bind(delivery_id)
            .bind(DeliveryStatus::Delivered)
            .execute(p)
            .await?;
            Ok(())
        })
    }
}
