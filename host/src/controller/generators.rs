//! Generators for ExternalSecrets (`dataFrom[].sourceRef.generatorRef`) and PushSecrets
//! (`selector.generatorRef`), and the GeneratorStates they leave (docs/eso-behaviour.md#generators).
//!
//! A reference is read from the cluster (the namespaced kind in the caller's namespace, or a
//! ClusterGenerator) and resolved to a kind and spec by `crd::generators::resolve`; the values
//! come from the sandboxed generator component through the [`SecretGenerator`] seam. A
//! generation that returns a state (a lease to revoke) is kept as ESO keeps it: after the
//! caller's write succeeded, a GeneratorState owned by the caller is created and the states
//! older than the previous one are given a garbage-collection deadline; when the write failed,
//! the new state is cleaned up at once. [`gc`] runs ESO's GeneratorState controller: a
//! finalizer that cleans up the state before the object goes, and deletion at the deadline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};

use super::backoff::Backoff;
use super::context::Context;
use super::error::Error;
use super::hash::object_hash;
use super::queue::{Priority, WorkQueue};
use super::retry::Retry;
use crate::crd::data::GeneratorRef;
use crate::crd::generators::state::OWNER_KEY_LABEL;
use crate::crd::generators::{
    API_VERSION, GeneratorState, GeneratorStateSpec, GeneratorTarget, resolve,
};
use crate::crd::secret_store::SecretStoreRetrySettings;
use crate::provider::{ProviderError, SecretMap};
use crate::redact::Redacted;
use ampoule_sandbox::generator::{Generated, GeneratorRequest, SecretGenerator};

/// ESO's finalizer on GeneratorStates: the state is cleaned up before the object goes.
pub const STATE_FINALIZER: &str = "generatorstate.externalsecrets.io/finalizer";

/// ESO's `--generator-gc-grace-period` default.
pub const GC_GRACE: Duration = Duration::from_secs(120);

/// A generator to run, as read from the cluster (or a file, for `ampoule render`).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub request: GeneratorRequest,
    /// The generator manifest a GeneratorState keeps (kind, name, spec), for cleanup.
    pub resource: Value,
}

/// Resolves `reference` for an object in `namespace` from `object` (the manifest it names).
pub fn resolve_object(
    reference: &GeneratorRef,
    namespace: &str,
    object: &Value,
) -> Result<Resolved, Error> {
    let target = GeneratorTarget::new(reference, namespace)
        .map_err(|e| Error::InvalidSpec(e.to_string()))?;
    let resolved = resolve(&target, object).map_err(|e| Error::InvalidSpec(e.to_string()))?;
    resolved
        .supported()
        .map_err(|e| Error::Unsupported(e.to_string()))?;
    let generation = object["metadata"]["generation"]
        .as_i64()
        .unwrap_or_default();
    let resource = json!({
        "apiVersion": API_VERSION,
        "kind": resolved.kind.as_str(),
        "metadata": {"name": resolved.name, "namespace": namespace},
        "spec": resolved.spec,
    });
    Ok(Resolved {
        request: GeneratorRequest {
            kind: resolved.kind.as_str().to_owned(),
            name: resolved.name,
            namespace: namespace.to_owned(),
            generation,
            spec: resolved.spec,
        },
        resource,
    })
}

/// Reads and resolves `reference` for an object in `namespace`.
pub async fn resolve_in_cluster(
    client: &Client,
    reference: &GeneratorRef,
    namespace: &str,
) -> Result<Resolved, Error> {
    let target = GeneratorTarget::new(reference, namespace)
        .map_err(|e| Error::InvalidSpec(e.to_string()))?;
    let resource = target.api_resource();
    let api: Api<DynamicObject> = match &target.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let object = match api.get(&target.name).await {
        Ok(o) => o,
        Err(kube::Error::Api(s)) if s.code == 404 => {
            return Err(Error::Generator(format!(
                "unable to get generator: {} {:?} not found",
                reference.kind.as_str(),
                reference.name
            )));
        }
        Err(e) => {
            return Err(Error::Generator(format!("unable to get generator: {e}")));
        }
    };
    let value = serde_json::to_value(&object).map_err(|e| Error::Generator(e.to_string()))?;
    resolve_object(reference, namespace, &value)
}

/// One generation, with its state still to be committed or rolled back.
pub struct Generation {
    pub data: SecretMap,
    pub pending: Option<Pending>,
}

