//! Prometheus metrics. ESO's names and labels (docs/eso-behaviour.md#metrics) so existing
//! dashboards keep working, the names the seed guide's alert and dashboard query, and Ampoule's
//! own. One registry per [`Metrics`]: `ampoule run` makes one and hands it to the controllers
//! (in their context) and to the admin server; tests make their own.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;

use crate::plugin::metrics::SandboxMetrics;

#[path = "metrics_runtime.rs"]
pub mod runtime;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// ESO's labels on per-object metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ObjectLabels {
    pub name: String,
    pub namespace: String,
}

/// ESO's labels on `*_status_condition`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConditionLabels {
    pub name: String,
    pub namespace: String,
    pub condition: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Outcome {
    success,
    error,
}

/// `external_secrets_sync_calls_total{status}` (the seed guide's dashboard).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: Outcome,
}

/// `externalsecret_provider_api_calls_count{provider, call, status}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiCallLabels {
    pub provider: String,
    pub call: &'static str,
    pub status: Outcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub provider: String,
    pub call: &'static str,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    // 50 µs … ~26 s
    exponential_buckets(0.00005, 2.0, 20)
}

/// `ampoule_workqueue_wait_seconds{lane}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LaneLabel {
    /// `urgent` (new or changed objects) or `normal` (refreshes and retries).
    pub lane: &'static str,
}

/// `ampoule_reconcile_phase_seconds{phase}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabel {
    pub phase: &'static str,
}

/// A monotonic count exposed without the `_total` suffix (ESO's `externalsecret_sync_calls_error`
/// and `externalsecret_provider_api_calls_count` are counters with such names).
pub type PlainCount = Gauge<u64, AtomicU64>;

