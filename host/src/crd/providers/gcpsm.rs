//! `spec.provider.gcpsm`: Google Cloud Secret Manager.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::crd::common::{
    DNS1123_LABEL, DNS1123_SUBDOMAIN, SECRET_KEY, SecretKeySelector, ServiceAccountSelector,
};

/// Connection to Google Cloud Secret Manager.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GcpSmProvider {
    /// How to authenticate; Application Default Credentials of the controller when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<GcpSmAuth>,
    /// Project holding the secrets; the cluster's project (metadata server) when omitted.
    #[serde(default, rename = "projectID", skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Location of regional secrets (uses the regional endpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// What to do when the `latest` version is disabled or destroyed.
    #[serde(default)]
    pub secret_version_selection_policy: SecretVersionSelectionPolicy,
}

/// Version selection when `latest` is unusable.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum SecretVersionSelectionPolicy {
    /// Always read `latest`; fail when it is disabled or destroyed (the default).
    #[default]
    LatestOrFail,
    /// Fall back to the newest enabled version.
    LatestOrFetch,
}

/// Authentication to Google Cloud.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GcpSmAuth {
    /// Service account key JSON from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<GcpSmAuthSecretRef>,
    /// GKE workload identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity: Option<GcpWorkloadIdentity>,
    /// Workload identity federation (external-account credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity_federation: Option<GcpWorkloadIdentityFederation>,
}

/// Service account key from a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GcpSmAuthSecretRef {
    /// Secret key holding the service account key JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key_secret_ref: Option<SecretKeySelector>,
}

/// GKE workload identity: a ServiceAccount token exchanged for Google credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GcpWorkloadIdentity {
    /// The Kubernetes ServiceAccount (optionally annotated with a Google service account).
    pub service_account_ref: ServiceAccountSelector,
    /// Cluster location; from the metadata server when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_location: Option<String>,
    /// Cluster name; from the metadata server when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// Project of the cluster; from the metadata server when omitted.
    #[serde(
        default,
        rename = "clusterProjectID",
        skip_serializing_if = "Option::is_none"
    )]
    pub cluster_project_id: Option<String>,
}

/// Workload identity federation settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GcpWorkloadIdentityFederation {
    /// ConfigMap key holding an external-account credential configuration (JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cred_config: Option<ConfigMapReference>,
    /// ServiceAccount whose tokens are exchanged (Kubernetes as the identity provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountSelector>,
    /// AWS region and credentials used as the token source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_security_credentials: Option<AwsCredentialsConfig>,
    /// STS audience (workload identity pool and provider); overrides the one in `credConfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Expected token URL of `credConfig`'s credential source (a consistency check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_token_endpoint: Option<String>,
    /// Google service account to impersonate after federation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), pattern(r"^.*@.*\.iam\.gserviceaccount\.com$"))]
    pub gcp_service_account_email: Option<String>,
}

/// A key of a ConfigMap.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapReference {
    /// Name of the ConfigMap.
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub name: String,
    /// Namespace of the ConfigMap; the referrer's namespace when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), pattern(DNS1123_LABEL))]
    pub namespace: Option<String>,
    /// Key holding the JSON.
    #[schemars(length(min = 1, max = 253), pattern(SECRET_KEY))]
    pub key: String,
}

/// AWS credentials used to obtain a federated Google token.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsCredentialsConfig {
    /// AWS region, e.g. `eu-west-1`.
    #[schemars(length(min = 1, max = 50), pattern(r"^[a-z0-9-]+$"))]
    pub region: String,
    /// Secret with keys `aws_access_key_id`, `aws_secret_access_key` and optionally
    /// `aws_session_token`.
    pub aws_credentials_secret_ref: SecretReference,
}

/// Names a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretReference {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub name: String,
    /// Namespace of the Secret; the referrer's namespace when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), pattern(DNS1123_LABEL))]
    pub namespace: Option<String>,
}
