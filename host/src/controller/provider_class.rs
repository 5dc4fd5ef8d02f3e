//! ProviderClass: binds a provider key to a component (embedded, or pulled by digest from an OCI
//! registry, its cosign signature verified first when the class names public keys) and its
//! sandbox ceiling. Deleting a class falls back to the embedded component under the built-in
//! ceiling.
//!
//! A changed module is pulled, verified and compiled while the module bound before keeps
//! serving; only a module that answered `describe` is bound, in one swap of the provider table
//! (clients opened before keep the component they opened). Status shows the digest that serves
//! (`status.digest`) and the module on its way (`status.pendingImage`, `status.pendingDigest`
//! once pulled); a module that cannot be used leaves them, sets Ready=False with the reason and a
//! message naming what still serves, publishes a Warning event, and is recorded in
//! [`ClassHealth`] for the stores of its provider key ([`super::class_health`]).
//!
//! The watch feeds a keyed work queue ([`WorkQueue`], one key per class name): [`WORKERS`]
//! classes bind at once, so one slow pull does not hold back the others; a class that failed is
//! retried with per-class backoff ([`Backoff`]: 1 s doubling to 7 min) without waiting for a
//! watch event; a newer spec or a deletion abandons the attempt in flight for that class.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::events::EventType;

use super::recorder::Recorder;
use kube::runtime::watcher::{self, Event};
use kube::{Client, ResourceExt};
use oci_client::secrets::RegistryAuth;
use serde_json::json;
use tokio::sync::mpsc::UnboundedSender;

use super::backoff::Backoff;
use super::class_health::{ClassHealth, Problem};
use super::queue::{Priority, WorkQueue};
use super::status;
use crate::crd::{ConditionStatus, ProviderClass, ProviderClassSpec};
use crate::plugin::{self, Digest, ProviderClassConfig, Sandbox, WasmProvider};

#[path = "provider_class_state.rs"]
mod state;
use state::{Desired, Work};
#[path = "provider_class_status.rs"]
mod report;
use report::Pending;

/// The `reportingController` of the class's events.
const REPORTER: &str = "ampoule-provider-class";

#[derive(Debug, thiserror::Error)]
pub enum ClassError {
    #[error("spec cannot be used: {0}")]
    Spec(String),
    #[error("no component embedded in this build serves provider \"{0}\": set spec.module.image")]
    NoEmbedded(String),
    #[error("signature verification failed: {0}")]
    Verify(#[from] plugin::distribution::cosign::CosignError),
    #[error("could not read pull secret {0}: {1}")]
    PullSecret(String, String),
    #[error("{0}")]
    Oci(#[from] plugin::distribution::oci::OciError),
    #[error("{0}")]
    Load(#[from] plugin::SandboxError),
    #[error("the registry did not answer within {} s", FETCH_TIMEOUT.as_secs())]
    Timeout,
}

impl ClassError {
    fn reason(&self) -> &'static str {
        match self {
            ClassError::Spec(_) => "InvalidSpec",
            ClassError::NoEmbedded(_) => "NoModule",
            ClassError::Verify(e) if e.category() == "public_key" => "InvalidSpec",
            ClassError::Verify(_) => "VerificationFailed",
            ClassError::PullSecret(..) | ClassError::Oci(_) | ClassError::Timeout => "PullFailed",
            ClassError::Load(_) => "LoadFailed",
        }
    }

    /// Whether trying the same spec again can succeed: a registry that comes back, a pull
    /// secret created later, a signature pushed later. A spec that cannot be parsed, a key that
    /// is not a key or a provider no component serves stay wrong until the spec changes.
    pub fn retryable(&self) -> bool {
        match self {
            ClassError::Spec(_) | ClassError::NoEmbedded(_) => false,
            ClassError::Verify(e) => e.category() != "public_key",
            ClassError::PullSecret(..)
            | ClassError::Oci(_)
            | ClassError::Load(_)
            | ClassError::Timeout => true,
        }
    }
}

/// Classes bound at once.
pub const WORKERS: usize = 4;

/// The most one attempt spends reading its pull secret, resolving, verifying and pulling its
/// image: a registry that accepts the connection and never answers fails the attempt (retried
/// with backoff) instead of holding a worker for good.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(300);

/// The result of one attempt at binding a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Bound (status Ready=True written).
    Bound,
    /// The same spec of the same object is bound already: nothing was done.
    Unchanged,
    /// Not bound (status Ready=False written); `retry` when the same spec may succeed later.
    Failed { retry: bool },
    /// A newer spec or a deletion arrived first: abandoned, nothing written.
    Superseded,
}

/// The namespace the controller runs in: `POD_NAMESPACE` (the chart sets it from the pod's
/// metadata) when set, else the client's default namespace (the service account's in a pod, the
/// kubeconfig context's outside one, `default` when that names none).
pub fn controller_namespace(pod_namespace: Option<String>, client_default: &str) -> String {
    pod_namespace
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| client_default.to_owned())
}

