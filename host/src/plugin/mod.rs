//! Sandboxed provider plugins (DESIGN.md §4): WebAssembly components run by wasmtime with a
//! deny-by-default WASI context, a memory cap, a deadline and an egress policy per store.
//!
//! Stages, each usable alone: [`oci`] pulls bytes by digest → [`Sandbox::load`] verifies the
//! digest, compiles once (disk cache), checks imports/exports → [`WasmProvider::bind`] serves a
//! provider key → [`WasmProvider`] (a [`crate::provider::SecretProvider`]) opens a fresh Store per
//! reconcile under the effective [`policy::EgressPolicy`].

pub mod bench;
pub mod bench_http;
pub mod bench_template;
mod bindings;
pub mod cache;
pub mod config;
pub mod cosign;
pub mod embedded;
mod host;
pub mod http;
pub mod kv;
pub mod metrics;
pub mod oci;
pub mod policy;
mod provider;
pub mod sandbox;
pub mod tls;
pub mod transform;
pub mod warm;

use std::time::Duration;

use futures::future::BoxFuture;

pub use cache::Digest;
pub use config::{ProviderClassConfig, SandboxSpec};
pub use provider::{WasmClient, WasmProvider};
pub use sandbox::{Loaded, Sandbox, SandboxConfig};
pub use transform::{TransformLimits, WasmTransformer};

use crate::provider::{ProviderError, SecretValue, StoreContext};

/// What a loaded component says about itself (`describe`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderInfo {
    pub name: String,
    pub version: String,
    pub read: bool,
    pub write: bool,
}

/// Sandbox failures: loading a component, or a call that trapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SandboxError {
    #[error("sandbox engine: {0}")]
    Engine(String),
    #[error("component digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch { expected: String, actual: String },
    #[error("not a valid component: {0}")]
    Compile(String),
    #[error(
        "component imports {0}, which the sandbox does not provide (allowed: WASI 0.2 and ampoule:host@0.1)"
    )]
    UnsupportedImport(String),
    #[error("component cannot be linked: {0}")]
    Link(String),
    #[error("component does not export the ampoule:provider/provider@0.1.0 interface: {0}")]
    NotAProvider(String),
    #[error("plugin exceeded its deadline of {0:?}")]
    Deadline(Duration),
    #[error("plugin exceeded its memory limit of {0} bytes")]
    MemoryLimit(u64),
    #[error("plugin trapped: {0}")]
    Trap(String),
}

impl SandboxError {
    pub fn category(&self) -> &'static str {
        match self {
            SandboxError::Engine(_) => "engine",
            SandboxError::DigestMismatch { .. } => "digest_mismatch",
            SandboxError::Compile(_) => "compile",
            SandboxError::UnsupportedImport(_) => "unsupported_import",
            SandboxError::Link(_) => "link",
            SandboxError::NotAProvider(_) => "not_a_provider",
            SandboxError::Deadline(_) => "deadline",
            SandboxError::MemoryLimit(_) => "memory_limit",
            SandboxError::Trap(_) => "trap",
        }
    }
}

impl From<SandboxError> for ProviderError {
    fn from(e: SandboxError) -> Self {
        match e {
            SandboxError::Deadline(_) => ProviderError::Unavailable(e.to_string()),
            SandboxError::MemoryLimit(_) | SandboxError::Trap(_) | SandboxError::Engine(_) => {
                ProviderError::Internal(e.to_string())
            }
            _ => ProviderError::InvalidConfig(e.to_string()),
        }
    }
}

/// A credential a plugin asked for (`requested-credentials`), resolved by the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRequest {
    /// The name the plugin will ask `ampoule:host/credentials.get` for.
    pub name: String,
    pub source: CredentialSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// A key of a Secret; `namespace` only honoured for ClusterSecretStores (ESO's rules).
    SecretKey {
        name: String,
        key: String,
        namespace: Option<String>,
    },
    /// A ServiceAccount token (TokenRequest) for these audiences.
    ServiceAccountToken {
        name: String,
        namespace: Option<String>,
        audiences: Vec<String>,
    },
    /// The value of one ServiceAccount annotation (empty when absent).
    ServiceAccountAnnotation {
        name: String,
        namespace: Option<String>,
        key: String,
    },
    /// A key of a ConfigMap (requested with `credentials.request-config-map`); `namespace` as
    /// for a Secret key.
    ConfigMapKey {
        name: String,
        key: String,
        namespace: Option<String>,
    },
    /// A ServiceAccount token whose first audience is an annotation's value (or the default),
    /// followed by `audiences`.
    AnnotatedToken {
        name: String,
        namespace: Option<String>,
        audience_annotation: String,
        default_audience: String,
        audiences: Vec<String>,
    },
}

impl CredentialSource {
    /// The namespace the reference names, if any.
    pub fn namespace(&self) -> Option<&str> {
        match self {
            CredentialSource::SecretKey { namespace, .. }
            | CredentialSource::ConfigMapKey { namespace, .. }
            | CredentialSource::ServiceAccountToken { namespace, .. }
            | CredentialSource::ServiceAccountAnnotation { namespace, .. }
            | CredentialSource::AnnotatedToken { namespace, .. } => namespace.as_deref(),
        }
    }
}

impl From<bindings::WitCredentialRequest> for CredentialRequest {
    fn from(r: bindings::WitCredentialRequest) -> Self {
        let source = match r.source {
            bindings::WitCredentialSource::SecretKey(s) => CredentialSource::SecretKey {
                name: s.name,
                key: s.key,
                namespace: s.namespace,
            },
            bindings::WitCredentialSource::ServiceAccountToken(s) => {
                CredentialSource::ServiceAccountToken {
                    name: s.name,
                    namespace: s.namespace,
                    audiences: s.audiences,
                }
            }
            bindings::WitCredentialSource::ServiceAccountAnnotation(s) => {
                CredentialSource::ServiceAccountAnnotation {
                    name: s.name,
                    namespace: s.namespace,
                    key: s.key,
                }
            }
            bindings::WitCredentialSource::AnnotatedToken(s) => CredentialSource::AnnotatedToken {
                name: s.name,
                namespace: s.namespace,
                audience_annotation: s.audience_annotation,
                default_audience: s.default_audience,
                audiences: s.audiences,
            },
        };
        CredentialRequest {
            name: r.name,
            source,
        }
    }
}

/// Resolves credentials for a store (the controller implements this against Kubernetes).
pub trait CredentialResolver: Send + Sync + 'static {
    fn resolve<'a>(
        &'a self,
        store: &'a StoreContext,
        request: &'a CredentialRequest,
    ) -> BoxFuture<'a, Result<SecretValue, ProviderError>>;
}

/// Resolves nothing: every request fails with a clear message.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCredentials;

impl CredentialResolver for NoCredentials {
    fn resolve<'a>(
        &'a self,
        _store: &'a StoreContext,
        request: &'a CredentialRequest,
    ) -> BoxFuture<'a, Result<SecretValue, ProviderError>> {
        let name = request.name.clone();
        Box::pin(async move {
            Err(ProviderError::InvalidConfig(format!(
                "credential {name:?} cannot be resolved: no credential resolver configured"
            )))
        })
    }
}
