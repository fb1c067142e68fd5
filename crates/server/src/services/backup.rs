//! Backups of the embedded store (issue #33): `openscouter backup` (an online snapshot, checked,
//! carrying the generated development JWT secret), `openscouter restore` (into an empty data
//! directory, then migrations and the erasure journal), the scheduled backups, and the erasure
//! journal itself: every erasure request is written to a file outside the database and to the
//! `erasure_journal` table, and a restore re-applies every journaled erasure whose person still
//! has data (docs/deploy.md, "Backups and restore").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use croner::Cron;
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::config::{BackupSchedule, Config, Environment};
use crate::domain::format_ms;
use crate::domain::ids::UserId;
use crate::domain::schedule;
use crate::error::{AppError, AppResult};
use crate::services::governance;
use crate::services::journal::{append_journal, read_journal};
use crate::store::backup as files;

/// What `backup` and `restore` say on PostgreSQL.
pub const ON_POSTGRES: &str = "backup and restore work on the embedded SQLite store; on PostgreSQL \
     use pg_dump and pg_restore, then `openscouter reapply-erasures` (docs/deploy.md, \"Backups and restore\")";

/// The format a backup file's notes name.
const FORMAT: &str = "openscouter-backup-1";
/// The file the development JWT secret is kept in (as `config.rs` writes it).
const JWT_SECRET_FILE: &str = "jwt-secret";
/// Scheduled backups are named `openscouter-<UTC time>.db`.
const SCHEDULED_PREFIX: &str = "openscouter-";
const SCHEDULED_SUFFIX: &str = ".db";
const SCHEDULED_TIME: &str = "%Y%m%dT%H%M%S%.3fZ";

/// The database file of an `sqlite://PATH` URL; `None` for PostgreSQL or an in-memory database.
pub fn sqlite_path(config: &Config) -> Option<PathBuf> {
    let rest = config.database_url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path.contains(":memory:") || config.database_url.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// A written and checked backup.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
    pub schema_version: i64,
    /// The generated development JWT secret travels in it.
    pub with_jwt_secret: bool,
}

/// The generated development JWT secret, when that is what signs this server's tokens
/// (production takes its secret from the configuration, which a backup never holds).
fn generated_jwt_secret(config: &Config) -> Option<String> {
    if config.env != Environment::Development {
        return None;
    }
    let kept = std::fs::read_to_string(config.data_dir.join(JWT_SECRET_FILE)).ok()?;
    let kept = kept.trim();
    crate::auth::secrets::ct_eq(kept.as_bytes(), config.jwt_secret.expose_secret().as_bytes())
        .then(|| kept.to_owned())
}

/// `openscouter backup FILE`: a consistent snapshot of the live database, taken while the
/// server serves, written to `FILE.partial`, checked (integrity, schema version), then renamed
/// to `dest`. A failed backup leaves no file that could be mistaken for one.
pub async fn backup(config: &Config, dest: &Path) -> Result<Written, String> {
    let db = sqlite_path(config).ok_or(ON_POSTGRES)?;
    if dest.exists() {
        return Err(format!("{} already exists; a backup never overwrites a file", dest.display()));
    }
    if !db.exists() {
        return Err(format!("no database at {} (check DATABASE_URL)", db.display()));
    }
    let name = dest.file_name().ok_or_else(|| format!("{} is not a file name", dest.display()))?;
    let partial = dest.with_file_name(format!("{}.partial", name.to_string_lossy()));
    let _ = std::fs::remove_file(&partial);
    let written = write_checked(config, &db, &partial).await;
    let written = match written {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, dest).map_err(|e| format!("cannot rename to {}: {e}", dest.display()))?;
    sync_dir(dest);
    Ok(Written { path: dest.to_owned(), ..written })
}