/// Basic auth for `image`'s registry from the bytes of a `.dockerconfigjson` key: the
/// `auths` entry named exactly as the image's host, its `username` and `password`, else its
/// `auth` (base64 of `user:password`). The error says what is missing or malformed.
pub fn docker_config_auth(raw: &[u8], image: &str) -> Result<RegistryAuth, String> {
    let config: serde_json::Value = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
    let host = image
        .trim_start_matches("oci://")
        .split('/')
        .next()
        .unwrap_or_default();
    let entry = &config["auths"][host];
    if let (Some(user), Some(pass)) = (entry["username"].as_str(), entry["password"].as_str()) {
        return Ok(RegistryAuth::Basic(user.into(), pass.into()));
    }
    if let Some(auth) = entry["auth"].as_str() {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth)
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&decoded);
        if let Some((user, pass)) = text.split_once(':') {
            return Ok(RegistryAuth::Basic(user.into(), pass.into()));
        }
    }
    Err(format!("no credentials for registry {host}"))
}

/// What a class last bound, so an unchanged class is not pulled again.
#[derive(Debug, Clone)]
struct Bound {
    spec: ProviderClassSpec,
    uid: Option<String>,
    provider: String,
    /// The component's digest.
    digest: String,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps the WasmProvider's bindings in line with the cluster's ProviderClasses.
pub struct Classes {
    shared: Arc<Shared>,
}

struct Shared {
    client: Client,
    /// Where a pull secret without a namespace is read: the controller's own namespace
    /// ([`controller_namespace`]).
    home: String,
    sandbox: Arc<Sandbox>,
    wasm: Arc<WasmProvider>,
    /// Provider keys whose component or ceiling changed: the stores using them are re-validated.
    changed: UnboundedSender<String>,
    /// What each class (by name) last bound.
    bound: Mutex<HashMap<String, Bound>>,
    /// The latest object of each class and the attempts in flight.
    desired: Mutex<Desired>,
    queue: WorkQueue<String>,
    backoff: Backoff,
    /// Why classes do not serve their spec, for the stores of their keys.
    health: Arc<ClassHealth>,
    recorder: Recorder,
}

impl Classes {
    pub fn new(
        client: Client,
        sandbox: Arc<Sandbox>,
        wasm: Arc<WasmProvider>,
        changed: UnboundedSender<String>,
    ) -> Self {
        let home = controller_namespace(
            std::env::var("POD_NAMESPACE").ok(),
            client.default_namespace(),
        );
        Self {
            shared: Arc::new(Shared {
                recorder: Recorder::new(client.clone(), super::context::reporter(REPORTER)),
                client,
                home,
                sandbox,
                wasm,
                changed,
                bound: Mutex::default(),
                desired: Mutex::default(),
                queue: WorkQueue::default(),
                backoff: Backoff::default(),
                health: Arc::default(),
            }),
        }
    }

    /// Why classes do not serve their spec, by provider key: hand it to the store controller
    /// ([`super::Parts::class_health`]) so stores show their class's failures.
    pub fn health(&self) -> Arc<ClassHealth> {
        self.shared.health.clone()
    }

    /// Watches ProviderClasses and binds them with [`WORKERS`] workers until aborted.
    pub async fn run(self) {
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..WORKERS {
            workers.spawn(self.shared.clone().work());
        }
        let api: Api<ProviderClass> = Api::all(self.shared.client.clone());
        let mut stream = std::pin::pin!(
            watcher::watcher(api, watcher::Config::default())
                .default_backoff()
                .inspect(|ev| super::watch::report("ProviderClass", ev))
        );
        while let Some(event) = stream.next().await {
            self.shared.on_event(event);
        }
        workers.abort_all();
    }

    /// Applies every ProviderClass over an embedded component that exists now (call before
    /// starting the controllers, so no store is validated under the wrong ceiling). Classes with
    /// an OCI module are left to [`Classes::run`]: a pull and compile can take seconds for a
    /// large component, and one slow class must not hold back the controllers or other classes
    /// (their stores are validated again when the class binds).
    pub async fn sync_once(&self) -> Result<(), kube::Error> {
        let api: Api<ProviderClass> = Api::all(self.shared.client.clone());
        for pc in api.list(&Default::default()).await? {
            if pc.spec.module.is_none() {
                self.apply(&pc).await;
            }
        }
        Ok(())
    }

