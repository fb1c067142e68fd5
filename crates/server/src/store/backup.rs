//! Backups of the embedded SQLite database at the file level (an online snapshot, the checks a
//! backup file must pass, the notes it carries) and the erasure journal table that a restore
//! reads. PostgreSQL has `pg_dump` for the first part; the journal table lives in both.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection, SqliteConnection};

use super::{StoreError, StoreResult};
use crate::domain::ids::UserId;

/// The table a backup file carries its notes in (format, time, the generated JWT secret); a
/// restore takes it out again.
const NOTES: &str = "openscouter_backup";

/// The erasure journal in the database (`erasure_journal`).
#[async_trait]
pub trait ErasureJournalStore {
    /// Records that `user_id` asked to be erased; the first request's time is kept.
    async fn journal_erasure(&self, user_id: &UserId, requested_at: i64) -> StoreResult<()>;
    /// Every journaled erasure `(user_id, requested_at)`, oldest first.
    async fn journaled_erasures(&self) -> StoreResult<Vec<(String, i64)>>;
}

/// The newest schema version this binary knows (SQLite migrations).
pub fn latest_schema_version() -> i64 {
    super::migrate::SQLITE.last().map_or(0, |m| m.version)
}

/// What a backup file holds, as its checks found it.
#[derive(Debug, Clone)]
pub struct BackupFile {
    /// The highest migration applied in it.
    pub schema_version: i64,
    /// The notes written by `write_notes` (empty for a plain copy of a database).
    pub notes: BTreeMap<String, String>,
}

async fn open(options: SqliteConnectOptions) -> StoreResult<SqliteConnection> {
    Ok(options.busy_timeout(Duration::from_secs(30)).connect().await?)
}

/// Writes a consistent copy of the live database `db` to `dest` (which must not exist) with
/// `VACUUM INTO`. It runs in one read transaction, so the server's writer carries on (WAL) and
/// the copy holds every transaction committed before it began and nothing of any later one.
pub async fn snapshot(db: &Path, dest: &Path) -> StoreResult<()> {
    let target =
        dest.to_str().ok_or_else(|| StoreError::Other(format!("{} is not a UTF-8 path", dest.display())))?;
    let mut conn = open(SqliteConnectOptions::new().filename(db).create_if_missing(false)).await?;
    sqlx::query("VACUUM INTO $1").bind(target).execute(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

/// Adds `notes` to the backup file at `path` and leaves it one self-contained file (rollback
/// journal, no `-wal` beside it).
pub async fn write_notes(path: &Path, notes: &[(&str, &str)]) -> StoreResult<()> {
    let options = SqliteConnectOptions::new().filename(path).journal_mode(SqliteJournalMode::Delete);
    let mut conn = open(options).await?;
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {NOTES} (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
    )))
    .execute(&mut *tx)
    .await?;
    for (key, value) in notes {
        sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO {NOTES} (key, value) VALUES ($1, $2)")))
            .bind(*key)
            .bind(*value)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    conn.close().await?;
    Ok(())
}

/// Removes the notes from a restored copy, so the database holds only its own schema.
pub async fn remove_notes(path: &Path) -> StoreResult<()> {
    let options = SqliteConnectOptions::new().filename(path).journal_mode(SqliteJournalMode::Delete);
    let mut conn = open(options).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {NOTES}"))).execute(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

/// Checks a backup file (or any OpenScouter SQLite database): SQLite's integrity check passes
/// and the schema is OpenScouter's. The error says in one line what is wrong.
pub async fn inspect(path: &Path) -> Result<BackupFile, String> {
    let options = SqliteConnectOptions::new().filename(path).create_if_missing(false).read_only(true);
    let mut conn = open(options).await.map_err(|e| format!("cannot open it as an SQLite database ({e})"))?;
    let checked: Vec<(String,)> = sqlx::query_as("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| format!("not a readable SQLite database ({e})"))?;
    if checked.len() != 1 || checked[0].0 != "ok" {
        let first: Vec<&str> = checked.iter().take(3).map(|(s,)| s.as_str()).collect();
        return Err(format!("the integrity check failed: {}", first.join("; ")));
    }
    let (version,): (Option<i64>,) = sqlx::query_as("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(&mut conn)
        .await
        .map_err(|_| "it has no schema_migrations table: not an OpenScouter database".to_owned())?;
    let has_notes: Option<(String,)> =
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' AND name = $1")
            .bind(NOTES)
            .fetch_optional(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
    let notes = match has_notes {
        Some(_) => sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(format!(
            "SELECT key, value FROM {NOTES}"
        )))
        .fetch_all(&mut conn)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .collect(),
        None => BTreeMap::new(),
    };
    let _ = conn.close().await;
    Ok(BackupFile { schema_version: version.unwrap_or(0), notes })
}