async fn write_checked(config: &Config, db: &Path, partial: &Path) -> Result<Written, String> {
    files::snapshot(db, partial).await.map_err(|e| format!("snapshot of {} failed: {e}", db.display()))?;
    let taken_at = format_ms(chrono::Utc::now().timestamp_millis());
    let secret = generated_jwt_secret(config);
    let mut notes =
        vec![("format", FORMAT), ("taken_at", taken_at.as_str()), ("version", env!("CARGO_PKG_VERSION"))];
    if let Some(s) = &secret {
        notes.push(("jwt_secret", s.as_str()));
    }
    files::write_notes(partial, &notes).await.map_err(|e| format!("cannot finish the backup: {e}"))?;
    let checked =
        files::inspect(partial).await.map_err(|e| format!("the written backup is unusable: {e}"))?;
    let file = std::fs::File::open(partial).map_err(|e| e.to_string())?;
    file.sync_all().map_err(|e| format!("cannot flush the backup: {e}"))?;
    let bytes = file.metadata().map_err(|e| e.to_string())?.len();
    Ok(Written {
        path: partial.to_owned(),
        bytes,
        schema_version: checked.schema_version,
        with_jwt_secret: secret.is_some(),
    })
}

/// Makes a rename durable (best effort: not every platform can open a directory).
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub database: PathBuf,
    /// The backup's schema version, before migrations.
    pub schema_version: i64,
    /// Migrations applied because the backup was older than this binary.
    pub migrations_applied: usize,
    /// The development JWT secret came back (tokens issued before the backup stay valid).
    pub jwt_secret: bool,
    /// People erased again from the journal.
    pub erasures_reapplied: usize,
}

/// Refuses a data directory that is in use: the database file (or its WAL) exists, or the
/// directory holds anything but a JWT secret (written by loading the configuration) and the
/// erasure journal.
fn refuse_live(config: &Config, db: &Path) -> Result<(), String> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let p = PathBuf::from(format!("{}{suffix}", db.display()));
        if p.exists() {
            return Err(format!(
                "{} exists: restore never overwrites a database. Stop the server, move the data directory \
                 aside and restore into an empty one",
                p.display()
            ));
        }
    }
    let Ok(entries) = std::fs::read_dir(&config.data_dir) else { return Ok(()) };
    for entry in entries.flatten() {
        let path = entry.path();
        let known = entry.file_name() == JWT_SECRET_FILE || path == config.erasure_journal;
        if !known {
            return Err(format!(
                "{} is not empty ({}): restore only fills an empty data directory",
                config.data_dir.display(),
                entry.file_name().to_string_lossy()
            ));
        }
    }
    Ok(())
}

/// The file half of `openscouter restore FILE`: checks the backup, copies it into the empty
/// data directory and puts back the development JWT secret it carries. The caller
/// (`crate::restore`) then opens the store, applies the migrations it lacks and re-applies the
/// journaled erasures (`reapply_erasures`). `migrations_applied` and `erasures_reapplied` are 0
/// here.
pub async fn restore_files(config: &Config, file: &Path, journals: &[PathBuf]) -> Result<Restored, String> {
    let db = sqlite_path(config).ok_or(ON_POSTGRES)?;
    refuse_live(config, &db)?;
    for j in journals {
        if !j.exists() {
            return Err(format!("journal {} not found", j.display()));
        }
    }
    let unusable = |e: String| format!("{} is not a usable OpenScouter backup: {e}", file.display());
    if !file.is_file() {
        return Err(format!("{} not found", file.display()));
    }
    let checked = files::inspect(file).await.map_err(unusable)?;
    let latest = files::latest_schema_version();
    if checked.schema_version < 1 {
        return Err(unusable("it has no applied migrations".into()));
    }
    if checked.schema_version > latest {
        return Err(format!(
            "{} comes from a newer OpenScouter (schema {}, this binary knows up to {latest}); restore it with \
             that release",
            file.display(),
            checked.schema_version
        ));
    }
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let staging = PathBuf::from(format!("{}.restoring", db.display()));
    let _ = std::fs::remove_file(&staging);
    std::fs::copy(file, &staging).map_err(|e| format!("cannot copy to {}: {e}", staging.display()))?;
    let staged = async {
        files::remove_notes(&staging).await.map_err(|e| e.to_string())?;
        std::fs::File::open(&staging).and_then(|f| f.sync_all()).map_err(|e| e.to_string())
    }
    .await;
    if let Err(e) = staged {
        let _ = std::fs::remove_file(&staging);
        return Err(format!("cannot prepare the restored database: {e}"));
    }
    std::fs::rename(&staging, &db).map_err(|e| format!("cannot move into {}: {e}", db.display()))?;
    sync_dir(&db);

    let secret = checked.notes.get("jwt_secret").filter(|_| config.env == Environment::Development);
    if let Some(s) = secret {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| e.to_string())?;
        std::fs::write(config.data_dir.join(JWT_SECRET_FILE), s)
            .map_err(|e| format!("cannot write the JWT secret: {e}"))?;
    }
    Ok(Restored {
        database: db,
        schema_version: checked.schema_version,
        migrations_applied: 0,
        jwt_secret: secret.is_some(),
        erasures_reapplied: 0,
    })
}

