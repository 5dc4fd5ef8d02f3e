//! PushSecret: writes a Secret of the PushSecret's namespace (or a generator's output) to the
//! stores it names, through their providers' `push-secret` (docs/eso-behaviour.md#pushsecret).
//!
//! Runs on the controllers' own runtime, as the ClusterExternalSecret controller does: the
//! PushSecret watch (malformed objects skipped) queues a PushSecret when its generation, labels,
//! annotations or deletion change (ESO's predicate: its own status writes do not); [`WORKERS`]
//! workers reconcile. A push is due when the PushSecret changed or `refreshInterval` has passed
//! since `status.refreshTime` ([`plan::due`]); a failure is retried with per-object backoff.
//! As in ESO there is no watch on the source Secret: a change to it is pushed at the next
//! refresh. With `deletionPolicy: Delete` a finalizer removes what was pushed when the PushSecret
//! goes, and entries no longer pushed are deleted from their stores.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use kube::runtime::events::EventType;

use super::recorder::Recorder;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Resource, ResourceExt};
use serde_json::Value;

use super::backoff::{self, Backoff};
use super::context::{Context, reporter};
use super::finalizers;
use super::queue::{Priority, WorkQueue};
use super::status::{now, set_condition};
use super::stores::{self, selector_matches};
use crate::crd::common::ConditionStatus;
use crate::crd::push_secret::{
    FINALIZER, PushSecret, PushSecretDeletionPolicy, PushSecretStatus, PushSecretUpdatePolicy,
    SyncedPushSecrets, reasons,
};
use crate::crd::template::TemplateMergePolicy;
use crate::crd::{ClusterSecretStore, SecretStore, SecretStoreRef, StoreKind};
use crate::metrics::runtime::{Controller, ReconcileResult};
use crate::provider::{ProviderClient, SecretValue};

#[path = "push_secret_plan.rs"]
pub mod plan;
use plan::{Data, Due, Entry, Target};

/// PushSecrets reconciled at once.
pub const WORKERS: usize = 4;

/// ESO's event source component for PushSecrets.
pub const REPORTER: &str = "pushsecret";

/// ESO's state key for a PushSecret's generator (`defaultGeneratorStateKey`).
const GENERATOR_STATE_KEY: &str = "__pushsecret";

/// ESO's `Ready=False` message when the source Secret cannot be read.
const ERR_GET_SECRET: &str = "could not get source secret";

/// The PushSecret controller's cache, queue and backoff (part of [`Context`]).
pub struct State {
    pub objects: Store<PushSecret>,
    pub queue: WorkQueue<ObjectRef<PushSecret>>,
    pub backoff: Backoff,
    pub recorder: Recorder,
}

impl State {
    pub fn new(objects: Store<PushSecret>, client: kube::Client) -> Self {
        Self {
            objects,
            queue: WorkQueue::default(),
            backoff: Backoff::default(),
            recorder: Recorder::new(client, reporter(REPORTER)),
        }
    }
}

/// What a change must touch to queue the PushSecret (ESO's `shouldReconcilePushSecretUpdate`).
fn fingerprint(ps: &PushSecret) -> (Option<i64>, String, bool) {
    (
        ps.metadata.generation,
        plan::current_version(ps),
        ps.metadata.deletion_timestamp.is_some(),
    )
}

