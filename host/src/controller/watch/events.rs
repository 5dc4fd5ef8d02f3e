//! From watch events to queued keys: which ExternalSecrets and stores an event makes worth a
//! look, and in which lane.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::{self, Event};
use kube::{Resource, ResourceExt};

use crate::controller::context::{Context, StoreKey};
use crate::controller::queue::Priority;
use crate::controller::{cluster_external_secret, external_secret, stores};
use crate::crd::{ExternalSecret, GenericStore};

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

pub(super) async fn on_external_secrets(
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
                cluster_external_secret::external_secret_changed(&ctx, &es);
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
                cluster_external_secret::external_secret_changed(&ctx, &es);
            }
            Ok(Event::Init | Event::InitDone) => {}
            Err(e) => tracing::warn!(error = %e, "ExternalSecret watch failed; retrying"),
        }
    }
}

fn store_fingerprint<S: GenericStore + Resource>(s: &S) -> (Option<i64>, bool) {
    (s.meta().generation, stores::is_ready(s))
}

pub(super) async fn on_stores<S>(
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
pub(super) async fn on_provider_changes(
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

pub(super) async fn on_secrets(
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
