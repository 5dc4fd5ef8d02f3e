//! `spec.provider.vault`: HashiCorp Vault and OpenBao (KV v1/v2). Every auth method ESO knows is
//! accepted, including those OpenBao lacks (ldap is there, iam/gcp need plugins): the plugin
//! decides at run time what it supports.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::gcpsm::{GcpSmAuthSecretRef, GcpWorkloadIdentity};
use crate::crd::common::{CaProvider, SecretKeySelector, ServiceAccountSelector};

/// CEL rules mirroring ESO's `ValidateStore` for Vault, with its messages.
pub mod rules {
    /// AppRole needs the role id inline or from a Secret.
    pub const APPROLE_ROLE_ID: &str =
        "(has(self.roleId) && self.roleId != '') || has(self.roleRef)";
    /// ESO's message for [`APPROLE_ROLE_ID`].
    pub const APPROLE_ROLE_ID_MSG: &str =
        "invalid Auth.AppRole: neither `roleId` nor `roleRef` was supplied";
    /// JWT needs a token source.
    pub const JWT_TOKEN_SOURCE: &str =
        "has(self.secretRef) || has(self.kubernetesServiceAccountToken)";
    /// ESO's message for [`JWT_TOKEN_SOURCE`].
    pub const JWT_TOKEN_SOURCE_MSG: &str = "neither `secretRef` nor `kubernetesServiceAccountToken` was supplied as token source for jwt authentication";
    /// Client TLS needs both certificate and key.
    pub const CLIENT_TLS_PAIR: &str = "has(self.certSecretRef) == has(self.keySecretRef)";
    /// ESO's message for [`CLIENT_TLS_PAIR`].
    pub const CLIENT_TLS_PAIR_MSG: &str =
        "when provided, both ClientTLS.ClientCert and ClientTLS.SecretRef should be provided";
    /// Check-and-set only exists in KV v2.
    pub const CAS_NEEDS_KV2: &str = "!has(self.checkAndSet) || !has(self.checkAndSet.required) || !self.checkAndSet.required || !has(self.version) || self.version != 'v1'";
    /// ESO's message for [`CAS_NEEDS_KV2`].
    pub const CAS_NEEDS_KV2_MSG: &str = "checkAndSet is not supported with Vault KV version v1";
}

/// Connection to a Vault (or OpenBao) KV secrets engine.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": rules::CAS_NEEDS_KV2, "message": rules::CAS_NEEDS_KV2_MSG},
]))]
pub struct VaultProvider {
    /// How to log in; without it no login happens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<VaultAuth>,
    /// Address of the server, e.g. `https://vault.example.com:8200`.
    pub server: String,
    /// Mount path of the KV engine, e.g. `secret` (`/data` is added for v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// KV engine version.
    #[serde(default)]
    pub version: VaultKvVersion,
    /// Vault Enterprise namespace (`X-Vault-Namespace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Base64 PEM bundle of CAs trusted for the server's certificate (HTTPS only; system roots
    /// when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "byte"))]
    pub ca_bundle: Option<String>,
    /// Client certificate for servers that require mutual TLS (not the `cert` auth method).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<VaultClientTls>,
    /// Reads the CA bundle from a Secret or ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_provider: Option<CaProvider>,
    /// Sends the replication state seen in responses with later requests (read-your-writes on
    /// performance standbys).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_your_writes: bool,
    /// Asks standbys to forward inconsistent reads to the active node.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forward_inconsistent: bool,
    /// Extra headers sent with every request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Check-and-set settings for writes (PushSecret, KV v2 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_and_set: Option<VaultCheckAndSet>,
}

/// KV engine version.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum VaultKvVersion {
    /// KV version 1.
    #[serde(rename = "v1")]
    V1,
    /// KV version 2 (the default).
    #[default]
    #[serde(rename = "v2")]
    V2,
}

/// Mutual-TLS client certificate for the connection.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": rules::CLIENT_TLS_PAIR, "message": rules::CLIENT_TLS_PAIR_MSG},
]))]
pub struct VaultClientTls {
    /// Secret key holding the PEM certificate (key `tls.crt` when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<SecretKeySelector>,
    /// Secret key holding the PEM private key (key `tls.key` when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_secret_ref: Option<SecretKeySelector>,
}

/// Login method; the first one set wins, in the order of the fields below.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultAuth {
    /// Namespace to log in to, when it differs from the provider's `namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Uses a static token read from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret_ref: Option<SecretKeySelector>,
    /// AppRole login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_role: Option<VaultAppRole>,
    /// Kubernetes auth method: logs in with a ServiceAccount token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<VaultKubernetesAuth>,
    /// LDAP username and password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ldap: Option<VaultLdapAuth>,
    /// JWT/OIDC login with a stored token or a requested ServiceAccount token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<VaultJwtAuth>,
    /// TLS certificate login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<VaultCertAuth>,
    /// AWS IAM login (a signed `sts:GetCallerIdentity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam: Option<VaultIamAuth>,
    /// Username and password (userpass method).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_pass: Option<VaultUserPassAuth>,
    /// Google Cloud login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcp: Option<VaultGcpAuth>,
}

/// AppRole login.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": rules::APPROLE_ROLE_ID, "message": rules::APPROLE_ROLE_ID_MSG},
]))]
#[schemars(transform = crate::crd::schema::require_path)]
pub struct VaultAppRole {
    /// Mount path of the AppRole method.
    #[serde(default = "default_approle_path")]
    pub path: String,
    /// The role id, inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<String>,
    /// Secret key holding the role id (`key` is required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_ref: Option<SecretKeySelector>,
    /// Secret key holding the secret id (`key` is required).
    pub secret_ref: SecretKeySelector,
}