/// PushSecret watch events.
pub(super) async fn on_objects(
    ctx: Arc<Context>,
    stream: impl Stream<Item = Result<Event<PushSecret>, watcher::Error>>,
) {
    let state = &ctx.push_secrets;
    let mut seen = std::collections::HashMap::new();
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Apply(ps) | Event::InitApply(ps)) => {
                let key = ObjectRef::from_obj(&ps);
                let print = fingerprint(&ps);
                if seen.get(&key) == Some(&print) {
                    continue;
                }
                seen.insert(key.clone(), print);
                state.queue.add(key, Duration::ZERO, Priority::Urgent);
                super::cluster_push_secret::push_secret_changed(&ctx, &ps);
            }
            Ok(Event::Delete(ps)) => {
                let key = ObjectRef::from_obj(&ps);
                seen.remove(&key);
                state.queue.forget(&key);
                state.backoff.reset(&key.to_string());
                let (name, ns) = (ps.name_any(), ps.namespace().unwrap_or_default());
                ctx.metrics.forget_push_secret(&name, &ns);
                super::cluster_push_secret::push_secret_changed(&ctx, &ps);
            }
            Ok(Event::Init | Event::InitDone) => {}
            Err(e) => tracing::warn!(error = %e, "PushSecret watch failed; retrying"),
        }
    }
}

/// Runs the workers until aborted; they start once the caches are complete.
pub async fn workers(ctx: Arc<Context>) {
    let mut listed = ctx.caches_listed.clone();
    let _ = listed.wait_for(|l| *l).await;
    if let Err(e) = ctx.push_secrets.objects.wait_until_ready().await {
        tracing::warn!(error = %e, "the PushSecret watch stopped before it listed its objects");
    }
    ctx.metrics
        .runtime
        .controller_started(Controller::PushSecret, WORKERS);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..WORKERS {
        let ctx = ctx.clone();
        set.spawn(async move {
            loop {
                work_once(&ctx).await;
            }
        });
    }
    while set.join_next().await.is_some() {}
}

/// When to look at a PushSecret again after a reconcile that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    After(Duration),
    /// Only a change of the PushSecret queues it again.
    Never,
}

/// One turn of a worker: takes a due PushSecret, reconciles it and queues it again.
pub(super) async fn work_once(ctx: &Context) {
    let state = &ctx.push_secrets;
    let key = state.queue.next().await;
    let id = key.to_string();
    let active = ctx.metrics.runtime.active(Controller::PushSecret);
    let started = Instant::now();
    let (next, result) = match state.objects.get(&key) {
        Some(ps) => {
            let outcome = reconcile(ctx, &ps).await;
            let nanos = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
            ctx.metrics
                .push_secret_duration(&ps.name_any(), &ps.namespace().unwrap_or_default())
                .set(nanos);
            match outcome {
                Ok(Next::After(d)) => {
                    state.backoff.reset(&id);
                    (Some(backoff::jitter(d)), ReconcileResult::RequeueAfter)
                }
                Ok(Next::Never) => {
                    state.backoff.reset(&id);
                    (None, ReconcileResult::Success)
                }
                Err(e) => {
                    let delay = state.backoff.failed(&id);
                    tracing::warn!(pushsecret = %id, error = %e, retry_in_ms = delay.as_millis(), "PushSecret reconcile failed");
                    (Some(delay), ReconcileResult::Error)
                }
            }
        }
        None => {
            state.backoff.reset(&id);
            (None, ReconcileResult::Success)
        }
    };
    ctx.metrics
        .runtime
        .reconciled(Controller::PushSecret, result, started.elapsed());
    drop(active);
    state.queue.done(&key);
    if let Some(delay) = next {
        state.queue.add(key, delay, Priority::Normal);
    }
}

/// A failed reconcile: the message (ESO's text, no secret values) and, when known, the
/// `syncedPushSecrets` to record.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failed {
    pub message: String,
    pub synced: Option<SyncedPushSecrets>,
}

fn failed(message: impl Into<String>) -> Failed {
    Failed {
        message: message.into(),
        synced: None,
    }
}

