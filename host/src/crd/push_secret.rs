//! `PushSecret` and `ClusterPushSecret` (`external-secrets.io/v1alpha1`): write a Kubernetes
//! Secret (or a generator's output) to one or more stores.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Condition, DNS1123_SUBDOMAIN, StoreKind};
use super::data::{ExternalSecretRewriteRegexp, ExternalSecretRewriteTransform, GeneratorRef};
use super::duration::{self, DurationError};
use super::template::ExternalSecretTemplate;

/// CEL rules and ESO's messages (`pushsecret_types.go`).
pub mod rules {
    /// ESO: a `dataTo[].storeRef` names a store or selects stores by label.
    pub const DATA_TO_STORE: &str =
        "has(self.storeRef) && (has(self.storeRef.name) || has(self.storeRef.labelSelector))";
    /// ESO's message for [`DATA_TO_STORE`].
    pub const DATA_TO_STORE_MSG: &str = "storeRef must specify either name or labelSelector";
    /// ESO: a bundle (`remoteKey`) takes no per-key rewrite.
    pub const DATA_TO_BUNDLE: &str =
        "!has(self.remoteKey) || !has(self.rewrite) || size(self.rewrite) == 0";
    /// ESO's message for [`DATA_TO_BUNDLE`].
    pub const DATA_TO_BUNDLE_MSG: &str = "remoteKey and rewrite are mutually exclusive: rewrite is only supported in per-key mode (without remoteKey)";
    /// ESO: exactly one of `regexp` or `transform` per rewrite.
    pub const ONE_REWRITE: &str =
        "(has(self.regexp) && !has(self.transform)) || (!has(self.regexp) && has(self.transform))";
    /// ESO's message for [`ONE_REWRITE`].
    pub const ONE_REWRITE_MSG: &str = "exactly one of regexp or transform must be set";
}

/// The `Ready` condition's reasons (ESO's `ReasonSynced`, `ReasonErrored`, `ReasonSourceDeleted`).
pub mod reasons {
    /// Every entry was written to every store.
    pub const SYNCED: &str = "Synced";
    /// The last push failed.
    pub const ERRORED: &str = "Errored";
    /// The source Secret is gone and what was pushed was deleted (`deletionPolicy: Delete`).
    pub const SOURCE_DELETED: &str = "SourceDeleted";
}

/// The finalizer that removes what was pushed before a PushSecret with `deletionPolicy: Delete`
/// goes away (ESO's name, so a PushSecret created by ESO is cleaned up by Ampoule).
pub const FINALIZER: &str = "pushsecret.externalsecrets.io/finalizer";

/// ESO's CRD default for `spec.refreshInterval`.
pub const DEFAULT_REFRESH_INTERVAL: &str = "1h0m0s";

fn default_refresh_interval() -> Option<String> {
    Some(DEFAULT_REFRESH_INTERVAL.to_owned())
}

/// Writes a Secret's keys (or a generator's output) to SecretStores and ClusterSecretStores.
// Several `printcolumn(type_ = …)` look like duplicated attributes to clippy.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    version = "v1alpha1",
    kind = "PushSecret",
    namespaced,
    status = "PushSecretStatus",
    derive = "PartialEq",
    shortname = "ps",
    category = "external-secrets",
    label("external-secrets.io/component", "controller"),
    doc = "Pushes a Kubernetes Secret (or a generator's output) to SecretStores and ClusterSecretStores.",
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
    printcolumn(name = "Last Sync", type_ = "date", json_path = ".status.refreshTime")
)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretSpec {
    /// Go duration between pushes (e.g. `1h0m0s`); `0s` pushes once per change of the PushSecret.
    #[serde(
        default = "default_refresh_interval",
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh_interval: Option<String>,
    /// The stores to write to, by name or by label selector.
    pub secret_store_refs: Vec<PushSecretStoreRef>,
    /// `Replace` (the default) overwrites the remote secret; `IfNotExists` writes only a remote
    /// secret that does not exist yet.
    #[serde(default)]
    pub update_policy: PushSecretUpdatePolicy,
    /// `Delete` removes what was pushed when the PushSecret, an entry or the source Secret goes
    /// away; `None` (the default) leaves it.
    #[serde(default)]
    pub deletion_policy: PushSecretDeletionPolicy,
    /// Where the values come from: a Secret of this namespace, or a generator.
    pub selector: PushSecretSelector,
    /// Which keys go where.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<PushSecretData>,
    /// Bulk rules: every key (or the keys a regexp matches) to its own remote secret, or all of
    /// them bundled into one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_to: Vec<PushSecretDataTo>,
    /// Transforms the source Secret (in memory only) before it is pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ExternalSecretTemplate>,
}

