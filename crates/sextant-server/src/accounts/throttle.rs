//! Login throttling: failures are counted per (email, client IP); after a few, further
//! attempts for that pair are refused with 429 for a delay that doubles with each failure.
//! Kept in memory: a restart forgets it, which only ever makes the limit looser.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before the delay starts.
const FREE_FAILURES: u32 = 5;
const BASE_DELAY: Duration = Duration::from_secs(2);
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Entries are forgotten this long after their last failure.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    entries: Mutex<HashMap<(String, Option<IpAddr>), Entry>>,
}

impl LoginThrottle {
    pub fn new() -> LoginThrottle {
        LoginThrottle::default()
    }

    /// `Some(wait)` when this pair must wait before trying again.
    pub fn check(&self, email: &str, ip: Option<IpAddr>) -> Option<Duration> {
        let now = Instant::now();
        let entries = self.entries.lock().expect("throttle lock");
        let entry = entries.get(&(email.to_string(), ip))?;
        entry
            .blocked_until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    pub fn record_failure(&self, email: &str, ip: Option<IpAddr>) {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("throttle lock");
        entries.retain(|_, e| now.duration_since(e.last) < FORGET_AFTER);
        let entry = entries.entry((email.to_string(), ip)).or_insert(Entry {
            failures: 0,
            last: now,
            blocked_until: None,
        });
        entry.failures += 1;
        entry.last = now;
        if entry.failures >= FREE_FAILURES {
            let doublings = (entry.failures - FREE_FAILURES).min(16);
            let delay = BASE_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY);
            entry.blocked_until = Some(now + delay);
        }
    }

    pub fn record_success(&self, email: &str, ip: Option<IpAddr>) {
        self.entries
            .lock()
            .expect("throttle lock")
            .remove(&(email.to_string(), ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_repeated_failures_per_email_and_ip() {
        let t = LoginThrottle::new();
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        for _ in 0..FREE_FAILURES - 1 {
            t.record_failure("a@b.c", ip);
            assert!(t.check("a@b.c", ip).is_none());
        }
        t.record_failure("a@b.c", ip);
        assert!(t.check("a@b.c", ip).is_some());
        assert!(t.check("other@b.c", ip).is_none());
        assert!(
            t.check("a@b.c", Some(IpAddr::from([10, 0, 0, 1])))
                .is_none()
        );
        t.record_success("a@b.c", ip);
        assert!(t.check("a@b.c", ip).is_none());
    }
}