/// A state a generation returned, not yet kept.
pub struct Pending {
    pub resolved: Resolved,
    pub state: Redacted<String>,
    /// The caller's state key (`dataFrom` index, or ESO's `__pushsecret`).
    pub key: String,
}

/// Generates with `generator` (ESO's message on failure: `error using generator: …`).
pub async fn generate(
    generator: &dyn SecretGenerator,
    resolved: Resolved,
    key: &str,
) -> Result<Generation, Error> {
    let retry = retry_of(&resolved.request)?;
    let Generated { data, state, .. } = retry
        .run(|| generator.generate(&resolved.request))
        .await
        .map_err(|source| Error::Provider {
        context: "error using generator".into(),
        source,
    })?;
    Ok(Generation {
        data,
        pending: state.map(|state| Pending {
            resolved,
            state,
            key: key.to_owned(),
        }),
    })
}

/// A VaultDynamicSecret's `spec.retrySettings`, with the meaning ESO's Vault client gives it
/// (docs/eso-behaviour.md#retry-settings); other kinds have none and are tried once.
fn retry_of(request: &GeneratorRequest) -> Result<Retry, Error> {
    if request.kind != "VaultDynamicSecret" {
        return Ok(Retry::default());
    }
    let settings: Option<SecretStoreRetrySettings> = request
        .spec
        .get("retrySettings")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| Error::InvalidSpec(format!("spec.retrySettings: {e}")))?;
    Retry::for_store("vault", settings.as_ref()).map_err(Error::InvalidSpec)
}

/// Who a GeneratorState belongs to: the ExternalSecret or PushSecret that generated.
#[derive(Debug, Clone)]
pub struct Owner {
    pub kind: &'static str,
    pub api_version: &'static str,
    pub name: String,
    pub namespace: String,
    pub uid: String,
}

impl Owner {
    pub fn of<K: Resource<DynamicType = ()>>(obj: &K) -> Self {
        let (kind, api_version) = match K::kind(&()).as_ref() {
            "PushSecret" => ("PushSecret", "external-secrets.io/v1alpha1"),
            _ => ("ExternalSecret", "external-secrets.io/v1"),
        };
        Self {
            kind,
            api_version,
            name: obj.meta().name.clone().unwrap_or_default(),
            namespace: obj.meta().namespace.clone().unwrap_or_default(),
            uid: obj.meta().uid.clone().unwrap_or_default(),
        }
    }

    /// ESO's `ownerKey`: the label value naming this owner's states for one key.
    pub fn key(&self, key: &str) -> String {
        object_hash(&format!(
            "{}-{}-{}-{key}",
            self.kind, self.namespace, self.name
        ))
    }
}

/// After the caller's write succeeded: every new state becomes a GeneratorState, and for each
/// key that generated again (or no longer generates, `retired`) the states older than the
/// latest get a deadline (ESO keeps the previous generation until the next one).
pub async fn commit(
    client: &Client,
    owner: &Owner,
    pending: Vec<Pending>,
    rotated: &[String],
) -> Result<(), Error> {
    let api: Api<GeneratorState> = Api::namespaced(client.clone(), &owner.namespace);
    for key in rotated {
        flag_for_gc(&api, owner, key).await?;
    }
    for p in pending {
        api.create(&PostParams::default(), &new_state(owner, &p, None))
            .await
            .map_err(|e| Error::Generator(format!("could not keep the generator state: {e}")))?;
    }
    Ok(())
}

/// After the caller's write failed: the new states are cleaned up at once (ESO's rollback); a
/// state that cannot be cleaned up is kept with a deadline of now, so the GC tries again.
pub async fn rollback(
    client: &Client,
    generator: &dyn SecretGenerator,
    owner: &Owner,
    pending: Vec<Pending>,
) {
    for p in pending {
        if generator
            .cleanup(&p.resolved.request, &p.state)
            .await
            .is_ok()
        {
            continue;
        }
        let api: Api<GeneratorState> = Api::namespaced(client.clone(), &owner.namespace);
        let gs = new_state(owner, &p, Some(super::status::now()));
        if let Err(e) = api.create(&PostParams::default(), &gs).await {
            tracing::warn!(error = %e, "could not keep a generator state to clean up later");
        }
    }
}

