//! Watches (reflectors) and the workers that drain the queues.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource, ResourceExt};
use tokio::task::JoinSet;

use super::backoff::Backoff;
use super::context::{Context, ES_REPORTER, STORE_REPORTER, Settings, StoreKey, reporter};
use super::queue::{Priority, WorkQueue};
use super::target::MANAGED_LABEL;
use super::{external_secret, secret_store, shared, stores};
use crate::crd::{ClusterSecretStore, ExternalSecret, GenericStore, SecretStore};
use crate::provider::SecretProvider;
use crate::transform::Transformer;

/// Handles of the watch tasks; dropping it does not stop them, [`Watches::abort`] does.
pub struct Watches(JoinSet<()>);

impl Watches {
    pub fn abort(mut self) {
        self.0.abort_all();
    }
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Starts every watch and returns the shared context.
pub fn start(
    client: Client,
    provider: Arc<dyn SecretProvider>,
    transformer: Arc<dyn Transformer>,
    settings: Settings,
    provider_changes: Option<tokio::sync::mpsc::UnboundedReceiver<String>>,
) -> (Arc<Context>, Watches) {
    let ns = settings.namespace.clone();
    let (es_store, es_writer) = reflector::store();
    let (ss_store, ss_writer) = reflector::store();
    let (css_store, css_writer) = reflector::store();
    let (secret_store, secret_writer) = reflector::store();
    let ctx = Arc::new(Context {
        client: client.clone(),
        provider: Arc::new(shared::Shared::new(provider)),
        transformer,
        recorder: kube::runtime::events::Recorder::new(client.clone(), reporter(ES_REPORTER)),
        store_recorder: kube::runtime::events::Recorder::new(
            client.clone(),
            reporter(STORE_REPORTER),
        ),
        settings,
        backoff: Backoff::default(),
        external_secrets: es_store,
        stores: ss_store,
        cluster_stores: css_store,
        secrets: secret_store,
        queue: WorkQueue::default(),
        store_queue: WorkQueue::default(),
        synced: Mutex::default(),
        targets: Mutex::default(),
        failing: Mutex::default(),
        event_slots: Arc::new(tokio::sync::Semaphore::new(
            super::context::EVENTS_IN_FLIGHT,
        )),
    });

    let mut tasks = JoinSet::new();
    let es = guarded::<ExternalSecret>(&client, ns.as_deref()).reflect(es_writer);
    tasks.spawn(on_external_secrets(ctx.clone(), es));
    let ss = guarded::<SecretStore>(&client, ns.as_deref()).reflect(ss_writer);
    tasks.spawn(on_stores(ctx.clone(), ss));
    if ctx.settings.cluster_stores {
        let css = guarded::<ClusterSecretStore>(&client, None).reflect(css_writer);
        tasks.spawn(on_stores(ctx.clone(), css));
    } else {
        drop(css_writer);
    }
    let managed = watcher::Config::default().labels(&format!("{MANAGED_LABEL}=true"));
    let secrets = watcher(
        api::<PartialObjectMeta<Secret>>(&client, ns.as_deref()),
        managed,
    )
    .default_backoff()
    .modify(|s| s.metadata.managed_fields = None)
    .reflect(secret_writer);
    tasks.spawn(on_secrets(ctx.clone(), secrets));
    if let Some(changes) = provider_changes {
        tasks.spawn(on_provider_changes(ctx.clone(), changes));
    }
    (ctx, Watches(tasks))
}

use kube::runtime::watcher::watcher;

/// Watches `K` as untyped objects and converts each one: an object that does not decode is
/// reported (log line with its name and the decoding error) and skipped, so one bad object never
/// stalls the watch of all the others.
fn guarded<K>(
    client: &Client,
    namespace: Option<&str>,
) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()>
        + serde::de::DeserializeOwned
        + Clone
        + std::fmt::Debug
        + Send
        + 'static,
{
    let resource = kube::api::ApiResource::erase::<K>(&());
    let api: Api<kube::api::DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    watcher(api, watcher::Config::default())
        .default_backoff()
        .filter_map(|event| async move {
            match event {
                Ok(Event::Apply(o)) => decode(o).map(|k| Ok(Event::Apply(k))),
                Ok(Event::InitApply(o)) => decode(o).map(|k| Ok(Event::InitApply(k))),
                Ok(Event::Delete(o)) => decode(o).map(|k| Ok(Event::Delete(k))),
                Ok(Event::Init) => Some(Ok(Event::Init)),
                Ok(Event::InitDone) => Some(Ok(Event::InitDone)),
                Err(e) => Some(Err(e)),
            }
        })
}

/// Converts an untyped object; `None` (after a log line) when it does not match the schema.
/// `metadata.managedFields` is dropped: the caches never need it and it is often the largest
/// part of an object.
pub fn decode<K: Resource<DynamicType = ()> + serde::de::DeserializeOwned>(
    mut obj: kube::api::DynamicObject,
) -> Option<K> {
    obj.metadata.managed_fields = None;
    let name = obj.name_any();
    let namespace = obj.namespace();
    let value = match serde_json::to_value(&obj) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(kind = %K::kind(&()), %name, ?namespace, error = %e, "skipping an object that cannot be encoded");
            return None;
        }
    };
    match serde_json::from_value(value) {
        Ok(k) => Some(k),
        Err(e) => {
            tracing::error!(kind = %K::kind(&()), %name, ?namespace, error = %e, "skipping a malformed object");
            None
        }
    }
}