/// Re-applies every journaled erasure whose person still has data. The journals merged are the
/// database's table, the configured journal file and `extra` files; the table and the configured
/// file are then brought up to the union, so the next backup and restore know every entry. Each
/// person still present is locked out and erased through the ordinary erasure
/// (`governance::run_erasure`). Returns how many were erased.
pub async fn reapply_erasures(state: &App, extra: &[PathBuf]) -> AppResult<usize> {
    let configured = state.config.erasure_journal.clone();
    let in_file: Vec<(String, i64)> =
        if configured.exists() { read_journal(&configured).map_err(AppError::internal)? } else { Vec::new() };
    let mut all: BTreeMap<String, i64> = BTreeMap::new();
    let mut merge = |entries: Vec<(String, i64)>| {
        for (id, at) in entries {
            let e = all.entry(id).or_insert(at);
            *e = (*e).min(at);
        }
    };
    merge(state.store.journaled_erasures().await?);
    merge(in_file.clone());
    for path in extra {
        merge(read_journal(path).map_err(AppError::internal)?);
    }
    let mut erased = 0;
    for (id, at) in &all {
        let user_id = UserId::from(id.as_str());
        state.store.journal_erasure(&user_id, *at).await?;
        if !in_file.iter().any(|(known, _)| known == id) {
            append_journal(&configured, id, *at).await.map_err(AppError::internal)?;
        }
        let Some(user) = state.store.get_user(&user_id).await? else { continue };
        let item = governance::queue_erasure(state, &user_id, user.organization_id.as_ref()).await?;
        let done = governance::run_erasure(state, &item).await?;
        state.store.complete_item(&item.id, &done.result_ref, None, state.now()).await?;
        tracing::info!(user = %id, requested_at = %format_ms(*at), "journaled erasure re-applied");
        erased += 1;
    }
    Ok(erased)
}

// ---- scheduled backups --------------------------------------------------------------------

/// The name of a scheduled backup taken at `at` (epoch ms).
fn scheduled_name(at: i64) -> String {
    let t = chrono::DateTime::from_timestamp_millis(at).unwrap_or_default();
    format!("{SCHEDULED_PREFIX}{}{SCHEDULED_SUFFIX}", t.format(SCHEDULED_TIME))
}

/// The time a scheduled backup's name says it was taken, or `None` for any other file.
fn scheduled_time(name: &str) -> Option<i64> {
    let stamp = name.strip_prefix(SCHEDULED_PREFIX)?.strip_suffix(SCHEDULED_SUFFIX)?;
    let t = chrono::NaiveDateTime::parse_from_str(stamp, SCHEDULED_TIME).ok()?;
    Some(t.and_utc().timestamp_millis())
}

/// The scheduled backups in `dir`, newest first.
fn scheduled_backups(dir: &Path) -> Vec<(i64, PathBuf)> {
    let mut found: Vec<(i64, PathBuf)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| Some((scheduled_time(e.file_name().to_str()?)?, e.path())))
                .collect()
        })
        .unwrap_or_default();
    found.sort_by(|a, b| b.cmp(a));
    found
}

/// Deletes all but the newest `keep` scheduled backups in `dir` (other files are left alone);
/// returns the files deleted.
pub fn prune(dir: &Path, keep: usize) -> Vec<PathBuf> {
    let mut deleted = Vec::new();
    for (_, path) in scheduled_backups(dir).into_iter().skip(keep) {
        match std::fs::remove_file(&path) {
            Ok(()) => deleted.push(path),
            Err(e) => tracing::warn!(file = %path.display(), error = %e, "old backup not deleted"),
        }
    }
    deleted
}

