//! The queue behaviour of the ExternalSecret controller, driven through the real context, queue,
//! event handler and worker turn: the urgent lane hands a due periodic refresh to the normal lane
//! (never a failing object's), the echo of the controller's own Secret write is not queued, and
//! the wait and phase histograms get their samples.
//!
//! No apiserver is needed for what is tested: the context's client points at a listener that
//! closes every connection (so a test can tell whether an API call was made), and the provider
//! is a test backend that counts its calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::{self, Event};
use serde_json::json;

use super::events::on_secrets;
use super::workers::work_once;
use super::*;
use crate::controller::backoff;
use crate::controller::queue::Priority;
use crate::controller::refresh;
use crate::crd::ExternalSecretStatus;

const NS: &str = "lanes";

mod ces;
mod doubles;
use crate::controller::counting::Counting;
use doubles::NoTemplates;

/// A context whose caches hold ExternalSecret `app` (synced two hours ago in its current
/// version, refresh interval 1h: its periodic refresh is due), its store `backend`, and its
/// target Secret `app` at resourceVersion 7, which this controller wrote (memory says so).
struct Fixture {
    ctx: Arc<Context>,
    /// Held so the caches stay as the test filled them.
    _writers: Writers,
    key: ObjectRef<ExternalSecret>,
    calls: Arc<AtomicUsize>,
    /// Connections made to the (closing) apiserver address.
    api_connections: Arc<AtomicUsize>,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl Fixture {
    async fn new(provider_failing: bool) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let api_connections = Arc::new(AtomicUsize::new(0));
        let listener = tokio::spawn({
            let count = api_connections.clone();
            async move {
                while let Ok((conn, _)) = listener.accept().await {
                    count.fetch_add(1, Ordering::SeqCst);
                    drop(conn);
                }
            }
        });
        let client = Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let provider = Arc::new(Counting {
            calls: calls.clone(),
            failing: provider_failing,
            ..Counting::default()
        });
        let settings = Settings {
            namespace: Some(NS.into()),
            flood_gate: false,
            ..Settings::default()
        };
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let (ctx, mut writers) = context(
            client,
            provider,
            Arc::new(NoTemplates),
            Arc::new(crate::controller::generators::NoGenerators),
            settings,
            metrics,
            Arc::default(),
        );

        let store: SecretStore = serde_json::from_value(json!({
            "apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
            "metadata": {"name": "backend", "namespace": NS, "generation": 1},
            "spec": {"provider": {"test": {}}}
        }))
        .unwrap();
        writers.stores.apply_watcher_event(&Event::Apply(store));
        let es = refresh_due("app");
        let key = ObjectRef::from_obj(&es);
        writers
            .external_secrets
            .apply_watcher_event(&Event::Apply(es));
        writers
            .secrets
            .apply_watcher_event(&Event::Apply(target("app", "7", Some("app"))));
        ctx.lock_synced()
            .entry(key.clone())
            .or_default()
            .secret_resource_version = Some("7".into());
        Self {
            ctx,
            _writers: writers,
            key,
            calls,
            api_connections,
            listener,
        }
    }

    fn provider_calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn api_connections(&self) -> usize {
        self.api_connections.load(Ordering::SeqCst)
    }
}

/// ExternalSecret `name`, synced two hours ago in its current version, refreshed every hour.
fn refresh_due(name: &str) -> ExternalSecret {
    let mut es: ExternalSecret = serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": NS, "generation": 1},
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"name": "backend"},
            "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]
        }
    }))
    .unwrap();
    let synced = Timestamp::now()
        .checked_sub(SignedDuration::from_hours(2))
        .unwrap();
    es.status = Some(ExternalSecretStatus {
        refresh_time: Some(Time(synced)),
        synced_resource_version: Some(refresh::current_version(&es)),
        ..Default::default()
    });
    es
}

/// Metadata of a managed Secret as the Secret watch delivers it, controlled by ExternalSecret
/// `owner` when given.
fn target(name: &str, resource_version: &str, owner: Option<&str>) -> PartialObjectMeta<Secret> {
    let owners: Vec<_> = owner
        .map(|o| {
            json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "name": o,
                   "uid": "0000", "controller": true})
        })
        .into_iter()
        .collect();
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": NS, "resourceVersion": resource_version,
                     "labels": {MANAGED_LABEL: "true"}, "ownerReferences": owners}
    }))
    .unwrap()
}

