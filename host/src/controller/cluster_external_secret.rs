//! ClusterExternalSecret: one ExternalSecret per selected namespace
//! (docs/eso-behaviour.md#clusterexternalsecret), owned by the ClusterExternalSecret; status lists
//! provisioned and failed namespaces.
//!
//! Runs on the controllers' own runtime: the ClusterExternalSecret watch (malformed objects
//! skipped, see [`super::watch`]) and a Namespace metadata watch fill caches and queue keys
//! (ClusterExternalSecret names) on a [`WorkQueue`]; [`WORKERS`] workers reconcile them. The
//! ExternalSecrets come from the ExternalSecret controller's cache, whose watch events queue the
//! ClusterExternalSecret controlling them. A failed reconcile is retried with per-object
//! backoff ([`Backoff`]); a successful one again after `spec.refreshTime` (1 h by default).
//! Which ClusterExternalSecrets an event concerns is decided in [`plan`]: a Namespace event
//! queues only those whose selection matches the namespace before or after the change.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::backoff::{self, Backoff};
use super::context::Context;
use super::queue::{Priority, WorkQueue};
use crate::crd::cluster_external_secret::ClusterExternalSecretNamespaceFailure;
use crate::crd::{ClusterExternalSecret, ExternalSecret};
use crate::metrics::Metrics;
use crate::metrics::runtime::{Controller, ReconcileResult};

#[path = "cluster_external_secret_plan.rs"]
pub mod plan;
use plan::NamespaceView;

/// The annotation ESO propagates from a ClusterExternalSecret to its ExternalSecrets.
pub const FORCE_SYNC: &str = "external-secrets.io/force-sync";
const FIELD_MANAGER: &str = "external-secrets-cluster-external-secret";

/// ClusterExternalSecrets reconciled at once.
pub const WORKERS: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum CesError {
    #[error("could not update status: {0}")]
    PatchStatus(#[source] kube::Error),
}

/// The ClusterExternalSecret controller's caches, queue and backoff (part of [`Context`]).
pub struct State {
    pub objects: Store<ClusterExternalSecret>,
    /// Metadata of every Namespace (name, labels, deletion).
    pub namespaces: Store<PartialObjectMeta<Namespace>>,
    /// ClusterExternalSecret names.
    pub queue: WorkQueue<String>,
    pub backoff: Backoff,
}

impl State {
    pub fn new(
        objects: Store<ClusterExternalSecret>,
        namespaces: Store<PartialObjectMeta<Namespace>>,
    ) -> Self {
        Self {
            objects,
            namespaces,
            queue: WorkQueue::default(),
            backoff: Backoff::default(),
        }
    }

    fn queue_all(&self, names: impl IntoIterator<Item = String>) {
        for name in names {
            self.queue.add(name, Duration::ZERO, Priority::Urgent);
        }
    }
}

/// ClusterExternalSecret watch events: a new object or a change other than its status queues it.
pub(super) async fn on_objects(
    ctx: Arc<Context>,
    stream: impl Stream<Item = Result<Event<ClusterExternalSecret>, watcher::Error>>,
) {
    let state = &ctx.cluster_external_secrets;
    let mut seen = HashMap::new();
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Apply(ces) | Event::InitApply(ces)) => {
                let name = ces.name_any();
                let print = plan::fingerprint(&ces);
                if seen.get(&name) == Some(&print) {
                    continue;
                }
                seen.insert(name.clone(), print);
                state.queue.add(name, Duration::ZERO, Priority::Urgent);
            }
            Ok(Event::Delete(ces)) => {
                let name = ces.name_any();
                seen.remove(&name);
                state.queue.forget(&name);
                state.backoff.reset(&name);
            }
            Ok(Event::Init | Event::InitDone) => {}
            Err(e) => tracing::warn!(error = %e, "ClusterExternalSecret watch failed; retrying"),
        }
    }
}

