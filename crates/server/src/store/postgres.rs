//! PostgreSQL backend: one pool shared by reads and writes; the database is the coordinator.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::StoreError;
use super::sql::{Db, SqlStore};

/// Connects to `url` (`postgres://…`).
pub async fn connect(url: &str, max_connections: u32) -> Result<SqlStore, StoreError> {
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections.max(2))
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    Ok(SqlStore::new(Db::Postgres(pool)))
}
