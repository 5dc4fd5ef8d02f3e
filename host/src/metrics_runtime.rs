//! controller-runtime's metrics, as ESO's controllers expose them (their names, labels and
//! bucket boundaries; docs/eso-behaviour.md#metrics): `controller_runtime_*` per controller and
//! `workqueue_*` per queue, the `controller` label carrying ESO's controller names
//! ([`Controller`]). Ampoule's controllers are its own loops over [`WorkQueue`]s, not
//! controller-runtime's, so each loop reports what controller-runtime would have counted.
//!
//! [`WorkQueue`]: crate::controller::queue::WorkQueue

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The controllers, by the names controller-runtime gives ESO's (the lowercased kind of the
/// object each reconciles): the values of the `controller` and `name` labels.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Controller {
    ExternalSecret,
    SecretStore,
    ClusterSecretStore,
    ClusterExternalSecret,
    PushSecret,
    ClusterPushSecret,
}

impl Controller {
    pub const fn name(self) -> &'static str {
        match self {
            Controller::ExternalSecret => "externalsecret",
            Controller::SecretStore => "secretstore",
            Controller::ClusterSecretStore => "clustersecretstore",
            Controller::ClusterExternalSecret => "clusterexternalsecret",
            Controller::PushSecret => "pushsecret",
            Controller::ClusterPushSecret => "clusterpushsecret",
        }
    }
}

/// How a reconcile ended, as controller-runtime's `result` label says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReconcileResult {
    /// Done; looked at again only when something changes.
    Success,
    /// Failed; retried with backoff.
    Error,
    /// Queued again at once.
    Requeue,
    /// Queued again after a delay (a periodic refresh).
    RequeueAfter,
}

impl ReconcileResult {
    pub const ALL: [ReconcileResult; 4] = [
        ReconcileResult::Error,
        ReconcileResult::RequeueAfter,
        ReconcileResult::Requeue,
        ReconcileResult::Success,
    ];

    pub const fn label(self) -> &'static str {
        match self {
            ReconcileResult::Success => "success",
            ReconcileResult::Error => "error",
            ReconcileResult::Requeue => "requeue",
            ReconcileResult::RequeueAfter => "requeue_after",
        }
    }

    /// The result of a reconcile that did not fail and asks to be looked at again after
    /// `next` (`None`: only on a change).
    pub fn of_requeue(next: Option<Duration>) -> Self {
        match next {
            None => ReconcileResult::Success,
            Some(d) if d.is_zero() => ReconcileResult::Requeue,
            Some(_) => ReconcileResult::RequeueAfter,
        }
    }
}

/// `controller_runtime_reconcile_total{controller, result}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    pub controller: &'static str,
    pub result: &'static str,
}

/// `controller_runtime_*{controller}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabel {
    pub controller: &'static str,
}

/// `workqueue_*{name, controller}`: controller-runtime names a controller's queue after it and
/// sets both labels to that name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub name: &'static str,
    pub controller: &'static str,
}

impl QueueLabels {
    pub fn of(c: Controller) -> Self {
        QueueLabels {
            name: c.name(),
            controller: c.name(),
        }
    }
}

/// controller-runtime's `controller_runtime_reconcile_time_seconds` buckets.
pub const RECONCILE_TIME_BUCKETS: [f64; 40] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0,
    25.0, 30.0, 40.0, 50.0, 60.0,
];

/// controller-runtime's `workqueue_queue_duration_seconds` and `workqueue_work_duration_seconds`
/// buckets (`ExponentialBuckets(10e-9, 10, 12)`: 10 ns … 1000 s).
fn queue_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(10e-9, 10.0, 12)
}

/// What a queue holds at the moment of a scrape, for one controller.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct QueueGauges {
    /// Keys due and waiting for a worker (`workqueue_depth`); keys scheduled for later are not
    /// counted, as client-go's delaying queue does not count them.
    pub depth: u64,
    /// Seconds of work in progress (`workqueue_unfinished_work_seconds`).
    pub unfinished_seconds: f64,
    /// Seconds the longest-running key has been processed
    /// (`workqueue_longest_running_processor_seconds`).
    pub longest_running_seconds: f64,
}

