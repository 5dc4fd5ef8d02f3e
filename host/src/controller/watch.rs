//! Watches (reflectors) and the workers that drain the queues.
//!
//! This module starts the watches and fills the caches; `events` turns watch events into queued
//! keys, `workers` takes keys from the queues and reconciles them.

mod events;
#[cfg(test)]
mod tests;
mod workers;

use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Client, Resource, ResourceExt};
use tokio::task::JoinSet;

use super::backoff::Backoff;
use super::cluster_external_secret;
use super::cluster_push_secret;
use super::context::{Context, ES_REPORTER, STORE_REPORTER, Settings, reporter};
use super::push_secret;
use super::queue::WorkQueue;
use super::shared;
use super::target::MANAGED_LABEL;
use crate::crd::{
    ClusterExternalSecret, ClusterPushSecret, ClusterSecretStore, ExternalSecret, PushSecret,
    SecretStore,
};
use crate::metrics::Metrics;
use crate::metrics::runtime::{Controller, QueueProbe};
use crate::provider::SecretProvider;
use crate::transform::Transformer;

pub use workers::workers;

/// Handles of the watch tasks; [`Watches::abort`] (or dropping it) stops them.
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

/// What fills the context's caches: one writer per watch.
struct Writers {
    external_secrets: Writer<ExternalSecret>,
    stores: Writer<SecretStore>,
    cluster_stores: Writer<ClusterSecretStore>,
    secrets: Writer<PartialObjectMeta<Secret>>,
    cluster_external_secrets: Writer<ClusterExternalSecret>,
    namespaces: Writer<PartialObjectMeta<Namespace>>,
    push_secrets: Writer<PushSecret>,
    cluster_push_secrets: Writer<ClusterPushSecret>,
    generator_states: Writer<crate::crd::generators::GeneratorState>,
    /// Set by [`caches_synced`] (see [`Context::caches_listed`]).
    listed: tokio::sync::watch::Sender<bool>,
}

/// The shared context with empty caches and queues, and the writers of its caches.
fn context(
    client: Client,
    provider: Arc<dyn SecretProvider>,
    transformer: Arc<dyn Transformer>,
    generators: Arc<dyn ampoule_sandbox::generator::SecretGenerator>,
    settings: Settings,
    metrics: Arc<Metrics>,
    class_health: Arc<super::class_health::ClassHealth>,
) -> (Arc<Context>, Writers) {
    let (es_store, es_writer) = reflector::store();
    let (ss_store, ss_writer) = reflector::store();
    let (css_store, css_writer) = reflector::store();
    let (secret_store, secret_writer) = reflector::store();
    let (ces_store, ces_writer) = reflector::store();
    let (ns_store, ns_writer) = reflector::store();
    let (ps_store, ps_writer) = reflector::store();
    let (cps_store, cps_writer) = reflector::store();
    let (gs_store, gs_writer) = reflector::store();
    let (listed, caches_listed) = tokio::sync::watch::channel(false);
    let queues = Queues::new(&metrics, &settings);
    let ctx = Arc::new(Context {
        client: client.clone(),
        provider: Arc::new(shared::Shared::new(provider)),
        transformer,
        recorder: super::recorder::Recorder::new(client.clone(), reporter(ES_REPORTER)),
        push_secrets: push_secret::State {
            queue: queues.push_secrets,
            ..push_secret::State::new(ps_store, client.clone())
        },
        cluster_push_secrets: cluster_push_secret::State {
            queue: queues.cluster_push_secrets,
            ..cluster_push_secret::State::new(cps_store, client.clone())
        },
        generators,
        generator_states: super::generators::GcState::new(gs_store),
        store_recorder: super::recorder::Recorder::new(client, reporter(STORE_REPORTER)),
        settings,
        backoff: Backoff::default(),
        external_secrets: es_store,
        stores: ss_store,
        cluster_stores: css_store,
        secrets: secret_store,
        queue: queues.external_secrets,
        store_queue: queues.stores,
        synced: Mutex::default(),
        targets: Mutex::default(),
        failing: Mutex::default(),
        event_slots: Arc::new(tokio::sync::Semaphore::new(
            super::context::EVENTS_IN_FLIGHT,
        )),
        caches_listed,
        metrics,
        cluster_external_secrets: cluster_external_secret::State {
            queue: queues.cluster_external_secrets,
            ..cluster_external_secret::State::new(ces_store, ns_store)
        },
        class_health,
    });
    let probe: Arc<dyn QueueProbe> = ctx.clone();
    ctx.metrics.runtime.watch_queues(Arc::downgrade(&probe));
    let writers = Writers {
        external_secrets: es_writer,
        stores: ss_writer,
        cluster_stores: css_writer,
        secrets: secret_writer,
        cluster_external_secrets: ces_writer,
        namespaces: ns_writer,
        push_secrets: ps_writer,
        cluster_push_secrets: cps_writer,
        generator_states: gs_writer,
        listed,
    };
    (ctx, writers)
}

