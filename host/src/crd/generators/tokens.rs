//! Tokens of developer platforms: GithubAccessToken, GitlabDeployToken, QuayAccessToken,
//! CloudsmithAccessToken and Grafana (service account tokens).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::LocalSecretKeySelector;
use crate::crd::common::{SecretKeySelector, ServiceAccountSelector};

/// CEL rules and ESO's messages.
pub mod rules {
    /// A deploy token belongs to a project or to a group.
    pub const GITLAB_PROJECT_XOR_GROUP: &str = "has(self.projectID) != has(self.groupID)";
    /// ESO's message for [`GITLAB_PROJECT_XOR_GROUP`].
    pub const GITLAB_PROJECT_XOR_GROUP_MSG: &str =
        "exactly one of projectID or groupID must be set";
}

/// A GitHub App installation token.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "GithubAccessToken",
    namespaced,
    derive = "PartialEq",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "Creates a GitHub App installation access token (`ghs_…`)."
)]
#[serde(rename_all = "camelCase")]
pub struct GithubAccessTokenSpec {
    /// GitHub (Enterprise) URL; `https://github.com/` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The App's id.
    #[serde(rename = "appID")]
    pub app_id: String,
    /// The installation's id.
    #[serde(rename = "installID")]
    pub install_id: String,
    /// Repositories the token may access; every repository of the installation when omitted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<String>,
    /// Permissions of the token (name to level); the App's permissions when omitted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub permissions: BTreeMap<String, String>,
    /// How to authenticate as the App.
    pub auth: GithubAuth,
}

/// GitHub App authentication.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GithubAuth {
    /// The App's private key.
    pub private_key: GithubSecretRef,
}

/// A credential held in a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GithubSecretRef {
    /// Secret key holding the PEM private key.
    pub secret_ref: SecretKeySelector,
}

/// A GitLab deploy token of a project or group.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "GitlabDeployToken",
    namespaced,
    derive = "PartialEq",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "Creates a GitLab deploy token for a project or a group."
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": rules::GITLAB_PROJECT_XOR_GROUP, "message": rules::GITLAB_PROJECT_XOR_GROUP_MSG},
]))]
pub struct GitlabDeployTokenSpec {
    /// GitLab URL; `https://gitlab.com` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Numeric id or plain (unescaped) path of the project; excludes `groupID`.
    #[serde(default, rename = "projectID", skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub project_id: Option<String>,
    /// Numeric id or plain (unescaped) path of the group; excludes `projectID`.
    #[serde(default, rename = "groupID", skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub group_id: Option<String>,
    /// Name of the token.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Scopes of the token; at least one.
    #[schemars(length(min = 1))]
    pub scopes: Vec<GitlabDeployTokenScope>,
    /// When the token expires on GitLab's side; never when omitted (it is revoked when its
    /// generator state is cleaned up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
    /// Username of the token; GitLab picks `gitlab+deploy-token-<n>` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// How to authenticate with the GitLab API.
    pub auth: GitlabDeployTokenAuth,
}

/// A deploy token scope.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
#[serde(rename_all = "snake_case")]
pub enum GitlabDeployTokenScope {
    /// Clone the repository.
    ReadRepository,
    /// Pull container images.
    ReadRegistry,
    /// Push container images.
    WriteRegistry,
    /// Download packages.
    ReadPackageRegistry,
    /// Publish packages.
    WritePackageRegistry,
    /// Read the virtual registry (projects only).
    ReadVirtualRegistry,
    /// Write the virtual registry (projects only).
    WriteVirtualRegistry,
}

/// GitLab API authentication.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitlabDeployTokenAuth {
    /// An access token with the `api` scope and Maintainer role on the project or group.
    pub token: GitlabSecretRef,
}

/// A credential held in a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitlabSecretRef {
    /// Secret key holding the access token.
    pub secret_ref: SecretKeySelector,
}

/// A Quay robot account token, obtained by federating a ServiceAccount.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "QuayAccessToken",
    namespaced,
    derive = "PartialEq",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "Exchanges a ServiceAccount token for a Quay robot account OAuth token."
)]
#[serde(rename_all = "camelCase")]
pub struct QuayAccessTokenSpec {
    /// Quay host; `quay.io` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Name of the federated robot account.
    pub robot_account: String,
    /// ServiceAccount whose token is federated.
    pub service_account_ref: ServiceAccountSelector,
}

/// A Cloudsmith access token, obtained with OIDC.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "CloudsmithAccessToken",
    namespaced,
    derive = "PartialEq",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "Exchanges a ServiceAccount token for a Cloudsmith access token (OIDC)."
)]
#[serde(rename_all = "camelCase")]
pub struct CloudsmithAccessTokenSpec {
    /// Cloudsmith API URL; `https://api.cloudsmith.io` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// Organization slug.
    pub org_slug: String,
    /// Slug of the service that accepts the OIDC token.
    pub service_slug: String,
    /// ServiceAccount whose token is exchanged.
    pub service_account_ref: ServiceAccountSelector,
}

/// A Grafana service account token.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "Grafana",
    namespaced,
    derive = "PartialEq",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "Creates a Grafana service account and a token for it."
)]
#[serde(rename_all = "camelCase")]
pub struct GrafanaSpec {
    /// URL of the Grafana instance.
    pub url: String,
    /// Credentials allowed to create service accounts.
    pub auth: GrafanaAuth,
    /// The service account to create.
    pub service_account: GrafanaServiceAccount,
}

/// Grafana credentials: a token or basic auth.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrafanaAuth {
    /// Secret key holding a service account token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<LocalSecretKeySelector>,
    /// Username and password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic: Option<GrafanaBasicAuth>,
}

/// Basic auth credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrafanaBasicAuth {
    /// Username.
    pub username: String,
    /// Secret key holding the password.
    pub password: LocalSecretKeySelector,
}

/// The service account to create.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrafanaServiceAccount {
    /// Name of the service account.
    pub name: String,
    /// Its basic role (e.g. `Viewer`, `Editor`, `Admin`).
    pub role: String,
    /// Lifetime of the token in seconds; no expiry when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub seconds_to_live: Option<i64>,
}
