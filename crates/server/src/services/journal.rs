//! The erasure journal: every erasure request is appended (and flushed) to a file beside the
//! database and recorded in a table, so a restore from an older backup can re-apply it
//! (`services::backup`). The erasure itself (`services::governance`) writes here first.

use std::path::Path;

use tokio::io::AsyncWriteExt;

use crate::app::App;
use crate::domain::format_ms;
use crate::domain::ids::UserId;
use crate::error::{AppError, AppResult};

/// Journals an erasure request: a line appended (and flushed) to the journal file, and a row in
/// the database. An erasure that cannot be journaled is refused, so none goes unrecorded.
pub async fn journal_erasure(state: &App, user_id: &UserId) -> AppResult<()> {
    let now = state.now();
    append_journal(&state.config.erasure_journal, user_id, now).await.map_err(AppError::internal)?;
    state.store.journal_erasure(user_id, now).await?;
    Ok(())
}

/// One journal line: `<user id> TAB <RFC 3339 time>`.
pub async fn append_journal(path: &Path, user_id: &str, at: i64) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await.map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut f = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(|e| format!("cannot open the erasure journal {}: {e}", path.display()))?;
    f.write_all(format!("{user_id}\t{}\n", format_ms(at)).as_bytes())
        .await
        .and(f.sync_data().await)
        .map_err(|e| format!("cannot write the erasure journal {}: {e}", path.display()))
}

/// Reads a journal file: `(user_id, requested_at)` per line. A last line cut short by a crash
/// is skipped; any other line that does not parse is an error naming it.
pub fn read_journal(path: &Path) -> Result<Vec<(String, i64)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = line.split_once('\t').and_then(|(id, at)| {
            let id_ok = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            let at = chrono::DateTime::parse_from_rfc3339(at.trim()).ok()?.timestamp_millis();
            id_ok.then(|| (id.to_owned(), at))
        });
        match parsed {
            Some(entry) => out.push(entry),
            None if i + 1 == lines.len() && !complete => {
                tracing::warn!(journal = %path.display(), "last journal line incomplete; skipped");
            }
            None => return Err(format!("{}:{}: not a journal line", path.display(), i + 1)),
        }
    }
    Ok(out)
}