/// The value of one series in the fixture's metrics (0 when it has no sample yet).
fn sample(metrics: &crate::metrics::Metrics, series: &str) -> f64 {
    metrics
        .encode()
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn waits(f: &Fixture, lane: &str) -> f64 {
    sample(
        &f.ctx.metrics,
        &format!("ampoule_workqueue_wait_seconds_count{{lane=\"{lane}\"}}"),
    )
}

fn phases(f: &Fixture, phase: &str) -> f64 {
    sample(
        &f.ctx.metrics,
        &format!("ampoule_reconcile_phase_seconds_count{{phase=\"{phase}\"}}"),
    )
}

#[tokio::test]
async fn a_due_refresh_taken_from_the_urgent_lane_is_handed_to_the_normal_lane() {
    let f = Fixture::new(false).await;
    let (urgent, normal) = (waits(&f, "urgent"), waits(&f, "normal"));
    let (check, fetch) = (phases(&f, "check"), phases(&f, "fetch"));

    // Say a Secret event put the object in the urgent lane just as its refresh fell due.
    f.ctx
        .queue
        .add(f.key.clone(), Duration::ZERO, Priority::Urgent);
    work_once(&f.ctx, true).await;
    assert_eq!(
        f.provider_calls(),
        0,
        "the refresh is not done in the urgent lane"
    );
    assert_eq!(f.api_connections(), 0, "nor is anything written");
    assert_eq!(f.ctx.queue.len(), 1, "the key waits again");
    assert!(!f.ctx.is_failing(&f.key));
    assert!(waits(&f, "urgent") > urgent, "the urgent wait is observed");
    assert!(phases(&f, "check") > check, "the target check is timed");

    // A worker of both lanes takes urgent keys first: only in the normal lane does the key get
    // refreshed (taken from the urgent lane again it would be handed off again).
    work_once(&f.ctx, false).await;
    assert_eq!(f.provider_calls(), 1, "refreshed from the normal lane");
    assert!(waits(&f, "normal") > normal, "the normal wait is observed");
    assert!(phases(&f, "fetch") > fetch, "the fetch is timed");
}

#[tokio::test]
async fn a_failing_object_is_retried_in_the_urgent_lane_and_keeps_its_backoff() {
    let f = Fixture::new(true).await;
    let key = f.key.to_string();
    f.ctx.set_failing(&f.key, true);
    for _ in 0..3 {
        f.ctx.backoff.failed(&key);
    }

    f.ctx
        .queue
        .add(f.key.clone(), Duration::ZERO, Priority::Urgent);
    work_once(&f.ctx, true).await;
    assert_eq!(
        f.provider_calls(),
        1,
        "a failing object is synced where it was taken, not handed off"
    );
    assert!(f.ctx.is_failing(&f.key));
    assert_eq!(
        f.ctx.backoff.failed(&key),
        backoff::delay_for(4),
        "its backoff went on from three failures to four, it was not reset"
    );
    assert_eq!(f.ctx.queue.len(), 1, "retried later");
}

async fn secret_events(ctx: &Arc<Context>, events: Vec<Event<PartialObjectMeta<Secret>>>) {
    let stream = futures::stream::iter(events.into_iter().map(Ok::<_, watcher::Error>));
    on_secrets(ctx.clone(), stream).await;
}

#[tokio::test]
async fn the_echo_of_the_controllers_own_write_is_not_queued() {
    let f = Fixture::new(false).await;
    let ctx = &f.ctx;

    secret_events(ctx, vec![Event::Apply(target("app", "7", Some("app")))]).await;
    assert!(ctx.queue.is_empty(), "the Secret this controller wrote");

    secret_events(ctx, vec![Event::Apply(target("app", "8", Some("app")))]).await;
    let (key, lane) = ctx.queue.next_with_priority().await;
    assert_eq!(
        (&key, lane),
        (&f.key, Priority::Urgent),
        "changed by someone"
    );
    ctx.queue.done(&key);

    secret_events(ctx, vec![Event::Delete(target("app", "7", Some("app")))]).await;
    let (key, lane) = ctx.queue.next_with_priority().await;
    assert_eq!(
        (&key, lane),
        (&f.key, Priority::Urgent),
        "a deletion is never an echo"
    );
    ctx.queue.done(&key);

    // A Secret an ExternalSecret writes without owning it (creationPolicy Merge).
    let merger = ObjectRef::<ExternalSecret>::new("merger").within(NS);
    ctx.lock_targets()
        .entry((NS.into(), "shared".into()))
        .or_default()
        .insert("merger".into());
    ctx.lock_synced()
        .entry(merger.clone())
        .or_default()
        .secret_resource_version = Some("21".into());
    secret_events(ctx, vec![Event::Apply(target("shared", "21", None))]).await;
    assert!(ctx.queue.is_empty(), "the Secret `merger` wrote");
    secret_events(ctx, vec![Event::Apply(target("shared", "22", None))]).await;
    assert_eq!(
        ctx.queue.next_with_priority().await,
        (merger, Priority::Urgent)
    );
}

#[test]
fn malformed_objects_are_skipped_not_fatal() {
    let good: kube::api::DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": "ok", "namespace": "a", "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]},
        "spec": {"secretStoreRef": {"name": "s"}, "data": [{"secretKey": "k", "remoteRef": {"key": "x"}}]}
    }))
    .unwrap();
    let es = decode::<ExternalSecret>(good).unwrap();
    assert_eq!(
        es.metadata.managed_fields, None,
        "caches never keep managedFields"
    );
    let bad: kube::api::DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": "bad", "namespace": "a"},
        "spec": {"data": [{"secretKey": 42}]}
    }))
    .unwrap();
    assert!(decode::<ExternalSecret>(bad).is_none());
}

