//! What every reconcile shares: the client, the provider seam, caches, queues and settings.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Client;
use kube::core::PartialObjectMeta;
use kube::runtime::events::{Event, EventType, Reporter};

use super::recorder::Recorder;
use kube::runtime::reflector::{ObjectRef, Store};

use super::backoff::Backoff;
use super::queue::WorkQueue;
use super::shared::Shared;
use crate::crd::{ClusterSecretStore, ExternalSecret, SecretStore};
use crate::transform::Transformer;

/// Behaviour switches, named after ESO's flags where one exists.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--controller-class`: stores whose `spec.controller` is set to another class are ignored.
    pub controller_class: String,
    /// `--namespace`: watch only this namespace (all when `None`).
    pub namespace: Option<String>,
    /// `--concurrent`: reconciles running at once per controller.
    pub concurrent: usize,
    /// `--enable-flood-gate`: an ExternalSecret whose store is not Ready is not synced.
    pub flood_gate: bool,
    /// `--enable-cluster-store-reconciler`.
    pub cluster_stores: bool,
    /// `--enable-cluster-external-secret-reconciler`.
    pub cluster_external_secrets: bool,
    /// `--enable-push-secret-reconciler`.
    pub push_secrets: bool,
    /// `--enable-cluster-push-secret-reconciler`.
    pub cluster_push_secrets: bool,
    /// `--store-requeue-interval`: how often stores are validated when they set no interval.
    pub store_requeue_interval: Duration,
    /// `--template-left-delimiter` / `--template-right-delimiter`.
    pub template_delimiters: (String, String),
    /// The wall clock the ExternalSecret controller reads (refresh times, sync windows); tests
    /// move it.
    pub clock: super::clock::Clock,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            controller_class: "default".into(),
            namespace: None,
            concurrent: 32,
            flood_gate: true,
            cluster_stores: true,
            cluster_external_secrets: true,
            push_secrets: true,
            cluster_push_secrets: true,
            store_requeue_interval: Duration::from_secs(300),
            template_delimiters: ("{{".into(), "}}".into()),
            clock: super::clock::Clock::default(),
        }
    }
}

/// What the controller remembers about an ExternalSecret between reconciles: its own last
/// successful sync (the watch cache may lag behind the status it wrote) and the target it wrote.
#[derive(Debug, Clone, Default)]
pub struct Synced {
    pub refresh_time: Option<Time>,
    pub synced_resource_version: Option<String>,
    /// resourceVersion of the target Secret right after this controller wrote or verified it.
    pub secret_resource_version: Option<String>,
    /// Fingerprint of the object last applied to the target (identical applies are skipped).
    pub fingerprint: Option<String>,
}

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    /// The provider seam, behind the cache that shares identical fetches.
    pub provider: Arc<Shared>,
    /// Template transforms (the sandboxed template component).
    pub transformer: Arc<dyn Transformer>,
    pub settings: Settings,
    pub recorder: Recorder,
    pub store_recorder: Recorder,
    pub backoff: Backoff,
    pub external_secrets: Store<ExternalSecret>,
    pub stores: Store<SecretStore>,
    pub cluster_stores: Store<ClusterSecretStore>,
    /// Metadata of the Secrets labelled `reconcile.external-secrets.io/managed=true`.
    pub secrets: Store<PartialObjectMeta<Secret>>,
    pub queue: WorkQueue<ObjectRef<ExternalSecret>>,
    pub store_queue: WorkQueue<StoreKey>,
    pub synced: Mutex<HashMap<ObjectRef<ExternalSecret>, Synced>>,
    /// `(namespace, target name)` → ExternalSecrets writing that Secret.
    pub targets: Mutex<HashMap<(String, String), BTreeSet<String>>>,
    /// ExternalSecrets whose last sync failed (the `external_secrets_sync_calls_error` gauge).
    pub failing: Mutex<HashSet<ObjectRef<ExternalSecret>>>,
    /// Bounds the Normal events being published in the background ([`Context::event_later`]).
    pub event_slots: Arc<tokio::sync::Semaphore>,
    /// Becomes true once every watch has listed its objects (the caches are complete). One task
    /// waits on the stores' readiness and sets it: kube's `Store::wait_until_ready` wakes only
    /// the last of several tasks waiting on the same store, so nothing else waits on it.
    pub caches_listed: tokio::sync::watch::Receiver<bool>,
    /// Where the controllers' metrics go (the registry `/metrics` serves).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The ClusterExternalSecret controller's caches and queue.
    pub cluster_external_secrets: super::cluster_external_secret::State,
    /// The PushSecret controller's cache and queue.
    pub push_secrets: super::push_secret::State,
    /// The ClusterPushSecret controller's cache and queue.
    pub cluster_push_secrets: super::cluster_push_secret::State,
    /// ESO's generators (sandboxed components).
    pub generators: std::sync::Arc<dyn ampoule_sandbox::generator::SecretGenerator>,
    /// The GeneratorState controller's cache and queue.
    pub generator_states: super::generators::GcState,
    /// Why ProviderClasses do not serve their spec, shown on the stores of their keys.
    pub class_health: Arc<super::class_health::ClassHealth>,
}

