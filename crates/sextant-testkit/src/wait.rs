//! Waiting on a condition with a deadline: the only way Sextant's tests wait.

use std::time::{Duration, Instant};

/// The first pause between two polls; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(5);
const MAX_PAUSE: Duration = Duration::from_millis(50);

/// What a polled check answers: `bool`, or `Option<T>`, ready when `Some`.
pub trait Ready {
    fn is_ready(&self) -> bool;
}

impl Ready for bool {
    fn is_ready(&self) -> bool {
        *self
    }
}

impl<T> Ready for Option<T> {
    fn is_ready(&self) -> bool {
        self.is_some()
    }
}

/// Runs `check` until it is ready or `timeout` has passed, and returns its last answer:
/// `true` or `Some(…)` when it became ready, `false` or `None` when time ran out. Between
/// polls the thread parks for a few milliseconds (5 ms, doubling up to 50 ms).
///
/// ```
/// # use std::time::Duration;
/// # use sextant_testkit::wait_until;
/// let mut n = 0;
/// assert!(wait_until(Duration::from_secs(5), || { n += 1; n == 3 }));
/// let found = wait_until(Duration::from_secs(5), || (n > 2).then_some(n));
/// assert_eq!(found, Some(3));
/// ```
pub fn wait_until<R: Ready>(timeout: Duration, mut check: impl FnMut() -> R) -> R {
    let deadline = Instant::now() + timeout;
    let mut pause = FIRST_PAUSE;
    loop {
        let answer = check();
        let now = Instant::now();
        if answer.is_ready() || now >= deadline {
            return answer;
        }
        let until = (now + pause).min(deadline);
        // `park_timeout` may return early; park again for what is left.
        while let Some(left) = until
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
        {
            std::thread::park_timeout(left);
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_first_ready_answer() {
        let mut calls = 0;
        let answer = wait_until(Duration::from_secs(5), || {
            calls += 1;
            (calls == 4).then_some(calls * 10)
        });
        assert_eq!(answer, Some(40));
        assert_eq!(calls, 4);
    }

    #[test]
    fn gives_up_at_the_deadline_with_the_last_answer() {
        let started = Instant::now();
        let mut calls = 0;
        let answer = wait_until(Duration::from_millis(60), || {
            calls += 1;
            false
        });
        assert!(!answer);
        assert!(started.elapsed() >= Duration::from_millis(60));
        assert!(calls >= 2, "polled {calls} times");
    }
}
