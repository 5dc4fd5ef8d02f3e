//! Prometheus metrics with ESO's names (eso-api.md §5), so existing alerts and dashboards keep
//! working. One registry for the process; subsystems register into it.

use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// ESO's labels on ExternalSecret metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EsLabels {
    pub name: String,
    pub namespace: String,
}

/// Counters of the ExternalSecret controller.
pub struct Metrics {
    /// `externalsecret_sync_calls_total`: every sync attempt.
    pub sync_calls: Family<EsLabels, Counter>,
    /// `externalsecret_sync_calls_error`: failed sync attempts.
    pub sync_errors: Family<EsLabels, Counter>,
    registry: Registry,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        let sync_calls = Family::<EsLabels, Counter>::default();
        let sync_errors = Family::<EsLabels, Counter>::default();
        // prometheus-client appends `_total` to counters: register the bare names.
        registry.register("externalsecret_sync_calls", "Total number of the External Secret sync calls", sync_calls.clone());
        registry.register("externalsecret_sync_calls_error", "Total number of the External Secret sync errors", sync_errors.clone());
        Self { sync_calls, sync_errors, registry }
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The process-wide metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}