    /// Binds one ProviderClass (pull, verify, compile) and writes its status, once.
    pub async fn apply(&self, pc: &ProviderClass) -> Outcome {
        self.shared
            .attempt(pc, pc.spec.clone(), std::future::pending())
            .await
    }
}

impl Shared {
    /// Records a watch event and queues the classes it concerns.
    fn on_event(&self, event: Result<Event<ProviderClass>, watcher::Error>) {
        let queued = {
            let mut desired = lock(&self.desired);
            match event {
                Ok(Event::Apply(pc) | Event::InitApply(pc)) => {
                    let name = pc.name_any();
                    if desired.applied(pc) {
                        vec![name]
                    } else {
                        Vec::new()
                    }
                }
                Ok(Event::Delete(pc)) => {
                    let name = pc.name_any();
                    if desired.deleted(&pc) {
                        vec![name]
                    } else {
                        Vec::new()
                    }
                }
                Ok(Event::Init) => {
                    desired.relist_started();
                    Vec::new()
                }
                Ok(Event::InitDone) => desired.relist_done(),
                Err(e) => {
                    tracing::warn!(error = %e, "ProviderClass watch failed; retrying");
                    Vec::new()
                }
            }
        };
        for name in queued {
            self.queue.add(name, Duration::ZERO, Priority::Urgent);
        }
    }

    /// One worker: takes class names from the queue until aborted.
    async fn work(self: Arc<Self>) {
        loop {
            let name = self.queue.next().await;
            let work = lock(&self.desired).take(&name);
            match work {
                Some(Work::Apply { class, superseded }) => {
                    let outcome = self
                        .attempt(&class, class.spec.clone(), async {
                            let _ = superseded.await;
                        })
                        .await;
                    lock(&self.desired).finished(&name);
                    match outcome {
                        Outcome::Failed { retry: true } => {
                            let delay = self.backoff.failed(&name);
                            tracing::info!(class = %name, retry_in_ms = delay.as_millis(), "provider class will be tried again");
                            self.queue.add(name.clone(), delay, Priority::Normal);
                        }
                        Outcome::Bound | Outcome::Failed { retry: false } => {
                            self.backoff.reset(&name)
                        }
                        Outcome::Unchanged | Outcome::Superseded => {}
                    }
                }
                Some(Work::Remove { provider }) => {
                    self.backoff.reset(&name);
                    for key in self.health.recovered(&name) {
                        let _ = self.changed.send(key);
                    }
                    let previous = lock(&self.bound).remove(&name);
                    self.remove(&provider).await;
                    if let Some(previous) = previous
                        && previous.provider != provider
                    {
                        self.remove(&previous.provider).await;
                    }
                }
                None => {}
            }
            self.queue.done(&name);
        }
    }