/// Namespace watch events: a namespace whose labels or deletion changed (or that appeared or
/// went) queues the ClusterExternalSecrets selecting it before or after the change, and every
/// ClusterPushSecret ([`super::cluster_push_secret`]). A relist
/// finds the namespaces deleted while the watch was down.
pub(super) async fn on_namespaces(
    ctx: Arc<Context>,
    stream: impl Stream<Item = Result<Event<PartialObjectMeta<Namespace>>, watcher::Error>>,
) {
    let state = &ctx.cluster_external_secrets;
    let mut seen: HashMap<String, NamespaceView> = HashMap::new();
    let mut relisted: Option<HashSet<String>> = None;
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        let changes = match event {
            Ok(Event::Apply(ns) | Event::InitApply(ns)) => {
                let view = NamespaceView::of(&ns);
                if let Some(r) = relisted.as_mut() {
                    r.insert(view.name.clone());
                }
                let before = seen.insert(view.name.clone(), view.clone());
                if before.as_ref() == Some(&view) {
                    continue;
                }
                vec![(before, Some(view))]
            }
            Ok(Event::Delete(ns)) => {
                let gone = NamespaceView::of(&ns);
                let before = seen.remove(&gone.name).unwrap_or(gone);
                vec![(Some(before), None)]
            }
            Ok(Event::Init) => {
                relisted = Some(HashSet::new());
                continue;
            }
            Ok(Event::InitDone) => {
                let listed = relisted.take().unwrap_or_default();
                let gone: Vec<String> = seen
                    .keys()
                    .filter(|n| !listed.contains(*n))
                    .cloned()
                    .collect();
                gone.into_iter()
                    .filter_map(|n| seen.remove(&n))
                    .map(|before| (Some(before), None))
                    .collect()
            }
            Err(e) => {
                tracing::warn!(error = %e, "Namespace watch failed; retrying");
                continue;
            }
        };
        if ctx.settings.cluster_push_secrets && !changes.is_empty() {
            ctx.cluster_push_secrets.queue_all();
        }
        if !ctx.settings.cluster_external_secrets {
            continue;
        }
        let all = state.objects.state();
        for (before, after) in changes {
            let names = plan::affected_by_namespace(
                all.iter().map(AsRef::as_ref),
                before.as_ref(),
                after.as_ref(),
            );
            state.queue_all(names);
        }
    }
}

/// An ExternalSecret changed (not only its status) or went away: the ClusterExternalSecrets it
/// concerns are queued (called by the ExternalSecret watch, whose cache this controller reads).
pub(super) fn external_secret_changed(ctx: &Context, es: &ExternalSecret) {
    if !ctx.settings.cluster_external_secrets {
        return;
    }
    let state = &ctx.cluster_external_secrets;
    let all = state.objects.state();
    state.queue_all(plan::affected_by_external_secret(
        all.iter().map(AsRef::as_ref),
        es,
    ));
}

/// Runs the workers until aborted; they start once the caches are complete (the ExternalSecret
/// controller's, then this controller's own).
pub async fn workers(ctx: Arc<Context>) {
    let mut listed = ctx.caches_listed.clone();
    let _ = listed.wait_for(|l| *l).await;
    // The only waiter on these two stores (kube wakes only one waiter of a store).
    let state = &ctx.cluster_external_secrets;
    let ready = async {
        state.objects.wait_until_ready().await?;
        state.namespaces.wait_until_ready().await
    };
    if let Err(e) = ready.await {
        tracing::warn!(error = %e, "a ClusterExternalSecret watch stopped before it listed its objects");
    }
    ctx.metrics
        .runtime
        .controller_started(Controller::ClusterExternalSecret, WORKERS);
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

/// One turn of a worker: takes a due name, reconciles it and queues it again: after the refresh
/// time when it succeeded, after its backoff when it failed. An ExternalSecret that could not be
/// applied counts as a reconcile error (it is retried with backoff, as controller-runtime retries
/// an error).
pub(super) async fn work_once(ctx: &Context) {
    let state = &ctx.cluster_external_secrets;
    let name = state.queue.next().await;
    let metrics = &ctx.metrics;
    let active = metrics.runtime.active(Controller::ClusterExternalSecret);
    let started = std::time::Instant::now();
    let (next, result) = match state.objects.get(&ObjectRef::new(&name)) {
        Some(ces) if ces.meta().deletion_timestamp.is_none() => {
            let outcome = reconcile(ctx, &ces).await;
            Metrics::set_duration(&metrics.ces_duration, &name, "", started.elapsed());
            match outcome {
                Ok(Outcome {
                    retry: false,
                    ready,
                }) => {
                    Metrics::set_condition(&metrics.ces_condition, &name, "", "Ready", ready);
                    state.backoff.reset(&name);
                    let next = backoff::jitter(plan::refresh_interval(&ces));
                    (Some(next), ReconcileResult::RequeueAfter)
                }
                Ok(Outcome { retry: true, .. }) => {
                    Metrics::set_condition(&metrics.ces_condition, &name, "", "Ready", false);
                    let delay = state.backoff.failed(&name);
                    tracing::info!(name = %name, retry_in_ms = delay.as_millis(), "ClusterExternalSecret has failed namespaces; trying again");
                    (Some(delay), ReconcileResult::Error)
                }
                Err(e) => {
                    let delay = state.backoff.failed(&name);
                    tracing::warn!(name = %name, error = %e, retry_in_ms = delay.as_millis(), "ClusterExternalSecret reconcile failed");
                    (Some(delay), ReconcileResult::Error)
                }
            }
        }
        // Gone, or being deleted: its ExternalSecrets go through their ownerReferences.
        _ => {
            state.backoff.reset(&name);
            Metrics::forget_object(&metrics.ces_condition, &metrics.ces_duration, &name, "");
            (None, ReconcileResult::Success)
        }
    };
    metrics
        .runtime
        .reconciled(Controller::ClusterExternalSecret, result, started.elapsed());
    drop(active);
    state.queue.done(&name);
    if let Some(delay) = next {
        state.queue.add(name, delay, Priority::Normal);
    }
}

/// How a reconcile ended when its status was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// An ExternalSecret could not be applied (an API error, not a conflict): try again with
    /// backoff rather than wait for the refresh time.
    pub retry: bool,
    /// No namespace failed (the Ready condition).
    pub ready: bool,
}

