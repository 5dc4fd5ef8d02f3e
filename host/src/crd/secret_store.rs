//! `SecretStore` (namespaced) and `ClusterSecretStore` (cluster-scoped): where secrets are read
//! from. Both kinds share [`SecretStoreSpec`] and [`SecretStoreStatus`], as in ESO.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{DNS1123_LABEL, StatusCondition};
use super::providers::SecretStoreProvider;
use super::sandbox::Sandbox;

/// CEL rules mirroring ESO's store webhook.
pub mod rules {
    /// `refreshInterval`: non-negative seconds, or a non-negative Go duration.
    pub const REFRESH_INTERVAL: &str =
        "type(self) == int ? self >= 0 : duration(string(self)) >= duration('0s')";
    /// A namespace regex must compile (RE2, as ESO's Go `regexp`): `matches` fails evaluation on
    /// an invalid pattern, and the conditional keeps that failure from being absorbed.
    pub const REGEX_COMPILES: &str = "''.matches(self) ? true : true";
    /// Message for [`REGEX_COMPILES`] (ESO: `failed to compile …th namespace regex …`).
    pub const REGEX_COMPILES_MSG: &str = "failed to compile namespace regex";
    /// Message for [`REFRESH_INTERVAL`] (ESO: `invalid refreshInterval …`).
    pub const REFRESH_INTERVAL_MSG: &str = "invalid refreshInterval: must be a non-negative number of seconds or a Go duration such as \"1h\" or \"5m\"";
}

/// Where secrets are read from: one provider and its configuration.
// Several `printcolumn(type_ = …)` look like duplicated attributes to clippy.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    version = "v1",
    kind = "SecretStore",
    namespaced,
    status = "SecretStoreStatus",
    derive = "PartialEq",
    shortname = "ss",
    category = "external-secrets",
    label("external-secrets.io/component", "controller"),
    doc = "A provider (Vault, AWS, Google Cloud, a plugin, …) and how to reach it, usable by ExternalSecrets of its namespace.",
    printcolumn(
        name = "AGE",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].reason"#
    ),
    printcolumn(
        name = "Capabilities",
        type_ = "string",
        json_path = ".status.capabilities"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    )
)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreSpec {
    /// Controller class that handles this store; any controller when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    /// The provider: exactly one key.
    pub provider: SecretStoreProvider,
    /// Retries of failed provider calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_settings: Option<SecretStoreRetrySettings>,
    /// How often the store is revalidated: seconds (legacy integer) or a Go duration; the
    /// controller's default when empty or 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": rules::REFRESH_INTERVAL, "message": rules::REFRESH_INTERVAL_MSG},
    ]))]
    pub refresh_interval: Option<IntOrString>,
    /// Namespaces allowed to use a ClusterSecretStore (any condition matching admits a
    /// namespace); ignored on a SecretStore.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub conditions: Vec<ClusterSecretStoreCondition>,
    /// Ampoule: narrows the sandbox of the provider plugin (egress, limits) below its
    /// ProviderClass ceiling. It can only narrow: what the class denies stays denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<Sandbox>,
}

/// Retries of failed provider calls.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreRetrySettings {
    /// Maximum retries; provider-specific default when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i32>,
    /// Wait between retries (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_interval: Option<String>,
}

/// Selects namespaces that may use a ClusterSecretStore.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSecretStoreCondition {
    /// Namespaces whose labels match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Namespaces by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(min = 1, max = 63), pattern(DNS1123_LABEL)))]
    pub namespaces: Vec<String>,
    /// Namespaces whose name matches one of these RE2 regular expressions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), extend("items" = {
        "type": "string",
        "maxLength": 512,
        "x-kubernetes-validations": [{"rule": rules::REGEX_COMPILES, "message": rules::REGEX_COMPILES_MSG}],
    }))]
    pub namespace_regexes: Vec<String>,
}

/// Operations a store supports.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum SecretStoreCapabilities {
    /// Read only.
    ReadOnly,
    /// Write only (PushSecret).
    WriteOnly,
    /// Read and write.
    ReadWrite,
}

/// A condition of a store (ESO writes `Ready`).
pub type SecretStoreStatusCondition = StatusCondition<String>;

/// Observed state of a store.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreStatus {
    /// Conditions; `Ready` tells whether the provider configuration validated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<SecretStoreStatusCondition>,
    /// What the provider can do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<SecretStoreCapabilities>,
    /// Ampoule: the plugin serving this store and the egress it was granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<PluginStatus>,
}

impl SecretStoreStatus {
    /// The `Ready` condition, if any.
    pub fn ready(&self) -> Option<&SecretStoreStatusCondition> {
        StatusCondition::find(&self.conditions, &"Ready".to_owned())
    }
}

/// Ampoule extension of store status: which plugin ran, and with what egress.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginStatus {
    /// OCI digest (`sha256:…`) of the plugin component serving the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Effective egress rules (request ∩ ProviderClass ∩ store), one human-readable rule per
    /// entry, e.g. `GET,LIST https://vault.example.com:8200/v1/`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub granted_egress: Vec<String>,
}

// The spec of a ClusterSecretStore is a SecretStore's: this newtype only exists because the derive
// needs one spec type per kind. It dereferences to `SecretStoreSpec` (`css.spec.provider` works)
// and its doc comment must stay the same as `SecretStoreSpec`'s (it is the schema description).
/// Where secrets are read from: one provider and its configuration.
// Several `printcolumn(type_ = …)` look like duplicated attributes to clippy.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    version = "v1",
    kind = "ClusterSecretStore",
    status = "SecretStoreStatus",
    derive = "PartialEq",
    shortname = "css",
    category = "external-secrets",
    label("external-secrets.io/component", "controller"),
    doc = "A provider and how to reach it, usable by ExternalSecrets of every namespace its conditions admit.",
    printcolumn(
        name = "AGE",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].reason"#
    ),
    printcolumn(
        name = "Capabilities",
        type_ = "string",
        json_path = ".status.capabilities"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    )
)]
#[serde(transparent)]
#[schemars(transparent)]
pub struct ClusterSecretStoreSpec(pub SecretStoreSpec);

impl std::ops::Deref for ClusterSecretStoreSpec {
    type Target = SecretStoreSpec;
    fn deref(&self) -> &SecretStoreSpec {
        &self.0
    }
}

impl std::ops::DerefMut for ClusterSecretStoreSpec {
    fn deref_mut(&mut self) -> &mut SecretStoreSpec {
        &mut self.0
    }
}

impl From<SecretStoreSpec> for ClusterSecretStoreSpec {
    fn from(spec: SecretStoreSpec) -> Self {
        Self(spec)
    }
}

/// Either store kind, for code that handles both (the controller resolving `secretStoreRef`).
pub trait GenericStore {
    /// The kind of this store.
    const KIND: super::StoreKind;
    /// The shared spec.
    fn store_spec(&self) -> &SecretStoreSpec;
    /// The shared status, if any.
    fn store_status(&self) -> Option<&SecretStoreStatus>;
}

impl GenericStore for SecretStore {
    const KIND: super::StoreKind = super::StoreKind::SecretStore;
    fn store_spec(&self) -> &SecretStoreSpec {
        &self.spec
    }
    fn store_status(&self) -> Option<&SecretStoreStatus> {
        self.status.as_ref()
    }
}

impl GenericStore for ClusterSecretStore {
    const KIND: super::StoreKind = super::StoreKind::ClusterSecretStore;
    fn store_spec(&self) -> &SecretStoreSpec {
        &self.spec
    }
    fn store_status(&self) -> Option<&SecretStoreStatus> {
        self.status.as_ref()
    }
}
