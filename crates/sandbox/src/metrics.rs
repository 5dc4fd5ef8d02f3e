//! The sandbox's metrics. They belong to one [`crate::Sandbox`] (no process-wide state); the
//! host registers them on its `/metrics` (`ampoule::metrics::Metrics::register_sandbox`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

/// `{provider}`: a store's provider key.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabel {
    pub provider: String,
}

/// Counters and histograms shared by every store of one [`crate::Sandbox`]. Labels are bounded
/// (`Denial::category()` values, provider keys), never object names or error text.
#[derive(Debug)]
pub struct SandboxMetrics {
    /// `ampoule_plugin_compile_duration_seconds`: compiling a component (once per digest).
    pub compile: Histogram,
    /// `ampoule_plugin_load_cache_hits_total`: loads served by an already compiled component.
    pub cache_hits: Counter,
    /// `ampoule_plugin_open_duration_seconds{provider}`: fresh instance + config checks + client
    /// open.
    pub open: Family<ProviderLabel, Histogram>,
    /// `ampoule_transform_fuel_consumed`: wasm fuel (about one unit per instruction) one
    /// template call used.
    pub transform_fuel: Histogram,
    pub calls: AtomicU64,
    pub call_errors: AtomicU64,
    pub deadline_exceeded: AtomicU64,
    pub memory_limit: AtomicU64,
    pub traps: AtomicU64,
    pub egress_allowed: AtomicU64,
    pub components_refused: AtomicU64,
    egress_denied: Mutex<BTreeMap<&'static str, u64>>,
}

impl Default for SandboxMetrics {
    fn default() -> Self {
        Self {
            compile: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            cache_hits: Counter::default(),
            // 50 µs … ~26 s, as the host's latency histograms.
            open: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.00005, 2.0, 20))
            }),
            transform_fuel: Histogram::new(exponential_buckets(10_000.0, 4.0, 12)),
            calls: AtomicU64::default(),
            call_errors: AtomicU64::default(),
            deadline_exceeded: AtomicU64::default(),
            memory_limit: AtomicU64::default(),
            traps: AtomicU64::default(),
            egress_allowed: AtomicU64::default(),
            components_refused: AtomicU64::default(),
            egress_denied: Mutex::default(),
        }
    }
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
