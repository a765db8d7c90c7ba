//! The issue search language (`is:unresolved level:error !release:1.0 "text"`), turned
//! into storage filters. Pure: the current time is a parameter.

mod parser;

use sextant_storage::{Cmp, IssueFilter, IssueStatus, Millis};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use parser::{Term, Value};

/// Why a query could not be parsed, and where (character position, from 0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} at position {pos}")]
pub struct QueryError {
    pub pos: usize,
    pub reason: String,
}

impl QueryError {
    fn new(pos: usize, reason: impl Into<String>) -> Self {
        QueryError {
            pos,
            reason: reason.into(),
        }
    }
}

/// Sentry's default issue search when the client sends no `query` at all.
pub const DEFAULT_QUERY: &str = "is:unresolved";

#[derive(Clone, Copy)]
enum DateField {
    FirstSeen,
    LastSeen,
}

/// Parses a search query into filters, all of which must hold. Free-text words are
/// joined into one `Text` filter, placed last.
pub fn parse_query(input: &str, now: Millis) -> Result<Vec<IssueFilter>, QueryError> {
    let mut filters = Vec::new();
    let mut words: Vec<String> = Vec::new();
    for term in parser::tokenize(input)? {
        match term {
            Term::Text(w) => words.push(w),
            Term::Filter {
                pos,
                negate,
                key,
                value,
            } => {
                if let Some(f) = interpret(pos, negate, &key, value, now, &mut words)? {
                    filters.push(f);
                }
            }
        }
    }
    if !words.is_empty() {
        filters.push(IssueFilter::Text(words.join(" ")));
    }
    Ok(filters)
}

fn interpret(
    pos: usize,
    negate: bool,
    key: &str,
    value: Value,
    now: Millis,
    words: &mut Vec<String>,
) -> Result<Option<IssueFilter>, QueryError> {
    let date_field = match key {
        "first-seen" | "firstSeen" | "first_seen" | "age" => Some(DateField::FirstSeen),
        "last-seen" | "lastSeen" | "last_seen" => Some(DateField::LastSeen),
        _ => None,
    };
    if let Some(field) = date_field {
        if negate {
            return Err(QueryError::new(
                pos,
                format!("negation is not supported for \"{key}\""),
            ));
        }
        let raw = single(pos, key, value)?;
        let (cmp, at) = parse_date_value(&raw, now)
            .ok_or_else(|| QueryError::new(pos, format!("invalid date \"{raw}\" for {key}")))?;
        return Ok(Some(match field {
            DateField::FirstSeen => IssueFilter::FirstSeen { cmp, at },
            DateField::LastSeen => IssueFilter::LastSeen { cmp, at },
        }));
    }
    match key {
        "is" => {
            let names = match value {
                Value::List(items) => items,
                Value::Plain(s) | Value::Quoted(s) => vec![s],
            };
            let mut statuses = Vec::new();
            for name in names {
                statuses.extend_from_slice(status_set(&name).ok_or_else(|| {
                    QueryError::new(
                        pos,
                        format!(
                            "unknown status \"{name}\" (expected unresolved, resolved or ignored)"
                        ),
                    )
                })?);
            }
            Ok(Some(IssueFilter::Status { statuses, negate }))
        }
        "level" => Ok(Some(IssueFilter::Level {
            value: single(pos, key, value)?,
            negate,
        })),
        // Sentry reads `message:` as free text over the issue.
        "message" if !negate => {
            words.push(single(pos, key, value)?);
            Ok(None)
        }
        _ => {
            // `tags[browser.name]:x` is Sentry's explicit spelling of `browser.name:x`.
            let tag_key = key
                .strip_prefix("tags[")
                .and_then(|k| k.strip_suffix(']'))
                .unwrap_or(key);
            if tag_key.is_empty() {
                return Err(QueryError::new(pos, format!("invalid key \"{key}\"")));
            }
            Ok(Some(IssueFilter::Tag {
                key: tag_key.to_string(),
                value: single(pos, key, value)?,
                negate,
            }))
        }
    }
}

