//! Rules every ingested item obeys, shared by ingestion and the session lifecycle: the batch
//! size, RFC 3339 times, and the accepted time window around a session.

pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;
pub const FUTURE_MS: i64 = 5 * 60 * 1000;

/// Items per request.
pub const MAX_BATCH: usize = 1000;
/// Parses an RFC 3339 time into epoch milliseconds.
pub fn parse_time(s: &str) -> Result<i64, chrono::ParseError> {
    chrono::DateTime::parse_from_rfc3339(s.trim()).map(|d| d.timestamp_millis())
}

/// Timestamps more than 24 h before the session start or 5 min in the future are refused.
pub fn check_window(ts: i64, started_at: i64, now: i64) -> Result<(), &'static str> {
    if ts < started_at - DAY_MS {
        return Err("more than 24 h before the session start");
    }
    if ts > now + FUTURE_MS {
        return Err("more than 5 minutes in the future");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: i64 = 1_770_000_000_000;

    #[test]
    fn time_window() {
        assert!(check_window(START - DAY_MS, START, START).is_ok());
        assert!(check_window(START - DAY_MS - 1, START, START).is_err());
        assert!(check_window(START + FUTURE_MS, START, START).is_ok());
        assert!(check_window(START + FUTURE_MS + 1, START, START).is_err());
    }
}
