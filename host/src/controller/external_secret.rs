//! The ExternalSecret reconcile (docs/eso-behaviour.md#reconcile): finalizer, controller class,
//! refresh decision, fetch, deletionPolicy on empty data, target write, status and events.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

use super::backoff;
use super::context::Context;
use super::data;
use super::error::Error;
use super::finalizers;
use super::queue::Priority;
use super::refresh;
use super::shared::NotBefore;
use super::status::{self, message, reason};
use super::stores;
use super::target::{self, Outcome};
use super::template;
use crate::crd::external_secret::ExternalSecretConditionType;
use crate::crd::external_secret::SecretBinding;
use crate::crd::{
    ConditionStatus, CreationPolicy, DeletionPolicy, ExternalSecret, ExternalSecretStatus,
};
use crate::metrics::runtime::{Controller, ReconcileResult};
use crate::metrics::{Metrics, ObjectLabels, Outcome as CallOutcome, StatusLabels};

/// ESO's finalizer on ExternalSecrets.
pub const FINALIZER: &str = "externalsecrets.external-secrets.io/externalsecret-cleanup";

/// When to look at the object again.
pub type Requeue = Option<(Duration, Priority)>;

/// Reconciles one ExternalSecret.
#[tracing::instrument(skip(ctx), fields(es = %key))]
///
/// `lane` is the queue lane the key was taken from: a periodic refresh that falls due while the
/// object waits in the urgent lane (say, for a Secret event) is handed back to the normal lane,
/// so new and changed objects never wait behind refreshes. The provider fetches share calls that
/// started no earlier than `not_before`.
pub async fn reconcile(
    ctx: &Context,
    key: &ObjectRef<ExternalSecret>,
    lane: Priority,
    not_before: NotBefore,
) -> Requeue {
    let clock = std::time::Instant::now();
    let Some(es) = ctx.external_secrets.get(key) else {
        forget(ctx, key);
        ctx.metrics.runtime.reconciled(
            Controller::ExternalSecret,
            ReconcileResult::Success,
            clock.elapsed(),
        );
        return None;
    };
    let started = ctx.settings.clock.now();
    let metrics = &ctx.metrics;
    let namespace = key.namespace.clone().unwrap_or_default();
    let labels = ObjectLabels {
        name: key.name.clone(),
        namespace: namespace.clone(),
    };
    metrics.sync_calls.get_or_create(&labels).inc();
    let result = sync(ctx, &es, started, lane, not_before).await;
    let ok = result.is_ok();
    let requeue = match result {
        Ok(requeue) => {
            ctx.backoff.reset(&key.to_string());
            requeue
        }
        Err(err) => {
            metrics.sync_errors.get_or_create(&labels).inc();
            fail(ctx, &es, err).await
        }
    };
    let outcome = if ok {
        CallOutcome::success
    } else {
        CallOutcome::error
    };
    metrics
        .seed_sync_calls
        .get_or_create(&StatusLabels { status: outcome })
        .inc();
    let result = if ok {
        ReconcileResult::of_requeue(requeue.map(|(d, _)| d))
    } else {
        ReconcileResult::Error
    };
    Metrics::set_condition(&metrics.es_condition, &key.name, &namespace, "Ready", ok);
    let took = clock.elapsed();
    Metrics::set_duration(&metrics.es_duration, &key.name, &namespace, took);
    metrics
        .runtime
        .reconciled(Controller::ExternalSecret, result, took);
    ctx.set_failing(key, !ok);
    requeue
}

/// Drops what this process remembers of a deleted ExternalSecret.
pub fn forget(ctx: &Context, key: &ObjectRef<ExternalSecret>) {
    ctx.lock_synced().remove(key);
    ctx.set_failing(key, false);
    ctx.metrics
        .forget(&key.name, key.namespace.as_deref().unwrap_or_default());
    ctx.backoff.reset(&key.to_string());
    let ns = key.namespace.clone().unwrap_or_default();
    ctx.lock_targets().retain(|(n, _), names| {
        if *n == ns {
            names.remove(&key.name);
        }
        !names.is_empty()
    });
}

