//! The seam between the controller and ESO's generators (`generators.external-secrets.io`).
//!
//! The controller hands a generator's kind and `spec` to [`SecretGenerator::generate`] and gets
//! the generated map back, with an optional state for [`SecretGenerator::cleanup`] (ESO's
//! `GeneratorProviderState`, e.g. a Vault lease to revoke). The production implementation runs
//! the generator as a sandboxed WebAssembly component ([`crate::WasmGenerator`]); nothing
//! generates in process.

use futures::future::BoxFuture;

use crate::provider::{ProviderError, SecretMap, StoreContext, StoreKind};
use crate::redact::Redacted;

/// One generator, as the controller read it.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorRequest {
    /// The generator's kind as ESO spells it (`Password`, `UUID`, `VaultDynamicSecret`, …).
    pub kind: String,
    /// The generator object's name (logs and cache scope only).
    pub name: String,
    /// Where the generator is used: credential references resolve in this namespace, and a
    /// `namespace` written in a reference is ignored (ESO's rules for generators). For a
    /// ClusterGenerator, the ExternalSecret's namespace.
    pub namespace: String,
    /// The generator's `metadata.generation`: a changed generator never reuses a cached token.
    pub generation: i64,
    /// The CRD's `spec` object, unchanged (ESO's field names).
    pub spec: serde_json::Value,
}

impl GeneratorRequest {
    /// The context the [`crate::CredentialResolver`] resolves this generator's references in:
    /// a namespaced store in [`GeneratorRequest::namespace`], named after the generator.
    pub fn credential_context(&self) -> StoreContext {
        StoreContext {
            kind: StoreKind::SecretStore,
            name: format!("{}/{}", self.kind, self.name),
            store_namespace: Some(self.namespace.clone()),
            caller_namespace: Some(self.namespace.clone()),
            generation: self.generation,
            provider: format!("generator:{}", self.kind),
            config: self.spec.clone(),
            sandbox: None,
        }
    }
}

/// What `cleanup` needs to undo one generation (JSON, e.g. a lease id). Never printed.
pub type GeneratorState = Redacted<String>;

/// One generation's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The generated keys and values (values never print).
    pub data: SecretMap,
    /// Keep this (ESO's GeneratorState) and hand it to [`SecretGenerator::cleanup`] when the
    /// generated values are discarded. `None`: nothing to undo.
    pub state: Option<GeneratorState>,
    /// Digest of the component that generated.
    pub digest: String,
    /// The egress the sandbox granted this generation, as human-readable rules (empty for the
    /// pure kinds).
    pub granted_egress: Vec<String>,
}

/// Generates secrets. The controller holds one of these.
pub trait SecretGenerator: Send + Sync + 'static {
    /// Whether some component serves `kind`.
    fn serves(&self, kind: &str) -> bool;

    /// Fresh values for `request`. `InvalidConfig` when the kind has no component or the spec
    /// is unusable; other errors as the provider seam's.
    fn generate<'a>(
        &'a self,
        request: &'a GeneratorRequest,
    ) -> BoxFuture<'a, Result<Generated, ProviderError>>;

    /// Undoes the generation that returned `state` (e.g. revokes its lease). Idempotent:
    /// already gone is success.
    fn cleanup<'a>(
        &'a self,
        request: &'a GeneratorRequest,
        state: &'a GeneratorState,
    ) -> BoxFuture<'a, Result<(), ProviderError>>;
}