pub struct Metrics {
    /// `externalsecret_sync_calls_total{name,namespace}`: every reconcile.
    pub sync_calls: Family<ObjectLabels, Counter>,
    /// `externalsecret_sync_calls_error{name,namespace}`: failed reconciles.
    pub sync_errors: Family<ObjectLabels, PlainCount>,
    /// `externalsecret_status_condition{name,namespace,condition,status}`: 1 for the current status, 0 for the other.
    pub es_condition: Family<ConditionLabels, Gauge>,
    /// `externalsecret_reconcile_duration{name,namespace}`: nanoseconds of the last reconcile (as ESO).
    pub es_duration: Family<ObjectLabels, Gauge>,
    /// `pushsecret_status_condition{name,namespace,condition,status}`.
    pub ps_condition: Family<ConditionLabels, Gauge>,
    /// `pushsecret_reconcile_duration{name,namespace}`: nanoseconds of the last reconcile.
    pub ps_duration: Family<ObjectLabels, Gauge>,
    /// `clusterpushsecret_status_condition{name,namespace,condition,status}`.
    pub cps_condition: Family<ConditionLabels, Gauge>,
    /// `clusterpushsecret_reconcile_duration{name,namespace}`: nanoseconds of the last reconcile.
    pub cps_duration: Family<ObjectLabels, Gauge>,
    /// `secretstore_status_condition`.
    pub store_condition: Family<ConditionLabels, Gauge>,
    /// `clustersecretstore_status_condition`.
    pub cluster_store_condition: Family<ConditionLabels, Gauge>,
    /// `secretstore_reconcile_duration{name,namespace}`: nanoseconds of the last validation.
    pub store_duration: Family<ObjectLabels, Gauge>,
    /// `clustersecretstore_reconcile_duration{name,namespace}` (namespace empty).
    pub cluster_store_duration: Family<ObjectLabels, Gauge>,
    /// `clusterexternalsecret_status_condition{name,namespace,condition,status}` (namespace empty).
    pub ces_condition: Family<ConditionLabels, Gauge>,
    /// `clusterexternalsecret_reconcile_duration{name,namespace}` (namespace empty).
    pub ces_duration: Family<ObjectLabels, Gauge>,
    /// `externalsecret_provider_api_calls_count{provider,call,status}`.
    pub provider_calls: Family<ApiCallLabels, PlainCount>,
    /// controller-runtime's `controller_runtime_*` and `workqueue_*` metrics.
    pub runtime: runtime::RuntimeMetrics,
    /// `external_secrets_sync_calls_total{status}` (seed dashboard).
    pub seed_sync_calls: Family<StatusLabels, Counter>,
    /// `ampoule_provider_call_duration_seconds{provider,call}`: one provider call through the sandbox.
    pub provider_call_duration: Family<CallLabels, Histogram>,
    /// `ampoule_workqueue_wait_seconds{lane}`: from when an ExternalSecret was due until a worker
    /// took it.
    pub queue_wait: Family<LaneLabel, Histogram>,
    /// `ampoule_reconcile_phase_seconds{phase}`: time spent in each step of an ExternalSecret
    /// reconcile.
    pub reconcile_phase: Family<PhaseLabel, Histogram>,
    /// `external_secrets_sync_calls_error`: ExternalSecrets whose last sync failed (seed alert:
    /// `> 0 for 5m` fires while something keeps failing, and clears when it recovers).
    pub seed_failing: Gauge,
    registry: Mutex<Registry>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric, registered in a registry of its own.
    pub fn new() -> Self {
        let mut r = Registry::default();
        let m = Metrics {
            sync_calls: Family::default(),
            sync_errors: Family::default(),
            es_condition: Family::default(),
            es_duration: Family::default(),
            ps_condition: Family::default(),
            ps_duration: Family::default(),
            cps_condition: Family::default(),
            cps_duration: Family::default(),
            store_condition: Family::default(),
            cluster_store_condition: Family::default(),
            store_duration: Family::default(),
            cluster_store_duration: Family::default(),
            ces_condition: Family::default(),
            ces_duration: Family::default(),
            provider_calls: Family::default(),
            runtime: runtime::RuntimeMetrics::register(&mut r),
            seed_sync_calls: Family::default(),
            seed_failing: Gauge::default(),
            provider_call_duration: Family::new_with_constructor(|| {
                Histogram::new(latency_buckets())
            }),
            queue_wait: Family::new_with_constructor(|| Histogram::new(latency_buckets())),
            reconcile_phase: Family::new_with_constructor(|| Histogram::new(latency_buckets())),
            registry: Mutex::new(Registry::default()),
        };
        // prometheus-client appends `_total` to counters: counters are registered by bare name.
        r.register(
            "externalsecret_sync_calls",
            "Total number of the External Secret sync calls",
            m.sync_calls.clone(),
        );
        r.register(
            "externalsecret_sync_calls_error",
            "Total number of the External Secret sync errors",
            m.sync_errors.clone(),
        );
        r.register(
            "externalsecret_status_condition",
            "The status condition of a specific External Secret",
            m.es_condition.clone(),
        );
        r.register(
            "externalsecret_reconcile_duration",
            "The duration time to reconcile the External Secret (ns)",
            m.es_duration.clone(),
        );
        r.register(
            "pushsecret_status_condition",
            "The status condition of a specific Push Secret",
            m.ps_condition.clone(),
        );
        r.register(
            "pushsecret_reconcile_duration",
            "The duration time to reconcile the Push Secret (ns)",
            m.ps_duration.clone(),
        );
        r.register(
            "clusterpushsecret_status_condition",
            "The status condition of a specific Cluster Push Secret",
            m.cps_condition.clone(),
        );
        r.register(
            "clusterpushsecret_reconcile_duration",
            "The duration time to reconcile the Cluster Push Secret (ns)",
            m.cps_duration.clone(),
        );
        r.register(
            "secretstore_status_condition",
            "The status condition of a specific SecretStore",
            m.store_condition.clone(),
        );
        r.register(
            "clustersecretstore_status_condition",
            "The status condition of a specific ClusterSecretStore",
            m.cluster_store_condition.clone(),
        );
        r.register(
            "externalsecret_provider_api_calls_count",
            "Number of API calls towards the secret provider",
            m.provider_calls.clone(),
        );
        r.register(
            "secretstore_reconcile_duration",
            "The duration time to reconcile the Secret Store (ns)",
            m.store_duration.clone(),
        );
        r.register(
            "clustersecretstore_reconcile_duration",
            "The duration time to reconcile the Cluster Secret Store (ns)",
            m.cluster_store_duration.clone(),
        );
        r.register(
            "clusterexternalsecret_status_condition",
            "The status condition of a specific Cluster External Secret",
            m.ces_condition.clone(),
        );
        r.register(
            "clusterexternalsecret_reconcile_duration",
            "The duration time to reconcile the Cluster External Secret (ns)",
            m.ces_duration.clone(),
        );
        r.register(
            "external_secrets_sync_calls",
            "Sync calls by outcome",
            m.seed_sync_calls.clone(),
        );
        r.register(
            "external_secrets_sync_calls_error",
            "ExternalSecrets whose last sync failed",
            m.seed_failing.clone(),
        );
        r.register(
            "ampoule_provider_call_duration_seconds",
            "One provider call through the sandbox",
            m.provider_call_duration.clone(),
        );
        r.register(
            "ampoule_workqueue_wait_seconds",
            "Time an ExternalSecret waited in the work queue after it was due, by lane",
            m.queue_wait.clone(),
        );
        r.register(
            "ampoule_reconcile_phase_seconds",
            "Time spent in each step of an ExternalSecret reconcile",
            m.reconcile_phase.clone(),
        );
        Metrics {
            registry: Mutex::new(r),
            ..m
        }
    }

