//! `ExternalSecret` (`external-secrets.io/v1`, served as `v1beta1` too): which store to read, what
//! to read, and the Secret to write.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{DNS1123_SUBDOMAIN, SecretStoreRef, StatusCondition};
use super::data::{ExternalSecretData, ExternalSecretDataFromRemoteRef};
use super::duration::{self, DurationError};
use super::template::ExternalSecretTemplate;

/// CEL rules and ESO's messages (`externalsecret_validator.go`).
pub mod rules {
    /// ESO: something must be fetched.
    pub const DATA_OR_DATA_FROM: &str = "(has(self.data) && size(self.data) > 0) || (has(self.dataFrom) && size(self.dataFrom) > 0)";
    /// ESO's message for [`DATA_OR_DATA_FROM`].
    pub const DATA_OR_DATA_FROM_MSG: &str = "either data or dataFrom should be specified";
    /// ESO: with `deletionPolicy: Retain` (the default) every `data[].secretKey` is unique.
    pub const UNIQUE_SECRET_KEYS: &str = "!has(self.data) || (has(self.target) && has(self.target.deletionPolicy) && self.target.deletionPolicy != 'Retain') || self.data.all(d, self.data.exists_one(e, e.secretKey == d.secretKey))";
    /// ESO's message for [`UNIQUE_SECRET_KEYS`] (ESO appends the key; a message expression naming
    /// it would be quadratic again and is not worth the cost budget).
    pub const UNIQUE_SECRET_KEYS_MSG: &str = "duplicate secretKey found";
    /// ESO: `deletionPolicy: Delete` needs a Secret the controller owns.
    pub const DELETE_NEEDS_OWNER: &str = "!has(self.deletionPolicy) || self.deletionPolicy != 'Delete' || !has(self.creationPolicy) || !(self.creationPolicy in ['Merge', 'None', 'CreateOrMerge'])";
    /// ESO's message for [`DELETE_NEEDS_OWNER`].
    pub const DELETE_NEEDS_OWNER_MSG: &str = "deletionPolicy=Delete must not be used when the controller doesn't own the secret. Please set creationPolicy=Owner";
    /// ESO: `deletionPolicy: Merge` needs a Secret to merge with.
    pub const MERGE_NEEDS_SECRET: &str = "!has(self.deletionPolicy) || self.deletionPolicy != 'Merge' || !has(self.creationPolicy) || self.creationPolicy != 'None'";
    /// ESO's message for [`MERGE_NEEDS_SECRET`].
    pub const MERGE_NEEDS_SECRET_MSG: &str = "deletionPolicy=Merge must not be used with creationPolicy=None. There is no Secret to merge with";
    /// ESO: a Secret target only takes templateFrom results in data, annotations or labels.
    pub const SECRET_TEMPLATE_TARGETS: &str = "(has(self.manifest) && !(self.manifest.apiVersion == 'v1' && self.manifest.kind == 'Secret')) || !has(self.template) || !has(self.template.templateFrom) || self.template.templateFrom.all(t, !has(t.target) || t.target == '' || t.target.lowerAscii() in ['data', 'annotations', 'labels'])";
    /// ESO's message for [`SECRET_TEMPLATE_TARGETS`], without the offending value.
    pub const SECRET_TEMPLATE_TARGETS_MSG: &str = r#"templateFrom target is not allowed when targeting a Secret, must be one of "Data", "Annotations" or "Labels""#;
    /// ESO's message for [`SECRET_TEMPLATE_TARGETS`], naming the offending value.
    pub const SECRET_TEMPLATE_TARGETS_MSG_EXPR: &str = r#"'templateFrom target="' + self.template.templateFrom.map(t, t.target).filter(x, x != '' && !(x.lowerAscii() in ['data', 'annotations', 'labels']))[0] + '" is not allowed when targeting a Secret, must be one of "Data", "Annotations" or "Labels"'"#;
}