impl PushSecretSpec {
    /// The refresh interval (`1h` when unset), parsed as Go parses it.
    pub fn refresh_interval(&self) -> Result<kube::core::Duration, DurationError> {
        duration::parse(
            self.refresh_interval
                .as_deref()
                .unwrap_or(DEFAULT_REFRESH_INTERVAL),
        )
    }
}

/// Names a store, or selects stores by label.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretStoreRef {
    /// The store of this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub name: Option<String>,
    /// Every store of `kind` whose labels match (SecretStores of the PushSecret's namespace only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Kind of the store; `SecretStore` when omitted.
    #[serde(default = "default_store_kind")]
    pub kind: StoreKind,
}

fn default_store_kind() -> StoreKind {
    StoreKind::SecretStore
}

/// How an existing remote secret is treated.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum PushSecretUpdatePolicy {
    /// Overwrite it (the default).
    #[default]
    Replace,
    /// Leave it as it is.
    IfNotExists,
}

/// What happens to pushed secrets that are no longer pushed.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum PushSecretDeletionPolicy {
    /// Delete them from the store.
    Delete,
    /// Keep them (the default).
    #[default]
    None,
}

/// How key names are converted before they are matched.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum PushSecretConversionStrategy {
    /// Keep key names (the default).
    #[default]
    None,
    /// Turn `_U1234_` escapes in key names back into the characters (ESO's `ReverseUnicode`).
    ReverseUnicode,
}

/// The source of a PushSecret: exactly one of `secret` or `generatorRef`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct PushSecretSelector {
    /// A Secret of the PushSecret's namespace, by name or by label selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<PushSecretSecret>,
    /// A generator whose output is pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_ref: Option<GeneratorRef>,
}

/// Chooses source Secrets; always in the PushSecret's own namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretSecret {
    /// Name of the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub name: Option<String>,
    /// Every Secret of the namespace whose labels match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// Where a value is written.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretRemoteRef {
    /// Name of the remote secret.
    pub remote_key: String,
    /// Property of the remote secret to write (merged into what is there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
}

/// Which key goes where.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretMatch {
    /// The Secret key to push; the whole Secret (as one JSON object) when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    /// Where to write it.
    pub remote_ref: PushSecretRemoteRef,
}

/// One value to push.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretData {
    /// The key and its destination.
    #[serde(rename = "match")]
    pub match_: PushSecretMatch,
    /// Provider-specific metadata for the remote secret (see each provider's documentation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::crd::schema::any_json")]
    pub metadata: Option<serde_json::Value>,
    /// How key names are converted before they are matched.
    #[serde(default)]
    pub conversion_strategy: PushSecretConversionStrategy,
}

impl PushSecretData {
    /// The entry's key in `status.syncedPushSecrets` (ESO's `statusRef`): the remote key, and
    /// `/<property>` when one is set.
    pub fn status_ref(&self) -> String {
        let remote = &self.match_.remote_ref;
        match remote.property.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => format!("{}/{p}", remote.remote_key),
            None => remote.remote_key.clone(),
        }
    }
}

