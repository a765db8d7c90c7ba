//! `session` and `sessions` items → rollup increments (`SessionDelta`), following the
//! protocol's release-health rules: only `init` updates add to totals, an errored session
//! counts once (by its id), `unhandled` is errored but not crashed.
//!
//! Invalid or stale items are dropped silently, as Relay does: sessions never produce a
//! client-visible error. Pure CPU work, like the rest of `items`.

use serde::Deserialize;
use serde_json::Value;
use sextant_protocol::timestamp::parse_timestamp;
use sextant_storage::{SessionDelta, user_bits};

/// Sessions older than this (by `started` or `timestamp`) are dropped.
const MAX_AGE_MS: i64 = 5 * 24 * 3_600_000;
/// Sessions further than this in the future are dropped.
const MAX_FUTURE_MS: i64 = 60_000;
/// A client clock off by this much is corrected with the envelope's `sent_at`.
const CLOCK_DRIFT_MS: i64 = 55 * 60_000;
/// Aggregate buckets accepted per item.
const MAX_AGGREGATES: usize = 100;

#[derive(Debug, Default, Deserialize)]
struct Attrs {
    release: Option<String>,
    environment: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Update {
    sid: Option<Value>,
    did: Option<Value>,
    seq: Option<u64>,
    #[serde(default)]
    init: bool,
    started: Value,
    timestamp: Option<Value>,
    status: Option<String>,
    #[serde(default)]
    errors: u64,
    #[serde(default)]
    attrs: Attrs,
}

#[derive(Debug, Deserialize)]
struct Aggregates {
    #[serde(default)]
    attrs: Attrs,
    #[serde(default)]
    aggregates: Vec<Bucket>,
}

#[derive(Debug, Deserialize)]
struct Bucket {
    started: Value,
    did: Option<Value>,
    #[serde(default)]
    exited: i64,
    #[serde(default)]
    errored: i64,
    #[serde(default)]
    abnormal: i64,
    #[serde(default)]
    crashed: i64,
    #[serde(default)]
    unhandled: i64,
}

/// Where and when the item arrived: what validation measures against.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    pub project_id: i64,
    pub received_at: i64,
    /// The envelope's `sent_at`, Unix ms.
    pub sent_at: Option<i64>,
}

impl Arrival {
    /// Shift to apply to client times: non-zero only when the client clock is clearly off.
    fn drift(&self) -> i64 {
        match self.sent_at {
            Some(sent) if (self.received_at - sent).abs() >= CLOCK_DRIFT_MS => {
                self.received_at - sent
            }
            _ => 0,
        }
    }

    fn valid_time(&self, t: i64) -> bool {
        t >= self.received_at - MAX_AGE_MS && t <= self.received_at + MAX_FUTURE_MS
    }
}