/// Fetches values from a SecretStore or ClusterSecretStore and writes them into a Secret (or,
/// with `target.manifest`, another kind of object).
// Several `printcolumn(type_ = …)` look like duplicated attributes to clippy.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    version = "v1",
    kind = "ExternalSecret",
    namespaced,
    status = "ExternalSecretStatus",
    derive = "PartialEq",
    shortname = "es",
    category = "external-secrets",
    label("external-secrets.io/component", "controller"),
    doc = "Fetches values from a SecretStore or ClusterSecretStore and writes them into a Kubernetes Secret.",
    printcolumn(
        name = "StoreType",
        type_ = "string",
        json_path = ".spec.secretStoreRef.kind"
    ),
    printcolumn(
        name = "Store",
        type_ = "string",
        json_path = ".spec.secretStoreRef.name"
    ),
    printcolumn(
        name = "Refresh Interval",
        type_ = "string",
        json_path = ".spec.refreshInterval"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].reason"#
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(name = "Last Sync", type_ = "date", json_path = ".status.refreshTime"),
    selectable = ".spec.secretStoreRef.name",
    selectable = ".spec.secretStoreRef.kind",
    selectable = ".spec.target.name",
    selectable = ".spec.refreshInterval"
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": rules::DATA_OR_DATA_FROM, "message": rules::DATA_OR_DATA_FROM_MSG},
    {"rule": rules::UNIQUE_SECRET_KEYS, "message": rules::UNIQUE_SECRET_KEYS_MSG},
]))]
pub struct ExternalSecretSpec {
    /// The store to read from; may be omitted when every entry names its own `sourceRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_store_ref: Option<SecretStoreRef>,
    /// The Secret to write and how to own it.
    #[serde(default)]
    pub target: ExternalSecretTarget,
    /// When to sync: `Periodic` (every `refreshInterval`, the behaviour when omitted),
    /// `CreatedOnce`, or `OnChange` (only when the ExternalSecret changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_policy: Option<RefreshPolicy>,
    /// Go duration between syncs (e.g. `1h0m0s`, `10m`); `0s` syncs once.
    #[serde(
        default = "default_refresh_interval",
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh_interval: Option<String>,
    /// Restricts periodic syncs to (or away from) recurring time windows, in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_windows: Option<ExternalSecretSyncWindows>,
    /// Secret keys and the remote values they receive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 250))]
    pub data: Vec<ExternalSecretData>,
    /// Remote secrets, searches or generators whose keys are all copied; later entries win.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000))]
    pub data_from: Vec<ExternalSecretDataFromRemoteRef>,
}

/// ESO's CRD default for `spec.refreshInterval`.
pub const DEFAULT_REFRESH_INTERVAL: &str = "1h0m0s";

fn default_refresh_interval() -> Option<String> {
    Some(DEFAULT_REFRESH_INTERVAL.to_owned())
}

impl Default for ExternalSecretSpec {
    /// What the apiserver makes of an empty spec: ESO's defaults, nothing to fetch.
    fn default() -> Self {
        Self {
            secret_store_ref: None,
            target: ExternalSecretTarget::default(),
            refresh_policy: None,
            refresh_interval: default_refresh_interval(),
            sync_windows: None,
            data: Vec::new(),
            data_from: Vec::new(),
        }
    }
}

impl ExternalSecretSpec {
    /// The refresh interval as a duration (`1h` when unset), parsed as Go parses it
    /// ([`super::duration`]). Negative or zero means "no periodic refresh", as in ESO.
    pub fn refresh_interval(&self) -> Result<kube::core::Duration, DurationError> {
        duration::parse(
            self.refresh_interval
                .as_deref()
                .unwrap_or(DEFAULT_REFRESH_INTERVAL),
        )
    }
}

/// When an ExternalSecret syncs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum RefreshPolicy {
    /// Create the Secret once, never update it.
    CreatedOnce,
    /// Sync every `refreshInterval` (the behaviour when unset).
    #[default]
    Periodic,
    /// Sync only when the ExternalSecret's spec or metadata change.
    OnChange,
}

/// Recurring windows gating periodic syncs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretSyncWindows {
    /// `allow`: sync only inside a window; `deny`: never sync inside a window.
    pub kind: SyncWindowKind,
    /// The windows; all share `kind`.
    #[schemars(length(min = 1))]
    pub windows: Vec<ExternalSecretSyncWindow>,
}

/// Whether windows permit or block syncs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
#[serde(rename_all = "lowercase")]
pub enum SyncWindowKind {
    /// Periodic syncs happen only while a window is open.
    Allow,
    /// Periodic syncs are skipped while a window is open.
    Deny,
}