/// Reconciles one PushSecret; a failure is recorded (Ready=False `Errored`, a Warning event)
/// before it is returned.
pub async fn reconcile(ctx: &Context, ps: &PushSecret) -> Result<Next, Failed> {
    match reconcile_inner(ctx, ps).await {
        Ok(next) => Ok(next),
        Err(f) => {
            let mut status = ps.status.clone().unwrap_or_default();
            status.conditions = set_condition(
                &status.conditions,
                "Ready".to_owned(),
                ConditionStatus::False,
                reasons::ERRORED,
                &f.message,
            );
            if let Some(synced) = &f.synced {
                status.synced_push_secrets = synced.clone();
            }
            record_condition(ctx, ps, false);
            event(ctx, ps, EventType::Warning, reasons::ERRORED, &f.message).await;
            if let Err(e) = write_status(ctx, ps, &status).await {
                tracing::warn!(error = %e, "could not write a failed PushSecret's status");
            }
            Err(f)
        }
    }
}

async fn reconcile_inner(ctx: &Context, ps: &PushSecret) -> Result<Next, Failed> {
    let has_finalizer = ps.finalizers().iter().any(|f| f == FINALIZER);
    let deleting = ps.meta().deletion_timestamp.is_some();
    let delete_policy = ps.spec.deletion_policy == PushSecretDeletionPolicy::Delete;
    if deleting {
        if has_finalizer {
            if delete_policy {
                let old = synced_of(ps);
                delete_stale(ctx, ps, &SyncedPushSecrets::new(), &old)
                    .await
                    .map_err(|(message, left)| Failed {
                        message: format!("Failed to Delete Secrets from Provider: {message}"),
                        synced: Some(left),
                    })?;
            }
            patch_finalizers(ctx, ps, finalizers::remove_ops(ps, FINALIZER)).await?;
        }
        return Ok(Next::Never);
    }
    if delete_policy && !has_finalizer {
        patch_finalizers(ctx, ps, finalizers::add_ops(ps, FINALIZER)).await?;
    } else if !delete_policy && has_finalizer {
        patch_finalizers(ctx, ps, finalizers::remove_ops(ps, FINALIZER)).await?;
    }

    let interval = ps
        .spec
        .refresh_interval()
        .map_err(|e| failed(format!("invalid refreshInterval: {e}")))?;
    let interval = super::refresh::to_std(interval).unwrap_or(Duration::ZERO);
    let start = now();
    match plan::due(ps, interval, start.0) {
        Due::Now => {}
        Due::In(d) => return Ok(Next::After(d)),
        Due::Never => return Ok(Next::Never),
    }
    let next = if interval.is_zero() {
        Next::Never
    } else {
        Next::After(interval)
    };
    plan::check_data_to_refs(ps).map_err(failed)?;

    let mut pending = Vec::new();
    let result = push(ctx, ps, &mut pending, delete_policy, next).await;
    if ps.spec.selector.generator_ref.is_some() {
        let owner = super::generators::Owner::of(ps);
        if result.is_ok() {
            let rotated = [GENERATOR_STATE_KEY.to_owned()];
            if let Err(e) = super::generators::commit(&ctx.client, &owner, pending, &rotated).await
            {
                tracing::warn!(error = %e, "could not keep the generator state");
            }
        } else {
            super::generators::rollback(&ctx.client, ctx.generators.as_ref(), &owner, pending)
                .await;
        }
    }
    result
}

