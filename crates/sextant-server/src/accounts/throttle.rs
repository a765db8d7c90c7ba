//! Throttling of failed credential checks, per client address (`client_addr::client_ip`, which
//! honours `trust_forwarded_for`): sign-ins per email, current-password checks per user,
//! and invite redemptions. After a few failures further attempts with that key are
//! refused with 429 for a delay that doubles with each failure. Kept in memory: a restart
//! forgets it, which only ever makes the limit looser.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before the delay starts.
const FREE_FAILURES: u32 = 5;
const BASE_DELAY: Duration = Duration::from_secs(2);
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Entries are forgotten this long after their last failure.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Entries kept at most; past it the stalest is dropped. With forwarded addresses the
/// client part of a key comes from a header, so the map must not grow with it.
const MAX_ENTRIES: usize = 100_000;
/// Longest client address kept in a key (an IPv6 address with a zone fits).
const MAX_CLIENT_LEN: usize = 64;

/// What is being tried, from one client address.
#[derive(Debug, Clone, Copy)]
pub enum Attempt<'a> {
    SignIn {
        email: &'a str,
    },
    /// The current password, checked before it is changed.
    CurrentPassword {
        user_id: i64,
    },
    /// Redeeming an invite link.
    Invite,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    SignIn(String),
    CurrentPassword(i64),
    Invite,
}

type Key = (Subject, String);

fn key(attempt: Attempt<'_>, client: &str) -> Key {
    let subject = match attempt {
        Attempt::SignIn { email } => Subject::SignIn(email.to_string()),
        Attempt::CurrentPassword { user_id } => Subject::CurrentPassword(user_id),
        Attempt::Invite => Subject::Invite,
    };
    let mut end = client.len().min(MAX_CLIENT_LEN);
    while !client.is_char_boundary(end) {
        end -= 1;
    }
    (subject, client[..end].to_string())
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl LoginThrottle {
    pub fn new() -> LoginThrottle {
        LoginThrottle::default()
    }

    /// `Some(wait)` when this attempt must wait before it may be made again.
    pub fn check(&self, attempt: Attempt<'_>, client: &str) -> Option<Duration> {
        let now = Instant::now();
        let entries = self.entries.lock().expect("throttle lock");
        let entry = entries.get(&key(attempt, client))?;
        entry
            .blocked_until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    pub fn record_failure(&self, attempt: Attempt<'_>, client: &str) {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("throttle lock");
        entries.retain(|_, e| now.duration_since(e.last) < FORGET_AFTER);
        let key = key(attempt, client);
        if entries.len() >= MAX_ENTRIES
            && !entries.contains_key(&key)
            && let Some(stalest) = entries
                .iter()
                .min_by_key(|(_, e)| e.last)
                .map(|(k, _)| k.clone())
        {
            entries.remove(&stalest);
        }
        let entry = entries.entry(key).or_insert(Entry {
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

    pub fn record_success(&self, attempt: Attempt<'_>, client: &str) {
        self.entries
            .lock()
            .expect("throttle lock")
            .remove(&key(attempt, client));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign_in(email: &str) -> Attempt<'_> {
        Attempt::SignIn { email }
    }

    #[test]
    fn blocks_after_repeated_failures_per_subject_and_client() {
        let t = LoginThrottle::new();
        let ip = "127.0.0.1";
        for _ in 0..FREE_FAILURES - 1 {
            t.record_failure(sign_in("a@b.c"), ip);
            assert!(t.check(sign_in("a@b.c"), ip).is_none());
        }
        t.record_failure(sign_in("a@b.c"), ip);
        assert!(t.check(sign_in("a@b.c"), ip).is_some());
        assert!(t.check(sign_in("other@b.c"), ip).is_none());
        assert!(t.check(sign_in("a@b.c"), "10.0.0.1").is_none());
        // Other kinds of attempt are counted apart.
        assert!(t.check(Attempt::Invite, ip).is_none());
        assert!(
            t.check(Attempt::CurrentPassword { user_id: 1 }, ip)
                .is_none()
        );
        t.record_success(sign_in("a@b.c"), ip);
        assert!(t.check(sign_in("a@b.c"), ip).is_none());
    }

    #[test]
    fn long_client_addresses_share_their_prefix() {
        let t = LoginThrottle::new();
        let long = "x".repeat(MAX_CLIENT_LEN);
        for n in 0..FREE_FAILURES {
            t.record_failure(Attempt::Invite, &format!("{long}{n}"));
        }
        assert!(t.check(Attempt::Invite, &format!("{long}-other")).is_some());
    }
}