/// One recurring window.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretSyncWindow {
    /// When the window opens: a 5-field cron expression in UTC or a shorthand such as `@daily`
    /// or `@every 6h`.
    #[schemars(
        length(min = 1),
        pattern(r"^(@(annually|yearly|monthly|weekly|daily|midnight|hourly)|@every [^\s]+.*|[^\s]+( [^\s]+){4})$")
    )]
    pub schedule: String,
    /// How long the window stays open (Go duration, e.g. `8h`).
    pub duration: String,
}

/// The target Secret (or generic object) and its ownership.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": rules::DELETE_NEEDS_OWNER, "message": rules::DELETE_NEEDS_OWNER_MSG},
    {"rule": rules::MERGE_NEEDS_SECRET, "message": rules::MERGE_NEEDS_SECRET_MSG},
    {
        "rule": rules::SECRET_TEMPLATE_TARGETS,
        "message": rules::SECRET_TEMPLATE_TARGETS_MSG,
        "messageExpression": rules::SECRET_TEMPLATE_TARGETS_MSG_EXPR,
    },
]))]
pub struct ExternalSecretTarget {
    /// Name of the Secret; the ExternalSecret's name when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub name: Option<String>,
    /// Whether the Secret is created, owned, or only merged into.
    #[serde(default)]
    pub creation_policy: CreationPolicy,
    /// What happens to the Secret when the provider no longer has any of its values.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Blueprint for the Secret's type, metadata and rendered keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ExternalSecretTemplate>,
    /// Writes an object of this kind instead of a Secret (generic target; the controller must
    /// allow generic targets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<ManifestReference>,
    /// Makes the Secret immutable.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub immutable: bool,
}

impl Default for ExternalSecretTarget {
    fn default() -> Self {
        Self {
            name: None,
            creation_policy: CreationPolicy::Owner,
            deletion_policy: DeletionPolicy::Retain,
            template: None,
            manifest: None,
            immutable: false,
        }
    }
}

/// How the target Secret is created and owned.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum CreationPolicy {
    /// Create the Secret with an owner reference to the ExternalSecret (the default).
    #[default]
    Owner,
    /// Create the Secret without an owner reference; it outlives the ExternalSecret.
    Orphan,
    /// Never create; merge keys into an existing Secret.
    Merge,
    /// Write nothing.
    None,
    /// Create when missing, merge when present, never own.
    CreateOrMerge,
}

/// What happens when the provider has none of the Secret's values any more.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum DeletionPolicy {
    /// Delete the Secret.
    Delete,
    /// Remove the synced keys, keep the Secret.
    Merge,
    /// Keep the Secret as it is (the default); a missing value is a sync error.
    #[default]
    Retain,
}

/// API version and kind of a generic (non-Secret) target.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManifestReference {
    /// API version of the object, e.g. `v1`.
    #[schemars(length(min = 1))]
    pub api_version: String,
    /// Kind of the object, e.g. `ConfigMap`.
    #[schemars(length(min = 1))]
    pub kind: String,
}

impl ExternalSecretTarget {
    /// True when the target is a core/v1 Secret (no manifest, or a manifest naming Secret).
    pub fn is_secret(&self) -> bool {
        self.manifest
            .as_ref()
            .is_none_or(|m| m.api_version == "v1" && m.kind == "Secret")
    }
}

/// Condition types of an ExternalSecret.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum ExternalSecretConditionType {
    /// The target is in sync (or deliberately not written).
    Ready,
    /// Used internally by ESO for metric cleanup.
    Deleted,
}

/// A condition of an ExternalSecret.
pub type ExternalSecretStatusCondition = StatusCondition<ExternalSecretConditionType>;

/// Observed state of an ExternalSecret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretStatus {
    /// When the last successful sync started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_time: Option<Time>,
    /// `<metadata.generation>-<hash of labels and annotations>` of the ExternalSecret at the last
    /// successful sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_resource_version: Option<String>,
    /// Conditions; `Ready` tells whether the target is in sync.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ExternalSecretStatusCondition>,
    /// servicebinding.io provisioned-service reference to the target Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<SecretBinding>,
}

impl ExternalSecretStatus {
    /// The `Ready` condition, if any.
    pub fn ready(&self) -> Option<&ExternalSecretStatusCondition> {
        StatusCondition::find(&self.conditions, &ExternalSecretConditionType::Ready)
    }
}

/// Names the Secret an ExternalSecret provisions (servicebinding.io).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-map-type" = "atomic"))]
pub struct SecretBinding {
    /// Name of the Secret.
    #[serde(default)]
    pub name: String,
}
