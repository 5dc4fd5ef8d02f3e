//! ProviderClass: binds a provider key to a component (embedded, or pulled by digest from an OCI
//! registry, its cosign signature verified first when the class names public keys) and its
//! sandbox ceiling. Status shows the digest that runs. Deleting a class falls back to the
//! embedded component under the built-in ceiling.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Client, ResourceExt};
use oci_client::secrets::RegistryAuth;
use serde_json::json;
use tokio::sync::mpsc::UnboundedSender;

use super::status;
use crate::crd::{ConditionStatus, ProviderClass};
use crate::plugin::{self, Digest, ProviderClassConfig, Sandbox, WasmProvider};

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
}

impl ClassError {
    fn reason(&self) -> &'static str {
        match self {
            ClassError::Spec(_) => "InvalidSpec",
            ClassError::NoEmbedded(_) => "NoModule",
            ClassError::Verify(e) if e.category() == "public_key" => "InvalidSpec",
            ClassError::Verify(_) => "VerificationFailed",
            ClassError::PullSecret(..) | ClassError::Oci(_) => "PullFailed",
            ClassError::Load(_) => "LoadFailed",
        }
    }
}

/// Keeps the WasmProvider's bindings in line with the cluster's ProviderClasses.
pub struct Classes {
    client: Client,
    sandbox: Arc<Sandbox>,
    wasm: Arc<WasmProvider>,
    /// Provider keys whose component or ceiling changed: the stores using them are re-validated.
    changed: UnboundedSender<String>,
    /// What each class last bound: (spec, digest), so unchanged classes are not pulled again.
    bound: HashMap<String, (serde_json::Value, String)>,
}

impl Classes {
    pub fn new(
        client: Client,
        sandbox: Arc<Sandbox>,
        wasm: Arc<WasmProvider>,
        changed: UnboundedSender<String>,
    ) -> Self {
        Self {
            client,
            sandbox,
            wasm,
            changed,
            bound: HashMap::new(),
        }
    }

    /// Watches ProviderClasses until aborted.
    pub async fn run(mut self) {
        let api: Api<ProviderClass> = Api::all(self.client.clone());
        let mut stream = std::pin::pin!(
            watcher::watcher(api, watcher::Config::default())
                .default_backoff()
                .inspect(|ev| super::watch::report("ProviderClass", ev))
        );
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::Apply(pc) | Event::InitApply(pc)) => self.apply(&pc).await,
                Ok(Event::Delete(pc)) => self.remove(&pc).await,
                Ok(Event::Init | Event::InitDone) => {}
                Err(e) => tracing::warn!(error = %e, "ProviderClass watch failed; retrying"),
            }
        }
    }

    /// Applies every ProviderClass over an embedded component that exists now (call before
    /// starting the controllers, so no store is validated under the wrong ceiling). Classes with
    /// an OCI module are left to [`Classes::run`]: a pull and compile can take seconds for a
    /// large component, and one slow class must not hold back the controllers or other classes
    /// (their stores are validated again when the class binds).
    pub async fn sync_once(&mut self) -> Result<(), kube::Error> {
        let api: Api<ProviderClass> = Api::all(self.client.clone());
        for pc in api.list(&Default::default()).await? {
            if pc.spec.module.is_none() {
                self.apply(&pc).await;
            }
        }
        Ok(())
    }

    /// Binds one ProviderClass (pull, verify, compile) and writes its status.
    pub async fn apply(&mut self, pc: &ProviderClass) {
        let spec = serde_json::to_value(&pc.spec).unwrap_or_default();
        let name = pc.name_any();
        if self.bound.get(&name).is_some_and(|(s, _)| *s == spec) {
            return;
        }
        match self.load(pc, &spec).await {
            Ok(digest) => {
                tracing::info!(class = %name, provider = %pc.spec.provider, %digest, "provider class bound");
                self.bound.insert(name, (spec, digest.clone()));
                let _ = self.changed.send(pc.spec.provider.clone());
                self.status(
                    pc,
                    Some(digest),
                    ConditionStatus::True,
                    "Loaded",
                    "module pulled, verified and compiled",
                )
                .await;
            }
            Err(e) => {
                tracing::warn!(class = %name, error = %e, "provider class cannot be used");
                self.status(pc, None, ConditionStatus::False, e.reason(), &e.to_string())
                    .await;
            }
        }
    }

    async fn load(
        &self,
        pc: &ProviderClass,
        spec: &serde_json::Value,
    ) -> Result<String, ClassError> {
        let class: ProviderClassConfig =
            serde_json::from_value(spec.clone()).map_err(|e| ClassError::Spec(e.to_string()))?;
        let (bytes, digest) = match &class.module {
            Some(module) => {
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
                    let verified =
                        plugin::distribution::cosign::verify(&pinned, &auth, &keys).await?;
                    tracing::info!(class = %pc.name_any(), image = %pinned, key = verified.key, "cosign signature verified");
                    format!("oci://{}", pinned.whole())
                };
                let pulled = plugin::distribution::oci::pull(&image, &auth).await?;
                (pulled.bytes, pulled.digest)
            }
            None => {
                let embedded = plugin::distribution::embedded::find(&class.provider)
                    .ok_or_else(|| ClassError::NoEmbedded(class.provider.clone()))?;
                let digest =
                    Digest::parse(embedded.digest).map_err(|e| ClassError::Spec(e.to_string()))?;
                (embedded.bytes.to_vec(), digest)
            }
        };
        let loaded = self.sandbox.load(bytes, Some(digest.clone())).await?;
        tracing::debug!(class = %pc.name_any(), "component loaded");
        let key = class.provider.clone();
        self.wasm.bind(&key, loaded, Some(class));
        Ok(digest.to_string())
    }

    /// Basic auth for the image's registry from a `kubernetes.io/dockerconfigjson` Secret.
    async fn registry_auth(
        &self,
        name: &str,
        namespace: Option<&str>,
        image: &str,
    ) -> Result<RegistryAuth, ClassError> {
        let ns = namespace.unwrap_or("default");
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
        let config: serde_json::Value = serde_json::from_slice(&raw.0)
            .map_err(|e| ClassError::PullSecret(what.clone(), e.to_string()))?;
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
                .map_err(|e| ClassError::PullSecret(what.clone(), e.to_string()))?;
            let text = String::from_utf8_lossy(&decoded);
            if let Some((user, pass)) = text.split_once(':') {
                return Ok(RegistryAuth::Basic(user.into(), pass.into()));
            }
        }
        Err(ClassError::PullSecret(
            what,
            format!("no credentials for registry {host}"),
        ))
    }

    async fn remove(&mut self, pc: &ProviderClass) {
        self.bound.remove(&pc.name_any());
        let key = &pc.spec.provider;
        self.wasm.unbind(key);
        // Back to the embedded component under the built-in ceiling, if there is one.
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
        let _ = self.changed.send(key.clone());
    }

    async fn status(
        &self,
        pc: &ProviderClass,
        digest: Option<String>,
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
        let patch =
            json!({"status": {"digest": digest.or(current.digest), "conditions": conditions}});
        let api: Api<ProviderClass> = Api::all(self.client.clone());
        if let Err(e) = api
            .patch_status(
                &pc.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            tracing::warn!(error = %e, "could not update ProviderClass status");
        }
    }
}