/// What makes an ExternalSecret event worth a reconcile (ESO's predicate): generation, labels,
/// annotations, finalizers or deletion — never a status-only update (such as our own).
#[derive(Debug, PartialEq, Eq)]
struct EsFingerprint {
    generation: Option<i64>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    finalizers: Vec<String>,
    deleting: bool,
}

fn es_fingerprint(es: &ExternalSecret) -> EsFingerprint {
    EsFingerprint {
        generation: es.metadata.generation,
        labels: es.labels().clone(),
        annotations: es.annotations().clone(),
        finalizers: es.finalizers().to_vec(),
        deleting: es.metadata.deletion_timestamp.is_some(),
    }
}

fn never_synced(es: &ExternalSecret) -> bool {
    es.status
        .as_ref()
        .and_then(|s| s.synced_resource_version.as_deref())
        .is_none_or(str::is_empty)
}

async fn on_external_secrets(
    ctx: Arc<Context>,
    stream: impl Stream<Item = Result<Event<ExternalSecret>, watcher::Error>>,
) {
    let mut seen = HashMap::new();
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Apply(es) | Event::InitApply(es)) => {
                let key = ObjectRef::from_obj(&es);
                let print = es_fingerprint(&es);
                let first = !seen.contains_key(&key);
                if seen.get(&key) == Some(&print) {
                    continue;
                }
                seen.insert(key.clone(), print);
                let priority = if !first || never_synced(&es) {
                    Priority::Urgent
                } else {
                    Priority::Normal
                };
                ctx.queue.add(key, Duration::ZERO, priority);
            }
            Ok(Event::Delete(es)) => {
                let key = ObjectRef::from_obj(&es);
                seen.remove(&key);
                ctx.queue.forget(&key);
                external_secret::forget(&ctx, &key);
            }
            Ok(Event::Init | Event::InitDone) => {}
            Err(e) => tracing::warn!(error = %e, "ExternalSecret watch failed; retrying"),
        }
    }
}

fn store_fingerprint<S: GenericStore + Resource>(s: &S) -> (Option<i64>, bool) {
    (s.meta().generation, stores::is_ready(s))
}

async fn on_stores<S>(
    ctx: Arc<Context>,
    stream: impl Stream<Item = Result<Event<S>, watcher::Error>>,
) where
    S: GenericStore + Resource<DynamicType = ()> + Clone + std::fmt::Debug + Send + Sync + 'static,
{
    let mut seen = HashMap::new();
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        let (store, deleted) = match event {
            Ok(Event::Apply(s) | Event::InitApply(s)) => (s, false),
            Ok(Event::Delete(s)) => (s, true),
            Ok(Event::Init | Event::InitDone) => continue,
            Err(e) => {
                tracing::warn!(error = %e, kind = S::KIND.as_str(), "store watch failed; retrying");
                continue;
            }
        };
        let key = StoreKey {
            namespace: store.namespace(),
            name: store.name_any(),
        };
        let print = store_fingerprint(&store);
        if !deleted && seen.get(&key) == Some(&print) {
            continue;
        }
        let spec_changed = seen.get(&key).map(|p: &(Option<i64>, bool)| p.0) != Some(print.0);
        if deleted {
            seen.remove(&key);
            ctx.store_queue.forget(&key);
        } else {
            seen.insert(key.clone(), print);
            if spec_changed {
                ctx.store_queue
                    .add(key.clone(), Duration::ZERO, Priority::Urgent);
            }
        }
        requeue_users(&ctx, S::KIND, &key);
    }
}

/// A provider key got another component or ceiling: validate the stores using it again.
async fn on_provider_changes(
    ctx: Arc<Context>,
    mut changes: tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    while let Some(key) = changes.recv().await {
        for s in ctx.stores.state() {
            if s.spec.provider.name() == Some(key.as_str()) {
                ctx.store_queue.add(
                    StoreKey {
                        namespace: s.namespace(),
                        name: s.name_any(),
                    },
                    Duration::ZERO,
                    Priority::Urgent,
                );
            }
        }
        for s in ctx.cluster_stores.state() {
            if s.spec.provider.name() == Some(key.as_str()) {
                ctx.store_queue.add(
                    StoreKey {
                        namespace: None,
                        name: s.name_any(),
                    },
                    Duration::ZERO,
                    Priority::Urgent,
                );
            }
        }
    }
}

