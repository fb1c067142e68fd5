//! A small migrator over embedded SQL files, one folder per dialect, recorded in `schema_migrations`.

/// One embedded migration.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Lists the migrations once; each dialect's list reads its own folder. File names are
/// `<version, 4 digits>_<name>.sql`.
macro_rules! migrations {
    ($dialect:literal; $(($version:literal, $file:literal, $name:literal)),* $(,)?) => {
        &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../migrations/", $dialect, "/", $file, "_", $name, ".sql")),
        }),*]
    };
}

/// SQLite migrations, in order.
pub const SQLITE: &[Migration] = migrations!("sqlite"; (1, "0001", "accounts"), (2, "0002", "studies_sessions"), (3, "0003", "pipeline"), (4, "0004", "reports"), (5, "0005", "realtime"), (6, "0006", "webhooks"), (8, "0008", "telegram_scheduler"), (9, "0009", "queue_result"), (11, "0011", "governance"));

/// PostgreSQL migrations: the same versions and names.
pub const POSTGRES: &[Migration] = migrations!("postgres"; (1, "0001", "accounts"), (2, "0002", "studies_sessions"), (3, "0003", "pipeline"), (4, "0004", "reports"), (5, "0005", "realtime"), (6, "0006", "webhooks"), (8, "0008", "telegram_scheduler"), (9, "0009", "queue_result"), (11, "0011", "governance"));

/// The bookkeeping table (same text in both dialects).
pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";
