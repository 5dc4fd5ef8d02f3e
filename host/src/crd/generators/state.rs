//! GeneratorState (namespaced): what a stateful generator produced (e.g. a token to revoke
//! later) and the generator manifest that produced it, kept until garbage collection.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::crd::common::Condition;

/// Label on a GeneratorState naming the resource that created it (garbage collection finds a
/// resource's states by it).
pub const OWNER_KEY_LABEL: &str = "generators.external-secrets.io/owner-key";

/// The state a generator produced and the manifest that produced it.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "GeneratorState",
    namespaced,
    status = "GeneratorStateStatus",
    derive = "PartialEq",
    shortname = "gs",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "State produced by a generator (for example a token to revoke) and the generator manifest that produced it.",
    printcolumn(
        name = "GC Deadline",
        type_ = "string",
        json_path = ".spec.garbageCollectionDeadline"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorStateSpec {
    /// When the state is deleted (its generator cleaning up first); kept forever when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub garbage_collection_deadline: Option<Time>,
    /// Snapshot of the generator manifest that produced the state; used to clean it up, so
    /// whatever it references must still exist then (a finalizer waits otherwise).
    #[serde(default)]
    #[schemars(required, schema_with = "super::free_json")]
    pub resource: serde_json::Value,
    /// The state the generator produced (free JSON).
    #[serde(default)]
    #[schemars(required, schema_with = "super::free_json")]
    pub state: serde_json::Value,
}

/// Observed state of a GeneratorState.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorStateStatus {
    /// Conditions; `Ready` tells whether the state is in place.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
