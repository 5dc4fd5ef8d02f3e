//! ClusterPushSecret: one PushSecret per namespace its `namespaceSelectors` choose
//! (docs/eso-behaviour.md#clusterpushsecret), controlled by the ClusterPushSecret; status lists
//! provisioned and failed namespaces.
//!
//! The shape of the ClusterExternalSecret controller: its watch and the Namespace metadata watch
//! (shared with that controller) queue names; [`WORKERS`] workers reconcile. A PushSecret event
//! queues the ClusterPushSecret controlling it (ESO's `Owns`); a Namespace event queues every
//! ClusterPushSecret (they are few). A success requeues after `refreshTime` (1 h by default), a
//! failure with backoff.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::events::EventType;

use super::recorder::Recorder;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::backoff::{self, Backoff};
use super::cluster_external_secret::plan::NamespaceView;
use super::context::{Context, reporter};
use super::queue::{Priority, WorkQueue};
use super::stores::selector_matches;
use crate::crd::common::{Condition, ConditionStatus};
use crate::crd::push_secret::{
    ClusterPushSecretNamespaceFailure, ClusterPushSecretStatus, reasons,
};
use crate::crd::{ClusterPushSecret, PushSecret};
use crate::metrics::runtime::{Controller, ReconcileResult};

/// ClusterPushSecrets reconciled at once.
pub const WORKERS: usize = 2;

/// ESO's event source component for ClusterPushSecrets.
pub const REPORTER: &str = "external-secrets-controller";

const FIELD_MANAGER: &str = "external-secrets-cluster-push-secret";

/// The ClusterPushSecret controller's cache, queue and backoff (part of [`Context`]).
pub struct State {
    pub objects: Store<ClusterPushSecret>,
    pub queue: WorkQueue<String>,
    pub backoff: Backoff,
    pub recorder: Recorder,
}

impl State {
    pub fn new(objects: Store<ClusterPushSecret>, client: kube::Client) -> Self {
        Self {
            objects,
            queue: WorkQueue::default(),
            backoff: Backoff::default(),
            recorder: Recorder::new(client, reporter(REPORTER)),
        }
    }

    /// Queues every ClusterPushSecret (a Namespace changed).
    pub fn queue_all(&self) {
        for cps in self.objects.state() {
            self.queue
                .add(cps.name_any(), Duration::ZERO, Priority::Urgent);
        }
    }
}

/// ClusterPushSecret watch events: a change other than its status queues it.
pub(super) async fn on_objects(
    ctx: Arc<Context>,
    stream: impl Stream<Item = Result<Event<ClusterPushSecret>, watcher::Error>>,
) {
    let state = &ctx.cluster_push_secrets;
    let mut seen = HashMap::new();
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Apply(cps) | Event::InitApply(cps)) => {
                let name = cps.name_any();
                let print = (
                    cps.metadata.generation,
                    cps.labels().clone(),
                    cps.annotations().clone(),
                );
                if seen.get(&name) == Some(&print) {
                    continue;
                }
                seen.insert(name.clone(), print);
                state.queue.add(name, Duration::ZERO, Priority::Urgent);
            }
            Ok(Event::Delete(cps)) => {
                let name = cps.name_any();
                seen.remove(&name);
                state.queue.forget(&name);
                state.backoff.reset(&name);
            }
            Ok(Event::Init | Event::InitDone) => {}
            Err(e) => tracing::warn!(error = %e, "ClusterPushSecret watch failed; retrying"),
        }
    }
}

/// A PushSecret changed or went away: the ClusterPushSecret controlling it is queued.
pub(super) fn push_secret_changed(ctx: &Context, ps: &PushSecret) {
    if !ctx.settings.cluster_push_secrets {
        return;
    }
    if let Some(owner) = controller_of(ps) {
        ctx.cluster_push_secrets
            .queue
            .add(owner.to_owned(), Duration::ZERO, Priority::Urgent);
    }
}

/// The name of the ClusterPushSecret controlling `ps`, if one does (ESO's `isPushSecretOwnedBy`).
pub fn controller_of(ps: &PushSecret) -> Option<&str> {
    ps.owner_references()
        .iter()
        .find(|r| {
            r.controller == Some(true)
                && r.kind == "ClusterPushSecret"
                && r.api_version == "external-secrets.io/v1alpha1"
        })
        .map(|r| r.name.as_str())
}

