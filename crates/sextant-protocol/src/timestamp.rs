//! Timestamp parsing for protocol fields: RFC 3339 strings and unix numbers → unix seconds.
//!
//! Hand-written instead of `time`'s RFC 3339 parser because SDKs send forms it rejects:
//! no offset at all (meaning UTC), and more than 9 fraction digits.

use serde_json::Value;

/// Unix seconds from a JSON number or a string (RFC 3339 or a decimal number).
pub fn parse_timestamp(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        Value::String(s) => parse_timestamp_str(s),
        _ => None,
    }
}

/// Unix seconds from an RFC 3339 / ISO 8601 string (`Z`, `±hh:mm`, `±hhmm` or no offset;
/// any number of fraction digits; `T`, `t` or space separator) or from a decimal string.
pub fn parse_timestamp_str(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return s.parse::<f64>().ok().filter(|f| f.is_finite());
    }
    parse_rfc3339(s.as_bytes())
}

/// RFC 3339 with microsecond precision and a `Z` suffix.
pub fn format_rfc3339(ts: f64) -> String {
    // Split first: `ts * 1e9` loses the microseconds to float rounding.
    let secs = ts.floor();
    let micros = ((ts - secs) * 1e6).round() as i128;
    // `as i128` saturates for huge values; out-of-range times fall back to the epoch.
    let nanos = (secs as i128)
        .checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(micros * 1000));
    let dt = nanos
        .and_then(|n| time::OffsetDateTime::from_unix_timestamp_nanos(n).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    dt.format(&format).unwrap_or_default()
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<i64> {
        let end = self.pos.checked_add(n)?;
        let slice = self.bytes.get(self.pos..end)?;
        let mut out = 0i64;
        for &b in slice {
            if !b.is_ascii_digit() {
                return None;
            }
            out = out * 10 + i64::from(b - b'0');
        }
        self.pos = end;
        Some(out)
    }

    fn eat(&mut self, options: &[u8]) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        if options.contains(&b) {
            self.pos += 1;
            Some(b)
        } else {
            None
        }
    }

    fn done(&self) -> bool {
        self.pos >= self.bytes.len()
    }
}

fn parse_rfc3339(bytes: &[u8]) -> Option<f64> {
    let mut c = Cursor { bytes, pos: 0 };
    let year = c.digits(4)?;
    c.eat(b"-")?;
    let month = c.digits(2)?;
    c.eat(b"-")?;
    let day = c.digits(2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut secs = days_from_civil(year, month, day) * 86_400;
    if c.done() {
        return Some(secs as f64);
    }
    c.eat(b"Tt ")?;
    let hour = c.digits(2)?;
    c.eat(b":")?;
    let minute = c.digits(2)?;
    let second = if c.eat(b":").is_some() {
        c.digits(2)?
    } else {
        0
    };
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    secs += hour * 3600 + minute * 60 + second;
    let mut fraction = 0.0;
    if c.eat(b".,").is_some() {
        let start = c.pos;
        let mut scale = 0.1;
        while let Some(b) = c.bytes.get(c.pos).filter(|b| b.is_ascii_digit()) {
            fraction += f64::from(b - b'0') * scale;
            scale /= 10.0;
            c.pos += 1;
        }
        if c.pos == start {
            return None;
        }
    }
    match c.eat(b"Zz+-") {
        None => {}
        Some(b'Z' | b'z') => {}
        Some(sign) => {
            let oh = c.digits(2)?;
            c.eat(b":");
            let om = c.digits(2).unwrap_or(0);
            let offset = oh * 3600 + om * 60;
            secs += if sign == b'+' { -offset } else { offset };
        }
    }
    if !c.done() {
        return None;
    }
    Some(secs as f64 + fraction)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-6)
    }

    #[test]
    fn parses_all_observed_forms() {
        assert!(close(
            parse_timestamp_str("2026-11-24T09:32:10Z"),
            1_795_512_730.0
        ));
        assert!(close(
            parse_timestamp_str("2026-11-24T09:31:16.806158Z"),
            1_795_512_676.806158
        ));
        // Rust sends nanoseconds; more digits than 9 must not fail either.
        assert!(close(
            parse_timestamp_str("2026-11-24T09:32:10.4725372281Z"),
            1_795_512_730.4725372
        ));
        assert!(close(
            parse_timestamp_str("2026-11-24T09:32:10"),
            1_795_512_730.0
        ));
        assert!(close(
            parse_timestamp_str("2026-11-24T10:32:10+01:00"),
            1_795_512_730.0
        ));
        assert!(close(
            parse_timestamp_str("2026-11-24T08:32:10-0100"),
            1_795_512_730.0
        ));
        assert!(close(parse_timestamp_str("1795512730.5"), 1_795_512_730.5));
        assert!(close(
            parse_timestamp(&serde_json::json!(1795512269.332)),
            1_795_512_269.332
        ));
        assert!(close(parse_timestamp_str("1970-01-01"), 0.0));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-02-30",
            "2026-11-24T25:00:00Z",
            "NaN",
            "2026-11-24T09:32:10Zjunk",
        ] {
            assert_eq!(parse_timestamp_str(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_round_trip() {
        assert_eq!(
            format_rfc3339(1_795_512_730.25),
            "2026-11-24T09:32:10.250000Z"
        );
        assert!(close(
            parse_timestamp_str(&format_rfc3339(1_795_512_730.123456)),
            1_795_512_730.123456
        ));
    }

    /// Found by the `event_json` fuzz target: a timestamp of `1e308` overflowed the
    /// nanosecond multiplication (a panic wherever overflow checks are on).
    #[test]
    fn format_rfc3339_out_of_range_does_not_overflow() {
        for ts in [1e308, -1e308, f64::MAX, f64::MIN, 1e20, -1e20] {
            assert_eq!(format_rfc3339(ts), "1970-01-01T00:00:00.000000Z", "{ts}");
        }
        assert_eq!(
            format_rfc3339(253_402_300_799.0),
            "9999-12-31T23:59:59.000000Z"
        );
    }
}
