//! `spec.provider.aws`: AWS Secrets Manager, Systems Manager Parameter Store and Certificate
//! Manager.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::crd::common::{SecretKeySelector, ServiceAccountSelector};

/// CEL rules mirroring ESO's CRD and `ValidateStore` for AWS, with its messages.
pub mod rules {
    /// Session tags ESO injects itself cannot be set by hand (ESO's own CRD rule).
    pub const RESERVED_SESSION_TAGS: &str =
        "!('esoNamespace' in self) && !('esoStoreName' in self) && !('esoStoreKind' in self)";
    /// ESO's message for [`RESERVED_SESSION_TAGS`].
    pub const RESERVED_SESSION_TAGS_MSG: &str = "customSessionTags cannot contain automatically injected reserved keys: esoNamespace, esoStoreName, esoStoreKind";
    /// A recovery window is 7 to 30 days (0 = unset).
    pub const RECOVERY_WINDOW: &str = "!has(self.recoveryWindowInDays) || self.recoveryWindowInDays == 0 || (self.recoveryWindowInDays >= 7 && self.recoveryWindowInDays <= 30)";
    /// ESO's message for [`RECOVERY_WINDOW`].
    pub const RECOVERY_WINDOW_MSG: &str =
        "invalid DeleteSecretInput: RecoveryWindowInDays must be between 7 and 30 days";
    /// Forced deletion and a recovery window exclude each other.
    pub const FORCE_DELETE_CONFLICT: &str = "!has(self.recoveryWindowInDays) || self.recoveryWindowInDays == 0 || !has(self.forceDeleteWithoutRecovery) || !self.forceDeleteWithoutRecovery";
    /// ESO's message for [`FORCE_DELETE_CONFLICT`].
    pub const FORCE_DELETE_CONFLICT_MSG: &str =
        "invalid DeleteSecretInput: ForceDeleteWithoutRecovery conflicts with RecoveryWindowInDays";
}

/// Connection to an AWS secrets service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsProvider {
    /// Which service holds the secrets.
    pub service: AwsServiceType,
    /// How to obtain base credentials; the SDK default chain of the controller when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AwsAuth>,
    /// Role ARN assumed (after `additionalRoles`) for every call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// AWS region.
    pub region: String,
    /// Role ARNs assumed in order before `role` (role chaining).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_roles: Vec<String>,
    /// External ID passed when assuming `role`.
    #[serde(
        default,
        rename = "externalID",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_id: Option<String>,
    /// STS session tags set when assuming roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub session_tags: Vec<AwsTag>,
    /// Secrets Manager settings (deletion behaviour for PushSecret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_manager: Option<SecretsManager>,
    /// Session tag keys passed on to chained roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitive_tag_keys: Vec<String>,
    /// Whether ESO adds `esoNamespace`, `esoStoreName` and `esoStoreKind` session tags
    /// (`Simple`), those plus `customSessionTags` (`Custom`), or none. Needs `sts:TagSession`.
    #[serde(default)]
    pub session_tags_policy: SessionTagsPolicy,
    /// Extra session tags for the `Custom` policy.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": rules::RESERVED_SESSION_TAGS, "message": rules::RESERVED_SESSION_TAGS_MSG},
    ]))]
    pub custom_session_tags: BTreeMap<String, String>,
    /// Prefix added to every key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// The AWS service.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum AwsServiceType {
    /// AWS Secrets Manager.
    SecretsManager,
    /// AWS Systems Manager Parameter Store.
    ParameterStore,
    /// AWS Certificate Manager (alpha in ESO).
    CertificateManager,
}

/// Base credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsAuth {
    /// Static credentials from Secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<AwsAuthSecretRef>,
    /// A ServiceAccount token exchanged through `AssumeRoleWithWebIdentity` (IRSA style).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<AwsJwtAuth>,
}

/// Static AWS credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsAuthSecretRef {
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

/// IRSA-style authentication.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsJwtAuth {
    /// ServiceAccount annotated with `eks.amazonaws.com/role-arn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountSelector>,
}

/// Secrets Manager specific settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": rules::RECOVERY_WINDOW, "message": rules::RECOVERY_WINDOW_MSG},
    {"rule": rules::FORCE_DELETE_CONFLICT, "message": rules::FORCE_DELETE_CONFLICT_MSG},
]))]
pub struct SecretsManager {
    /// Deletes without a recovery window.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force_delete_without_recovery: bool,
    /// Days (7 to 30) before a deleted secret is gone for good; 30 when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_window_in_days: Option<i64>,
}

/// An STS session tag.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsTag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: String,
}

/// Which session tags ESO adds.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum SessionTagsPolicy {
    /// No session tags (the default).
    #[default]
    None,
    /// `esoNamespace`, `esoStoreName`, `esoStoreKind`.
    Simple,
    /// Those plus `customSessionTags`.
    Custom,
}