fn default_approle_path() -> String {
    "approle".to_owned()
}

/// Kubernetes auth method.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = crate::crd::schema::require_mount_path)]
pub struct VaultKubernetesAuth {
    /// Mount path of the Kubernetes method.
    #[serde(default = "default_kubernetes_path")]
    pub mount_path: String,
    /// ServiceAccount for which a token is requested (TokenRequest API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountSelector>,
    /// Secret key holding a ServiceAccount token (key `token` when omitted). Without this and
    /// `serviceAccountRef`, the controller's own token is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
    /// Vault role bound to the ServiceAccount.
    pub role: String,
}

fn default_kubernetes_path() -> String {
    "kubernetes".to_owned()
}

/// LDAP login.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = crate::crd::schema::require_path)]
pub struct VaultLdapAuth {
    /// Mount path of the LDAP method.
    #[serde(default = "default_ldap_path")]
    pub path: String,
    /// LDAP username.
    pub username: String,
    /// Secret key holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
}

fn default_ldap_path() -> String {
    "ldap".to_owned()
}

/// Username/password login.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = crate::crd::schema::require_path)]
pub struct VaultUserPassAuth {
    /// Mount path of the userpass method.
    #[serde(default = "default_userpass_path")]
    pub path: String,
    /// Username.
    pub username: String,
    /// Secret key holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
}

fn default_userpass_path() -> String {
    "userpass".to_owned()
}

/// JWT/OIDC login.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": rules::JWT_TOKEN_SOURCE, "message": rules::JWT_TOKEN_SOURCE_MSG},
]))]
#[schemars(transform = crate::crd::schema::require_path)]
pub struct VaultJwtAuth {
    /// Mount path of the JWT method.
    #[serde(default = "default_jwt_path")]
    pub path: String,
    /// Vault role to log in as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Secret key holding the JWT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
    /// Requests a ServiceAccount token to use as the JWT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_service_account_token: Option<VaultKubernetesServiceAccountTokenAuth>,
}

fn default_jwt_path() -> String {
    "jwt".to_owned()
}

/// A ServiceAccount token requested for JWT login.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultKubernetesServiceAccountTokenAuth {
    /// The ServiceAccount.
    pub service_account_ref: ServiceAccountSelector,
    /// Deprecated (use `serviceAccountRef.audiences`): token audiences, `["vault"]` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audiences: Option<Vec<String>>,
    /// Deprecated: token lifetime in seconds, 600 when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_seconds: Option<i64>,
}

/// TLS certificate login.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultCertAuth {
    /// Mount path of the cert method.
    #[serde(default = "default_cert_path")]
    pub path: String,
    /// Vault role (certificate entry name) to log in as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_role: Option<String>,
    /// Secret key holding the PEM client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<SecretKeySelector>,
    /// Secret key holding the PEM private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
}

fn default_cert_path() -> String {
    "cert".to_owned()
}

/// AWS IAM login. Without `secretRef` and `jwt` the controller's own AWS identity is used.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultIamAuth {
    /// Mount path of the AWS method (`aws` when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// AWS region for STS (`us-east-1` when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// AWS role to assume before signing the login request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Vault role to log in as.
    pub vault_role: String,
    /// External ID for the assumed AWS role.
    #[serde(
        default,
        rename = "externalID",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_id: Option<String>,
    /// Value of the `X-Vault-AWS-IAM-Server-ID` header (replay protection).
    #[serde(
        default,
        rename = "vaultAwsIamServerID",
        skip_serializing_if = "Option::is_none"
    )]
    pub vault_aws_iam_server_id: Option<String>,
    /// Static AWS credentials from Secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<VaultAwsAuthSecretRef>,
    /// A ServiceAccount whose IRSA role provides the credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<VaultAwsJwtAuth>,
}

/// Static AWS credentials for IAM login.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultAwsAuthSecretRef {
    /// Secret key holding the access key id.
    #[serde(
        default,
        rename = "accessKeyIDSecretRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub access_key_id_secret_ref: Option<SecretKeySelector>,
    /// Secret key holding the secret access key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key_secret_ref: Option<SecretKeySelector>,
    /// Secret key holding the session token (temporary credentials only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token_secret_ref: Option<SecretKeySelector>,
}

/// A ServiceAccount token exchanged for AWS credentials (IRSA).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultAwsJwtAuth {
    /// The ServiceAccount (annotated with the role ARN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountSelector>,
}

/// Google Cloud login. Without credentials the controller's own identity is used.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultGcpAuth {
    /// Mount path of the GCP method.
    #[serde(default = "default_gcp_path")]
    pub path: String,
    /// Vault role to log in as.
    pub role: String,
    /// Google Cloud project.
    #[serde(default, rename = "projectID", skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Google Cloud location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Service account key JSON from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<GcpSmAuthSecretRef>,
    /// GKE workload identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity: Option<GcpWorkloadIdentity>,
    /// ServiceAccount to impersonate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountSelector>,
}

fn default_gcp_path() -> String {
    "gcp".to_owned()
}

/// Check-and-set for KV v2 writes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultCheckAndSet {
    /// Every write must carry the current version.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
}