/// The one value a key takes; lists are only meaningful for `is:`.
fn single(pos: usize, key: &str, value: Value) -> Result<String, QueryError> {
    let s = match value {
        Value::List(_) => {
            return Err(QueryError::new(
                pos,
                format!("list values are not supported for \"{key}\""),
            ));
        }
        Value::Plain(s) | Value::Quoted(s) => s,
    };
    if s.is_empty() {
        return Err(QueryError::new(
            pos,
            format!("empty value for key \"{key}\""),
        ));
    }
    Ok(s)
}

fn status_set(name: &str) -> Option<&'static [IssueStatus]> {
    Some(match name {
        "unresolved" => &[IssueStatus::Unresolved],
        // "Resolved in next release" is still resolved as far as a search is concerned.
        "resolved" => &[IssueStatus::Resolved, IssueStatus::ResolvedInNextRelease],
        // Sentry renamed "ignored" to "archived"; old clients say "muted".
        "ignored" | "archived" | "muted" => &[IssueStatus::Ignored],
        _ => return None,
    })
}

/// `-24h` (within the last 24h), `+24h` (more than 24h ago), `>=2026-01-01`, `2026-01-01`
/// (on or after), with `>`, `>=`, `<`, `<=` also allowed before a relative time.
fn parse_date_value(raw: &str, now: Millis) -> Option<(Cmp, Millis)> {
    let (op, rest) = if let Some(r) = raw.strip_prefix(">=") {
        (Some(Cmp::Ge), r)
    } else if let Some(r) = raw.strip_prefix("<=") {
        (Some(Cmp::Le), r)
    } else if let Some(r) = raw.strip_prefix('>') {
        (Some(Cmp::Gt), r)
    } else if let Some(r) = raw.strip_prefix('<') {
        (Some(Cmp::Lt), r)
    } else {
        (None, raw)
    };
    let relative = |sign: char| {
        rest.strip_prefix(sign)
            .and_then(parse_duration)
            .and_then(|d| now.checked_sub(d))
    };
    if let Some(at) = relative('-') {
        return Some((op.unwrap_or(Cmp::Ge), at));
    }
    if let Some(at) = relative('+') {
        return Some((op.unwrap_or(Cmp::Le), at));
    }
    Some((op.unwrap_or(Cmp::Ge), parse_date(rest)?))
}

/// `30s`, `30m`, `24h`, `14d`, `2w` → milliseconds.
pub fn parse_duration(s: &str) -> Option<Millis> {
    let unit_at = s.len().checked_sub(1)?;
    let (digits, unit) = s.split_at(unit_at);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    let unit_ms: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

/// The longest period any endpoint reads (`statsPeriod`, a gate `window`): Sentry's
/// 90 days. Periods become per-hour or per-day slots, so an unbounded one would let one
/// request allocate without end.
pub const MAX_PERIOD: Millis = 90 * 86_400_000;

/// `statsPeriod`: empty means no period; otherwise a duration like `24h`, at most
/// [`MAX_PERIOD`].
pub fn parse_stats_period(s: &str) -> Result<Option<Millis>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    let period = parse_duration(s).ok_or_else(|| {
        format!("invalid statsPeriod \"{s}\": expected a number followed by s, m, h, d or w")
    })?;
    check_period("statsPeriod", s, period).map(Some)
}

/// `period` (parsed from `raw`) if it is at most [`MAX_PERIOD`].
pub fn check_period(name: &str, raw: &str, period: Millis) -> Result<Millis, String> {
    if period > MAX_PERIOD {
        return Err(format!("{name} \"{raw}\" is too long: the maximum is 90d"));
    }
    Ok(period)
}

/// RFC 3339 with offset, or a date/date-time without offset taken as UTC.
fn parse_date(s: &str) -> Option<Millis> {
    let dt = if let Ok(dt) = OffsetDateTime::parse(s, &Rfc3339) {
        dt
    } else if let Ok(dt) = PrimitiveDateTime::parse(
        s,
        format_description!(
            "[year]-[month]-[day]T[hour]:[minute][optional [:[second][optional [.[subsecond]]]]]"
        ),
    ) {
        dt.assume_utc()
    } else {
        Date::parse(s, format_description!("[year]-[month]-[day]"))
            .ok()?
            .midnight()
            .assume_utc()
    };
    i64::try_from(dt.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests;
