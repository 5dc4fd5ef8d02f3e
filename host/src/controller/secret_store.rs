//! SecretStore and ClusterSecretStore: validate through the provider, report Ready with ESO's
//! reasons, requeue at the store's refreshInterval (or `--store-requeue-interval`).

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::context::{Context, StoreKey};
use super::queue::Priority;
use super::status::{self, message, reason};
use super::stores;
use crate::crd::secret_store::{PluginStatus, SecretStoreCapabilities};
use crate::crd::{
    ClusterSecretStore, ConditionStatus, GenericStore, SecretStore, SecretStoreStatus,
};
use crate::provider::{Capabilities, SecretProvider, StoreContext, Validation};

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

/// Reconciles one store; returns when to look again.
#[tracing::instrument(skip(ctx), fields(store = ?key))]
pub async fn reconcile(ctx: &Context, key: &StoreKey) -> Option<(Duration, Priority)> {
    match &key.namespace {
        Some(ns) => {
            let store = ctx
                .stores
                .get(&ObjectRef::<SecretStore>::new(&key.name).within(ns))?;
            validate(ctx, store.as_ref(), Api::namespaced(ctx.client.clone(), ns)).await
        }
        None => {
            let store = ctx
                .cluster_stores
                .get(&ObjectRef::<ClusterSecretStore>::new(&key.name))?;
            validate(ctx, store.as_ref(), Api::all(ctx.client.clone())).await
        }
    }
}

async fn validate<S>(ctx: &Context, store: &S, api: Api<S>) -> Option<(Duration, Priority)>
where
    S: GenericStore
        + Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let spec = store.store_spec();
    if !stores::serves(ctx, spec) {
        return None;
    }
    let every = requeue_interval(
        spec.refresh_interval.as_ref(),
        ctx.settings.store_requeue_interval,
    );
    let recorder = &ctx.store_recorder;
    let obj = store.object_ref(&());
    let mut status = store.store_status().cloned().unwrap_or_default();
    let outcome = match spec.provider.key() {
        None => Err((
            message::STORE_CLIENT,
            "spec.provider must name exactly one provider".to_string(),
        )),
        Some((provider, config)) => {
            let context = StoreContext {
                kind: S::KIND,
                name: store.name_any(),
                store_namespace: store.namespace(),
                caller_namespace: None,
                generation: store.meta().generation.unwrap_or_default(),
                provider: provider.into(),
                config,
                sandbox: spec.sandbox.as_ref().map(|s| std::sync::Arc::new(s.into())),
            };
            match ctx.provider.open(&context).await {
                Err(e) => Err((message::STORE_CLIENT, e.to_string())),
                Ok((client, info)) => {
                    status.capabilities = info.capabilities.map(|c| match c {
                        Capabilities::ReadOnly => SecretStoreCapabilities::ReadOnly,
                        Capabilities::WriteOnly => SecretStoreCapabilities::WriteOnly,
                        Capabilities::ReadWrite => SecretStoreCapabilities::ReadWrite,
                    });
                    status.plugin = info.digest.clone().map(|digest| PluginStatus {
                        digest: Some(digest),
                        granted_egress: info.granted_egress.clone(),
                    });
                    client
                        .validate()
                        .await
                        .map_err(|e| (message::STORE_VALIDATE, e.to_string()))
                }
            }
        }
    };
    let (cond_status, cond_reason, cond_message, event) = match &outcome {
        Ok(Validation::Valid) => (
            ConditionStatus::True,
            reason::STORE_VALID,
            message::STORE_VALIDATED,
            None,
        ),
        Ok(Validation::Unknown) => (
            ConditionStatus::True,
            reason::VALIDATION_UNKNOWN,
            message::STORE_UNKNOWN,
            Some((
                EventType::Warning,
                "store validation is unknown (referent authentication)".to_string(),
            )),
        ),
        Err((msg, detail)) => (
            ConditionStatus::False,
            reason::INVALID_PROVIDER_CONFIG,
            *msg,
            Some((EventType::Warning, detail.clone())),
        ),
    };
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
    let result = if ready { "success" } else { "error" };
    metrics
        .reconciles
        .get_or_create(&crate::metrics::ReconcileLabels {
            controller: "secretstore",
            result,
        })
        .inc();
    match event {
        None => {
            ctx.event(
                recorder,
                &obj,
                EventType::Normal,
                cond_reason,
                message::STORE_VALIDATED.into(),
            )
            .await
        }
        Some((t, note)) => ctx.event(recorder, &obj, t, cond_reason, note).await,
    }
    let key = format!(
        "store/{}/{}",
        store.namespace().unwrap_or_default(),
        store.name_any()
    );
    if let Err(e) = write_status(&api, store, &status).await {
        tracing::warn!(error = %e, "could not update store status");
        return Some((ctx.backoff.failed(&key), Priority::Normal));
    }
    if ready {
        ctx.backoff.reset(&key);
        Some((every, Priority::Normal))
    } else {
        // A store that fails validation is retried with backoff (1 s doubling to 7 min), never
        // later than its regular interval: a fixed credential or a started server is noticed soon.
        Some((ctx.backoff.failed(&key).min(every), Priority::Normal))
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
mod tests {
    use super::*;

    #[test]
    fn store_intervals() {
        let d = Duration::from_secs(300);
        assert_eq!(requeue_interval(None, d), d);
        assert_eq!(
            requeue_interval(Some(&IntOrString::Int(30)), d),
            Duration::from_secs(30)
        );
        assert_eq!(requeue_interval(Some(&IntOrString::Int(0)), d), d);
        assert_eq!(
            requeue_interval(Some(&IntOrString::String("1m30s".into())), d),
            Duration::from_secs(90)
        );
        assert_eq!(
            requeue_interval(Some(&IntOrString::String("0s".into())), d),
            d
        );
        // kube's parser panicked on a negative later term; now the default applies.
        for bad in ["1h-5s", "5s-1s", "99999999999999999999h"] {
            assert_eq!(
                requeue_interval(Some(&IntOrString::String(bad.into())), d),
                d,
                "{bad}"
            );
        }
    }
}