/// One sync: [`admit`] (deletion, controller class, finalizer, spec), the [`refresh::Plan`] and
/// the [`first_step`] it leads to, then [`fetch`], [`write_or_delete`] and [`record_status`].
async fn sync(
    ctx: &Context,
    es: &ExternalSecret,
    started: Timestamp,
    lane: Priority,
    not_before: NotBefore,
) -> Result<Requeue, Error> {
    let Some(target) = admit(ctx, es).await? else {
        return Ok(None);
    };
    let key = ObjectRef::from_obj(es);
    let plan = refresh::plan(es, &ctx.synced(&key), started);
    if plan.reason == refresh::Reason::OutsideSyncWindow {
        // ESO logs this at V(1) and changes no condition: the last sync stands.
        tracing::debug!(next_check = ?plan.next, "periodic refresh blocked by syncWindows");
    }
    if let Step::CheckTarget { hand_off } = first_step(&plan, lane, ctx.is_failing(&key))
        && timed(&ctx.metrics, "check", target::target_valid(ctx, es)).await?
    {
        if hand_off {
            return Ok(Some((Duration::ZERO, Priority::Normal)));
        }
        return Ok(requeue_at(plan.next));
    }
    let mut pending = data::Pending::new();
    let fetched = fetch(ctx, es, not_before, &mut pending).await;
    let rotated = fetched
        .as_ref()
        .map(|f| f.rotated.clone())
        .unwrap_or_default();
    let written = match fetched {
        Ok(fetched) => write_or_delete(ctx, es, fetched).await,
        Err(e) => Err(e),
    };
    keep_generated(ctx, es, written.is_ok(), pending, &rotated).await?;
    record_status(ctx, es, &plan, started, written?, target).await
}

/// What the generators of this sync left: kept as GeneratorStates when the target was written
/// (and the earlier generations flagged for garbage collection), cleaned up when it was not.
async fn keep_generated(
    ctx: &Context,
    es: &ExternalSecret,
    written: bool,
    pending: data::Pending,
    rotated: &[String],
) -> Result<(), Error> {
    if pending.is_empty() && rotated.is_empty() {
        return Ok(());
    }
    let owner = super::generators::Owner::of(es);
    if written {
        // As in ESO, the values are in the target already: a state that cannot be kept is
        // logged, not a failed sync.
        if let Err(e) = super::generators::commit(&ctx.client, &owner, pending, rotated).await {
            tracing::warn!(error = %e, "could not keep the generator state");
        }
        Ok(())
    } else {
        super::generators::rollback(&ctx.client, ctx.generators.as_ref(), &owner, pending).await;
        Ok(())
    }
}

/// Everything before the refresh decision: a deleted object is finalized, an object with a
/// store of another controller class is skipped silently (both `None`); else the finalizer is
/// set as needed, the target recorded as this object's, and the spec checked. Returns the
/// target's name.
async fn admit(ctx: &Context, es: &ExternalSecret) -> Result<Option<String>, Error> {
    if es.meta().deletion_timestamp.is_some() {
        return finalize(ctx, es).await.map(|()| None);
    }
    let ns = es.namespace().unwrap_or_default();
    if stores::referenced(es)
        .iter()
        .filter_map(|r| stores::lookup(ctx, &ns, r))
        .any(|s| !stores::serves(ctx, &s.spec))
    {
        return Ok(None);
    }
    timed(&ctx.metrics, "finalizer", ensure_finalizer(ctx, es)).await?;
    let target = target::target_name(es);
    ctx.lock_targets()
        .entry((ns, target.clone()))
        .or_default()
        .insert(es.name_any());
    check_spec(es)?;
    Ok(Some(target))
}

