//! A small migrator over embedded SQL files, one folder per dialect, recorded in `schema_migrations`.

/// One embedded migration.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Lists the migrations once; each dialect's list reads its own folder. File names are
/// `000<version>_<name>.sql` (widen the pattern at version 10).
macro_rules! migrations {
    ($dialect:literal; $(($version:literal, $name:literal)),* $(,)?) => {
        &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../migrations/", $dialect, "/000", $version, "_", $name, ".sql")),
        }),*]
    };
}

/// SQLite migrations, in order.
pub const SQLITE: &[Migration] = migrations!("sqlite"; (1, "accounts"), (2, "studies_sessions"), (3, "pipeline"), (4, "reports"), (5, "realtime"), (6, "webhooks"), (7, "billing"));

/// PostgreSQL migrations: the same versions and names.
pub const POSTGRES: &[Migration] = migrations!("postgres"; (1, "accounts"), (2, "studies_sessions"), (3, "pipeline"), (4, "reports"), (5, "realtime"), (6, "webhooks"), (7, "billing"));

/// The bookkeeping table (same text in both dialects).
pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";
