//! Registry and cloud tokens: ECRAuthorizationToken and STSSessionToken (AWS), GCRAccessToken
//! (Google Cloud), ACRAccessToken (Azure). The AWS and Google Cloud credentials are the stores'
//! own types.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::crd::common::{SecretKeySelector, ServiceAccountSelector};
use crate::crd::providers::aws::AwsAuth;
use crate::crd::providers::gcpsm::GcpSmAuth;

/// An ECR registry authorization token (valid 12 hours).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "ECRAuthorizationToken",
    root = "EcrAuthorizationToken",
    namespaced,
    derive = "PartialEq",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "Fetches an AWS ECR authorization token (GetAuthorizationToken) for registry logins."
)]
#[serde(rename_all = "camelCase")]
pub struct EcrAuthorizationTokenSpec {
    /// AWS region.
    pub region: String,
    /// How to obtain credentials; the controller's own AWS identity when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AwsAuth>,
    /// Role ARN assumed before the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `private` (ECR, the default) or `public` (ECR Public).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// Temporary AWS credentials from STS `GetSessionToken`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "STSSessionToken",
    root = "StsSessionToken",
    namespaced,
    derive = "PartialEq",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "Fetches temporary AWS credentials with STS GetSessionToken."
)]
#[serde(rename_all = "camelCase")]
pub struct StsSessionTokenSpec {
    /// AWS region.
    pub region: String,
    /// How to obtain credentials; the controller's own AWS identity when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AwsAuth>,
    /// Role ARN assumed before the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Parameters of the `GetSessionToken` request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_parameters: Option<StsRequestParameters>,
}

/// Parameters of `GetSessionToken`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StsRequestParameters {
    /// Lifetime of the credentials in seconds (900 to 129600; STS's default when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_duration: Option<i32>,
    /// Serial number or ARN of the caller's MFA device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Current code of that MFA device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_code: Option<String>,
}

/// A Google Cloud access token for GCR / Artifact Registry.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "GCRAccessToken",
    root = "GcrAccessToken",
    namespaced,
    derive = "PartialEq",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "Fetches a Google Cloud access token usable with GCR and Artifact Registry."
)]
#[serde(rename_all = "camelCase")]
pub struct GcrAccessTokenSpec {
    /// How to authenticate with Google Cloud.
    pub auth: GcpSmAuth,
    /// Google Cloud project.
    #[serde(rename = "projectID")]
    pub project_id: String,
}

/// An Azure Container Registry token.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "ACRAccessToken",
    root = "AcrAccessToken",
    namespaced,
    derive = "PartialEq",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "Fetches an Azure Container Registry token: a refresh token with the identity's full access, or an access token limited to `scope`."
)]
#[serde(rename_all = "camelCase")]
pub struct AcrAccessTokenSpec {
    /// How to authenticate with Azure.
    pub auth: AcrAuth,
    /// Azure tenant; needed for service principal authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Registry host name, e.g. `example.azurecr.io`.
    pub registry: String,
    /// Scope of an access token, e.g. `repository:app:pull`; a refresh token when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Azure cloud whose endpoints are used.
    #[serde(default)]
    pub environment_type: AzureEnvironmentType,
}

/// Azure authentication: one of the methods.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcrAuth {
    /// Client id and secret of a service principal, from Secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_principal: Option<AcrServicePrincipalAuth>,
    /// The pod's managed identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_identity: Option<AcrManagedIdentityAuth>,
    /// Azure workload identity through a ServiceAccount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity: Option<AcrWorkloadIdentityAuth>,
}

/// Service principal credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcrServicePrincipalAuth {
    /// Where the client id and secret are.
    pub secret_ref: AcrServicePrincipalSecretRef,
}

/// Secret keys of a service principal.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcrServicePrincipalSecretRef {
    /// Secret key holding the client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<SecretKeySelector>,
    /// Secret key holding the client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<SecretKeySelector>,
}

/// Managed identity selection.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcrManagedIdentityAuth {
    /// Which identity to use when the pod has several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_id: Option<String>,
}

/// Workload identity.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcrWorkloadIdentityAuth {
    /// The ServiceAccount whose token is exchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountSelector>,
}

/// Azure cloud environment.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum AzureEnvironmentType {
    /// Azure public cloud (the default).
    #[default]
    PublicCloud,
    /// Azure US Government.
    #[serde(rename = "USGovernmentCloud")]
    UsGovernmentCloud,
    /// Azure China.
    ChinaCloud,
    /// Azure Germany.
    GermanCloud,
    /// Azure Stack.
    AzureStackCloud,
}