/// Runs the workers until aborted; they start once the caches are complete.
pub async fn workers(ctx: Arc<Context>) {
    let mut listed = ctx.caches_listed.clone();
    let _ = listed.wait_for(|l| *l).await;
    if let Err(e) = ctx.cluster_push_secrets.objects.wait_until_ready().await {
        tracing::warn!(error = %e, "the ClusterPushSecret watch stopped before it listed its objects");
    }
    // The ClusterExternalSecret workers are the waiter on the Namespace store (kube wakes only one
    // waiter of a store). The reflector shows a relist only once complete, and every cluster has
    // namespaces: a non-empty store is a listed one.
    while ctx.cluster_external_secrets.namespaces.state().is_empty() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ctx.metrics
        .runtime
        .controller_started(Controller::ClusterPushSecret, WORKERS);
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

async fn work_once(ctx: &Context) {
    let state = &ctx.cluster_push_secrets;
    let name = state.queue.next().await;
    let active = ctx.metrics.runtime.active(Controller::ClusterPushSecret);
    let started = std::time::Instant::now();
    let (next, result) = match state.objects.get(&ObjectRef::new(&name)) {
        Some(cps) if cps.meta().deletion_timestamp.is_none() => {
            let outcome = reconcile(ctx, &cps).await;
            let nanos = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
            ctx.metrics.cluster_push_secret_duration(&name).set(nanos);
            match outcome {
                Ok(()) => {
                    state.backoff.reset(&name);
                    let next = backoff::jitter(refresh_interval(&cps));
                    (Some(next), ReconcileResult::RequeueAfter)
                }
                Err(e) => {
                    let delay = state.backoff.failed(&name);
                    tracing::warn!(name = %name, error = %e, retry_in_ms = delay.as_millis(), "ClusterPushSecret reconcile failed");
                    (Some(delay), ReconcileResult::Error)
                }
            }
        }
        _ => {
            state.backoff.reset(&name);
            (None, ReconcileResult::Success)
        }
    };
    ctx.metrics
        .runtime
        .reconciled(Controller::ClusterPushSecret, result, started.elapsed());
    drop(active);
    state.queue.done(&name);
    if let Some(delay) = next {
        state.queue.add(name, delay, Priority::Normal);
    }
}

/// `spec.refreshTime` (1 h when unset or invalid).
pub fn refresh_interval(cps: &ClusterPushSecret) -> Duration {
    cps.spec
        .refresh_time
        .as_deref()
        .and_then(|t| crate::crd::duration::parse(t).ok())
        .and_then(super::refresh::to_std)
        .filter(|d| !d.is_zero())
        .unwrap_or(Duration::from_secs(3600))
}

/// The PushSecrets' name: `spec.pushSecretName`, else the ClusterPushSecret's.
pub fn push_secret_name(cps: &ClusterPushSecret) -> String {
    cps.spec
        .push_secret_name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| cps.name_any())
}