    /// The text exposition of every metric (plus the sandbox's, when registered).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }

    /// Exposes a sandbox's metrics (`ampoule_plugin_*`, `ampoule_transform_fuel_consumed`):
    /// its histograms and counters as they are, its atomic counters read at each scrape.
    pub fn register_sandbox(&self, sandbox: &Arc<SandboxMetrics>) {
        let mut r = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        r.register(
            "ampoule_plugin_compile_duration_seconds",
            "Compiling a component (once per digest)",
            sandbox.compile.clone(),
        );
        r.register(
            "ampoule_plugin_load_cache_hits",
            "Component loads served from the compiled cache",
            sandbox.cache_hits.clone(),
        );
        r.register(
            "ampoule_plugin_open_duration_seconds",
            "Fresh instance, config checks and client open",
            sandbox.open.clone(),
        );
        r.register(
            "ampoule_transform_fuel_consumed",
            "Wasm fuel (about one unit per instruction) used by one template component call",
            sandbox.transform_fuel.clone(),
        );
        r.register_collector(Box::new(SandboxCollector(sandbox.clone())));
    }

    /// Sets a `*_status_condition` pair: 1 for `status`, 0 for the opposite (ESO keeps both).
    pub fn set_condition(
        family: &Family<ConditionLabels, Gauge>,
        name: &str,
        namespace: &str,
        condition: &str,
        ready: bool,
    ) {
        for (status, value) in [("True", ready), ("False", !ready)] {
            let labels = ConditionLabels {
                name: name.into(),
                namespace: namespace.into(),
                condition: condition.into(),
                status: status.into(),
            };
            family.get_or_create(&labels).set(i64::from(value));
        }
    }

    /// `pushsecret_reconcile_duration` of one PushSecret.
    pub fn push_secret_duration(&self, name: &str, namespace: &str) -> Gauge {
        self.ps_duration
            .get_or_create(&ObjectLabels {
                name: name.into(),
                namespace: namespace.into(),
            })
            .clone()
    }

    /// `clusterpushsecret_reconcile_duration` of one ClusterPushSecret.
    pub fn cluster_push_secret_duration(&self, name: &str) -> Gauge {
        self.cps_duration
            .get_or_create(&ObjectLabels {
                name: name.into(),
                namespace: String::new(),
            })
            .clone()
    }

    /// Sets `*_reconcile_duration` of one object to `took`, in nanoseconds (as ESO).
    pub fn set_duration(
        family: &Family<ObjectLabels, Gauge>,
        name: &str,
        namespace: &str,
        took: std::time::Duration,
    ) {
        family
            .get_or_create(&ObjectLabels {
                name: name.into(),
                namespace: namespace.into(),
            })
            .set(i64::try_from(took.as_nanos()).unwrap_or(i64::MAX));
    }

    /// Drops the `*_status_condition` (Ready) and `*_reconcile_duration` series of a deleted
    /// object (a store or ClusterExternalSecret), as ESO's `RemoveMetrics`.
    pub fn forget_object(
        conditions: &Family<ConditionLabels, Gauge>,
        durations: &Family<ObjectLabels, Gauge>,
        name: &str,
        namespace: &str,
    ) {
        durations.remove(&ObjectLabels {
            name: name.into(),
            namespace: namespace.into(),
        });
        for status in ["True", "False"] {
            conditions.remove(&ConditionLabels {
                name: name.into(),
                namespace: namespace.into(),
                condition: "Ready".into(),
                status: status.into(),
            });
        }
    }

    /// Drops every series of a deleted PushSecret.
    pub fn forget_push_secret(&self, name: &str, namespace: &str) {
        self.ps_duration.remove(&ObjectLabels {
            name: name.into(),
            namespace: namespace.into(),
        });
        for status in ["True", "False"] {
            self.ps_condition.remove(&ConditionLabels {
                name: name.into(),
                namespace: namespace.into(),
                condition: "Ready".into(),
                status: status.into(),
            });
        }
    }

    /// Drops every series of a deleted object.
    pub fn forget(&self, name: &str, namespace: &str) {
        let object = ObjectLabels {
            name: name.into(),
            namespace: namespace.into(),
        };
        self.sync_calls.remove(&object);
        self.sync_errors.remove(&object);
        self.es_duration.remove(&object);
        for status in ["True", "False"] {
            let labels = ConditionLabels {
                name: name.into(),
                namespace: namespace.into(),
                condition: "Ready".into(),
                status: status.into(),
            };
            self.es_condition.remove(&labels);
        }
    }
}

