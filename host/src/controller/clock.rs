//! The controllers' wall clock. Production reads the system time; a test moves it with
//! [`Clock::set`] to check what happens at a given instant (say, inside a sync window) without
//! waiting for it. Timers (requeues, backoff) stay on real time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// The system time plus an offset that only tests change.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The time now, as the controllers see it.
    pub fn now(&self) -> Timestamp {
        let offset = SignedDuration::from_millis(self.offset_ms.load(Ordering::Relaxed));
        Timestamp::now()
            .checked_add(offset)
            .unwrap_or_else(|_| Timestamp::now())
    }

    /// Makes [`Clock::now`] read `at` now, and go on from there at the system clock's pace.
    pub fn set(&self, at: Timestamp) {
        let offset = at.duration_since(Timestamp::now()).as_millis();
        self.offset_ms.store(
            i64::try_from(offset).unwrap_or(if offset < 0 { i64::MIN } else { i64::MAX }),
            Ordering::Relaxed,
        );
    }
}