/// A store changed (spec, readiness) or went away: the ExternalSecrets using it are looked at now.
fn requeue_users(ctx: &Context, kind: crate::crd::StoreKind, store: &StoreKey) {
    for es in ctx.external_secrets.state() {
        let ns = es.namespace().unwrap_or_default();
        let uses = stores::referenced(&es).iter().any(|r| {
            r.effective_kind() == kind
                && r.name == store.name
                && (store.namespace.is_none() || store.namespace.as_deref() == Some(ns.as_str()))
        });
        if uses {
            ctx.queue.add(
                ObjectRef::from_obj(es.as_ref()),
                Duration::ZERO,
                Priority::Urgent,
            );
        }
    }
}

async fn on_secrets(
    ctx: Arc<Context>,
    stream: impl Stream<Item = Result<Event<kube::core::PartialObjectMeta<Secret>>, watcher::Error>>,
) {
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        let (secret, deleted) = match event {
            Ok(Event::Apply(s) | Event::InitApply(s)) => (s, false),
            Ok(Event::Delete(s)) => (s, true),
            Ok(Event::Init | Event::InitDone) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "Secret metadata watch failed; retrying");
                continue;
            }
        };
        let ns = secret.namespace().unwrap_or_default();
        let mut names: HashSet<String> = secret
            .owner_references()
            .iter()
            .filter(|r| r.kind == "ExternalSecret" && r.controller == Some(true))
            .map(|r| r.name.clone())
            .collect();
        if let Some(writers) = ctx.lock_targets().get(&(ns.clone(), secret.name_any())) {
            names.extend(writers.iter().cloned());
        }
        for name in names {
            // The echo of this controller's own write: nothing to look at.
            let key = ObjectRef::new(&name).within(&ns);
            if !deleted
                && secret.resource_version().is_some()
                && secret.resource_version() == ctx.synced(&key).secret_resource_version
            {
                continue;
            }
            ctx.queue.add(key, Duration::ZERO, Priority::Urgent);
        }
    }
}

/// The oldest shared fetch a periodic refresh of this ExternalSecret accepts: one made after
/// half its refresh interval had passed since its last sync. That is never its own previous
/// fetch, and a value at most about half an interval old when the refresh is due.
fn refresh_not_before(
    ctx: &Context,
    key: &ObjectRef<ExternalSecret>,
) -> Option<tokio::time::Instant> {
    let es = ctx.external_secrets.get(key)?;
    let half = super::refresh::interval(&es) / 2;
    if half.is_zero() {
        return None;
    }
    let (at, _) = super::refresh::last_sync(&es, &ctx.synced(key));
    let age = Duration::try_from(k8s_openapi::jiff::Timestamp::now().duration_since(at?)).ok()?;
    let now = tokio::time::Instant::now();
    Some(now.checked_sub(age).map_or(now, |synced| synced + half))
}

/// Runs the workers until they are aborted: `--concurrent` for ExternalSecrets (a quarter of
/// them only for new or changed objects), two for stores.
pub async fn workers(ctx: Arc<Context>) {
    // Stores first: the flood gate needs their readiness, and the ExternalSecret cache must be
    // complete before store events fan out.
    let _ = ctx.stores.wait_until_ready().await;
    if ctx.settings.cluster_stores {
        let _ = ctx.cluster_stores.wait_until_ready().await;
    }
    let _ = ctx.external_secrets.wait_until_ready().await;
    let _ = ctx.secrets.wait_until_ready().await;
    let mut set = JoinSet::new();
    // A quarter of the workers take only new or changed objects, so those never wait for a
    // refresh to finish; the rest take both lanes, urgent first.
    let total = ctx.settings.concurrent.max(1);
    let urgent_only = total / 4;
    for i in 0..total {
        let ctx = ctx.clone();
        let only_urgent = i < urgent_only;
        set.spawn(async move {
            loop {
                let (key, lane, waited) = if only_urgent {
                    let (key, waited) = ctx.queue.next_urgent_timed().await;
                    (key, Priority::Urgent, waited)
                } else {
                    ctx.queue.next_timed().await
                };
                crate::metrics::global()
                    .queue_wait
                    .get_or_create(&crate::metrics::LaneLabel {
                        lane: match lane {
                            Priority::Urgent => "urgent",
                            Priority::Normal => "normal",
                        },
                    })
                    .observe(waited.as_secs_f64());
                let not_before = (lane == Priority::Normal)
                    .then(|| refresh_not_before(&ctx, &key))
                    .flatten();
                let next = shared::NOT_BEFORE
                    .scope(not_before, external_secret::reconcile(&ctx, &key, lane))
                    .await;
                ctx.queue.done(&key);
                if let Some((delay, priority)) = next {
                    ctx.queue.add(key, delay, priority);
                }
            }
        });
    }
    for _ in 0..2 {
        let ctx = ctx.clone();
        set.spawn(async move {
            loop {
                let key = ctx.store_queue.next().await;
                let next = secret_store::reconcile(&ctx, &key).await;
                ctx.store_queue.done(&key);
                if let Some((delay, priority)) = next {
                    ctx.store_queue.add(key, delay, priority);
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
