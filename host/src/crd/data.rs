//! What an ExternalSecret fetches: `spec.data[]` (one value per Secret key) and `spec.dataFrom[]`
//! (whole maps, searches, generators), with their strategies and key rewrites.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{DNS1123_SUBDOMAIN, SECRET_KEY, SecretStoreRef};

/// Rules and ESO's messages for `dataFrom[]` entries.
pub mod rules {
    /// ESO: extract, find and generatorRef are mutually exclusive.
    pub const EXCLUSIVE_SOURCES: &str = "[has(self.extract), has(self.find), has(self.sourceRef) && has(self.sourceRef.generatorRef)].filter(x, x).size() <= 1";
    /// ESO's message for [`EXCLUSIVE_SOURCES`].
    pub const EXCLUSIVE_SOURCES_MSG: &str =
        "extract, find, or generatorRef cannot be set at the same time";
    /// ESO: a dataFrom entry needs something to read.
    pub const SOME_SOURCE: &str = "has(self.extract) || has(self.find) || has(self.sourceRef)";
    /// ESO's message for [`SOME_SOURCE`].
    pub const SOME_SOURCE_MSG: &str = "either extract, find, or sourceRef must be set to dataFrom";
    /// ESO: a sourceRef names a store or a generator.
    pub const SOURCE_REF: &str = "has(self.storeRef) || has(self.generatorRef)";
    /// ESO's message for [`SOURCE_REF`].
    pub const SOURCE_REF_MSG: &str =
        "generatorRef or storeRef must be set when using sourceRef in dataFrom";
}

/// One key of the target Secret and where its value comes from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretData {
    /// Key in the target Secret that receives the value.
    #[schemars(length(min = 1, max = 253), pattern(SECRET_KEY))]
    pub secret_key: String,
    /// The remote value: key, and optionally property and version.
    pub remote_ref: ExternalSecretDataRemoteRef,
    /// Reads this entry from another store than `spec.secretStoreRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<StoreSourceRef>,
}

/// Locates a value in the provider.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretDataRemoteRef {
    /// Key (name or path) of the secret in the provider.
    pub key: String,
    /// Whether to read the secret's metadata (tags, labels) instead of its value; `None` when
    /// omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_policy: Option<MetadataPolicy>,
    /// Property to pick out of a structured (JSON) value, where the provider supports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// Version of the value to read, where the provider supports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// How keys are made valid Secret keys (`Default` when omitted); applies to `dataFrom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversion_strategy: Option<ConversionStrategy>,
    /// How values are decoded before they are stored (`None` when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoding_strategy: Option<DecodingStrategy>,
    /// What to do when a fetched value contains NUL bytes (`Ignore` when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_byte_policy: Option<NullBytePolicy>,
}

/// Whether a remote reference reads the secret's metadata.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum MetadataPolicy {
    /// Read the value (the default).
    #[default]
    None,
    /// Read the metadata (tags, labels, annotations) as a JSON object.
    Fetch,
}

/// How provider keys are turned into Secret keys.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum ConversionStrategy {
    /// Keep keys as they are (the default).
    #[default]
    Default,
    /// Replace characters that are invalid in Secret keys by their Unicode code point.
    Unicode,
}

/// How fetched values are decoded.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum DecodingStrategy {
    /// Decode base64 or base64url when the value is valid in either, else keep it.
    Auto,
    /// Decode standard base64.
    Base64,
    /// Decode URL-safe base64.
    #[serde(rename = "Base64URL")]
    Base64Url,
    /// Keep the value as fetched (the default).
    #[default]
    None,
}

/// What to do with fetched values that contain NUL bytes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum NullBytePolicy {
    /// Accept them (the default).
    #[default]
    Ignore,
    /// Fail the sync.
    Fail,
}

/// A per-entry store override for `data[]`: exactly one of `storeRef` or (deprecated, unused)
/// `generatorRef`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub enum StoreSourceRef {
    /// Read this entry from this store.
    StoreRef(SecretStoreRef),
    /// Deprecated and not implemented for `data[]`; accepted for compatibility only.
    GeneratorRef(GeneratorRef),
}

