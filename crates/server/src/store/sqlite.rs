//! SQLite backend: WAL, busy timeout, foreign keys, one writer connection and a reader pool.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};

use super::StoreError;
use super::sql::{Db, SqlStore};

/// The default page size of new databases: SQLite's own. Measured with
/// `examples/ingest_ceiling.rs` (appending rows, as sessions do): 4 KiB and 64 KiB pages
/// insert equally fast in batches of 1,000 (~315k vs ~330k rows/s), and 4 KiB is faster in
/// batches of 100 (141k vs 111k) and writes less for small updates. Larger pages only helped
/// when every insert landed mid-index (a benchmark artefact; see `bench/README.md`).
pub const DEFAULT_PAGE_SIZE: u32 = 4096;

/// Opens (creating if needed) the database at `url` (`sqlite://path` or `sqlite::memory:`).
/// `page_size` only applies when the file is created.
///
/// `synchronous = FULL`: a 200 promises the rows survive power loss, not only a crash.
pub async fn connect(url: &str, readers: u32, page_size: u32) -> Result<SqlStore, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite://").map(|p| p.split('?').next().unwrap_or(p))
        && let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true)
        .page_size(page_size);
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .after_release(|conn, _| Box::pin(async move { outside_any_transaction(conn).await }))
        .connect_with(options.clone())
        .await?;
    // An in-memory database exists once per connection, so it cannot have separate readers.
    let reader = if url.contains(":memory:") || url.contains("mode=memory") {
        writer.clone()
    } else {
        SqlitePoolOptions::new()
            .max_connections(readers.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.create_if_missing(false).read_only(true))
            .await?
    };
    let groups = super::sql::ingest_group::Groups::start(writer.clone());
    Ok(SqlStore::new(Db::Sqlite { reader, writer, groups }))
}

/// Whether the writer connection may go back to the pool: only when no transaction is open,
/// neither in sqlx's bookkeeping nor in SQLite itself (a `BEGIN` that fails means one is).
///
/// After `SQLITE_FULL` (a full volume) SQLite may roll a transaction back by itself; sqlx's
/// `ROLLBACK` on drop then fails and its depth counter stays at 1, or a transaction stays open
/// that nobody will commit. Either way the next request's `BEGIN` became a `SAVEPOINT` inside a
/// transaction that was never committed: its 200 promised rows that were lost when the
/// process stopped (found by `bench/faults.sh full`). A connection in either state is closed
/// (SQLite rolls back what it held) and the pool opens a fresh one.
async fn outside_any_transaction(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Executor as _;
    if conn.is_in_transaction() {
        tracing::warn!("closing the SQLite writer connection: a transaction was left open");
        return Ok(false);
    }
    if conn.execute("BEGIN").await.is_err() {
        tracing::warn!("closing the SQLite writer connection: SQLite still holds a transaction");
        return Ok(false);
    }
    conn.execute("ROLLBACK").await?;
    Ok(true)
}