/// Something holding queues, read at each scrape (the controllers' context).
pub trait QueueProbe: Send + Sync {
    /// The gauges of every instrumented queue, by controller.
    fn queue_gauges(&self) -> Vec<(Controller, QueueGauges)>;
}

/// The event-driven metrics of one controller's queue, handed to its [`WorkQueue`].
///
/// [`WorkQueue`]: crate::controller::queue::WorkQueue
#[derive(Clone, Debug)]
pub struct QueueMetrics {
    adds: Family<QueueLabels, Counter>,
    retries: Family<QueueLabels, Counter>,
    latency: Family<QueueLabels, Histogram>,
    work: Family<QueueLabels, Histogram>,
}

impl QueueMetrics {
    /// A key entered the queue (`workqueue_adds_total`), after `delay`
    /// (`workqueue_retries_total` when not zero).
    pub fn added(&self, c: Controller, delay: Duration) {
        let labels = QueueLabels::of(c);
        self.adds.get_or_create(&labels).inc();
        if !delay.is_zero() {
            self.retries.get_or_create(&labels).inc();
        }
    }

    /// A worker took a key that had been due for `waited` (`workqueue_queue_duration_seconds`).
    pub fn taken(&self, c: Controller, waited: Duration) {
        self.latency
            .get_or_create(&QueueLabels::of(c))
            .observe(waited.as_secs_f64());
    }

    /// A worker finished a key after `took` (`workqueue_work_duration_seconds`).
    pub fn done(&self, c: Controller, took: Duration) {
        self.work
            .get_or_create(&QueueLabels::of(c))
            .observe(took.as_secs_f64());
    }
}

/// controller-runtime's metrics of every controller.
pub struct RuntimeMetrics {
    /// `controller_runtime_reconcile_total{controller,result}`.
    pub reconcile_total: Family<ReconcileLabels, Counter>,
    /// `controller_runtime_reconcile_errors_total{controller}`.
    pub reconcile_errors: Family<ControllerLabel, Counter>,
    /// `controller_runtime_reconcile_time_seconds{controller}`.
    pub reconcile_time: Family<ControllerLabel, Histogram>,
    /// `controller_runtime_max_concurrent_reconciles{controller}`.
    pub max_concurrent: Family<ControllerLabel, Gauge>,
    /// `controller_runtime_active_workers{controller}`.
    pub active_workers: Family<ControllerLabel, Gauge>,
    queue: QueueMetrics,
    probes: Arc<Probes>,
}

/// The queue holders read at each scrape.
#[derive(Default)]
struct Probes(Mutex<Vec<Weak<dyn QueueProbe>>>);

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Probes")
    }
}

impl RuntimeMetrics {
    /// Every metric, registered in `r`.
    pub fn register(r: &mut Registry) -> Self {
        let m = RuntimeMetrics {
            reconcile_total: Family::default(),
            reconcile_errors: Family::default(),
            reconcile_time: Family::new_with_constructor(|| {
                Histogram::new(RECONCILE_TIME_BUCKETS.iter().copied())
            }),
            max_concurrent: Family::default(),
            active_workers: Family::default(),
            queue: QueueMetrics {
                adds: Family::default(),
                retries: Family::default(),
                latency: Family::new_with_constructor(|| Histogram::new(queue_buckets())),
                work: Family::new_with_constructor(|| Histogram::new(queue_buckets())),
            },
            probes: Arc::default(),
        };
        // prometheus-client appends `_total` to counters: counters are registered by bare name.
        r.register(
            "controller_runtime_reconcile",
            "Total number of reconciliations per controller",
            m.reconcile_total.clone(),
        );
        r.register(
            "controller_runtime_reconcile_errors",
            "Total number of reconciliation errors per controller",
            m.reconcile_errors.clone(),
        );
        r.register(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            m.reconcile_time.clone(),
        );
        r.register(
            "controller_runtime_max_concurrent_reconciles",
            "Maximum number of concurrent reconciles per controller",
            m.max_concurrent.clone(),
        );
        r.register(
            "controller_runtime_active_workers",
            "Number of currently used workers per controller",
            m.active_workers.clone(),
        );
        r.register(
            "workqueue_adds",
            "Total number of adds handled by workqueue",
            m.queue.adds.clone(),
        );
        r.register(
            "workqueue_retries",
            "Total number of items added to the workqueue with a non-zero delay",
            m.queue.retries.clone(),
        );
        r.register(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested",
            m.queue.latency.clone(),
        );
        r.register(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes.",
            m.queue.work.clone(),
        );
        r.register_collector(Box::new(QueueCollector(m.probes.clone())));
        m
    }