/// The controllers' queues, each recording controller-runtime's `workqueue_*` metrics under its
/// controller's name when that controller runs.
struct Queues {
    external_secrets: WorkQueue<kube::runtime::reflector::ObjectRef<ExternalSecret>>,
    stores: WorkQueue<super::context::StoreKey>,
    cluster_external_secrets: WorkQueue<String>,
    push_secrets: WorkQueue<kube::runtime::reflector::ObjectRef<PushSecret>>,
    cluster_push_secrets: WorkQueue<String>,
}

impl Queues {
    fn new(metrics: &Metrics, settings: &Settings) -> Self {
        fn of<K: Clone + Eq + std::hash::Hash + 'static>(
            metrics: &Metrics,
            on: bool,
            c: Controller,
        ) -> WorkQueue<K> {
            if on {
                WorkQueue::observed(metrics.runtime.queue(), move |_| c, vec![c])
            } else {
                WorkQueue::default()
            }
        }
        let mut store_controllers = vec![Controller::SecretStore];
        if settings.cluster_stores {
            store_controllers.push(Controller::ClusterSecretStore);
        }
        Queues {
            external_secrets: of(metrics, true, Controller::ExternalSecret),
            stores: WorkQueue::observed(
                metrics.runtime.queue(),
                super::secret_store::controller_of,
                store_controllers,
            ),
            cluster_external_secrets: of(
                metrics,
                settings.cluster_external_secrets,
                Controller::ClusterExternalSecret,
            ),
            push_secrets: of(metrics, settings.push_secrets, Controller::PushSecret),
            cluster_push_secrets: of(
                metrics,
                settings.cluster_push_secrets,
                Controller::ClusterPushSecret,
            ),
        }
    }
}

/// Starts every watch and returns the shared context.
#[allow(clippy::too_many_arguments)]
pub fn start(
    client: Client,
    provider: Arc<dyn SecretProvider>,
    transformer: Arc<dyn Transformer>,
    generators: Arc<dyn ampoule_sandbox::generator::SecretGenerator>,
    settings: Settings,
    metrics: Arc<Metrics>,
    provider_changes: Option<tokio::sync::mpsc::UnboundedReceiver<String>>,
    class_health: Arc<super::class_health::ClassHealth>,
) -> (Arc<Context>, Watches) {
    let ns = settings.namespace.clone();
    let (ctx, writers) = context(
        client.clone(),
        provider,
        transformer,
        generators,
        settings,
        metrics,
        class_health,
    );

    let mut tasks = JoinSet::new();
    let es = guarded::<ExternalSecret>(&client, ns.as_deref()).reflect(writers.external_secrets);
    tasks.spawn(events::on_external_secrets(ctx.clone(), es));
    let ss = guarded::<SecretStore>(&client, ns.as_deref()).reflect(writers.stores);
    tasks.spawn(events::on_stores(ctx.clone(), ss));
    if ctx.settings.cluster_stores {
        let css = guarded::<ClusterSecretStore>(&client, None).reflect(writers.cluster_stores);
        tasks.spawn(events::on_stores(ctx.clone(), css));
    } else {
        drop(writers.cluster_stores);
    }
    let managed = watcher::Config::default().labels(&format!("{MANAGED_LABEL}=true"));
    let secrets = watcher(
        api::<PartialObjectMeta<Secret>>(&client, ns.as_deref()),
        managed,
    )
    .default_backoff()
    .inspect(|ev| report("Secret", ev))
    .modify(slim_secret)
    .reflect(writers.secrets);
    tasks.spawn(events::on_secrets(ctx.clone(), secrets));
    if ctx.settings.cluster_external_secrets {
        let ces = guarded::<ClusterExternalSecret>(&client, None)
            .reflect(writers.cluster_external_secrets);
        tasks.spawn(cluster_external_secret::on_objects(ctx.clone(), ces));
    } else {
        drop(writers.cluster_external_secrets);
    }
    if ctx.settings.cluster_external_secrets || ctx.settings.cluster_push_secrets {
        // Metadata only: names, labels and deletion are all the selection reads.
        let namespaces = watcher(
            Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
            watcher::Config::default(),
        )
        .default_backoff()
        .inspect(|ev| report("Namespace", ev))
        .modify(|n| n.metadata.managed_fields = None)
        .reflect(writers.namespaces);
        tasks.spawn(cluster_external_secret::on_namespaces(
            ctx.clone(),
            namespaces,
        ));
    } else {
        drop(writers.namespaces);
    }
    if ctx.settings.cluster_push_secrets {
        let cps = guarded::<ClusterPushSecret>(&client, None).reflect(writers.cluster_push_secrets);
        tasks.spawn(cluster_push_secret::on_objects(ctx.clone(), cps));
    } else {
        drop(writers.cluster_push_secrets);
    }
    if ctx.settings.push_secrets {
        let ps = guarded::<PushSecret>(&client, ns.as_deref()).reflect(writers.push_secrets);
        tasks.spawn(push_secret::on_objects(ctx.clone(), ps));
    } else {
        drop(writers.push_secrets);
    }
    let states = guarded::<crate::crd::generators::GeneratorState>(&client, ns.as_deref())
        .reflect(writers.generator_states);
    tasks.spawn(super::generators::on_states(ctx.clone(), states));
    if let Some(changes) = provider_changes {
        tasks.spawn(events::on_provider_changes(ctx.clone(), changes));
    }
    tasks.spawn(caches_synced(ctx.clone(), writers.listed));
    (ctx, Watches(tasks))
}

