//! Types shared by several kinds: references to Secrets, ServiceAccounts and CA bundles, store
//! references, and status conditions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A DNS-1123 subdomain (object names of most kinds).
pub const DNS1123_SUBDOMAIN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// A DNS-1123 label (namespace names).
pub const DNS1123_LABEL: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// A key of a Secret or ConfigMap.
pub const SECRET_KEY: &str = r"^[-._a-zA-Z0-9]+$";

/// Points at one key of a Kubernetes Secret.
///
/// `namespace` is honoured only when the referring store is a ClusterSecretStore; for a namespaced
/// SecretStore the store's own namespace is used.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    /// Name of the Secret.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub name: String,
    /// Namespace of the Secret; only meaningful on a ClusterSecretStore (otherwise the namespace of
    /// the referring object is used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), pattern(DNS1123_LABEL))]
    pub namespace: Option<String>,
    /// Key inside the Secret. Some references default it, others require it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(SECRET_KEY))]
    pub key: Option<String>,
}

/// Points at a Kubernetes ServiceAccount (for TokenRequest based authentication).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountSelector {
    /// Name of the ServiceAccount.
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub name: String,
    /// Namespace of the ServiceAccount; only meaningful on a ClusterSecretStore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), pattern(DNS1123_LABEL))]
    pub namespace: Option<String>,
    /// Audiences (`aud` claims) requested for the token, added to any audience implied by the
    /// provider (for example IRSA or GCP workload identity annotations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
}

/// Where a PEM CA bundle lives: a key of a Secret or a ConfigMap.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaProvider {
    /// Kind of object holding the bundle.
    #[serde(rename = "type")]
    pub type_: CaProviderType,
    /// Name of the Secret or ConfigMap.
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub name: String,
    /// Key of the PEM bundle inside the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(SECRET_KEY))]
    pub key: Option<String>,
    /// Namespace of the object; may only be set on a ClusterSecretStore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), pattern(DNS1123_LABEL))]
    pub namespace: Option<String>,
}

/// Kind of object a [`CaProvider`] reads.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum CaProviderType {
    /// A core/v1 Secret.
    Secret,
    /// A core/v1 ConfigMap.
    ConfigMap,
}

pub use ampoule_sandbox::provider::StoreKind;

/// Names the SecretStore or ClusterSecretStore to read from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreRef {
    /// Name of the store.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub name: String,
    /// Kind of the store; `SecretStore` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<StoreKind>,
}

impl SecretStoreRef {
    /// The referenced kind, applying the `SecretStore` default.
    pub fn effective_kind(&self) -> StoreKind {
        self.kind.unwrap_or_default()
    }
}

/// Status of a condition, as in core/v1 `ConditionStatus`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// The controller cannot tell.
    Unknown,
}

impl From<bool> for ConditionStatus {
    fn from(value: bool) -> Self {
        if value {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        }
    }
}

// Generic over the condition type: an enum for ExternalSecrets (`Ready`, `Deleted`), a string for
// stores and ProviderClasses.
/// A status condition: type, status, reason, message and transition time.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusCondition<T> {
    /// Type of the condition (ESO uses `Ready`).
    #[serde(rename = "type")]
    pub type_: T,
    /// Whether the condition holds.
    pub status: ConditionStatus,
    /// Machine-readable reason for the last transition, e.g. `SecretSynced`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When `status` last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
}

impl<T: PartialEq> StatusCondition<T> {
    /// Finds the condition of type `type_` in a list.
    pub fn find<'a>(conditions: &'a [Self], type_: &T) -> Option<&'a Self> {
        conditions.iter().find(|c| &c.type_ == type_)
    }
}

/// Ampoule's own condition on ProviderClass (and anywhere ESO has no fixed shape): the usual
/// Kubernetes condition with a free-form type.
pub type Condition = StatusCondition<String>;
