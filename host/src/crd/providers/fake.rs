//! `spec.provider.fake`: static values, for tests and demos.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// CEL rules mirroring ESO's `ValidateStore` for the fake provider, with its messages.
pub mod rules {
    /// Every entry has a key.
    pub const KEY_SET: &str = "self.key != ''";
    /// ESO's message for [`KEY_SET`] (ESO appends the entry's index).
    pub const KEY_SET_MSG: &str = "key must be set in data";
    /// Every entry has a value (or, deprecated, a value map).
    pub const VALUE_SET: &str =
        "(has(self.value) && self.value != '') || (has(self.valueMap) && size(self.valueMap) > 0)";
    /// ESO's message for [`VALUE_SET`] (ESO appends the entry's index).
    pub const VALUE_SET_MSG: &str = "at least one value must be set in data";
}

/// A store whose values are listed inline.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FakeProvider {
    /// The values the store serves.
    pub data: Vec<FakeProviderData>,
    /// Forces the store's validation result (0 ready, 1 unknown, 2 error); ready when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_result: Option<u8>,
}

/// One value of the fake store.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": rules::KEY_SET, "message": rules::KEY_SET_MSG},
    {"rule": rules::VALUE_SET, "message": rules::VALUE_SET_MSG},
]))]
pub struct FakeProviderData {
    /// Remote key.
    pub key: String,
    /// The value (a JSON object when properties are to be read from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Deprecated (ESO v1beta1): values as a map; use a JSON object in `value` instead.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub value_map: BTreeMap<String, String>,
    /// Version the value is served under; matches `remoteRef.version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}