/// Normal events published in the background at once, at most.
pub const EVENTS_IN_FLIGHT: usize = 64;

/// Waits until no background event is in flight (every slot of `slots` free), at most `limit`.
/// Returns how many were still in flight when it gave up (0: all sent).
pub async fn drain_events(slots: &tokio::sync::Semaphore, limit: std::time::Duration) -> usize {
    let all = u32::try_from(EVENTS_IN_FLIGHT).unwrap_or(u32::MAX);
    match tokio::time::timeout(limit, slots.acquire_many(all)).await {
        Ok(_) => 0,
        Err(_) => EVENTS_IN_FLIGHT.saturating_sub(slots.available_permits()),
    }
}

/// A SecretStore (namespaced) or ClusterSecretStore (namespace `None`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreKey {
    pub namespace: Option<String>,
    pub name: String,
}

/// The `source.component` ESO uses for ExternalSecret events.
pub const ES_REPORTER: &str = "external-secrets";
/// ESO's component for store events.
pub const STORE_REPORTER: &str = "secret-store";

pub fn reporter(controller: &str) -> Reporter {
    Reporter {
        controller: controller.into(),
        instance: std::env::var("POD_NAME").ok(),
    }
}

/// Builds an event (note truncated, action from [`event_action`]) and publishes it; a failure is
/// logged, never fatal.
pub(super) async fn publish(
    recorder: &Recorder,
    obj: &k8s_openapi::api::core::v1::ObjectReference,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let ev = Event {
        action: event_action(&type_, reason, &note),
        type_,
        reason: reason.into(),
        note: Some(truncate(note, 1024)),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&ev, obj).await {
        tracing::warn!(error = %e, reason, "could not publish event");
    }
}

/// Every queue's gauges at a scrape (`workqueue_depth` and the in-flight times).
impl crate::metrics::runtime::QueueProbe for Context {
    fn queue_gauges(
        &self,
    ) -> Vec<(
        crate::metrics::runtime::Controller,
        crate::metrics::runtime::QueueGauges,
    )> {
        let mut out = self.queue.gauges();
        out.extend(self.store_queue.gauges());
        out.extend(self.cluster_external_secrets.queue.gauges());
        out.extend(self.push_secrets.queue.gauges());
        out.extend(self.cluster_push_secrets.queue.gauges());
        out
    }
}

impl Context {
    /// Publishes an event; failures are logged, never fatal.
    pub async fn event(
        &self,
        recorder: &Recorder,
        obj: &k8s_openapi::api::core::v1::ObjectReference,
        type_: EventType,
        reason: &str,
        note: String,
    ) {
        publish(recorder, obj, type_, reason, note).await;
    }

