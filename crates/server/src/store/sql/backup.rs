//! `ErasureJournalStore` over SQLite and PostgreSQL.

use async_trait::async_trait;

use super::*;

#[async_trait]
impl ErasureJournalStore for SqlStore {
    async fn journal_erasure(&self, user_id: &UserId, requested_at: i64) -> StoreResult<()> {
        write!(self, p => {
            sqlx::query(
                "INSERT INTO erasure_journal (user_id, requested_at) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(user_id)
            .bind(requested_at)
            .execute(p)
            .await?;
            Ok(())
        })
    }

    async fn journaled_erasures(&self) -> StoreResult<Vec<(String, i64)>> {
        read!(self, p => {
            Ok(sqlx::query_as("SELECT user_id, requested_at FROM erasure_journal ORDER BY requested_at, user_id")
                .fetch_all(p)
                .await?)
        })
    }
}
