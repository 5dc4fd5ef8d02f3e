//! `spec.provider` of SecretStore and ClusterSecretStore: exactly one key naming the provider, and
//! its configuration block. The first-party providers (`vault`, `aws`, `gcpsm`, `fake`) have typed
//! schemas; any other key is kept as free JSON so a third-party plugin can serve it.

pub mod aws;
pub mod fake;
pub mod gcpsm;
pub mod vault;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use aws::AwsProvider;
pub use fake::FakeProvider;
pub use gcpsm::GcpSmProvider;
pub use vault::VaultProvider;

/// The provider configuration of a store: exactly one key.
///
/// The apiserver enforces "exactly one key" (`minProperties`/`maxProperties`); a value built in
/// Rust may break it, in which case [`SecretStoreProvider::key`] returns `None`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct SecretStoreProvider {
    /// HashiCorp Vault or OpenBao (KV secrets engine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<VaultProvider>,
    /// AWS Secrets Manager, Parameter Store or Certificate Manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsProvider>,
    /// Google Cloud Secret Manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcpsm: Option<GcpSmProvider>,
    /// Static values listed in the store (tests, demos).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fake: Option<FakeProvider>,
    /// Any other provider key (ESO's other providers, third-party plugins) with its block as free
    /// JSON; the plugin registered for the key validates it.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

impl SecretStoreProvider {
    /// Every key that is set, typed ones first.
    pub fn names(&self) -> Vec<&str> {
        let typed = [
            ("vault", self.vault.is_some()),
            ("aws", self.aws.is_some()),
            ("gcpsm", self.gcpsm.is_some()),
            ("fake", self.fake.is_some()),
        ];
        typed
            .into_iter()
            .filter_map(|(name, set)| set.then_some(name))
            .chain(self.other.keys().map(String::as_str))
            .collect()
    }

    /// The provider key, when exactly one is set.
    pub fn name(&self) -> Option<&str> {
        match self.names().as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// The provider key and its configuration block as JSON (what the plugin receives), when
    /// exactly one key is set.
    pub fn key(&self) -> Option<(&str, serde_json::Value)> {
        let name = self.name()?;
        let block = match name {
            "vault" => self
                .vault
                .as_ref()
                .and_then(|v| serde_json::to_value(v).ok()),
            "aws" => self.aws.as_ref().and_then(|v| serde_json::to_value(v).ok()),
            "gcpsm" => self
                .gcpsm
                .as_ref()
                .and_then(|v| serde_json::to_value(v).ok()),
            "fake" => self
                .fake
                .as_ref()
                .and_then(|v| serde_json::to_value(v).ok()),
            other => self.other.get(other).cloned(),
        }?;
        Some((name, block))
    }

    /// A provider configuration with a single, untyped key (a third-party provider).
    pub fn other(name: impl Into<String>, block: serde_json::Value) -> Self {
        Self {
            other: BTreeMap::from([(name.into(), block)]),
            ..Self::default()
        }
    }
}
