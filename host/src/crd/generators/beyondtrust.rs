//! BeyondtrustWorkloadCredentialsDynamicSecret: short-lived credentials from BeyondTrust
//! Workload Credentials. Ampoule has no store provider for it, so its connection type lives here.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::crd::common::{CaProvider, SecretKeySelector};
use crate::crd::secret_store::SecretStoreRetrySettings;

/// Dynamic credentials from a BeyondTrust Workload Credentials secret definition.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "BeyondtrustWorkloadCredentialsDynamicSecret",
    namespaced,
    derive = "PartialEq",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "Requests fresh temporary credentials from a BeyondTrust Workload Credentials dynamic secret definition."
)]
#[serde(rename_all = "camelCase")]
pub struct BeyondtrustWorkloadCredentialsDynamicSecretSpec {
    /// Controller class that handles this generator; any controller when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    /// Server, credentials and the folder of the dynamic secret definition.
    pub provider: BeyondtrustWorkloadCredentialsProvider,
    /// Retries of failed calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_settings: Option<SecretStoreRetrySettings>,
}

/// Connection to BeyondTrust Workload Credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BeyondtrustWorkloadCredentialsProvider {
    /// How to authenticate.
    pub auth: BeyondtrustWorkloadCredentialsAuth,
    /// The API endpoint.
    pub server: BeyondtrustWorkloadCredentialsServer,
    /// Folder of the dynamic secret definition, e.g. `production/aws-temp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder_path: Option<String>,
    /// Base64 PEM bundle of CAs trusted for the server's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "byte"))]
    pub ca_bundle: Option<String>,
    /// Reads the CA bundle from a Secret or ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_provider: Option<CaProvider>,
}

/// Authentication to BeyondTrust Workload Credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BeyondtrustWorkloadCredentialsAuth {
    /// An API key.
    pub apikey: BeyondtrustApiKeyAuth,
}

/// API key authentication.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BeyondtrustApiKeyAuth {
    /// Secret key holding the API key.
    pub token: SecretKeySelector,
}

/// The BeyondTrust API endpoint.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BeyondtrustWorkloadCredentialsServer {
    /// Base URL of the API.
    pub api_url: String,
    /// Site id.
    pub site_id: String,
}
