//! The server's clock and its time format. There is one clock per process: the store's
//! ([`sextant_storage::Store::clock`]), which the shared state hands to every handler and
//! background task, so a test can give the server a [`ManualClock`] and move time itself.

use sextant_storage::Millis;
pub use sextant_storage::clock::{Clock, ManualClock, SystemClock};
use time::OffsetDateTime;

/// RFC 3339 in UTC with milliseconds, e.g. `2026-01-01T10:00:00.123Z` (Sentry's format).
pub fn format_ms(ms: Millis) -> String {
    let dt = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_sentry() {
        assert_eq!(format_ms(1_767_261_600_123), "2026-01-01T10:00:00.123Z");
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
    }
}