/// 64-bit FNV-1a: a stable hash for distinct ids and session ids, so the member sets
/// store 8 bytes per member and never the identifier itself.
pub fn member_hash(s: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn millis(v: &Value) -> Option<i64> {
    parse_timestamp(v).map(|s| (s * 1000.0) as i64)
}

/// A release the protocol accepts: non-empty, no surrounding whitespace, no slashes or
/// newlines, not `.`/`..`/`latest`, at most 200 characters.
fn valid_release(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 200
        && r.trim() == r
        && !matches!(r, "." | ".." | "latest")
        && !r.contains(['/', '\\', '\n', '\r', '\t'])
}

/// An environment we keep: otherwise it is removed (stored as "").
fn environment(env: Option<String>) -> String {
    env.filter(|e| e.len() <= 64 && !e.contains(['/', '\n', '\r']) && e.trim() == e)
        .unwrap_or_default()
}

/// One `session` item; `None` when it is to be dropped.
pub fn session_delta(payload: &[u8], at: Arrival) -> Option<SessionDelta> {
    let u: Update = serde_json::from_slice(payload).ok()?;
    let release = u.attrs.release.filter(|r| valid_release(r))?;
    if u.seq == Some(u64::MAX) {
        return None;
    }
    let drift = at.drift();
    let started = millis(&u.started)? + drift;
    let timestamp = u
        .timestamp
        .as_ref()
        .and_then(millis)
        .map_or(at.received_at, |t| t + drift)
        .max(started);
    if !at.valid_time(started) || !at.valid_time(timestamp) {
        return None;
    }
    let status = u.status.as_deref().unwrap_or("ok");
    let crashed = status == "crashed";
    let abnormal = status == "abnormal";
    let unhandled = status == "unhandled";
    let errored =
        u.errors > 0 || matches!(status, "errored" | "crashed" | "abnormal" | "unhandled");

    // Updates without a session id cannot be deduplicated; each counts on its own.
    let sid = u.sid.as_ref().and_then(id_string);
    let did = u.did.as_ref().and_then(id_string);
    let mut bits = 0;
    if u.init {
        bits |= user_bits::SEEN;
    }
    if errored {
        bits |= user_bits::ERRORED;
    }
    if crashed {
        bits |= user_bits::CRASHED;
    }
    if abnormal {
        bits |= user_bits::ABNORMAL;
    }
    if unhandled {
        bits |= user_bits::UNHANDLED;
    }
    let (errored_count, errored_sid) = match (errored, &sid) {
        (true, Some(sid)) => (0, Some(member_hash(&sid.replace('-', "").to_lowercase()))),
        (true, None) => (1, None),
        (false, _) => (0, None),
    };
    Some(SessionDelta {
        project_id: at.project_id,
        release,
        environment: environment(u.attrs.environment),
        started,
        total: i64::from(u.init),
        errored: errored_count,
        crashed: i64::from(crashed),
        abnormal: i64::from(abnormal),
        unhandled: i64::from(unhandled),
        errored_sid,
        user: did.filter(|_| bits != 0).map(|d| (member_hash(&d), bits)),
    })
}

/// One `sessions` (aggregate) item; empty when it is to be dropped.
pub fn aggregate_deltas(payload: &[u8], at: Arrival) -> Vec<SessionDelta> {
    let Ok(agg) = serde_json::from_slice::<Aggregates>(payload) else {
        return Vec::new();
    };
    let Some(release) = agg.attrs.release.filter(|r| valid_release(r)) else {
        return Vec::new();
    };
    let env = environment(agg.attrs.environment);
    let drift = at.drift();
    agg.aggregates
        .iter()
        .take(MAX_AGGREGATES)
        .filter_map(|b| {
            let started = millis(&b.started)? + drift;
            if !at.valid_time(started) {
                return None;
            }
            let counts = [b.exited, b.errored, b.abnormal, b.crashed, b.unhandled];
            if counts.iter().any(|c| *c < 0) {
                return None;
            }
            let mut bits = user_bits::SEEN;
            if b.errored + b.abnormal + b.crashed + b.unhandled > 0 {
                bits |= user_bits::ERRORED;
            }
            if b.crashed > 0 {
                bits |= user_bits::CRASHED;
            }
            if b.abnormal > 0 {
                bits |= user_bits::ABNORMAL;
            }
            if b.unhandled > 0 {
                bits |= user_bits::UNHANDLED;
            }
            Some(SessionDelta {
                project_id: at.project_id,
                release: release.clone(),
                environment: env.clone(),
                started,
                total: counts.iter().sum(),
                errored: b.errored + b.abnormal + b.crashed + b.unhandled,
                crashed: b.crashed,
                abnormal: b.abnormal,
                unhandled: b.unhandled,
                errored_sid: None,
                user: b
                    .did
                    .as_ref()
                    .and_then(id_string)
                    .map(|d| (member_hash(&d), bits)),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_780_000_000_000;

    fn at() -> Arrival {
        Arrival {
            project_id: 1,
            received_at: NOW,
            sent_at: None,
        }
    }

    fn iso(ms: i64) -> String {
        sextant_protocol::timestamp::format_rfc3339(ms as f64 / 1000.0)
    }

    #[test]
    fn init_update_counts_and_errors_dedupe_by_sid() {
        let body = format!(
            r#"{{"sid":"AB-12","did":"u1","init":true,"started":"{}","status":"crashed","errors":1,"attrs":{{"release":"r@1","environment":"prod"}}}}"#,
            iso(NOW - 1000)
        );
        let d = session_delta(body.as_bytes(), at()).unwrap();
        assert_eq!((d.total, d.errored, d.crashed, d.unhandled), (1, 0, 1, 0));
        assert_eq!(d.errored_sid, Some(member_hash("ab12")));
        let (_, bits) = d.user.unwrap();
        assert_eq!(
            bits,
            user_bits::SEEN | user_bits::ERRORED | user_bits::CRASHED
        );
        assert_eq!(d.environment, "prod");
    }

    #[test]
    fn unhandled_is_errored_not_crashed() {
        let body = format!(
            r#"{{"sid":"s","started":"{}","status":"unhandled","attrs":{{"release":"r"}}}}"#,
            iso(NOW)
        );
        let d = session_delta(body.as_bytes(), at()).unwrap();
        assert_eq!((d.total, d.crashed, d.unhandled), (0, 0, 1));
        assert!(d.errored_sid.is_some());
    }

    #[test]
    fn invalid_sessions_are_dropped() {
        let old = format!(
            r#"{{"started":"{}","attrs":{{"release":"r"}}}}"#,
            iso(NOW - 6 * 24 * 3_600_000)
        );
        assert!(session_delta(old.as_bytes(), at()).is_none());
        let future = format!(
            r#"{{"started":"{}","attrs":{{"release":"r"}}}}"#,
            iso(NOW + 120_000)
        );
        assert!(session_delta(future.as_bytes(), at()).is_none());
        let no_release = format!(r#"{{"started":"{}","attrs":{{}}}}"#, iso(NOW));
        assert!(session_delta(no_release.as_bytes(), at()).is_none());
        assert!(session_delta(b"{nope", at()).is_none());
        let max_seq = format!(
            r#"{{"seq":18446744073709551615,"started":"{}","attrs":{{"release":"r"}}}}"#,
            iso(NOW)
        );
        assert!(session_delta(max_seq.as_bytes(), at()).is_none());
    }

    #[test]
    fn aggregates_sum_states() {
        let body = format!(
            r#"{{"attrs":{{"release":"r","environment":"production"}},"aggregates":[{{"started":"{}","exited":5,"errored":2,"crashed":1,"abnormal":1}},{{"started":"{}","did":"u","exited":1}}]}}"#,
            iso(NOW - 60_000),
            iso(NOW)
        );
        let ds = aggregate_deltas(body.as_bytes(), at());
        assert_eq!(ds.len(), 2);
        assert_eq!((ds[0].total, ds[0].errored, ds[0].crashed), (9, 4, 1));
        assert_eq!(ds[1].user.unwrap().1, user_bits::SEEN);
    }

    #[test]
    fn clock_drift_is_corrected() {
        let skew = 2 * 3_600_000;
        let body = format!(
            r#"{{"started":"{}","init":true,"attrs":{{"release":"r"}}}}"#,
            iso(NOW - skew)
        );
        let arrival = Arrival {
            sent_at: Some(NOW - skew),
            ..at()
        };
        assert_eq!(
            session_delta(body.as_bytes(), arrival).unwrap().started,
            NOW
        );
    }
}