/// The GeneratorState keeping `p` for `owner` (ESO's `createGeneratorState`): named after the
/// owner, labelled with its owner key, owned by it, with the finalizer that makes the GC clean it
/// up, and `deadline` when it is to be collected already.
fn new_state(owner: &Owner, p: &Pending, deadline: Option<Time>) -> GeneratorState {
    let mut gs = GeneratorState::new(
        "",
        GeneratorStateSpec {
            garbage_collection_deadline: deadline,
            resource: p.resolved.resource.clone(),
            state: serde_json::from_str(p.state.expose())
                .unwrap_or_else(|_| Value::String(p.state.expose().clone())),
        },
    );
    gs.metadata.name = None;
    gs.metadata.generate_name = Some(format!(
        "gen-{}-{}-",
        owner.kind.to_ascii_lowercase(),
        owner.name
    ));
    gs.metadata.namespace = Some(owner.namespace.clone());
    gs.metadata.labels = Some(BTreeMap::from([(
        OWNER_KEY_LABEL.to_owned(),
        owner.key(&p.key),
    )]));
    gs.metadata.owner_references = Some(vec![OwnerReference {
        api_version: owner.api_version.into(),
        kind: owner.kind.into(),
        name: owner.name.clone(),
        uid: owner.uid.clone(),
        controller: None,
        block_owner_deletion: None,
    }]);
    gs.metadata.finalizers = Some(vec![STATE_FINALIZER.to_owned()]);
    gs
}

/// ESO's `disposeState`: every state of the key but the latest, without a deadline yet, gets
/// one `GC_GRACE` from now.
async fn flag_for_gc(api: &Api<GeneratorState>, owner: &Owner, key: &str) -> Result<(), Error> {
    let selector = format!("{OWNER_KEY_LABEL}={}", owner.key(key));
    let list = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| Error::Generator(format!("could not list generator states: {e}")))?;
    let live: Vec<&GeneratorState> = list
        .items
        .iter()
        .filter(|s| s.spec.garbage_collection_deadline.is_none())
        .collect();
    let latest = live
        .iter()
        .max_by_key(|s| s.metadata.creation_timestamp.clone().map(|t| t.0))
        .map(|s| s.name_any());
    let deadline = Time(
        k8s_openapi::jiff::Timestamp::now()
            + k8s_openapi::jiff::SignedDuration::from_secs(GC_GRACE.as_secs() as i64),
    );
    for s in live {
        if Some(s.name_any()) == latest {
            continue;
        }
        let patch = json!({"spec": {"garbageCollectionDeadline": deadline}});
        api.patch(
            &s.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map_err(|e| Error::Generator(format!("could not flag a generator state: {e}")))?;
    }
    Ok(())
}

/// The GeneratorState controller's cache and queue (part of [`Context`]).
pub struct GcState {
    pub objects: Store<GeneratorState>,
    pub queue: WorkQueue<ObjectRef<GeneratorState>>,
    pub backoff: Backoff,
}

impl GcState {
    pub fn new(objects: Store<GeneratorState>) -> Self {
        Self {
            objects,
            queue: WorkQueue::default(),
            backoff: Backoff::default(),
        }
    }
}

/// GeneratorState watch events: every change queues the object.
pub(super) async fn on_states(
    ctx: Arc<Context>,
    stream: impl Stream<Item = Result<Event<GeneratorState>, watcher::Error>>,
) {
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Apply(gs) | Event::InitApply(gs)) => {
                let key = ObjectRef::from_obj(&gs);
                ctx.generator_states
                    .queue
                    .add(key, Duration::ZERO, Priority::Urgent);
            }
            Ok(Event::Delete(gs)) => {
                let key = ObjectRef::from_obj(&gs);
                ctx.generator_states.queue.forget(&key);
            }
            Ok(Event::Init | Event::InitDone) => {}
            Err(e) => tracing::warn!(error = %e, "GeneratorState watch failed; retrying"),
        }
    }
}

/// Runs the GeneratorState worker until aborted.
pub async fn gc(ctx: Arc<Context>) {
    let mut listed = ctx.caches_listed.clone();
    let _ = listed.wait_for(|l| *l).await;
    if let Err(e) = ctx.generator_states.objects.wait_until_ready().await {
        tracing::warn!(error = %e, "the GeneratorState watch stopped before it listed its objects");
    }
    loop {
        let state = &ctx.generator_states;
        let key = state.queue.next().await;
        let id = key.to_string();
        let next = match state.objects.get(&key) {
            Some(gs) => match collect(&ctx, &gs).await {
                Ok(next) => {
                    state.backoff.reset(&id);
                    next
                }
                Err(e) => {
                    let delay = state.backoff.failed(&id);
                    tracing::warn!(generatorstate = %id, error = %e, retry_in_ms = delay.as_millis(), "GeneratorState cleanup failed");
                    Some(delay)
                }
            },
            None => None,
        };
        state.queue.done(&key);
        if let Some(delay) = next {
            state.queue.add(key, delay, Priority::Normal);
        }
    }
}