/// The push itself, from reading the sources to the status.
async fn push(
    ctx: &Context,
    ps: &PushSecret,
    pending: &mut Vec<super::generators::Pending>,
    delete_policy: bool,
    next: Next,
) -> Result<Next, Failed> {
    let start = now();
    let sources = match sources(ctx, ps, pending).await {
        Ok(s) => s,
        Err(Source::Missing)
            if delete_policy && !synced_of(ps).is_empty() && by_name(ps).is_some() =>
        {
            source_deleted(ctx, ps).await?;
            return Ok(next);
        }
        Err(Source::Missing) => return Err(failed(ERR_GET_SECRET)),
        Err(Source::Failed(message)) => return Err(failed(message)),
    };
    let targets = targets(ctx, ps)?;
    if targets.is_empty() {
        return Ok(next);
    }
    plan::check_data_to_matches(ps, &targets).map_err(failed)?;

    let old = synced_of(ps);
    let mut synced = SyncedPushSecrets::new();
    for data in sources {
        let data = shape(ctx, ps, data).await?;
        if let Err(message) = push_to_stores(ctx, ps, &targets, &data, &mut synced).await {
            return Err(Failed {
                message: format!("set secret failed: {message}"),
                synced: Some(plan::merge_state(&synced, &old)),
            });
        }
    }
    if delete_policy {
        delete_stale(ctx, ps, &synced, &old)
            .await
            .map_err(|(message, left)| Failed {
                message: format!("Failed to Delete Secrets from Provider: {message}"),
                synced: Some(left),
            })?;
    }
    let mut message = "PushSecret synced successfully".to_owned();
    if ps.spec.update_policy == PushSecretUpdatePolicy::IfNotExists {
        message.push_str(". Existing secrets in providers unchanged.");
    }
    let mut status = ps.status.clone().unwrap_or_default();
    status.conditions = set_condition(
        &status.conditions,
        "Ready".to_owned(),
        ConditionStatus::True,
        reasons::SYNCED,
        &message,
    );
    status.synced_push_secrets = synced;
    status.refresh_time = Some(start);
    status.synced_resource_version = Some(plan::current_version(ps));
    write_status(ctx, ps, &status)
        .await
        .map_err(|e| failed(format!("could not update status: {e}")))?;
    record_condition(ctx, ps, true);
    event(ctx, ps, EventType::Normal, reasons::SYNCED, &message).await;
    Ok(next)
}

fn synced_of(ps: &PushSecret) -> SyncedPushSecrets {
    ps.status
        .as_ref()
        .map(|s| s.synced_push_secrets.clone())
        .unwrap_or_default()
}

fn by_name(ps: &PushSecret) -> Option<&str> {
    ps.spec
        .selector
        .secret
        .as_ref()
        .and_then(|s| s.name.as_deref())
        .filter(|n| !n.is_empty())
}

enum Source {
    /// The Secret named by `selector.secret.name` does not exist.
    Missing,
    Failed(String),
}

/// The source data: the named Secret, every Secret of the PushSecret's namespace the label
/// selector matches (never another namespace: ESO's GHSA-fcxq-v2r3-cc8h), or a generator's
/// output.
async fn sources(
    ctx: &Context,
    ps: &PushSecret,
    pending: &mut Vec<super::generators::Pending>,
) -> Result<Vec<Data>, Source> {
    let ns = ps.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    if let Some(name) = by_name(ps) {
        return match api.get(name).await {
            Ok(s) => Ok(vec![secret_data(s)]),
            Err(kube::Error::Api(e)) if e.code == 404 => Err(Source::Missing),
            Err(e) => {
                tracing::warn!(error = %e, "could not read a PushSecret's source Secret");
                Err(Source::Failed(ERR_GET_SECRET.to_owned()))
            }
        };
    }
    if let Some(reference) = &ps.spec.selector.generator_ref {
        let context = |e: super::error::Error| {
            Source::Failed(format!(
                "could not resolve secret from generator ref {}/{}: {e}",
                reference.kind.as_str(),
                reference.name
            ))
        };
        let resolved = super::generators::resolve_in_cluster(&ctx.client, reference, &ns)
            .await
            .map_err(context)?;
        let generation =
            super::generators::generate(ctx.generators.as_ref(), resolved, GENERATOR_STATE_KEY)
                .await
                .map_err(context)?;
        pending.extend(generation.pending);
        return Ok(vec![generation.data]);
    }
    let Some(selector) = ps
        .spec
        .selector
        .secret
        .as_ref()
        .and_then(|s| s.selector.as_ref())
    else {
        return Err(Source::Failed("no secret selector provided".to_owned()));
    };
    let labels = label_selector_string(selector).map_err(Source::Failed)?;
    let list = api
        .list(&ListParams::default().labels(&labels))
        .await
        .map_err(|e| Source::Failed(format!("could not list source secrets: {e}")))?;
    Ok(list
        .items
        .into_iter()
        .filter(|s| s.namespace().as_deref() == Some(ns.as_str()))
        .map(secret_data)
        .collect())
}