    /// The metrics a controller's queue records.
    pub fn queue(&self) -> QueueMetrics {
        self.queue.clone()
    }

    /// Reads `probe`'s queues at each scrape (`workqueue_depth`, `_unfinished_work_seconds`,
    /// `_longest_running_processor_seconds`) while it lives.
    pub fn watch_queues(&self, probe: Weak<dyn QueueProbe>) {
        let mut probes = self.probes.0.lock().unwrap_or_else(|e| e.into_inner());
        probes.retain(|p| p.strong_count() > 0);
        probes.push(probe);
    }

    /// A controller started with `workers` workers: its series exist from now on, at zero, as
    /// controller-runtime's `initMetrics` makes them (so `increase(...{result="error"})` sees
    /// the first error).
    pub fn controller_started(&self, c: Controller, workers: usize) {
        let controller = c.name();
        for result in ReconcileResult::ALL {
            let _ = self.reconcile_total.get_or_create(&ReconcileLabels {
                controller,
                result: result.label(),
            });
        }
        let label = ControllerLabel { controller };
        let _ = self.reconcile_errors.get_or_create(&label);
        self.max_concurrent
            .get_or_create(&label)
            .set(i64::try_from(workers).unwrap_or(i64::MAX));
        self.active_workers.get_or_create(&label).set(0);
    }

    /// A worker of `c` is reconciling until the guard drops (`controller_runtime_active_workers`).
    pub fn active(&self, c: Controller) -> Active {
        let gauge = self
            .active_workers
            .get_or_create(&ControllerLabel {
                controller: c.name(),
            })
            .clone();
        gauge.inc();
        Active(gauge)
    }

    /// One reconcile of `c` ended with `result` after `took`.
    pub fn reconciled(&self, c: Controller, result: ReconcileResult, took: Duration) {
        let controller = c.name();
        self.reconcile_total
            .get_or_create(&ReconcileLabels {
                controller,
                result: result.label(),
            })
            .inc();
        let label = ControllerLabel { controller };
        if result == ReconcileResult::Error {
            self.reconcile_errors.get_or_create(&label).inc();
        }
        self.reconcile_time
            .get_or_create(&label)
            .observe(took.as_secs_f64());
    }
}

/// See [`RuntimeMetrics::active`].
#[derive(Debug)]
pub struct Active(Gauge);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The scrape-time queue gauges.
#[derive(Debug)]
struct QueueCollector(Arc<Probes>);

