//! SecretStore and ClusterSecretStore: validate through the provider, report Ready with ESO's
//! reasons, requeue at the store's refreshInterval (or `--store-requeue-interval`). A store whose
//! ProviderClass could not load its latest module also shows `ProviderClassReady=False`
//! ([`super::class_health`]).

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::backoff::Backoff;
use super::class_health;
use super::context::{Context, StoreKey};
use super::queue::Priority;
use super::status::{self, message, reason};
use super::stores;
use crate::crd::secret_store::{PluginStatus, SecretStoreCapabilities};
use crate::crd::{
    ClusterSecretStore, ConditionStatus, GenericStore, SecretStore, SecretStoreStatus,
};
use crate::metrics::Metrics;
use crate::metrics::runtime::{Controller, ReconcileResult};
use crate::provider::{Capabilities, SecretProvider, StoreContext, StoreInfo, Validation};

/// The requeue interval of a store: `spec.refreshInterval` (int seconds or Go duration), else the
/// controller default.
pub fn requeue_interval(value: Option<&IntOrString>, default: Duration) -> Duration {
    let parsed = match value {
        Some(IntOrString::Int(s)) if *s > 0 => {
            Some(Duration::from_secs(u64::try_from(*s).unwrap_or_default()))
        }
        // Go's ParseDuration without kube's panics on terms such as "1h-5s" (crd/duration.rs).
        Some(IntOrString::String(s)) => crate::crd::duration::parse(s)
            .ok()
            .and_then(super::refresh::to_std)
            .filter(|d| !d.is_zero()),
        _ => None,
    };
    parsed.unwrap_or(default)
}

/// The controller a store key belongs to: `secretstore` or `clustersecretstore`.
pub fn controller_of(key: &StoreKey) -> Controller {
    match key.namespace {
        Some(_) => Controller::SecretStore,
        None => Controller::ClusterSecretStore,
    }
}

/// Reconciles one store; returns when to look again. Records controller-runtime's reconcile
/// metrics and `*secretstore_reconcile_duration`; a store that is gone loses its series.
#[tracing::instrument(skip(ctx), fields(store = ?key))]
pub async fn reconcile(ctx: &Context, key: &StoreKey) -> Option<(Duration, Priority)> {
    let started = std::time::Instant::now();
    let metrics = &ctx.metrics;
    let (conditions, durations) = match key.namespace {
        Some(_) => (&metrics.store_condition, &metrics.store_duration),
        None => (
            &metrics.cluster_store_condition,
            &metrics.cluster_store_duration,
        ),
    };
    let namespace = key.namespace.clone().unwrap_or_default();
    let validated = match &key.namespace {
        Some(ns) => match ctx
            .stores
            .get(&ObjectRef::<SecretStore>::new(&key.name).within(ns))
        {
            Some(store) => {
                Some(validate(ctx, store.as_ref(), Api::namespaced(ctx.client.clone(), ns)).await)
            }
            None => None,
        },
        None => match ctx
            .cluster_stores
            .get(&ObjectRef::<ClusterSecretStore>::new(&key.name))
        {
            Some(store) => Some(validate(ctx, store.as_ref(), Api::all(ctx.client.clone())).await),
            None => None,
        },
    };
    let (next, result) = match validated {
        Some((next, result)) => {
            Metrics::set_duration(durations, &key.name, &namespace, started.elapsed());
            (next, result)
        }
        None => {
            Metrics::forget_object(conditions, durations, &key.name, &namespace);
            (None, ReconcileResult::Success)
        }
    };
    metrics
        .runtime
        .reconciled(controller_of(key), result, started.elapsed());
    next
}

/// Validates one store: its client (stages [`store_context`] and [`check`]), the verdict
/// ([`verdict`]) written as the Ready condition, metrics and an event, the status, and when to
/// validate again ([`next_attempt`]).
async fn validate<S>(
    ctx: &Context,
    store: &S,
    api: Api<S>,
) -> (Option<(Duration, Priority)>, ReconcileResult)
where
    S: GenericStore
        + Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let spec = store.store_spec();
    if !stores::serves(ctx, spec) {
        return (None, ReconcileResult::Success);
    }
    let every = requeue_interval(
        spec.refresh_interval.as_ref(),
        ctx.settings.store_requeue_interval,
    );
    let recorder = &ctx.store_recorder;
    let obj = store.object_ref(&());
    let mut status = store.store_status().cloned().unwrap_or_default();
    let outcome = match store_context(store) {
        Ok(context) => check(ctx.provider.as_ref(), &context, &mut status).await,
        Err(failure) => Err(failure),
    };
    let Verdict {
        status: cond_status,
        reason: cond_reason,
        message: cond_message,
        event: (event_type, note),
    } = verdict(&outcome);
    status.conditions = status::set_condition(
        &status.conditions,
        "Ready".to_string(),
        cond_status,
        cond_reason,
        cond_message,
    );
    let metrics = &ctx.metrics;
    let family = match S::KIND {
        crate::crd::StoreKind::SecretStore => &metrics.store_condition,
        crate::crd::StoreKind::ClusterSecretStore => &metrics.cluster_store_condition,
    };
    let ready = cond_status == ConditionStatus::True;
    crate::metrics::Metrics::set_condition(
        family,
        &store.name_any(),
        &store.namespace().unwrap_or_default(),
        "Ready",
        ready,
    );
    ctx.event(recorder, &obj, event_type, cond_reason, note)
        .await;
    // The class serving this store's provider could not load its latest module: the store says
    // so (Ready stays what the component that serves answered).
    let problem = spec
        .provider
        .name()
        .and_then(|key| ctx.class_health.get(key));
    let (conditions, class_event) =
        class_health::store_conditions(&status.conditions, problem.as_ref());
    status.conditions = conditions;
    if let Some((type_, reason, note)) = class_event {
        ctx.event(recorder, &obj, type_, reason, note).await;
    }
    let written = write_status(&api, store, &status).await;
    if let Err(e) = &written {
        tracing::warn!(error = %e, "could not update store status");
    }
    let after = next_attempt(
        &ctx.backoff,
        &backoff_key(store),
        written.is_ok(),
        ready,
        every,
    );
    let result = if ready {
        ReconcileResult::RequeueAfter
    } else {
        ReconcileResult::Error
    };
    (Some((after, Priority::Normal)), result)
}

