//! A small migrator over embedded SQL files, one folder per dialect, recorded in `schema_migrations`.

/// One embedded migration.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The four-digit file-name prefix of a migration version (`9` → `"0009"`, `10` → `"0010"`).
macro_rules! padded {
    (1) => {
        "0001"
    };
    (2) => {
        "0002"
    };
    (3) => {
        "0003"
    };
    (4) => {
        "0004"
    };
    (5) => {
        "0005"
    };
    (6) => {
        "0006"
    };
    (7) => {
        "0007"
    };
    (8) => {
        "0008"
    };
    (9) => {
        "0009"
    };
    ($version:tt) => {
        concat!("00", stringify!($version))
    };
}

/// Lists the migrations once; each dialect's list reads its own folder. File names are
/// `<4-digit version>_<name>.sql`.
macro_rules! migrations {
    ($dialect:literal; $(($version:tt, $name:literal)),* $(,)?) => {
        &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../migrations/", $dialect, "/", padded!($version), "_", $name, ".sql")),
        }),*]
    };
}

/// SQLite migrations, in order.
pub const SQLITE: &[Migration] = migrations!("sqlite"; (1, "accounts"), (2, "studies_sessions"), (3, "pipeline"), (4, "reports"), (5, "realtime"), (6, "webhooks"), (7, "billing"), (8, "telegram_scheduler"), (9, "queue_result"), (10, "oauth"), (11, "governance"), (12, "backup"), (13, "flow"), (14, "engine"), (15, "session_retry"), (16, "accounts_recovery"), (17, "report"), (18, "recordings"));

/// PostgreSQL migrations: the same versions and names.
pub const POSTGRES: &[Migration] = migrations!("postgres"; (1, "accounts"), (2, "studies_sessions"), (3, "pipeline"), (4, "reports"), (5, "realtime"), (6, "webhooks"), (7, "billing"), (8, "telegram_scheduler"), (9, "queue_result"), (10, "oauth"), (11, "governance"), (12, "backup"), (13, "flow"), (14, "engine"), (15, "session_retry"), (16, "accounts_recovery"), (17, "report"), (18, "recordings"));

/// The bookkeeping table (same text in both dialects).
pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";