/// ExternalSecret `name`, new (never synced), reading key `k` of store `backend`.
fn new_es(name: &str) -> ExternalSecret {
    serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": NS, "generation": 1},
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"name": "backend"},
            "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn new_objects_share_a_fetch_made_after_their_event_and_never_an_older_one() {
    let mut f = Fixture::new(false).await;
    let (one, two) = (new_es("new-1"), new_es("new-2"));
    let (key_one, key_two) = (ObjectRef::from_obj(&one), ObjectRef::from_obj(&two));
    f._writers
        .external_secrets
        .apply_watcher_event(&Event::Apply(one));
    f._writers
        .external_secrets
        .apply_watcher_event(&Event::Apply(two));

    // Both created at once: the second takes the value the first fetched after both events.
    f.ctx
        .queue
        .add(key_one.clone(), Duration::ZERO, Priority::Urgent);
    f.ctx
        .queue
        .add(key_two.clone(), Duration::ZERO, Priority::Urgent);
    work_once(&f.ctx, true).await;
    work_once(&f.ctx, true).await;
    assert_eq!(
        f.provider_calls(),
        1,
        "one backend read for two new objects"
    );

    // A later event (a force-sync, a spec change) reads anew: the stored value is older.
    tokio::time::sleep(Duration::from_millis(5)).await;
    f.ctx.queue.add(key_one, Duration::ZERO, Priority::Urgent);
    work_once(&f.ctx, true).await;
    assert_eq!(
        f.provider_calls(),
        2,
        "a value fetched before the event is not taken"
    );
}

#[tokio::test]
async fn a_failing_object_takes_no_value_read_before_its_failure() {
    let mut f = Fixture::new(false).await;
    let other = new_es("other");
    let key_other = ObjectRef::from_obj(&other);
    f._writers
        .external_secrets
        .apply_watcher_event(&Event::Apply(other));
    f.ctx.queue.add(key_other, Duration::ZERO, Priority::Urgent);
    work_once(&f.ctx, true).await;
    assert_eq!(f.provider_calls(), 1, "another object read the key");

    // `app` (same store, same key) failed after that read and is retried from the normal lane:
    // its refresh window would accept the stored value, its failure does not.
    tokio::time::sleep(Duration::from_millis(5)).await;
    f.ctx.set_failing(&f.key, true);
    f.ctx
        .queue
        .add(f.key.clone(), Duration::ZERO, Priority::Normal);
    work_once(&f.ctx, false).await;
    assert_eq!(f.provider_calls(), 2, "the retry reads anew");
}

/// The Secret cache keeps what the controller reads (name, namespace, version, uid, created-by,
/// the controlling owner) and nothing else.
#[test]
fn the_secret_cache_keeps_only_what_the_controller_reads() {
    let mut s: PartialObjectMeta<Secret> = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "t", "namespace": NS, "uid": "u-1", "resourceVersion": "7",
            "creationTimestamp": "2026-12-07T10:00:00Z", "finalizers": ["x/y"],
            "labels": {"reconcile.external-secrets.io/managed": "true",
                       "reconcile.external-secrets.io/created-by": "abc", "team": "a"},
            "annotations": {"reconcile.external-secrets.io/data-hash": "h", "big": "x".repeat(4096)},
            "managedFields": [{"manager": "m", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": {}}],
            "ownerReferences": [
                {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "name": "es", "uid": "u-es",
                 "controller": true, "blockOwnerDeletion": true},
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "other", "uid": "u-cm"}]}
    }))
    .unwrap();
    slim_secret(&mut s);
    let want: PartialObjectMeta<Secret> = serde_json::from_value(json!({
        "metadata": {"name": "t", "namespace": NS, "uid": "u-1", "resourceVersion": "7",
            "labels": {"reconcile.external-secrets.io/created-by": "abc"},
            "ownerReferences": [{"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                                 "name": "es", "uid": "u-es", "controller": true}]}
    }))
    .unwrap();
    assert_eq!(s.metadata, want.metadata);
    assert!(s.types.is_none());
}
