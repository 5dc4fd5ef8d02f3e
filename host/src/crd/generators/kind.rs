//! The generator kinds: one list, used by `ExternalSecret.spec.dataFrom[].sourceRef.generatorRef`
//! (every kind, ClusterGenerator included) and by `ClusterGenerator.spec.kind` (every kind but
//! ClusterGenerator itself).

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A generator kind of `generators.external-secrets.io`, as a `generatorRef` names it.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum GeneratorKind {
    /// Azure Container Registry token.
    #[serde(rename = "ACRAccessToken")]
    AcrAccessToken,
    /// BeyondTrust Workload Credentials dynamic secret.
    BeyondtrustWorkloadCredentialsDynamicSecret,
    /// A cluster-scoped generator embedding the spec of one of the other kinds.
    ClusterGenerator,
    /// Cloudsmith access token (OIDC).
    CloudsmithAccessToken,
    /// AWS ECR authorization token.
    #[serde(rename = "ECRAuthorizationToken")]
    EcrAuthorizationToken,
    /// Static values.
    Fake,
    /// Google Cloud access token for GCR / Artifact Registry.
    #[serde(rename = "GCRAccessToken")]
    GcrAccessToken,
    /// GitHub App installation token.
    GithubAccessToken,
    /// GitLab deploy token.
    GitlabDeployToken,
    /// Quay robot account token.
    QuayAccessToken,
    /// Random password.
    Password,
    /// SSH key pair.
    #[serde(rename = "SSHKey")]
    SshKey,
    /// AWS STS session token.
    #[serde(rename = "STSSessionToken")]
    StsSessionToken,
    /// Random UUID.
    #[serde(rename = "UUID")]
    Uuid,
    /// Vault / OpenBao dynamic secret.
    VaultDynamicSecret,
    /// Values returned by an HTTP endpoint.
    Webhook,
    /// Grafana service account token.
    Grafana,
    /// TOTP code.
    #[serde(rename = "MFA")]
    Mfa,
}

/// A `generatorRef.kind` that is not a generator kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown generator kind {0:?}")]
pub struct UnknownGeneratorKind(pub String);

impl GeneratorKind {
    /// Every kind, in ESO's order (the order of the `generatorRef.kind` enum).
    pub const ALL: [GeneratorKind; 18] = [
        Self::AcrAccessToken,
        Self::BeyondtrustWorkloadCredentialsDynamicSecret,
        Self::ClusterGenerator,
        Self::CloudsmithAccessToken,
        Self::EcrAuthorizationToken,
        Self::Fake,
        Self::GcrAccessToken,
        Self::GithubAccessToken,
        Self::GitlabDeployToken,
        Self::QuayAccessToken,
        Self::Password,
        Self::SshKey,
        Self::StsSessionToken,
        Self::Uuid,
        Self::VaultDynamicSecret,
        Self::Webhook,
        Self::Grafana,
        Self::Mfa,
    ];

    /// The kind's name, as in manifests.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AcrAccessToken => "ACRAccessToken",
            Self::BeyondtrustWorkloadCredentialsDynamicSecret => {
                "BeyondtrustWorkloadCredentialsDynamicSecret"
            }
            Self::ClusterGenerator => "ClusterGenerator",
            Self::CloudsmithAccessToken => "CloudsmithAccessToken",
            Self::EcrAuthorizationToken => "ECRAuthorizationToken",
            Self::Fake => "Fake",
            Self::GcrAccessToken => "GCRAccessToken",
            Self::GithubAccessToken => "GithubAccessToken",
            Self::GitlabDeployToken => "GitlabDeployToken",
            Self::QuayAccessToken => "QuayAccessToken",
            Self::Password => "Password",
            Self::SshKey => "SSHKey",
            Self::StsSessionToken => "STSSessionToken",
            Self::Uuid => "UUID",
            Self::VaultDynamicSecret => "VaultDynamicSecret",
            Self::Webhook => "Webhook",
            Self::Grafana => "Grafana",
            Self::Mfa => "MFA",
        }
    }

    /// The resource's plural name (`passwords`, `uuids`, …), as in its CRD.
    pub fn plural(self) -> String {
        format!("{}s", self.as_str().to_ascii_lowercase())
    }

    /// The member of `ClusterGenerator.spec.generator` holding this kind's spec
    /// (`passwordSpec`, `sshKeySpec`, …); `None` for ClusterGenerator itself.
    pub const fn cluster_spec_key(self) -> Option<&'static str> {
        Some(match self {
            Self::AcrAccessToken => "acrAccessTokenSpec",
            Self::BeyondtrustWorkloadCredentialsDynamicSecret => {
                "beyondtrustWorkloadCredentialsDynamicSecretSpec"
            }
            Self::ClusterGenerator => return None,
            Self::CloudsmithAccessToken => "cloudsmithAccessTokenSpec",
            Self::EcrAuthorizationToken => "ecrAuthorizationTokenSpec",
            Self::Fake => "fakeSpec",
            Self::GcrAccessToken => "gcrAccessTokenSpec",
            Self::GithubAccessToken => "githubAccessTokenSpec",
            Self::GitlabDeployToken => "gitlabDeployTokenSpec",
            Self::QuayAccessToken => "quayAccessTokenSpec",
            Self::Password => "passwordSpec",
            Self::SshKey => "sshKeySpec",
            Self::StsSessionToken => "stsSessionTokenSpec",
            Self::Uuid => "uuidSpec",
            Self::VaultDynamicSecret => "vaultDynamicSecretSpec",
            Self::Webhook => "webhookSpec",
            Self::Grafana => "grafanaSpec",
            Self::Mfa => "mfaSpec",
        })
    }

    /// Whether Ampoule has a component that generates values of this kind. The others are
    /// installed with their full schema (so nothing is pruned) but refused by the controller.
    /// `host/tests/controller_generators.rs` checks this list against the embedded components.
    pub const fn has_component(self) -> bool {
        matches!(
            self,
            Self::Password
                | Self::Uuid
                | Self::Fake
                | Self::SshKey
                | Self::Webhook
                | Self::VaultDynamicSecret
        )
    }

    /// The kinds a ClusterGenerator can embed: every kind but ClusterGenerator.
    pub fn embeddable() -> impl Iterator<Item = GeneratorKind> {
        Self::ALL
            .into_iter()
            .filter(|k| *k != Self::ClusterGenerator)
    }
}

impl fmt::Display for GeneratorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GeneratorKind {
    type Err = UnknownGeneratorKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownGeneratorKind(s.to_owned()))
    }
}

/// Schema of `ClusterGenerator.spec.kind`: the embeddable kinds.
pub(crate) fn embeddable_kind_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let kinds: Vec<&str> = GeneratorKind::embeddable()
        .map(GeneratorKind::as_str)
        .collect();
    schemars::json_schema!({
        "type": "string",
        "enum": kinds,
    })
}
