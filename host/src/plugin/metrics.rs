//! Sandbox counters (exported by the admin server as prometheus metrics by the caller).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters shared by every store of one [`crate::plugin::Sandbox`]. Labels are bounded
/// (`Denial::category()` values), never object names or error text.
#[derive(Debug, Default)]
pub struct SandboxMetrics {
    pub calls: AtomicU64,
    pub call_errors: AtomicU64,
    pub deadline_exceeded: AtomicU64,
    pub memory_limit: AtomicU64,
    pub traps: AtomicU64,
    pub egress_allowed: AtomicU64,
    pub components_refused: AtomicU64,
    egress_denied: Mutex<BTreeMap<&'static str, u64>>,
}

impl SandboxMetrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn deny(&self, category: &'static str) {
        if let Ok(mut map) = self.egress_denied.lock() {
            *map.entry(category).or_default() += 1;
        }
    }

    /// Denials by category.
    pub fn egress_denied(&self) -> BTreeMap<&'static str, u64> {
        self.egress_denied
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    pub fn egress_denied_total(&self) -> u64 {
        self.egress_denied().values().sum()
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