/// A bulk push rule.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": rules::DATA_TO_STORE, "message": rules::DATA_TO_STORE_MSG},
    {"rule": rules::DATA_TO_BUNDLE, "message": rules::DATA_TO_BUNDLE_MSG},
]))]
pub struct PushSecretDataTo {
    /// The store (among `secretStoreRefs`) this rule writes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_ref: Option<PushSecretStoreRef>,
    /// One remote secret that receives every matched key as a JSON object; without it each key
    /// is its own remote secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_key: Option<String>,
    /// Which keys; all when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "match")]
    pub match_: Option<PushSecretDataToMatch>,
    /// Key rewrites applied in order (per-key mode only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewrite: Vec<PushSecretRewrite>,
    /// Provider-specific metadata for every remote secret this rule writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::crd::schema::any_json")]
    pub metadata: Option<serde_json::Value>,
    /// How key names are converted before they are matched.
    #[serde(default)]
    pub conversion_strategy: PushSecretConversionStrategy,
}

/// Selects keys by regular expression.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretDataToMatch {
    /// RE2 regular expression on the key; every key when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regexp: Option<String>,
}

/// One key rewrite of a bulk rule: exactly one of `regexp` or `transform`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": rules::ONE_REWRITE, "message": rules::ONE_REWRITE_MSG},
]))]
pub struct PushSecretRewrite {
    /// Replaces parts of each key with a regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regexp: Option<ExternalSecretRewriteRegexp>,
    /// Renders each key through a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<ExternalSecretRewriteTransform>,
}

/// `status.syncedPushSecrets`: `<Kind>/<store name>` → status ref → the entry that was written.
pub type SyncedPushSecrets = BTreeMap<String, BTreeMap<String, PushSecretData>>;

/// Observed state of a PushSecret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretStatus {
    /// When the last successful push started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_time: Option<Time>,
    /// `<metadata.generation>-<hash of labels and annotations>` at the last successful push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_resource_version: Option<String>,
    /// What was written to which store, including remote secrets that already existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub synced_push_secrets: SyncedPushSecrets,
    /// Conditions; `Ready` tells whether the last push succeeded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

impl PushSecretStatus {
    /// The `Ready` condition, if any.
    pub fn ready(&self) -> Option<&Condition> {
        Condition::find(&self.conditions, &"Ready".to_owned())
    }
}

/// Creates a PushSecret with the same spec in every namespace its selectors choose.
// Several `printcolumn(type_ = …)` look like duplicated attributes to clippy.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    version = "v1alpha1",
    kind = "ClusterPushSecret",
    status = "ClusterPushSecretStatus",
    derive = "PartialEq",
    category = "external-secrets",
    label("external-secrets.io/component", "controller"),
    doc = "Creates a PushSecret with the same spec in every namespace its selectors choose.",
    printcolumn(
        name = "AGE",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].reason"#
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPushSecretSpec {
    /// Spec of the PushSecrets to create.
    pub push_secret_spec: PushSecretSpec,
    /// How often namespaces are re-evaluated (Go duration); 1h when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_time: Option<String>,
    /// Name of the created PushSecrets; the ClusterPushSecret's name when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub push_secret_name: Option<String>,
    /// Labels and annotations of the created PushSecrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_secret_metadata: Option<PushSecretMetadata>,
    /// Namespaces whose labels match any of these selectors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_selectors: Vec<LabelSelector>,
}

/// Metadata of the created PushSecrets.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretMetadata {
    /// Annotations to set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Labels to set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Observed state of a ClusterPushSecret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPushSecretStatus {
    /// Namespaces where the PushSecret could not be applied, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_namespaces: Vec<ClusterPushSecretNamespaceFailure>,
    /// Namespaces holding a PushSecret of this ClusterPushSecret (sorted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provisioned_namespaces: Vec<String>,
    /// Name of the PushSecrets created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_secret_name: Option<String>,
    /// Conditions; `Ready` is False when a namespace failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// A namespace where applying the PushSecret failed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPushSecretNamespaceFailure {
    /// The namespace.
    pub namespace: String,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