/// The source of a `dataFrom[]` entry: a store or a generator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend(
    "minProperties" = 1,
    "maxProperties" = 1,
    "x-kubernetes-validations" = [{"rule": rules::SOURCE_REF, "message": rules::SOURCE_REF_MSG}],
))]
pub enum StoreGeneratorSourceRef {
    /// Read `extract`/`find` from this store instead of `spec.secretStoreRef`.
    StoreRef(SecretStoreRef),
    /// Take the values a generator produces (cannot be combined with `extract` or `find`).
    GeneratorRef(GeneratorRef),
}

/// Points at a generator resource.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorRef {
    /// API version of the generator resource.
    #[serde(default = "default_generator_api_version")]
    pub api_version: String,
    /// Kind of the generator resource.
    pub kind: GeneratorKind,
    /// Name of the generator resource.
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub name: String,
}

fn default_generator_api_version() -> String {
    super::generators::API_VERSION.to_owned()
}

/// The generator kinds ESO knows: one list, shared with `ClusterGenerator.spec.kind`.
pub use super::generators::GeneratorKind;

/// Fetches many keys at once; exactly one of `extract`, `find` or `sourceRef.generatorRef`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": rules::EXCLUSIVE_SOURCES, "message": rules::EXCLUSIVE_SOURCES_MSG},
    {"rule": rules::SOME_SOURCE, "message": rules::SOME_SOURCE_MSG},
]))]
pub struct ExternalSecretDataFromRemoteRef {
    /// Reads one remote secret holding a JSON object and stores each of its properties as a key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<ExternalSecretDataRemoteRef>,
    /// Finds remote secrets by name or tags and stores each as a key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub find: Option<ExternalSecretFind>,
    /// Renames the fetched keys; applied in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewrite: Vec<ExternalSecretRewrite>,
    /// Reads from another store, or from a generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<StoreGeneratorSourceRef>,
}

/// Searches the provider for secrets.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretFind {
    /// Path to search under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Matches secret names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<FindName>,
    /// Matches secrets carrying all these tags (labels).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// How found names are made valid Secret keys (`Default` when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversion_strategy: Option<ConversionStrategy>,
    /// How found values are decoded (`None` when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoding_strategy: Option<DecodingStrategy>,
    /// What to do when a found value contains NUL bytes (`Ignore` when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_byte_policy: Option<NullBytePolicy>,
}

/// Matches secret names.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FindName {
    /// RE2 regular expression the name must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regexp: Option<String>,
}

/// One key rewrite: exactly one of `merge`, `regexp` or `transform`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub enum ExternalSecretRewrite {
    /// Merges the values of several keys (JSON objects) into one map or one key.
    Merge(ExternalSecretRewriteMerge),
    /// Replaces parts of each key with a regular expression.
    Regexp(ExternalSecretRewriteRegexp),
    /// Renders each key through a template.
    Transform(ExternalSecretRewriteTransform),
}

/// Merges fetched JSON objects.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretRewriteMerge {
    /// Key that receives the merged object; required for the `JSON` strategy, ignored otherwise.
    #[serde(default)]
    pub into: String,
    /// Keys whose values win conflicts, highest priority last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priority: Vec<String>,
    /// What to do when a key listed in `priority` is missing.
    #[serde(default)]
    pub priority_policy: MergePriorityPolicy,
    /// What to do when two sources set the same key.
    #[serde(default)]
    pub conflict_policy: MergeConflictPolicy,
    /// Whether to merge into separate keys (`Extract`) or into one JSON value (`JSON`).
    #[serde(default)]
    pub strategy: MergeStrategy,
}

/// What to do when a priority key is missing.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum MergePriorityPolicy {
    /// Skip it.
    IgnoreNotFound,
    /// Fail (the default).
    #[default]
    Strict,
}

/// What to do on conflicting keys.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum MergeConflictPolicy {
    /// Keep the value with the higher priority.
    Ignore,
    /// Fail (the default).
    #[default]
    Error,
}

/// How merged values are laid out.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum MergeStrategy {
    /// One Secret key per merged property (the default).
    #[default]
    Extract,
    /// One Secret key (`into`) holding the merged JSON object.
    #[serde(rename = "JSON")]
    Json,
}

/// Rewrites keys with a regular expression.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretRewriteRegexp {
    /// RE2 regular expression to match.
    pub source: String,
    /// Replacement, which may reference capture groups.
    pub target: String,
}

/// Rewrites keys with a template.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretRewriteTransform {
    /// Template rendered for each key; `.value` holds the key.
    pub template: String,
}