    /// Publishes a Normal event without holding up the reconcile: it is sent by a task of its own
    /// (at most [`EVENTS_IN_FLIGHT`] at once; beyond that this waits for a free slot, so a slow
    /// apiserver slows reconciles down instead of piling up tasks). Warning events are published
    /// in line with [`Context::event`].
    pub async fn event_later(
        &self,
        recorder: &Recorder,
        obj: &k8s_openapi::api::core::v1::ObjectReference,
        reason: &'static str,
        note: String,
    ) {
        let Ok(slot) = self.event_slots.clone().acquire_owned().await else {
            return;
        };
        let (recorder, obj) = (recorder.clone(), obj.clone());
        tokio::spawn(async move {
            publish(&recorder, &obj, EventType::Normal, reason, note).await;
            drop(slot);
        });
    }

    pub fn synced(&self, key: &ObjectRef<ExternalSecret>) -> Synced {
        self.lock_synced().get(key).cloned().unwrap_or_default()
    }

    pub fn lock_synced(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<ObjectRef<ExternalSecret>, Synced>> {
        self.synced.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the last sync of this ExternalSecret failed.
    pub fn is_failing(&self, key: &ObjectRef<ExternalSecret>) -> bool {
        self.failing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(key)
    }

    /// Records whether an ExternalSecret is failing and updates the gauge.
    pub fn set_failing(&self, key: &ObjectRef<ExternalSecret>, failing: bool) {
        let mut set = self.failing.lock().unwrap_or_else(|e| e.into_inner());
        if failing {
            set.insert(key.clone());
        } else {
            set.remove(key);
        }
        self.metrics
            .seed_failing
            .set(i64::try_from(set.len()).unwrap_or(i64::MAX));
    }

    pub fn lock_targets(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(String, String), BTreeSet<String>>> {
        self.targets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The recorder folds repeats of (type, reason, action, object) into one event with a count: a
/// Warning's action carries a digest of its text, so a new error is a new event instead of a
/// count bump on an older, different one. Normal events keep their reason as the action.
fn event_action(type_: &EventType, reason: &str, note: &str) -> String {
    match type_ {
        EventType::Warning => {
            let digest = super::hash::object_hash(note);
            format!("{reason}-{}", digest.get(..8).unwrap_or(&digest))
        }
        EventType::Normal => reason.into(),
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_with_different_texts_are_different_events() {
        let a = event_action(&EventType::Warning, "UpdateFailed", "store not ready");
        let b = event_action(&EventType::Warning, "UpdateFailed", "SignatureDoesNotMatch");
        assert_ne!(a, b);
        assert_eq!(
            a,
            event_action(&EventType::Warning, "UpdateFailed", "store not ready"),
            "the same error repeats as one event"
        );
        assert!(a.starts_with("UpdateFailed-") && a.len() == "UpdateFailed-".len() + 8);
        assert_eq!(
            event_action(&EventType::Normal, "Created", "secret created"),
            "Created"
        );
    }

    #[tokio::test]
    async fn draining_waits_for_the_events_in_flight() {
        use std::sync::Arc;
        use std::time::Duration;
        let slots = Arc::new(tokio::sync::Semaphore::new(EVENTS_IN_FLIGHT));
        // Nothing in flight: done at once.
        assert_eq!(drain_events(&slots, Duration::from_millis(10)).await, 0);
        assert_eq!(
            slots.available_permits(),
            EVENTS_IN_FLIGHT,
            "the slots are given back"
        );

        // Two events in flight, sent after 50 ms: the drain waits for them.
        let (a, b) = (
            slots.clone().acquire_owned().await.unwrap(),
            slots.clone().acquire_owned().await.unwrap(),
        );
        let sent = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = sent.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            drop((a, b));
        });
        assert_eq!(drain_events(&slots, Duration::from_secs(5)).await, 0);
        assert!(sent.load(std::sync::atomic::Ordering::SeqCst));

        // One that never finishes: the drain gives up at its limit and says how many are left.
        let _stuck = slots.clone().acquire_owned().await.unwrap();
        assert_eq!(drain_events(&slots, Duration::from_millis(50)).await, 1);
    }
}