    /// Binds `pc` unless the same spec of the same object is bound, and writes its status;
    /// abandoned (nothing bound, nothing written) when `superseded` resolves first. The module
    /// bound before serves until the new one is compiled and has answered `describe`; a module
    /// that cannot be used leaves it serving.
    async fn attempt(
        &self,
        pc: &ProviderClass,
        spec: ProviderClassSpec,
        superseded: impl std::future::Future<Output = ()>,
    ) -> Outcome {
        let name = pc.name_any();
        let previous = lock(&self.bound).get(&name).cloned();
        if let Some(bound) = previous
            .as_ref()
            .filter(|b| b.spec == spec && b.uid == pc.metadata.uid)
        {
            // Back to the spec that serves (a failed change reverted): the failure is over.
            self.restored(pc, bound).await;
            return Outcome::Unchanged;
        }
        let mut pending = Pending {
            image: spec.module.as_ref().map(|m| m.image.clone()),
            digest: None,
        };
        let serving_image = previous
            .as_ref()
            .and_then(|b| b.spec.module.as_ref())
            .map(|m| m.image.as_str());
        let loaded = tokio::select! {
            biased;
            () = superseded => {
                tracing::info!(class = %name, "provider class changed or deleted while it was being bound; abandoned");
                return Outcome::Superseded;
            }
            loaded = self.load(pc, &spec, previous.as_ref(), serving_image, &mut pending) => loaded,
        };
        match loaded {
            Ok((class, loaded, digest)) => {
                let key = class.provider.clone();
                let verified = report::verifies(&spec);
                self.wasm.bind(&key, loaded, Some(class));
                lock(&self.bound).insert(
                    name.clone(),
                    Bound {
                        spec,
                        uid: pc.metadata.uid.clone(),
                        provider: key.clone(),
                        digest: digest.clone(),
                    },
                );
                tracing::info!(class = %name, provider = %key, %digest, "provider class bound");
                let _ = self.changed.send(key.clone());
                for other in self.health.recovered(&name) {
                    if other != key {
                        let _ = self.changed.send(other);
                    }
                }
                // The class served another key before: that key falls back to its embedded
                // component rather than keep this class's module.
                let before = previous.as_ref().map(|b| b.digest.as_str());
                if let Some(previous) = &previous
                    && previous.provider != key
                {
                    self.remove(&previous.provider).await;
                }
                self.status(
                    pc,
                    report::fields(Some(&digest), None),
                    ConditionStatus::True,
                    "Loaded",
                    &report::served(&key, &digest, verified),
                )
                .await;
                let (reason, note) = report::served_event(&key, &digest, before);
                self.event(pc, EventType::Normal, reason, note).await;
                Outcome::Bound
            }
            Err(e) => {
                let key = &spec.provider;
                let own = previous
                    .as_ref()
                    .map(|b| (b.provider.as_str(), b.digest.as_str()));
                let serving = report::serving(key, own, self.wasm.digest(key).as_deref());
                let message = report::failure(&pending, &e.to_string(), &serving);
                tracing::warn!(class = %name, error = %e, %serving, "provider class cannot be used");
                self.status(
                    pc,
                    report::fields(own.map(|o| o.1), Some(&pending)),
                    ConditionStatus::False,
                    e.reason(),
                    &message,
                )
                .await;
                self.event(pc, EventType::Warning, e.reason(), message.clone())
                    .await;
                let problem = Problem {
                    class: name.clone(),
                    reason: e.reason(),
                    message: report::store_failure(&name, &message),
                };
                if self.health.failed(key, problem) {
                    let _ = self.changed.send(key.clone());
                }
                Outcome::Failed {
                    retry: e.retryable(),
                }
            }
        }
    }

    /// The spec that serves is the class's spec again: its problems are forgotten and its status
    /// says so (written only when it says something else).
    async fn restored(&self, pc: &ProviderClass, bound: &Bound) {
        let recovered = self.health.recovered(&pc.name_any());
        let current = pc.status.clone().unwrap_or_default();
        let ready = current
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == ConditionStatus::True);
        let stale = current.pending_image.is_some()
            || current.pending_digest.is_some()
            || current.digest.as_deref() != Some(bound.digest.as_str())
            || !ready;
        for key in &recovered {
            let _ = self.changed.send(key.clone());
        }
        if recovered.is_empty() && !stale {
            return;
        }
        self.status(
            pc,
            report::fields(Some(&bound.digest), None),
            ConditionStatus::True,
            "Loaded",
            &report::served(
                &bound.provider,
                &bound.digest,
                report::verifies(&bound.spec),
            ),
        )
        .await;
        let (reason, note) = report::served_event(&bound.provider, &bound.digest, None);
        self.event(pc, EventType::Normal, reason, note).await;
    }

    /// Pulls (verifying first when the class names keys) or finds the component and compiles it.
    /// `pending` learns the digest once pulled; a module other than the one serving
    /// (`serving_image`) is shown as pending in the status meanwhile.
    async fn load(
        &self,
        pc: &ProviderClass,
        spec: &ProviderClassSpec,
        previous: Option<&Bound>,
        serving_image: Option<&str>,
        pending: &mut Pending,
    ) -> Result<(ProviderClassConfig, Arc<plugin::Loaded>, String), ClassError> {
        let class = ProviderClassConfig::from(spec);
        let own = previous.map(|b| b.digest.as_str());
        let (bytes, digest) = match &class.module {
            Some(module) => {
                if serving_image != Some(module.image.as_str()) {
                    self.pending(pc, report::fields(own, Some(pending))).await;
                }
                let (bytes, digest) = self.fetch(pc, module).await?;
                pending.digest = Some(digest.to_string());
                if own != Some(digest.as_str()) {
                    self.pending(pc, report::fields(own, Some(pending))).await;
                }
                (bytes, digest)
            }
            None => {
                let embedded = plugin::distribution::embedded::find(&class.provider)
                    .ok_or_else(|| ClassError::NoEmbedded(class.provider.clone()))?;
                let digest =
                    Digest::parse(embedded.digest).map_err(|e| ClassError::Spec(e.to_string()))?;
                pending.digest = Some(digest.to_string());
                (embedded.bytes.to_vec(), digest)
            }
        };
        let loaded = self.sandbox.load(bytes, Some(digest.clone())).await?;
        tracing::debug!(class = %pc.name_any(), "component loaded");
        Ok((class, loaded, digest.to_string()))
    }

