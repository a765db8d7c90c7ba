//! Per-key fixed-window rate limiting, which ingest applies to DSN keys.
//!
//! Fixed windows are coarse but cheap, and their reset time is exactly what
//! `Retry-After` must announce. Counts live in memory per node, so with several nodes
//! each enforces the limit on its own share of traffic.

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub count: u64,
    pub window_secs: u64,
}

#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (u64, u64)>>,
}

impl RateLimiter {
    pub fn new() -> RateLimiter {
        RateLimiter::default()
    }

    /// Counts one request for `key` at `now_secs`. `Err(retry_after)` when over the limit.
    pub fn check(&self, key: &str, limit: Limit, now_secs: u64) -> Result<(), u64> {
        if limit.count == 0 || limit.window_secs == 0 {
            return Ok(());
        }
        let window_start = now_secs - now_secs % limit.window_secs;
        let mut windows = self.windows.lock().expect("rate limiter lock");
        let entry = windows.entry(key.to_string()).or_insert((window_start, 0));
        if entry.0 != window_start {
            *entry = (window_start, 0);
        }
        if entry.1 >= limit.count {
            return Err((window_start + limit.window_secs - now_secs).max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_count_per_window_then_refuses_until_reset() {
        let limiter = RateLimiter::new();
        let limit = Limit {
            count: 2,
            window_secs: 60,
        };
        assert!(limiter.check("k", limit, 120).is_ok());
        assert!(limiter.check("k", limit, 130).is_ok());
        assert_eq!(limiter.check("k", limit, 150), Err(30));
        assert!(limiter.check("other", limit, 150).is_ok());
        assert!(limiter.check("k", limit, 180).is_ok());
    }

    #[test]
    fn zero_means_unlimited() {
        let limiter = RateLimiter::new();
        let limit = Limit {
            count: 0,
            window_secs: 60,
        };
        for _ in 0..1000 {
            assert!(limiter.check("k", limit, 1).is_ok());
        }
    }
}
