//! Time as the server writes it: unix milliseconds for the store, RFC 3339 with
//! milliseconds (what `Date.prototype.toISOString()` gives) for clients.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Now, as an RFC 3339 timestamp with milliseconds (`2024-05-01T12:00:00.123Z`).
pub fn timestamp() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// A unix-ms time as RFC 3339 with milliseconds, UTC (negative times read as the epoch).
pub fn rfc3339_millis(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats() {
        assert_eq!(
            super::rfc3339_millis(1_714_564_800_123),
            "2024-05-01T12:00:00.123Z"
        );
        assert_eq!(super::rfc3339_millis(-5), "1970-01-01T00:00:00.000Z");
        assert!(super::timestamp().ends_with('Z'));
        assert!(super::now_ms() > 1_700_000_000_000);
    }
}