/// Takes a scheduled backup if one is due at `now`: the newest backup in the folder is older
/// than the latest tick (so a tick missed while the server was down is made up once at start).
pub async fn run_due(
    config: &Config,
    schedule: &BackupSchedule,
    cron: &Cron,
    now: i64,
) -> Result<Option<Written>, String> {
    let Some(tick) = schedule::latest_tick(cron, now) else { return Ok(None) };
    if scheduled_backups(&schedule.dir).first().is_some_and(|(t, _)| *t >= tick) {
        return Ok(None);
    }
    std::fs::create_dir_all(&schedule.dir)
        .map_err(|e| format!("cannot create {}: {e}", schedule.dir.display()))?;
    let written = backup(config, &schedule.dir.join(scheduled_name(now))).await?;
    for old in prune(&schedule.dir, schedule.keep) {
        tracing::info!(file = %old.display(), "old backup deleted");
    }
    Ok(Some(written))
}

/// Starts the scheduled backups of this node (embedded store, `OPENSCOUTER_BACKUP_SCHEDULE`);
/// `None` when they are off. A failed backup is logged and tried again at the next tick.
pub fn spawn_schedule(state: App, shutdown: CancellationToken) -> Option<JoinHandle<()>> {
    let schedule = state.config.backup_schedule.clone()?;
    let cron = schedule::parse_cron(&schedule.cron)
        .map_err(|e| tracing::error!(error = %e, "backup schedule ignored"))
        .ok()?;
    Some(tokio::spawn(async move {
        let mut failed_tick = None;
        let mut poll = tokio::time::interval(Duration::from_secs(1));
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = poll.tick() => {}
            }
            let now = state.now();
            let tick = schedule::latest_tick(&cron, now);
            if tick.is_some() && tick == failed_tick {
                continue;
            }
            match run_due(&state.config, &schedule, &cron, now).await {
                Ok(Some(w)) => {
                    tracing::info!(file = %w.path.display(), bytes = w.bytes, "scheduled backup written")
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "scheduled backup failed");
                    failed_tick = tick;
                }
            }
        }
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn scheduled_names_round_trip_and_prune_keeps_the_newest() {
        let at = 1_773_656_072_120;
        assert_eq!(scheduled_name(at), "openscouter-20260316T101432.120Z.db");
        assert_eq!(scheduled_time(&scheduled_name(at)), Some(at));
        assert_eq!(scheduled_time("notes.txt"), None);
        let dir = std::env::temp_dir().join(format!("openscouter-prune-{}", ulid::Ulid::generate()));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..5 {
            std::fs::write(dir.join(scheduled_name(at + i * 60_000)), "x").unwrap();
        }
        std::fs::write(dir.join("erasures.journal"), "x").unwrap();
        let deleted = prune(&dir, 2);
        assert_eq!(deleted.len(), 3);
        let left: Vec<i64> = scheduled_backups(&dir).into_iter().map(|(t, _)| t).collect();
        assert_eq!(left, vec![at + 4 * 60_000, at + 3 * 60_000]);
        assert!(dir.join("erasures.journal").exists(), "other files stay");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn journal_lines_parse_and_a_torn_last_line_is_skipped() {
        let dir = std::env::temp_dir().join(format!("openscouter-journal-{}", ulid::Ulid::generate()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("erasures.journal");
        std::fs::write(
            &path,
            "usr_1\t2026-03-16T10:14:32.120Z\n# note\n\nusr_2\t2026-03-17T00:00:00.000Z\nusr_3\t2026-0",
        )
        .unwrap();
        let entries = read_journal(&path).unwrap();
        assert_eq!(entries, vec![("usr_1".into(), 1_773_656_072_120), ("usr_2".into(), 1_773_705_600_000)]);
        std::fs::write(&path, "usr_1 yesterday\nusr_2\t2026-03-17T00:00:00.000Z\n").unwrap();
        assert!(read_journal(&path).unwrap_err().contains("erasures.journal:1"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