/// ESO's `GetTargetNamespaces` over the Namespace cache: namespaces any selector matches
/// (none when there is no selector), not being deleted, within `--namespace` when set.
pub fn select_namespaces<'a>(
    cps: &ClusterPushSecret,
    namespaces: impl IntoIterator<Item = &'a NamespaceView>,
    scope: Option<&str>,
) -> BTreeSet<String> {
    namespaces
        .into_iter()
        .filter(|ns| !ns.deleting && scope.is_none_or(|s| s == ns.name))
        .filter(|ns| {
            cps.spec
                .namespace_selectors
                .iter()
                .any(|s| selector_matches(s, &ns.labels))
        })
        .map(|ns| ns.name.clone())
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum CpsError {
    #[error("could not update status: {0}")]
    PatchStatus(#[source] kube::Error),
    #[error("failed to delete push secret")]
    DeleteOld,
}

async fn reconcile(ctx: &Context, cps: &ClusterPushSecret) -> Result<(), CpsError> {
    let name = push_secret_name(cps);
    let old = cps.status.clone().unwrap_or_default();
    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    // A new name: the PushSecrets under the old one go first.
    if let Some(prev) = old.push_secret_name.as_deref().filter(|p| *p != name) {
        for ns in &old.provisioned_namespaces {
            if let Err(e) = delete_owned(ctx, cps, prev, ns).await {
                failed.insert(ns.clone(), e);
            }
        }
        if !failed.is_empty() {
            let message = "failed to delete push secret";
            let status = ClusterPushSecretStatus {
                failed_namespaces: failures(&failed),
                conditions: vec![condition(false, message)],
                ..old.clone()
            };
            event(ctx, cps, message).await;
            write_status(ctx, cps, &status).await?;
            return Err(CpsError::DeleteOld);
        }
    }
    let views: Vec<NamespaceView> = ctx
        .cluster_external_secrets
        .namespaces
        .state()
        .iter()
        .map(|ns| NamespaceView::of(ns.as_ref()))
        .collect();
    let wanted = select_namespaces(cps, &views, ctx.settings.namespace.as_deref());
    for ns in old
        .provisioned_namespaces
        .iter()
        .filter(|n| !wanted.contains(*n))
    {
        if let Err(e) = delete_owned(ctx, cps, &name, ns).await {
            failed.insert(ns.clone(), e);
        }
    }
    let mut provisioned = Vec::new();
    for ns in &wanted {
        let existing = ctx
            .push_secrets
            .objects
            .get(&ObjectRef::<PushSecret>::new(&name).within(ns));
        if existing
            .as_ref()
            .is_some_and(|ps| controller_of(ps) != Some(cps.name_any().as_str()))
        {
            failed.insert(ns.clone(), "push secret already exists in namespace".into());
            continue;
        }
        match apply(ctx, cps, &name, ns).await {
            Ok(()) => provisioned.push(ns.clone()),
            Err(e) => {
                failed.insert(ns.clone(), e);
            }
        }
    }
    let ready = failed.is_empty();
    let status = ClusterPushSecretStatus {
        failed_namespaces: failures(&failed),
        provisioned_namespaces: provisioned,
        push_secret_name: Some(name),
        conditions: vec![condition(
            ready,
            if ready {
                ""
            } else {
                "one or more namespaces failed"
            },
        )],
    };
    crate::metrics::Metrics::set_condition(
        &ctx.metrics.cps_condition,
        &cps.name_any(),
        "",
        "Ready",
        ready,
    );
    write_status(ctx, cps, &status).await
}

/// ESO's condition: `Ready` True with nothing else, or False with the message.
fn condition(ready: bool, message: &str) -> Condition {
    Condition {
        type_: "Ready".into(),
        status: ConditionStatus::from(ready),
        reason: (!ready && message == "failed to delete push secret")
            .then(|| reasons::ERRORED.to_owned()),
        message: (!message.is_empty()).then(|| message.to_owned()),
        last_transition_time: None,
    }
}

fn failures(failed: &BTreeMap<String, String>) -> Vec<ClusterPushSecretNamespaceFailure> {
    failed
        .iter()
        .map(|(ns, reason)| ClusterPushSecretNamespaceFailure {
            namespace: ns.clone(),
            reason: Some(reason.clone()),
        })
        .collect()
}

/// The PushSecret for `ns`: the spec, `pushSecretMetadata`, a controller ownerReference.
pub fn desired(cps: &ClusterPushSecret, name: &str, ns: &str) -> serde_json::Value {
    let meta = cps.spec.push_secret_metadata.clone().unwrap_or_default();
    let owner = OwnerReference {
        api_version: "external-secrets.io/v1alpha1".into(),
        kind: "ClusterPushSecret".into(),
        name: cps.name_any(),
        uid: cps.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    json!({
        "apiVersion": "external-secrets.io/v1alpha1",
        "kind": "PushSecret",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": meta.labels,
            "annotations": meta.annotations,
            "ownerReferences": [owner],
        },
        "spec": cps.spec.push_secret_spec,
    })
}

async fn apply(ctx: &Context, cps: &ClusterPushSecret, name: &str, ns: &str) -> Result<(), String> {
    let api: Api<PushSecret> = Api::namespaced(ctx.client.clone(), ns);
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&desired(cps, name, ns)),
    )
    .await
    .map(|_| ())
    .map_err(|e| format!("could not create or update push secret: {e}"))
}

/// Deletes `ns/name` when this ClusterPushSecret controls it.
async fn delete_owned(
    ctx: &Context,
    cps: &ClusterPushSecret,
    name: &str,
    ns: &str,
) -> Result<(), String> {
    let api: Api<PushSecret> = Api::namespaced(ctx.client.clone(), ns);
    let cached = ctx
        .push_secrets
        .objects
        .get(&ObjectRef::<PushSecret>::new(name).within(ns));
    let Some(existing) = cached else {
        return Ok(());
    };
    if controller_of(&existing) != Some(cps.name_any().as_str()) {
        return Ok(());
    }
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(format!(
            "push secret in non matching namespace could not be deleted: {e}"
        )),
    }
}

async fn write_status(
    ctx: &Context,
    cps: &ClusterPushSecret,
    status: &ClusterPushSecretStatus,
) -> Result<(), CpsError> {
    if cps.status.as_ref() == Some(status) {
        return Ok(());
    }
    let api: Api<ClusterPushSecret> = Api::all(ctx.client.clone());
    super::finalizers::replace_status(&api, &cps.name_any(), status)
        .await
        .map_err(CpsError::PatchStatus)
}

async fn event(ctx: &Context, cps: &ClusterPushSecret, note: &str) {
    let obj = cps.object_ref(&());
    ctx.event(
        &ctx.cluster_push_secrets.recorder,
        &obj,
        EventType::Warning,
        reasons::ERRORED,
        note.to_owned(),
    )
    .await;
}