/// What the spec asks for that Ampoule cannot do.
fn check_spec(es: &ExternalSecret) -> Result<(), Error> {
    if let Err(e) = es.spec.refresh_interval() {
        return Err(Error::InvalidSpec(format!(
            "spec.refreshInterval {:?} is not a duration: {e}",
            es.spec.refresh_interval.as_deref().unwrap_or_default()
        )));
    }
    if !es.spec.target.is_secret() {
        return Err(Error::Unsupported(
            "spec.target.manifest: only Secret targets are supported".into(),
        ));
    }
    Ok(())
}

/// What a reconcile does once its refresh is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Fetch and write.
    Sync,
    /// Sync only when the target is not as this controller wrote it. Else nothing is due, or
    /// (`hand_off`) only a periodic refresh, which an urgent turn hands to the normal lane.
    CheckTarget { hand_off: bool },
}

/// The step `plan` leads to for a key taken from `lane`. A failing object is never handed off:
/// the hand-off would count as a success and reset its backoff.
fn first_step(plan: &refresh::Plan, lane: Priority, failing: bool) -> Step {
    let hand_off = plan.due && lane == Priority::Urgent && !failing && plan.only_periodic();
    if !plan.due || hand_off {
        Step::CheckTarget { hand_off }
    } else {
        Step::Sync
    }
}

/// Fetches the data and sends a `MissingProviderSecret` event per key the provider lacked.
async fn fetch(
    ctx: &Context,
    es: &ExternalSecret,
    not_before: NotBefore,
    pending: &mut data::Pending,
) -> Result<data::Fetched, Error> {
    let fetched = timed(
        &ctx.metrics,
        "fetch",
        data::fetch(ctx, es, not_before, pending),
    )
    .await?;
    let obj = es.object_ref(&());
    for note in &fetched.missing {
        ctx.event(
            &ctx.recorder,
            &obj,
            EventType::Normal,
            "MissingProviderSecret",
            note.clone(),
        )
        .await;
    }
    Ok(fetched)
}

/// What becomes of the target after a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    /// Shape the data and apply it.
    Apply,
    /// Nothing fetched, deletionPolicy Delete: delete the target if this object owns it.
    Delete,
    /// Nothing fetched, deletionPolicy Retain: leave the target as it is.
    Retain,
}

/// The [`Write`] for `es` when the fetch found data or (`empty`) none.
fn what_to_write(es: &ExternalSecret, empty: bool) -> Result<Write, Error> {
    match es.spec.target.deletion_policy {
        _ if !empty => Ok(Write::Apply),
        DeletionPolicy::Merge => Ok(Write::Apply),
        DeletionPolicy::Delete if es.spec.target.creation_policy != CreationPolicy::Owner => {
            Err(Error::DeleteWithoutOwner)
        }
        DeletionPolicy::Delete => Ok(Write::Delete),
        DeletionPolicy::Retain => Ok(Write::Retain),
    }
}

/// The Ready condition's reason and message after a successful sync.
type Ready = (&'static str, &'static str);

/// Writes (or deletes, or keeps) the target as [`what_to_write`] says, with its events.
async fn write_or_delete(
    ctx: &Context,
    es: &ExternalSecret,
    fetched: data::Fetched,
) -> Result<Ready, Error> {
    let obj = es.object_ref(&());
    match what_to_write(es, fetched.data.is_empty())? {
        Write::Retain => Ok((reason::SECRET_SYNCED, message::SECRET_RETAINED)),
        Write::Delete => {
            if target::delete_if_owned(ctx, es).await? {
                ctx.event(
                    &ctx.recorder,
                    &obj,
                    EventType::Normal,
                    "Deleted",
                    message::SECRET_DELETED.into(),
                )
                .await;
            }
            Ok((reason::SECRET_DELETED, message::SECRET_DELETED))
        }
        Write::Apply => {
            let shape = timed(
                &ctx.metrics,
                "template",
                template::shape(ctx, es, fetched.data),
            )
            .await?;
            let written = timed(&ctx.metrics, "write", target::write(ctx, es, &shape)).await?;
            // Recorded at once, so the Secret watch recognises the echo of this write.
            {
                let mut synced = ctx.lock_synced();
                let entry = synced.entry(ObjectRef::from_obj(es)).or_default();
                entry.secret_resource_version = written.resource_version.clone();
                entry.fingerprint = written.fingerprint.clone();
            }
            let event = match written.outcome {
                Outcome::Created => Some(("Created", "secret created")),
                Outcome::Updated => Some(("Updated", "secret updated")),
                Outcome::Unchanged | Outcome::Missing | Outcome::NotManaged => None,
            };
            if let Some((reason, note)) = event {
                timed(
                    &ctx.metrics,
                    "event",
                    ctx.event_later(&ctx.recorder, &obj, reason, note.into()),
                )
                .await;
            }
            if written.outcome == Outcome::Missing {
                Ok((reason::SECRET_MISSING, message::SECRET_MISSING))
            } else {
                Ok((reason::SECRET_SYNCED, message::SECRET_SYNCED))
            }
        }
    }
}