/// Marks the caches synced (the workers start, `/readyz` counts it) once every watch has listed
/// its objects. The only waiter on the stores' readiness (see [`Context::caches_listed`]); the
/// stores are waited for first, since the flood gate needs their readiness.
async fn caches_synced(ctx: Arc<Context>, done: tokio::sync::watch::Sender<bool>) {
    let listed = async {
        ctx.stores.wait_until_ready().await?;
        if ctx.settings.cluster_stores {
            ctx.cluster_stores.wait_until_ready().await?;
        }
        ctx.external_secrets.wait_until_ready().await?;
        ctx.secrets.wait_until_ready().await
    };
    match listed.await {
        Ok(()) => {
            // Logged first: whoever sees /readyz turn 200 finds the line in the log.
            tracing::info!("caches synced");
            crate::health::global().set_caches_synced();
        }
        Err(e) => tracing::warn!(error = %e, "a watch stopped before it listed its objects"),
    }
    // The workers start either way, as they did when a watch stopped early.
    done.send_replace(true);
}

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
    let kind = K::kind(&()).into_owned();
    watcher(api, watcher::Config::default())
        .default_backoff()
        .inspect(move |ev| report(&kind, ev))
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

/// Keeps of a managed Secret's metadata what the controller reads from the cache: name,
/// namespace, resourceVersion, uid, the `created-by` label (renamed targets) and the controlling
/// owner reference. The rest (managedFields, annotations, other labels and owners, timestamps) is
/// dropped: it was about 2.3 KB per Secret, as much as the ExternalSecret itself, and the
/// checks that need a Secret's data or annotations read the Secret from the apiserver.
pub fn slim_secret(s: &mut PartialObjectMeta<Secret>) {
    let m = &mut s.metadata;
    m.managed_fields = None;
    m.annotations = None;
    m.creation_timestamp = None;
    m.generation = None;
    m.finalizers = None;
    m.generate_name = None;
    m.self_link = None;
    m.deletion_grace_period_seconds = None;
    if let Some(labels) = &mut m.labels {
        labels.retain(|k, _| k == super::target::CREATED_BY);
        if labels.is_empty() {
            m.labels = None;
        }
    }
    if let Some(owners) = &mut m.owner_references {
        owners.retain(|r| r.controller == Some(true));
        for r in owners.iter_mut() {
            r.block_owner_deletion = None;
        }
        if owners.is_empty() {
            m.owner_references = None;
        }
    }
    s.types = None;
}

/// Tells `/healthz` what a watch delivered (see [`crate::health`]: a watch failing for longer than
/// the limit makes the process not live).
pub fn report<T>(kind: &str, event: &Result<T, watcher::Error>) {
    let error = event.as_ref().err().map(|e| e as &dyn std::fmt::Display);
    crate::health::global().watch_result(kind, error);
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