/// Why a store is not Ready: the condition's message and the event's note (the error).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    message: &'static str,
    detail: String,
}

/// Stage 1, the provider block: what the provider needs to open a client for `store` itself (no
/// caller namespace). Fails unless `spec.provider` names exactly one provider.
fn store_context<S>(store: &S) -> Result<StoreContext, Failure>
where
    S: GenericStore + Resource<DynamicType = ()>,
{
    let spec = store.store_spec();
    let Some((provider, config)) = spec.provider.key() else {
        return Err(Failure {
            message: message::STORE_CLIENT,
            detail: "spec.provider must name exactly one provider".to_string(),
        });
    };
    Ok(StoreContext {
        kind: S::KIND,
        name: store.name_any(),
        store_namespace: store.namespace(),
        caller_namespace: None,
        generation: store.meta().generation.unwrap_or_default(),
        provider: provider.into(),
        config,
        sandbox: spec.sandbox.as_ref().map(|s| std::sync::Arc::new(s.into())),
    })
}

/// Stages 2 to 4: opens a client (the plugin), records what the provider reports about the store
/// in `status` ([`reported`]), then asks the client to validate. A client that cannot be opened
/// leaves `status` as it was.
async fn check(
    provider: &dyn SecretProvider,
    context: &StoreContext,
    status: &mut SecretStoreStatus,
) -> Result<Validation, Failure> {
    let (client, info) = provider.open(context).await.map_err(|e| Failure {
        message: if crate::plugin::is_controller_identity_refusal(&e) {
            message::STORE_CONTROLLER_IDENTITY
        } else {
            message::STORE_CLIENT
        },
        detail: e.to_string(),
    })?;
    (status.capabilities, status.plugin) = reported(&info);
    client.validate().await.map_err(|e| Failure {
        message: message::STORE_VALIDATE,
        detail: e.to_string(),
    })
}

/// The status fields an opened client's [`StoreInfo`] sets: `capabilities`, and `plugin` (only
/// when the provider names the component's digest).
fn reported(info: &StoreInfo) -> (Option<SecretStoreCapabilities>, Option<PluginStatus>) {
    let capabilities = info.capabilities.map(|c| match c {
        Capabilities::ReadOnly => SecretStoreCapabilities::ReadOnly,
        Capabilities::WriteOnly => SecretStoreCapabilities::WriteOnly,
        Capabilities::ReadWrite => SecretStoreCapabilities::ReadWrite,
    });
    let plugin = info.digest.clone().map(|digest| PluginStatus {
        digest: Some(digest),
        granted_egress: info.granted_egress.clone(),
    });
    (capabilities, plugin)
}

/// Stage 5, what the outcome means: the Ready condition (status, reason, message) and the event
/// (its type and note; its reason is the condition's).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Verdict {
    status: ConditionStatus,
    reason: &'static str,
    message: &'static str,
    event: (EventType, String),
}

/// The [`Verdict`] on an outcome, with ESO's reasons: Valid (a Normal event), ValidationUnknown
/// (Ready all the same, with a Warning) and InvalidProviderConfig (a Warning naming the error).
fn verdict(outcome: &Result<Validation, Failure>) -> Verdict {
    match outcome {
        Ok(Validation::Valid) => Verdict {
            status: ConditionStatus::True,
            reason: reason::STORE_VALID,
            message: message::STORE_VALIDATED,
            event: (EventType::Normal, message::STORE_VALIDATED.into()),
        },
        Ok(Validation::Unknown) => Verdict {
            status: ConditionStatus::True,
            reason: reason::VALIDATION_UNKNOWN,
            message: message::STORE_UNKNOWN,
            event: (
                EventType::Warning,
                "store validation is unknown (referent authentication)".to_string(),
            ),
        },
        Err(failure) => Verdict {
            status: ConditionStatus::False,
            reason: reason::INVALID_PROVIDER_CONFIG,
            message: failure.message,
            event: (EventType::Warning, failure.detail.clone()),
        },
    }
}

/// The key of a store in the controller's backoff.
fn backoff_key<S: ResourceExt>(store: &S) -> String {
    format!(
        "store/{}/{}",
        store.namespace().unwrap_or_default(),
        store.name_any()
    )
}

/// When to validate the store again. A status that could not be written is retried with
/// backoff; a Ready store forgets its failures and comes back `every`; a store that fails
/// validation is retried with backoff (1 s doubling to 7 min), never later than its regular
/// interval: a fixed credential or a started server is noticed soon.
fn next_attempt(
    backoff: &Backoff,
    key: &str,
    written: bool,
    ready: bool,
    every: Duration,
) -> Duration {
    if !written {
        backoff.failed(key)
    } else if ready {
        backoff.reset(key);
        every
    } else {
        backoff.failed(key).min(every)
    }
}

async fn write_status<S>(
    api: &Api<S>,
    store: &S,
    status: &SecretStoreStatus,
) -> Result<(), kube::Error>
where
    S: GenericStore
        + Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    if store.store_status() == Some(status) {
        return Ok(());
    }
    api.patch_status(
        &store.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": status})),
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests;