/// ESO's GeneratorState reconcile: the finalizer on; being deleted → cleanup, finalizer off;
/// past the deadline → delete; before it → look again at the deadline.
async fn collect(ctx: &Context, gs: &GeneratorState) -> Result<Option<Duration>, Error> {
    let api: Api<GeneratorState> =
        Api::namespaced(ctx.client.clone(), &gs.namespace().unwrap_or_default());
    let name = gs.name_any();
    let has_finalizer = gs.finalizers().iter().any(|f| f == STATE_FINALIZER);
    if gs.meta().deletion_timestamp.is_some() {
        if has_finalizer {
            cleanup(ctx, gs).await?;
            super::finalizers::patch(
                &api,
                &name,
                super::finalizers::remove_ops(gs, STATE_FINALIZER),
            )
            .await
            .map_err(Error::PatchFinalizer)?;
        }
        return Ok(None);
    }
    super::finalizers::patch(&api, &name, super::finalizers::add_ops(gs, STATE_FINALIZER))
        .await
        .map_err(Error::PatchFinalizer)?;
    let Some(deadline) = &gs.spec.garbage_collection_deadline else {
        return Ok(None);
    };
    let left = deadline
        .0
        .duration_since(k8s_openapi::jiff::Timestamp::now());
    match Duration::try_from(left) {
        Ok(d) if !d.is_zero() => Ok(Some(d)),
        _ => {
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => {
                    return Err(Error::Generator(format!(
                        "could not delete GeneratorState: {e}"
                    )));
                }
            }
            Ok(None)
        }
    }
}

/// The generator's cleanup of a kept state, from the manifest the state keeps.
async fn cleanup(ctx: &Context, gs: &GeneratorState) -> Result<(), Error> {
    let resource = &gs.spec.resource;
    let kind = resource["kind"].as_str().unwrap_or_default().to_owned();
    if !ctx.generators.serves(&kind) {
        return Err(Error::Generator(format!(
            "could not get generator: no component serves {kind:?}"
        )));
    }
    let request = GeneratorRequest {
        kind,
        name: resource["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        namespace: gs.namespace().unwrap_or_default(),
        generation: 0,
        spec: resource["spec"].clone(),
    };
    let state = match &gs.spec.state {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    ctx.generators
        .cleanup(&request, &Redacted::new(state))
        .await
        .map_err(|source: ProviderError| Error::Provider {
            context: "could not cleanup generator state".into(),
            source,
        })
}

/// Unit tests' generator: serves no kind.
#[cfg(test)]
pub(crate) struct NoGenerators;

#[cfg(test)]
impl SecretGenerator for NoGenerators {
    fn serves(&self, _: &str) -> bool {
        false
    }
    fn generate<'a>(
        &'a self,
        request: &'a GeneratorRequest,
    ) -> futures::future::BoxFuture<'a, Result<Generated, ProviderError>> {
        let kind = request.kind.clone();
        Box::pin(async move {
            Err(ProviderError::InvalidConfig(format!(
                "no component serves {kind}"
            )))
        })
    }
    fn cleanup<'a>(
        &'a self,
        _: &'a GeneratorRequest,
        _: &'a ampoule_sandbox::generator::GeneratorState,
    ) -> futures::future::BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: &str, spec: Value) -> GeneratorRequest {
        GeneratorRequest {
            kind: kind.into(),
            name: "g".into(),
            namespace: "ns".into(),
            generation: 1,
            spec,
        }
    }

    #[test]
    fn vault_dynamic_secrets_take_their_retry_settings() {
        let spec = json!({"path": "pki/issue/x", "retrySettings": {"maxRetries": 2, "retryInterval": "1s"}});
        assert_eq!(
            retry_of(&request("VaultDynamicSecret", spec.clone()))
                .unwrap()
                .tries(),
            3
        );
        assert_eq!(retry_of(&request("Password", spec)).unwrap().tries(), 1);
        let bad = json!({"retrySettings": {"retryInterval": "soon"}});
        assert!(retry_of(&request("VaultDynamicSecret", bad)).is_err());
    }
}