    /// The module's bytes and digest from its registry, its signature verified first when the
    /// class names public keys; at most [`FETCH_TIMEOUT`].
    async fn fetch(
        &self,
        pc: &ProviderClass,
        module: &plugin::config::ModuleSource,
    ) -> Result<(Vec<u8>, Digest), ClassError> {
        let fetch = async {
            let auth = match &module.pull_secret_ref {
                Some(r) => {
                    self.registry_auth(&r.name, r.namespace.as_deref(), &module.image)
                        .await?
                }
                None => RegistryAuth::Anonymous,
            };
            let keys = module
                .verify
                .as_ref()
                .map(|v| v.cosign_public_keys.as_slice())
                .unwrap_or_default();
            // With keys: resolve to a digest, verify its signature, then pull that digest.
            let image = if keys.is_empty() {
                module.image.clone()
            } else {
                let keys = plugin::distribution::cosign::parse_public_keys(keys)?;
                let pinned = plugin::distribution::oci::resolve(&module.image, &auth).await?;
                let verified = plugin::distribution::cosign::verify(&pinned, &auth, &keys).await?;
                tracing::info!(class = %pc.name_any(), image = %pinned, key = verified.key, "cosign signature verified");
                format!("oci://{}", pinned.whole())
            };
            let pulled = plugin::distribution::oci::pull(&image, &auth).await?;
            Ok::<_, ClassError>((pulled.bytes, pulled.digest))
        };
        tokio::time::timeout(FETCH_TIMEOUT, fetch)
            .await
            .map_err(|_| ClassError::Timeout)?
    }

    /// Basic auth for the image's registry from a `kubernetes.io/dockerconfigjson` Secret.
    async fn registry_auth(
        &self,
        name: &str,
        namespace: Option<&str>,
        image: &str,
    ) -> Result<RegistryAuth, ClassError> {
        let ns = namespace.unwrap_or(&self.home);
        let what = format!("{ns}/{name}");
        let secret = Api::<Secret>::namespaced(self.client.clone(), ns)
            .get(name)
            .await
            .map_err(|e| ClassError::PullSecret(what.clone(), e.to_string()))?;
        let raw = secret
            .data
            .and_then(|d| d.get(".dockerconfigjson").cloned())
            .ok_or_else(|| {
                ClassError::PullSecret(what.clone(), "no .dockerconfigjson key".into())
            })?;
        docker_config_auth(&raw.0, image).map_err(|e| ClassError::PullSecret(what, e))
    }

    /// Gives `key` back to its embedded component under the built-in ceiling, if there is one.
    async fn remove(&self, key: &str) {
        self.wasm.unbind(key);
        if let Some(embedded) = plugin::distribution::embedded::find(key) {
            let loaded = match Digest::parse(embedded.digest) {
                Ok(digest) => self
                    .sandbox
                    .load(embedded.bytes.to_vec(), Some(digest))
                    .await
                    .ok(),
                Err(_) => None,
            };
            if let Some(loaded) = loaded {
                self.wasm.bind(key, loaded, None);
            }
        }
        let _ = self.changed.send(key.to_owned());
    }

    /// Writes the Ready condition and `fields` ([`report::fields`]).
    async fn status(
        &self,
        pc: &ProviderClass,
        fields: serde_json::Value,
        ready: ConditionStatus,
        reason: &str,
        message: &str,
    ) {
        let current = pc.status.clone().unwrap_or_default();
        let conditions = status::set_condition(
            &current.conditions,
            "Ready".to_string(),
            ready,
            reason,
            message,
        );
        let mut patch = fields;
        patch["conditions"] = json!(conditions);
        self.patch_status(pc, patch).await;
    }

    /// Shows the module on its way (`fields` without the conditions).
    async fn pending(&self, pc: &ProviderClass, fields: serde_json::Value) {
        self.patch_status(pc, fields).await;
    }

    async fn patch_status(&self, pc: &ProviderClass, status: serde_json::Value) {
        let api: Api<ProviderClass> = Api::all(self.client.clone());
        if let Err(e) = api
            .patch_status(
                &pc.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&json!({ "status": status })),
            )
            .await
        {
            tracing::warn!(error = %e, "could not update ProviderClass status");
        }
    }

    async fn event(&self, pc: &ProviderClass, type_: EventType, reason: &str, note: String) {
        use kube::Resource;
        super::context::publish(&self.recorder, &pc.object_ref(&()), type_, reason, note).await;
    }
}

#[cfg(test)]
#[path = "provider_class_tests.rs"]
mod tests;