/// The status after a successful sync at `started`: Ready=True with `ready`'s reason and
/// message, the refresh time, the synced version and the target.
fn synced_status(
    es: &ExternalSecret,
    started: Timestamp,
    (condition_reason, condition_message): Ready,
    version: &str,
    target: String,
) -> ExternalSecretStatus {
    let mut status = es.status.clone().unwrap_or_default();
    status.conditions = status::set_condition(
        &status.conditions,
        ExternalSecretConditionType::Ready,
        ConditionStatus::True,
        condition_reason,
        condition_message,
    );
    status.refresh_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        started,
    ));
    status.synced_resource_version = Some(version.to_owned());
    status.binding = Some(SecretBinding { name: target });
    status
}

/// Writes the status of a successful sync, remembers the sync, and says when to refresh next.
async fn record_status(
    ctx: &Context,
    es: &ExternalSecret,
    plan: &refresh::Plan,
    started: Timestamp,
    ready: Ready,
    target: String,
) -> Result<Requeue, Error> {
    let status = synced_status(es, started, ready, &plan.version, target);
    timed(&ctx.metrics, "status", write_status(ctx, es, &status)).await?;
    {
        let mut memory = ctx.lock_synced();
        let entry = memory.entry(ObjectRef::from_obj(es)).or_default();
        entry.refresh_time = status.refresh_time.clone();
        entry.synced_resource_version = Some(plan.version.clone());
    }
    Ok(requeue_at(plan.next_after_sync(started)))
}

/// Awaits one step of a reconcile and records its time in `ampoule_reconcile_phase_seconds`.
async fn timed<T>(
    metrics: &Metrics,
    phase: &'static str,
    step: impl std::future::Future<Output = T>,
) -> T {
    let start = std::time::Instant::now();
    let out = step.await;
    metrics
        .reconcile_phase
        .get_or_create(&crate::metrics::PhaseLabel { phase })
        .observe(start.elapsed().as_secs_f64());
    out
}

/// The requeue for the next periodic refresh, `next` from now (`None`: never), jittered.
fn requeue_at(next: Option<Duration>) -> Requeue {
    next.map(|d| (backoff::jitter(d), Priority::Normal))
}

/// A failed sync: Ready=False with ESO's message, a Warning event with the error, backoff. The
/// target Secret is not touched.
async fn fail(ctx: &Context, es: &ExternalSecret, err: Error) -> Requeue {
    let key = ObjectRef::from_obj(es);
    tracing::warn!(error = %err, category = err.category(), "sync failed");
    let obj = es.object_ref(&());
    ctx.event(
        &ctx.recorder,
        &obj,
        EventType::Warning,
        "UpdateFailed",
        err.to_string(),
    )
    .await;
    // A template error is the user's to fix: the condition quotes it (values are redacted).
    let condition_message = match &err {
        Error::Template(_) => err.to_string(),
        _ => err.condition_message().to_owned(),
    };
    let mut status = es.status.clone().unwrap_or_default();
    status.conditions = status::set_condition(
        &status.conditions,
        ExternalSecretConditionType::Ready,
        ConditionStatus::False,
        reason::SECRET_SYNCED_ERROR,
        &condition_message,
    );
    if let Err(e) = write_status(ctx, es, &status).await {
        tracing::warn!(error = %e, "could not record the failure in status");
    }
    if err.is_permanent() {
        // Only a change of the object (or the next refresh) can help: no retry storm.
        return requeue_at(refresh::plan(es, &ctx.synced(&key), ctx.settings.clock.now()).next);
    }
    let delay = ctx.backoff.failed(&key.to_string());
    Some((
        backoff::honour_retry_after(delay, retry_after(&err)),
        Priority::Normal,
    ))
}