/// ESO's provider label for a store's provider key and config.
pub fn provider_label(key: &str, config: &serde_json::Value) -> String {
    match key {
        "vault" => "HashiCorp/Vault".into(),
        "aws" if config.get("service").and_then(|s| s.as_str()) == Some("ParameterStore") => {
            "AWS/ParameterStore".into()
        }
        "aws" => "AWS/SecretsManager".into(),
        "gcpsm" => "GCP/SecretManager".into(),
        other => other.into(),
    }
}

/// Ampoule's sandbox counters (`ampoule_plugin_*`), read from the sandbox at each scrape.
#[derive(Debug)]
struct SandboxCollector(Arc<SandboxMetrics>);

impl Collector for SandboxCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let m = &self.0;
        let counters = [
            (
                "ampoule_plugin_calls",
                "Calls into provider plugins",
                &m.calls,
            ),
            (
                "ampoule_plugin_call_errors",
                "Plugin calls that returned an error",
                &m.call_errors,
            ),
            (
                "ampoule_plugin_deadline_exceeded",
                "Plugin calls stopped at their deadline",
                &m.deadline_exceeded,
            ),
            (
                "ampoule_plugin_memory_limit",
                "Plugin calls stopped at their memory cap",
                &m.memory_limit,
            ),
            (
                "ampoule_plugin_traps",
                "Plugin calls that trapped",
                &m.traps,
            ),
            (
                "ampoule_plugin_egress_allowed",
                "Plugin HTTP requests the egress policy allowed",
                &m.egress_allowed,
            ),
            (
                "ampoule_plugin_components_refused",
                "Components refused at load",
                &m.components_refused,
            ),
        ];
        for (name, help, counter) in counters {
            let c = ConstCounter::new(SandboxMetrics::get(counter));
            c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)?;
        }
        let mut denied = encoder.encode_descriptor(
            "ampoule_plugin_egress_denied",
            "Plugin HTTP requests the egress policy denied, by rule",
            None,
            MetricType::Counter,
        )?;
        for (rule, n) in m.egress_denied() {
            ConstCounter::new(n).encode(denied.encode_family(&[("rule", rule)])?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_esos_and_the_seed_guides_names() {
        let m = Metrics::new();
        let es = ObjectLabels {
            name: "a".into(),
            namespace: "b".into(),
        };
        m.sync_calls.get_or_create(&es).inc();
        m.sync_errors.get_or_create(&es).inc();
        Metrics::set_condition(&m.es_condition, "a", "b", "Ready", false);
        m.seed_sync_calls
            .get_or_create(&StatusLabels {
                status: Outcome::success,
            })
            .inc();
        m.seed_failing.set(1);
        m.provider_calls
            .get_or_create(&ApiCallLabels {
                provider: "HashiCorp/Vault".into(),
                call: "GetSecret",
                status: Outcome::error,
            })
            .inc();
        let text = m.encode();
        for line in [
            r#"externalsecret_sync_calls_total{name="a",namespace="b"} 1"#,
            r#"externalsecret_sync_calls_error{name="a",namespace="b"} 1"#,
            r#"externalsecret_status_condition{name="a",namespace="b",condition="Ready",status="False"} 1"#,
            r#"externalsecret_status_condition{name="a",namespace="b",condition="Ready",status="True"} 0"#,
            r#"external_secrets_sync_calls_total{status="success"} 1"#,
            "external_secrets_sync_calls_error 1",
            r#"externalsecret_provider_api_calls_count{provider="HashiCorp/Vault",call="GetSecret",status="error"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        let sandbox = Arc::new(SandboxMetrics::default());
        m.register_sandbox(&sandbox);
        sandbox.compile.observe(0.5);
        let text = m.encode();
        assert!(
            text.contains("ampoule_plugin_compile_duration_seconds_count 1"),
            "{text}"
        );
        m.forget("a", "b");
        assert!(!m.encode().contains(r#"name="a""#));
    }

    #[test]
    fn exposes_the_queue_wait_and_reconcile_phase_histograms() {
        let m = Metrics::new();
        m.queue_wait
            .get_or_create(&LaneLabel { lane: "urgent" })
            .observe(0.25);
        m.reconcile_phase
            .get_or_create(&PhaseLabel { phase: "fetch" })
            .observe(0.5);
        let text = m.encode();
        for line in [
            "# TYPE ampoule_workqueue_wait_seconds histogram",
            r#"ampoule_workqueue_wait_seconds_sum{lane="urgent"} 0.25"#,
            r#"ampoule_workqueue_wait_seconds_count{lane="urgent"} 1"#,
            r#"ampoule_workqueue_wait_seconds_bucket{le="0.4096",lane="urgent"} 1"#,
            "# TYPE ampoule_reconcile_phase_seconds histogram",
            r#"ampoule_reconcile_phase_seconds_sum{phase="fetch"} 0.5"#,
            r#"ampoule_reconcile_phase_seconds_count{phase="fetch"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }
}