impl Collector for QueueCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let probes: Vec<Arc<dyn QueueProbe>> = {
            let probes = self.0.0.lock().unwrap_or_else(|e| e.into_inner());
            probes.iter().filter_map(Weak::upgrade).collect()
        };
        let gauges: Vec<(Controller, QueueGauges)> =
            probes.iter().flat_map(|p| p.queue_gauges()).collect();
        type Read = fn(&QueueGauges) -> f64;
        let families: [(&str, &str, Read); 3] = [
            ("workqueue_depth", "Current depth of workqueue", |g| {
                g.depth as f64
            }),
            (
                "workqueue_unfinished_work_seconds",
                "How many seconds of work has been done that is in progress and hasn't been \
                 observed by work_duration. Large values indicate stuck threads. One can deduce \
                 the number of stuck threads by observing the rate at which this increases.",
                |g| g.unfinished_seconds,
            ),
            (
                "workqueue_longest_running_processor_seconds",
                "How many seconds has the longest running processor for workqueue been running.",
                |g| g.longest_running_seconds,
            ),
        ];
        for (name, help, read) in families {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (c, g) in &gauges {
                ConstGauge::new(read(g)).encode(family.encode_family(&QueueLabels::of(*c))?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::queue::{Priority, WorkQueue};
    use crate::metrics::Metrics;

    struct One(WorkQueue<&'static str>);

    impl QueueProbe for One {
        fn queue_gauges(&self) -> Vec<(Controller, QueueGauges)> {
            self.0.gauges()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_controller_and_its_queue_report_as_controller_runtime_does() {
        let m = Metrics::new();
        let rt = &m.runtime;
        rt.controller_started(Controller::PushSecret, 4);
        let text = m.encode();
        for line in [
            r#"controller_runtime_reconcile_total{controller="pushsecret",result="error"} 0"#,
            r#"controller_runtime_reconcile_total{controller="pushsecret",result="requeue_after"} 0"#,
            r#"controller_runtime_reconcile_errors_total{controller="pushsecret"} 0"#,
            r#"controller_runtime_max_concurrent_reconciles{controller="pushsecret"} 4"#,
            r#"controller_runtime_active_workers{controller="pushsecret"} 0"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        let q = Arc::new(One(WorkQueue::observed(
            rt.queue(),
            |_| Controller::PushSecret,
            vec![Controller::PushSecret],
        )));
        let probe: Arc<dyn QueueProbe> = q.clone();
        rt.watch_queues(Arc::downgrade(&probe));
        q.0.add("a", Duration::ZERO, Priority::Urgent);
        q.0.add("a", Duration::ZERO, Priority::Urgent);
        q.0.add("b", Duration::from_secs(60), Priority::Normal);
        let text = m.encode();
        for line in [
            r#"workqueue_depth{name="pushsecret",controller="pushsecret"} 1"#,
            r#"workqueue_adds_total{name="pushsecret",controller="pushsecret"} 2"#,
            r#"workqueue_retries_total{name="pushsecret",controller="pushsecret"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        let key = q.0.next().await;
        let active = rt.active(Controller::PushSecret);
        tokio::time::advance(Duration::from_secs(2)).await;
        let text = m.encode();
        for line in [
            r#"workqueue_depth{name="pushsecret",controller="pushsecret"} 0"#,
            r#"workqueue_unfinished_work_seconds{name="pushsecret",controller="pushsecret"} 2"#,
            r#"workqueue_longest_running_processor_seconds{name="pushsecret",controller="pushsecret"} 2"#,
            r#"controller_runtime_active_workers{controller="pushsecret"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        q.0.done(&key);
        drop(active);
        rt.reconciled(
            Controller::PushSecret,
            ReconcileResult::Error,
            Duration::from_millis(7),
        );
        let text = m.encode();
        for line in [
            r#"workqueue_work_duration_seconds_count{name="pushsecret",controller="pushsecret"} 1"#,
            r#"workqueue_queue_duration_seconds_count{name="pushsecret",controller="pushsecret"} 1"#,
            r#"controller_runtime_reconcile_total{controller="pushsecret",result="error"} 1"#,
            r#"controller_runtime_reconcile_errors_total{controller="pushsecret"} 1"#,
            r#"controller_runtime_reconcile_time_seconds_bucket{le="0.01",controller="pushsecret"} 1"#,
            r#"controller_runtime_reconcile_time_seconds_bucket{le="0.005",controller="pushsecret"} 0"#,
            r#"controller_runtime_active_workers{controller="pushsecret"} 0"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        // A queue that is gone is no longer read.
        drop((q, probe));
        assert!(!m.encode().contains(r#"workqueue_depth{"#));
    }
}