/// The wait a rate-limited backend asked for (its `Retry-After`), if it named one.
fn retry_after(err: &Error) -> Option<Duration> {
    match err {
        Error::Provider {
            source:
                crate::provider::ProviderError::RateLimited {
                    retry_after_secs: Some(secs),
                    ..
                },
            ..
        } => Some(Duration::from_secs(*secs)),
        _ => None,
    }
}

/// Writes the status subresource when it differs from what the object shows.
async fn write_status(
    ctx: &Context,
    es: &ExternalSecret,
    status: &ExternalSecretStatus,
) -> Result<(), Error> {
    if es.status.as_ref() == Some(status) {
        return Ok(());
    }
    let api: Api<ExternalSecret> =
        Api::namespaced(ctx.client.clone(), &es.namespace().unwrap_or_default());
    let patch = json!({"status": status});
    api.patch_status(
        &es.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(Error::PatchStatus)?;
    Ok(())
}

/// Ampoule adds ESO's finalizer only where it has work to do (deletionPolicy Delete): for every
/// other ExternalSecret a finalizer would only make deletion wait for the operator.
fn needs_finalizer(es: &ExternalSecret) -> bool {
    es.spec.target.deletion_policy == DeletionPolicy::Delete
}

async fn ensure_finalizer(ctx: &Context, es: &ExternalSecret) -> Result<(), Error> {
    let has = es.finalizers().iter().any(|f| f == FINALIZER);
    if has == needs_finalizer(es) {
        return Ok(());
    }
    let ops = if has {
        remove_finalizer_ops(es)
    } else {
        add_finalizer_ops(es)
    };
    patch_finalizers(ctx, es, ops).await
}

/// ESO's finalizer added only while the cached object is the latest (a resourceVersion test),
/// so a stale cache never re-adds it to an object being finalized.
fn add_finalizer_ops(es: &ExternalSecret) -> Vec<Value> {
    let rv =
        json!({"op": "test", "path": "/metadata/resourceVersion", "value": es.resource_version()});
    let mut ops = vec![rv];
    ops.extend(finalizers::add_ops(es, FINALIZER));
    ops
}

fn remove_finalizer_ops(es: &ExternalSecret) -> Vec<Value> {
    finalizers::remove_ops(es, FINALIZER)
}

async fn patch_finalizers(
    ctx: &Context,
    es: &ExternalSecret,
    ops: Vec<Value>,
) -> Result<(), Error> {
    let api: Api<ExternalSecret> =
        Api::namespaced(ctx.client.clone(), &es.namespace().unwrap_or_default());
    finalizers::patch(&api, &es.name_any(), ops)
        .await
        .map_err(Error::PatchFinalizer)
}

/// Deletion: with deletionPolicy Delete the target this ExternalSecret controls is deleted; then
/// the finalizer is removed. (Owner targets are garbage-collected by Kubernetes in any case.)
async fn finalize(ctx: &Context, es: &ExternalSecret) -> Result<(), Error> {
    if !es.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(());
    }
    if es.spec.target.deletion_policy == DeletionPolicy::Delete {
        target::delete_if_owned(ctx, es).await?;
    }
    patch_finalizers(ctx, es, remove_finalizer_ops(es)).await
}

#[cfg(test)]
#[path = "external_secret_tests.rs"]
mod tests;