fn secret_data(s: Secret) -> Data {
    s.data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, SecretValue::new(v.0)))
        .collect()
}

/// A label selector in the apiserver's query syntax.
fn label_selector_string(
    s: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> Result<String, String> {
    let mut parts: Vec<String> = s
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in s.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            other => return Err(format!("invalid label selector operator {other:?}")),
        });
    }
    Ok(parts.join(","))
}

/// The stores `secretStoreRefs` name or select, from the watch caches: stores being deleted and
/// stores of another controller class are left out (ESO's `removeUnmanagedStores`).
fn targets(ctx: &Context, ps: &PushSecret) -> Result<Vec<Target>, Failed> {
    let ns = ps.namespace().unwrap_or_default();
    let mut out: BTreeMap<(StoreKind, String), Target> = BTreeMap::new();
    for r in &ps.spec.secret_store_refs {
        let mut found: Vec<(String, BTreeMap<String, String>, bool, bool)> = Vec::new();
        let keep = |spec: &crate::crd::SecretStoreSpec| stores::serves(ctx, spec);
        match (&r.name, &r.label_selector, r.kind) {
            (_, Some(selector), StoreKind::SecretStore) => {
                for s in ctx.stores.state() {
                    if s.namespace().as_deref() == Some(ns.as_str())
                        && selector_matches(selector, s.labels())
                    {
                        found.push(describe(s.as_ref(), keep(&s.spec)));
                    }
                }
            }
            (_, Some(selector), StoreKind::ClusterSecretStore) => {
                for s in ctx.cluster_stores.state() {
                    if selector_matches(selector, s.labels()) {
                        found.push(describe(s.as_ref(), keep(&s.spec)));
                    }
                }
            }
            (Some(name), None, StoreKind::SecretStore) => {
                let s = ctx
                    .stores
                    .get(&ObjectRef::<SecretStore>::new(name).within(&ns))
                    .ok_or_else(|| {
                        failed(format!("could not get SecretStore {name:?}, secretstores.external-secrets.io {name:?} not found"))
                    })?;
                found.push(describe(s.as_ref(), keep(&s.spec)));
            }
            (Some(name), None, StoreKind::ClusterSecretStore) => {
                let s = ctx
                    .cluster_stores
                    .get(&ObjectRef::<ClusterSecretStore>::new(name))
                    .ok_or_else(|| {
                        failed(format!("could not get ClusterSecretStore {name:?}, clustersecretstores.external-secrets.io {name:?} not found"))
                    })?;
                found.push(describe(s.as_ref(), keep(&s.spec)));
            }
            (None, None, _) => return Err(failed("refStore Name must be provided")),
        }
        for (name, labels, deleting, served) in found {
            if deleting || !served {
                continue;
            }
            out.insert(
                (r.kind, name.clone()),
                Target {
                    kind: r.kind,
                    name,
                    labels,
                },
            );
        }
    }
    Ok(out.into_values().collect())
}

fn describe<K: Resource>(s: &K, served: bool) -> (String, BTreeMap<String, String>, bool, bool) {
    let meta = s.meta();
    (
        meta.name.clone().unwrap_or_default(),
        meta.labels.clone().unwrap_or_default(),
        meta.deletion_timestamp.is_some(),
        served,
    )
}

/// ESO's template step for PushSecrets, with templateFrom sources from the cluster.
async fn shape(ctx: &Context, ps: &PushSecret, data: Data) -> Result<Data, Failed> {
    shape_with(
        &super::template::Lookup::Cluster(&ctx.client),
        ctx.transformer.as_ref(),
        &ctx.settings.template_delimiters,
        ps,
        data,
    )
    .await
    .map_err(failed)
}

