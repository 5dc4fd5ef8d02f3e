//! The seam between the controller and secret backends (docs/architecture.md#provider-seam).
//!
//! The controller only ever talks to [`SecretProvider`]. The production implementation runs the
//! store's provider as a sandboxed WebAssembly component ([`crate::WasmProvider`]); controller
//! tests use a test-only implementation. No in-process provider exists in production code.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::redact::Redacted;

/// Secret bytes as fetched from a backend.
pub type SecretValue = Redacted<Vec<u8>>;
/// A map of secret keys to bytes (`GetSecretMap` / `GetAllSecrets`).
pub type SecretMap = BTreeMap<String, SecretValue>;

/// The two store kinds an ExternalSecret can reference (`spec.secretStoreRef.kind` of the
/// CRDs, which use this type).
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    schemars::JsonSchema,
)]
#[schemars(transform = drop_description)]
pub enum StoreKind {
    /// A namespaced `SecretStore` in the ExternalSecret's namespace (the default).
    #[default]
    SecretStore,
    /// A cluster-scoped `ClusterSecretStore`.
    ClusterSecretStore,
}

impl StoreKind {
    /// The kind's name as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::SecretStore => "SecretStore",
            StoreKind::ClusterSecretStore => "ClusterSecretStore",
        }
    }
}

/// The field that holds a `StoreKind` describes it; the enum's own text would repeat it.
fn drop_description(schema: &mut schemars::Schema) {
    if let Some(object) = schema.as_object_mut() {
        object.remove("description");
    }
}

/// Everything a provider needs to open a client for one store, for one caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoreContext {
    pub kind: StoreKind,
    pub name: String,
    /// The store's namespace (`None` for a ClusterSecretStore).
    pub store_namespace: Option<String>,
    /// The namespace the caller (ExternalSecret) lives in; for a ClusterSecretStore this is where
    /// credential references without a namespace resolve (ESO's referent authentication).
    /// `None` when the store itself is validated.
    pub caller_namespace: Option<String>,
    /// The store's `metadata.generation`: a changed store never reuses a client.
    pub generation: i64,
    /// The single key under `spec.provider` (`vault`, `aws`, `fake`, or a third party's).
    pub provider: String,
    /// The JSON block under that key, unchanged.
    pub config: serde_json::Value,
    /// The store's optional `spec.sandbox`: narrows the ProviderClass ceiling.
    pub sandbox: Option<std::sync::Arc<crate::config::SandboxSpec>>,
}

/// `remoteRef` of a `data[]` entry or a `dataFrom[].extract`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteRef {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `Fetch` reads the secret's metadata (tags, labels) instead of its value.
    #[serde(default)]
    pub fetch_metadata: bool,
}

/// `dataFrom[].find`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Go RE2 regular expression on the secret name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_regexp: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// Where a PushSecret writes (ESO's `PushSecretRemoteRef`): `data[].match.remoteRef`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushRemoteRef {
    pub remote_key: String,
    /// Write one property of the remote secret (merged into what is there) instead of all of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
}

/// One value a PushSecret writes (ESO's `PushSecretData` with the Secret's bytes resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushData {
    pub remote: PushRemoteRef,
    /// The `match.secretKey`'s value; for a whole-Secret push (no `secretKey`), the Secret's
    /// data as one JSON object of strings, as ESO's providers write it.
    pub value: SecretValue,
    /// `data[].metadata`, provider-specific JSON (Vault custom metadata, AWS tags …).
    pub metadata: Option<String>,
}

/// What a store reports it can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Capabilities {
    ReadOnly,
    WriteOnly,
    ReadWrite,
}

/// The outcome of validating a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validation {
    /// The provider checked the store (credentials work).
    Valid,
    /// The provider could not tell (e.g. referent authentication); ESO reports Ready=True
    /// `ValidationUnknown`.
    Unknown,
}

/// Facts the provider reports about the store (shown in its status).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreInfo {
    pub capabilities: Option<Capabilities>,
    /// Digest of the component that serves this store.
    pub digest: Option<String>,
    /// The egress the sandbox grants this store, as human-readable rules.
    pub granted_egress: Vec<String>,
}

/// Provider errors. `NotFound` is kept apart from everything else: it drives `deletionPolicy`.
/// Messages never contain secret values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("Secret does not exist")]
    NotFound,
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("invalid provider config: {0}")]
    InvalidConfig(String),
    #[error("rate limited: {message}")]
    RateLimited {
        message: String,
        retry_after_secs: Option<u64>,
    },
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl ProviderError {
    /// A bounded label for metrics and event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            ProviderError::NotFound => "not_found",
            ProviderError::Unauthorized(_) => "unauthorized",
            ProviderError::Forbidden(_) => "forbidden",
            ProviderError::InvalidConfig(_) => "invalid_config",
            ProviderError::RateLimited { .. } => "rate_limited",
            ProviderError::Unavailable(_) => "unavailable",
            ProviderError::Internal(_) => "internal",
        }
    }
}

/// A client for one store, opened for one reconcile (or shared within a refresh window).
pub trait ProviderClient: Send + Sync {
    /// Checks that the store works (ESO's `Validate`).
    fn validate(&self) -> BoxFuture<'_, Result<Validation, ProviderError>>;
    /// One value (`data[]`).
    fn get_secret<'a>(
        &'a self,
        r: &'a RemoteRef,
    ) -> BoxFuture<'a, Result<SecretValue, ProviderError>>;
    /// A map of values (`dataFrom[].extract`).
    fn get_secret_map<'a>(
        &'a self,
        r: &'a RemoteRef,
    ) -> BoxFuture<'a, Result<SecretMap, ProviderError>>;
    /// Every secret matching a search (`dataFrom[].find`).
    fn get_all_secrets<'a>(
        &'a self,
        f: &'a FindRef,
    ) -> BoxFuture<'a, Result<SecretMap, ProviderError>>;
    /// PushSecret: writes `data` (ESO's `PushSecret`). A provider refuses to overwrite a remote
    /// secret it did not create (ESO's `managed-by` check) with `Forbidden`.
    fn push_secret<'a>(&'a self, data: &'a PushData) -> BoxFuture<'a, Result<(), ProviderError>> {
        let _ = data;
        Box::pin(async { Err(read_only()) })
    }
    /// Removes what a PushSecret wrote (`deletionPolicy: Delete`). Gone already is success.
    fn delete_secret<'a>(
        &'a self,
        remote: &'a PushRemoteRef,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        let _ = remote;
        Box::pin(async { Err(read_only()) })
    }
    /// Whether the remote secret (or its property) exists (`updatePolicy: IfNotExists`).
    fn secret_exists<'a>(
        &'a self,
        remote: &'a PushRemoteRef,
    ) -> BoxFuture<'a, Result<bool, ProviderError>> {
        let _ = remote;
        Box::pin(async { Err(read_only()) })
    }
}

/// The answer of a client that cannot write.
fn read_only() -> ProviderError {
    ProviderError::Forbidden("this store's provider does not write secrets".into())
}

/// An opened client and what the provider reports about the store.
pub type Opened = (Box<dyn ProviderClient>, StoreInfo);

/// Opens provider clients. The controller holds one of these.
pub trait SecretProvider: Send + Sync + 'static {
    /// Opens a client for `store`. Fails with `InvalidConfig` when the store's configuration is
    /// unusable (no plugin for the key, a config the plugin rejects, egress not granted …).
    fn open<'a>(&'a self, store: &'a StoreContext) -> BoxFuture<'a, Result<Opened, ProviderError>>;
}
