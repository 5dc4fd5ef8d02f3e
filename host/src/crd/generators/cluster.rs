//! ClusterGenerator (cluster-scoped): the spec of one namespaced generator kind, usable from
//! every namespace.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::beyondtrust::BeyondtrustWorkloadCredentialsDynamicSecretSpec;
use super::cloud::{
    AcrAccessTokenSpec, EcrAuthorizationTokenSpec, GcrAccessTokenSpec, StsSessionTokenSpec,
};
use super::kind::GeneratorKind;
use super::simple::{FakeSpec, MfaSpec, PasswordSpec, SshKeySpec, UuidSpec};
use super::tokens::{
    CloudsmithAccessTokenSpec, GithubAccessTokenSpec, GitlabDeployTokenSpec, GrafanaSpec,
    QuayAccessTokenSpec,
};
use super::vault::VaultDynamicSecretSpec;
use super::webhook::WebhookSpec;

/// A generator of any kind, defined once for the whole cluster.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "ClusterGenerator",
    derive = "PartialEq",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "A generator of any kind, defined once for the cluster and referenced from any namespace by `generatorRef`."
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterGeneratorSpec {
    /// Kind of the embedded generator; `generator` holds that kind's spec.
    #[schemars(schema_with = "super::kind::embeddable_kind_schema")]
    pub kind: GeneratorKind,
    /// The spec of the generator: exactly one member, the one of `kind`.
    pub generator: GeneratorSpec,
}

/// The spec of one generator kind, under the member named after it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct GeneratorSpec {
    /// Spec of an ACRAccessToken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr_access_token_spec: Option<AcrAccessTokenSpec>,
    /// Spec of a BeyondtrustWorkloadCredentialsDynamicSecret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beyondtrust_workload_credentials_dynamic_secret_spec:
        Option<BeyondtrustWorkloadCredentialsDynamicSecretSpec>,
    /// Spec of a CloudsmithAccessToken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudsmith_access_token_spec: Option<CloudsmithAccessTokenSpec>,
    /// Spec of an ECRAuthorizationToken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecr_authorization_token_spec: Option<EcrAuthorizationTokenSpec>,
    /// Spec of a Fake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fake_spec: Option<FakeSpec>,
    /// Spec of a GCRAccessToken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcr_access_token_spec: Option<GcrAccessTokenSpec>,
    /// Spec of a GithubAccessToken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_access_token_spec: Option<GithubAccessTokenSpec>,
    /// Spec of a GitlabDeployToken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitlab_deploy_token_spec: Option<GitlabDeployTokenSpec>,
    /// Spec of a QuayAccessToken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quay_access_token_spec: Option<QuayAccessTokenSpec>,
    /// Spec of a Password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_spec: Option<PasswordSpec>,
    /// Spec of an SSHKey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key_spec: Option<SshKeySpec>,
    /// Spec of an STSSessionToken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts_session_token_spec: Option<StsSessionTokenSpec>,
    /// Spec of a UUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid_spec: Option<UuidSpec>,
    /// Spec of a VaultDynamicSecret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_dynamic_secret_spec: Option<VaultDynamicSecretSpec>,
    /// Spec of a Webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_spec: Option<WebhookSpec>,
    /// Spec of a Grafana.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grafana_spec: Option<GrafanaSpec>,
    /// Spec of an MFA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_spec: Option<MfaSpec>,
}
