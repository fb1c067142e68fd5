//! A small migrator over embedded SQL files, one folder per dialect, recorded in `schema_migrations`.

/// One embedded migration.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// SQLite migrations, in order.
pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "accounts",
        sql: include_str!("../../migrations/sqlite/0001_accounts.sql"),
    },
    Migration {
        version: 2,
        name: "studies_sessions",
        sql: include_str!("../../migrations/sqlite/0002_studies_sessions.sql"),
    },
];

/// PostgreSQL migrations, in order; same versions and names as SQLite's.
pub const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "accounts",
        sql: include_str!("../../migrations/postgres/0001_accounts.sql"),
    },
    Migration {
        version: 2,
        name: "studies_sessions",
        sql: include_str!("../../migrations/postgres/0002_studies_sessions.sql"),
    },
];

/// The bookkeeping table (same text in both dialects).
pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";
