//! Per-object exponential backoff (1 s doubling to 7 min, reset on success) and jitter for periodic
//! refreshes, as ESO's workqueue rate limiter does (docs/eso-behaviour.md#retry-backoff) — plus the
//! jitter ESO lacks, so refreshes of objects created together do not stay aligned.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

pub const BASE: Duration = Duration::from_secs(1);
pub const MAX: Duration = Duration::from_secs(7 * 60);

/// Failure counts per object key.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// Records a failure of `key` and returns how long to wait before the next attempt.
    pub fn failed(&self, key: &str) -> Duration {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key.to_string()).or_insert(0);
        let delay = delay_for(*n);
        *n = n.saturating_add(1);
        delay
    }

    /// Forgets the failures of `key` (it succeeded, or it is gone).
    pub fn reset(&self, key: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(key);
    }
}

/// `BASE * 2^n`, capped at `MAX`.
pub fn delay_for(failures: u32) -> Duration {
    let factor = 1u64.checked_shl(failures.min(20)).unwrap_or(u64::MAX);
    BASE.saturating_mul(u32::try_from(factor).unwrap_or(u32::MAX))
        .min(MAX)
}

/// The next attempt after a failure: the backoff `delay`, or later when the backend said when to
/// come back (`Retry-After`, honoured up to [`MAX`]), so a throttled backend is not called again
/// before it asked to be.
pub fn honour_retry_after(delay: Duration, retry_after: Option<Duration>) -> Duration {
    retry_after.map_or(delay, |after| delay.max(after.min(MAX)))
}

/// Spreads a periodic refresh: up to 10 % of the interval (at most 30 s) is added at random, so
/// thousands of objects created at once do not refresh in one spike forever after.
pub fn jitter(interval: Duration) -> Duration {
    let spread = (interval / 10).min(Duration::from_secs(30));
    if spread.is_zero() {
        return interval;
    }
    interval + spread.mul_f64(rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_one_second_to_seven_minutes_and_resets() {
        let b = Backoff::default();
        let seen: Vec<u64> = (0..12).map(|_| b.failed("ns/a").as_secs()).collect();
        assert_eq!(seen, vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 420, 420, 420]);
        assert_eq!(b.failed("ns/b"), BASE, "keys are independent");
        b.reset("ns/a");
        assert_eq!(b.failed("ns/a"), BASE);
    }

    #[test]
    fn retry_after_postpones_the_backoff_up_to_its_cap() {
        let s = Duration::from_secs;
        assert_eq!(honour_retry_after(s(1), None), s(1));
        assert_eq!(honour_retry_after(s(1), Some(s(20))), s(20));
        assert_eq!(honour_retry_after(s(64), Some(s(20))), s(64));
        assert_eq!(honour_retry_after(s(1), Some(s(86_400))), MAX);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..100 {
            let j = jitter(Duration::from_secs(60));
            assert!(
                j >= Duration::from_secs(60) && j <= Duration::from_secs(66),
                "{j:?}"
            );
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
        assert!(jitter(Duration::from_secs(3600)) <= Duration::from_secs(3630));
    }
}
