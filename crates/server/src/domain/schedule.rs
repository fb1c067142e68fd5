//! Cron expressions: parsing one, and the latest time it fired (used by configuration,
//! the scheduler and scheduled backups).

use std::str::FromStr;

use croner::Cron;

/// Parses a cron expression (5 fields, or 6 with seconds first).
pub fn parse_cron(expr: &str) -> Result<Cron, String> {
    Cron::from_str(expr).map_err(|e| format!("invalid cron expression {expr:?}: {e}"))
}

/// The latest time `cron` fires at or before `now_ms` (epoch ms, UTC).
pub fn latest_tick(cron: &Cron, now_ms: i64) -> Option<i64> {
    let now = chrono::DateTime::from_timestamp_millis(now_ms)?;
    cron.find_previous_occurrence(&now, true).ok().map(|t| t.timestamp_millis())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn latest_tick_is_at_or_before_now() {
        let every_5 = parse_cron("*/5 * * * *").unwrap();
        // 2026-03-16T10:14:32.120Z → 10:10:00.
        assert_eq!(latest_tick(&every_5, 1_773_656_072_120), Some(1_773_655_800_000));
        // Exactly on a tick: that tick.
        assert_eq!(latest_tick(&every_5, 1_773_655_800_000), Some(1_773_655_800_000));
        assert!(parse_cron("every tuesday").is_err());
        assert!(parse_cron("*/10 * * * * *").is_ok(), "seconds field accepted");
    }
}