/// Selects the namespaces, plans the ExternalSecrets, applies and deletes them and writes the
/// status.
async fn reconcile(ctx: &Context, ces: &ClusterExternalSecret) -> Result<Outcome, CesError> {
    let es_name = plan::external_secret_name(ces);
    let namespaces = cached_namespaces(ctx);
    let wanted = plan::select_namespaces(ces, &namespaces, ctx.settings.namespace.as_deref());
    let existing = ctx.external_secrets.state();
    let plan = plan::plan(ces, &es_name, &wanted, existing.iter().map(AsRef::as_ref));
    delete_unwanted(ctx, &plan.delete).await;
    let (provisioned, mut failed) = apply_wanted(ctx, ces, &es_name, &plan.apply).await;
    let retry = !failed.is_empty();
    failed.splice(0..0, plan.conflicts);
    let ready = failed.is_empty();
    failed.sort_by(|a, b| a.namespace.cmp(&b.namespace));
    let status = plan::status(&es_name, provisioned, failed);
    write_status(ctx, ces, status).await?;
    Ok(Outcome { retry, ready })
}

/// Stage 1's input: the namespaces in the cache.
fn cached_namespaces(ctx: &Context) -> Vec<NamespaceView> {
    ctx.cluster_external_secrets
        .namespaces
        .state()
        .iter()
        .map(|ns| NamespaceView::of(ns.as_ref()))
        .collect()
}

/// Stage 3a: deletes the owned ExternalSecrets no longer wanted (a failure is logged; the next
/// reconcile tries again).
async fn delete_unwanted(ctx: &Context, unwanted: &[(String, String)]) {
    for (ns, name) in unwanted {
        let api: Api<ExternalSecret> = Api::namespaced(ctx.client.clone(), ns);
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                tracing::warn!(error = %e, namespace = %ns, "could not delete a deselected ExternalSecret");
            }
        }
    }
}

/// Stage 3b: applies the ExternalSecret in each namespace; the namespaces where that worked, and
/// those where it did not with the error.
async fn apply_wanted(
    ctx: &Context,
    ces: &ClusterExternalSecret,
    es_name: &str,
    namespaces: &[String],
) -> (Vec<String>, Vec<ClusterExternalSecretNamespaceFailure>) {
    let mut provisioned = Vec::new();
    let mut failed = Vec::new();
    for ns in namespaces {
        let api: Api<ExternalSecret> = Api::namespaced(ctx.client.clone(), ns);
        let obj = plan::desired(ces, es_name, ns);
        match api
            .patch(
                es_name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&obj),
            )
            .await
        {
            Ok(_) => provisioned.push(ns.clone()),
            Err(e) => failed.push(ClusterExternalSecretNamespaceFailure {
                namespace: ns.clone(),
                reason: Some(e.to_string()),
            }),
        }
    }
    (provisioned, failed)
}

/// Stage 4: writes the status unless it is already the one in the cache.
async fn write_status(
    ctx: &Context,
    ces: &ClusterExternalSecret,
    status: crate::crd::ClusterExternalSecretStatus,
) -> Result<(), CesError> {
    if ces.status.as_ref() == Some(&status) {
        return Ok(());
    }
    Api::<ClusterExternalSecret>::all(ctx.client.clone())
        .patch_status(
            &ces.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await
        .map_err(CesError::PatchStatus)?;
    Ok(())
}

#[cfg(test)]
#[path = "cluster_external_secret_tests.rs"]
mod tests;
