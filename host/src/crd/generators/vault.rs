//! VaultDynamicSecret: one Vault (or OpenBao) API call whose response is the generated values.
//! The connection is a store's `spec.provider.vault` block, the same type.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::crd::providers::VaultProvider;
use crate::crd::secret_store::SecretStoreRetrySettings;

/// A dynamic secret read from (or written to) a Vault path.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "VaultDynamicSecret",
    namespaced,
    derive = "PartialEq",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "Calls a Vault (or OpenBao) path, e.g. a database or PKI role, and returns what it answers."
)]
#[serde(rename_all = "camelCase")]
pub struct VaultDynamicSecretSpec {
    /// Controller class that handles this generator; any controller when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    /// HTTP method of the call (`GET` when omitted; a write such as `POST` sends `parameters`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Body of a write call (free JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::free_json")]
    pub parameters: Option<serde_json::Value>,
    /// Query parameters of a `GET` call, each with one or more values; ignored by writes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub get_parameters: BTreeMap<String, Vec<String>>,
    /// Which part of the response becomes the generated values.
    #[serde(default)]
    pub result_type: VaultDynamicSecretResultType,
    /// Retries of failed calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_settings: Option<SecretStoreRetrySettings>,
    /// The Vault server and how to log in (a store's `spec.provider.vault`).
    pub provider: VaultProvider,
    /// API path to call, e.g. `database/creds/app`.
    pub path: String,
    /// Accepts a response without values instead of failing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[schemars(extend("default" = false))]
    pub allow_empty_response: bool,
}

/// Part of a Vault response returned by a VaultDynamicSecret.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum VaultDynamicSecretResultType {
    /// The response's `data` (the default).
    #[default]
    Data,
    /// The response's `auth` (e.g. a token created by `auth/token/create`).
    Auth,
    /// The whole response.
    Raw,
}