/// ESO's template step for PushSecrets: the template's keys are rendered over the source data
/// and set on it (the source keys stay: ESO renders into the Secret it read).
pub async fn shape_with(
    lookup: &super::template::Lookup<'_>,
    transformer: &dyn crate::transform::Transformer,
    delimiters: &(String, String),
    ps: &PushSecret,
    data: Data,
) -> Result<Data, String> {
    let Some(tpl) = &ps.spec.template else {
        return Ok(data);
    };
    let mut tpl = tpl.clone();
    tpl.merge_policy = TemplateMergePolicy::Merge;
    let shaped = super::template::render(
        lookup,
        transformer,
        delimiters,
        &ps.namespace().unwrap_or_default(),
        &tpl,
        data,
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(shaped.data)
}

/// Template transforms of `dataTo` rewrites, by the template component.
pub struct Renamer<'a>(pub &'a dyn crate::transform::Transformer);

impl plan::Rename for Renamer<'_> {
    async fn rename(&self, template: &str, keys: Vec<String>) -> Result<Vec<String>, String> {
        self.0
            .rewrite_keys(template.to_owned(), keys)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Opens a client for a store as the PushSecret's namespace uses it.
async fn open(
    ctx: &Context,
    ps: &PushSecret,
    target: &Target,
) -> Result<Box<dyn ProviderClient>, String> {
    let ns = ps.namespace().unwrap_or_default();
    let r = SecretStoreRef {
        name: target.name.clone(),
        kind: Some(target.kind),
    };
    let (store, retry) = stores::resolve(ctx, &ns, &r).await.map_err(|e| {
        format!(
            "could not get secrets client for store {}: {e}",
            target.name
        )
    })?;
    let (client, _) = ctx
        .provider
        .open_with(&store, Default::default(), retry)
        .await
        .map_err(|e| {
            format!(
                "could not get secrets client for store {}: {e}",
                target.name
            )
        })?;
    Ok(client)
}

/// Pushes every entry of `data` to every target, recording what was written in `synced`.
async fn push_to_stores(
    ctx: &Context,
    ps: &PushSecret,
    targets: &[Target],
    data: &Data,
    synced: &mut SyncedPushSecrets,
) -> Result<(), String> {
    let renamer = Renamer(ctx.transformer.as_ref());
    for target in targets {
        let key = plan::store_key(target.kind, &target.name);
        let entries = plan::entries(ps, target, data, &renamer).await?;
        let slot = synced.entry(key).or_default();
        if entries.is_empty() {
            continue;
        }
        let client = open(ctx, ps, target).await?;
        for entry in entries {
            push_one(ps, client.as_ref(), target, &entry, data).await?;
            slot.insert(entry.data.status_ref(), entry.data);
        }
    }
    Ok(())
}

async fn push_one(
    ps: &PushSecret,
    client: &dyn ProviderClient,
    target: &Target,
    entry: &Entry,
    data: &Data,
) -> Result<(), String> {
    let write = plan::push_data(entry, data)?;
    if ps.spec.update_policy == PushSecretUpdatePolicy::IfNotExists {
        let exists = client
            .secret_exists(&write.remote)
            .await
            .map_err(|e| format!("could not verify if secret exists in store: {e}"))?;
        if exists {
            return Ok(());
        }
    }
    client.push_secret(&write).await.map_err(|e| {
        format!(
            "could not write remote ref {} to target secretstore {}: {e}",
            entry.data.match_.secret_key.as_deref().unwrap_or_default(),
            target.name
        )
    })
}

/// Deletes what `old` has and `new` does not from its stores. On failure: the message and the
/// state to record (what is still pushed, so a later reconcile tries again).
async fn delete_stale(
    ctx: &Context,
    ps: &PushSecret,
    new: &SyncedPushSecrets,
    old: &SyncedPushSecrets,
) -> Result<(), (String, SyncedPushSecrets)> {
    let mut left = plan::merge_state(new, old);
    let mut clients: BTreeMap<String, Box<dyn ProviderClient>> = BTreeMap::new();
    for (store, status_ref, entry) in plan::stale(new, old) {
        let Some((kind, name)) = plan::parse_store_key(&store) else {
            continue;
        };
        if !clients.contains_key(&store) {
            let target = Target {
                kind,
                name: name.to_owned(),
                labels: BTreeMap::new(),
            };
            let client = open(ctx, ps, &target)
                .await
                .map_err(|e| (e, left.clone()))?;
            clients.insert(store.clone(), client);
        }
        let Some(client) = clients.get(&store) else {
            continue;
        };
        let remote = plan::remote(&entry.match_.remote_ref);
        client
            .delete_secret(&remote)
            .await
            .map_err(|e| (e.to_string(), left.clone()))?;
        if let Some(slot) = left.get_mut(&store) {
            slot.remove(&status_ref);
            if slot.is_empty() && !new.contains_key(&store) {
                left.remove(&store);
            }
        }
    }
    Ok(())
}

/// The named source Secret is gone and `deletionPolicy: Delete`: what was pushed is deleted and
/// the PushSecret says so (Ready=False `SourceDeleted`, a Normal event), as ESO.
async fn source_deleted(ctx: &Context, ps: &PushSecret) -> Result<(), Failed> {
    let old = synced_of(ps);
    delete_stale(ctx, ps, &SyncedPushSecrets::new(), &old)
        .await
        .map_err(|(message, left)| Failed {
            message: format!("failed to cleanup provider secrets: {message}"),
            synced: Some(left),
        })?;
    let message = "source secret deleted; provider secrets cleaned up";
    let mut status = ps.status.clone().unwrap_or_default();
    status.synced_push_secrets = SyncedPushSecrets::new();
    status.conditions = set_condition(
        &status.conditions,
        "Ready".to_owned(),
        ConditionStatus::False,
        reasons::SOURCE_DELETED,
        message,
    );
    write_status(ctx, ps, &status)
        .await
        .map_err(|e| failed(format!("could not update status: {e}")))?;
    record_condition(ctx, ps, false);
    event(ctx, ps, EventType::Normal, reasons::SOURCE_DELETED, message).await;
    Ok(())
}

async fn patch_finalizers(ctx: &Context, ps: &PushSecret, ops: Vec<Value>) -> Result<(), Failed> {
    let api: Api<PushSecret> =
        Api::namespaced(ctx.client.clone(), &ps.namespace().unwrap_or_default());
    finalizers::patch(&api, &ps.name_any(), ops)
        .await
        .map_err(|e| failed(format!("could not update finalizers: {e}")))
}

/// Replaces the status (so entries dropped from `syncedPushSecrets` go too), unless it is
/// already the one in the cache.
async fn write_status(
    ctx: &Context,
    ps: &PushSecret,
    status: &PushSecretStatus,
) -> Result<(), kube::Error> {
    if ps.status.as_ref() == Some(status) {
        return Ok(());
    }
    let api: Api<PushSecret> =
        Api::namespaced(ctx.client.clone(), &ps.namespace().unwrap_or_default());
    finalizers::replace_status(&api, &ps.name_any(), status).await
}

fn record_condition(ctx: &Context, ps: &PushSecret, ready: bool) {
    crate::metrics::Metrics::set_condition(
        &ctx.metrics.ps_condition,
        &ps.name_any(),
        &ps.namespace().unwrap_or_default(),
        "Ready",
        ready,
    );
}

async fn event(ctx: &Context, ps: &PushSecret, type_: EventType, reason: &str, note: &str) {
    let obj = ps.object_ref(&());
    ctx.event(
        &ctx.push_secrets.recorder,
        &obj,
        type_,
        reason,
        note.to_owned(),
    )
    .await;
}
